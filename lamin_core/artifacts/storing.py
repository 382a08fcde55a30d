"""The storage half of a save: copy data to where it waits for the commit, publish it, clean up after failures.

Split from the database half (`batch.py`) so that both routes of a save share it: the ORM's
(`artifact.save()`, `ln.save([...])`) and `lamin save FILE`, which never imports SQLAlchemy. What it works
on is any artifact-like object: `uid`, `suffix`, `size`, `hash` and the save-time state `create.py` gives
it (`_source`, `_owned_source`); it records `_staged_at` / `_written_to` / `_hashed_on_copy` on it.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from .. import log
from ..storage import hashing, managed
from ..storage.managed import staging_prefix
from ..storage.paths import filesystem, is_local, join

COPY_THREADS = 4  # file copies release the GIL: a few threads keep the disk busy during ln.save(list)


def managed_key(artifact: Any) -> str:
    return managed.managed_key(artifact.uid, artifact.suffix)


def put_all(artifacts: list[Any], roots: dict[int, str], written: list[str]) -> None:
    """Copy or upload each artifact's data to where it waits for the commit (see storage/managed.py).

    `roots`: storage id -> root of every artifact's storage; `written` collects every path this writes,
    so that a failed save removes them again."""
    jobs = []
    for a in artifacts:
        source = getattr(a, "_source", None)
        if source is None:
            continue  # registered in place: nothing to copy
        root = roots[a.storage_id]
        dest = join(root, managed_key(a))
        # local: a staging name that says "not committed"; S3: the final key (an unfinished upload is invisible)
        staged = join(root, f"{staging_prefix()}/{a.uid}{a.suffix or ''}") if is_local(root) else dest
        written.extend([staged, dest] if staged != dest else [dest])
        a._written_to, a._staged_at = dest, staged
        jobs.append((a, root, source, staged))
    if len(jobs) > 8:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(COPY_THREADS) as pool:
            list(pool.map(lambda job: _put(*job), jobs))
    else:
        for job in jobs:
            _put(*job)


def publish(artifacts: list[Any]) -> None:
    """Give staged data its managed name: after the INSERT, just before the commit.

    A crash after this and before the commit leaves a uid-named object that no record names; `lamin gc`
    removes those once they are older than its grace period. The other order (commit, then rename) could
    leave a record without data, which nothing can repair.
    """
    for a in artifacts:
        staged, dest = getattr(a, "_staged_at", None), getattr(a, "_written_to", None)
        if staged is not None and staged != dest:
            os.replace(staged, dest)
        a.__dict__.pop("_staged_at", None)


def unput(artifact: Any, written: list[str]) -> None:
    """Undo `put_all` for one artifact whose content turned out to be registered already."""
    for path in {getattr(artifact, "_staged_at", None), getattr(artifact, "_written_to", None)} - {None}:
        remove_quietly([path])
        written.remove(path)
    artifact.__dict__.pop("_staged_at", None)


def _put(artifact: Any, root: str, source: str, dest: str) -> None:
    """Copy or upload the source into managed storage; hash on the way when the hash was deferred."""
    from ..storage.progress import copy_progress, fsspec_callback

    is_dir = os.path.isdir(source)
    if is_local(root):
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if is_dir:
            shutil.copytree(source, dest)
        elif getattr(artifact, "_owned_source", False):
            os.replace(source, dest)  # our own scratch file on the same disk: a rename is enough
        elif artifact.hash is None:
            with copy_progress(artifact.size, f"saving {os.path.basename(source)}") as advance:
                artifact.hash = hashing.copy_and_hash(source, dest, artifact.size, progress=advance)
            artifact._hashed_on_copy = True
        else:
            with copy_progress(artifact.size, f"saving {os.path.basename(source)}") as advance:
                hashing.copy_file(source, dest, progress=advance)
        return
    fs = filesystem(root)
    if is_dir:
        fs.put(source.rstrip("/") + "/", dest, recursive=True)
    else:
        with copy_progress(artifact.size, f"uploading {os.path.basename(source)}") as advance:
            fs.put_file(source, dest, callback=fsspec_callback(advance))
    if artifact.hash is None:
        artifact.hash = hashing.hash_file(source, artifact.size)
        artifact._hashed_on_copy = True


def drop_owned_source(artifact: Any) -> None:
    src = getattr(artifact, "_source", None)
    if src and getattr(artifact, "_owned_source", False) and os.path.exists(src):
        os.unlink(src)  # scratch file of from_dataframe() whose content was already registered


def tidy_staging(written: list[str]) -> None:
    """Remove this process's staging folder once nothing waits in it (a scratch file of another artifact may)."""
    folders = {os.path.dirname(p) for p in written if is_local(p) and f"/{managed.STAGING_DIR}/" in p}
    for folder in folders:
        try:
            os.rmdir(folder)
        except OSError:
            pass  # not empty, or gone already


def remove_quietly(paths: list[str]) -> None:
    for p in paths:
        try:
            if is_local(p):
                shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
            else:
                filesystem(p).rm(p, recursive=True)
        except FileNotFoundError:
            pass
        except Exception as e:  # leave the orphan but say so: nothing references it
            log.warning("could not remove %s after a failed save: %s", p, e)
