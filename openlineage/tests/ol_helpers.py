"""Helpers for the lamin-openlineage tests: a real `lamin serve` subprocess, events, and store snapshots.

Run as a script (`python ol_helpers.py summary`) it prints the JSON summary of the instance its
environment selects: the export test compares two instances that way, each read by its own process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from lamin_openlineage.testing import Server, lamin_serve as serve

TOKEN = "test-token-123"
LAMIN = str(Path(sys.executable).parent / "lamin")
FACET = {"_producer": "https://example.org/tests", "_schemaURL": "https://example.org/schema#/$defs/X"}


@contextmanager
def lamin_serve(env: dict[str, str], *args: str) -> Iterator[Server]:
    """`lamin serve --port 0 ARGS` for these tests: no network here, so s3:// datasets are not probed."""
    with serve({**env, "LAMIN_PROBE_REMOTE": "0"}, *args) as server:
        yield server


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def event(
    event_type: str = "START",
    run_id: str | None = None,
    *,
    when: str = "2026-01-01T00:00:00+00:00",
    job: str = "etl.task",
    namespace: str = "tests",
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    parent: str | None = None,
) -> dict[str, Any]:
    """A valid RunEvent as JSON."""
    run: dict[str, Any] = {"runId": run_id or str(uuid.uuid4()), "facets": {}}
    if parent:
        run["facets"]["parent"] = {**FACET, "run": {"runId": parent}, "job": {"namespace": namespace, "name": "etl"}}
    return {
        "eventType": event_type,
        "eventTime": when,
        "producer": "https://example.org/tests",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": run,
        "job": {"namespace": namespace, "name": job, "facets": {}},
        "inputs": inputs or [],
        "outputs": outputs or [],
    }


def table(name: str) -> dict[str, Any]:
    return {"namespace": "postgres://warehouse:5432", "name": name}


TABLES = ("transforms", "runs", "artifacts", "storages", "lineage_events", "run_input_artifacts")


def store_counts() -> dict[str, int]:
    """Rows per lineage table of the instance connected in this process."""
    from lamin_core.db import engine as db
    from sqlalchemy import text

    with db.read() as s:
        return {t: int(s.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in TABLES}


def fresh() -> None:
    """Forget what this process's session cached: the server process wrote behind its back."""
    from lamin_core.db import engine as db

    s = db.session()
    if s.in_transaction():
        s.commit()
    s.expire_all()


def summary() -> dict[str, Any]:
    """Everything export then ingest must reproduce, keyed by what identifies it across instances."""
    from lamin_core.db import engine as db
    from lamin_core.models import Run
    from sqlalchemy import select

    def path_of(a: Any) -> str:
        return f"{a.storage.root.rstrip('/')}/{a.key}"

    def artifact(a: Any) -> dict[str, Any]:
        return {"path": path_of(a), "hash": a.hash, "size": a.size, "kind": a.kind, "facets": a.facets,
                "run": a.run.reference if a.run is not None else None}

    def iso(t: Any) -> str | None:
        return t.replace(tzinfo=None).isoformat() if t is not None else None

    runs = {}
    with db.read() as s:
        for r in s.execute(select(Run).where(Run.reference.is_not(None))).scalars():
            t = r.transform
            report = None
            if r.report is not None:
                report = r.report.cache().read_text()
            runs[f"{r.reference_type}:{r.reference}"] = {
                "transform": {"key": t.key, "kind": t.kind, "source_code": t.source_code, "version": t.version,
                              "description": t.description, "facets": t.facets},
                "status": r.status, "started_at": iso(r.started_at), "finished_at": iso(r.finished_at),
                "params": r.params, "facets": r.facets, "name": r.name, "report": report,
                "parent": f"{r.initiated_by_run.reference_type}:{r.initiated_by_run.reference}" if r.initiated_by_run else None,
                "inputs": sorted((artifact(a) for a in r.input_artifacts), key=lambda a: a["path"]),
                "outputs": sorted((artifact(a) for a in r.output_artifacts), key=lambda a: a["path"]),
            }
    return runs


def summary_of(env: dict[str, str]) -> dict[str, Any]:
    """`summary()` of the instance `env` selects, read in a fresh process."""
    out = subprocess.run([sys.executable, __file__, "summary"], env=env, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__" and sys.argv[1:] == ["summary"]:
    print(json.dumps(summary(), sort_keys=True, default=str))
    os._exit(0)
