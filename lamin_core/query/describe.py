"""Readable descriptions: `record.describe()` (a tree of a record and its relations) and `Registry.describe()`.

Printed with rich; `return_str=True` returns the plain text instead (what tests and logs want). Related
records are counted and the first few named, so that describing a run with 10,000 inputs stays short.
Reading a run's report for its error message never records the run being described as an input.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect

if TYPE_CHECKING:
    from rich.tree import Tree

SHOW_RELATED = 10  # names shown per relation before "... and N more"
REPORT_CHARS = 2_000  # how much of a run's report (its error message, for a failed run) is shown
SKIP = {"id", "source_code", "facets", "uid", "created_by_id", "branch_id", "storage_id", "run_id", "transform_id",
        "report_id", "environment_id", "plan_id", "initiated_by_run_id"}
SHOWN_BELOW = {"Run": {"status", "params", "reference", "reference_type"}}


def describe_record(record: Any, print_types: bool = False, return_str: bool = False) -> str | None:
    from rich.tree import Tree

    model = type(record)
    title = getattr(record, model._name_field, None) if hasattr(model, "_name_field") else None
    uid = f"  [dim]uid={record.uid}[/dim]" if title else ""
    tree = Tree(f"[bold]{model.__name__}[/bold] {_esc(title or record.uid)}{uid}")
    general = tree.add("[bold]General[/bold]")
    shown_below = SHOWN_BELOW.get(model.__name__, set())
    for col in inspect(model).column_attrs:
        value = getattr(record, col.key)
        if value is None or col.key in SKIP or col.key in shown_below or (col.key == model._name_field and value == title):
            continue
        if col.key == "size" and isinstance(value, int):
            value = _human_size(value)
        general.add(f"{col.key}{_type(col) if print_types else ''}: {_fmt(value)}")
    _common(record, general)
    extra = {"Artifact": _artifact, "Run": _run, "Transform": _transform, "Collection": _collection}.get(model.__name__)
    if extra is not None:
        extra(record, tree)
    _annotations(record, tree)
    return _output(tree, return_str)


def describe_features(record: Any, return_str: bool = False) -> str | None:
    """`artifact.features.describe()`: the feature values and labels alone."""
    from rich.tree import Tree

    tree = Tree(f"[bold]{type(record).__name__}[/bold] {_esc(record.uid)}")
    _annotations(record, tree)
    return _output(tree, return_str)


def describe_registry(model: type, return_str: bool = False) -> str | None:
    """The fields of a registry with their types, and its relations with their target and cardinality."""
    from rich.tree import Tree

    from .lookups import aliases_of

    mapper = inspect(model)
    tree = Tree(f"[bold]{model.__name__}[/bold]  [dim]table {model.__tablename__}[/dim]")
    fields = tree.add("[bold]fields[/bold]")
    for col in mapper.column_attrs:
        column = col.columns[0]
        flags = [f for f, on in (("unique", column.unique), ("null", column.nullable), ("indexed", column.index)) if on]
        fields.add(f"{col.key}: {_type(col)[2:]}{' (' + ', '.join(flags) + ')' if flags else ''}")
    rels = tree.add("[bold]relations[/bold]")
    for rel in mapper.relationships:
        target = rel.mapper.class_.__name__
        rels.add(f"{rel.key}: {'list of ' + target if rel.uselist else target}")
    for name, path in aliases_of(model).items():
        rels.add(f"{name}: same as {path}")
    return _output(tree, return_str)


# ---- per registry ----


def _common(record: Any, node: "Tree") -> None:
    created_by = getattr(record, "created_by", None) if hasattr(type(record), "created_by") else None
    if created_by is None and getattr(record, "created_by_id", None) is not None:
        from ..models import User

        created_by = User.objects().all_branches().filter(id=record.created_by_id).first()
    if created_by is not None:
        node.add(f"created_by: {_esc(created_by.handle)}")
    branch_id = getattr(record, "branch_id", None)
    if branch_id not in (None, 1):
        from ..models import Branch

        branch = Branch.objects().filter(id=branch_id).first()
        node.add(f"branch: [yellow]{_esc(branch.name if branch else branch_id)}[/yellow]")


def _artifact(artifact: Any, tree: "Tree") -> None:
    from ..models import Run

    node = tree.add("[bold]Lineage[/bold]")
    storage = artifact.storage
    if storage is not None:
        tree.children[0].add(f"storage: {_esc(storage.root)}")
    run = artifact.run
    if run is not None:
        t = run.transform
        node.add(f"transform: {_esc(t.key)} [dim]({t.kind}{', version ' + t.version if t.version else ''})[/dim]")
        node.add(f"run: {run.uid} [dim]({_status(run.status)}, started {_fmt(run.started_at)})[/dim]")
    else:
        node.add("run: [dim]none (registered outside a tracked run)[/dim]")
    _related(node, "input of runs", Run.objects().all_branches().filter(input_artifacts=artifact), _run_label)


def _run(run: Any, tree: "Tree") -> None:
    from ..models import Artifact, Run

    t = run.transform
    if t is not None:
        tree.add(f"[bold]transform[/bold]: {_esc(t.key)} [dim]({t.kind}{', version ' + t.version if t.version else ''})[/dim]")
    tree.add(f"[bold]status[/bold]: {_status(run.status)}")
    if run.started_at and run.finished_at:
        tree.add(f"duration: {(run.finished_at - run.started_at).total_seconds():.1f} s")
    if run.reference:
        tree.add(f"reference: {_esc(run.reference)} [dim]({_esc(run.reference_type or '')})[/dim]")
    if run.params:
        from ..tracking.redact import redact

        node = tree.add("[bold]params[/bold]")
        _dict(node, redact(run.params))  # saved params are redacted already; older records may not be
    parent = run.initiated_by_run
    if parent is not None:
        tree.add(f"initiated_by_run: {_run_label(parent)}")
    _related(tree, "inputs", Artifact.objects().all_branches().filter(input_of_runs=run), _artifact_label)
    _related(tree, "outputs", Artifact.objects().all_branches().filter(run=run).exclude(kind__in=["report", "environment", "plan", "log"]), _artifact_label)
    _related(tree, "logs", Artifact.objects().all_branches().filter(run=run, kind="log"), _artifact_label)
    _related(tree, "child runs", Run.objects().all_branches().filter(initiated_by_run=run), _run_label)
    for name in ("environment", "plan"):
        a = getattr(run, name)
        if a is not None:
            tree.add(f"{name}: {_artifact_label(a)}")
    report = run.report
    if report is not None:
        node = tree.add(f"[bold]report[/bold]: {_artifact_label(report)}")
        text = _read_text(report)
        if text:
            style = "red" if run.status == "errored" else ""
            node.add(f"[{style}]{_esc(text)}[/{style}]" if style else _esc(text))


def _transform(transform: Any, tree: "Tree") -> None:
    from ..models import Run

    runs = Run.objects().all_branches().filter(transform=transform).order_by("-id")
    _related(tree, "runs", runs, _run_label)
    if transform.source_code:
        lines = transform.source_code.splitlines()
        tree.add(f"source_code: {len(lines)} lines")


def _collection(collection: Any, tree: "Tree") -> None:
    run = collection.run
    if run is not None:
        lineage = tree.add("[bold]Lineage[/bold]")
        lineage.add(f"transform: {_esc(run.transform.key)} [dim]({run.transform.kind})[/dim]")
        lineage.add(f"run: {run.uid} [dim]({_status(run.status)}, started {_fmt(run.started_at)})[/dim]")
    node = tree.add(f"[bold]artifacts[/bold] ({len(collection.artifacts)})")
    for a in collection.artifacts[:SHOW_RELATED]:
        node.add(_artifact_label(a))


def _annotations(record: Any, tree: "Tree") -> None:
    """The schema an artifact was validated against, its feature sets, its feature values and its labels."""
    from ..models.annotations import FEATURE_VALUES

    if record.id is None or type(record).__name__ not in FEATURE_VALUES:
        return
    if type(record).__name__ == "Artifact":
        _feature_sets(record, tree)
    _feature_values(record, tree)
    _labels(record, tree)


def _feature_sets(artifact: Any, tree: "Tree") -> None:
    from sqlalchemy import select

    from ..db import engine as db
    from ..models import Schema
    from ..models.annotations import artifact_schemas

    if artifact.schema_id is not None:
        schema = artifact.schema
        slots = ", ".join(schema.slots)  # a composite's slots: "obs, var.T"
        tree.children[0].add(f"schema: {_esc(schema.name or schema.uid)} [dim]{schema.uid}{' slots: ' + slots if slots else ''}[/dim]")
    with db.read() as s:
        slots = list(s.execute(
            select(artifact_schemas.c.slot, Schema).join(Schema, Schema.id == artifact_schemas.c.schema_id)
            .where(artifact_schemas.c.artifact_id == artifact.id).order_by(artifact_schemas.c.slot)
        ).tuples())
        if not slots:
            return
        node = tree.add("[bold]Dataset features[/bold]")
        for slot, schema in slots:
            members = list(schema.features)
            what = f"{len(members)} features" if members or not schema.itype else _esc(f"{schema.n or ''} {schema.itype}".strip())
            sub = node.add(f"{_esc(slot)} [dim]({what})[/dim]")
            for f in members[:SHOW_RELATED]:
                sub.add(f"{_esc(f.name)} [dim]{_esc(f.dtype)}[/dim]")
            if len(members) > SHOW_RELATED:
                sub.add(f"[dim]... and {len(members) - SHOW_RELATED} more[/dim]")


def _feature_values(record: Any, tree: "Tree") -> None:
    from ..annotate.stored import read_values, shape

    stored = read_values(type(record), [record.id])
    rows = []
    for fid, feature in stored.features.items():
        elements = stored.per_owner(fid).get(record.id)
        if elements:
            value = shape(feature.dtype, elements)
            text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            unit = f" {feature.unit}" if feature.unit else ""
            rows.append(f"{_esc(feature.name)} [dim]{_esc(feature.dtype)}[/dim]: {_esc(_fmt(text + unit))}")
    if rows:
        node = tree.add("[bold]Features[/bold]")
        for row in rows:
            node.add(row)


def _labels(record: Any, tree: "Tree") -> None:
    from ..models.annotations import LABEL_LINKS

    lines = []
    for (owner, accessor), link in LABEL_LINKS.items():
        if owner != type(record).__name__:
            continue
        manager = getattr(record, accessor)
        labels = list(manager._labels()[: SHOW_RELATED + 1])
        if not labels:
            continue
        names = [_esc(getattr(lb, getattr(link.label, "_name_field", "name"), None) or lb.uid) for lb in labels[:SHOW_RELATED]]
        more = f" [dim]... and {manager.count() - SHOW_RELATED} more[/dim]" if len(labels) > SHOW_RELATED else ""
        lines.append(f".{accessor} [dim]{link.label.__name__}[/dim]: {', '.join(names)}{more}")
    if lines:
        node = tree.add("[bold]Labels[/bold]")
        for line in lines:
            node.add(line)


# ---- helpers ----


def _related(tree: "Tree", name: str, qs: Any, label: Any) -> None:
    rows = list(qs[: SHOW_RELATED + 1])
    if not rows:
        return
    n = len(rows) if len(rows) <= SHOW_RELATED else qs.count()
    node = tree.add(f"[bold]{name}[/bold] ({n})")
    for r in rows[:SHOW_RELATED]:
        node.add(label(r))
    if n > SHOW_RELATED:
        node.add(f"[dim]... and {n - SHOW_RELATED} more[/dim]")


def _artifact_label(a: Any) -> str:
    return f"{_esc(a.key or a.description or '(no key)')} [dim]{a.uid}[/dim]"


def _run_label(r: Any) -> str:
    return f"{r.uid} [dim]{_esc(r.transform.key if r.transform else '')} {_status(r.status)}[/dim]"


def _status(status: str | None) -> str:
    color = {"completed": "green", "errored": "red", "aborted": "red", "started": "yellow"}.get(status or "", "")
    return f"[{color}]{status}[/{color}]" if color else str(status)


def _dict(node: "Tree", d: dict[str, Any], depth: int = 0) -> None:
    for k, v in d.items():
        if isinstance(v, dict) and depth < 3:
            _dict(node.add(f"{_esc(k)}"), v, depth + 1)
        else:
            node.add(f"{_esc(k)}: {_esc(_fmt(v))}")


def _read_text(artifact: Any) -> str | None:
    try:
        from ..artifacts.access import cache

        text = cache(artifact, _track=False).read_text(errors="replace")
    except Exception as e:  # a report in an unreachable bucket must not stop describe()
        return f"(report not readable: {e})"
    return text if len(text) <= REPORT_CHARS else text[: REPORT_CHARS // 2] + "\n...\n" + text[-REPORT_CHARS // 2 :]


def _fmt(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _type(col: Any) -> str:
    try:
        return f": {col.columns[0].type.python_type.__name__}"
    except NotImplementedError:
        return f": {col.columns[0].type}"


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return str(n)


def _esc(value: Any) -> str:
    from rich.markup import escape

    return escape(str(value))


def _output(tree: "Tree", return_str: bool) -> str | None:
    from rich.console import Console

    if return_str:
        console = Console(width=120, record=True, file=_Null(), color_system=None)
        console.print(tree)
        return console.export_text()
    Console().print(tree)
    return None


class _Null:
    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass
