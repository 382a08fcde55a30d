"""Recording in a child process (`lamin_core.lineage.background`): what adapters rely on when they hand
events off instead of waiting for the database."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import lamin_core as ln
from lamin_core.lineage import Dataset, Job, LineageEvent, ParentRun, RunInfo
from lamin_core.lineage.background import BackgroundRecorder, Reporter, instance_env, record_batch

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)


def step(kind: str, i: int, run: str, **fields) -> LineageEvent:  # type: ignore[no-untyped-def]
    return LineageEvent(kind, T0 + timedelta(seconds=i), Job("bg", "wf/step", kind="function"),
                        RunInfo(run, "bg_test", parent=ParentRun("wf-1", Job("bg", "wf"))), **fields)


def test_events_sent_before_a_flush_are_recorded_when_it_returns(instance, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    out.write_text("made by run-2")
    recorder = BackgroundRecorder(instance_env())
    try:
        recorder.send([step("START", 0, "run-1"), step("COMPLETE", 1, "run-1")])
        recorder.send([step("START", 2, "run-2")])
        recorder.send([step("COMPLETE", 3, "run-2", outputs=[Dataset("file", str(out))])])
        recorder.flush()
        runs = {r.reference: r for r in ln.Run.filter(reference_type="bg_test")}
        assert {k: r.status for k, r in runs.items()} == {"run-1": "completed", "run-2": "completed", "wf-1": "scheduled"}
        assert runs["run-1"].initiated_by_run_id == runs["wf-1"].id
        assert ln.Artifact.get(key="out.txt").run_id == runs["run-2"].id

        recorder.send([step("START", 4, "run-3")])  # after a flush the child goes on recording
        recorder.flush()
        assert ln.Run.get(reference="run-3").status == "started"
    finally:
        recorder.close()


def test_close_records_what_is_left(instance) -> None:
    recorder = BackgroundRecorder(instance_env())
    recorder.send([step("START", i, f"r{i}") for i in range(50)])
    recorder.close()
    assert ln.Run.filter(reference_type="bg_test").count() == 51  # and the parent


def test_a_bad_event_costs_only_itself_and_is_reported(instance, tmp_path: Path, capfd) -> None:  # type: ignore[no-untyped-def]
    recorder = BackgroundRecorder(instance_env())
    bad = step("COMPLETE", 1, "run-bad", outputs=[Dataset("s3://bucket", "../escape.txt")])  # a key may not climb out
    recorder.send([step("START", 0, "run-ok"), bad, step("COMPLETE", 2, "run-ok")])
    recorder.close()
    assert ln.Run.get(reference="run-ok").status == "completed"
    assert not ln.Run.filter(reference="run-bad").exists()
    err = capfd.readouterr().err
    assert "lamin: could not record COMPLETE of wf/step" in err and "1 lineage event(s) could not be recorded" in err


def test_the_child_records_into_the_instance_connected_here(instance, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # the settings file names another instance: the child must follow this process, not the file
    monkeypatch.delenv("LAMIN_INSTANCE", raising=False)
    env = instance_env()
    assert env["LAMIN_INSTANCE"] == instance.name
    assert env["LAMIN_HOME"] == os.environ["LAMIN_HOME"]


def test_a_dead_child_does_not_hang_the_producer(instance) -> None:
    recorder = BackgroundRecorder(instance_env())
    recorder.send([step("START", 0, "run-1")])
    recorder.flush()
    recorder._proc.kill()  # noqa: SLF001 - what an OOM kill or a crash does
    recorder._proc.wait()  # noqa: SLF001
    recorder.send([step("COMPLETE", 1, "run-1")])  # does not raise
    recorder.flush()  # returns instead of waiting for an answer that never comes
    recorder.close()
    assert ln.Run.get(reference="run-1").status == "started"


def test_a_failing_batch_is_recorded_event_by_event(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from lamin_core.lineage import recorder

    events = [SimpleNamespace(event_type="START", job=SimpleNamespace(name=n)) for n in ("a", "bad", "c")]
    recorded: list[str] = []

    def record(event: SimpleNamespace) -> None:
        if event.job.name == "bad":
            raise ValueError("refused")
        recorded.append(event.job.name)

    def record_many(batch: list[SimpleNamespace]) -> None:
        raise ValueError("one of them is bad: all or nothing")

    monkeypatch.setattr(recorder, "record", record)
    monkeypatch.setattr(recorder, "record_many", record_many)
    reporter = Reporter()
    record_batch(events, reporter)
    assert recorded == ["a", "c"] and reporter.failures == 1


def test_the_parent_never_imports_the_database_layer_to_send() -> None:
    import subprocess

    code = (
        "import sys; from lamin_core.lineage.background import BackgroundRecorder; "
        "print('sqlalchemy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_child_yields_the_cpu_to_the_pipeline(instance) -> None:
    # it shares the machine with the pipeline it records; it must never be the one that gets the core
    recorder = BackgroundRecorder(instance_env())
    try:
        recorder.send([step("START", 0, "run-nice")])
        recorder.flush()
        assert recorder._proc is not None
        assert os.getpriority(os.PRIO_PROCESS, recorder._proc.pid) == 19  # the lowest (niceness is capped at 19)
    finally:
        recorder.close()


def _stopped_child(recorder: BackgroundRecorder) -> int:
    """Start the recorder's child, let it record one event, then stop it (SIGSTOP); its pid."""
    import signal

    recorder.send([step("START", 0, "warm-up")])
    recorder.flush()
    assert recorder._proc is not None
    os.kill(recorder._proc.pid, signal.SIGSTOP)
    return recorder._proc.pid


