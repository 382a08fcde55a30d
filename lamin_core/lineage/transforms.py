"""Transforms by key and source: the same source under a key is the same version, new source a new one.

`upsert_transform_row` is the one implementation, on plain rows (`db.dbapi`): `ln.track()` and
`lamin save script.py` use it without importing SQLAlchemy, and `upsert_transform` runs it in an ORM
session for everything else (Transform.save(), the recording path).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple

from .. import ids
from ..storage.hashing import hash_bytes

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..db.dbapi import Rows
    from ..models import Transform

TRANSFORM_UID_STEM = 12
_COLUMNS = "id, uid, key, hash, version, description, kind, facets"


def source_hash(source_code: str | None) -> str | None:
    return hash_bytes(source_code.encode()) if source_code else None


class TransformRow(NamedTuple):
    id: int
    uid: str
    key: str | None
    hash: str | None
    version: str | None
    description: str | None
    kind: str
    facets: Any
    created: bool = False
    stepped_down: int | None = None  # the id of the row that stopped being the key's latest version


class _Version(NamedTuple):
    """Where a transform goes: an existing row, or a new row with this uid (after `step_down` stops
    being the key's latest version)."""

    existing_id: int | None = None
    uid: str | None = None
    step_down: int | None = None


def find_transform_row(rows: "Rows", where: str, params: Mapping[str, Any]) -> TransformRow | None:
    """The first transform row (by id) matching an SQL condition on the transforms table."""
    found = rows.one(f"SELECT {_COLUMNS} FROM transforms WHERE {where} ORDER BY id LIMIT 1", params)
    if found is None:
        return None
    facets = found[7]
    if isinstance(facets, str):
        import json

        facets = json.loads(facets)
    return TransformRow(*found[:7], facets=facets)  # type: ignore[misc]


def _version(rows: "Rows", key: str | None, hash_: str | None, version: str | None) -> tuple[_Version, TransformRow | None]:
    """Which version of `key` this (source hash, version) is; the key's latest row, if any."""
    if key is None:
        same = find_transform_row(rows, "hash = :hash", {"hash": hash_}) if hash_ is not None else None
        return _Version(existing_id=same.id if same else None), same
    latest = find_transform_row(rows, f"key = :key AND is_latest = {rows.true}", {"key": key})
    if latest is None:
        return _Version(), None
    if _same_version(latest.version, latest.hash, version, hash_):
        return _Version(existing_id=latest.id), latest
    if version is None and hash_ is not None:
        # an older version with this exact source: a revert, not a new version
        older = find_transform_row(rows, "key = :key AND hash = :hash", {"key": key, "hash": hash_})
        if older is not None:
            return _Version(existing_id=older.id), older
    if version is not None:
        named = find_transform_row(rows, "key = :key AND version = :version", {"key": key, "version": version})
        if named is not None:
            return _Version(existing_id=named.id), named
    stem = latest.uid[:-4]
    # the highest uid of the stem, not the latest's: a deleted latest or a revert leaves higher suffixes
    newest = rows.scalar("SELECT max(uid) FROM transforms WHERE uid LIKE :prefix", {"prefix": stem + "%"})
    return _Version(uid=ids.next_version_uid(newest or latest.uid), step_down=latest.id), latest


def upsert_transform_row(
    rows: "Rows", fields: Mapping[str, Any], insert: "Callable[[dict[str, Any]], int] | None" = None
) -> TransformRow:
    """The stored version a transform with these fields is, or a new row as the key's new latest version.

    `fields`: key, kind, source_code, and optionally version, description, facets, reference, reference_type,
    uid. `insert(values)` writes a new row and returns its id (default: a plain INSERT; the ORM passes its own
    so that the user's Transform object becomes the stored one).
    """
    from ..db.dbapi import record_defaults

    hash_ = fields.get("hash") or source_hash(fields.get("source_code"))
    where, found = _version(rows, fields.get("key"), hash_, fields.get("version"))
    if where.existing_id is not None:
        assert found is not None
        if found.id != where.existing_id:
            found = find_transform_row(rows, "id = :id", {"id": where.existing_id})
        return found  # type: ignore[return-value]
    if where.step_down is not None:
        # the old latest steps down before the new one goes in (unique index on the latest key)
        rows.execute("UPDATE transforms SET is_latest = :no WHERE id = :id", {"no": False, "id": where.step_down})
    values = {
        **record_defaults(rows),
        "uid": where.uid or fields.get("uid") or ids.versioned_uid(TRANSFORM_UID_STEM),
        "key": fields.get("key"),
        "description": fields.get("description"),
        "kind": fields.get("kind") or "pipeline",
        "source_code": fields.get("source_code"),
        "hash": hash_,
        "reference": fields.get("reference"),
        "reference_type": fields.get("reference_type"),
        "version": fields.get("version"),
        "is_latest": True,
        "facets": fields.get("facets"),
        "run_id": fields.get("run_id"),
    }
    values["updated_at"] = values["created_at"]
    new_id = insert(values) if insert is not None else rows.insert("transforms", values)
    return TransformRow(new_id, values["uid"], values["key"], hash_, values["version"], values["description"],
                        values["kind"], values["facets"], created=True, stepped_down=where.step_down)


def save_transform(transform: "Transform") -> "Transform":
    from ..db import engine as db

    with db.write() as s:
        if transform.id is not None:
            s.add(transform)
            return transform
        return upsert_transform(s, transform)


def upsert_transform(s: "Session", transform: "Transform") -> "Transform":
    """`upsert_transform_row` in an ORM session: the stored Transform this one is, or this one, inserted."""
    from sqlalchemy import inspect

    from ..db.dbapi import expire_loaded, rows_of
    from ..models import Transform

    fields = {c.key: getattr(transform, c.key) for c in inspect(Transform).column_attrs if c.key != "id"}
    s.flush()  # the statements below must see what the session holds

    def insert(values: dict[str, Any]) -> int:
        for name in ("uid", "hash", "is_latest", "kind"):
            setattr(transform, name, values[name])
        s.add(transform)
        s.flush()
        return transform.id

    row = upsert_transform_row(rows_of(s), {k: v for k, v in fields.items() if v is not None}, insert=insert)
    if row.stepped_down is not None:
        expire_loaded(s, Transform, row.stepped_down)  # a loaded old latest reads is_latest anew
    if row.created:
        return transform
    stored = s.get(Transform, row.id)
    assert stored is not None
    return stored


def _same_version(stored_version: str | None, stored_hash: str | None, version: str | None, hash_: str | None) -> bool:
    if version is not None and stored_version is not None:
        return version == stored_version
    if hash_ is not None and stored_hash is not None:
        return hash_ == stored_hash
    # neither says what version it is: a key names one transform
    return version is None and hash_ is None or stored_hash is None and version is None
