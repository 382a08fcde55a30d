"""Group commit: a batch of events is recorded together, and a bad event in it fails alone."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import requests
from lamin_core.lineage.events import Dataset, Job, LineageEvent, RunInfo
from lamin_openlineage.batching import record_batch
from ol_helpers import Server, auth, event, store_counts

T = datetime(2026, 5, 1, tzinfo=timezone.utc)


def ev(run_id: str, job: str = "j", event_type: str = "START") -> LineageEvent:
    return LineageEvent(event_type, T, Job("batch", job), RunInfo(run_id), inputs=[Dataset("postgres://h:5432", "db.s.t")])  # type: ignore[arg-type]


def test_a_batch_is_recorded_and_a_bad_event_fails_alone(instance: Any) -> None:
    events = [ev("r1"), ev("r2"), ev("r3", job=""), ev("r1"), ev("r1", event_type="COMPLETE")]
    results = record_batch(events)
    assert isinstance(results[2], ValueError) and "job.name" in str(results[2])
    bodies = [r for i, r in enumerate(results) if i != 2]
    assert [b["is_new"] for b in bodies] == [True, True, False, True]  # the re-sent START is known
    assert bodies[0]["run"]["reference"] == "r1"
    assert store_counts()["lineage_events"] == 3
    # the whole batch again: nothing new
    assert [r["is_new"] for r in record_batch([e for i, e in enumerate(events) if i != 2])] == [False] * 4


def test_values_the_database_refuses_are_400(instance: Any, serve: Server) -> None:
    body = event("START")
    body["job"]["facets"]["documentation"] = {"_producer": "p", "_schemaURL": "s", "description": "nul \x00 byte"}
    r = requests.post(serve.url, data=json.dumps(body), headers={**auth(), "Content-Type": "application/json"}, timeout=60)
    if instance.backend == "postgresql":  # PostgreSQL text cannot hold NUL; SQLite stores it
        assert r.status_code == 400 and "refused" in r.json()["error"]
    else:
        assert r.status_code == 201
    assert requests.post(serve.url, json=event("START"), headers=auth(), timeout=60).status_code == 201
