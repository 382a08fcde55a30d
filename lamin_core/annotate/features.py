"""Features: creating, saving and deleting them, and `artifact.features` / `run.features` /
`record.features`: add, set, remove and get feature values.

Storage (see `models/annotations.py`): a value of a label-typed feature (`cat[ULabel]`) is a row of the
owner's label link table with `feature_id` set; every other value is a row of the owner's feature-value
table (`values.py` says which column). A `list[...]` feature has a row per element.

Every write checks everything first (unknown features, wrong types, labels that do not exist), raising
one ValidationError that lists every problem, and only then writes, in one transaction: a dict with one
good and one bad value writes neither.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import delete, func, select

from ..db import engine as db
from ..errors import ValidationError
from .dtypes import DType, label_field, parse, resolve_registry, serialize
from .values import column_of, encode, feature_elements, row_key, stored_scalar


def init_feature(feature: Any, name: str | None = None, dtype: Any = None, **fields: Any) -> None:
    from ..models import SQLRecord

    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"a Feature needs a name, not {name!r}")
    if "__" in name:
        raise ValidationError(f"a feature name may not contain '__' (queries split lookups there): {name!r}")
    if fields.get("is_type"):
        if dtype is not None:
            raise ValidationError("a feature type (is_type=True) has no dtype")
        text = None
    else:
        if dtype is None:
            raise ValidationError(f"Feature {name!r} needs a dtype: float, int, 'num', str, bool, 'date', ln.ULabel, list[...]")
        text = serialize(dtype)
    type_ = fields.get("type")
    if type_ is not None and not getattr(type_, "is_type", False):
        raise ValidationError(f"type= takes a Feature made with is_type=True; {type_.name!r} is not a type")
    if feature.id is not None:  # a saved feature of that name (from the trash too: it comes back)
        from .labels import restore_if_trashed

        restore_if_trashed(feature)
        if feature.dtype != text:
            raise ValidationError(
                f"a feature named {name!r} exists with dtype {feature.dtype!r}, not {text!r}: pick another name,"
                f" or delete the old feature first (ln.Feature.get(name={name!r}).delete())"
            )
        for key, value in fields.items():
            setattr(feature, key, value)
        return
    SQLRecord.__init__(feature, name=name, dtype=text, **fields)


def save_feature(feature: Any) -> Any:
    from ..tracking.context import current_run_id

    with db.write() as s:
        if feature.id is None and feature.run_id is None:
            feature.run_id = current_run_id()
        s.add(feature)
    return feature


def delete_feature(feature: Any, permanent: bool | None = None) -> None:
    """Move a feature to the trash (`permanent=True`, or deleting it from the trash, removes it), refusing
    while anything holds values of it.

    Like every record, a deleted feature goes to the trash first: queries that name it still parse (and find
    nothing, since no values are left), as the tutorial's query after deleting `temperature` expects, and
    `ln.Feature(name=...)` of the same name brings it back.

    A feature with values left would make those values unreadable (their dtype is the feature's), so
    the message says how many artifacts, runs and records hold values and how to remove them; a schema
    listing the feature is a reason to refuse too.
    """
    from ..models import Schema
    from ..models.annotations import FEATURE_VALUES, LABEL_LINKS
    from ..models.schema import schema_features

    if feature.id is None:
        raise ValidationError(f"feature {feature.name!r} is not saved: there is nothing to delete")
    uses: dict[str, set[int]] = {}
    with db.read() as s:
        for owner, table in FEATURE_VALUES.items():
            col = _owner_col(table)
            uses.setdefault(owner, set()).update(s.execute(select(col).where(table.c.feature_id == feature.id).distinct()).scalars())
        for (owner, _), link in LABEL_LINKS.items():
            found = s.execute(select(link.owner_col).where(link.table.c.feature_id == feature.id).distinct()).scalars()
            uses.setdefault(owner, set()).update(found)
        schemas = list(s.execute(
            select(Schema.name, Schema.uid).where(Schema.id.in_(select(schema_features.c.schema_id).where(schema_features.c.feature_id == feature.id)))
        ))
        members = s.execute(select(func.count()).select_from(type(feature)).where(type(feature).type_id == feature.id)).scalar()
    held = {owner: len(ids) for owner, ids in uses.items() if ids}
    problems = []
    if held:
        counts = ", ".join(f"{n} {owner.lower()}{'s' if n > 1 else ''}" for owner, n in held.items())
        owner = next(iter(held))
        verb = "holds" if sum(held.values()) == 1 else "hold"
        problems.append(
            f"{counts} {verb} values of feature {feature.name!r}: remove them first, e.g."
            f" `{owner.lower()}.features.remove_values({feature.name!r})`, or for all at once"
            f" `for o in ln.{owner}.filter({feature.name}__isnull=False): o.features.remove_values({feature.name!r})`"
        )
    if schemas:
        names = ", ".join(repr(n or u) for n, u in schemas[:5])
        problems.append(f"{len(schemas)} schema(s) list feature {feature.name!r} ({names}): delete those schemas first")
    if members:
        problems.append(f"feature type {feature.name!r} has {members} feature(s) of its type: delete or re-type them first")
    if problems:
        raise ValidationError(f"cannot delete feature {feature.name!r}: " + "; ".join(problems))
    from ..models import SQLRecord

    SQLRecord.delete(feature, permanent=permanent)


# ---- feature values ----


@dataclass
class _Planned:
    """One feature's checked values, ready to write."""

    feature: Any
    dtype: DType
    elements: list[Any]  # normalised; label-typed: label ids
    link: Any = None  # label-typed: the owner's link table for the label registry


class FeatureManager:
    """`artifact.features`: the feature values of one artifact (or run, or record)."""

    def __init__(self, owner: Any) -> None:
        self.owner = owner

    def add_values(self, values: dict[Any, Any]) -> None:
        """Annotate with feature values: `{"temperature": 21.6, "experiment": "My experiment"}`.

        Keys are feature names or Feature records. A value already there is not written twice. A feature
        that takes one value (not `list[...]`, not label-typed) holds one: a different value replaces the
        old one, as LaminDB users expect one temperature per artifact. List features and label-typed
        features gather values: adding adds to what is there (`set_values` replaces). `None` stores the
        feature's `default_value` if it has one, and nothing otherwise (a non-nullable feature refuses it).
        """
        self._write(values, replace=False)

    def set_values(self, values: dict[Any, Any]) -> None:
        """As `add_values`, but the values given replace all values of those features (others stay)."""
        self._write(values, replace=True)

    def remove_values(self, keys: Any, value: Any = None) -> None:
        """Remove the values of one or more features (names or Feature records); `value=` only that value.

        Plain labels (`artifact.ulabels.add(...)`) are not feature values and stay.
        """
        from ..db.upsert import lock_names
        from .labels import unlink_labels

        items = [keys] if isinstance(keys, str) or hasattr(keys, "__tablename__") else list(keys)
        features = _resolve_features(items)
        owner_id = self._owner_id()
        plans = []
        if value is not None:
            for feature in features.values():
                plans.append(self._check(feature, value, labels_must_exist=True))
        table = self._table()
        owner_col = _owner_col(table)
        with db.write() as s:
            lock_names(s, [self._lock_name()])
            if value is None:
                fids = [f.id for f in features.values()]
                s.execute(delete(table).where(owner_col == owner_id, table.c.feature_id.in_(fids)))
                for link in self._links():
                    s.execute(delete(link.table).where(link.owner_col == owner_id, link.table.c.feature_id.in_(fids)))
                return
            for plan in plans:
                if plan.link is not None:
                    unlink_labels(s, plan.link, owner_id, plan.elements, plan.feature.id)
                    continue
                col = table.c[column_of(plan.dtype.kind)]
                if plan.dtype.kind == "dict":
                    keys_ = {row_key("dict", encode("dict", e)) for e in plan.elements}
                    for rid, num, text, js in s.execute(
                        select(table.c.id, table.c.value_num, table.c.value_str, table.c.value_json)
                        .where(owner_col == owner_id, table.c.feature_id == plan.feature.id)
                    ):
                        if row_key("dict", (num, text, js)) in keys_:
                            s.execute(delete(table).where(table.c.id == rid))
                    continue
                stored = [stored_scalar(plan.dtype.kind, e) for e in plan.elements]
                s.execute(delete(table).where(owner_col == owner_id, table.c.feature_id == plan.feature.id, col.in_(stored)))

    def get_values(self) -> dict[str, Any]:
        """{feature name: value}: a list feature's value as a list, a label-typed one as the label's name
        (a list of names when several are linked), dates as dates, bools as bools."""
        from .stored import read_values

        return read_values(type(self.owner), [self._owner_id()]).of_owner(self.owner.id)

    def describe(self, return_str: bool = False) -> str | None:
        from ..query.describe import describe_features

        return describe_features(self.owner, return_str=return_str)

    def __repr__(self) -> str:
        if self.owner.id is None:
            return "features: (unsaved)"
        values = self.get_values()
        return "features: " + (", ".join(f"{k}={v!r}" for k, v in values.items()) if values else "(none)")

    # ---- internals ----

    def _owner_id(self) -> int:
        if self.owner.id is None:
            raise ValidationError(f"save the {type(self.owner).__name__} before annotating it")
        return self.owner.id

    def _table(self) -> Any:
        from ..models.annotations import FEATURE_VALUES

        return FEATURE_VALUES[type(self.owner).__name__]

    def _links(self) -> list[Any]:
        from ..models.annotations import LABEL_LINKS

        return [link for (owner, _), link in LABEL_LINKS.items() if owner == type(self.owner).__name__]

    def _lock_name(self) -> str:
        return f"feature-values:{self.owner.__tablename__}:{self.owner.id}"

    def _check(self, feature: Any, value: Any, labels_must_exist: bool = True) -> _Planned:
        dtype = parse(feature.dtype)
        elements = feature_elements(feature, dtype, value)
        unique: dict[Any, Any] = {}
        for e in elements:
            unique.setdefault(_identity(e), e)
        elements = list(unique.values())
        if not dtype.is_cat:
            return _Planned(feature, dtype, elements)
        return _Planned(feature, dtype, _label_ids(feature, dtype, elements), self._link_for(feature, dtype))

    def _link_for(self, feature: Any, dtype: DType) -> Any:
        from ..models.annotations import LABEL_ACCESSORS, LABEL_LINKS

        label = resolve_registry(dtype.registry or "ULabel")
        accessor = LABEL_ACCESSORS.get(label.__name__)
        link = LABEL_LINKS.get((type(self.owner).__name__, accessor or ""))
        if link is None:
            raise ValidationError(
                f"feature {feature.name!r} takes {label.__name__} labels, which a {type(self.owner).__name__} cannot hold"
            )
        return link

    def _write(self, values: dict[Any, Any], replace: bool) -> None:
        from ..db.upsert import lock_names
        from .labels import link_labels, unlink_labels

        if not isinstance(values, dict):
            raise ValidationError(f"add_values() takes a dict {{feature name: value}}, not {type(values).__name__}")
        owner_id = self._owner_id()
        problems = []
        try:
            features = _resolve_features(list(values))
        except ValidationError as e:  # unknown names: reported with whatever else is wrong
            problems.append(str(e))
            features = _resolve_features([k for k in values if _key_name(k) in _known(values)])
        plans = []
        for key, value in values.items():
            feature = features.get(_key_name(key))
            if feature is None:
                continue
            try:
                plans.append(self._check(feature, value))
            except ValidationError as e:
                problems.append(str(e))
        if len(problems) > 1:
            raise ValidationError(f"{len(problems)} problems, nothing was written:\n" + "\n".join(f"- {p}" for p in problems))
        if problems:
            raise ValidationError(problems[0])
        table = self._table()
        owner_col = _owner_col(table)
        with db.write() as s:
            # writers of one owner's values take turns (PostgreSQL; SQLite writes are serial anyway), so
            # that "replace the old value" reads what the other writer committed
            lock_names(s, [self._lock_name()])
            for plan in plans:
                fid = plan.feature.id
                if plan.link is not None:
                    if replace:
                        unlink_labels(s, plan.link, owner_id, None, fid)
                    link_labels(s, plan.link, owner_id, plan.elements, fid)
                    continue
                kind = plan.dtype.kind
                existing = list(s.execute(
                    select(table.c.id, table.c.value_num, table.c.value_str, table.c.value_json)
                    .where(owner_col == owner_id, table.c.feature_id == fid)
                ))
                rows = [{owner_col.key: owner_id, "feature_id": fid, **encode(kind, e)} for e in plan.elements]
                want = {row_key(kind, r) for r in rows}
                have = {row_key(kind, tuple(r[1:])) for r in existing}
                if replace or (rows and not plan.dtype.is_list):
                    # one value per feature: drop the rows of other values (and a duplicate of a kept one)
                    kept: set[Any] = set()
                    stale = []
                    for rid, *stored in existing:
                        k = row_key(kind, tuple(stored))
                        if k in want and k not in kept:
                            kept.add(k)
                        else:
                            stale.append(rid)
                    if stale:
                        s.execute(delete(table).where(table.c.id.in_(stale)))
                rows = [r for r in rows if row_key(kind, r) not in have]
                if rows:
                    s.execute(table.insert(), rows)


# ---- helpers ----


def _resolve_features(keys: Iterable[Any]) -> dict[str, Any]:
    """Name -> saved Feature for every key (a name or a Feature); one error lists every unknown name."""
    from ..models import Feature

    given = {}
    names = []
    for key in keys:
        if isinstance(key, Feature):
            if key.id is None:
                raise ValidationError(f"save feature {key.name!r} first: ln.Feature(name={key.name!r}, dtype=...).save()")
            given[key.name] = key
        elif isinstance(key, str):
            names.append(key)
        else:
            raise ValidationError(f"feature values are keyed by feature name or Feature, not {key!r}")
    found = {f.name: f for f in Feature.filter(name__in=names)} if names else {}
    missing = [n for n in dict.fromkeys(names) if n not in found]
    if missing:
        with db.read() as s:
            known = list(s.execute(select(Feature.name).where(Feature.is_type.is_(False))).scalars())
        lines = []
        for name in missing:
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            lines.append(f"{name!r}{hint}")
        create = "\n".join(f"    ln.Feature(name={n!r}, dtype=...).save()" for n in missing)
        raise ValidationError(f"no feature named {', '.join(lines)}. Create the missing ones first:\n{create}")
    found.update(given)
    for feature in found.values():
        if feature.is_type:
            raise ValidationError(f"{feature.name!r} is a feature type (is_type=True): it groups features and holds no values")
    return found


def _known(keys: Iterable[Any]) -> set[str]:
    """The names among `keys` that name a saved feature."""
    from ..models import Feature

    names = [k for k in keys if isinstance(k, str)]
    known = set(Feature.filter(name__in=names).to_list("name")) if names else set()
    return known | {k.name for k in keys if not isinstance(k, str) and getattr(k, "id", None) is not None}


def _key_name(key: Any) -> str:
    return key if isinstance(key, str) else key.name


def _label_ids(feature: Any, dtype: DType, elements: list[Any]) -> list[int]:
    """The ids of the labels named; an error lists the names not found and the closest existing ones."""
    label = resolve_registry(dtype.registry or "ULabel")
    field = label_field(dtype)
    ids, names = [], []
    for e in elements:
        if isinstance(e, str):
            names.append(e)
        elif isinstance(e, label):
            if e.id is None:
                raise ValidationError(f"feature {feature.name!r}: save {e!r} before using it as a value")
            ids.append(e.id)
        else:
            raise ValidationError(f"feature {feature.name!r} has dtype {dtype}: {type(e).__name__} records are not its values")
    if names:
        col = getattr(label, field)
        found = _ids_by_value(label, field, names)
        missing = [n for n in names if n not in found]
        if missing:
            with db.read() as s:
                known = list(s.execute(select(col).limit(100_000)).scalars())
            from .labels import closest

            parts = []
            for n in missing:
                near = closest(n, known)
                parts.append(f"{n!r}" + (f" (did you mean {', '.join(map(repr, near))}?)" if near else ""))
            create = f"ln.{label.__name__}(name={missing[0]!r}).save()" if field == "name" else f"{label.__name__}.from_values([...], field={field!r}, create=True)"
            raise ValidationError(
                f"feature {feature.name!r} ({dtype}): {len(missing)} value(s) not in {label.__name__}.{field}:"
                f" {', '.join(parts)}. Fix the typo, or create the label: {create}"
            )
        ids.extend(found[n] for n in names)
    return list(dict.fromkeys(ids))


def _ids_by_value(label: type, field: str, names: list[str]) -> dict[str, int]:
    col = getattr(label, field)
    from ..models import TRASH_BRANCH_ID

    with db.read() as s:
        stmt = select(label.id, col).where(col.in_(list(dict.fromkeys(names))), label.branch_id != TRASH_BRANCH_ID)
        return {v: i for i, v in s.execute(stmt)}


def _identity(e: Any) -> Any:
    """A hashable identity of a normalised element (dicts by their JSON), to drop repeats."""
    import json

    return ("dict", json.dumps(e, sort_keys=True)) if isinstance(e, dict) else (type(e).__name__, e)


def _owner_col(table: Any) -> Any:
    return next(c for c in table.c if c.name.endswith("_id") and c.name != "feature_id")
