"""The instance seen as Marquez sees a backend: jobs and datasets by (namespace, name), their runs and lineage.

Marquez's model is coarser than lamin-core's: a Marquez *job* is every version of a Transform (one key), a
Marquez *dataset* is every version of an Artifact (one storage location and key). Both are named exactly as
`lamin openlineage export` and live forwarding name them (`openlineage_ids.job_id`, `.dataset_id`, `.run_id`),
so a dataset has one id whichever direction lineage travels.

Everything here reads with set-wide statements (one per kind of row and level of the graph), never one per
node: `lineage()` at depth 20 is a few dozen statements whatever the graph's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from lamin_core.lineage.openlineage_ids import dataset_id, job_id, run_id
from lamin_core.lineage.openlineage_json import NAMESPACELESS, OPENLINEAGE_REFERENCE_TYPE, dataset_from_uri
from lamin_core.storage.managed import MANAGED_DIR

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

JobKey = tuple[str, str]  # (namespace, name) of a job
DatasetKey = tuple[str, str]  # (namespace, name) of a dataset
CHUNK = 5000  # ids per IN list: below every backend's parameter limit
MANAGED_PREFIX = MANAGED_DIR + "/"  # keys of managed artifacts as the export names them
# artifacts that belong to a run rather than being data it read or wrote: not datasets in Marquez's sense
RUN_ATTACHMENT_KINDS = ("log", "benchmark", "report", "environment", "plan")


class NotFound(LookupError):
    """No job, dataset, namespace or run of that name: the API answers 404."""


def iso(t: datetime | None) -> str | None:
    """Marquez's timestamps: ISO 8601 in UTC with a `Z` (lamin-core stores naive UTC on SQLite)."""
    if t is None:
        return None
    t = t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = sorted(set(values), key=str)
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


# ---------------------------------------------------------------------------------------------- transforms -> jobs


TRANSFORM_COLUMNS = ("id", "key", "uid", "facets", "description", "kind", "created_at", "updated_at", "is_latest")


def _transform_rows(s: Session, where: Any) -> list[Any]:
    from lamin_core.models import Transform
    from sqlalchemy import select

    t = Transform.__table__
    return list(s.execute(select(*(t.c[c] for c in TRANSFORM_COLUMNS)).where(where)))


def job_of(row: Any) -> JobKey:
    return job_id(row.key, row.uid, row.facets)


def all_jobs(s: Session) -> dict[JobKey, list[Any]]:
    """Every job of the instance with its transforms (all versions)."""
    from sqlalchemy import true

    jobs: dict[JobKey, list[Any]] = {}
    for row in _transform_rows(s, true()):
        jobs.setdefault(job_of(row), []).append(row)
    return jobs


def find_job(s: Session, namespace: str, name: str) -> list[Any]:
    """The transforms (versions) that are job `namespace:name`; NotFound when there are none."""
    from lamin_core.models import Transform
    from sqlalchemy import or_

    t = Transform.__table__
    keys = {f"{namespace}/{name}"}
    if namespace == NAMESPACELESS:  # a transform keyed without a namespace (ln.track, a namespaceless job)
        keys.add(name)
    rows = [r for r in _transform_rows(s, or_(t.c.key.in_(sorted(keys)), t.c.uid == name)) if job_of(r) == (namespace, name)]
    if not rows:
        raise NotFound(f"no job {name!r} in namespace {namespace!r}")
    return rows


# ---------------------------------------------------------------------------------------------- artifacts -> datasets


ARTIFACT_COLUMNS = ("id", "uid", "key", "suffix", "storage_id", "description", "facets", "created_at", "updated_at", "run_id")


def storage_roots(s: Session) -> dict[int, str]:
    from lamin_core.models import Storage
    from sqlalchemy import select

    return {sid: root for sid, root in s.execute(select(Storage.id, Storage.root))}


def storage_prefixes(roots: dict[int, str]) -> dict[int, tuple[str, str]]:
    """Each storage's (dataset namespace, name prefix): a dataset's name is the prefix + its key."""
    return {sid: dataset_from_uri(root.rstrip("/") + "/") for sid, root in roots.items()}


def is_dataset(a: Any) -> Any:
    """SQL: the artifact is data (not a run's log, report, environment or plan)."""
    from sqlalchemy import or_

    return or_(a.c.kind.is_(None), a.c.kind.not_in(RUN_ATTACHMENT_KINDS))


