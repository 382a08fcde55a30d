"""The one recording path, `lamin_core.lineage.record()`: idempotent, order-free, safe with many writers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

import lamin_core as ln
from lamin_core.lineage import Dataset, Job, LineageEvent, ParentRun, RunInfo, record
from lamin_core.lineage.recorder import record_many

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def event(kind: str, seconds: int, run_id: str, job: str = "wf/align", *, parent: ParentRun | None = None,
          inputs=(), outputs=(), params=None, error=None, attempt=None) -> LineageEvent:
    return LineageEvent(
        kind, T0 + timedelta(seconds=seconds), Job("eng", job, kind="function", source_code=f"run {job}"),
        RunInfo(run_id, "test_engine", parent=parent, params=params, error_message=error, attempt=attempt),
        inputs=list(inputs), outputs=list(outputs),
    )


def count(model) -> int:
    from lamin_core.db import engine as db

    with db.read() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    work = tmp_path / "work"
    work.mkdir()
    out = {}
    for name, text in (("in.fq", "ACGT"), ("out.bam", "BAM"), ("report.html", "<html/>")):
        out[name] = work / name
        out[name].write_text(text)
    return out


def test_same_event_twice_changes_nothing(instance, files):
    from lamin_core.models import Artifact, LineageEventRecord, Run, Transform

    complete = event("COMPLETE", 5, "job-1", inputs=[Dataset("file", str(files["in.fq"]))],
                     outputs=[Dataset("file", str(files["out.bam"]))], params={"threads": 4, "token": "t0ps3cret"})
    first = record(complete)
    counts = [count(m) for m in (Artifact, Run, Transform, LineageEventRecord)]
    again = record(complete)
    assert first.is_new and not again.is_new
    assert again.run.id == first.run.id
    assert [count(m) for m in (Artifact, Run, Transform, LineageEventRecord)] == counts
    run = ln.Run.get(reference="job-1")
    assert run.params == {"threads": 4, "token": "***"}
    assert [a.key for a in run.input_artifacts] == ["in.fq"] and [a.key for a in run.output_artifacts] == ["out.bam"]
    # the same instant written in another timezone is the same event
    shifted = LineageEvent(complete.event_type, complete.event_time.astimezone(timezone(timedelta(hours=2))), complete.job,
                           complete.run, complete.inputs, complete.outputs)
    assert record(shifted).is_new is False


def test_out_of_order_events_and_children_before_parents(instance, files):
    parent = ParentRun("wf-1", Job("eng", "wf", kind="pipeline"), reference_type="test_workflow")
    # the child's COMPLETE arrives first, naming a parent nobody has announced yet
    child = record(event("COMPLETE", 10, "job-2", parent=parent, outputs=[Dataset("file", str(files["out.bam"]))]))
    assert child.run.status == "completed"
    late_start = record(event("START", 1, "job-2", parent=parent, params={"n": 1}))
    run = ln.Run.get(reference="job-2")
    assert run.status == "completed"  # a late START never reopens a finished run
    assert run.started_at.replace(tzinfo=timezone.utc) == T0 + timedelta(seconds=1)
    assert run.finished_at.replace(tzinfo=timezone.utc) == T0 + timedelta(seconds=10)
    assert run.params == {"n": 1} and late_start.run.id == run.id
    wf = run.initiated_by_run
    assert wf.reference == "wf-1" and wf.transform.key == "eng/wf" and wf.status == "scheduled"
    record(LineageEvent("START", T0, Job("eng", "wf", kind="pipeline"), RunInfo("wf-1", "test_workflow")))
    record(LineageEvent("FAIL", T0 + timedelta(seconds=20), Job("eng", "wf", kind="pipeline"),
                        RunInfo("wf-1", "test_workflow", error_message="rule align failed")))
    wf = ln.Run.get(reference="wf-1")
    assert wf.status == "errored" and wf.report.load() == "rule align failed"
    assert len(ln.Run.filter(reference="wf-1")) == 1 and len(ln.Transform.filter(key="eng/wf")) == 1


def test_retries_keep_one_run_with_the_last_attempts_status(instance):
    record(event("START", 0, "task-9", attempt=1))
    record(event("FAIL", 1, "task-9", attempt=1, error="OOM"))
    record(event("START", 2, "task-9", attempt=2))
    record(event("COMPLETE", 3, "task-9", attempt=2))
    record(event("FAIL", 1, "task-9", attempt=1, error="OOM"))  # a late duplicate of attempt 1
    run = ln.Run.get(reference="task-9")
    assert run.status == "completed"
    assert [(a["attempt"], a["status"]) for a in run.facets["attempts"]] == [(1, "started"), (1, "errored"), (2, "started"), (2, "completed")]


def test_a_dataset_links_runs_of_different_engines(instance, files):
    produced = record(event("COMPLETE", 1, "snk-1", job="Snakefile:align", outputs=[Dataset("file", str(files["out.bam"]))]))
    consumed = record(LineageEvent("COMPLETE", T0 + timedelta(seconds=2), Job("airflow", "dag.task"), RunInfo("af-1", "openlineage"),
                                   inputs=[Dataset("file://localhost", str(files["out.bam"]))]))
    assert consumed.inputs[0].id == produced.outputs[0].id
    assert consumed.inputs[0].run_id == produced.run.id
    graph = ln.Run.get(consumed.run.id).view_lineage(filename=files["in.fq"].parent / "g.txt")
    assert f"r{produced.run.id}" in graph.nodes


def test_only_if_file_datasets_are_recorded_only_when_they_are_files(instance, files):
    # an engine that saw files opened hands them over unchecked; what is not a file when recorded is left out
    work = files["in.fq"].parent
    maybe = [Dataset("file", str(p), only_if_file=True) for p in (files["out.bam"], work / "deleted.tmp", work)]
    recorded = record(event("COMPLETE", 1, "job-maybe", inputs=maybe[2:], outputs=maybe[:2]))
    assert [a.path.name for a in recorded.outputs] == ["out.bam"] and recorded.inputs == []
    # without the flag, a missing file is still registered, by its path
    plain = record(event("COMPLETE", 2, "job-plain", outputs=[Dataset("file", str(work / "deleted.tmp"))]))
    (missing,) = plain.outputs
    assert missing.hash is None and missing.path.name == "deleted.tmp"


def test_record_many_is_all_or_nothing(instance):
    from lamin_core.models import Run

    good = event("START", 0, "batch-1")
    bad = LineageEvent("COMPLETE", datetime(2026, 1, 1), good.job, RunInfo("batch-1", "test_engine"))  # no timezone
    with pytest.raises(ValueError, match="timezone"):
        record_many([good, bad])
    assert count(Run) == 0
    recorded = record_many([good, event("COMPLETE", 1, "batch-1")])
    assert [r.is_new for r in recorded] == [True, True] and recorded[0].run.id == recorded[1].run.id
    assert ln.Run.get(reference="batch-1").status == "completed"


def test_bad_events_get_clear_errors(instance):
    with pytest.raises(ValueError, match="eventType"):
        record(LineageEvent("DONE", T0, Job("e", "j"), RunInfo("r")))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="runId"):
        record(LineageEvent("START", T0, Job("e", "j"), RunInfo("")))
    with pytest.raises(ValueError, match="job.name"):
        record(LineageEvent("START", T0, Job("e", ""), RunInfo("r")))


WRITER = """
import sys, time
from datetime import datetime, timedelta, timezone
from lamin_core.lineage import Dataset, Job, LineageEvent, ParentRun, RunInfo, record

