"""`.nextflow/history` in the launch directory: one line per `nextflow run`.

`date<TAB>duration<TAB>runName<TAB>status<TAB>revisionId<TAB>sessionId<TAB>command`, status `OK`, `ERR`
or `-` (still running or killed). It is the only record that ties a run name to its session id and its
final status when no lineage store was written.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ._util import parse_datetime, parse_duration_ms

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class HistoryEntry:
    run_name: str
    session_id: str
    start: datetime | None
    end: datetime | None
    status: str | None  # OK, ERR
    command: str | None

    @property
    def resume(self) -> bool:
        return "-resume" in (self.command or "").split()

    @property
    def revision(self) -> str | None:
        """The `-r`/`-revision` the command asked for, if any."""
        try:
            words = shlex.split(self.command or "")
        except ValueError:
            words = (self.command or "").split()
        for flag, value in zip(words, words[1:]):
            if flag in ("-r", "-revision"):
                return value
        return None


def read_history(path: Path) -> list[HistoryEntry]:
    """Entries of a history file; lines that are not history entries are ignored (never raises)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    entries = []
    for line in lines:
        cols = line.split("\t")
        if len(cols) != 7 or not _UUID.match(cols[5].strip()):
            continue
        start = parse_datetime(cols[0])
        duration = parse_duration_ms(cols[1])
        end = start + timedelta(milliseconds=duration) if start and duration is not None else None
        status = cols[3].strip() if cols[3].strip() in ("OK", "ERR") else None
        entries.append(HistoryEntry(cols[2].strip(), cols[5].strip(), start, end, status, cols[6].strip() or None))
    return entries