def artifact_rows(s: Session, where: Any) -> list[Any]:
    from lamin_core.models import Artifact
    from sqlalchemy import select

    a = Artifact.__table__
    return list(s.execute(select(*(a.c[c] for c in ARTIFACT_COLUMNS)).where(where)))


Place = tuple[int, str]  # (storage id, dataset key): where a dataset lives; every version of it is there


def place_sql(a: Any) -> Any:
    """SQL for `openlineage_ids.dataset_key`: the key, or `.lamindb/<uid><suffix>` (inline SQL: PostgreSQL groups by it)."""
    from sqlalchemy import String, func, literal_column

    return func.coalesce(a.c.key, literal_column(f"'{MANAGED_PREFIX}'", String) + a.c.uid + a.c.suffix)


def dataset_name(place: Place, roots: dict[int, str]) -> DatasetKey:
    """The dataset's OpenLineage (namespace, name), by the export's own mapping."""
    return dataset_id(roots[place[0]], place[1], "", None)


def _place_condition(a: Any, places: Iterable[Place]) -> Any:
    """SQL matching the artifacts at these places (and, by key, a few at the same key in other storages)."""
    from sqlalchemy import false, or_

    keys = sorted({key for _, key in places if not key.startswith(MANAGED_PREFIX)})
    uids = sorted({key[len(MANAGED_PREFIX) :].split(".", 1)[0] for _, key in places if key.startswith(MANAGED_PREFIX)})
    return or_(false(), *([a.c.key.in_(keys)] if keys else []), *([a.c.uid.in_(uids)] if uids else []))


def find_dataset(s: Session, namespace: str, name: str, roots: dict[int, str]) -> Place:
    """Where dataset `namespace:name` lives; NotFound when no artifact is there."""
    from lamin_core.models import Artifact
    from sqlalchemy import select

    a = Artifact.__table__
    candidates = [(sid, name[len(prefix) :]) for sid, (ns, prefix) in storage_prefixes(roots).items()
                  if ns == namespace and name.startswith(prefix) and len(name) > len(prefix)]
    if candidates:
        query = select(a.c.storage_id, place_sql(a)).where(_place_condition(a, candidates), is_dataset(a)).distinct()
        for place in s.execute(query):
            if tuple(place) in candidates and dataset_name(tuple(place), roots) == (namespace, name):  # type: ignore[arg-type]
                return (place[0], place[1])
    raise NotFound(f"no dataset {name!r} in namespace {namespace!r}")


@dataclass
class DatasetInfo:
    """A dataset as Marquez shows it: its newest version's row and the times of all versions."""

    latest: Any
    created_at: datetime
    updated_at: datetime
    last_modified_at: datetime


def dataset_infos(s: Session, places: Iterable[Place]) -> dict[Place, DatasetInfo]:
    """Every place's dataset info, two statements per few thousand places."""
    from lamin_core.models import Artifact
    from sqlalchemy import func, select

    a = Artifact.__table__
    out: dict[Place, DatasetInfo] = {}
    for chunk in _chunks(places):
        wanted = set(chunk)
        place = place_sql(a)
        query = (select(a.c.storage_id, place, func.min(a.c.created_at), func.max(a.c.updated_at), func.max(a.c.created_at), func.max(a.c.id))
                 .where(_place_condition(a, chunk), is_dataset(a)).group_by(a.c.storage_id, place))
        found = {(sid, p): (first, updated, modified, newest) for sid, p, first, updated, modified, newest in s.execute(query) if (sid, p) in wanted}
        latest = {r.id: r for r in artifact_rows(s, a.c.id.in_([v[3] for v in found.values()]))} if found else {}
        for key, (first, updated, modified, newest) in found.items():
            out[key] = DatasetInfo(latest[newest], first, updated or first, modified)
    return out


# ---------------------------------------------------------------------------------------------- run <-> dataset edges


@dataclass(frozen=True)
class Edge:
    transform_id: int
    place: Place
    is_input: bool  # True: a run of the transform read a version of the dataset; False: wrote one


