"""The HTTP sink's error messages (the recording child process is tested in the core's
tests/test_background_recorder.py, and for real by the end-to-end tests)."""


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
