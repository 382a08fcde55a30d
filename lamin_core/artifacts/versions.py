"""Artifact versions, in one place: which uid new content at a known key gets.

An artifact's uid is a 16-character stem (the version family) and a 4-character version suffix. New
content at a key that has a latest version continues that family: its uid is the next suffix after the
highest one the family ever had (not after the latest's: a permanently deleted latest, or a revert to old
content, leaves higher suffixes behind, and a uid is never given twice). The old latest stops being latest.

Every way artifacts are written uses this, on plain rows (`db.dbapi`): saving (artifacts/batch.py, behind
`save()`, `ln.save()` and `lamin save FILE`) and the recording path (lineage/artifact_book.py).
`VersionCounter` remembers what it handed out, so several versions of one key in one batch get
consecutive uids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from .. import ids

if TYPE_CHECKING:
    from ..db.dbapi import Rows


def family_range(stem: str) -> dict[str, str]:
    """The lowest and highest uid a version family can have, as parameters `lo` and `hi`: a range on the
    unique uid index, where LIKE 'stem%' is not index-friendly on every backend."""
    return {"lo": stem + ids.encode(0, 4), "hi": stem + ids.encode(62**4 - 1, 4)}


class VersionCounter:
    """Hands out next version uids within one transaction (the caller holds the locks on the keys)."""

    def __init__(self, rows: "Rows") -> None:
        self.rows = rows
        self.newest: dict[str, str] = {}  # stem -> highest uid given or stored

    def preload(self, stems: Iterable[str]) -> None:
        """The highest stored uid of many families in one query (for batches that continue many keys)."""
        from ..db.lookups import union_rows

        wanted = sorted(set(stems) - set(self.newest))
        if not wanted:
            return
        ranges = [family_range(stem) for stem in wanted]
        for (uid,) in union_rows(self.rows, "artifact_versions", "SELECT max(uid) AS uid FROM artifacts",
                                 [("uid >= :lo AND uid <= :hi", ranges)]):
            if uid is not None:
                self.newest[uid[:-4]] = uid

    def next_after(self, previous_uid: str) -> str:
        """The uid of the version that follows `previous_uid`'s family's highest version."""
        stem = previous_uid[:-4]
        if not self.newest.get(stem):
            self.preload([stem])
        newest = self.newest.get(stem) or previous_uid  # no stored version: count on from this one
        uid = ids.next_version_uid(max(newest, previous_uid))
        self.newest[stem] = uid
        return uid
