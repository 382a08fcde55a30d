"""The recording path on plain rows (`db.dbapi`): a fresh process records the adapters' events without importing
SQLAlchemy, and writes exactly the rows the ORM's route writes for the same events."""

from __future__ import annotations

import contextlib
import json
import pickle
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import lamin_core as ln
from lamin_core.db import engine as db
from lamin_core.lineage import Dataset, Job, LineageEvent, ParentRun, RunInfo
from lamin_core.lineage.runs import json_of

RUNNER = """
import json, pickle, sys
from pathlib import Path

steps = pickle.load(open(sys.argv[1], "rb"))
if sys.argv[2] == "orm":
    import lamin_core as ln

    ln.Transform.filter().count()  # SQLAlchemy started first: the batches run in the ORM's transaction
from lamin_core.lineage.recorder import record_many

new = []
for files, events in steps:
    for path, text in files.items():
        Path(path).write_text(text)
    new.append([r.is_new for r in record_many(events)])
print(json.dumps({"sqlalchemy": "sqlalchemy" in sys.modules, "models": "lamin_core.models" in sys.modules, "new": new}))
"""

CHILD = """
import sys
from lamin_core.lineage import background

background.main()  # the recording process itself: frames on stdin, a flush answered on stdout
open(sys.argv[1], "w").write(repr(sorted(m for m in sys.modules if m.startswith(("sqlalchemy", "lamin_core.models")))))
"""

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def prefect_batch(work: Path) -> list[LineageEvent]:
    """What lamin-prefect sends for a flow with one task: plain-value parameters as annotations (mode `existing`)."""
    flow = Job("prefect", "etl", kind="pipeline", source_code="def etl(): ...")
    task = Job("prefect", "etl.clean", kind="function", source_code="def clean(n, sample): ...")
    flow_run = RunInfo("f-1", "prefect_flow_run", params={"n": 3}, name="curly-cuckoo", annotations={"n": 3})
    task_run = RunInfo("t-1", "prefect_task_run", parent=ParentRun("f-1", flow, "prefect_flow_run"),
                       params={"n": 3, "sample": "A", "api_token": "x"}, attempt=1, name="clean-0",
                       annotations={"n": 3, "sample": "A"})
    kw: dict[str, Any] = {"producer": "lamin-prefect", "engine": "prefect"}
    return [
        LineageEvent("START", at(0), flow, flow_run, **kw),
        LineageEvent("START", at(1), task, task_run, inputs=[Dataset("file", str(work / "raw.csv"))], **kw),
        LineageEvent("COMPLETE", at(2), task, task_run, outputs=[Dataset("file", str(work / "clean.csv"))], **kw),
        LineageEvent("COMPLETE", at(3), flow, flow_run, **kw),
    ]


def snakemake_batches(work: Path) -> list[tuple[dict[str, str], list[LineageEvent]]]:
    """What the Snakemake logger sends: jobs under a workflow, a log file, a failed job; then a re-run that
    writes new content at a known path (a new version)."""
    wf = Job("snakemake", "wf/Snakefile", kind="pipeline", source_code="rule all: ...")
    align = Job("snakemake", "wf/Snakefile:align", kind="function", source_code="shell: 'bwa mem'", description="Snakemake rule align")
    parent = ParentRun("w-1", wf, "snakemake_workflow")

    def job(run_id: str, attempt: int = 1) -> RunInfo:
        return RunInfo(run_id, "snakemake_job", parent=parent, attempt=attempt, name=f"align[{run_id}]",
                       params={"rule": "align", "wildcards": {"sample": "A"}}, annotations={"sample": "A"})

    kw: dict[str, Any] = {"producer": "snakemake-logger-plugin-lamin", "engine": "snakemake"}
    first = [
        LineageEvent("START", at(10), wf, RunInfo("w-1", "snakemake_workflow"), **kw),
        LineageEvent("START", at(11), align, job("j-1"), inputs=[Dataset("file", str(work / "raw.csv"))], **kw),
        LineageEvent("COMPLETE", at(12), align, job("j-1"), outputs=[
            Dataset("file", str(work / "a.bam")), Dataset("file", str(work / "a.log"), kind="log"),
            Dataset("file", str(work / "missing.tmp"), only_if_file=True)], **kw),
        LineageEvent("FAIL", at(13), align, RunInfo("j-2", "snakemake_job", parent=parent, attempt=1,
                                                    error_message="exit status 1"), **kw),
    ]
    second = [
        LineageEvent("START", at(20), align, job("j-3"), inputs=[Dataset("file", str(work / "raw.csv"))], **kw),
        LineageEvent("COMPLETE", at(21), align, job("j-3"), outputs=[Dataset("file", str(work / "a.bam"))], **kw),
        LineageEvent("COMPLETE", at(22), wf, RunInfo("w-1", "snakemake_workflow"), **kw),
    ]
    files = {str(work / "raw.csv"): "x,y\n1,2\n", str(work / "a.bam"): "bam 1", str(work / "a.log"): "log",
             str(work / "clean.csv"): "x\n1\n"}
    return [(files, prefect_batch(work) + first), ({str(work / "a.bam"): "bam 2"}, second)]


