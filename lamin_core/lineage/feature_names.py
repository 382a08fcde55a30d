"""Whether names are features, on plain rows (`db.dbapi`).

`ln.track(params=)` and the recording path both ask it before they write: annotation values are written
through the ORM, so a batch or a run whose values name existing features takes the ORM's route, and one
whose names are no features stays on plain rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from ..db.dbapi import Rows

CHUNK = 500  # names per statement: far below SQLite's variable limit


def names_features(rows: "Rows", names: Iterable[str]) -> bool:
    """Some of these names are features (any branch: a trashed one sends the work the ORM's way for nothing,
    which is only slower)."""
    ordered = sorted(set(names))
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        marks = ", ".join(f":n{i}" for i in range(len(chunk)))
        if rows.scalar(f"SELECT 1 FROM features WHERE name IN ({marks}) LIMIT 1", {f"n{i}": n for i, n in enumerate(chunk)}):
            return True
    return False
