"""The key rules at save time: a key a user can change must stay a safe path inside its storage root.

`Artifact(path, key=...)` checks the key it is given, but a key can change afterwards (`artifact.key = ...`
before or after the first save). Every save path (`artifact.save()`, `ln.save([...])`) calls
`check_keys()` before it writes anything, so a bad key raises `InvalidKeyError` and nothing changes:
not the database, and not the object either (its key goes back to what is stored).

Renaming a managed artifact changes only its record: the stored object is named by uid
(`.lamindb/<uid><suffix>`), never by key. An artifact registered in place has no such freedom: its key
*is* where its data lies, so its key cannot be changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from .. import log
from ..errors import InvalidKeyError
from ..storage.keys import validate_key

if TYPE_CHECKING:
    from ..models import Artifact


def check_keys(artifacts: Iterable["Artifact"]) -> None:
    """Raise InvalidKeyError for the first artifact whose key may not be saved; check all before any write."""
    for artifact in artifacts:
        if artifact.id is None:
            _check_new(artifact)
        else:
            check_stored_key(artifact)


def _check_new(artifact: "Artifact") -> None:
    placed = artifact.__dict__.get("_placed_key", _UNSET)
    if not artifact.managed and placed is not _UNSET and artifact.key != placed:
        key = artifact.key
        artifact.key = placed
        raise InvalidKeyError(_in_place_message(key, placed))
    if artifact.managed and artifact.key is not None:
        validate_key(artifact.key)


def check_stored_key(artifact: "Artifact") -> None:
    """For a stored artifact: its key may change only to a valid one, and only when it is managed.

    Also called for every flush of an Artifact update (models/artifact.py), so a key changed without
    `save()` cannot reach the database through some other record's commit either.
    """
    from sqlalchemy import inspect as sa_inspect

    history = sa_inspect(artifact).attrs.key.history
    if not history.added:
        return  # unchanged since it was loaded or last saved
    new_key, old_key = history.added[0], (history.deleted[0] if history.deleted else None)
    try:
        if not artifact.managed:
            raise InvalidKeyError(_in_place_message(new_key, old_key))
        if new_key is not None:
            validate_key(new_key)
    except InvalidKeyError:
        # nothing changed: a later flush of the same session must not write the refused key either
        from sqlalchemy.orm.attributes import set_committed_value

        set_committed_value(artifact, "key", old_key)
        raise


def drop_refused_key(artifact: "Artifact") -> None:
    """At a flush some other write started (the artifact's own `save()` checked already): keep the stored
    key, and say so. Raising inside a flush would leave the whole session unusable for the user."""
    try:
        check_stored_key(artifact)
    except InvalidKeyError as e:
        log.warning("the key change of artifact %s was not saved: %s", artifact.uid, e)


def _in_place_message(new_key: object, old_key: object) -> str:
    return (
        f"cannot change the key of an artifact registered in place from {old_key!r} to {new_key!r}: its key is where "
        "its data lies in storage; move the data and register it again with ln.Artifact(new_path)"
    )


_UNSET = object()