import pathlib
worker, barrier, shared_in, shared_out = int(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4]
t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
job = Job("eng", "wf/step", kind="function", source_code="step v1")
wf = ParentRun("wf-shared", Job("eng", "wf", kind="pipeline"), reference_type="conc_workflow")
inputs = [Dataset("file", shared_in)]
(barrier / f"ready-{worker}").touch()  # imports done: wait for the others, then all write at once
while not (barrier / "go").exists():
    time.sleep(0.002)
for i in range(6):
    # every writer delivers the same events of the shared run, and events of its own runs
    record(LineageEvent("START", t0, job, RunInfo("run-shared", "conc", parent=wf), inputs=inputs))
    record(LineageEvent("COMPLETE", t0 + timedelta(seconds=9), job, RunInfo("run-shared", "conc"), inputs=inputs,
                        outputs=[Dataset("file", shared_out)]))
    own = f"run-{worker}-{i}"
    record(LineageEvent("COMPLETE", t0 + timedelta(seconds=i), job, RunInfo(own, "conc", parent=wf), inputs=inputs))
print("done")
"""


def test_concurrent_processes_write_the_same_run_and_datasets_once(instance, files, tmp_path):
    from lamin_core.models import Artifact, LineageEventRecord, Run, Transform

    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER))
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [
        subprocess.Popen([sys.executable, str(script), str(w), str(barrier), str(files["in.fq"]), str(files["out.bam"])],
                         env=instance.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(3)
    ]
    deadline = time.monotonic() + 120
    while len(list(barrier.glob("ready-*"))) < len(procs) and time.monotonic() < deadline:
        assert all(p.poll() is None for p in procs), "a writer died before the start"
        time.sleep(0.01)
    (barrier / "go").touch()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert count(Run) == 1 + 1 + 3 * 6  # the workflow, the shared run, every writer's own runs
    assert count(Transform) == 2  # eng/wf and eng/wf/step: no duplicate from the race
    assert len(ln.Artifact.filter(key="in.fq")) == 1 and len(ln.Artifact.filter(key="out.bam")) == 1
    assert count(LineageEventRecord) == 2 + 3 * 6  # each distinct event stored once
    shared = ln.Run.get(reference="run-shared")
    assert shared.status == "completed" and shared.initiated_by_run.reference == "wf-shared"
    assert [a.key for a in shared.input_artifacts] == ["in.fq"]
    out = ln.Artifact.get(key="out.bam")
    assert out.run_id == shared.id
    assert len(ln.Run.filter(initiated_by_run_id=shared.initiated_by_run_id)) == 1 + 3 * 6


def test_run_first_known_from_its_complete_event_keeps_the_event_times(instance):
    from datetime import datetime, timezone

    from lamin_core.lineage import Job, LineageEvent, RunInfo, record

    done = datetime(2020, 5, 17, 12, 0, tzinfo=timezone.utc)
    run = record(LineageEvent("COMPLETE", done, Job("ns", "late"), RunInfo("only-complete", "test"))).run
    assert run.status == "completed"
    assert run.finished_at.replace(tzinfo=timezone.utc) == done
    assert run.started_at.replace(tzinfo=timezone.utc) == done, "no START seen: the run started at the latest when it ended"


@pytest.mark.parametrize("name", ["a/../b", "a//b", "x\x00y"])
def test_dataset_names_that_would_escape_are_refused(instance, name):
    from datetime import datetime, timezone

    from lamin_core.errors import InvalidKeyError
    from lamin_core.lineage import Dataset, Job, LineageEvent, RunInfo, record

    event = LineageEvent("START", datetime.now(timezone.utc), Job("ns", "j"), RunInfo("r-bad-key", "test"),
                         outputs=[Dataset("postgres://db:5432", name)])
    with pytest.raises(InvalidKeyError):
        record(event)
    assert ln.Run.filter(reference="r-bad-key").count() == 0
