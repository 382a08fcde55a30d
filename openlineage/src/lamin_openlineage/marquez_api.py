"""Marquez's read API on `lamin serve`: tools written for Marquez (its web UI, `marquez-python`, scripts
against its REST API) read lamin-core's lineage directly.

Routes (all behind the server's token, like every route; JSON in Marquez's shapes and field names):

- `GET /api/v1/lineage?nodeId=job:NS:NAME|dataset:NS:NAME&depth=20`: `{"graph": [{"id", "type", "data",
  "inEdges", "outEdges"}]}`, jobs within `depth` job-to-job hops upstream and downstream, and their datasets;
- `GET /api/v1/namespaces`, `/api/v1/namespaces/{ns}`;
- `GET /api/v1/namespaces/{ns}/jobs`, `/jobs/{job}`, `/jobs/{job}/runs`;
- `GET /api/v1/namespaces/{ns}/datasets`, `/datasets/{dataset}`;
- `GET /api/v1/runs/{id}` (and `/api/v1/jobs/runs/{id}`, where `marquez-python` asks);
- `GET /api/v1/search?q=...&filter=JOB|DATASET&sort=NAME|UPDATE_AT&limit=10`.

Lists take `limit` (default 100) and `offset`. What is read, and how lamin-core's records become Marquez's
jobs and datasets, lives in `marquez_read`; this module only shapes JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from .http import HTTPError, run_blocking
from .marquez_read import (
    DatasetInfo,
    DatasetKey,
    Graph,
    JobKey,
    NotFound,
    iso,
    run_job,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from starlette.requests import Request

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
DEFAULT_DEPTH = 20
MAX_DEPTH = 100
RUN_STATE = {"scheduled": "NEW", "started": "RUNNING", "completed": "COMPLETED", "errored": "FAILED", "aborted": "ABORTED"}
_INTERNAL_RUN_FACETS = ("status_order", "attempts")
OWNER = "lamin"


# ---------------------------------------------------------------------------------------------- JSON shapes


def _run(row: Any) -> dict[str, Any]:
    namespace, name = run_job(row)
    started, ended = row.started_at, row.finished_at
    duration = int((ended - started).total_seconds() * 1000) if started is not None and ended is not None else None
    return {
        "id": _run_id(row),
        "createdAt": iso(row.created_at),
        "updatedAt": iso(ended or started or row.created_at),
        "nominalStartTime": None,
        "nominalEndTime": None,
        "state": RUN_STATE.get(row.status, "NEW"),
        "startedAt": iso(started),
        "endedAt": iso(ended),
        "durationMs": duration,
        "args": {str(k): v if isinstance(v, str) else _json_text(v) for k, v in (row.params or {}).items()},
        "jobVersion": {"namespace": namespace, "name": name, "version": row.transform_uid},
        "context": {},
        "facets": {k: v for k, v in (row.facets or {}).items() if k not in _INTERNAL_RUN_FACETS},
    }


def _run_id(row: Any) -> str:
    from lamin_core.lineage.openlineage_ids import run_id

    return run_id(row.uid, row.reference, row.reference_type)


def _json_text(value: Any) -> str:
    import json

    return json.dumps(value, default=str)


def _job(key: JobKey, transforms: list[Any], inputs: set[DatasetKey], outputs: set[DatasetKey], latest: Any) -> dict[str, Any]:
    namespace, name = key
    current = max(transforms, key=lambda t: (t.is_latest, t.id))
    facets = {k: v for k, v in (current.facets or {}).items() if k != "job"}
    location = facets.get("sourceCodeLocation", {}).get("url") if isinstance(facets.get("sourceCodeLocation"), dict) else None
    return {
        "id": {"namespace": namespace, "name": name},
        "type": "BATCH",
        "name": name,
        "simpleName": name.rsplit(".", 1)[-1],
        "parentJobName": None,
        "createdAt": iso(min(t.created_at for t in transforms)),
        "updatedAt": iso(max(t.updated_at or t.created_at for t in transforms)),
        "namespace": namespace,
        "inputs": [{"namespace": ns, "name": n} for ns, n in sorted(inputs)],
        "outputs": [{"namespace": ns, "name": n} for ns, n in sorted(outputs)],
        "location": location,
        "description": current.description,
        "latestRun": _run(latest) if latest is not None else None,
        "facets": facets,
        "currentVersion": current.uid,
    }


def _fields(facets: dict[str, Any]) -> list[dict[str, Any]]:
    schema = facets.get("schema")
    fields = schema.get("fields") if isinstance(schema, dict) else None
    if not isinstance(fields, list):
        return []
    return [
        {"name": f.get("name"), "type": f.get("type"), "tags": [], "description": f.get("description")}
        for f in fields
        if isinstance(f, dict)
    ]


def _dataset(key: DatasetKey, info: DatasetInfo) -> dict[str, Any]:
    namespace, name = key
    facets = dict(info.latest.facets or {})
    return {
        "id": {"namespace": namespace, "name": name},
        "type": "DB_TABLE",
        "name": name,
        "physicalName": name,
        "createdAt": iso(info.created_at),
        "updatedAt": iso(info.updated_at),
        "namespace": namespace,
        "sourceName": namespace,
        "fields": _fields(facets),
        "tags": [],
        "lastModifiedAt": iso(info.last_modified_at),
        "lastLifecycleState": None,
        "description": info.latest.description,
        "facets": facets,
        "currentVersion": info.latest.uid,
    }


def _node_id(kind: str, key: tuple[str, str]) -> str:
    return f"{kind}:{key[0]}:{key[1]}"


def graph_json(graph: Graph) -> dict[str, Any]:
    """Marquez's lineage graph: nodes sorted by id, edges `{"origin", "destination"}` sorted too."""
    in_edges: dict[str, set[tuple[str, str]]] = {}
    out_edges: dict[str, set[tuple[str, str]]] = {}
    inputs: dict[JobKey, set[DatasetKey]] = {}
    outputs: dict[JobKey, set[DatasetKey]] = {}
    for job, dataset, is_input in graph.edges:
        j, d = _node_id("job", job), _node_id("dataset", dataset)
        origin, destination = (d, j) if is_input else (j, d)
        out_edges.setdefault(origin, set()).add((origin, destination))
        in_edges.setdefault(destination, set()).add((origin, destination))
        (inputs if is_input else outputs).setdefault(job, set()).add(dataset)
    nodes = []
    for job, transforms in graph.jobs.items():
        data = _job(job, transforms, inputs.get(job, set()), outputs.get(job, set()), graph.latest_run.get(job))
        nodes.append(("job", job, "JOB", data))
    for dataset, info in graph.datasets.items():
        nodes.append(("dataset", dataset, "DATASET", _dataset(dataset, info)))
    out = []
    for kind, key, node_type, data in sorted(nodes, key=lambda n: _node_id(n[0], n[1])):
        nid = _node_id(kind, key)
        out.append({
            "id": nid,
            "type": node_type,
            "data": data,
            "inEdges": [{"origin": o, "destination": d} for o, d in sorted(in_edges.get(nid, ()))],
            "outEdges": [{"origin": o, "destination": d} for o, d in sorted(out_edges.get(nid, ()))],
        })
    return {"graph": out}


