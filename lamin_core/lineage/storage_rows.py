"""What the recording path needs to know about storage locations, on plain rows (`db.dbapi`).

The recording process of the engine adapters must be able to record without importing SQLAlchemy (its first
event is recorded ~100 ms after it starts, where the import alone costs more). These are the storage-side
reads the recording path makes, written against `Rows` so that they run the same in a lean process and in
the ORM's transaction:

- `storage_id(rows, root)`: a location's Storage id, its row inserted when new (every save's, too:
  artifacts/batch.py), cached per process once committed;
- `find_root(path)`: the registered location a dataset belongs to (`storage.registry.find_storage_root`,
  whose roots are read through the ORM: the same cache and matching, read through `dbapi.read()`);
"""

from __future__ import annotations

import time
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
    """The Storage id of `root`, its row inserted if new (`text._storage_id`, the one insert of a storage row
    on plain rows: a concurrent writer's row wins the race, and the retried unit of work finds it)."""
    cache_key = (db.settings().db_url, root)
    sid = _storage_ids.get(cache_key)
    if sid is not None:
        return sid
    found = rows.scalar("SELECT id FROM storages WHERE root = :root", {"root": root})
    if found is None:
        from ..artifacts.text import _storage_id

        found = _storage_id(rows, root)
        registry.forget_roots()  # a new location: datasets under it resolve to it from now on
    sid = int(found)
    dbapi.after_commit(lambda: _storage_ids.__setitem__(cache_key, sid))  # other threads: committed rows only
    return sid


def registered_roots(refresh: bool = False) -> tuple[str, ...]:
    """`storage.registry.registered_roots`, read on plain rows; the same cache (so `forget_roots()` applies)."""
    cache = registry._roots
    if refresh or time.monotonic() - cache["at"] > registry.TTL_SECONDS:  # type: ignore[operator]
        with dbapi.read() as rows:
            found = [r[0] for r in rows.all("SELECT root FROM storages")]
        cache.update(at=time.monotonic(), roots=tuple(sorted(found, key=len, reverse=True)))
    return cache["roots"]  # type: ignore[return-value]


def find_root(path_or_uri: str) -> str | None:
    """`storage.registry.find_storage_root` with the roots read on plain rows."""
    root = registry._match(path_or_uri, registered_roots())
    if root is None and time.monotonic() - registry._roots["at"] > registry.REFRESH_ON_MISS_SECONDS:  # type: ignore[operator]
        root = registry._match(path_or_uri, registered_roots(refresh=True))
    return root

