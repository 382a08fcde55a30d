"""The recording process's framing and batching (the end-to-end tests run it for real)."""

import os
from types import SimpleNamespace

from snakemake_logger_plugin_lamin.worker import _Reporter, frame, read_batches, record_batch


def test_waiting_events_come_in_one_batch_and_a_cut_frame_is_dropped() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, frame(b"one") + frame(b"two") + frame(b"three") + frame(b"cut-short")[:6])
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as stream:
        assert list(read_batches(stream)) == [[b"one", b"two", b"three"]]


def test_batches_are_bounded() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"".join(frame(str(i).encode()) for i in range(5)))
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as stream:
        assert [len(b) for b in read_batches(stream, max_batch=2)] == [2, 2, 1]


def test_a_failing_batch_is_recorded_event_by_event() -> None:
    events = [SimpleNamespace(event_type="START", job=SimpleNamespace(name=n)) for n in ("a", "bad", "c")]
    recorded: list[str] = []

    def record(event: SimpleNamespace) -> None:
        if event.job.name == "bad":
            raise ValueError("refused")
        recorded.append(event.job.name)

    def record_many(batch: list[SimpleNamespace]) -> None:
        raise ValueError("one of them is bad: all or nothing")

    reporter = _Reporter()
    record_batch(events, record, record_many, reporter)
    assert recorded == ["a", "c"] and reporter.failures == 1



def test_an_unreachable_server_is_named_without_its_password(monkeypatch) -> None:
    from datetime import UTC, datetime

    import pytest
    from snakemake_logger_plugin_lamin import sinks

    from lamin_core.lineage.events import Job, LineageEvent, RunInfo

    monkeypatch.setattr(sinks.time, "sleep", lambda seconds: None)  # no waiting between the retries
    sink = sinks.HttpSink("http://lamin:hunter2@127.0.0.1:9/", token=None)  # port 9: nothing listens
    event = LineageEvent("START", datetime.now(UTC), Job("snakemake", "wf/Snakefile"), RunInfo(run_id="r1"))
    with pytest.raises(RuntimeError, match="cannot reach") as info:
        sink.send(event)
    assert "hunter2" not in str(info.value) and "127.0.0.1:9" in str(info.value)