# ---------------------------------------------------------------------------------------------- parameters


def _int_param(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPError(400, f"{name} must be an integer, got {raw!r}", field=name) from None
    if value < 0:
        raise HTTPError(400, f"{name} must be 0 or more, got {value}", field=name)
    return min(value, maximum)


def _page(request: Request) -> tuple[int, int]:
    return _int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT), _int_param(request, "offset", 0, 2**62)


async def _read(request: Request, fn: Callable[..., Any], *args: Any) -> JSONResponse:
    """Run a read in the server's threadpool; NotFound becomes Marquez's 404."""

    def work() -> Any:
        from lamin_core.db import engine as db

        with db.read() as s:
            return fn(s, *args)

    try:
        return JSONResponse(await run_blocking(request, work))
    except NotFound as e:
        raise HTTPError(404, str(e)) from None


# ---------------------------------------------------------------------------------------------- reads


def _namespaces(s: Session) -> list[dict[str, Any]]:
    from lamin_core.models import Artifact
    from sqlalchemy import func, select

    from .marquez_read import all_jobs, is_dataset, storage_prefixes, storage_roots

    times: dict[str, list[Any]] = {}
    for (namespace, _), transforms in all_jobs(s).items():
        for t in transforms:
            times.setdefault(namespace, []).extend((t.created_at, t.updated_at or t.created_at))
    prefixes = storage_prefixes(storage_roots(s))
    a = Artifact.__table__
    used = select(a.c.storage_id, func.min(a.c.created_at), func.max(a.c.updated_at)).where(is_dataset(a)).group_by(a.c.storage_id)
    for sid, first, last in s.execute(used):
        times.setdefault(prefixes[sid][0], []).extend((first, last))
    return [
        {"name": ns, "createdAt": iso(min(t)), "updatedAt": iso(max(t)), "ownerName": OWNER, "description": None, "isHidden": False}
        for ns, t in sorted(times.items())
    ]


def _namespace(s: Session, namespace: str) -> dict[str, Any]:
    for ns in _namespaces(s):
        if ns["name"] == namespace:
            return ns
    raise NotFound(f"no namespace {namespace!r}")