def edges(s: Session, *, transform_ids: Iterable[int] = (), places: Iterable[Place] = ()) -> set[Edge]:
    """Which transforms' runs read or wrote which datasets, for these transforms or these datasets.

    One statement per few thousand transforms or datasets: the reads and the writes, distinct per dataset (not
    per version), in one UNION.
    """
    from lamin_core.models import Artifact, Run
    from lamin_core.models.run import run_input_artifacts as ria
    from sqlalchemy import literal_column, select, union

    r, a = Run.__table__, Artifact.__table__
    found: set[Edge] = set()
    for by_transform, values in ((True, transform_ids), (False, places)):
        for chunk in _chunks(values):
            cond = r.c.transform_id.in_(chunk) if by_transform else _place_condition(a, chunk)
            columns = (r.c.transform_id, a.c.storage_id, place_sql(a))
            reads = (select(*columns, literal_column("1").label("is_input"))
                     .select_from(r.join(ria, ria.c.run_id == r.c.id).join(a, a.c.id == ria.c.artifact_id))
                     .where(cond, is_dataset(a)))
            writes = select(*columns, literal_column("0")).select_from(r.join(a, a.c.run_id == r.c.id)).where(cond, is_dataset(a))
            wanted = None if by_transform else set(chunk)
            for tid, sid, key, is_input in s.execute(union(reads, writes)):
                if wanted is None or (sid, key) in wanted:
                    found.add(Edge(tid, (sid, key), bool(is_input)))
    return found


# ---------------------------------------------------------------------------------------------- runs


RUN_COLUMNS = ("id", "uid", "reference", "reference_type", "status", "started_at", "finished_at", "created_at",
               "params", "facets", "transform_id", "name")


def _run_rows(s: Session, where: Any, *, order_newest: bool = False, limit: int | None = None, offset: int = 0) -> list[Any]:
    from lamin_core.models import Run, Transform
    from sqlalchemy import select

    r, t = Run.__table__, Transform.__table__
    query = (
        select(*(r.c[c] for c in RUN_COLUMNS), t.c.key.label("transform_key"), t.c.uid.label("transform_uid"),
               t.c.facets.label("transform_facets"), t.c.version.label("transform_version"))
        .select_from(r.join(t, t.c.id == r.c.transform_id))
        .where(where)
    )
    if order_newest:
        query = query.order_by(r.c.id.desc())
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return list(s.execute(query))


def runs_of(s: Session, transform_ids: Sequence[int], limit: int, offset: int) -> list[Any]:
    from lamin_core.models import Run

    return _run_rows(s, Run.__table__.c.transform_id.in_(list(transform_ids)), order_newest=True, limit=limit, offset=offset)


def latest_runs(s: Session, transform_ids: Iterable[int]) -> dict[int, Any]:
    """The newest run of each of these transforms."""
    from lamin_core.models import Run
    from sqlalchemy import func, select

    r = Run.__table__
    out: dict[int, Any] = {}
    for chunk in _chunks(transform_ids):
        newest = select(func.max(r.c.id)).where(r.c.transform_id.in_(chunk)).group_by(r.c.transform_id).scalar_subquery()
        for row in _run_rows(s, r.c.id.in_(newest)):
            out[row.transform_id] = row
    return out


def find_run(s: Session, openlineage_id: str) -> Any:
    """The run exported under this runId: an OpenLineage run by its own id, any other by its uid or a scan."""
    from lamin_core.models import Run
    from sqlalchemy import and_, select

    r = Run.__table__
    rows = _run_rows(s, and_(r.c.reference_type == OPENLINEAGE_REFERENCE_TYPE, r.c.reference == openlineage_id))
    rows = rows or _run_rows(s, r.c.uid == openlineage_id)
    if rows:
        return rows[0]
    # a run recorded under another reference (a Snakemake job id, a Nextflow task hash, ln.track) is exported
    # with a name-based UUID, which cannot be inverted: compare against every such run, newest first
    last = None
    while True:
        query = select(r.c.id, r.c.uid, r.c.reference, r.c.reference_type).order_by(r.c.id.desc()).limit(CHUNK)
        if last is not None:
            query = query.where(r.c.id < last)
        batch = list(s.execute(query))
        for row in batch:
            if row.reference_type != OPENLINEAGE_REFERENCE_TYPE and run_id(row.uid, row.reference, row.reference_type) == openlineage_id:
                return _run_rows(s, r.c.id == row.id)[0]
        if len(batch) < CHUNK:
            raise NotFound(f"no run {openlineage_id!r}")
        last = batch[-1].id


def run_job(row: Any) -> JobKey:
    return job_id(row.transform_key, row.transform_uid, row.transform_facets)


# ---------------------------------------------------------------------------------------------- lineage graph


