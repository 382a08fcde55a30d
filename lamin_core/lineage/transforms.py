"""Transforms by key and source: the same source under a key is the same version, new source a new one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from .. import ids
from ..db.upsert import newest_uid_of_stem
from ..db import engine as db
from ..storage.hashing import hash_bytes

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..models import Transform


def source_hash(source_code: str | None) -> str | None:
    return hash_bytes(source_code.encode()) if source_code else None


def save_transform(transform: "Transform") -> "Transform":
    with db.write() as s:
        if transform.id is not None:
            s.add(transform)
            return transform
        return upsert_transform(s, transform)


def upsert_transform(s: "Session", transform: "Transform") -> "Transform":
    """Return the stored version this transform is, or insert it as the key's new latest version."""
    from ..models import Transform

    if transform.hash is None:
        transform.hash = source_hash(transform.source_code)
    if transform.key is None:
        if transform.hash is not None:
            same = s.execute(select(Transform).where(Transform.hash == transform.hash).limit(1)).scalar()
            if same is not None:
                return same
        s.add(transform)
        s.flush()
        return transform
    latest = s.execute(
        select(Transform).where(Transform.key == transform.key, Transform.is_latest)
    ).scalar_one_or_none()
    if latest is not None:
        if _same_version(latest, transform):
            return latest
        if transform.version is None and transform.hash is not None:
            # an older version with this exact source: a revert, not a new version
            older = s.execute(
                select(Transform).where(Transform.key == transform.key, Transform.hash == transform.hash).limit(1)
            ).scalar()
            if older is not None:
                return older
        if transform.version is not None:
            named = s.execute(
                select(Transform).where(Transform.key == transform.key, Transform.version == transform.version).limit(1)
            ).scalar()
            if named is not None:
                return named
        stem = latest.uid[:-4]
        transform.uid = ids.next_version_uid(newest_uid_of_stem(s, Transform.uid, stem) or latest.uid)
        latest.is_latest = False
        s.flush()  # the old latest steps down before the new one goes in (unique index)
    s.add(transform)
    s.flush()
    return transform


def _same_version(stored: "Transform", new: "Transform") -> bool:
    if new.version is not None and stored.version is not None:
        return new.version == stored.version
    if new.hash is not None and stored.hash is not None:
        return new.hash == stored.hash
    # neither says what version it is: a key names one transform
    return new.version is None and new.hash is None or stored.hash is None and new.version is None
