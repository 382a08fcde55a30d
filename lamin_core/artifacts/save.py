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
from typing import TYPE_CHECKING, Any, Iterable

from sqlalchemy import select

from .. import ids
from ..db import engine as db
from ..storage import hashing, managed
from ..storage.managed import staging_prefix
from ..storage.paths import filesystem, is_local, join
from ..storage.registry import forget_roots

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..models import Artifact, Storage

logger = logging.getLogger("lamin_core")
MAX_RETRIES = 8


def managed_key(artifact: "Artifact") -> str:
    return managed.managed_key(artifact.uid, artifact.suffix)


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


_storage_ids: dict[tuple[str, str], int] = {}  # (db url, root) -> Storage.id: roots never move
_storage_roots: dict[tuple[str, int], str] = {}  # (db url, Storage.id) -> root


def _forget_storage_ids() -> None:
    _storage_ids.clear()
    _storage_roots.clear()


db.ROLLBACK_HOOKS.append(_forget_storage_ids)


def storage_id_for(s: "Session", root: str) -> int:
    cache_key = (db.settings().db_url, root)
    sid = _storage_ids.get(cache_key)
    if sid is None:
        sid = get_or_create_storage(s, root).id
        db.after_commit(lambda: _remember_storage(cache_key, sid, root))
    return sid


def _remember_storage(cache_key: tuple[str, str], sid: int, root: str) -> None:
    _storage_ids[cache_key] = sid
    _storage_roots[(cache_key[0], sid)] = root


def storage_root_of(s: "Session", storage_id: int) -> str:
    from ..models import Storage

    cache_key = (db.settings().db_url, storage_id)
    root = _storage_roots.get(cache_key)
    if root is None:
        root = s.get(Storage, storage_id).root  # type: ignore[union-attr]
    return root


def save_artifact(artifact: "Artifact", **_: Any) -> "Artifact":
    if artifact.id is not None:  # already registered: persist metadata changes
        from .key_checks import check_keys

        check_keys([artifact])  # a changed key follows the same rules as a new one
        with db.write() as s:
            s.add(artifact)
        return artifact
    return save_many([artifact])[0]


def save_many(artifacts: Iterable["Artifact"]) -> list["Artifact"]:
    """Save many artifacts in one transaction; returns them in order, existing ones where content matched.

    If a concurrent writer wins a race (the same content, or a new version of the same key, committed a
    moment earlier), the whole unit is retried and then finds the winner's rows.
    """
    from sqlalchemy.exc import DBAPIError

    from ..db.upsert import is_retryable
    from ..tracking.context import current_run_id

    from .key_checks import check_keys

    pending = list(artifacts)
    check_keys(pending)  # every key first: a bad one anywhere in the batch writes nothing
    fresh_uids = [a.uid for a in pending]
    retries = 0 if db.in_write() else MAX_RETRIES  # inside a caller's transaction, the caller decides
    for attempt in range(retries + 1):
        written: list[str] = []  # managed files copied in by this attempt, removed again if it fails
        try:
            with db.write() as s:
                results = _save_batch(s, pending, written, current_run_id())
                if any(getattr(a, "_validation", None) is not None for a in pending):
                    from ..annotate.annotate_artifact import annotate_saved

                    annotate_saved(s, pending, results)  # from_dataframe(schema=): in the same transaction
            break
        except DBAPIError as e:
            _remove_quietly(written)
            _forget_attempt(pending, fresh_uids)
            if attempt == retries or not is_retryable(e):
                raise
            time.sleep(0.002 * (attempt + 1))
        except BaseException:
            _remove_quietly(written)
            _forget_attempt(pending, fresh_uids)
            raise
        finally:
            _tidy_staging(written)
    for a in pending:
        _drop_owned_source(a)
        a.__dict__.pop("_validation", None)  # annotated: the validated DataFrame is not kept
    from .gc import maybe_sweep

    maybe_sweep()  # at most once a day: what crashed saves left in storage
    return results


def _forget_attempt(artifacts: list["Artifact"], fresh_uids: list[str]) -> None:
    """Return artifacts to the state their constructor left them in, after a rolled-back attempt."""
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy.orm import make_transient

    session = db.session()
    for a, uid in zip(artifacts, fresh_uids):
        state = sa_inspect(a)
        if state.session is not None and not state.transient:
            session.expunge(a)
        if not state.transient:
            make_transient(a)
            a.id = None
        a.uid, a.is_latest = uid, True
        if getattr(a, "_hashed_on_copy", False):
            a.hash, a._hashed_on_copy = None, False


def _save_batch(s: "Session", artifacts: list["Artifact"], written: list[str], run_id: int | None) -> list["Artifact"]:
    from ..db.upsert import lock_names
    from .batch import assign_versions, insert_artifacts, known_content_and_keys, step_down_versions

    revised = [a._revises.uid[:-4] for a in artifacts if getattr(a, "_revises", None) is not None]
    lock_names(s, [f"hash:{a.hash}" for a in artifacts if a.hash] + [f"key:{a.key}" for a in artifacts if a.key]
               + [f"key:{stem}" for stem in revised])
    existing, latest_by_key = known_content_and_keys(
        s, {a.hash for a in artifacts if a.hash is not None}, {a.key for a in artifacts if a.key is not None}
    )
    results: list["Artifact"] = []
    new: list["Artifact"] = []
    first_of_hash: dict[str, "Artifact"] = {}
    for a in artifacts:
        if a.hash is not None and a.hash in existing:
            results.append(_return_existing(existing[a.hash]))
        elif a.hash is not None and a.hash in first_of_hash:
            results.append(first_of_hash[a.hash])  # the same content twice in one batch
        else:
            if a.hash is not None:
                first_of_hash[a.hash] = a
            new.append(a)
            results.append(a)
    default_root = db.settings().storage_root
    for a in new:
        a.storage_id = storage_id_for(s, getattr(a, "_storage_root", None) or default_root)
        if a.run_id is None:
            a.run_id = a.run.id if a.__dict__.get("run") is not None else run_id
    step_down_versions(s, assign_versions(s, new, latest_by_key))
    _put_all(s, new, written)
    # content hashed on the way in (large files) may turn out to be registered already
    late, _ = known_content_and_keys(s, {a.hash for a in new if getattr(a, "_hashed_on_copy", False) and a.hash}, set())
    if late:
        return _resolve_late_duplicates(s, artifacts, results, new, late, written)
    insert_artifacts(s, new)
    _publish(new)
    return results


