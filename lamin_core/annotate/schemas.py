"""Schemas: a definition of valid data, identified by a hash of that definition.

`ln.Schema(features=[...])`, `ln.Schema(itype=ln.Feature)`, `ln.Schema(itype=bt.Gene.ensembl_gene_id, dtype=int)`,
`ln.Schema(otype="AnnData", slots={"obs": s1, "var.T": s2})`. The same definition is the same record: the
hash covers everything that changes what validates (itype, otype, dtype, the flags, the member features'
uids, the slots' hashes), not the name or the description. So `Schema(...)` for a definition that is
saved returns the saved record (`Schema.__new__` calls `existing_or_new`), and saving an equal schema twice,
even from two processes at once, stores one row.

A validated artifact's feature set ("columns") is such a schema too, made by `feature_set_in()` inside the
artifact's own write transaction.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..db import engine as db
from ..errors import ValidationError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..models import Feature, Schema

FLAGS = ("minimal_set", "maximal_set", "ordered_set", "flexible", "coerce")
FIELDS = ("name", "description", "itype", "otype", "dtype", "slots", "is_type", "type", *FLAGS)
OTYPES = (None, "DataFrame", "AnnData", "MuData", "SpatialData", "tiledbsoma")


# ---- the definition and its hash ----


def _itype_text(itype: Any) -> str | None:
    """ln.Feature -> "Feature", bt.Gene.ensembl_gene_id -> "bionty.Gene.ensembl_gene_id", strings as given."""
    from .dtypes import registry_name

    if itype is None or isinstance(itype, str):
        return itype
    if isinstance(itype, type) and hasattr(itype, "__tablename__"):
        return registry_name(itype)
    owner, key = getattr(itype, "class_", None), getattr(itype, "key", None)
    if owner is not None and key is not None and hasattr(owner, "__tablename__"):
        return f"{registry_name(owner)}.{key}"
    raise ValidationError(f"itype takes a registry (ln.Feature), a registry field (bt.Gene.ensembl_gene_id) or a string, not {itype!r}")


def _dtype_text(dtype: Any) -> str | None:
    from .dtypes import serialize

    return None if dtype is None else serialize(dtype)


def _features_of(features: Any) -> list["Feature"]:
    """Saved Feature records, from records or their names; every problem in one error."""
    from ..models import Feature

    items = list(features)
    names = [f for f in items if isinstance(f, str)]
    by_name: dict[str, Feature] = {}
    if names:
        with db.read() as s:
            by_name = {f.name: f for f in s.execute(select(Feature).where(Feature.name.in_(names))).scalars()}
    out: list[Feature] = []
    problems: list[str] = []
    for f in items:
        if isinstance(f, str):
            if f in by_name:
                out.append(by_name[f])
            else:
                problems.append(f"no feature named {f!r}: ln.Feature(name={f!r}, dtype=...).save()")
        elif isinstance(f, Feature):
            if f.id is None:
                problems.append(f"feature {f.name!r} is not saved: ln.Feature(name={f.name!r}, dtype={f.dtype!r}).save()")
            else:
                out.append(f)
        else:
            problems.append(f"features= takes Feature records or feature names, not {f!r}")
    seen: set[int] = set()
    dupes = sorted({f.name for f in out if f.id in seen or seen.add(f.id)})  # type: ignore[func-returns-value]
    if dupes:
        problems.append(f"features listed twice: {', '.join(dupes)}")
    if problems:
        raise ValidationError("cannot define the schema:\n- " + "\n- ".join(problems))
    return out


def definition_hash(definition: dict[str, Any]) -> str:
    """22 characters (128 bits, base64url) of BLAKE2b over the canonical JSON of a definition."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _definition(
    feature_uids: list[str], slot_hashes: dict[str, str], fields: dict[str, Any]
) -> dict[str, Any]:
    definition = {key: fields.get(key) for key in ("itype", "otype", "dtype", *FLAGS)}
    definition["features"] = feature_uids if fields.get("ordered_set") else sorted(feature_uids)
    definition["slots"] = slot_hashes
    if fields.get("is_type"):  # schema types are told apart by name: they define nothing else
        definition.update(is_type=True, name=fields.get("name"))
    type_ = fields.get("type")
    if type_ is not None:
        definition["type"] = type_.uid
    return definition


