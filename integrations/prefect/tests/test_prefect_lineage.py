"""End to end: real Prefect flows recorded into a real instance (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

import lamin_core as ln
import lamin_prefect
from lamin_prefect import flow, task

pytestmark = pytest.mark.slow


@pytest.fixture
def lineage(instance, prefect_server):  # noqa: ANN001, ANN201
    """A connected instance (both backends) and the session's Prefect server."""
    return instance


# ---- a small ETL: parquet through pandas, .map() in a thread pool, artifacts saved inside a task ---------


@task
def extract(folder: str, sample: str) -> str:
    import pandas as pd

    path = f"{folder}/{sample}.parquet"
    pd.DataFrame({"gene": ["CD4", "CD8A", "MS4A1"], "count": [len(sample), 2, 3]}).to_parquet(path)
    return path


@task
def combine(paths: list[str], folder: str) -> str:
    import pandas as pd

    df = pd.concat([pd.read_parquet(p) for p in paths])
    out = f"{folder}/combined.csv"
    df.to_csv(out, index=False)
    return out


@task
def publish(csv_path: str, reference: ln.Artifact) -> ln.Artifact:
    genes = Path(reference.cache()).read_text()  # reading an artifact inside the task: an input of the run
    # not next to the csv: that folder is a registered location now, where a file's key is its path
    report = Path(csv_path).parent.parent / "report.txt"
    report.write_text(f"{len(Path(csv_path).read_text().splitlines()) - 1} rows; reference:\n{genes}")
    return ln.Artifact(str(report), key="prefect-demo/report.txt").save()


@flow(name="etl", version="1.0")
def etl(folder: str, samples: list[str], reference: ln.Artifact, token: str = "s3cret") -> ln.Artifact:
    paths = [f.result() for f in extract.map(folder, samples)]
    return publish(combine(paths, folder), reference)


def _reference(tmp_path: Path) -> ln.Artifact:
    ref = tmp_path / "reference.csv"
    ref.write_text("gene,name\nCD4,T helper\n")
    return ln.Artifact(str(ref), key="refs/genes.csv").save()


