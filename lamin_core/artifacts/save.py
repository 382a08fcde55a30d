"""Saving artifacts: dedupe by content, version by key, copy data in, insert the record: all or nothing.

Order of a save, inside one write transaction (SQLite: the write lock is held from the start):
1. content already registered?  -> return that artifact, write nothing;
2. an artifact at the same key (or `revises`)?  -> this is its next version, the old one stops being latest;
3. insert the record (not yet committed), then copy or upload the data to its managed path;
4. commit. If the copy fails, the transaction rolls back (no record without data); if the commit fails,
   the copied data is removed (no data without a record).

This module is the ORM's route (`artifact.save()`, `ln.save([...])`, deleting); the rules themselves live
once, on plain rows, in batch.py (the database half) and storing.py (the data half), which `lamin save FILE`
runs without SQLAlchemy (plain.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from sqlalchemy import select

from ..db import engine as db
from ..storage.paths import join
from ..storage.registry import forget_roots
from .storing import managed_key, remove_quietly

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..models import Artifact, Storage


def get_or_create_storage(s: "Session", root: str) -> "Storage":
    """The Storage row for `root`, inserted if new by the one rule on plain rows (`storage_rows.storage_id`),
    in a savepoint: when another process inserts it at the same moment, its row is found instead (`lamin init`,
    `ln.settings.storage` run outside any retry)."""
    from sqlalchemy.exc import IntegrityError

    from ..db.dbapi import rows_of
    from ..lineage.storage_rows import storage_id
    from ..models import Storage

    try:
        with s.begin_nested():
            found = storage_id(rows_of(s), root)
    except IntegrityError:
        found = s.execute(select(Storage.id).where(Storage.root == root)).scalar_one()
        forget_roots()  # (storage_id forgets them when it inserts)
    storage = s.get(Storage, found)
    assert storage is not None
    return storage


def default_storage(s: "Session") -> "Storage":
    return get_or_create_storage(s, db.settings().storage_root)


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

    The rules are batch.py's, on plain rows in this session's transaction; the new Artifact objects are
    then attached to the session as if loaded (several times cheaper than the ORM's unit of work for a
    table this wide), stored ones are read back as Artifact objects.
    """
    from ..db.dbapi import rows_of
    from ..tracking.context import current_run_id

    from .batch import save_batch, save_with_retries

    pending = list(artifacts)

    def attempt(written: list[str]) -> list["Artifact"]:
        with db.write() as s:
            results = _as_loaded(s, save_batch(rows_of(s), pending, written, current_run_id()))
            if any(getattr(a, "_validation", None) is not None for a in pending):
                from ..annotate.annotate_artifact import annotate_saved

                annotate_saved(s, pending, results)  # from_dataframe(schema=): in the same transaction
        return results

    results = save_with_retries(pending, attempt, _forget_attempt)
    for a in pending:
        a.__dict__.pop("_validation", None)  # annotated: the validated DataFrame is not kept
    return results


def _as_loaded(s: "Session", results: list[Any]) -> list["Artifact"]:
    """New artifacts join the session as persistent objects; stored ones are read as Artifact objects."""
    from sqlalchemy.orm import make_transient_to_detached

    from ..models import Artifact

    from .batch import StoredArtifact

    out: list["Artifact"] = []
    attached: set[int] = set()
    for r in results:
        if isinstance(r, StoredArtifact):
            found = s.get(Artifact, r.id)
            assert found is not None
            out.append(found)
            continue
        if id(r) not in attached:  # the same content twice in one batch: one object
            attached.add(id(r))
            make_transient_to_detached(r)
            s.add(r)
        out.append(r)
    return out


def _forget_attempt(a: "Artifact") -> None:
    """An Artifact leaves the session of a rolled-back attempt as its constructor left it (batch.py resets
    the rest: id, uid, is_latest, a hash computed on the way)."""
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy.orm import make_transient

    state = sa_inspect(a)
    if state.session is not None and not state.transient:
        db.session().expunge(a)
    if not state.transient:
        make_transient(a)


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
        remove_quietly([path])


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
