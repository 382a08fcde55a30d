"""Ontology hierarchies in an instance: `record.parents.add(...)`, `query_parents()`, `view_parents()`.

The edges live in a `<registry>_parents` table (parent_id, child_id). Walking it costs one query per
level, not per record. `view_parents()` renders with Graphviz where `dot` exists (inline in Jupyter) and
as an indented text tree otherwise, as lineage graphs do (`lamin_core.lineage.graph`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from ..db import engine as db
from ..errors import ValidationError

if TYPE_CHECKING:
    from sqlalchemy import Table

    from ..query.queryset import QuerySet


def _link(model: type) -> "Table":
    from ..models.bionty import PARENT_TABLES

    try:
        return PARENT_TABLES[model.__name__]
    except KeyError:
        raise ValidationError(f"{model.__name__} records have no parents or children") from None


def _columns(table: "Table", direction: str) -> tuple[Any, Any]:
    """(the column of the record's id, the column of its relatives' ids)."""
    if direction == "parents":
        return table.c.child_id, table.c.parent_id
    return table.c.parent_id, table.c.child_id


class HierarchyManager:
    """`record.parents` / `record.children`: the direct relatives as a query set, with add() and remove()."""

    def __init__(self, record: Any, direction: str) -> None:
        self.record = record
        self.direction = direction
        self.model = type(record)
        self.table = _link(self.model)

    def _query(self) -> "QuerySet":
        mine, theirs = _columns(self.table, self.direction)
        if self.record.id is None:
            return self.model.objects().filter(self.model.id.in_([]))
        return self.model.objects().filter(self.model.id.in_(select(theirs).where(mine == self.record.id)))

    def _ids(self, others: Any) -> list[int]:
        items = list(others) if isinstance(others, (list, tuple, set)) or hasattr(others, "model") else [others]
        if self.record.id is None:
            raise ValidationError(f"save {self.record!r} before adding {self.direction}")
        ids = []
        for other in items:
            if not isinstance(other, self.model):
                raise ValidationError(f"{self.model.__name__}.{self.direction} takes {self.model.__name__} records, not {other!r}")
            if other.id is None:
                raise ValidationError(f"save {other!r} before linking it: {self.model.__name__}(...).save()")
            if other.id == self.record.id:
                raise ValidationError(f"a {self.model.__name__} cannot be its own {self.direction[:-1] if self.direction == 'parents' else 'child'}")
            ids.append(other.id)
        return ids

    def add(self, *others: Any) -> None:
        """Link saved records as direct parents (or children); a link that exists is kept."""
        from ..db.upsert import insert_ignore

        ids = [i for o in others for i in self._ids(o)]
        mine, theirs = _columns(self.table, self.direction)
        with db.write() as s:
            insert_ignore(s, self.table, [{mine.key: self.record.id, theirs.key: i} for i in dict.fromkeys(ids)])

    def remove(self, *others: Any) -> None:
        ids = [i for o in others for i in self._ids(o)]
        mine, theirs = _columns(self.table, self.direction)
        with db.write() as s:
            s.execute(delete(self.table).where(mine == self.record.id, theirs.in_(ids)))

    def all(self) -> "QuerySet":
        return self._query()

    def __getattr__(self, name: str) -> Any:  # filter(), to_dataframe(), first(), count(), to_list(), ...
        return getattr(self._query(), name)

    def __iter__(self) -> Any:
        return iter(self._query())

    def __len__(self) -> int:
        return self._query().count()

    def __contains__(self, other: Any) -> bool:
        return any(r.id == getattr(other, "id", None) for r in self._query())

    def __repr__(self) -> str:
        names = [r.name for r in self._query()[:10]]
        return f"{self.direction}: {', '.join(names) if names else '(none)'}"


def _walk(record: Any, direction: str, distance: int | None) -> tuple[list[int], list[tuple[int, int]]]:
    """The ids reached within `distance` levels (None: all), and the (child, parent) edges met."""
    table = _link(type(record))
    mine, theirs = _columns(table, direction)
    seen = {record.id}
    frontier = [record.id]
    edges: list[tuple[int, int]] = []
    level = 0
    with db.read() as s:
        while frontier and (distance is None or level < distance):
            rows = s.execute(select(mine, theirs).where(mine.in_(frontier))).all()
            frontier = []
            for a, b in rows:
                edges.append((a, b) if direction == "parents" else (b, a))
                if b not in seen:
                    seen.add(b)
                    frontier.append(b)
            level += 1
    seen.discard(record.id)
    return sorted(seen), edges


def query_relatives(record: Any, direction: str) -> "QuerySet":
    model = type(record)
    if record.id is None:
        return model.objects().filter(model.id.in_([]))
    ids, _ = _walk(record, direction, None)
    return model.objects().filter(model.id.in_(ids))


@dataclass
class HierarchyGraph:
    """Records (id -> label) and (child, parent) edges around `focus`; Graphviz or text."""

    focus: int
    labels: dict[int, str]
    edges: list[tuple[int, int]] = field(default_factory=list)

    def to_dot(self) -> str:
        from ..lineage.graph import _dot_escape

        lines = ["digraph hierarchy {", "  rankdir=BT;", '  node [shape=box, style="rounded,filled", fillcolor="#eeeeee"];']
        for i, label in self.labels.items():
            fill = ', fillcolor="#d6e4f5"' if i == self.focus else ""
            lines.append(f'  n{i} [label="{_dot_escape(label)}"{fill}];')
        for child, parent in dict.fromkeys(self.edges):
            lines.append(f"  n{child} -> n{parent};")
        lines.append("}")
        return "\n".join(lines)

    def _repr_svg_(self) -> str | None:
        if shutil.which("dot") is None:
            return None
        from ..lineage.graph import _run_dot

        return _run_dot(self.to_dot(), "svg").decode()

    def render(self, filename: str, format: str | None = None) -> str:
        """Write `.svg`/`.png`/`.pdf` (Graphviz), `.dot`, or `.txt`."""
        from pathlib import Path

        from ..lineage.graph import _run_dot

        path = Path(filename)
        fmt = (format or path.suffix.lstrip(".") or "svg").lower()
        if fmt == "txt":
            path.write_text(self.to_text() + "\n")
        elif fmt in ("dot", "gv"):
            path.write_text(self.to_dot())
        else:
            path.write_bytes(_run_dot(self.to_dot(), fmt))
        return str(path)

    def to_text(self) -> str:
        """The focus, then its parents indented under it (children, if shown, above with ⇠)."""
        ups: dict[int, list[int]] = {}
        downs: dict[int, list[int]] = {}
        for child, parent in dict.fromkeys(self.edges):
            ups.setdefault(child, []).append(parent)
            downs.setdefault(parent, []).append(child)
        lines = [f"⇠ child {self.labels[c]}" for c in sorted(downs.get(self.focus, []), key=self.labels.get)]
        lines.append(self.labels[self.focus])
        seen = {self.focus}

        def walk(node: int, prefix: str) -> None:
            parents = sorted((p for p in ups.get(node, []) if p in self.labels), key=self.labels.get)
            for i, p in enumerate(parents):
                last = i == len(parents) - 1
                repeat = p in seen
                lines.append(f"{prefix}{'└── ' if last else '├── '}{self.labels[p]}{' (see above)' if repeat else ''}")
                if not repeat:
                    seen.add(p)
                    walk(p, prefix + ("    " if last else "│   "))

        walk(self.focus, "")
        return "\n".join(lines)

    __str__ = to_text
    __repr__ = to_text


def view_parents(record: Any, distance: int = 5, with_children: bool = False, field: str | None = None) -> HierarchyGraph:
    """The graph of the record's ancestors up to `distance` levels; in Jupyter it shows as SVG if `dot` exists."""
    model = type(record)
    if record.id is None:
        raise ValidationError(f"save {record!r} before viewing its parents")
    ids, edges = _walk(record, "parents", distance)
    if with_children:
        child_ids, child_edges = _walk(record, "children", 1)
        ids, edges = sorted(set(ids) | set(child_ids)), edges + child_edges
    key = field or model._name_field
    with db.read() as s:
        rows = s.execute(select(model.id, getattr(model, key), getattr(model, model._ontology_id_field))
                         .where(model.id.in_([record.id, *ids]))).all()
    labels = {i: f"{v}" + (f" ({oid})" if oid and key != model._ontology_id_field else "") for i, v, oid in rows}
    # Jupyter shows the returned graph as SVG (`_repr_svg_`); a terminal prints its text tree
    return HierarchyGraph(record.id, labels, [e for e in edges if e[0] in labels and e[1] in labels])
