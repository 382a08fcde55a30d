"""Live OpenLineage forwarding (issue 17): the outbox written with the records, and the sender delivering it.

The receiver here is a real HTTP server (the standard library's) that keeps what is POSTed to
`/api/v1/lineage`; the end-to-end tests against a second `lamin serve` live in `openlineage/tests`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

import lamin_core as ln
from lamin_core.lineage import Dataset, Job, LineageEvent, RunInfo
from lamin_core.lineage.openlineage_json import from_openlineage


class Receiver:
    """An OpenLineage backend that accepts everything and remembers it, in arrival order."""

    def __init__(self, port: int = 0, status: int = 201) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        received, headers = self.received, self.headers

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                assert self.path == "/api/v1/lineage"
                received.append(json.loads(body))
                headers.append(dict(self.headers))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _outbox() -> list[dict[str, Any]]:
    from sqlalchemy import select

    from lamin_core.db import engine as db
    from lamin_core.models import OpenLineageOutboxEvent as E

    with db.read() as s:
        rows = [dict(r._mapping) for r in s.execute(select(E.id, E.event_type, E.event, E.refused_at).order_by(E.id))]
    return [{**r, "event": json.loads(r["event"])} for r in rows]


def _event(run_id: str, event_type: str, second: int, outputs: list[Dataset] = ()) -> LineageEvent:  # type: ignore[assignment]
    from datetime import datetime, timezone

    return LineageEvent(event_type=event_type, event_time=datetime(2026, 1, 1, 0, 0, second, tzinfo=timezone.utc),  # type: ignore[arg-type]
                        job=Job("tests", "job"), run=RunInfo(run_id), outputs=outputs, producer="https://example.org/p")


def test_nothing_is_forwarded_without_a_target(instance: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from lamin_core.lineage import forwarding, record

    monkeypatch.delenv("LAMIN_OPENLINEAGE_URL", raising=False)
    monkeypatch.setenv("OPENLINEAGE_URL", "http://127.0.0.1:9")  # the producers' variable: deliberately not read
    record(_event("r1", "START", 1))

    @ln.flow()
    def work() -> int:
        return 1

    work()
    assert _outbox() == []
    assert ln.settings.openlineage_url is None
    assert forwarding.kick() is None  # no sender thread either


def test_flow_and_step_events_are_written_with_the_records(instance: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMIN_OPENLINEAGE_URL", f"http://127.0.0.1:{_free_port()}")  # nobody listens: the rows stay

    @ln.step()
    def inner(x: int, api_key: str) -> int:
        return x + 1

    @ln.flow()
    def outer(x: int) -> int:
        return inner(x, api_key="s3cret")

    outer(1)
    rows = _outbox()
    assert [r["event_type"] for r in rows].count("START") == 2 and [r["event_type"] for r in rows].count("COMPLETE") == 2
    events = [from_openlineage(r["event"]) for r in rows]
    step = next(e for e in events if e.job.name.endswith("inner"))
    flow = next(e for e in events if e.job.name.endswith("outer"))
    assert step.run.parent is not None and step.run.parent.run_id == flow.run.run_id  # the parent facet, both ways
    assert rows[0]["event"]["schemaURL"].startswith("https://openlineage.io/spec/2-0-2/")
    assert step.run.params is not None and step.run.params["api_key"] != "s3cret"  # redacted as recorded
    run = ln.Run.get(reference=step.run.run_id)
    assert run.reference_type == step.run.reference_type


def test_datasets_are_named_as_registered_and_map_back(instance: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from lamin_core.lineage import record

    monkeypatch.setenv("LAMIN_OPENLINEAGE_URL", f"http://127.0.0.1:{_free_port()}")
    out = tmp_path / "results" / "out.csv"
    out.parent.mkdir()
    out.write_text("a,b\n1,2\n")
    recorded = record(_event("r2", "COMPLETE", 2, outputs=[Dataset("file", str(out))]))
    (row,) = _outbox()
    (ds,) = row["event"]["outputs"]
    artifact = recorded.outputs[0]
    assert (ds["namespace"], ds["name"]) == ("file", str(out))
    assert ds["facets"]["lamin_dataset"]["hash"] == artifact.hash
    # ingesting the forwarded event again changes nothing: the same run, the same artifact
    again = record(from_openlineage(row["event"]))
    assert again.is_new is False and again.run_uid == recorded.run_uid
    assert len(_outbox()) == 1


def test_track_forwards_its_start_and_end(instance: Any, tmp_path: Path) -> None:
    script = tmp_path / "analysis.py"
    script.write_text(
        "import lamin_core as ln\n"
        "ln.track()\n"
        "p = __import__('pathlib').Path('out.txt'); p.write_text('hi')\n"
        "ln.Artifact(p, key='tracked/out.txt').save()\n"
        "ln.finish()\n"
    )
    env = {**instance.env, "LAMIN_OPENLINEAGE_URL": f"http://127.0.0.1:{_free_port()}", "LAMIN_OPENLINEAGE_EXIT_WAIT": "1"}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = _outbox()
    assert [r["event_type"] for r in rows] == ["START", "COMPLETE"]
    complete = from_openlineage(rows[1]["event"])
    run = ln.Run.get(reference=complete.run.run_id)
    assert run.status == "completed" and complete.job.name == run.transform.key
    artifact = ln.Artifact.get(key="tracked/out.txt")
    assert [(o.name, o.hash) for o in complete.outputs] == [(f"{instance.storage_root}/tracked/out.txt", artifact.hash)]


def test_delivered_in_order_then_removed(instance: Any, monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> None:
    from lamin_core.lineage import forwarding, record_many

    monkeypatch.setenv("LAMIN_OPENLINEAGE_URL", receiver.url)
    monkeypatch.setenv("LAMIN_OPENLINEAGE_TOKEN", "tok")
    monkeypatch.setenv("LAMIN_OPENLINEAGE_HEADERS", '{"X-Team": "bio"}')
    events = [_event(f"run{i}", t, 10 + i) for i in range(5) for t in ("START",)] + [_event("run0", "COMPLETE", 30)]
    record_many(events)
    assert forwarding.flush(30) == forwarding.EMPTY
    assert [(from_openlineage(e).run.run_id, e["eventType"]) for e in receiver.received] == [
        (e.run.run_id, e.event_type) for e in events
    ]
    assert receiver.headers[0]["Authorization"] == "Bearer tok" and receiver.headers[0]["X-Team"] == "bio"
    from lamin_core.lineage.forwarding_target import target

    assert "'tok'" not in repr(target()) and receiver.url in repr(target())  # the token never reaches a log line
    assert _outbox() == []
    state = forwarding.status()
    assert state["delivered"] == 6 and state["backlog"] == 0 and state["target"] == receiver.url + "/api/v1/lineage"


def test_target_down_then_up_everything_arrives(instance: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from lamin_core.lineage import forwarding, record

    port = _free_port()
    monkeypatch.setenv("LAMIN_OPENLINEAGE_URL", f"http://127.0.0.1:{port}")
    for i in range(3):
        record(_event(f"down{i}", "START", i))
    assert forwarding.flush(30) == forwarding.DOWN
    state = forwarding.status()
    assert state["backlog"] == 3 and "127.0.0.1" in state["last_error"]
    up = Receiver(port)
    try:
        assert forwarding.flush(60) == forwarding.EMPTY
        assert sorted(from_openlineage(e).run.run_id for e in up.received) == ["down0", "down1", "down2"]
    finally:
        up.close()
    assert forwarding.status()["backlog"] == 0


def test_refused_event_is_kept_and_skipped(instance: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from lamin_core.lineage import forwarding, record

    refusing = Receiver(status=422)
    try:
        monkeypatch.setenv("LAMIN_OPENLINEAGE_URL", refusing.url)
        record(_event("refused", "START", 1))
        assert forwarding.flush(30) == forwarding.EMPTY
        (row,) = _outbox()
        assert row["refused_at"] is not None
        state = forwarding.status()
        assert state["refused"] == 1 and state["backlog"] == 0 and "422" in state["last_error"]
    finally:
        refusing.close()


def test_backlog_cap_keeps_the_newest_and_says_what_it_dropped(instance: Any, monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    from lamin_core.lineage import forwarding, record_many

    monkeypatch.setenv("LAMIN_OPENLINEAGE_URL", f"http://127.0.0.1:{_free_port()}")
    monkeypatch.setenv("LAMIN_OPENLINEAGE_BACKLOG_CAP", "4")
    record_many([_event(f"cap{i}", "START", i) for i in range(7)])
    kept = [from_openlineage(r["event"]).run.run_id for r in _outbox()]
    assert kept == ["cap3", "cap4", "cap5", "cap6"]
    state = forwarding.status()
    assert state["dropped"] == 3 and "3 oldest" in state["dropped_note"]
    assert "3 oldest" in caplog.text


def test_ingested_events_are_not_sent_back_unless_asked(instance: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from lamin_core.lineage import record_many
    from lamin_core.lineage.outbox import ingested

    monkeypatch.setenv("LAMIN_OPENLINEAGE_URL", f"http://127.0.0.1:{_free_port()}")
    from_producer, own = _event("ingested", "START", 1), _event("own", "START", 2)
    with ingested([from_producer]):
        record_many([from_producer, own])
    assert [from_openlineage(r["event"]).run.run_id for r in _outbox()] == ["own"]
    monkeypatch.setenv("LAMIN_OPENLINEAGE_FORWARD_INGESTED", "1")
    again = _event("ingested", "COMPLETE", 3)
    with ingested([again]):
        record_many([again])
    assert [from_openlineage(r["event"]).run.run_id for r in _outbox()] == ["own", "ingested"]


def test_settings_url_is_saved_with_the_instance(instance: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAMIN_OPENLINEAGE_URL", raising=False)
    with pytest.raises(ValueError, match="http"):
        ln.settings.openlineage_url = "localhost:5000"
    ln.settings.openlineage_url = "http://127.0.0.1:9"
    assert ln.settings.openlineage_url == "http://127.0.0.1:9"
    from lamin_core.setup.settings import InstanceSettings

    assert InstanceSettings.load(instance.name).openlineage == {"url": "http://127.0.0.1:9"}
    monkeypatch.setenv("LAMIN_OPENLINEAGE_URL", "off")  # one process can opt out
    assert ln.settings.openlineage_url is None
    monkeypatch.delenv("LAMIN_OPENLINEAGE_URL")
    ln.settings.openlineage_url = None
    assert ln.settings.openlineage_url is None and os.environ.get("LAMIN_OPENLINEAGE_URL") is None