def _jobs_page(s: Session, namespace: str, limit: int, offset: int) -> dict[str, Any]:
    from .marquez_read import all_jobs

    _namespace(s, namespace)
    jobs = sorted((k, v) for k, v in all_jobs(s).items() if k[0] == namespace)
    return {"jobs": _jobs_with_io(s, jobs[offset : offset + limit]), "totalCount": len(jobs)}


def _jobs_with_io(s: Session, jobs: list[tuple[JobKey, list[Any]]]) -> list[dict[str, Any]]:
    """Jobs with their inputs, outputs and latest run: one statement per kind for the whole page."""
    from .marquez_read import dataset_name, edges, latest_runs, storage_roots

    roots = storage_roots(s)
    job_of_transform = {t.id: key for key, transforms in jobs for t in transforms}
    io: dict[JobKey, tuple[set[DatasetKey], set[DatasetKey]]] = {key: (set(), set()) for key, _ in jobs}
    for e in edges(s, transform_ids=job_of_transform):
        io[job_of_transform[e.transform_id]][0 if e.is_input else 1].add(dataset_name(e.place, roots))
    latest: dict[JobKey, Any] = {}
    for row in latest_runs(s, job_of_transform).values():
        key = job_of_transform[row.transform_id]
        if key not in latest or row.id > latest[key].id:
            latest[key] = row
    return [_job(key, transforms, *io[key], latest.get(key)) for key, transforms in jobs]


def _job_one(s: Session, namespace: str, name: str) -> dict[str, Any]:
    from .marquez_read import find_job

    return _jobs_with_io(s, [((namespace, name), find_job(s, namespace, name))])[0]


def _job_runs(s: Session, namespace: str, name: str, limit: int, offset: int) -> dict[str, Any]:
    from .marquez_read import find_job, runs_of

    transforms = find_job(s, namespace, name)
    return {"runs": [_run(r) for r in runs_of(s, [t.id for t in transforms], limit, offset)]}


def _datasets_page(s: Session, namespace: str, limit: int, offset: int) -> dict[str, Any]:
    from lamin_core.models import Artifact
    from sqlalchemy import case, func, literal, select

    from .marquez_read import dataset_infos, is_dataset, place_sql, storage_prefixes, storage_roots

    prefixes = {sid: prefix for sid, (ns, prefix) in storage_prefixes(storage_roots(s)).items() if ns == namespace}
    if not prefixes:
        _namespace(s, namespace)  # a namespace of jobs only: no datasets; else 404
        return {"datasets": [], "totalCount": 0}
    a = Artifact.__table__
    places = select(a.c.storage_id, place_sql(a).label("place")).where(a.c.storage_id.in_(list(prefixes)), is_dataset(a)).distinct().subquery()
    total = s.execute(select(func.count()).select_from(places)).scalar_one()
    name = case(prefixes, value=places.c.storage_id, else_=literal("")) + places.c.place
    page = list(s.execute(select(places.c.storage_id, places.c.place, name.label("name")).order_by(name).limit(limit).offset(offset)))
    infos = dataset_infos(s, [(r.storage_id, r.place) for r in page])
    datasets = [_dataset((namespace, r.name), infos[(r.storage_id, r.place)]) for r in page if (r.storage_id, r.place) in infos]
    return {"datasets": datasets, "totalCount": total}


def _dataset_one(s: Session, namespace: str, name: str) -> dict[str, Any]:
    from .marquez_read import dataset_infos, find_dataset, storage_roots

    place = find_dataset(s, namespace, name, storage_roots(s))
    return _dataset((namespace, name), dataset_infos(s, [place])[place])


def _run_one(s: Session, openlineage_id: str) -> dict[str, Any]:
    from .marquez_read import find_run

    return _run(find_run(s, openlineage_id))


def _search(s: Session, q: str, kind: str | None, sort: str, limit: int) -> dict[str, Any]:
    from lamin_core.models import Artifact
    from sqlalchemy import func, select

    from .marquez_read import all_jobs, is_dataset, place_sql, storage_prefixes, storage_roots

    needle = q.lower()
    results: list[dict[str, Any]] = []
    if kind in (None, "JOB"):
        for (ns, name), transforms in all_jobs(s).items():
            if needle in name.lower() or needle in ns.lower():
                updated = max(t.updated_at or t.created_at for t in transforms)
                results.append({"type": "JOB", "name": name, "updatedAt": iso(updated), "namespace": ns, "nodeId": _node_id("job", (ns, name))})
    if kind in (None, "DATASET"):
        prefixes = storage_prefixes(storage_roots(s))
        a = Artifact.__table__
        place = place_sql(a)
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = (select(a.c.storage_id, place, func.max(a.c.updated_at)).where(func.lower(place).like(f"%{escaped}%", escape="\\"), is_dataset(a))
                 .group_by(a.c.storage_id, place).limit(MAX_LIMIT))
        for sid, key, updated in s.execute(query):
            ns, prefix = prefixes[sid]
            results.append({"type": "DATASET", "name": prefix + key, "updatedAt": iso(updated), "namespace": ns,
                            "nodeId": _node_id("dataset", (ns, prefix + key))})
    if sort == "UPDATE_AT":
        results.sort(key=lambda r: r["updatedAt"] or "", reverse=True)
    else:
        results.sort(key=lambda r: (r["name"], r["type"]))
    results = results[:limit]
    return {"totalCount": len(results), "results": results}


