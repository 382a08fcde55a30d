"""What the explorer's pages show, read from the connected instance (blocking: called in the server's threadpool).

Each function returns plain dicts and lists for a template, so that a page is one read in the threadpool and
the templates never touch the database (no lazy loads while rendering).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

SEARCH_LIMIT = 20
LATEST = 10
LIST_LIMIT = 200  # inputs, outputs, child runs, runs of a transform: a page lists this many and says how many more
TEXT_CHARS = 20_000  # a report or environment shown on a run page
KINDS = ("artifact", "transform", "run")
STATUSES = ("completed", "errored", "aborted", "started", "scheduled")


class NotFound(LookupError):
    """No record with that uid: the page answers 404."""


@dataclass
class Filters:
    """The home page's query: search text and filters, all optional (from the query string)."""

    q: str = ""
    kind: str = ""
    engine: str = ""
    status: str = ""
    since: str = ""  # YYYY-MM-DD

    def since_datetime(self) -> datetime | None:
        if not self.since:
            return None
        try:
            return datetime.strptime(self.since, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        except ValueError:
            raise ValueError(f"date must look like 2026-03-01 (YYYY-MM-DD), not {self.since!r}") from None


def _models() -> Any:
    from lamin_core.models import Artifact, Run, Transform

    return {"artifact": Artifact, "transform": Transform, "run": Run}


def engines() -> dict[str, list[int]]:
    """Every engine (a job's OpenLineage namespace) with its transforms' ids; an instance has few transforms."""
    from lamin_core.db import engine as db
    from lamin_core.models import Transform
    from sqlalchemy import select

    from .graph import engine_of

    t = Transform.__table__
    out: dict[str, list[int]] = {}
    with db.read() as s:
        for tid, key, uid, facets in s.execute(select(t.c.id, t.c.key, t.c.uid, t.c.facets)):
            out.setdefault(engine_of(key, uid, facets), []).append(tid)
    return out


def _filtered(kind: str, f: Filters, by_engine: dict[str, list[int]]) -> Any:
    """The registry's query set with the filters that apply to this kind."""
    from lamin_core.models import Run

    model = _models()[kind]
    qs = model.filter()
    if kind == "artifact":
        qs = qs.filter(kind__isnull=True) if not f.q else qs  # the latest data, not runs' logs and reports
    since = f.since_datetime()
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if f.engine:
        ids = by_engine.get(f.engine, [-1])
        if kind == "transform":
            qs = qs.filter(id__in=ids)
        elif kind == "run":
            qs = qs.filter(transform_id__in=ids)
        else:
            qs = qs.filter(run__in=Run.filter(transform_id__in=ids))  # one subquery, not a list of run ids
    if f.status and kind == "run":
        qs = qs.filter(status=f.status)
    return qs


def _row(kind: str, r: Any) -> dict[str, Any]:
    from .graph import engine_of

    if kind == "artifact":
        return {"kind": kind, "uid": r.uid, "title": r.key or r.description or r.uid, "sub": r.description if r.key else "",
                "when": r.created_at, "size": r.size, "version": r.version, "is_latest": r.is_latest}
    if kind == "transform":
        return {"kind": kind, "uid": r.uid, "title": r.key or r.uid, "sub": r.description or r.kind, "when": r.created_at,
                "engine": engine_of(r.key, r.uid, r.facets), "version": r.version}
    t = r.transform
    return {"kind": kind, "uid": r.uid, "title": (t.key or t.uid) if t else r.uid, "sub": r.name or "", "when": r.started_at or r.created_at,
            "status": r.status, "engine": engine_of(t.key, t.uid, t.facets) if t else "?"}


def home(f: Filters) -> dict[str, Any]:
    """Search results (ranked by the registry's search) or, without a search, the latest of each kind."""
    if f.kind and f.kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {f.kind!r}")
    if f.status and f.status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {f.status!r}")
    f.since_datetime()  # a bad date is a clear 400 before any query
    by_engine = engines()
    sections = []
    for kind in ([f.kind] if f.kind else list(KINDS)):
        if f.status and kind != "run" and not f.kind:
            continue  # a status filters runs only
        qs = _filtered(kind, f, by_engine)
        if f.q:
            rows = list(qs.search(f.q, limit=SEARCH_LIMIT))
            exact = _models()[kind].filter(uid=f.q.strip()).all_branches().first() if len(f.q.strip()) >= 12 else None
            if exact is not None and all(r.id != exact.id for r in rows):
                rows.insert(0, exact)
        else:
            rows = list(qs.order_by("-id")[:LATEST])
        sections.append({"kind": kind, "rows": [_row(kind, r) for r in rows]})
    return {"sections": sections, "engines": sorted(by_engine), "kinds": KINDS, "statuses": STATUSES, "filters": f}
