"""`lamin gc`: find and remove what killed saves left in storage, never what a record or a live save needs.

What a crash can leave (see storage/managed.py for the layout):
- a writer's staging folder `.lamindb/_staging/<host>~<pid>~<start>/`: garbage once that writer is dead
  (same host: its pid is gone or belongs to a later process), or, for a writer on another host, once
  nothing in it changed for `STAGING_MAX_AGE`;
- a uid-named object under `.lamindb/` that no artifact record names (killed between publishing its
  data and committing): garbage once older than the grace period (a save publishes just before it
  commits, so a save in progress never has an object that old);
- on S3, an unfinished multipart upload under `.lamindb/`: aborted once older than the grace period.
Database files (`lamin.db*`) and anything outside `.lamindb/` are never looked at.

The instance sweeps by itself at most once a day, in the background, when a process saves
(`maybe_sweep()`); `LAMIN_AUTO_GC=0` turns that off.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from typing import Any, Iterable, NamedTuple

from .. import log
from ..storage.managed import MANAGED_DIR, STAGING_DIR, parse_writer, uid_of_managed_name
from ..storage.paths import filesystem, is_local, join

GRACE_SECONDS = 3600.0  # uid-named objects and uploads younger than this are left alone
STAGING_MAX_AGE = 24 * 3600.0  # staging of a writer on another host: only its age tells it is abandoned
SWEEP_EVERY = 24 * 3600.0


class Garbage(NamedTuple):
    path: str
    size: int
    reason: str


class GcReport:
    """What a sweep found and removed. (Plain classes, not dataclasses: every save imports this module for
    `maybe_sweep`, and `lamin save FILE` should not pay for importing `dataclasses`.)"""

    def __init__(self) -> None:
        self.found: list[Garbage] = []
        self.removed = 0
        self.bytes_removed = 0
        self.kept_live = 0  # staging folders of saves in progress

    def summary(self, dry_run: bool) -> str:
        total = sum(g.size for g in self.found)
        verb = "would remove" if dry_run else "removed"
        n = len(self.found) if dry_run else self.removed
        size = total if dry_run else self.bytes_removed
        live = f"; left {self.kept_live} staging folder(s) of saves in progress" if self.kept_live else ""
        return f"{verb} {n} leftover(s) of interrupted saves ({size} bytes){live}"


def collect(dry_run: bool = False, older_than: float = GRACE_SECONDS, roots: Iterable[str] | None = None) -> GcReport:
    """Find (and unless `dry_run`, remove) the leftovers of interrupted saves in the instance's storage."""
    report = GcReport()
    for root in roots if roots is not None else _storage_roots():
        if is_local(root):
            _local_candidates(root, older_than, report)
        else:
            _remote_candidates(root, older_than, report)
    if not dry_run:
        for garbage in report.found:
            if _remove(garbage.path):
                report.removed += 1
                report.bytes_removed += garbage.size
    return report


def _storage_roots() -> list[str]:
    from sqlalchemy import select

    from ..db import engine as db
    from ..models import Storage

    with db.read() as s:
        return list(s.execute(select(Storage.root)).scalars())


def _local_candidates(root: str, older_than: float, report: GcReport) -> None:
    managed = os.path.join(root, MANAGED_DIR)
    if not os.path.isdir(managed):
        return
    now = time.time()
    staging = os.path.join(managed, STAGING_DIR)
    if os.path.isdir(staging):
        for entry in os.scandir(staging):
            writer = parse_writer(entry.name)
            alive = writer.is_alive_here() if writer is not None else None
            size, newest = _size_and_newest(entry.path)
            if alive:
                report.kept_live += 1
            elif alive is False or now - newest > max(older_than, STAGING_MAX_AGE):
                report.found.append(Garbage(entry.path, size, "staging of a process that is gone"))
    old: dict[str, tuple[str, int]] = {}
    for entry in os.scandir(managed):
        uid = uid_of_managed_name(entry.name)
        if uid is None:
            continue
        size, newest = _size_and_newest(entry.path)
        if now - newest >= older_than:
            old[uid] = (entry.path, size)
    for uid in _unrecorded(old):
        path, size = old[uid]
        report.found.append(Garbage(path, size, "data no artifact record names"))