def _normalize(features: Any, fields: dict[str, Any]) -> tuple[list["Feature"], dict[str, "Schema"], dict[str, Any], str]:
    """Check a definition and fill in LaminDB's defaults; returns (features, slots, column values, hash)."""
    from ..models import Schema

    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ValidationError(f"Schema() got unknown argument(s) {', '.join(unknown)}; it takes features, {', '.join(FIELDS)}")
    members = _features_of(features) if features is not None else []
    slots = dict(fields.get("slots") or {})
    for slot, component in slots.items():
        if not isinstance(component, Schema):
            raise ValidationError(f"slot {slot!r} takes a Schema, not {component!r}")
    if slots and members:
        raise ValidationError("a schema has either features or slots (a composite of schemas), not both")
    otype = fields.get("otype")
    if otype not in OTYPES:
        raise ValidationError(f"otype must be one of {', '.join(str(o) for o in OTYPES)}, not {otype!r}")
    type_ = fields.get("type")
    if type_ is not None and not getattr(type_, "is_type", False):
        raise ValidationError("type= takes a Schema made with is_type=True")
    values: dict[str, Any] = {
        "name": fields.get("name"),
        "description": fields.get("description"),
        "itype": _itype_text(fields.get("itype")) or (None if slots or fields.get("is_type") else "Feature"),
        "otype": otype,
        "dtype": _dtype_text(fields.get("dtype")),
        "minimal_set": bool(fields.get("minimal_set", True)),
        "maximal_set": bool(fields.get("maximal_set", False)),
        "ordered_set": bool(fields.get("ordered_set", False)),
        # no features listed: any feature of the itype is validated where it appears (LaminDB's default)
        "flexible": bool(fields.get("flexible", not members and not slots)),
        "coerce": bool(fields.get("coerce", False)),
        "is_type": bool(fields.get("is_type", False)),
        "type": type_,
        "n": len(members) if members else None,
    }
    slot_hashes = {slot: component.hash for slot, component in slots.items()}
    digest = definition_hash(_definition([f.uid for f in members], slot_hashes, values))
    return members, slots, values, digest


# ---- constructing and saving ----


