"""Artifact versions, in one place: which uid new content at a known key gets.

An artifact's uid is a 16-character stem (the version family) and a 4-character version suffix. New
content at a key that has a latest version continues that family: its uid is the next suffix after the
highest one the family ever had (not after the latest's: a permanently deleted latest, or a revert to old
content, leaves higher suffixes behind, and a uid is never given twice). The old latest stops being latest.

Both ways artifacts are written use this: `save()` / `ln.save()` (artifacts/batch.py) and the recording
path (lineage/artifact_book.py). `VersionCounter` remembers what it handed out, so several versions of
one key in one batch get consecutive uids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from .. import ids

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def _uid_column() -> Any:
    from ..models import Artifact

    return Artifact.__table__.c.uid


class VersionCounter:
    """Hands out next version uids within one transaction (the caller holds the locks on the keys)."""

    def __init__(self, s: "Session") -> None:
        self.s = s
        self.newest: dict[str, str] = {}  # stem -> highest uid given or stored

    def preload(self, stems: Iterable[str]) -> None:
        """The highest stored uid of many families in one query (for batches that continue many keys)."""
        from ..db.lookups import union_lookup

        wanted = sorted(set(stems) - set(self.newest))
        if not wanted:
            return
        # a range on the unique uid index, where LIKE 'stem%' is not index-friendly on every backend
        select_sql = "SELECT max(uid) AS uid FROM artifacts"
        ranges = [{"lo": stem + ids.encode(0, 4), "hi": stem + ids.encode(62**4 - 1, 4)} for stem in wanted]
        for r in union_lookup(self.s, "artifact_versions", select_sql, [("uid >= :lo AND uid <= :hi", ranges)], [_uid_column()]):
            if r.uid is not None:
                self.newest[r.uid[:-4]] = r.uid

    def next_after(self, previous_uid: str) -> str:
        """The uid of the version that follows `previous_uid`'s family's highest version."""
        from ..db.upsert import newest_uid_of_stem

        stem = previous_uid[:-4]
        newest = self.newest.get(stem) or newest_uid_of_stem(self.s, _uid_column(), stem) or previous_uid
        uid = ids.next_version_uid(max(newest, previous_uid))
        self.newest[stem] = uid
        return uid
