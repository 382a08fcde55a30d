"""describe() of records and registries, ln.view(), and dataframes of whole registries, on both backends."""

from __future__ import annotations

import pytest
from test_query_data import build_graph

import lamin_core as ln


@pytest.fixture
def g(instance, tmp_path):
    return build_graph(tmp_path)


def test_artifact_describe_shows_its_lineage(g, instance):
    text = g.iris.describe(return_str=True)
    assert text.startswith("Artifact my_datasets/iris.parquet")
    assert g.iris.uid in text and "Iris flowers, 150 rows" in text
    assert f"storage: {instance.storage_root}" in text
    assert "transform: tutorial.ipynb (notebook)" in text
    assert g.run_nb.uid in text
    assert "input of runs (1)" in text and g.run_py.uid in text
    assert "unlinked.txt" in g.unlinked.describe(return_str=True)


def test_run_describe_shows_transform_status_params_io_and_error(g):
    from lamin_core.artifacts.text import text_artifact
    from lamin_core.db import engine as db

    with db.write() as s:
        report = text_artifact(s, "Traceback (most recent call last):\nValueError: sample 7 is empty\n", kind="report")
        s.flush()
        run = s.merge(g.run_py)
        run.report_id = report.id
        run.status = "errored"
        run.params = {"n": 3, "api_token": "s3cr3t", "nested": {"alpha": 0.5}}
    text = ln.Run.get(g.run_py.uid).describe(return_str=True)
    assert "transform: pipelines/ingest.py (script)" in text
    assert "status: errored" in text
    assert "n: 3" in text and "alpha: 0.5" in text
    assert "s3cr3t" not in text and "api_token: ***" in text
    assert "inputs (1)" in text and "my_datasets/iris.parquet" in text
    assert "outputs (2)" in text and "other/x.txt" in text and "raw/a_b%c*?[x].txt" in text
    assert f"initiated_by_run: {g.run_nb.uid}" in text
    assert "ValueError: sample 7 is empty" in text
    assert "child runs (1)" in g.run_nb.describe(return_str=True)


def test_describe_prints_a_tree(g, capsys):
    g.t_nb.describe()
    out = capsys.readouterr().out
    assert "Transform tutorial.ipynb" in out and "runs (1)" in out and "The tutorial notebook" in out


def test_registry_describe_lists_fields_and_relations(instance):
    text = ln.Artifact.describe(return_str=True)
    assert "key: str (null, indexed)" in text
    assert "size: int" in text and "created_at: datetime" in text
    assert "run: Run" in text and "input_of_runs: list of Artifact" not in text
    assert "input_of_runs: list of Run" in text and "storage: Storage" in text
    assert "transform: same as run__transform" in text
    run_text = ln.Run.describe(return_str=True)
    assert "input_artifacts: list of Artifact" in run_text and "params: dict" in run_text


def test_view_and_registry_dataframes(g, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps long cells at a captured stream's 80 columns
    ln.view()
    out = capsys.readouterr().out
    for name in ("Transform", "Run", "Artifact", "Storage", "User"):
        assert name in out
    assert "tutorial.ipynb" in out and "Collection" not in out  # empty registries are skipped
    ln.view(limit=1, registries=["artifact"])
    out = capsys.readouterr().out
    assert "Artifact" in out and "Transform" not in out and "unlinked.txt" in out and "other/x.txt" not in out
    df = ln.Artifact.to_dataframe()
    assert list(df["key"])[0] == "unlinked.txt"  # newest first
    assert len(ln.Transform.to_dataframe()) == 2 and len(ln.Artifact.to_dataframe(limit=2)) == 2
