"""Engine metadata as feature values: the annotations a batch of lineage events carries, written in the
batch's own transaction, after its runs and artifacts exist.

An adapter puts what its engine knows on the event (`RunInfo.annotations`: a Snakemake job's wildcards
and params, a Prefect task's parameters, a Nextflow task's `meta`; `Dataset.annotations` / `labels` /
`columns`: OpenLineage's data quality metrics, tags and schema) and never writes a table; this module
turns them into rows exactly as `artifact.features.set_values()` would, with the same value checks
(`annotate/values.py`), but for a whole batch at once: one query for the features named, one per label
registry, and one DELETE and one INSERT per table written.

The event's `annotate` mode decides what may be written (LaminDB's rule: the registry stays curated):

- `existing` (the default): only features that exist get values; other names are skipped silently (the
  engine knows many things nobody asked to track). A value that does not fit its feature, or a label that
  does not exist, is reported once (logged, and kept as the run's report when it has none) and written
  nowhere; the pipeline is never failed for it.
- `auto`: missing features are made, typed from the values (int, float, str, bool, date, datetime, dict,
  lists of these; label values `cat[ULabel]`), under a feature type named after the engine (`snakemake`),
  so they are easy to review and delete; missing ULabels of label-typed values are made too (records and
  biological labels are never invented: those must exist).
- `none`: nothing.

Values replace what the owner had for those features (a re-run that produces the same content annotates
the same artifact again: it holds one value per feature, not one per run).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from ..errors import ValidationError
from .events import ANNOTATE_MODES, Dataset, LineageEvent

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .artifact_book import ArtifactRow
    from .datasets import ResolvedDataset
    from .runs import RunRow

logger = logging.getLogger("lamin_core")

_reported: set[str] = set()  # problems already logged by this process: each once
MAX_REPORTED = 10_000
CHUNK = 400  # (owner, feature) pairs per DELETE: SQLite binds at most 32,766 variables


@dataclass
class _Target:
    """One owner to annotate: a run or an artifact, with the values the batch gives it."""

    owner: str  # "Run" or "Artifact"
    owner_id: int
    run_id: int  # whose report says what could not be recorded
    mode: str
    engine: str | None
    values: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, list[str]] = field(default_factory=dict)
    columns: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Feature:
    id: int
    name: str
    dtype: str | None
    is_type: bool
    coerce: bool
    nullable: bool
    default_value: Any


def annotate_batch(s: "Session", pending: Sequence[tuple["RunRow", str, LineageEvent, list["ArtifactRow"], list["ArtifactRow"]]],
                   resolved: dict[str, tuple[list["ResolvedDataset"], list["ResolvedDataset"]]]) -> None:
    """Write the annotations of the newly recorded events in `pending` (as `batch.write_batch` keeps them:
    run, identity, event, input and output artifact rows); `resolved`: each identity's resolved datasets,
    which pair the output rows with the datasets they came from. Costs nothing when no event annotates."""
    targets = _targets(pending, resolved)
    if not targets:
        return
    problems: dict[int, list[str]] = {}
    features = _features(s, targets, problems)
    if features or any(t.columns for t in targets):
        _write(s, targets, features, problems)
    if problems:
        _report(s, problems)


def annotate_owner(s: "Session", owner: str, owner_id: int, values: dict[str, Any], mode: str = "existing",
                   engine: str | None = None, run_id: int | None = None) -> None:
    """Annotate one run or artifact outside the event path (`ln.track(params=)`), with the same rules, in
    the caller's transaction."""
    t = _Target(owner, owner_id, run_id if run_id is not None else owner_id, mode, engine, values=dict(values))
    problems: dict[int, list[str]] = {}
    features = _features(s, [t], problems)
    if features:
        _write(s, [t], features, problems)
    if problems:
        _report(s, problems)


# ---- what the events ask for ----


