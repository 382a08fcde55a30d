"""Parameters and values -> what is saved: redaction, JSON safety, datasets (no Prefect needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lamin_prefect import _emit
from lamin_prefect._values import (
    candidates_in,
    dataset_for_uri,
    existing_datasets,
    is_secret_name,
    jsonable,
    params_for_record,
)


@pytest.mark.parametrize(
    "name",
    ["api_key", "apiKey", "GITHUB_TOKEN", "db_password", "aws_secret_access_key", "credentials", "auth",
     "private_key", "client_secret", "sessionId", "passwd"],
)  # fmt: skip
def test_secret_looking_names_are_redacted(name: str) -> None:
    assert is_secret_name(name)
    assert params_for_record({name: "v4lue", "n": 3}) == {name: "***", "n": 3}


@pytest.mark.parametrize("name", ["key", "keys", "monkey", "path", "author", "tokenizer", "n_rows"])
def test_ordinary_names_are_kept(name: str) -> None:
    # `key` names an artifact in lamin; "tokenizer" and "author" only contain secret-ish letters
    assert not is_secret_name(name)


def test_values_are_json_safe_bounded_and_secret_free() -> None:
    from pydantic import SecretStr

    class Thing:
        pass

    params = params_for_record(
        {
            "db": "postgresql://me:pa55@host:5432/db",
            "nested": {"token": "abc", "ok": [1, 2.5, None, Path("/x/y")]},
            "secret_value": SecretStr("s"),
            "hidden": SecretStr("s"),
            "obj": Thing(),
            "long": "x" * 5000,
            "many": list(range(1000)),
        }
    )
    assert params["db"] == "postgresql://me:***@host:5432/db"
    assert params["nested"] == {"token": "***", "ok": [1, 2.5, None, "/x/y"]}
    assert params["secret_value"] == "***" and params["hidden"] == "***"
    assert params["obj"].endswith("Thing>") and "0x" not in params["obj"]  # no memory address
    assert len(params["long"]) < 1100 and len(params["many"]) == 200


def test_dataframes_are_summarised_by_shape() -> None:
    import pandas as pd

    assert jsonable(pd.DataFrame({"a": [1, 2, 3]})) == "<DataFrame shape=[3, 1]>"


def test_uris_become_openlineage_datasets(tmp_path: Path) -> None:
    assert dataset_for_uri("s3://bucket/dir/x.csv") == dataset_for_uri("s3://bucket/dir/x.csv")
    d = dataset_for_uri("s3://bucket/dir/x.csv")
    assert (d.namespace, d.name) == ("s3://bucket", "dir/x.csv")
    d = dataset_for_uri("file:///data/my%20file.txt")
    assert (d.namespace, d.name) == ("file", "/data/my file.txt")
    d = dataset_for_uri("postgres://db:5432/shop.public.orders")
    assert (d.namespace, d.name) == ("postgres://db:5432", "shop.public.orders")


def test_candidates_are_files_uris_and_artifacts_in_containers(tmp_path: Path) -> None:
    existing = tmp_path / "in.csv"
    existing.write_text("a\n1\n")
    value = {
        "inputs": [str(existing), tmp_path / "missing.csv"],
        "remote": "s3://bucket/k.parquet",
        "web": "https://example.org/page",  # a web page is a parameter, not data
        "text": "not a path\nwith lines",
        "n": 5,
    }
    found = list(candidates_in(value))
    assert ("file", str(existing)) in found and ("file", str(tmp_path / "missing.csv")) in found
    assert ("uri", "s3://bucket/k.parquet") in found
    assert not any("example.org" in str(v) for _, v in found)
    # only what exists now counts (no credentials for the bucket here: it does not)
    assert list(existing_datasets(found)) == [str(existing)]


def test_runs_left_open_are_aborted_when_the_process_exits() -> None:
    from datetime import datetime, timezone

    from lamin_core.lineage import Job, LineageEvent, RunInfo

    captured: list = []
    start = LineageEvent("START", datetime.now(timezone.utc), Job("prefect", "f"), RunInfo("r-1", "prefect_flow_run"))
    with _emit.record_to(captured.append):
        _emit.emit(start)
        assert ("prefect_flow_run", "r-1") in _emit.open_runs()
        _emit._abort_at_exit()  # what atexit calls
    assert [(e.event_type, e.run.run_id) for e in captured] == [("START", "r-1"), ("ABORT", "r-1")]
    assert "exited before this run finished" in captured[-1].run.error_message
    assert _emit.open_runs() == []