def existing_or_new(model: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """`Schema.__new__`: the saved schema with this definition if there is one, else a new object.

    SQLAlchemy creates loaded instances with `__new__(cls)` and no arguments: those are always new.
    """
    from .labels import _connected

    if (args or kwargs) and _connected():
        features = args[0] if args else kwargs.get("features")
        fields = {k: v for k, v in kwargs.items() if k != "features"}
        try:
            _, _, _, digest = _normalize(features, fields)
        except ValidationError:
            return object.__new__(model)  # __init__ raises the same error, from the constructor's frame
        with db.read() as s:
            existing = s.execute(select(model).where(model.hash == digest)).scalar_one_or_none()
        if existing is not None:
            return existing
    return object.__new__(model)


def init_schema(schema: "Schema", features: Any = None, **fields: Any) -> None:
    from ..models import SQLRecord

    members, slots, values, digest = _normalize(features, fields)
    if schema.id is not None:  # the saved schema of this definition: a new name or description updates it
        for key in ("name", "description"):
            if fields.get(key) is not None:
                setattr(schema, key, fields[key])
        return
    SQLRecord.__init__(schema, hash=digest, **values)
    schema._pending_features = members
    schema._pending_slots = slots


def save_schema(schema: "Schema") -> "Schema":
    """Insert the schema with its members and slots in one transaction; an equal saved schema is returned instead."""
    with db.write() as s:
        return save_schema_in(s, schema)


def save_schema_in(s: "Session", schema: "Schema") -> "Schema":
    from ..db.upsert import lock_names
    from ..models import Schema
    from ..tracking.context import current_run_id

    if schema.id is not None:
        s.add(schema)  # metadata changes (name, description)
        return schema
    slots: dict[str, Schema] = getattr(schema, "_pending_slots", None) or {}
    for slot, component in list(slots.items()):
        slots[slot] = save_schema_in(s, component)
    lock_names(s, [f"schema:{schema.hash}"])  # two processes saving one definition wait for each other
    existing = s.execute(select(Schema).where(Schema.hash == schema.hash)).scalar_one_or_none()
    if existing is not None:
        return existing
    if schema.run_id is None:
        schema.run_id = current_run_id()
    s.add(schema)
    s.flush()
    _write_members(s, schema.id, getattr(schema, "_pending_features", None) or [], slots)
    schema._pending_features, schema._pending_slots = None, None
    return schema


def _write_members(s: "Session", schema_id: int, features: list["Feature"], slots: dict[str, "Schema"]) -> None:
    from sqlalchemy import insert

    from ..models.schema import schema_components, schema_features

    if features:
        s.execute(insert(schema_features), [
            {"schema_id": schema_id, "feature_id": f.id, "position": i} for i, f in enumerate(features)
        ])
    if slots:
        s.execute(insert(schema_components), [
            {"composite_id": schema_id, "slot": slot, "component_id": c.id} for slot, c in slots.items()
        ])


def feature_set_in(s: "Session", features: list["Feature"]) -> int:
    """The id of the schema listing exactly these features (a validated artifact's "columns"), made if new.

    Runs inside the caller's write transaction and creates no object that outlives it, so a rolled-back
    save leaves nothing behind and its retry starts clean.
    """
    values = _normalize(None, {})[2]
    schema_id, created = _schema_row(s, values, [f.uid for f in features])
    if created:
        _write_members(s, schema_id, features, {})
    return schema_id


def member_set_in(s: "Session", itype: str, dtype: str | None, model: type, member_ids: list[int]) -> int:
    """The id of the schema listing exactly these registry records (an AnnData's "var.T": the genes it measured).

    Like `feature_set_in`: found by the hash of its definition (itype, dtype, the members' uids) or made, in the
    caller's transaction. Gene members are written to `schema_genes`, in order, which queries by gene follow;
    members of other registries count in the hash only.
    """
    from sqlalchemy import insert

    from ..models.bionty import Gene, schema_genes

    uid_of: dict[int, str] = {}
    for i in range(0, len(member_ids), 5_000):  # within every backend's limit of bound parameters
        chunk = member_ids[i:i + 5_000]
        uid_of.update(s.execute(select(model.id, model.uid).where(model.id.in_(chunk))).tuples().all())
    values = _normalize(None, {"itype": itype, "dtype": dtype})[2]
    schema_id, created = _schema_row(s, values, [uid_of[i] for i in member_ids])
    if created and model is Gene and member_ids:
        s.execute(insert(schema_genes), [{"schema_id": schema_id, "gene_id": g, "position": i} for i, g in enumerate(member_ids)])
    return schema_id


def _schema_row(s: "Session", values: dict[str, Any], member_uids: list[str]) -> tuple[int, bool]:
    """(id, created) of the schema with this definition and these members: found by its hash, or inserted
    as a plain row in the caller's transaction (the hash's advisory lock makes concurrent savers agree)."""
    from sqlalchemy import insert

    from .. import ids
    from ..db.upsert import lock_names
    from ..models import Schema
    from ..models.base import _current_branch_id, _current_user_id, utcnow
    from ..tracking.context import current_run_id

    values = {**values, "n": len(member_uids), "flexible": False}
    digest = definition_hash(_definition(member_uids, {}, values))
    lock_names(s, [f"schema:{digest}"])
    existing = s.execute(select(Schema.id).where(Schema.hash == digest)).scalar_one_or_none()
    if existing is not None:
        return existing, False
    now = utcnow()
    row = {k: v for k, v in values.items() if k != "type"}
    row.update(uid=ids.base62(Schema._uid_length), hash=digest, created_at=now, updated_at=now,
               created_by_id=_current_user_id(), branch_id=_current_branch_id(), run_id=current_run_id())
    return s.execute(insert(Schema.__table__).returning(Schema.__table__.c.id), [row]).scalar_one(), True


# ---- reading ----


def slots_of(schema: "Schema") -> dict[str, "Schema"]:
    """{"obs": schema, "var.T": var_schema} of a composite schema; {} for a plain one."""
    from ..models import Schema
    from ..models.schema import schema_components

    if schema.id is None:
        return dict(getattr(schema, "_pending_slots", None) or {})
    with db.read() as s:
        rows = s.execute(
            select(schema_components.c.slot, Schema)
            .join(Schema, Schema.id == schema_components.c.component_id)
            .where(schema_components.c.composite_id == schema.id)
            .order_by(schema_components.c.slot)
        ).all()
    return {slot: component for slot, component in rows}


def members_of(schema: "Schema") -> Any:
    """The features (or, for a gene schema, the genes) a schema lists: a list before saving, a query set after."""
    from ..models import Feature
    from ..models.schema import schema_features

    if schema.id is None:
        return list(getattr(schema, "_pending_features", None) or [])
    if (schema.itype or "").startswith("bionty.Gene"):
        from ..models.bionty import Gene, schema_genes

        genes = select(schema_genes.c.gene_id).where(schema_genes.c.schema_id == schema.id)
        return Gene.objects().filter(Gene.id.in_(genes))
    listed = select(schema_features.c.feature_id).where(schema_features.c.schema_id == schema.id)
    return Feature.objects().filter(Feature.id.in_(listed))


def ordered_features(schema: "Schema") -> list["Feature"]:
    """The member features in the order the schema lists them (what validation checks for presence)."""
    from ..models import Feature
    from ..models.schema import schema_features

    if schema.id is None:
        return list(getattr(schema, "_pending_features", None) or [])
    with db.read() as s:
        return list(s.execute(
            select(Feature).join(schema_features, schema_features.c.feature_id == Feature.id)
            .where(schema_features.c.schema_id == schema.id).order_by(schema_features.c.position)
        ).scalars())
