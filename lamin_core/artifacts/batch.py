"""The database half of saving artifacts, on plain rows (`db.dbapi`): one implementation for every route.

`artifact.save()` and `ln.save([...])` run it in the ORM's transaction (`dbapi.rows_of(session)`; save.py
then attaches their objects as if loaded), `lamin save FILE` on a connection of its own (plain.py), so
that the CLI never imports SQLAlchemy. The rules of a save (see save.py's docstring for their order) live
here once: dedupe by content (restoring from the trash), version by key or `revises`, the storage row,
the current run, the insert, then publishing the copied data just before the commit.

A batch of any size takes a constant number of queries: one for content that is already registered and
the latest versions of the keys, one UPDATE that steps old versions down, one multi-row INSERT.

The artifacts it saves are any objects with the artifact's columns as attributes (`Artifact`s, or
`plain.NewArtifact`s) and the save-time state create.py gives them (`_storage_root`, `_source`, ...).
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from .. import log
from ..db import dbapi

if TYPE_CHECKING:
    from ..db.dbapi import Rows

MAX_RETRIES = 8
STEP_DOWN_CHUNK = 10_000  # ids per UPDATE: far below either backend's parameter limit
# models/base.py's branch ids, here without importing the models (tests/test_cli_save_rows.py checks they agree)
MAIN_BRANCH_ID, TRASH_BRANCH_ID = 1, -1
# the artifacts table's columns (but id and the record defaults) with the defaults models/artifact.py
# declares: what a new row gets where the artifact says nothing (tests/test_cli_save_rows.py checks them)
COLUMN_DEFAULTS: dict[str, Any] = {
    "uid": None, "key": None, "description": None, "storage_id": None, "suffix": "", "size": None, "hash": None,
    "hash_type": None, "n_files": None, "otype": None, "kind": None, "version": None, "is_latest": True,
    "managed": True, "facets": None, "run_id": None, "schema_id": None,
}


class StoredArtifact(NamedTuple):
    """A stored artifact a save returns instead of a new one (its content was registered already)."""

    id: int
    uid: str
    key: str | None
    hash: str | None
    storage_id: int
    is_latest: bool
    branch_id: int


LatestByKey = dict[tuple[int, str], StoredArtifact]  # (storage id, key) -> its latest version


def artifact_row(rows: "Rows", values: dict[str, Any]) -> dict[str, Any]:
    """Every column of a new artifacts row: `values`, the record defaults, and the columns' own defaults."""
    from ..db.dbapi import record_defaults

    defaults = record_defaults(rows)
    return {**COLUMN_DEFAULTS, **defaults, "updated_at": defaults["created_at"], **values}


def save_with_retries(artifacts: list[Any], attempt: Callable[[list[str]], list[Any]],
                      forget: Callable[[Any], None]) -> list[Any]:
    """Check the keys, then run `attempt(written)` (one transaction that calls `save_batch`) until it commits.

    If a concurrent writer wins a race (the same content, or a new version of the same key, committed a
    moment earlier), the whole unit is retried and then finds the winner's rows. After a failed attempt the
    data it copied is removed and each artifact returns to its unsaved state (`forget` does the route's part).
    """
    from ..db import dbapi
    from .gc import maybe_sweep
    from .key_checks import check_keys
    from .storing import drop_owned_source, remove_quietly, tidy_staging

    check_keys(artifacts)  # every key first: a bad one anywhere in the batch writes nothing
    fresh_uids = [a.uid for a in artifacts]
    retries = 0 if dbapi.in_write() else MAX_RETRIES  # inside a caller's transaction, the caller decides
    for n in range(retries + 1):
        written: list[str] = []  # managed files copied in by this attempt, removed again if it fails
        try:
            results = attempt(written)
            break
        except BaseException as e:
            remove_quietly(written)
            for a, uid in zip(artifacts, fresh_uids):
                forget(a)
                a.id, a.uid, a.is_latest = None, uid, True
                if getattr(a, "_hashed_on_copy", False):
                    a.hash, a._hashed_on_copy = None, False
            if n == retries or not _retryable(e):
                raise
            time.sleep(0.002 * (n + 1))
        finally:
            tidy_staging(written)
    for a in artifacts:
        drop_owned_source(a)
    maybe_sweep()  # at most once a day: what crashed saves left in storage
    return results


