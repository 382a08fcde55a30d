"""`annotate="auto"`: features made for engine metadata that no feature names yet (see `annotations.py`).

A feature's dtype comes from its values (bool before int, ints and floats together make a float, any other
mix a string; label values `cat[ULabel]`; an OpenLineage column from its SQL/Spark type), and it is made
under a feature type named after the engine (`snakemake`, `prefect`, `nextflow`, `openlineage`), so that
what a pipeline made is easy to review (`ln.Feature.filter(type__name="snakemake")`) and to delete.
Inside the recording transaction; INSERT .. ON CONFLICT DO NOTHING, so a concurrent batch making the same
feature wins and its row is used.
"""

from __future__ import annotations

import datetime as dt
import numbers
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def create_features(s: "Session", auto: list[tuple[str | None, dict[str, Any], dict[str, list[str]], list[tuple[str, str]]]],
                    missing: set[str]) -> None:
    """Make the `missing` features that `auto` targets (engine, values, labels, columns) name, typed from
    their values, under each engine's feature type.

    INSERT .. ON CONFLICT DO NOTHING: a concurrent batch making the same feature wins, and its row is used.
    A trashed feature of the same name is left in the trash (names are unique): its values are not written.
    """
    from ..db.upsert import insert_ignore
    from ..models import Feature

    dtypes: dict[str, str] = {}
    engine_of: dict[str, str | None] = {}
    for engine, values, labels, columns in auto:
        for name in sorted(missing & set(labels)):
            dtypes.setdefault(name, "cat[ULabel]")
            engine_of.setdefault(name, engine)
        for name, ol_type in columns:
            if name in missing and name not in dtypes:
                dtypes[name] = column_dtype(ol_type)
                engine_of.setdefault(name, engine)
        for name, value in values.items():
            if name in missing:
                kind = infer_dtype(value)
                if kind is not None:
                    dtypes[name] = _widen(dtypes.get(name), kind)
                    engine_of.setdefault(name, engine)
    if not dtypes:
        return
    type_ids = _feature_types(s, sorted({e for e in engine_of.values() if e}))
    rows = [dict(name=n, dtype=dtypes[n], is_type=False, type_id=type_ids.get(engine_of[n] or ""),
                 description=f"made by the {engine_of[n]} adapter (annotate='auto')" if engine_of[n] else None)
            for n in sorted(dtypes)]
    insert_ignore(s, Feature.__table__, rows)


def _feature_types(s: "Session", engines: list[str]) -> dict[str, int]:
    """The feature type (is_type=True) named after each engine, made if new; a plain feature of that name
    blocks it (names are unique), and then the features are made without a type."""
    from sqlalchemy import select

    from ..db.upsert import insert_ignore
    from ..models import Feature

    if not engines:
        return {}
    c = Feature.__table__.c
    insert_ignore(s, Feature.__table__, [dict(name=e, dtype=None, is_type=True, description=f"features made from {e} metadata")
                                         for e in engines])
    return {name: fid for fid, name in s.execute(select(c.id, c.name).where(c.name.in_(engines), c.is_type.is_(True)))}


def infer_dtype(value: Any) -> str | None:
    """The feature dtype a value suggests: bool before int (a bool is an int in Python); None if none fits."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "bool"
    if isinstance(value, numbers.Integral):
        return "int"
    if isinstance(value, numbers.Real):
        return "float"
    if isinstance(value, str):
        return "str" if value else None
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, (list, tuple)) and value:
        kinds = {infer_dtype(v) for v in value}
        kinds.discard(None)
        if kinds == {"int", "float"}:
            return "list[float]"
        if len(kinds) == 1 and not next(iter(kinds)).startswith(("list", "dict")):
            return f"list[{kinds.pop()}]"
    return None


def _widen(old: str | None, new: str) -> str:
    """Two values of one name: ints and floats make a float, anything else mixed makes a string."""
    if old is None or old == new:
        return new
    if {old, new} == {"int", "float"}:
        return "float"
    return old if old.startswith("cat") else "str"


_COLUMN_KINDS = (
    (("bool",), "bool"),
    (("int", "long", "serial"), "int"),
    (("float", "double", "real", "decimal", "numeric", "number"), "float"),
    (("timestamp", "datetime"), "datetime"),
    (("date",), "date"),
)


def column_dtype(type_name: str) -> str:
    """A feature dtype for a column type as OpenLineage's schema facet spells it (SQL, Spark, Arrow names)."""
    t = (type_name or "").lower()
    for words, kind in _COLUMN_KINDS:
        if any(w in t for w in words):
            return kind
    return "str"