def test_flow_tasks_and_files_become_transforms_runs_and_artifacts(lineage, tmp_path: Path) -> None:  # noqa: ANN001
    reference = _reference(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    published = etl(str(data), ["s1", "s22"], reference)

    flow_transform = ln.Transform.get(key="prefect/etl")
    assert flow_transform.kind == "pipeline" and flow_transform.version == "1.0"
    assert "def etl" in flow_transform.source_code
    (flow_run,) = ln.Run.filter(transform=flow_transform).all()
    assert flow_run.reference_type == "prefect_flow_run" and flow_run.status == "completed"
    assert flow_run.params["token"] == "***" and flow_run.params["samples"] == ["s1", "s22"]

    runs = defaultdict(list)
    for run in ln.Run.filter(reference_type="prefect_task_run").all():
        runs[run.transform.key].append(run)
        assert run.initiated_by_run == flow_run and run.status == "completed"
        assert run.transform.kind == "function"
    assert {k: len(v) for k, v in runs.items()} == {"prefect/etl/extract": 2, "prefect/etl/combine": 1, "prefect/etl/publish": 1}

    # parquet files written through pandas are outputs of the mapped task runs that wrote them
    for run in runs["prefect/etl/extract"]:
        (out,) = ln.Artifact.filter(run=run).all()
        assert out.path.name == f"{run.params['sample']}.parquet"
    (combine_run,) = runs["prefect/etl/combine"]
    assert sorted(Path(str(a.path)).name for a in combine_run.input_artifacts) == ["s1.parquet", "s22.parquet"]
    combined_csv = ln.Artifact.filter(run=combine_run).one()
    # the artifact saved inside `publish` is its output; what it read (the csv, the reference) its inputs
    (publish_run,) = runs["prefect/etl/publish"]
    assert published.run == publish_run
    assert ln.Artifact.get(key="prefect-demo/report.txt").run == publish_run
    assert {a.uid for a in publish_run.input_artifacts} == {reference.uid, combined_csv.uid}
    # the flow run consumed the reference; nothing is left running
    assert reference in flow_run.input_artifacts
    assert ln.Run.filter(status="started").count() == 0


def test_what_a_flow_returns_shows_the_final_state_of_its_runs(lineage, tmp_path: Path) -> None:  # noqa: ANN001
    # the artifact was saved inside `publish` while its run was started; the flow's end is recorded by the
    # recording process after that: right after the call, reading through the returned object sees it
    reference = _reference(tmp_path)
    (tmp_path / "data").mkdir()
    published = etl(str(tmp_path / "data"), ["s1"], reference)
    assert published.run.status == "completed"
    assert published.run.initiated_by_run.status == "completed"  # a lazy load, no query of ours before it
    assert published.run.finished_at is not None


def test_rerunning_an_unchanged_flow_adds_runs_not_versions(lineage, tmp_path: Path) -> None:  # noqa: ANN001
    reference = _reference(tmp_path)
    (tmp_path / "data").mkdir()
    etl(str(tmp_path / "data"), ["s1"], reference)
    n_transforms, n_artifacts = ln.Transform.filter().count(), ln.Artifact.filter().count()
    etl(str(tmp_path / "data"), ["s1"], reference)
    assert ln.Transform.filter().count() == n_transforms  # same source: same transform versions
    assert ln.Artifact.filter().count() == n_artifacts  # same content: same artifacts
    assert ln.Run.filter(transform__key="prefect/etl").count() == 2


@task
def uses_scratch(folder: str) -> str:
    import tempfile

    with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp") as scratch:  # gone when the task ends
        scratch.write("scratch")
    for attempt in (lambda: open(f"{folder}/missing/dir/x.txt", "w"), lambda: open(f"{folder}/absent.txt"), lambda: open(folder)):
        try:
            attempt()  # an open that fails is neither an output nor an input
        except OSError:
            pass
    Path(f"{folder}/kept.txt").write_text("kept")
    return Path(f"{folder}/../notes.txt").read_text()  # a file the arguments did not name: an input


@flow
def scratch_flow(folder: str) -> str:
    return uses_scratch(folder)


def test_only_files_that_exist_become_artifacts(lineage, tmp_path: Path) -> None:  # noqa: ANN001
    # files the task opened are checked in the recording process, not in the task's thread: what reaches
    # the database must still be exactly the files that exist
    (tmp_path / "notes.txt").write_text("notes")
    (tmp_path / "work").mkdir()
    assert scratch_flow(str(tmp_path / "work")) == "notes"
    run = ln.Run.get(transform__key="prefect/scratch-flow/uses_scratch")
    assert [Path(str(a.path)) for a in ln.Artifact.filter(run=run).all()] == [tmp_path / "work" / "kept.txt"]
    assert [Path(str(a.path)) for a in run.input_artifacts] == [tmp_path / "notes.txt"]
    assert ln.Artifact.filter().count() == 2  # neither the temporary file, the folder nor a failed open


# ---- retries, failures, subflows ---------------------------------------------------------------------

_attempts: dict[str, int] = defaultdict(int)


@task(retries=1)
def flaky(key: str) -> int:
    _attempts[key] += 1
    if _attempts[key] == 1:
        raise TimeoutError("upstream API timed out")
    return 1


@task
def validate(n: int) -> None:
    if n < 5:
        raise ValueError(f"expected at least 5 rows, got {n}")


@flow
def check(key: str) -> None:
    validate(flaky(key))


@flow
def nightly(key: str) -> None:
    check(key)


def test_retries_failures_and_subflows(lineage) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="at least 5 rows"):
        nightly(f"k-{lineage.backend}")
    nightly_run = ln.Run.get(transform__key="prefect/nightly")
    check_run = ln.Run.get(transform__key="prefect/check")
    assert check_run.initiated_by_run == nightly_run  # the subflow's run was initiated by its parent's
    assert nightly_run.status == check_run.status == "errored"

    flaky_run = ln.Run.get(transform__key="prefect/check/flaky")
    assert flaky_run.status == "completed" and flaky_run.initiated_by_run == check_run
    attempts = [(a["attempt"], a["status"]) for a in flaky_run.facets["attempts"]]
    assert attempts == [(1, "started"), (1, "errored"), (2, "started"), (2, "completed")]
    assert "upstream API timed out" in flaky_run.facets["attempts"][1]["error"]

    validate_run = ln.Run.get(transform__key="prefect/check/validate")
    assert validate_run.status == "errored"
    assert "expected at least 5 rows, got 1" in validate_run.report.load()
    assert ln.Run.filter(status="started").count() == 0
    assert lamin_prefect._emit.open_runs() == []


@task
def noop(x: int) -> int:
    return x


@flow
def unrecorded(n: int) -> int:
    return sum(noop(i) for i in range(n))


def test_without_an_instance_the_flow_runs_and_warns_once(prefect_server, tmp_path: Path, monkeypatch, caplog) -> None:  # noqa: ANN001
    from lamin_core.db import engine as database

    monkeypatch.setenv("LAMIN_HOME", str(tmp_path / "empty-home"))
    database.configure(None)
    lamin_prefect._emit._warned.clear()
    with caplog.at_level("WARNING", logger="lamin_prefect"):
        assert unrecorded(3) == 3  # lineage is a side effect: the pipeline itself never fails for it
    warnings = [r.getMessage() for r in caplog.records if r.name == "lamin_prefect"]
    assert len(warnings) == 1 and "lamin init" in warnings[0]
    assert lamin_prefect._emit.open_runs() == []