def run(path: Path, env: dict[str, str], *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run([sys.executable, str(path), *args], env=env, cwd=path.parent, input=stdin,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert b"could not record" not in done.stderr, done.stderr.decode()
    return done.stdout.decode()


def record_in_fresh_process(instance: Any, tmp_path: Path, steps: list, mode: str) -> dict[str, Any]:
    (tmp_path / "steps.pickle").write_bytes(pickle.dumps(steps))
    (tmp_path / "runner.py").write_text(RUNNER)
    return json.loads(run(tmp_path / "runner.py", instance.env, str(tmp_path / "steps.pickle"), mode).splitlines()[-1])


def _time(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def snapshot() -> dict[str, Any]:
    """What the recording path wrote, by natural keys (transform key, run reference, artifact key): every
    column except ids, uids and the times rows were written at."""
    from lamin_core.models import Artifact, LineageEventRecord, Run, Storage, Transform
    from lamin_core.models.run import run_input_artifacts

    with db.read() as s:
        transforms = {t.id: t for t in s.scalars(select(Transform))}
        runs = {r.id: r for r in s.scalars(select(Run))}
        artifacts = {a.id: a for a in s.scalars(select(Artifact))}
        default = db.settings().storage_root  # each instance's own: named alike
        roots = {st.id: "<default>" if st.root == default else st.root for st in s.scalars(select(Storage))}
        links = list(s.execute(select(run_input_artifacts)))
        log = list(s.scalars(select(LineageEventRecord)))
    ref = {r.id: (r.reference_type, r.reference) for r in runs.values()}
    art = {a.id: (roots[a.storage_id], a.key or f"managed:{a.kind}:{a.hash}", a.uid[-4:]) for a in artifacts.values()}
    art_by_uid = {a.uid: art[a.id] for a in artifacts.values()}
    skip = {"id", "uid", "created_at", "updated_at", "received_at"}

    def columns(obj: Any, **mapped: Any) -> dict[str, Any]:
        out = {c.name: getattr(obj, c.key) for c in obj.__table__.columns if c.name not in skip}
        for name in ("started_at", "finished_at", "event_time"):
            if name in out:
                out[name] = _time(out[name])
        for name in ("params", "facets", "summary"):
            if name in out:
                out[name] = json_of(out[name])
        out.update(mapped)
        return out

    return {
        "transforms": sorted((t.key, t.uid[-4:], repr(sorted(columns(t).items()))) for t in transforms.values()),
        "runs": {ref[r.id]: columns(r, transform_id=transforms[r.transform_id].key,
                                   initiated_by_run_id=ref.get(r.initiated_by_run_id), environment_id=None,
                                   report_id=art.get(r.report_id)) for r in runs.values() if r.reference_type != "lamin_run"},
        "artifacts": {art[a.id]: columns(a, storage_id=roots[a.storage_id], run_id=ref.get(a.run_id), version_suffix=a.uid[-4:],
                                         description=(a.description or "").split(" of run ")[0])  # names a run's uid
                      for a in artifacts.values() if a.kind != "environment"},
        "run_input_artifacts": sorted((ref[r], art[a]) for r, a in links),
        "lineage_events": sorted(
            repr(sorted(columns(e, run_id=ref[e.run_id], summary={k: [art_by_uid[u] for u in v] for k, v in e.summary.items()}).items()))
            for e in log),
    }


@contextlib.contextmanager
def second_instance(tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    from lamin_core.testing import make_instance

    with monkeypatch.context() as m:
        yield from make_instance(tmp_path, backend, m, name="second")


def test_constants_agree_with_the_models() -> None:
    from lamin_core.lineage import runs
    from lamin_core.models import Run
    from lamin_core.models.transform import TRANSFORM_KINDS

    assert runs.TRANSFORM_KINDS == TRANSFORM_KINDS and runs.RUN_UID_LENGTH == Run._uid_length


def test_a_fresh_process_records_adapter_events_without_sqlalchemy_as_the_orm_route_does(instance, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    steps = snakemake_batches(work)
    (tmp_path / "lean").mkdir()
    lean = record_in_fresh_process(instance, tmp_path / "lean", steps, "lean")
    assert lean == {"sqlalchemy": False, "models": False, "new": [[True] * 8, [True] * 3]}, lean
    lean_rows = snapshot()
    again = record_in_fresh_process(instance, tmp_path / "lean", steps, "lean")  # redelivery: nothing changes
    assert again["new"] == [[False] * 8, [False] * 3] and not again["sqlalchemy"]
    assert snapshot() == lean_rows

    with second_instance(tmp_path / "second", instance.backend, monkeypatch) as other:
        (tmp_path / "orm").mkdir()
        orm = record_in_fresh_process(other, tmp_path / "orm", steps, "orm")
        assert orm["sqlalchemy"] and orm["new"] == lean["new"]
        orm_rows = snapshot()
    for table in lean_rows:
        if table == "runs":
            for key in lean_rows[table]:
                assert lean_rows[table][key] == orm_rows[table][key], key
        assert lean_rows[table] == orm_rows[table], table

    runs, artifacts = lean_rows["runs"], lean_rows["artifacts"]
    task = runs[("prefect_task_run", "t-1")]
    assert task["status"] == "completed" and task["params"] == {"n": 3, "sample": "A", "api_token": "***"}
    assert task["initiated_by_run_id"] == ("prefect_flow_run", "f-1") and task["started_at"] == at(1)
    assert runs[("snakemake_job", "j-2")]["status"] == "errored" and runs[("snakemake_job", "j-2")]["report_id"]
    assert runs[("snakemake_workflow", "w-1")]["finished_at"] == at(22)
    bams = {k: v for k, v in artifacts.items() if k[1] == "a.bam"}
    assert sorted((v["version_suffix"], v["is_latest"], v["run_id"][1]) for v in bams.values()) == [
        ("0000", False, "j-1"), ("0001", True, "j-3")]
    assert (("snakemake_job", "j-3"), (str(work), "raw.csv", "0000")) in lean_rows["run_input_artifacts"]
    assert not any(k[1] == "missing.tmp" for k in artifacts)
    assert len(lean_rows["lineage_events"]) == 11


def test_the_recording_process_never_imports_sqlalchemy(instance, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    for name, text in snakemake_batches(work)[0][0].items():
        Path(name).write_text(text)
    from lamin_core.lineage.background import frame

    (tmp_path / "child.py").write_text(CHILD)
    stdin = frame(pickle.dumps(prefect_batch(work))) + frame(pickle.dumps([]))  # a batch, and a flush
    run(tmp_path / "child.py", instance.env, str(tmp_path / "modules.txt"), stdin=stdin)
    assert (tmp_path / "modules.txt").read_text() == "[]"
    assert ln.Run.filter(reference="t-1").one().status == "completed"


def test_annotations_of_existing_features_take_the_orm_route_and_are_written(instance, tmp_path):
    ln.Feature(name="sample", dtype=str).save()
    work = tmp_path / "work"
    work.mkdir()
    steps = snakemake_batches(work)
    out = record_in_fresh_process(instance, tmp_path, steps, "lean")
    assert out["sqlalchemy"], "a batch whose annotations name a feature must be written in the ORM's transaction"
    assert ln.Run.filter(reference="j-1").one().features.get_values() == {"sample": "A"}
    assert ln.Artifact.filter(sample="A", key="a.bam").count() == 2
    assert ln.Run.filter(reference="t-1").one().features.get_values() == {"sample": "A"}


def test_labels_and_auto_mode_take_the_orm_route(tmp_path):
    from lamin_core.lineage.recorder import needs_orm

    job, run_info = Job("x", "y"), RunInfo("r")
    plain = LineageEvent("START", T0, job, run_info, inputs=[Dataset("file", "/a")])
    assert not needs_orm([plain], [([], [])])
    labelled = LineageEvent("START", T0, job, run_info, outputs=[Dataset("file", "/a", labels={"tag": ["x"]})])
    assert needs_orm([labelled], [([], [])])
    auto = LineageEvent("START", T0, job, RunInfo("r", annotations={"n": 1}), annotate="auto")
    assert needs_orm([auto], [([], [])])
    assert not needs_orm([LineageEvent("START", T0, job, RunInfo("r", annotations={"n": 1}), annotate="none")], [([], [])])
