"""Saving a local file or folder as an artifact without the ORM: `lamin save FILE --key KEY`, `lamin save plan.md`.

Importing SQLAlchemy and building the models costs a fresh process several hundred milliseconds, many
times what the save itself does. So the CLI describes the path with create.py's `path_values` (what
`Artifact(path, ...)` uses) and saves it with batch.py's `save_batch` (what `artifact.save()` runs in the
ORM's transaction) on a connection of its own (`db.dbapi`): the same rules, the same row, written by the
same code; only the object that carries the values differs (`NewArtifact` instead of an `Artifact`).
Any storage works: the data half (storing.py) copies to local folders and uploads through fsspec alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import ids
from .batch import StoredArtifact


class NewArtifact:
    """An artifact about to be saved, as plain attributes: what an unsaved `Artifact` holds, without the ORM."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.id: int | None = None
        self.run_id: int | None = None
        self.is_latest = True
        self._revises = None
        self.__dict__.update(values)


def save_local(path: Path, *, key: str | None, description: str | None = None, kind: str | None = None) -> "NewArtifact | StoredArtifact":
    """Save `path` at `key`: the new artifact, or the stored one that has its content (restored from the trash)."""
    from ..db import dbapi
    from ..tracking.context import current_run_id

    from .batch import save_batch, save_with_retries
    from .create import path_values

    artifact = NewArtifact(path_values(path, key=key, description=description, kind=kind))
    artifact.uid = ids.versioned_uid(16)

    def attempt(written: list[str]) -> list[Any]:
        with dbapi.write() as rows:
            return save_batch(rows, [artifact], written, current_run_id())

    return save_with_retries([artifact], attempt, lambda _: None)[0]
