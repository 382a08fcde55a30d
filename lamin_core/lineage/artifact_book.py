"""The artifacts a batch of events names: matched to stored rows, or planned and written together.

The same rules as saving an artifact, applied to datasets registered in place: the same content is the
same artifact, wherever it was seen; new content at a known key is that key's next version; a dataset
known only by name (no hash) stays one artifact until its content can be read.

Per batch: one query finds every stored artifact the batch's datasets could be (by hash, or latest at
their key), then events are matched in memory in order, then `write()` steps old versions down and
inserts the new ones in one statement. The caller holds the locks named after these keys and hashes,
so nothing read here can change before the write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .. import ids
from ..artifacts.versions import VersionCounter
from ..db import dbapi
from .datasets import ResolvedDataset
from .storage_rows import storage_id

if TYPE_CHECKING:
    from ..db.dbapi import Rows


@dataclass
class ArtifactRow:
    """An artifact as the batch sees it. `id` is None until a planned one is written."""

    id: int | None
    uid: str
    hash: str | None
    storage_id: int
    key: str | None
    is_latest: bool
    run_id: int | None
    values: dict[str, Any] | None = None  # a planned row's columns; None for a stored one
    changes: dict[str, Any] = field(default_factory=dict)  # a stored row's columns to update


class ArtifactBook:
    def __init__(self, rows: "Rows", datasets: "list[ResolvedDataset]") -> None:
        self.rows = rows
        self.stored: dict[int, ArtifactRow] = {}
        self.by_hash: dict[str, ArtifactRow] = {}
        self.latest_at: dict[tuple[int, str], ArtifactRow] = {}
        self.planned: list[ArtifactRow] = []
        self.versions = VersionCounter(rows)  # versioning's rules live in artifacts/versions.py
        self.storage_ids = {rd.storage_root: storage_id(rows, rd.storage_root) for rd in datasets}
        self._load(datasets)

    def _load(self, datasets: "list[ResolvedDataset]") -> None:
        from ..db.lookups import union_rows

        names = ("id", "uid", "hash", "storage_id", "key", "is_latest", "run_id")
        select_sql = f"SELECT {', '.join(names)} FROM artifacts"
        hashes = sorted({rd.hash for rd in datasets if rd.hash is not None})
        places = sorted({(self.storage_ids[rd.storage_root], rd.key) for rd in datasets})
        # the content's row (unique hash), and the latest at each place (the one-latest-per-key index)
        at_place = f"storage_id = :s AND key = :k AND is_latest = {self.rows.true}"
        found = union_rows(self.rows, "artifacts", select_sql, [
            ("hash = :h", [{"h": h} for h in hashes]),
            (at_place, [{"s": s, "k": k} for s, k in places]),
        ])
        wanted = set(places)
        for r_id, uid, hash_, sid, key, is_latest, run_id in found:
            row = self.stored.setdefault(r_id, ArtifactRow(r_id, uid, hash_, sid, key, bool(is_latest), run_id))
            if row.hash is not None:
                self.by_hash[row.hash] = row
            if row.is_latest and (row.storage_id, row.key) in wanted:
                self.latest_at[(row.storage_id, row.key)] = row
        self._load_newest_uids(datasets)

    def _load_newest_uids(self, datasets: "list[ResolvedDataset]") -> None:
        """The highest uid of each version family that new content at its key will continue (one query)."""
        stems = set()
        for rd in datasets:
            latest = self.latest_at.get((self.storage_ids[rd.storage_root], rd.key))
            if latest is not None and latest.hash is not None and rd.hash not in (None, latest.hash):
                stems.add(latest.uid[:-4])
        self.versions.preload(stems)

    def use(self, rd: ResolvedDataset, producer_run_id: int | None) -> ArtifactRow:
        """The artifact this dataset is: stored, planned earlier in the batch, or planned now."""
        storage_id = self.storage_ids[rd.storage_root]
        same = self.by_hash.get(rd.hash) if rd.hash is not None else None
        if same is not None:
            if producer_run_id is not None and same.run_id is None and rd.kind is None:
                self._set(same, run_id=producer_run_id)  # first seen as an unproduced input, now someone made it
            return same
        latest = self.latest_at.get((storage_id, rd.key))
        if latest is None:
            uid = ids.versioned_uid(16)
        else:
            if rd.hash is None or latest.hash is None:
                if rd.hash is not None:  # now we can read what we only knew by name
                    self._set(latest, hash=rd.hash, hash_type=rd.hash_type, size=rd.size)
                    self.by_hash[rd.hash] = latest
                return latest
            uid = self.versions.next_after(latest.uid)
            self._set(latest, is_latest=False)
        values = dict(
            uid=uid, key=rd.key, storage_id=storage_id, suffix=rd.suffix, size=rd.size, hash=rd.hash,
            hash_type=rd.hash_type, n_files=rd.n_files, otype=rd.otype, kind=rd.kind, managed=False,
            facets=rd.facets or None, run_id=producer_run_id, is_latest=True,
        )
        row = ArtifactRow(None, uid, rd.hash, storage_id, rd.key, True, producer_run_id, values=values)
        self.planned.append(row)
        if rd.hash is not None:
            self.by_hash[rd.hash] = row
        self.latest_at[(storage_id, rd.key)] = row
        return row

    @staticmethod
    def _set(row: ArtifactRow, **changes: Any) -> None:
        for name in ("run_id", "hash", "is_latest"):
            if name in changes:
                setattr(row, name, changes[name])
        if row.values is not None:  # planned: it goes in with these values
            row.values.update(changes)
        else:
            row.changes.update(changes)

    def write(self) -> None:
        """Old versions step down, then the planned rows go in (the one-latest-per-key index needs this order)."""
        now = datetime.now(timezone.utc)  # `updated_at` moves as the ORM's onupdate would
        # rows with the same changes (old versions stepping down, mostly) in one UPDATE each
        groups: dict[str, tuple[dict[str, Any], list[int]]] = {}
        for row in self.stored.values():
            if row.changes:
                groups.setdefault(repr(sorted(row.changes.items())), (row.changes, []))[1].append(row.id)  # type: ignore[arg-type]
                row.changes = {}
        for changes, row_ids in groups.values():
            assignments = ", ".join(f"{name} = :{name}" for name in changes)
            marks = ", ".join(f":id_{i}" for i in range(len(row_ids)))
            self.rows.execute(f"UPDATE artifacts SET {assignments}, updated_at = :updated_at WHERE id IN ({marks})",
                              {**changes, "updated_at": now, **{f"id_{i}": r for i, r in enumerate(row_ids)}})
            dbapi.expire_if_loaded("Artifact", row_ids)
        if self.planned:
            defaults = dbapi.record_defaults(self.rows)
            values = [{**defaults, "updated_at": defaults["created_at"], **row.values} for row in self.planned]  # type: ignore[dict-item]
            # one multi-row INSERT; matched back by uid: SQLite does not return the rows in the VALUES order
            new_ids = {uid: new_id for new_id, uid in self.rows.insert_many("artifacts", values, returning="id, uid")}
            for row in self.planned:
                row.id, row.values = new_ids[row.uid], None
                self.stored[row.id] = row
            self.planned = []
