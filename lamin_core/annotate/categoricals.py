"""Categorical columns against their registries: unique values first, one query per registry and field.

Works for any label registry (ULabel, Record, bionty's) through the `from_values()` contract of
`labels.py`: the values a registry knows come back as records (saved ones, or, for registries with a
public source, unsaved ones built from it, which the artifact's save then stores); the values that do not
come back are not validated. A 1,000,000-row column costs one `unique` (on the category codes when the
column is categorical) and its share of one `IN` query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select

from ..db import engine as db
from .dtypes import DType, label_field, resolve_registry
from .labels import closest

if TYPE_CHECKING:
    import pandas as pd

    from ..models import Feature

MAX_SHOWN = 20  # values listed in an error before "... and N more"


@dataclass
class CatColumn:
    """One categorical column: its feature, registry, field, distinct values and what validated."""

    column: str
    feature: "Feature"
    dtype: DType
    model: type
    field: str
    values: list[Any]
    records: list[Any] = field(default_factory=list)  # found, in the order of `values`
    non_validated: list[Any] = field(default_factory=list)


def unique_values(series: "pd.Series", is_list: bool = False) -> list[Any]:
    """Distinct non-null values; categorical columns by their used codes, without touching the strings."""
    import numpy as np
    import pandas as pd

    if is_list:
        series = series.explode()
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = np.asarray(series.cat.codes)
        used = pd.unique(codes[codes >= 0])  # in order of first appearance, like an object column's
        return list(series.cat.categories[used])
    return [v for v in pd.unique(series) if not _is_null(v)]


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def cat_column(column: str, series: "pd.Series", feature: "Feature", dtype: DType) -> CatColumn:
    model = resolve_registry(dtype.registry or "ULabel")
    return CatColumn(column, feature, dtype, model, label_field(dtype), unique_values(series, dtype.is_list))


def check_in_registries(columns: list[CatColumn]) -> None:
    """Fill `records` and `non_validated` of every column: one lookup per (registry, field)."""
    groups: dict[tuple[type, str], list[CatColumn]] = {}
    for col in columns:
        groups.setdefault((col.model, col.field), []).append(col)
    for (model, field_name), cols in groups.items():
        wanted = list(dict.fromkeys(v for c in cols for v in c.values))
        found = _known(model, field_name, wanted)
        for c in cols:
            c.records = [found[v] for v in c.values if v in found]
            c.non_validated = [v for v in c.values if v not in found]


def _known(model: type, field_name: str, values: list[Any]) -> dict[Any, Any]:
    from .labels import from_values

    if not values:
        return {}
    lookup = getattr(model, "from_values", None)
    records = (
        lookup(values, field=field_name, mute=True) if lookup is not None
        else from_values(model, values, field=field_name, mute=True)
    )
    known: dict[Any, Any] = {}
    for record in records:
        known.setdefault(getattr(record, field_name), record)  # several records of one name: the first
    return known


def registry_code(model: type) -> str:
    """How users spell the registry: `ln.ULabel`, `bt.CellType`."""
    from .dtypes import registry_name

    name = registry_name(model)
    return f"bt.{name.split('.', 1)[1]}" if name.startswith("bionty.") else f"ln.{name}"


def fix_line(col: CatColumn) -> str:
    field_arg = "" if col.field == getattr(col.model, "_name_field", "name") else f", field={col.field!r}"
    return f"{registry_code(col.model)}.from_values({_listing(col.non_validated, limit=None)}{field_arg}, create=True).save()"


def _listing(values: list[Any], limit: int | None = MAX_SHOWN) -> str:
    shown = values if limit is None else values[:limit]
    text = "[" + ", ".join(repr(v) for v in shown) + "]"
    return text if limit is None or len(values) <= limit else f"{text} ... and {len(values) - limit} more"


def problem_text(col: CatColumn, suggestions: dict[Any, list[str]]) -> str:
    """LaminDB's wording, plus the closest valid values and the line that saves the new ones."""
    n = len(col.non_validated)
    shown = ", ".join(repr(v) for v in col.non_validated[:MAX_SHOWN])
    more = f" ... and {n - MAX_SHOWN} more" if n > MAX_SHOWN else ""
    lines = [f"{n} term{'s' if n != 1 else ''} not validated in feature {col.feature.name!r}: {shown}{more}"]
    hints = [(v, suggestions[v]) for v in col.non_validated[:MAX_SHOWN] if suggestions.get(v)]
    if n == 1 and hints:
        lines.append(f"    → did you mean {' or '.join(repr(s) for s in hints[0][1])}?")
    else:
        lines.extend(f"    → {v!r}: did you mean {' or '.join(repr(s) for s in near)}?" for v, near in hints)
    lines.append(f"    → fix typos, remove non-existent values, or save terms via: {fix_line(col)}")
    return "\n".join(lines)


def suggestions_for(columns: list[CatColumn]) -> dict[int, dict[Any, list[str]]]:
    """Closest valid values for every non-validated one (only on failure: it reads the registry's values)."""
    out: dict[int, dict[Any, list[str]]] = {}
    pools: dict[tuple[type, str], list[str]] = {}
    for col in columns:
        if not col.non_validated:
            continue
        key = (col.model, col.field)
        if key not in pools:
            pools[key] = registry_values(col.model, col.field)
        out[id(col)] = {v: closest(v, pools[key], n=2) for v in col.non_validated[:MAX_SHOWN] if isinstance(v, str)}
    return out


def registry_values(model: type, field_name: str, limit: int = 200_000) -> list[str]:
    column = getattr(model, field_name)
    with db.read() as s:
        return [v for v in s.execute(select(column).where(column.is_not(None)).limit(limit)).scalars()]


# ---- standardizing: synonyms and case to the canonical value ----


def canonical_values(model: type, field_name: str, values: list[str]) -> dict[str, str]:
    """{value: canonical} for values that equal a registry value but for case, or are one of its synonyms.

    A registry with its own `standardize()` (bionty's, which also knows the public ontology) decides;
    otherwise one query: the field case-insensitively, and the `synonyms` column ("a|b|c") where there is one.
    """
    values = [v for v in values if isinstance(v, str)]
    if not values:
        return {}
    own = getattr(model, "standardize", None)
    if callable(own):
        try:
            mapper = own(values, field=field_name, return_mapper=True)  # LaminDB's (and bionty's) signature
        except TypeError:
            mapper = dict(zip(values, own(values, field=field_name)))
        return {v: s for v, s in dict(mapper).items() if isinstance(s, str) and s != v}
    column = getattr(model, field_name)
    synonyms = getattr(model, "synonyms", None)
    lowered = {v.lower(): v for v in values}
    conditions = [func.lower(column).in_(list(lowered))]
    if synonyms is not None:
        conditions.extend(synonyms.ilike(f"%{v}%") for v in values)
        rows = _read(select(column, synonyms).where(or_(*conditions)))
    else:
        rows = [(r, None) for r, in _read(select(column).where(or_(*conditions)))]
    out: dict[str, str] = {}
    for canonical, syn in rows:
        if canonical is None:
            continue
        for v in values:
            if v == canonical or v in out:
                continue
            if v.lower() == str(canonical).lower() or (syn and v.lower() in {s.strip().lower() for s in syn.split("|")}):
                out[v] = canonical
    return out


def _read(stmt: Any) -> list[Any]:
    with db.read() as s:
        return list(s.execute(stmt).all())