def _lineage(s: Session, node_id: str, depth: int) -> dict[str, Any]:
    from .marquez_read import lineage

    return graph_json(lineage(s, node_id, depth))


# ---------------------------------------------------------------------------------------------- routes


async def get_lineage(request: Request) -> JSONResponse:
    node_id = request.query_params.get("nodeId")
    if not node_id:
        raise HTTPError(400, "nodeId is required (job:NAMESPACE:NAME or dataset:NAMESPACE:NAME)", field="nodeId")
    try:
        from .marquez_read import parse_node_id

        parse_node_id(node_id)
    except ValueError as e:
        raise HTTPError(400, str(e), field="nodeId") from None
    return await _read(request, _lineage, node_id, _int_param(request, "depth", DEFAULT_DEPTH, MAX_DEPTH))


async def list_namespaces(request: Request) -> JSONResponse:
    limit, offset = _page(request)

    def page(s: Session) -> dict[str, Any]:
        return {"namespaces": _namespaces(s)[offset : offset + limit]}

    return await _read(request, page)


async def get_run(request: Request) -> JSONResponse:
    return await _read(request, _run_one, request.path_params["run_id"])


async def search(request: Request) -> JSONResponse:
    q = (request.query_params.get("q") or "").strip()
    if not q:
        raise HTTPError(400, "q is required: the text to search job and dataset names for", field="q")
    kind = (request.query_params.get("filter") or "").upper() or None
    if kind not in (None, "JOB", "DATASET"):
        raise HTTPError(400, f"filter must be JOB or DATASET, got {kind!r}", field="filter")
    sort = (request.query_params.get("sort") or "NAME").upper()
    if sort not in ("NAME", "UPDATE_AT"):
        raise HTTPError(400, f"sort must be NAME or UPDATE_AT, got {sort!r}", field="sort")
    return await _read(request, _search, q, kind, sort, _int_param(request, "limit", 10, MAX_LIMIT))


def _segments(request: Request) -> list[str]:
    """The path after `/api/v1/namespaces/`, split at its encoded slashes.

    Namespaces and names hold slashes of their own (`s3://bucket`, `/data/x.csv`); Marquez's clients encode
    them (`%2F`), so the raw path says where one segment ends. A name sent unencoded still works: whatever
    follows `jobs/` or `datasets/` is the name.
    """
    from urllib.parse import unquote

    raw = request.scope.get("raw_path") or request.url.path.encode()
    rest = raw.decode("latin-1").split("?", 1)[0][len(NAMESPACES_PATH) :].strip("/")
    return [unquote(part) for part in rest.split("/")] if rest else []


async def namespaces_route(request: Request) -> JSONResponse:
    """`/api/v1/namespaces/{ns}[/jobs[/{job}[/runs]] | /datasets[/{dataset}]]`."""
    parts = _segments(request)
    if not parts:
        return await list_namespaces(request)
    namespace, rest = parts[0], parts[1:]
    if not rest:
        return await _read(request, _namespace, namespace)
    what, names = rest[0], rest[1:]
    if what == "jobs":
        if not names:
            return await _read(request, _jobs_page, namespace, *_page(request))
        if len(names) > 1 and names[-1] == "runs":
            return await _read(request, _job_runs, namespace, "/".join(names[:-1]), *_page(request))
        return await _read(request, _job_one, namespace, "/".join(names))
    if what == "datasets":
        if not names:
            return await _read(request, _datasets_page, namespace, *_page(request))
        return await _read(request, _dataset_one, namespace, "/".join(names))
    raise HTTPError(404, f"no such resource: {request.url.path} (namespaces have jobs and datasets)")


NAMESPACES_PATH = "/api/v1/namespaces"


def routes() -> list[BaseRoute]:
    """The read routes, registered by `server.create_app` beside `POST /api/v1/lineage`."""
    return [
        Route("/api/v1/lineage", get_lineage, methods=["GET"]),
        Route(NAMESPACES_PATH, list_namespaces, methods=["GET"]),
        Route(NAMESPACES_PATH + "/{rest:path}", namespaces_route, methods=["GET"]),
        Route("/api/v1/runs/{run_id}", get_run, methods=["GET"]),
        Route("/api/v1/jobs/runs/{run_id}", get_run, methods=["GET"]),
        Route("/api/v1/search", search, methods=["GET"]),
    ]