def _retryable(error: BaseException) -> bool:
    """A database error (SQLAlchemy's, as `Rows` raises them too) from a race the retry will find settled."""
    from ..db.upsert import is_retryable

    exc = sys.modules.get("sqlalchemy.exc")  # not imported: not a database error
    return exc is not None and isinstance(error, exc.DBAPIError) and is_retryable(error)


def save_batch(rows: "Rows", artifacts: list[Any], written: list[str], run_id: int | None) -> list[Any]:
    """Save new artifacts in the caller's transaction; returns, in order, each one or the `StoredArtifact`
    with its content. The copied data is published, so the caller commits right after."""
    from ..db import engine as db
    from ..lineage.storage_rows import storage_id
    from .storing import publish, put_all

    revised = [a._revises.uid[:-4] for a in artifacts if getattr(a, "_revises", None) is not None]
    rows.lock([f"hash:{a.hash}" for a in artifacts if a.hash] + [f"key:{a.key}" for a in artifacts if a.key]
              + [f"key:{stem}" for stem in revised])
    existing, latest_by_key = _known(rows, {a.hash for a in artifacts if a.hash is not None},
                                     {a.key for a in artifacts if a.key is not None})
    results: list[Any] = []
    new: list[Any] = []
    first_of_hash: dict[str, Any] = {}
    for a in artifacts:
        if a.hash is not None and a.hash in existing:
            existing[a.hash] = _return_existing(rows, existing[a.hash])  # restored once, if trashed
            results.append(existing[a.hash])
        elif a.hash is not None and a.hash in first_of_hash:
            results.append(first_of_hash[a.hash])  # the same content twice in one batch
        else:
            if a.hash is not None:
                first_of_hash[a.hash] = a
            new.append(a)
            results.append(a)
    default_root = db.settings().storage_root
    roots: dict[int, str] = {}
    ids_of: dict[str, int] = {}  # storage_id() caches only once committed: once per root and batch here
    for a in new:
        root = getattr(a, "_storage_root", None) or default_root
        if root not in ids_of:
            ids_of[root] = storage_id(rows, root)
        a.storage_id = ids_of[root]
        roots[a.storage_id] = root
        if a.run_id is None:
            a.run_id = a.run.id if a.__dict__.get("run") is not None else run_id
    _step_down(rows, _assign_versions(rows, new, latest_by_key))
    put_all(new, roots, written)
    # content hashed on the way in (large files) may turn out to be registered already
    late, _ = _known(rows, {a.hash for a in new if getattr(a, "_hashed_on_copy", False) and a.hash}, set())
    if late:
        results = _resolve_late_duplicates(artifacts, results, new, late, written)
    _insert(rows, new)
    publish(new)
    return results


def _resolve_late_duplicates(artifacts: list[Any], results: list[Any], new: list[Any],
                             late: dict[str, StoredArtifact], written: list[str]) -> list[Any]:
    """Rare: a large file whose hash was only known after copying. Undo its copy and return the stored one."""
    from .storing import unput

    dupes = [a for a in new if getattr(a, "_hashed_on_copy", False) and a.hash in late]
    for a in dupes:
        unput(a, written)
        new.remove(a)
    return [late[a.hash] if a in dupes else r for a, r in zip(artifacts, results)]


def _known(rows: "Rows", hashes: set[str], keys: set[str]) -> tuple[dict[str, StoredArtifact], LatestByKey]:
    """One query for both questions a save asks: which contents are registered, which keys have versions."""
    from ..db.lookups import union_rows

    if not hashes and not keys:
        return {}, {}
    found = union_rows(rows, "artifacts_to_save",
                       "SELECT id, uid, key, hash, storage_id, is_latest, branch_id FROM artifacts", [
                           ("hash = :h", [{"h": h} for h in sorted(hashes)]),
                           (f"key = :k AND is_latest = {rows.true}", [{"k": k} for k in sorted(keys)]),
                       ])
    stored = [StoredArtifact(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6]) for r in found]
    existing = {a.hash: a for a in stored if a.hash is not None and a.hash in hashes}
    latest = {(a.storage_id, a.key): a for a in stored if a.is_latest and a.key in keys}
    return existing, latest  # type: ignore[return-value]