def test_the_example_pipeline_records_its_lineage(lineage, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    import importlib.util

    path = Path(__file__).resolve().parents[3] / "examples" / "prefect" / "pipeline.py"
    spec = importlib.util.spec_from_file_location("lamin_prefect_example_pipeline", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main(["--current", "--workdir", str(tmp_path / "work")]) == 0

    summary = ln.Artifact.get(key=example.SUMMARY_KEY)
    assert summary.run.transform.key == "prefect/immuno-summary/summarize"
    (merged,) = summary.run.input_artifacts
    assert merged.run.transform.key == "prefect/immuno-summary/merge"
    assert sorted(a.run.transform.key for a in merged.run.input_artifacts) == ["prefect/immuno-summary/fetch_sample"] * 2
    assert summary.run.initiated_by_run.transform.key == "prefect/immuno-summary"
    printed = capsys.readouterr().out
    assert summary.uid in printed and "fetch_sample" in printed  # view_lineage() showed the chain


KILLED_FLOW = '''
import os, signal, sys
import lamin_core as ln
from lamin_prefect import flow, task

@task
def save_then_die(path: str) -> None:
    with open(path, "w") as f:
        f.write("half done")
    ln.Artifact(path, key="killed/partial.txt").save()  # needs the task's Run: its start is written now
    os.kill(os.getpid(), signal.SIGKILL)  # no hook, no atexit: the process just vanishes

@flow
def doomed(path: str) -> None:
    save_then_die(path)

doomed(sys.argv[1])
'''


def test_runs_of_a_killed_process_are_aborted_by_reconcile(lineage, tmp_path: Path) -> None:  # noqa: ANN001
    import os
    import subprocess
    import sys

    from prefect.settings import PREFECT_API_URL

    script = tmp_path / "killed.py"
    script.write_text(KILLED_FLOW)
    # the child talks to this session's Prefect server instead of starting its own
    env = {**lineage.env, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_HOME": os.environ["PREFECT_HOME"]}
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "partial.txt")], env=env, capture_output=True)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    started = {r.transform.key: r for r in ln.Run.filter(status="started").all()}
    assert set(started) == {"prefect/doomed", "prefect/doomed/save_then_die"}

    ended = lamin_prefect.reconcile()
    assert sorted(ended) == sorted(r.reference for r in started.values())
    for run in started.values():
        run = ln.Run.get(run.uid)
        assert run.status == "aborted"
        assert "ended without reporting" in run.report.load()
    assert lamin_prefect.reconcile() == []  # nothing left to do


# ---- async tasks submitted to the thread pool, Prefect assets on local disk and S3 ------------------


def test_async_submitted_tasks_and_assets(lineage, s3, tmp_path: Path) -> None:  # noqa: ANN001
    import asyncio

    import fsspec
    from prefect.assets import Asset

    bucket = s3.make_bucket()
    raw = tmp_path / "raw.csv"
    raw.write_text("gene,count\nCD4,1\nCD8A,2\n")
    table = Asset(key=f"s3://{bucket}/tables/counts.csv")

    @task
    async def measure(i: int) -> str:
        await asyncio.sleep(0.01)
        out = tmp_path / f"measure-{i}.txt"
        out.write_text(f"measurement {i}")
        return str(out)

    @lamin_prefect.materialize(table, asset_deps=[f"file://{raw}"])
    def upload(paths: list[str]) -> None:
        with fsspec.open(table.key, "w") as f:  # written by s3fs: seen through the asset, not the audit hook
            f.write(raw.read_text() + "".join(Path(p).read_text() for p in paths))

    @flow
    async def assets_pipeline() -> None:
        futures = [measure.submit(i) for i in range(3)]
        upload([f.result() for f in futures])

    asyncio.run(assets_pipeline())
    measure_runs = ln.Run.filter(transform__key="prefect/assets-pipeline/measure").all()
    assert len(measure_runs) == 3 and {r.status for r in measure_runs} == {"completed"}
    upload_run = ln.Run.get(transform__key="prefect/assets-pipeline/upload")
    uploaded = ln.Artifact.filter(run=upload_run).one()
    assert str(uploaded.path) == f"s3://{bucket}/tables/counts.csv" and uploaded.hash is not None
    inputs = {Path(str(a.path)).name for a in upload_run.input_artifacts}
    assert inputs == {"raw.csv", "measure-0.txt", "measure-1.txt", "measure-2.txt"}


def test_lamin_prefect_reconcile_command(sqlite_instance) -> None:  # noqa: ANN001
    import shutil
    import subprocess
    import sys

    lamin = shutil.which("lamin", path=str(Path(sys.executable).parent)) or "lamin"
    done = subprocess.run([lamin, "prefect", "reconcile"], env=sqlite_instance.env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "0 run(s) of dead processes" in done.stdout
    wrong = subprocess.run([lamin, "prefect", "reconcil"], env=sqlite_instance.env, capture_output=True, text=True)
    assert wrong.returncode == 2 and "usage: lamin prefect reconcile" in wrong.stderr
