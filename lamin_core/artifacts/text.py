"""Small text artifacts the core writes itself: run reports, environments, source snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from .. import ids
from ..storage.hashing import HASH_TYPE, hash_bytes
from ..storage.paths import filesystem, is_local, join
from .save import default_storage, managed_key

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..models import Artifact


def text_artifact(
    s: "Session", text: str, *, kind: str, suffix: str = ".txt", description: str | None = None, key: str | None = None
) -> "Artifact":
    """The artifact holding `text` in the default storage: the existing one when the content is known."""
    from ..models import Artifact

    data = text.encode()
    digest = hash_bytes(data)
    existing = s.execute(select(Artifact).where(Artifact.hash == digest)).scalar_one_or_none()
    if existing is not None:
        return existing
    storage = default_storage(s)
    artifact = Artifact(
        _fields=dict(
            uid=ids.versioned_uid(16), key=key, storage_id=storage.id, suffix=suffix, size=len(data), hash=digest,
            hash_type=HASH_TYPE, kind=kind, managed=True, description=description,
        )
    )
    artifact.storage = storage
    s.add(artifact)
    s.flush()
    dest = join(storage.root, managed_key(artifact))
    if is_local(dest):
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_bytes(data)
    else:
        with filesystem(dest).open(dest, "wb") as f:
            f.write(data)
    return artifact