def _size_and_newest(path: str) -> tuple[int, float]:
    """Total size and newest modification time of a file or folder (a folder being written is young)."""
    st = os.stat(path, follow_symlinks=False)
    if not os.path.isdir(path):
        return st.st_size, st.st_mtime
    size, newest = 0, st.st_mtime
    for dirpath, _dirs, files in os.walk(path):
        newest = max(newest, os.stat(dirpath).st_mtime)
        for name in files:
            try:
                fst = os.stat(os.path.join(dirpath, name), follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed meanwhile
            size, newest = size + fst.st_size, max(newest, fst.st_mtime)
    return size, newest


def _remote_candidates(root: str, older_than: float, report: GcReport) -> None:
    fs = filesystem(root)
    prefix = join(root, MANAGED_DIR)
    now = time.time()
    try:
        entries = fs.ls(prefix, detail=True, refresh=True)
    except FileNotFoundError:
        entries = []
    old: dict[str, tuple[str, int]] = {}
    for info in entries:
        name = info["name"].rstrip("/").rsplit("/", 1)[-1]
        uid = uid_of_managed_name(name)
        if uid is None:
            continue
        full = f"{root.split('://', 1)[0]}://{info['name']}"
        if info.get("type") == "directory":
            found = fs.find(full, detail=True).values()
            size = sum(int(i.get("size") or 0) for i in found)
            times = [_modified(i) for i in found] or [now]
        else:
            size, times = int(info.get("size") or 0), [_modified(info)]
        if now - max(times) >= older_than:
            old[uid] = (full, size)
    for uid in _unrecorded(old):
        path, size = old[uid]
        report.found.append(Garbage(path, size, "data no artifact record names"))
    _unfinished_uploads(fs, root, older_than, report)


def _modified(info: dict[str, Any]) -> float:
    stamp = info.get("LastModified") or info.get("mtime")
    return stamp.timestamp() if hasattr(stamp, "timestamp") else float(stamp or time.time())


def _unfinished_uploads(fs: Any, root: str, older_than: float, report: GcReport) -> None:
    if not hasattr(fs, "list_multipart_uploads"):
        return
    scheme, rest = root.split("://", 1)
    bucket, _, base = rest.partition("/")
    wanted = f"{base}/{MANAGED_DIR}/".lstrip("/")
    now = time.time()
    for upload in fs.list_multipart_uploads(bucket):
        key, initiated = upload.get("Key", ""), upload.get("Initiated")
        age = now - initiated.timestamp() if hasattr(initiated, "timestamp") else float("inf")
        if key.startswith(wanted) and age >= older_than:
            report.found.append(Garbage(f"{scheme}://{bucket}/{key}#upload={upload['UploadId']}", 0, "unfinished upload"))


def _unrecorded(candidates: dict[str, Any]) -> list[str]:
    """The uids among `candidates` that no artifact has (looked up in chunks: one query each)."""
    if not candidates:
        return []
    from sqlalchemy import select

    from ..db import engine as db
    from ..models import Artifact

    uids, known = sorted(candidates), set()
    with db.read() as s:
        for i in range(0, len(uids), 500):
            known.update(s.execute(select(Artifact.uid).where(Artifact.uid.in_(uids[i : i + 500]))).scalars())
    return [u for u in uids if u not in known]


def _remove(path: str) -> bool:
    try:
        if "#upload=" in path:
            uri, upload_id = path.split("#upload=", 1)
            scheme, rest = uri.split("://", 1)
            bucket, key = rest.split("/", 1)
            filesystem(uri).abort_mpu(bucket, key, upload_id)
        elif is_local(path):
            shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
        else:
            filesystem(path).rm(path, recursive=True)
        return True
    except FileNotFoundError:
        return False
    except Exception as e:  # one stubborn leftover must not stop the sweep
        log.warning("could not remove %s: %s", path, e)
        return False


def maybe_sweep() -> None:
    """Start a background sweep if this machine has not swept this instance for a day (one stat per save)."""
    if os.environ.get("LAMIN_AUTO_GC", "1") == "0":
        return
    from ..db import engine as db
    from ..setup.settings import cache_dir

    stamp = cache_dir() / f"gc-{db.settings().name}.stamp"
    try:
        age = time.time() - stamp.stat().st_mtime
    except FileNotFoundError:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()  # a new instance, or a new machine: the first sweep is a day from now
        return
    if age < SWEEP_EVERY:
        return
    stamp.touch()  # first: other processes of this machine skip while this one sweeps
    threading.Thread(target=_sweep_quietly, name="lamin-gc", daemon=True).start()


def _sweep_quietly() -> None:
    import logging

    logger = logging.getLogger(log.NAME)
    try:
        report = collect()
        if report.found:
            logger.info("→ %s", report.summary(dry_run=False))
    except Exception as e:  # a sweep is housekeeping: it never disturbs the work that started it
        logger.debug("storage sweep skipped: %s", e)
