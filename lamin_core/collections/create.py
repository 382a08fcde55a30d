"""Creating and saving collections: members checked first, then one transaction writes the row and its members.

`ln.Collection([a1, a2], key="k")`: the members must be saved artifacts; their order is kept. The hash is
taken over the members' hashes in order, so the same artifacts in the same order are the same collection:
saving it again returns the stored one. A new set under a key that exists (or `revises=`) is its next
version: the previous one stops being the latest, in the same transaction, under a lock on the key so
that two concurrent savers make two consecutive versions rather than two "latest" ones.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from .. import ids
from ..db import engine as db

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..models import Artifact, Collection

logger = logging.getLogger("lamin_core")


def _members(artifacts: Any) -> list["Artifact"]:
    """Saved artifacts, in order, listed once each; every problem in one error."""
    from ..models import Artifact

    if artifacts is None:
        raise ValueError("Collection() needs artifacts: ln.Collection([artifact1, artifact2], key='...')")
    items = [artifacts] if isinstance(artifacts, Artifact) else list(artifacts)
    if not items:
        raise ValueError("a collection needs at least one artifact")
    problems = []
    for i, a in enumerate(items):
        if not isinstance(a, Artifact):
            problems.append(f"item {i} is a {type(a).__name__}, not an ln.Artifact")
        elif a.id is None:
            problems.append(f"artifact {a.key or a.uid} (item {i}) is not saved: call .save() on it first")
    seen: set[int] = set()
    doubled = [a.key or a.uid for a in items if isinstance(a, Artifact) and a.id is not None and (a.id in seen or seen.add(a.id))]  # type: ignore[func-returns-value]
    if doubled:
        problems.append(f"artifacts listed twice: {', '.join(doubled)}")
    if problems:
        raise ValueError("cannot make the collection:\n- " + "\n- ".join(problems))
    return items


def members_hash(artifacts: list["Artifact"]) -> str:
    """22 characters of BLAKE2b over the members' content hashes (their uids where a hash is unknown), in order."""
    text = "\n".join(a.hash or f"uid:{a.uid}" for a in artifacts)
    return base64.urlsafe_b64encode(hashlib.blake2b(text.encode(), digest_size=16).digest()).decode().rstrip("=")


def init_collection(
    collection: "Collection",
    artifacts: Any,
    *,
    key: str | None = None,
    description: str | None = None,
    revises: "Collection | None" = None,
    version: str | None = None,
    run: Any = None,
    **kwargs: Any,
) -> None:
    from ..models import Collection, SQLRecord

    if kwargs:
        raise TypeError(f"Collection() got unknown argument(s) {', '.join(sorted(kwargs))}; it takes artifacts, key, description, revises, version, run")
    members = _members(artifacts)
    if revises is not None:
        if not isinstance(revises, Collection) or revises.id is None:
            raise ValueError("revises= takes a saved ln.Collection")
        key = key or revises.key
    if not key:
        raise ValueError("a collection needs a key: ln.Collection([...], key='my-collection')")
    SQLRecord.__init__(collection, key=key, description=description, version=version, hash=members_hash(members))
    collection.uid = ids.versioned_uid(16)
    collection._members = members
    collection._revises = revises
    if run is not None:
        collection.run = run


def save_collection(collection: "Collection") -> "Collection":
    if collection.id is not None:  # saved: persist metadata changes (description, ...)
        with db.write() as s:
            s.add(collection)
        return collection
    with db.write() as s:
        saved = _save_in(s, collection)
    if saved is not collection:
        logger.info("→ returning the existing collection %s: it has the same artifacts in the same order", saved.uid)
        return saved
    collection._members = None
    return collection


def _save_in(s: "Session", collection: "Collection") -> "Collection":
    from ..db.upsert import lock_names
    from ..models import Collection
    from ..models.collection import collection_artifacts
    from ..tracking.context import current_run_id

    revises = getattr(collection, "_revises", None)
    lock_names(s, [f"collection-key:{collection.key}", f"collection-hash:{collection.hash}"]
               + ([f"collection-stem:{revises.uid[:-4]}"] if revises is not None else []))
    existing = s.execute(
        select(Collection).where(Collection.hash == collection.hash, Collection.key == collection.key)
        .order_by(Collection.id.desc()).limit(1)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    previous = _previous_version(s, collection, revises)
    if previous is not None:
        stem = previous.uid[:-4]
        newest = s.execute(
            select(Collection.uid).where(Collection.uid.startswith(stem, autoescape=True)).order_by(Collection.uid.desc()).limit(1)
        ).scalar_one()
        collection.uid = ids.next_version_uid(newest)
        s.execute(update(Collection).where(Collection.uid.startswith(stem, autoescape=True), Collection.is_latest)
                  .values(is_latest=False))
        if collection.version is None and previous.version is not None and previous.version.isdigit():
            collection.version = str(int(previous.version) + 1)
    if collection.run_id is None:
        collection.run_id = collection.__dict__["run"].id if collection.__dict__.get("run") is not None else current_run_id()
    collection.is_latest = True
    s.add(collection)
    s.flush()
    s.execute(insert(collection_artifacts), [
        {"collection_id": collection.id, "artifact_id": a.id, "position": i} for i, a in enumerate(collection._members)
    ])
    return collection


def _previous_version(s: "Session", collection: "Collection", revises: "Collection | None") -> "Collection | None":
    """The latest version this one continues: of `revises`' stem, else the latest collection under the same key."""
    from ..models import Collection

    if revises is not None:
        return s.execute(
            select(Collection).where(Collection.uid.startswith(revises.uid[:-4], autoescape=True))
            .order_by(Collection.is_latest.desc(), Collection.uid.desc()).limit(1)
        ).scalar_one()
    return s.execute(
        select(Collection).where(Collection.key == collection.key, Collection.is_latest).order_by(Collection.id.desc()).limit(1)
    ).scalar_one_or_none()
