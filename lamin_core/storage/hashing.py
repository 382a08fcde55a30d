"""Content hashing: the whole content, never a sample, in constant memory.

The hash is BLAKE3 (multi-threaded for large inputs), truncated to 128 bits and written as 22
characters of URL-safe base64: `hash_type="blake3"`. A folder's hash is the BLAKE3 of its sorted
`(relative path, file hash)` list: `hash_type="blake3-dir"`, so renaming a file inside changes it.
See docs/hashing.md. Objects in remote stores are not downloaded to hash them: their store's own
checksum (an S3 ETag) is used with `hash_type="etag"`.
"""

from __future__ import annotations

import binascii
import os
from pathlib import Path
from typing import Callable

import blake3

HASH_TYPE = "blake3"
DIR_HASH_TYPE = "blake3-dir"
CHUNK = 16 * 1024 * 1024
# below this, starting BLAKE3's thread pool costs more than it saves
THREADED_FROM = 4 * 1024 * 1024


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _encode(digest: bytes) -> str:
    # base64.urlsafe_b64encode, without importing `base64` (and `struct`) in every tracked script
    return binascii.b2a_base64(digest[:16], newline=False).translate(_URLSAFE).decode()[:22]


def _hasher(size: int) -> "blake3.blake3":
    return blake3.blake3(max_threads=blake3.blake3.AUTO if size >= THREADED_FROM else 1)


def hash_bytes(data: bytes) -> str:
    return _encode(_hasher(len(data)).update(data).digest())


def hash_file(path: str | os.PathLike[str], size: int | None = None) -> str:
    size = os.stat(path).st_size if size is None else size
    h = _hasher(size)
    if size >= THREADED_FROM:
        h.update_mmap(path)  # the OS pages the file in; memory stays bounded
    elif size:
        with open(path, "rb") as f:
            h.update(f.read())
    return _encode(h.digest())


def hash_dir(path: str | os.PathLike[str]) -> tuple[str, int, int]:
    """(hash, total size, number of files) of a folder, in constant memory per file."""
    from .progress import count_progress

    root = Path(path)
    files = [Path(dirpath, fname) for dirpath, _dirnames, filenames in os.walk(root) for fname in filenames]
    entries: list[tuple[str, str, int]] = []
    with count_progress(len(files), f"hashing {root.name}/") as advance:
        for full in files:
            size = full.stat().st_size
            entries.append((full.relative_to(root).as_posix(), hash_file(full, size), size))
            advance(1)
    entries.sort()
    h = blake3.blake3()
    for rel, file_hash, _ in entries:
        h.update(f"{rel}\0{file_hash}\n".encode())
    return _encode(h.digest()), sum(e[2] for e in entries), len(entries)


def copy_file(src: str | os.PathLike[str], dst: str | os.PathLike[str], progress: Callable[[int], None] | None = None) -> None:
    """Copy a file; with `progress`, in chunks that report each one (and let Ctrl-C in between)."""
    if progress is None:
        import shutil

        shutil.copyfile(src, dst)
        return
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(CHUNK):
            fout.write(chunk)
            progress(len(chunk))


def copy_and_hash(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], size: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> str:
    """Copy `src` to `dst` and hash it in one pass over the source.

    Each chunk is read once; while the hasher works on it (BLAKE3 releases the GIL), a second thread
    writes the previous chunk. Two buffers alternate, so memory is 2 x CHUNK whatever the size.
    """
    size = os.stat(src).st_size if size is None else size
    h = _hasher(size)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        if size < CHUNK:
            data = fin.read()
            h.update(data)
            fout.write(data)
            return _encode(h.digest())
        buffers = (bytearray(CHUNK), bytearray(CHUNK))
        views = (memoryview(buffers[0]), memoryview(buffers[1]))
        from concurrent.futures import ThreadPoolExecutor  # here: a second's import cost of most saves is not this

        with ThreadPoolExecutor(max_workers=1) as writer:
            pending = None
            i = 0
            while True:
                n = fin.readinto(buffers[i])
                if not n:
                    break
                chunk = views[i][:n]
                if pending is not None:
                    pending.result()  # the other buffer is free again once its write is done
                pending = writer.submit(fout.write, chunk)
                h.update(chunk)
                if progress is not None:
                    progress(n)
                i ^= 1
            if pending is not None:
                pending.result()
    return _encode(h.digest())
