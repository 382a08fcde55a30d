"""Filtering by feature values: `ln.Artifact.filter(temperature=21.6)`, `experiment="My experiment"`,
`temperature__gt=20`, `perturbation__in=["DMSO", "IFNG"]`, `sample_date__gt=date(2024, 1, 1)`.

`lookups.py` hands a name over when it is not a field, relation or alias of a registry that owns feature
values (Artifact, Run, Record). As every other lookup, a feature condition is an uncorrelated IN
subquery, so it chains with field lookups and never duplicates rows:

    artifacts.id IN (SELECT artifact_id FROM artifact_feature_values
                     WHERE feature_id = :f AND value_num = :v)                        -- scalar values
    artifacts.id IN (SELECT artifact_id FROM artifact_ulabels WHERE feature_id = :f
                     AND label_id IN (SELECT id FROM ulabels WHERE name = :v))         -- label values

Both are served by an index that starts with (feature_id, value...). The value is normalised as stored
values are (`annotate/values.py`), so `filter(temperature=21)` finds 21.0 and a date compares as its ISO
text. A list feature matches when any element does. One small query finds the feature by name.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from sqlalchemy import false, not_, or_, select

from ..errors import FieldError, ValidationError

if TYPE_CHECKING:
    from sqlalchemy.sql import ColumnElement

TEXT_LOOKUPS = ("contains", "icontains", "startswith", "istartswith", "endswith", "iendswith", "iexact")
ORDER_LOOKUPS = ("gt", "gte", "lt", "lte", "range")
SCALAR_LOOKUPS = ("exact", "in", "isnull") + ORDER_LOOKUPS + TEXT_LOOKUPS


def feature_condition(model: type, name: str, rest: list[str], value: Any, path: str) -> "ColumnElement[bool]":
    """The condition for `<feature>[__<label field>][__<lookup>]=value` on an owner registry."""
    from ..annotate.dtypes import parse

    found = _find_feature(name)
    if found is None:
        raise unknown_name(model, name)
    fid, dtype_text = found
    if dtype_text is None:
        raise FieldError(f"{name!r} is a feature type (is_type=True): it holds no values to filter by")
    dtype = parse(dtype_text)
    if dtype.is_cat:
        return _label_condition(model, name, fid, dtype, rest, value, path)
    return _value_condition(model, name, fid, dtype, rest, value, path)


def _value_condition(model: type, name: str, fid: int, dtype: Any, rest: list[str], value: Any, path: str) -> "ColumnElement[bool]":
    from ..annotate.values import column_of, normalize, stored_scalar
    from ..models.annotations import FEATURE_VALUES
    from .lookups import OPERATORS, _dialect

    table = FEATURE_VALUES[model.__name__]
    owner_col = _owner_col(table)
    kind = dtype.kind
    if kind == "dict" and rest and rest != ["isnull"]:
        from .json_lookups import json_condition

        inner = json_condition(table.c.value_json, rest, value, path, _dialect())
        return _owners(model, owner_col, table.c.feature_id == fid, inner)
    lookup = rest[0] if rest else "exact"
    if len(rest) > 1 or lookup not in SCALAR_LOOKUPS:
        raise FieldError(
            f"unknown lookup {'__'.join(rest)!r} on feature {name!r} ({dtype}) in {path!r}. Lookups: {', '.join(SCALAR_LOOKUPS)}"
        )
    if lookup == "isnull" or (lookup == "exact" and value is None):
        return _has_value(model, owner_col, table.c.feature_id == fid, value if lookup == "isnull" else True)
    if kind == "dict":
        raise FieldError(f"feature {name!r} holds dicts: filter by a key ({name}__key=...) or with {name}__isnull")
    col = table.c[column_of(kind)]

    def stored(v: Any) -> Any:
        if isinstance(v, (list, tuple, set)) and not dtype.is_list:
            raise FieldError(f"{path!r} compares one value: use {name}__in=[...] to pass several")
        try:
            return stored_scalar(kind, normalize(name, dtype, v, coerce=True))
        except ValidationError as e:
            raise FieldError(f"{path!r}: {e}") from None

    if lookup in TEXT_LOOKUPS:
        if kind not in ("str", "date", "datetime"):
            raise FieldError(f"the lookup {lookup!r} compares text; feature {name!r} has dtype {dtype}")
        inner = OPERATORS[lookup](col, value)
    elif lookup == "in":
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise FieldError(f"the lookup 'in' takes a list, not {value!r}")
        values = [stored(v) for v in value]
        inner = col.in_(values) if values else false()
    elif lookup == "range":
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
            raise FieldError(f"the lookup 'range' takes a pair (low, high), not {value!r}")
        inner = col.between(stored(value[0]), stored(value[1]))
    elif lookup in ("gt", "gte", "lt", "lte"):
        if kind == "bool":
            raise FieldError(f"feature {name!r} holds bools: compare with {name}=True or {name}=False")
        inner = OPERATORS[lookup](col, stored(value))
    else:
        if isinstance(value, (list, tuple, set)):
            raise FieldError(f"{path!r} compares one value: use {name}__in=[...] to pass several")
        inner = col == stored(value)
    return _owners(model, owner_col, table.c.feature_id == fid, inner)


def _label_condition(model: type, name: str, fid: int, dtype: Any, rest: list[str], value: Any, path: str) -> "ColumnElement[bool]":
    from ..annotate.dtypes import label_field, resolve_registry
    from ..models.annotations import LABEL_ACCESSORS, LABEL_LINKS
    from . import lookups as L

    label = resolve_registry(dtype.registry or "ULabel")
    link = LABEL_LINKS.get((model.__name__, LABEL_ACCESSORS.get(label.__name__, "")))
    if link is None:
        raise FieldError(f"feature {name!r} takes {label.__name__} labels, which a {model.__name__} cannot hold")
    by_feature = link.table.c.feature_id == fid
    lookup = rest[0] if len(rest) == 1 and rest[0] in L.OPERATORS and rest[0] not in L.field_names(label) else None
    if rest and lookup is None:  # a field of the label: experiment__description__contains="x"
        inner = L.condition(label, "__".join(rest), value)
        return _owners(model, link.owner_col, by_feature, link.label_col.in_(select(label.id).where(inner).correlate(None)))
    lookup = lookup or "exact"
    if lookup == "isnull" or (lookup == "exact" and value is None):
        return _has_value(model, link.owner_col, by_feature, value if lookup == "isnull" else True)
    field = label_field(dtype)
    values = list(value) if lookup == "in" and isinstance(value, (list, tuple, set)) else [value]
    if lookup == "in" and not isinstance(value, (list, tuple, set)):
        raise FieldError(f"the lookup 'in' takes a list of names or records, not {value!r}")
    if lookup == "exact" and isinstance(value, (list, tuple, set)):
        raise FieldError(f"{path!r} compares one label: use {name}__in=[...] to pass several")
    records = [v for v in values if hasattr(type(v), "__tablename__")]
    if records and lookup not in ("exact", "in"):
        raise FieldError(f"{path!r}: the lookup {lookup!r} compares names; pass a record only with = or __in")
    conds = []
    if records:
        conds.append(link.label_col.in_(L._record_id(records, label, path)))
    texts = [v for v in values if not hasattr(type(v), "__tablename__")]
    if texts:
        inner = L.condition(label, f"{field}__{'in' if lookup == 'in' else lookup}", texts if lookup == "in" else texts[0])
        conds.append(link.label_col.in_(select(label.id).where(inner).correlate(None)))
    return _owners(model, link.owner_col, by_feature, or_(*conds) if len(conds) > 1 else conds[0])


def _owners(model: type, owner_col: Any, *where: Any) -> "ColumnElement[bool]":
    return model.id.in_(select(owner_col).where(*where).correlate(None))


def _has_value(model: type, owner_col: Any, by_feature: Any, isnull: Any) -> "ColumnElement[bool]":
    if not isinstance(isnull, bool):
        raise FieldError(f"the lookup 'isnull' takes True or False, not {isnull!r}")
    has = _owners(model, owner_col, by_feature)
    return not_(has) if isnull else has


def _find_feature(name: str) -> tuple[int, str | None] | None:
    from ..db import engine as db
    from ..models import Feature

    with db.read() as s:
        row = s.execute(select(Feature.id, Feature.dtype).where(Feature.name == name)).first()
    return (row[0], row[1]) if row is not None else None


def feature_names() -> list[str]:
    from ..db import engine as db
    from ..models import Feature

    with db.read() as s:
        return sorted(s.execute(select(Feature.name).where(Feature.is_type.is_(False))).scalars())


def unknown_name(model: type, name: str) -> FieldError:
    """Neither a field nor a feature: the error lists both, with the closest names."""
    from .lookups import field_names

    fields = field_names(model)
    features = feature_names()
    close = difflib.get_close_matches(name, fields + features, n=2, cutoff=0.6)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    feats = ", ".join(features) if features else "(none yet: ln.Feature(name=..., dtype=...).save())"
    return FieldError(
        f"{model.__name__} has no field {name!r} and there is no feature of that name.{hint}"
        f"\nValid fields: {', '.join(fields)}\nFeatures: {feats}"
    )


def _owner_col(table: Any) -> Any:
    return next(c for c in table.c if c.name.endswith("_id") and c.name != "feature_id")