def _targets(pending: Sequence[tuple[Any, ...]], resolved: dict[str, Any]) -> list[_Target]:
    by_owner: dict[tuple[str, int], _Target] = {}

    def target(owner: str, owner_id: int, run_id: int, event: LineageEvent) -> _Target:
        t = by_owner.get((owner, owner_id))
        if t is None:
            t = by_owner[(owner, owner_id)] = _Target(owner, owner_id, run_id, event.annotate, event.engine)
        else:  # a later event of the batch decides the mode, as it would recorded alone
            t.mode, t.engine = event.annotate, event.engine or t.engine
        return t

    for run, identity, event, ins, outs in pending:
        if event.annotate == "none":
            continue
        if event.annotate not in ANNOTATE_MODES:
            _log_once(f"annotate must be one of {', '.join(ANNOTATE_MODES)}, not {event.annotate!r}: {event.job.name} is not annotated")
            continue
        run_values = dict(event.run.annotations or {})
        if run_values:
            target("Run", run.id, run.id, event).values.update(run_values)
        inputs, outputs = resolved.get(identity, ([], []))
        # outputs get the run's values and their own; inputs only their own (an input's metrics or schema
        # describe it, the run that read it does not)
        for datasets, rds, rows, inherit in ((event.outputs, outputs, outs, run_values), (event.inputs, inputs, ins, {})):
            if not rows or not any(_annotates(d, inherit) for d in datasets):
                continue
            for d, row in _pair(datasets, rds, rows):
                if d.kind is not None or not _annotates(d, inherit):
                    continue  # logs and benchmarks are the run's attachments, not its data
                t = target("Artifact", row.id, run.id, event)
                if d.inherit_run_annotations:
                    t.values.update(inherit)
                t.values.update(d.annotations or {})
                for name, labels in (d.labels or {}).items():
                    t.labels[name] = [str(x) for x in ([labels] if isinstance(labels, str) else labels)]
                if d.columns:
                    t.columns = [(str(n), str(ty)) for n, ty in d.columns]
    return [t for t in by_owner.values() if t.values or t.labels or t.columns]


def _annotates(d: Dataset, run_values: dict[str, Any]) -> bool:
    return bool(d.annotations or d.labels or d.columns or (run_values and d.inherit_run_annotations))


def _pair(datasets: Sequence[Dataset], resolved: list["ResolvedDataset"], rows: list["ArtifactRow"]) -> Iterable[tuple[Dataset, "ArtifactRow"]]:
    """Each artifact row with the dataset it came from. Resolution drops `only_if_file` datasets that were not
    files, so the lists line up only when nothing was dropped; otherwise they are matched by URI."""
    if len(datasets) == len(rows):
        return zip(datasets, rows)
    by_uri = {_uri(d): d for d in datasets}
    return [(by_uri[rd.uri], row) for rd, row in zip(resolved, rows) if rd.uri in by_uri]


def _uri(d: Dataset) -> str:
    from .datasets import dataset_uri, is_local_namespace

    uri = dataset_uri(d)
    if is_local_namespace(d.namespace.rstrip("/")):  # as `datasets.resolve` writes a local path
        if not os.path.isabs(uri):
            uri = os.path.join(d.storage_root or os.getcwd(), uri)
        uri = os.path.normpath(uri)
    return uri


# ---- features: found, or made in `auto` mode ----


def _features(s: "Session", targets: list[_Target], problems: dict[int, list[str]]) -> dict[str, _Feature]:
    """The usable features the targets name, by name; `auto` targets' missing ones are made first."""
    from .auto_features import create_features

    names = sorted({n for t in targets for n in (*t.values, *t.labels, *(c for c, _ in t.columns))})
    found = _load_features(s, names)
    missing = [n for n in names if n not in found]
    auto = [t for t in targets if t.mode == "auto"]
    if missing and auto:
        create_features(s, [(t.engine, t.values, t.labels, t.columns) for t in auto], set(missing))
        found.update(_load_features(s, missing))
    usable: dict[str, _Feature] = {}
    for name, f in found.items():
        if f.is_type:
            for t in targets:
                if name in t.values or name in t.labels:
                    _problem(problems, t, f"{name!r} is a feature type (is_type=True) and holds no values: not annotated")
        else:
            usable[name] = f
    return usable


def _load_features(s: "Session", names: list[str]) -> dict[str, _Feature]:
    from sqlalchemy import select

    from ..models import TRASH_BRANCH_ID, Feature

    out: dict[str, _Feature] = {}
    c = Feature.__table__.c
    for start in range(0, len(names), CHUNK):
        stmt = select(c.id, c.name, c.dtype, c.is_type, c.coerce, c.nullable, c.default_value).where(
            c.name.in_(names[start : start + CHUNK]), c.branch_id != TRASH_BRANCH_ID)
        for row in s.execute(stmt):
            out[row.name] = _Feature(row.id, row.name, row.dtype, bool(row.is_type), bool(row.coerce), bool(row.nullable), row.default_value)
    return out


# ---- checking and writing values ----


@dataclass
class _Rows:
    values: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # owner -> feature-value rows
    links: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # (owner, accessor) -> link rows
    replaced: dict[str, set[tuple[int, int]]] = field(default_factory=dict)  # owner -> (owner id, feature id)


