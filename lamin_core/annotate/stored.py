"""Reading the feature values of many owners at once: `get_values()`, `describe()` and
`to_dataframe(include="features")` all read through here.

A few queries whatever the number of owners: the features (a small table), the owner's feature-value
rows, the link rows of each label registry that a label-typed feature uses, and those labels' names.
Rows come straight from the DBAPI cursor (no per-value SQLAlchemy processing, see query/frames.py) and
are split per feature with C-level sorting and `itemgetter`, because at 10,000 artifacts x 10 features a
Python statement per value is what the time goes to.

Owner ids are bound as one array on PostgreSQL (`= ANY(:ids)`) and in chunks of an IN list on SQLite
(which caps the number of bound variables).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Callable, Iterator

from sqlalchemy import Integer, any_, bindparam, select, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import NullType

from ..db import engine as db
from .dtypes import DType, label_field, parse, resolve_registry

if TYPE_CHECKING:
    from sqlalchemy.sql import Select

SQLITE_CHUNK = 20_000  # ids per IN list (SQLite allows 32,766 bound variables)
_COLUMN = {"int": 2, "float": 2, "num": 2, "bool": 2, "str": 3, "date": 3, "datetime": 3, "dict": 4}
_PIVOTED = ("int", "float", "num", "bool", "str", "date", "datetime")  # kinds the database pivots (see read_values)


@dataclass
class StoredFeature:
    id: int
    name: str
    dtype: DType
    unit: str | None = None


@dataclass
class StoredValues:
    """Per feature id: the owner ids and the decoded elements, in step and in the order they were written
    (label-typed features: the labels' names, or the field their dtype names)."""

    features: dict[int, StoredFeature] = field(default_factory=dict)
    values: dict[int, tuple[list[int], list[Any]]] = field(default_factory=dict)

    def per_owner(self, fid: int) -> dict[int, list[Any]]:
        out: dict[int, list[Any]] = {}
        oids, elements = self.values.get(fid, ([], []))
        for oid, e in zip(oids, elements):
            out.setdefault(oid, []).append(e)
        return out

    def of_owner(self, owner_id: int) -> dict[str, Any]:
        """{feature name: value} for one owner, as `get_values()` returns it."""
        out = {}
        for fid, feature in self.features.items():
            elements = self.per_owner(fid).get(owner_id)
            if elements:
                out[feature.name] = shape(feature.dtype, elements)
        return out


def shape(dtype: DType, elements: list[Any]) -> Any:
    """A list feature's value is a list; any other one value, or a list when several are stored (labels)."""
    if dtype.is_list or len(elements) > 1:
        return list(elements)
    return elements[0]


def read_values(model: type, owner_ids: "list[int] | Select[Any]") -> StoredValues:
    """The values of the owners of registry `model` with these ids (a list, or a query of ids: a frame's
    own query, so that 10,000 ids are not bound one by one)."""
    from ..models import Feature
    from ..models.annotations import FEATURE_VALUES, LABEL_ACCESSORS, LABEL_LINKS

    table = FEATURE_VALUES[model.__name__]
    owner_col = _owner_col(table)
    out = StoredValues()
    if isinstance(owner_ids, list) and not owner_ids:
        return out
    with db.read() as s:
        conn = s.connection()
        postgres = conn.dialect.name == "postgresql"
        features = {
            fid: StoredFeature(fid, name, parse(dtype), unit)
            for fid, name, dtype, unit in _raw(conn, select(Feature.id, Feature.name, Feature.dtype, Feature.unit)
                                               .where(Feature.dtype.is_not(None)).order_by(Feature.id))
        }
        if not features:
            return out
        # A feature that holds one scalar per owner (not a list, label or dict: add_values replaces its value)
        # is pivoted by the database, one row per owner with a column per feature, read from the owner index
        # (ix_*_owner) alone; the others' rows come in that index's order. Dict features' rows (value_json,
        # not in the index) are read apart.
        single = [f for f in features.values() if not f.dtype.is_list and f.dtype.kind in _PIVOTED]
        dict_ids = [fid for fid, f in features.items() if f.dtype.kind == "dict" and not f.dtype.is_cat]
        order = (owner_col, table.c.feature_id, table.c.id)
        rows: list[tuple[Any, ...]] = []
        if len(single) < len(features):
            stmt = select(owner_col, table.c.feature_id, table.c.value_num, table.c.value_str).order_by(*order)
            if single or dict_ids:
                stmt = stmt.where(table.c.feature_id.not_in([f.id for f in single] + dict_ids))
            rows = [(*r, None) for r in _fetch(conn, stmt, owner_col, owner_ids, postgres)]
        if dict_ids:
            stmt = select(owner_col, table.c.feature_id, table.c.value_json).where(table.c.feature_id.in_(dict_ids)).order_by(*order)
            rows += [(o, f, None, None, j) for o, f, j in _fetch(conn, stmt, owner_col, owner_ids, postgres)]
        if single:
            _add_pivoted(conn, out, table, owner_col, single, owner_ids, postgres)
        registries = {f.dtype.registry or "ULabel" for f in features.values() if f.dtype.is_cat}
        link_rows = []
        for registry in sorted(registries):
            label = resolve_registry(registry)
            link = LABEL_LINKS.get((model.__name__, LABEL_ACCESSORS.get(label.__name__, "")))
            if link is not None:
                stmt = (select(link.owner_col, link.table.c.feature_id, link.label_col)
                        .where(link.table.c.feature_id.is_not(None)).order_by(link.owner_col, link.table.c.id))
                link_rows.append((link, _fetch(conn, stmt, link.owner_col, owner_ids, postgres)))
        out.features = features
        for fid, items in _by_feature(rows).items():  # each feature's rows stay in owner, write order
            feature = features.get(fid)
            if feature is None or feature.dtype.is_cat:
                continue
            raw = list(map(itemgetter(_COLUMN[feature.dtype.kind]), items))
            out.values[fid] = (list(map(itemgetter(0), items)), _decode_all(feature.dtype.kind, raw))
        for link, found in link_rows:
            if found:
                _add_labels(conn, out, link, found)
    used = [fid for fid in out.features if fid in out.values]
    out.features = {fid: out.features[fid] for fid in used}
    return out


def _add_pivoted(conn: Any, out: StoredValues, table: Any, owner_col: Any, single: list[StoredFeature],
                 owner_ids: Any, postgres: bool) -> None:
    """One row per owner, a column per single-valued scalar feature (MAX of the one value it holds)."""
    from sqlalchemy import case, func

    columns = [
        func.max(case((table.c.feature_id == f.id, table.c.value_num if _COLUMN[f.dtype.kind] == 2 else table.c.value_str)))
        for f in single
    ]
    stmt = select(owner_col, *columns).where(table.c.feature_id.in_([f.id for f in single])).group_by(owner_col)
    found = _fetch(conn, stmt, owner_col, owner_ids, postgres)
    for i, feature in enumerate(single, start=1):
        present = [r for r in found if r[i] is not None]
        if present:
            out.values[feature.id] = ([r[0] for r in present], _decode_all(feature.dtype.kind, [r[i] for r in present]))


def _add_labels(conn: Any, out: StoredValues, link: Any, found: list[tuple[Any, ...]]) -> None:
    """Label links become the labels' names (or the field the feature's dtype names), per feature."""
    label = link.label
    groups = _by_feature(found)
    fields = {}
    for fid in groups:
        feature = out.features.get(fid)
        if feature is not None and feature.dtype.is_cat and resolve_registry(feature.dtype.registry or "ULabel") is label:
            fields[fid] = label_field(feature.dtype)
    wanted = sorted(set(fields.values()))
    if not wanted:
        return
    label_ids = sorted({r[2] for fid in fields for r in groups[fid]})
    names: dict[str, dict[int, Any]] = {f: {} for f in wanted}
    for start in range(0, len(label_ids), SQLITE_CHUNK):
        chunk = label_ids[start : start + SQLITE_CHUNK]
        for row in _raw(conn, select(label.id, *[getattr(label, f) for f in wanted]).where(label.id.in_(chunk))):
            for f, v in zip(wanted, row[1:]):
                names[f][row[0]] = v
    for fid, fname in fields.items():
        items = groups[fid]
        lookup = names[fname]
        out.values[fid] = (list(map(itemgetter(0), items)), [lookup.get(r[2]) for r in items])


def _by_feature(rows: list[tuple[Any, ...]]) -> dict[int, list[tuple[Any, ...]]]:
    groups: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        group = groups.get(row[1])
        if group is None:
            groups[row[1]] = group = []
        group.append(row)
    return groups


def _decode_all(kind: str, raw: list[Any]) -> list[Any]:
    """Stored elements back as the Python values the dtype names (whole lists at a time)."""
    convert: Callable[[Any], Any] | None = {
        "int": int, "bool": bool, "date": dt.date.fromisoformat, "datetime": dt.datetime.fromisoformat,
        "dict": lambda v: json.loads(v) if isinstance(v, str) else v,
    }.get(kind)
    if kind in ("float", "num"):
        convert = float if any(type(v) is not float for v in raw) else None
    return raw if convert is None else [None if v is None else convert(v) for v in raw]


def _fetch(conn: Any, stmt: Any, col: Any, ids: Any, postgres: bool) -> list[tuple[Any, ...]]:
    if not isinstance(ids, list):  # a query of ids
        return _raw(conn, stmt.where(col.in_(ids)))
    if postgres:
        return _raw(conn, stmt.where(col == any_(bindparam("owner_ids", list(ids), type_=ARRAY(Integer)))))
    rows: list[tuple[Any, ...]] = []
    for chunk in _chunks(ids):
        rows.extend(_raw(conn, stmt.where(col.in_(chunk))))
    return rows


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), SQLITE_CHUNK):
        yield ids[start : start + SQLITE_CHUNK]


def _raw(conn: Any, stmt: Any) -> list[tuple[Any, ...]]:
    """Rows as the DBAPI returns them, as a list of tuples (see query/frames.py)."""
    cols = [type_coerce(c, NullType()).label(f"c{i}") for i, c in enumerate(stmt.selected_columns)]
    result = conn.execute(stmt.with_only_columns(*cols))
    try:
        return list(result.cursor.fetchall()) if result.cursor is not None else []
    finally:
        result.close()


def _owner_col(table: Any) -> Any:
    return next(c for c in table.c if c.name.endswith("_id") and c.name != "feature_id")