def _resolve_late_duplicates(s: "Session", artifacts: list, results: list, new: list, late: dict, written: list[str]) -> list:
    """Rare: a large file whose hash was only known after copying. Undo its copy and return the stored one."""
    dupes = [a for a in new if getattr(a, "_hashed_on_copy", False) and a.hash in late]
    for a in dupes:
        for path in {getattr(a, "_staged_at", None), getattr(a, "_written_to", None)} - {None}:
            _remove_quietly([path])
            written.remove(path)
        a.__dict__.pop("_staged_at", None)
        new.remove(a)
    from .batch import insert_artifacts

    insert_artifacts(s, new)
    _publish(new)
    return [late[a.hash] if a in dupes else r for a, r in zip(artifacts, results)]


def _return_existing(existing: "Artifact") -> "Artifact":
    from ..models import MAIN_BRANCH_ID, TRASH_BRANCH_ID

    if existing.branch_id == TRASH_BRANCH_ID:
        existing.branch_id = MAIN_BRANCH_ID
        logger.info("→ restored artifact %s from the trash: it has the same content", existing.uid)
    else:
        logger.info("→ returning the existing artifact %s: it has the same content", existing.uid)
    return existing


COPY_THREADS = 4  # file copies release the GIL: a few threads keep the disk busy during ln.save(list)


def _put_all(s: "Session", artifacts: list["Artifact"], written: list[str]) -> None:
    """Copy or upload each artifact's data to where it waits for the commit (see storage/managed.py)."""
    jobs = []
    for a in artifacts:
        source = getattr(a, "_source", None)
        if source is None:
            continue  # registered in place: nothing to copy
        root = storage_root_of(s, a.storage_id)
        dest = join(root, managed_key(a))
        # local: a staging name that says "not committed"; S3: the final key (an unfinished upload is invisible)
        staged = join(root, f"{staging_prefix()}/{a.uid}{a.suffix or ''}") if is_local(root) else dest
        written.extend([staged, dest] if staged != dest else [dest])
        a._written_to, a._staged_at = dest, staged
        jobs.append((a, root, source, staged))
    if len(jobs) > 8:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(COPY_THREADS) as pool:
            list(pool.map(lambda job: _put(*job), jobs))
    else:
        for job in jobs:
            _put(*job)


def _publish(artifacts: list["Artifact"]) -> None:
    """Give staged data its managed name: after the INSERT, just before the commit.

    A crash after this and before the commit leaves a uid-named object that no record names; `lamin gc`
    removes those once they are older than its grace period. The other order (commit, then rename) could
    leave a record without data, which nothing can repair.
    """
    for a in artifacts:
        staged, dest = getattr(a, "_staged_at", None), getattr(a, "_written_to", None)
        if staged is not None and staged != dest:
            os.replace(staged, dest)
        a.__dict__.pop("_staged_at", None)


def _put(artifact: "Artifact", root: str, source: str, dest: str) -> None:
    """Copy or upload the source into managed storage; hash on the way when the hash was deferred."""
    from ..storage.progress import copy_progress, fsspec_callback

    is_dir = os.path.isdir(source)
    if is_local(root):
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if is_dir:
            shutil.copytree(source, dest)
        elif getattr(artifact, "_owned_source", False):
            os.replace(source, dest)  # our own scratch file on the same disk: a rename is enough
        elif artifact.hash is None:
            with copy_progress(artifact.size, f"saving {os.path.basename(source)}") as advance:
                artifact.hash = hashing.copy_and_hash(source, dest, artifact.size, progress=advance)
            artifact._hashed_on_copy = True
        else:
            with copy_progress(artifact.size, f"saving {os.path.basename(source)}") as advance:
                hashing.copy_file(source, dest, progress=advance)
        return
    fs = filesystem(root)
    if is_dir:
        fs.put(source.rstrip("/") + "/", dest, recursive=True)
    else:
        with copy_progress(artifact.size, f"uploading {os.path.basename(source)}") as advance:
            fs.put_file(source, dest, callback=fsspec_callback(advance))
    if artifact.hash is None:
        artifact.hash = hashing.hash_file(source, artifact.size)
        artifact._hashed_on_copy = True


def _drop_owned_source(artifact: "Artifact") -> None:
    src = getattr(artifact, "_source", None)
    if src and getattr(artifact, "_owned_source", False) and os.path.exists(src):
        os.unlink(src)  # scratch file of from_dataframe() whose content was already registered


def _tidy_staging(written: list[str]) -> None:
    """Remove this process's staging folder once nothing waits in it (a scratch file of another artifact may)."""
    folders = {os.path.dirname(p) for p in written if is_local(p) and f"/{managed.STAGING_DIR}/" in p}
    for folder in folders:
        try:
            os.rmdir(folder)
        except OSError:
            pass  # not empty, or gone already


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