def _write(s: "Session", targets: list[_Target], features: dict[str, _Feature], problems: dict[int, list[str]]) -> None:
    from sqlalchemy import delete, insert

    from ..db.upsert import insert_ignore
    from ..models.annotations import FEATURE_VALUES, LABEL_LINKS

    label_ids = _label_ids(s, targets, features)
    rows = _Rows()
    for t in targets:
        for name, value in t.values.items():
            if name in features:
                _plan(t, features[name], value, label_ids, rows, problems)
        for name, labels in t.labels.items():
            if name in features:
                _plan(t, features[name], labels, label_ids, rows, problems)
    for owner, pairs in rows.replaced.items():
        table = FEATURE_VALUES[owner]
        owner_col = table.c[f"{owner.lower()}_id"]
        cat_ids = {features[n].id for n in features if (features[n].dtype or "").startswith(("cat", "list[cat"))}
        links = [link for (o, _), link in LABEL_LINKS.items() if o == owner]
        by_feature: dict[int, list[int]] = {}
        for owner_id, fid in pairs:
            by_feature.setdefault(fid, []).append(owner_id)
        # per feature, not per (owner, feature) pair: `feature_id = f AND owner IN (...)` reads an index
        # range on both dialects, where a row-value IN list is a scan on SQLite
        for fid, owner_ids in sorted(by_feature.items()):
            ordered = sorted(owner_ids)
            for start in range(0, len(ordered), CHUNK):
                chunk = ordered[start : start + CHUNK]
                if fid in cat_ids:
                    for link in links:
                        s.execute(delete(link.table).where(link.table.c.feature_id == fid, link.owner_col.in_(chunk)))
                else:
                    s.execute(delete(table).where(table.c.feature_id == fid, owner_col.in_(chunk)))
    for owner, value_rows in rows.values.items():
        if value_rows:
            s.execute(insert(FEATURE_VALUES[owner]), value_rows)
    for (owner, accessor), link_rows in rows.links.items():
        insert_ignore(s, LABEL_LINKS[(owner, accessor)].table, link_rows)
    _write_feature_sets(s, targets, features)


def _plan(t: _Target, feature: _Feature, value: Any, label_ids: dict[tuple[str, str], dict[Any, int]],
          rows: _Rows, problems: dict[int, list[str]]) -> None:
    """Check one value like `features.set_values()` does and add its rows; a value that fails is reported."""
    from ..annotate.dtypes import label_field, parse, resolve_registry
    from ..annotate.values import encode, feature_elements
    from ..models.annotations import LABEL_ACCESSORS, LABEL_LINKS

    try:
        dtype = parse(feature.dtype or "")
        elements = feature_elements(feature, dtype, value)
        if dtype.is_cat:
            label = resolve_registry(dtype.registry or "ULabel")
            accessor = LABEL_ACCESSORS.get(label.__name__, "")
            if (t.owner, accessor) not in LABEL_LINKS:
                raise ValidationError(f"feature {feature.name!r} takes {label.__name__} labels, which a {t.owner} cannot hold")
            known = label_ids.get((label.__name__, label_field(dtype)), {})
            absent = [e for e in elements if isinstance(e, str) and e not in known]
            if absent:
                raise ValidationError(
                    f"feature {feature.name!r} ({dtype}): {', '.join(map(repr, absent))} not in {label.__name__}:"
                    f" create the label first (ln.{label.__name__}(name={absent[0]!r}).save()), or annotate='auto' for ULabels"
                )
            owner_key = f"{t.owner.lower()}_id"
            rows.links.setdefault((t.owner, accessor), []).extend(
                {owner_key: t.owner_id, "label_id": i, "feature_id": feature.id}
                for i in dict.fromkeys(known[e] for e in elements if isinstance(e, str)))
        else:
            owner_key = f"{t.owner.lower()}_id"
            seen: set[str] = set()
            for e in elements:
                row = {owner_key: t.owner_id, "feature_id": feature.id, **encode(dtype.kind, e)}
                k = repr(sorted(row.items(), key=lambda kv: kv[0]))
                if k not in seen:
                    seen.add(k)
                    rows.values.setdefault(t.owner, []).append(row)
    except (ValidationError, ValueError, TypeError) as e:
        _problem(problems, t, f"{t.owner.lower()} {t.owner_id}: {e}; not annotated")
        return
    rows.replaced.setdefault(t.owner, set()).add((t.owner_id, feature.id))


