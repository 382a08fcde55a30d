"""The `.lamindb/` folder of a storage root: its one spelling, and what lives in it.

Inside a storage root, lamin-core owns `.lamindb/` (keys may not point into it, see `keys.py`):
- `<uid><suffix>`: the data of a managed artifact, named by uid, never by key (renaming a key moves nothing);
- `lamin.db` (and SQLite's `-wal`/`-shm`): the database of a SQLite instance;
- `_staging/<writer>/...`: data on its way in, not committed yet. `<writer>` says who writes it
  (`<host>~<pid>~<unix time>`), so `lamin gc` can tell a dead writer's leftovers from a save in progress.

A save copies into `_staging/`, inserts the record, renames the copy to `<uid><suffix>` and commits. A
process killed before the rename leaves only a staging entry (its writer is dead: gc removes it); killed
between the rename and the commit, it leaves a uid-named object that no record names (gc removes it once
it is older than a grace period, which a save in progress never is at that point).
"""

from __future__ import annotations

import os
import re
import time
from typing import NamedTuple

MANAGED_DIR = ".lamindb"
STAGING_DIR = "_staging"
SQLITE_NAME = "lamin.db"
WRITER_SEPARATOR = "~"
# a managed object: a 20-character uid (16 + 4 version characters, base62), then the suffix
_MANAGED_NAME = re.compile(r"^([0-9A-Za-z]{20})(\.[^/]*)?$")


def managed_key(uid: str, suffix: str | None) -> str:
    """The key (relative to the storage root) of a managed artifact's data."""
    return f"{MANAGED_DIR}/{uid}{suffix or ''}"


def staging_prefix() -> str:
    """The key of this process's staging folder; the timestamp guards against a later process reusing the pid."""
    host = _hostname().replace(WRITER_SEPARATOR, "-").replace("/", "-")
    return f"{MANAGED_DIR}/{STAGING_DIR}/{host}{WRITER_SEPARATOR}{os.getpid()}{WRITER_SEPARATOR}{_process_start()}"


def uid_of_managed_name(name: str) -> str | None:
    """The artifact uid a name directly under `.lamindb/` stands for, or None (database files, staging)."""
    match = _MANAGED_NAME.match(name)
    return match.group(1) if match else None


class Writer(NamedTuple):
    host: str
    pid: int
    started: int

    def is_alive_here(self) -> bool | None:
        """True/False for a writer on this host; None when it ran on another host (only its age can tell)."""
        if self.host != _hostname().replace(WRITER_SEPARATOR, "-").replace("/", "-"):
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # someone else's process: alive
        # the pid is in use; by the same process only if it started at the same second (unknown: assume so)
        started = _start_time_of(self.pid)
        return started is None or abs(started - self.started) <= 1


def parse_writer(name: str) -> Writer | None:
    parts = name.split(WRITER_SEPARATOR)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return Writer(parts[0], int(parts[1]), int(parts[2]))


_START: list[int] = []


def _process_start() -> int:
    if not _START:
        _START.append(_start_time_of(os.getpid()) or int(time.time()))
    return _START[0]


def _start_time_of(pid: int) -> int | None:
    """The unix second a process started (Linux /proc; elsewhere the pid's liveness has to do)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22: start time in clock ticks after boot
        with open("/proc/stat") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        return btime + ticks // os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _hostname() -> str:
    if hasattr(os, "uname"):
        return os.uname().nodename  # what socket.gethostname() answers on POSIX, without importing socket
    import socket

    return socket.gethostname()
