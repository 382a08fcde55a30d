"""A storage location's row, on plain rows (`db.dbapi`): `storage_id(rows, root)`, its row inserted when new.

The one rule for storage rows, whichever way they are reached: the recording path (`artifact_book.py`),
every save (`artifacts/batch.py`), text artifacts (`artifacts/text.py`) and the ORM's
`artifacts.save.get_or_create_storage` (`lamin init`, `ln.settings.storage`). Written against `Rows`, so
that the adapters' recording child and `lamin save FILE` use it without importing SQLAlchemy. Which
location a path belongs to is `storage.registry.find_storage_root`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..db import dbapi
from ..db import engine as db
from ..storage import registry

if TYPE_CHECKING:
    from ..db.dbapi import Rows

_storage_ids: dict[tuple[str, str], int] = {}  # (db url, root) -> Storage.id: roots never move


def _forget() -> None:
    _storage_ids.clear()


db.ROLLBACK_HOOKS.append(_forget)


def storage_id(rows: "Rows", root: str) -> int:
    """The Storage id of `root`, its row inserted if new: a concurrent writer's row wins the race, and the
    retried unit of work (or the ORM's savepoint) finds it. Cached per process once committed."""
    cache_key = (db.settings().db_url, root)
    sid = _storage_ids.get(cache_key)
    if sid is not None:
        return sid
    found = rows.scalar("SELECT id FROM storages WHERE root = :root", {"root": root})
    if found is None:
        found = _insert(rows, root)
        registry.forget_roots()  # a new location: datasets under it resolve to it from now on
    sid = int(found)
    dbapi.after_commit(lambda: _storage_ids.__setitem__(cache_key, sid))  # other threads: committed rows only
    return sid


def _insert(rows: "Rows", root: str) -> int:
    import socket

    from .. import ids
    from ..setup.instance import storage_type
    from ..storage.paths import is_local

    return rows.insert("storages", {
        **dbapi.record_defaults(rows), "uid": ids.base62(12), "root": root, "type": storage_type(root),
        "host": socket.gethostname() if is_local(root) else None,
    })
