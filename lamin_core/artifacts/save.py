"""Saving artifacts: dedupe by content, version by key, copy data in, insert the record: all or nothing.

Order of a save, inside one write transaction (SQLite: the write lock is held from the start):
1. content already registered?  -> return that artifact, write nothing;
2. an artifact at the same key (or `revises`)?  -> this is its next version, the old one stops being latest;
3. insert the record (not yet committed), then copy or upload the data to its managed path;
4. commit. If the copy fails, the transaction rolls back (no record without data); if the commit fails,
   the copied data is removed (no data without a record).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from sqlalchemy import func, select

from .. import ids
from ..db import engine as db
from ..storage import hashing
from ..storage.paths import filesystem, is_local, join
from ..storage.registry import forget_roots

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..models import Artifact, Storage

logger = logging.getLogger("lamin_core")
MANAGED_PREFIX = ".lamindb"
MAX_RETRIES = 8


def managed_key(artifact: "Artifact") -> str:
    return f"{MANAGED_PREFIX}/{artifact.uid}{artifact.suffix or ''}"


def get_or_create_storage(s: "Session", root: str) -> "Storage":
    """The Storage row for `root`, inserted if new (safe when another process inserts it concurrently)."""
    import socket

    from sqlalchemy.exc import IntegrityError

    from ..models import Storage
    from ..setup.instance import storage_type

    storage = s.execute(select(Storage).where(Storage.root == root)).scalar_one_or_none()
    if storage is not None:
        return storage
    storage = Storage(
        root=root, type=storage_type(root), host=socket.gethostname() if is_local(root) else None, uid=ids.base62(12)
    )
    try:
        with s.begin_nested():
            s.add(storage)
    except IntegrityError:
        storage = s.execute(select(Storage).where(Storage.root == root)).scalar_one()
    forget_roots()
    return storage


def default_storage(s: "Session") -> "Storage":
    return get_or_create_storage(s, db.settings().storage_root)


def _existing_by_hash(s: "Session", digest: str | None) -> "Artifact | None":
    from ..models import Artifact

    if digest is None:
        return None
    return s.execute(select(Artifact).where(Artifact.hash == digest)).scalar_one_or_none()


def _previous_version(s: "Session", artifact: "Artifact", storage_id: int) -> "Artifact | None":
    from ..models import Artifact

    revises = getattr(artifact, "_revises", None)
    if revises is not None:
        stem = revises.uid[:-4]
        return s.execute(
            select(Artifact).where(Artifact.uid.startswith(stem, autoescape=True), Artifact.is_latest)
        ).scalar_one_or_none() or revises
    if artifact.key is None:
        return None
    return s.execute(
        select(Artifact).where(Artifact.storage_id == storage_id, Artifact.key == artifact.key, Artifact.is_latest)
    ).scalar_one_or_none()


def _next_uid(s: "Session", previous: "Artifact") -> str:
    from ..models import Artifact

    stem = previous.uid[:-4]
    newest = s.execute(select(func.max(Artifact.uid)).where(Artifact.uid.startswith(stem, autoescape=True))).scalar()
    return ids.next_version_uid(newest or previous.uid)


def save_artifact(artifact: "Artifact", **_: Any) -> "Artifact":
    if artifact.id is not None:  # already registered: persist metadata changes
        with db.write() as s:
            s.add(artifact)
        return artifact
    return save_many([artifact])[0]


def save_many(artifacts: Iterable["Artifact"]) -> list["Artifact"]:
    """Save many artifacts in one transaction; returns them in order, existing ones where content matched.

    If a concurrent writer wins a race (the same content, or a new version of the same key, committed a
    moment earlier), the whole unit is retried and then finds the winner's rows.
    """
    from sqlalchemy.exc import IntegrityError

    from ..db.upsert import is_unique_violation
    from ..tracking.context import current_run_id

    pending = list(artifacts)
    fresh_uids = [a.uid for a in pending]
    retries = 0 if db.in_write() else MAX_RETRIES  # inside a caller's transaction, the caller decides
    for attempt in range(retries + 1):
        written: list[str] = []  # managed files copied in by this attempt, removed again if it fails
        try:
            with db.write() as s:
                results = [_save_one(s, a, written, current_run_id()) for a in pending]
            break
        except IntegrityError as e:
            _remove_quietly(written)
            if attempt == retries or not is_unique_violation(e):
                raise
            for a, uid in zip(pending, fresh_uids):
                a.uid = uid
            time.sleep(0.002 * (attempt + 1))
        except BaseException:
            _remove_quietly(written)
            raise
    for a in pending:
        _drop_owned_source(a)
    return results


def _save_one(s: "Session", artifact: "Artifact", written: list[str], run_id: int | None) -> "Artifact":
    from ..models import MAIN_BRANCH_ID, TRASH_BRANCH_ID

    source: str | None = getattr(artifact, "_source", None)
    deferred_hash = artifact.hash is None and source is not None and os.path.isfile(source)
    existing = _existing_by_hash(s, artifact.hash)
    if existing is not None:
        return _return_existing(existing, MAIN_BRANCH_ID, TRASH_BRANCH_ID)
    root = getattr(artifact, "_storage_root", None)
    storage = get_or_create_storage(s, root) if root else default_storage(s)
    artifact.storage = storage
    previous = _previous_version(s, artifact, storage.id)
    if previous is not None:
        artifact.uid = _next_uid(s, previous)
        if artifact.key is None:
            artifact.key = previous.key
        previous.is_latest = False
        s.flush()  # the old latest must step down before the new one is inserted (unique index)
    if artifact.run_id is None and artifact.run is None:
        artifact.run_id = run_id
    if source is not None:
        digest = _put(artifact, storage.root, source, written)
        if deferred_hash:
            artifact.hash = digest
            existing = _existing_by_hash(s, digest)
            if existing is not None:
                _remove_quietly(written[-1:])
                del written[-1:]
                if previous is not None:
                    previous.is_latest = True
                return _return_existing(existing, MAIN_BRANCH_ID, TRASH_BRANCH_ID)
    s.add(artifact)
    s.flush()
    return artifact


def _return_existing(existing: "Artifact", main_id: int, trash_id: int) -> "Artifact":
    if existing.branch_id == trash_id:
        existing.branch_id = main_id
        logger.info("→ restored artifact %s from the trash: it has the same content", existing.uid)
    else:
        logger.info("→ returning the existing artifact %s: it has the same content", existing.uid)
    return existing


def _put(artifact: "Artifact", root: str, source: str, written: list[str]) -> str | None:
    """Copy or upload the source into managed storage. Returns the hash when it was computed on the way."""
    dest = join(root, managed_key(artifact))
    is_dir = os.path.isdir(source)
    if is_local(root):
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        written.append(dest)
        if is_dir:
            shutil.copytree(source, dest)
            return None
        if getattr(artifact, "_owned_source", False):
            os.replace(source, dest)  # our own scratch file on the same disk: a rename is enough
            return None
        if artifact.hash is None:
            return hashing.copy_and_hash(source, dest, artifact.size)
        shutil.copyfile(source, dest)
        return None
    fs = filesystem(root)
    written.append(dest)
    if is_dir:
        fs.put(source.rstrip("/") + "/", dest, recursive=True)
    else:
        fs.put_file(source, dest)
    return hashing.hash_file(source, artifact.size) if artifact.hash is None else None


def _drop_owned_source(artifact: "Artifact") -> None:
    src = getattr(artifact, "_source", None)
    if src and getattr(artifact, "_owned_source", False) and os.path.exists(src):
        os.unlink(src)  # scratch file of from_dataframe() whose content was already registered


def _remove_quietly(paths: list[str]) -> None:
    for p in paths:
        try:
            if is_local(p):
                shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
            else:
                filesystem(p).rm(p, recursive=True)
        except FileNotFoundError:
            pass
        except Exception as e:  # leave the orphan but say so: nothing references it
            logger.warning("could not remove %s after a failed save: %s", p, e)


def delete_artifact(artifact: "Artifact", permanent: bool) -> None:
    """Trash by default; permanently: the record, then managed data (never data registered in place)."""
    from ..models import TRASH_BRANCH_ID

    if not permanent:
        with db.write() as s:
            artifact.branch_id = TRASH_BRANCH_ID
            s.add(artifact)
        return
    path = join(artifact.storage.root, managed_key(artifact)) if artifact.managed else None
    with db.write() as s:
        if artifact.is_latest and artifact.key is not None:
            _promote_previous_version(s, artifact)
        s.delete(artifact)
    if path is not None:
        _remove_quietly([path])


def _promote_previous_version(s: "Session", artifact: "Artifact") -> None:
    from ..models import Artifact

    previous = s.execute(
        select(Artifact)
        .where(Artifact.uid.startswith(artifact.uid[:-4], autoescape=True), Artifact.id != artifact.id)
        .order_by(Artifact.uid.desc())
        .limit(1)
    ).scalar_one_or_none()
    if previous is not None:
        artifact.is_latest = False
        s.flush()
        previous.is_latest = True
