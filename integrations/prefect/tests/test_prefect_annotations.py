"""Real Prefect flows whose parameters annotate their runs and outputs, and a task whose DataFrame is
validated against a schema and saved (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

import lamin_core as ln
from lamin_prefect import flow, task

pytestmark = pytest.mark.slow


@pytest.fixture
def lineage(instance, prefect_server):  # noqa: ANN001, ANN201
    return instance


@task
def write_sample(folder: str, sample: str, depth: int) -> str:
    path = Path(folder) / f"{sample}.txt"
    path.write_text(f"{sample} at depth {depth}\n")
    return str(path)


@flow(name="annotated")
def annotated(folder: str, samples: list[str], depth: int = 30, api_token: str = "s3cret") -> list[str]:
    return [write_sample(folder, s, depth) for s in samples]


@flow(name="annotated_auto", annotate="auto")
def annotated_auto(folder: str, sample: str, ratio: float = 0.5) -> str:
    return write_sample(folder, sample, 7)


def test_flow_and_task_parameters_annotate_runs_and_outputs(lineage, tmp_path: Path) -> None:  # noqa: ANN001
    ln.Feature(name="sample", dtype=str).save()
    ln.Feature(name="depth", dtype=int).save()
    annotated(str(tmp_path), ["A", "B"], depth=12)

    out_a = ln.Artifact.filter(sample="A").one()  # the file the task run for sample A wrote
    assert Path(str(out_a.path)).name == "A.txt"
    assert out_a.features.get_values() == {"sample": "A", "depth": 12}
    task_a = ln.Run.filter(sample="A", reference_type="prefect_task_run").one()
    assert out_a.run == task_a
    flow_run = ln.Run.get(reference_type="prefect_flow_run", transform__key="prefect/annotated")
    assert flow_run.features.get_values() == {"depth": 12}  # `samples` (a list) has no feature; the token never annotates
    assert not ln.Feature.filter(name="api_token").exists()


def test_auto_creates_features_under_the_prefect_type(lineage, tmp_path: Path) -> None:  # noqa: ANN001
    annotated_auto(str(tmp_path), "C")
    made = {f.name: f.dtype for f in ln.Feature.filter(type__name="prefect")}
    assert made == {"folder": "str", "sample": "str", "ratio": "float", "depth": "int"}
    assert ln.Artifact.filter(sample="C", depth=7).count() == 1
    assert ln.Run.filter(ratio=0.5, reference_type="prefect_flow_run").count() == 1


def _cells_schema() -> ln.Schema:
    ln.ULabel(name="T cell").save()
    features = [ln.Feature(name="cell_type", dtype=ln.ULabel).save(), ln.Feature(name="cell_count", dtype=int).save()]
    return ln.Schema(name="cells", features=features).save()


@task(schema="cells", key="tables/{sample}.parquet", retries=1, retry_delay_seconds=0)
def make_table(sample: str, count: object):  # noqa: ANN201
    import pandas as pd

    return pd.DataFrame({"cell_type": ["T cell"], "cell_count": [count]})


@flow(name="tables")
def tables(counts: dict[str, object]) -> list:
    futures = [make_table.submit(sample, count) for sample, count in counts.items()]
    return [f.result(raise_on_failure=False) for f in futures]


def test_a_task_with_a_schema_saves_valid_frames_and_fails_on_invalid_ones(lineage) -> None:  # noqa: ANN001
    _cells_schema()
    results = tables({"good": 12, "bad": "many"})
    good = ln.Artifact.get(key="tables/good.parquet")
    assert good.schema.name == "cells" and ln.Artifact.filter(cell_type="T cell").one().uid == good.uid
    assert good.run.reference_type == "prefect_task_run" and good.run.status == "completed"
    assert not ln.Artifact.filter(key="tables/bad.parquet").exists()
    assert type(results[0]).__name__ == "DataFrame"  # the task still returns its DataFrame
    bad = ln.Run.filter(reference_type="prefect_task_run", status="errored").one()
    assert bad.report is not None and "cell_count" in bad.report.load()
    from sqlalchemy import func, select

    from lamin_core.db import engine as db
    from lamin_core.models import LineageEventRecord as E

    with db.read() as s:
        fails = s.execute(select(func.count()).where(E.run_id == bad.id, E.event_type == "FAIL")).scalar_one()
    assert fails == 2  # Prefect retried it once: each attempt failed validation


def test_schema_without_key_is_refused_at_decoration() -> None:
    with pytest.raises(ValueError, match="give its key too"):
        task(schema="cells")(lambda: None)
    with pytest.raises(ValueError, match="annotate= must be one of"):
        flow(annotate="all")(lambda: None)