def _return_existing(rows: "Rows", existing: StoredArtifact) -> StoredArtifact:
    if existing.branch_id == TRASH_BRANCH_ID:
        rows.execute("UPDATE artifacts SET branch_id = :branch, updated_at = :now WHERE id = :id",
                     {"branch": MAIN_BRANCH_ID, "now": datetime.now(timezone.utc), "id": existing.id})
        dbapi.expire_if_loaded("Artifact", [existing.id], ["branch_id", "updated_at"])  # an Artifact the user holds sees it
        log.info("→ restored artifact %s from the trash: it has the same content", existing.uid)
        return existing._replace(branch_id=MAIN_BRANCH_ID)
    log.info("→ returning the existing artifact %s: it has the same content", existing.uid)
    return existing


def _assign_versions(rows: "Rows", artifacts: list[Any], latest_in_db: LatestByKey) -> list[int]:
    """Give each artifact that continues a key (or `revises` one) its next version uid (versions.py's rule).

    Returns the ids of stored artifacts that stop being the latest version. Several new artifacts for one
    key in one batch become consecutive versions, the last one latest.
    """
    from .versions import VersionCounter

    latest_in_db = dict(latest_in_db)
    versions = VersionCounter(rows)
    latest_in_batch: dict[tuple[int, str], Any] = {}
    step_down: list[int] = []
    for a in artifacts:
        revises = getattr(a, "_revises", None)
        slot = (a.storage_id, a.key) if a.key is not None else None
        previous_uid: str | None = None
        if slot is not None and slot in latest_in_batch:
            earlier = latest_in_batch[slot]
            earlier.is_latest = False
            previous_uid = earlier.uid
        elif slot is not None and slot in latest_in_db:
            previous = latest_in_db.pop(slot)
            step_down.append(previous.id)
            previous_uid = previous.uid
        elif revises is not None:
            previous_uid = _latest_uid_of_stem(rows, revises.uid[:-4], step_down) or revises.uid
        if previous_uid is not None:
            a.uid = versions.next_after(previous_uid)
        if slot is not None:
            latest_in_batch[slot] = a
    return step_down


def _latest_uid_of_stem(rows: "Rows", stem: str, step_down: list[int]) -> str | None:
    from .versions import family_range

    found = rows.one(f"SELECT id, uid FROM artifacts WHERE uid >= :lo AND uid <= :hi AND is_latest = {rows.true}",
                     family_range(stem))
    if found is None:
        return None
    step_down.append(found[0])
    return found[1]


def _step_down(rows: "Rows", artifact_ids: list[int]) -> None:
    """Old versions stop being latest (before the new ones go in: the one-latest-per-key index needs it)."""
    if not artifact_ids:
        return
    now = datetime.now(timezone.utc)
    for start in range(0, len(artifact_ids), STEP_DOWN_CHUNK):
        chunk = artifact_ids[start : start + STEP_DOWN_CHUNK]
        marks = ", ".join(f":id_{i}" for i in range(len(chunk)))
        rows.execute(f"UPDATE artifacts SET is_latest = :no, updated_at = :now WHERE id IN ({marks})",
                     {"no": False, "now": now, **{f"id_{i}": v for i, v in enumerate(chunk)}})
    dbapi.expire_if_loaded("Artifact", artifact_ids, ["is_latest", "updated_at"])  # Artifacts the user holds see it


def _insert(rows: "Rows", artifacts: list[Any]) -> None:
    """INSERT the rows in one statement; each artifact gets its id and the defaults its row got."""
    if not artifacts:
        return
    defaults = artifact_row(rows, {})
    values = []
    for a in artifacts:
        row = {}
        for name, default in defaults.items():
            value = a.__dict__.get(name)
            if value is None and default is not None:
                value = default
                setattr(a, name, value)
            row[name] = value
        values.append(row)
    # one multi-row INSERT; matched back by uid: SQLite does not return the rows in the VALUES order
    new_ids = {uid: new_id for new_id, uid in rows.insert_many("artifacts", values, returning="id, uid")}
    for a in artifacts:
        a.id = new_ids[a.uid]