def _label_ids(s: "Session", targets: list[_Target], features: dict[str, _Feature]) -> dict[tuple[str, str], dict[Any, int]]:
    """{(registry, field): {label value: id}} for every label a label-typed value names: one query per
    registry; in `auto` mode the missing ULabels are made first."""
    from sqlalchemy import select

    from ..annotate.dtypes import label_field, parse, resolve_registry
    from ..db.upsert import insert_ignore
    from ..models import TRASH_BRANCH_ID

    wanted: dict[tuple[str, str], set[str]] = {}
    auto_ulabels: set[str] = set()
    registries: dict[str, Any] = {}
    for t in targets:
        for name, value in [*t.values.items(), *t.labels.items()]:
            f = features.get(name)
            dtype = parse(f.dtype) if f is not None and f.dtype else None
            if dtype is None or not dtype.is_cat:
                continue
            label = resolve_registry(dtype.registry or "ULabel")
            key = (label.__name__, label_field(dtype))
            registries[label.__name__] = label
            names = {v for v in (value if isinstance(value, (list, tuple, set)) else [value]) if isinstance(v, str) and v.strip()}
            wanted.setdefault(key, set()).update(names)
            if t.mode == "auto" and key == ("ULabel", "name"):
                auto_ulabels.update(names)
    out: dict[tuple[str, str], dict[Any, int]] = {}
    for (registry, field_name), names in wanted.items():
        label = registries[registry]
        col = getattr(label, field_name)
        if registry == "ULabel" and auto_ulabels:
            insert_ignore(s, label.__table__, [{"name": n} for n in sorted(auto_ulabels)])
        ordered = sorted(names)
        found: dict[Any, int] = {}
        for start in range(0, len(ordered), CHUNK):
            stmt = select(label.id, col).where(col.in_(ordered[start : start + CHUNK]), label.branch_id != TRASH_BRANCH_ID)
            found.update({v: i for i, v in s.execute(stmt)})
        out[(registry, field_name)] = found
    return out


def _write_feature_sets(s: "Session", targets: list[_Target], features: dict[str, _Feature]) -> None:
    """An artifact's columns that are features become its "columns" feature set (as a validated artifact's)."""
    from sqlalchemy import delete, insert, select

    from ..annotate.annotate_artifact import COLUMNS_SLOT
    from ..annotate.schemas import feature_set_in
    from ..models import Feature
    from ..models.annotations import artifact_schemas

    with_columns = [t for t in targets if t.owner == "Artifact" and t.columns]
    if not with_columns:
        return
    ids = sorted({features[n].id for t in with_columns for n, _ in t.columns if n in features})
    if not ids:
        return
    records = {f.id: f for f in s.execute(select(Feature).where(Feature.id.in_(ids))).scalars()}
    for t in with_columns:
        members = [records[features[n].id] for n, _ in t.columns if n in features]
        if not members:
            continue
        schema_id = feature_set_in(s, members)
        s.execute(delete(artifact_schemas).where(artifact_schemas.c.artifact_id == t.owner_id, artifact_schemas.c.slot == COLUMNS_SLOT))
        s.execute(insert(artifact_schemas), [{"artifact_id": t.owner_id, "slot": COLUMNS_SLOT, "schema_id": schema_id}])


# ---- reporting what was not recorded ----


def _problem(problems: dict[int, list[str]], t: _Target, message: str) -> None:
    problems.setdefault(t.run_id, []).append(message)


def _report(s: "Session", problems: dict[int, list[str]]) -> None:
    """Log each problem once per process, and keep a run's problems as its report when it has none (a
    failed run's report is its error, which says more)."""
    from sqlalchemy import select, update

    from ..artifacts.text import text_artifact
    from ..models import Run

    for messages in problems.values():
        for m in messages:
            _log_once(f"annotation skipped: {m}")
    without = set(s.execute(select(Run.id).where(Run.id.in_(sorted(problems)), Run.report_id.is_(None))).scalars())
    for run_id in sorted(without):
        text = "Annotations that were not recorded (lamin annotate):\n" + "\n".join(f"- {m}" for m in problems[run_id])
        report = text_artifact(s, text, kind="report", suffix=".txt", description=f"annotation report of run {run_id}")
        s.execute(update(Run).where(Run.id == run_id, Run.report_id.is_(None)).values(report_id=report.id))


def _log_once(message: str) -> None:
    if message in _reported:
        return
    if len(_reported) > MAX_REPORTED:
        _reported.clear()
    _reported.add(message)
    logger.warning(message)
