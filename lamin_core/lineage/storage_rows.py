"""What the recording path needs to know about storage locations and versions, on plain rows (`db.dbapi`).

The recording process of the engine adapters must be able to record without importing SQLAlchemy (its first
event is recorded ~100 ms after it starts, where the import alone costs more). These are the storage-side
reads the recording path makes, written against `Rows` so that they run the same in a lean process and in
the ORM's transaction:

- `storage_id(rows, root)`: a location's Storage id, its row inserted when new (as `artifacts.save`'s
  `storage_id_for` does in the ORM), cached per process once committed;
- `find_root(path)`: the registered location a dataset belongs to (`storage.registry.find_storage_root`,
  whose roots are read through the ORM: the same cache and matching, read through `dbapi.read()`);
- `RowsVersionCounter`: `artifacts.versions.VersionCounter` with its two reads on plain rows; the rule
  (which uid the next version gets) stays there.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Iterable

from .. import ids
from ..artifacts.versions import VersionCounter
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


class RowsVersionCounter(VersionCounter):
    """`VersionCounter` reading on plain rows: the highest stored uid of each family, then its rule."""

    def __init__(self, rows: "Rows") -> None:
        super().__init__(None)  # type: ignore[arg-type]  # its session is never used: both reads are here
        self.rows = rows

    def preload(self, stems: Iterable[str]) -> None:
        from ..db.lookups import union_rows

        wanted = sorted(set(stems) - set(self.newest))
        if not wanted:
            return
        # a range on the unique uid index, where LIKE 'stem%' is not index-friendly on every backend
        ranges = [{"lo": stem + ids.encode(0, 4), "hi": stem + ids.encode(62**4 - 1, 4)} for stem in wanted]
        for (uid,) in union_rows(self.rows, "artifact_versions", "SELECT max(uid) AS uid FROM artifacts",
                                 [("uid >= :lo AND uid <= :hi", ranges)]):
            if uid is not None:
                self.newest[uid[:-4]] = uid

    def next_after(self, previous_uid: str) -> str:
        stem = previous_uid[:-4]
        if not self.newest.get(stem):
            self.preload([stem])
            self.newest.setdefault(stem, previous_uid)  # no stored version: the rule counts on from this one
        return super().next_after(previous_uid)
