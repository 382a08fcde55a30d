"""Small text artifacts the core writes itself: run reports, environments, source snapshots.

`text_artifact_id` is the one implementation, on plain rows (`db.dbapi`), so that `ln.track()` records a
script's environment without importing SQLAlchemy; `text_artifact` runs it in an ORM session.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import ids
from ..storage.hashing import HASH_TYPE, hash_bytes
from ..storage.managed import managed_key
from ..storage.paths import filesystem, is_local, join

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..db.dbapi import Rows
    from ..models import Artifact

ARTIFACT_UID_STEM = 16


def text_artifact_id(
    rows: "Rows", text: str, *, kind: str, suffix: str = ".txt", description: str | None = None, key: str | None = None
) -> int:
    """The id of the artifact holding `text` in the default storage: the existing one when the content is known.

    The file is written before the row goes in: a failed write leaves no row, and the transaction that
    inserts the row commits or rolls back with the caller's work.
    """
    from ..db import engine as db
    from ..lineage.storage_rows import storage_id as storage_id_of

    from .batch import artifact_row

    data = text.encode()
    digest = hash_bytes(data)
    existing = rows.scalar("SELECT id FROM artifacts WHERE hash = :hash", {"hash": digest})
    if existing is not None:
        return int(existing)
    root = db.settings().storage_root
    storage_id = storage_id_of(rows, root)
    uid = ids.versioned_uid(ARTIFACT_UID_STEM)
    dest = join(root, managed_key(uid, suffix))
    if is_local(dest):
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_bytes(data)
    else:
        with filesystem(dest).open(dest, "wb") as f:
            f.write(data)
    values = artifact_row(rows, {
        "uid": uid, "key": key, "description": description, "storage_id": storage_id, "suffix": suffix,
        "size": len(data), "hash": digest, "hash_type": HASH_TYPE, "kind": kind,
    })
    return rows.insert("artifacts", values)


def text_artifact(
    s: "Session", text: str, *, kind: str, suffix: str = ".txt", description: str | None = None, key: str | None = None
) -> "Artifact":
    """`text_artifact_id` in an ORM session, as an Artifact."""
    from ..db.dbapi import rows_of
    from ..models import Artifact

    s.flush()
    artifact = s.get(Artifact, text_artifact_id(rows_of(s), text, kind=kind, suffix=suffix, description=description, key=key))
    assert artifact is not None
    return artifact