def test_a_stalled_child_does_not_block_the_producer_for_hundreds_of_runs(instance) -> None:
    import signal
    import threading

    recorder = BackgroundRecorder(instance_env())
    pid = _stopped_child(recorder)  # a child that gets no CPU for a while (the machine is busy)
    try:
        events = [step(kind, i, f"s{i}") for i in range(300) for kind in ("START", "COMPLETE")]
        sender = threading.Thread(target=lambda: [recorder.send(events[i : i + 2]) for i in range(0, len(events), 2)])
        sender.start()
        sender.join(timeout=30)  # a hang detector, not a speed test: with a 64 KiB pipe this never returned
        assert not sender.is_alive(), "send() blocked behind a busy recording process"
    finally:
        os.kill(pid, signal.SIGCONT)
    recorder.close()
    assert ln.Run.filter(reference_type="bg_test", status="completed").count() == 300


def test_this_process_reads_what_it_sent_without_a_flush(instance) -> None:
    import signal
    import threading

    recorder = BackgroundRecorder(instance_env())
    pid = _stopped_child(recorder)  # the child is behind: what is sent now is not in the database yet
    resume = threading.Timer(0.5, os.kill, (pid, signal.SIGCONT))
    try:
        recorder.send([step("START", 1, "late"), step("COMPLETE", 2, "late")])
        resume.start()
        # the query waits until the child recorded what this process sent before it
        assert ln.Run.get(reference="late").status == "completed"
        assert not recorder.pending
    finally:
        resume.join()
        os.kill(pid, signal.SIGCONT)
        recorder.close()


def test_held_events_go_out_before_a_query_and_by_themselves(instance) -> None:
    import subprocess
    import time

    recorder = BackgroundRecorder(instance_env())
    try:
        recorder.send([step("START", 0, "held-1"), step("COMPLETE", 1, "held-1")], hold=True)
        assert ln.Run.get(reference="held-1").status == "completed"  # this process's query takes them along
        recorder.send([step("START", 2, "held-2"), step("COMPLETE", 3, "held-2")], hold=True)
        # nobody flushes or queries here: they go out on their own, and another process sees them
        count = "import lamin_core as ln; print(ln.Run.filter(reference='held-2', status='completed').count())"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen = subprocess.run([sys.executable, "-c", count], env=instance_env(), capture_output=True, text=True, check=True)
            if seen.stdout.strip() == "1":
                break
            time.sleep(0.2)
        else:
            raise AssertionError("held events never reached the database")
    finally:
        recorder.close()


def test_events_held_at_exit_are_recorded(instance, tmp_path: Path) -> None:
    import subprocess
    import textwrap
    import time

    script = tmp_path / "producer.py"
    script.write_text(textwrap.dedent('''
        import sys
        sys.path.insert(0, sys.argv[1])
        from test_background_recorder import step
        from lamin_core.lineage.background import BackgroundRecorder, instance_env
        recorder = BackgroundRecorder(instance_env())
        recorder.send([step("START", 0, "at-exit"), step("COMPLETE", 1, "at-exit")], hold=True)
        # no flush, no close, no query: the interpreter exits at once
    '''))
    subprocess.run([sys.executable, str(script), str(Path(__file__).parent)], env=instance_env(), check=True, timeout=120)
    deadline = time.monotonic() + 60  # the producer is gone; its recording process finishes on its own
    while not ln.Run.filter(reference="at-exit", status="completed").count():
        assert time.monotonic() < deadline, "events held at exit were never recorded"
        time.sleep(0.2)