@dataclass
class Graph:
    """Jobs and datasets around a node, with the job -> dataset edges between them."""

    jobs: dict[JobKey, list[Any]] = field(default_factory=dict)  # job -> its transform rows
    datasets: dict[DatasetKey, DatasetInfo] = field(default_factory=dict)
    edges: set[tuple[JobKey, DatasetKey, bool]] = field(default_factory=set)  # (job, dataset, is_input)
    latest_run: dict[JobKey, Any] = field(default_factory=dict)


def parse_node_id(node_id: str) -> tuple[str, str, str]:
    """`job:NS:NAME` / `dataset:NS:NAME` -> (type, namespace, name), split as Marquez splits them.

    A namespace may hold colons of its own (`s3://bucket`, `postgres://host:5432`): the separator is the first
    colon after the type that is followed neither by `//` nor by a digit.
    """
    import re

    kind, sep, rest = node_id.partition(":")
    if kind not in ("job", "dataset") or not sep:
        raise ValueError(f"nodeId must look like job:NAMESPACE:NAME or dataset:NAMESPACE:NAME, got {node_id!r}")
    match = re.search(r":(?!//|\d)", rest)
    if match is None:
        raise ValueError(f"nodeId {node_id!r} has no name after its namespace (job:NAMESPACE:NAME)")
    return kind, rest[: match.start()], rest[match.end() :]


def _transform_keys(s: Session) -> dict[int, str | None]:
    """Every transform's key: a job is every version of a key, and the instance has few transforms (one
    statement here is cheaper than looking keys up level by level; PostgreSQL's only index on the key alone
    is a trigram index, slow for equality)."""
    from lamin_core.models import Transform
    from sqlalchemy import select

    t = Transform.__table__
    return {tid: key for tid, key in s.execute(select(t.c.id, t.c.key))}


def lineage(s: Session, node_id: str, depth: int) -> Graph:
    """The jobs within `depth` job-to-job hops of the node, upstream and downstream, and their datasets.

    Breadth first, one level at a time: the datasets of the new jobs, then the jobs of the new datasets, each a
    single statement (`edges`); a job's other versions (same key) join it as it is found.
    """
    from lamin_core.models import Transform

    kind, namespace, name = parse_node_id(node_id)
    roots = storage_roots(s)
    graph = Graph()
    key_of = _transform_keys(s)
    ids_of_key: dict[str, list[int]] = {}
    for tid, key in key_of.items():
        if key is not None:
            ids_of_key.setdefault(key, []).append(tid)
    seen: set[int] = set()
    places: set[Place] = set()
    all_edges: set[Edge] = set()

    def with_versions(ids: Iterable[int]) -> set[int]:
        """These transforms and the other versions of their keys, minus those seen already."""
        out = {v for tid in ids for v in (ids_of_key[key_of[tid]] if key_of.get(tid) is not None else [tid])} - seen
        seen.update(out)
        return out

    if kind == "job":
        frontier = with_versions(r.id for r in find_job(s, namespace, name))
    else:
        start = find_dataset(s, namespace, name, roots)
        places.add(start)
        found = edges(s, places=[start])
        all_edges |= found
        frontier = with_versions(e.transform_id for e in found)
    for level in range(depth + 1):
        if not frontier:
            break
        found = edges(s, transform_ids=frontier)
        all_edges |= found
        new_places = {e.place for e in found} - places
        places |= new_places
        if level == depth or not new_places:
            break
        found = edges(s, places=new_places)
        all_edges |= found
        frontier = with_versions(e.transform_id for e in found)
    transform_job: dict[int, JobKey] = {}
    for chunk in _chunks(seen):
        for row in _transform_rows(s, Transform.__table__.c.id.in_(chunk)):
            job = job_of(row)
            transform_job[row.id] = job
            graph.jobs.setdefault(job, []).append(row)
    infos = dataset_infos(s, places)
    graph.datasets = {dataset_name(p, roots): info for p, info in infos.items()}
    graph.edges = {
        (transform_job[e.transform_id], dataset_name(e.place, roots), e.is_input)
        for e in all_edges
        if e.transform_id in transform_job and e.place in infos
    }
    for row in latest_runs(s, transform_job).values():
        job = transform_job[row.transform_id]
        if job not in graph.latest_run or row.id > graph.latest_run[job].id:
            graph.latest_run[job] = row
    return graph
