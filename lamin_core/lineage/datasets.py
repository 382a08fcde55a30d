"""Datasets named by OpenLineage (namespace + name) resolved to Artifacts registered in place.

Resolution (reading and hashing files) happens before the write transaction, so that slow I/O never
holds the database's write lock; the upsert inside the transaction only compares and inserts rows.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import log
from ..storage import hashing
from ..storage.keys import suffix_of, validate_key
from ..storage.paths import normalize_root
from ..storage.registry import find_storage_root
from .events import Dataset


# schemes fsspec can read; anything else (postgres://, kafka://, ...) is a dataset that is not a file
FILE_SCHEMES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "hf", "memory", "http", "https"}
SCHEME_ALIASES = {"s3a": "s3", "gcs": "gs"}
_unreachable: set[str] = set()  # roots that failed once in this process: don't wait on them again


@dataclass(frozen=True)
class ResolvedDataset:
    storage_root: str
    key: str
    uri: str
    kind: str | None
    hash: str | None = None
    hash_type: str | None = None
    size: int | None = None
    n_files: int | None = None
    suffix: str = ""
    otype: str | None = None
    facets: dict[str, Any] = field(default_factory=dict)


def is_local_namespace(namespace: str) -> bool:
    return namespace in ("", "file") or namespace.startswith("file://")


def dataset_uri(d: Dataset) -> str:
    """The dataset's OpenLineage URI: a local path for files, `scheme://authority/name` otherwise."""
    ns = d.namespace.rstrip("/")
    if is_local_namespace(ns):
        return d.name
    if "://" in ns:
        scheme, rest = ns.split("://", 1)
        ns = f"{SCHEME_ALIASES.get(scheme, scheme)}://{rest}"
    return f"{ns}/{d.name.lstrip('/')}"


def resolve(d: Dataset) -> ResolvedDataset | None:
    """What the dataset is now; None for an `only_if_file` dataset that is not a regular file."""
    uri = dataset_uri(d)
    facets = dict(d.facets)
    if is_local_namespace(d.namespace.rstrip("/")):
        return _resolve_local(d, uri, facets)
    validate_key(d.name.lstrip("/") if "://" in d.namespace else d.name)  # names become keys: none may escape
    if uri.split("://", 1)[0] in FILE_SCHEMES:
        return _resolve_remote(d, uri, facets)
    # a table or topic: registered by its URI, nothing is read
    root = d.namespace.rstrip("/")
    return ResolvedDataset(storage_root=root, key=d.name, uri=uri, kind=d.kind, hash=d.hash, hash_type=d.hash_type,
                           size=d.size, otype="Table", facets=facets)


def _resolve_local(d: Dataset, path_str: str, facets: dict[str, Any]) -> ResolvedDataset | None:
    path = Path(path_str)
    if not path.is_absolute():
        base = Path(d.storage_root) if d.storage_root else Path.cwd()
        path = base / path
    path = Path(os.path.normpath(path))
    try:
        st: os.stat_result | None = path.stat()
    except OSError:  # missing, or unreadable: still registered by path, unless it had to be a file
        st = None
    if d.only_if_file and (st is None or not stat.S_ISREG(st.st_mode)):
        return None
    root = find_storage_root(str(path))
    if root is None:
        hint = normalize_root(d.storage_root) if d.storage_root else None
        root = hint if hint and str(path).startswith(hint.rstrip("/") + "/") else str(path.parent)
    key = path.relative_to(root).as_posix()
    digest, hash_type, size, n_files = d.hash, d.hash_type, d.size, None
    try:
        if st is not None and stat.S_ISDIR(st.st_mode):
            digest, size, n_files = hashing.hash_dir(path)
            hash_type = hashing.DIR_HASH_TYPE
        elif st is not None and stat.S_ISREG(st.st_mode):
            size = st.st_size
            digest, hash_type = hashing.hash_file(path, size), hashing.HASH_TYPE
    except OSError as e:  # unreadable: still registered, by path
        log.warning("could not read %s: %s", path, e)
    return ResolvedDataset(storage_root=root, key=key, uri=str(path), kind=d.kind, hash=digest, hash_type=hash_type,
                           size=size, n_files=n_files, suffix=suffix_of(key) if n_files is None else "", facets=facets)


def _resolve_remote(d: Dataset, uri: str, facets: dict[str, Any]) -> ResolvedDataset:
    from ..storage.registry import remote_root_of
    from ..storage.remote import describe_remote

    root = find_storage_root(uri) or remote_root_of(uri)
    key = uri[len(root) :].strip("/")
    digest, hash_type, size, n_files = d.hash, d.hash_type, d.size, None
    if root not in _unreachable and os.environ.get("LAMIN_PROBE_REMOTE", "1") != "0":
        try:
            info = describe_remote(uri)
            if info.hash is not None:
                digest, hash_type = info.hash, info.hash_type
            size, n_files = info.size if info.size is not None else size, info.n_files
        except FileNotFoundError:
            pass  # not there (yet): registered by URI
        except Exception as e:
            _unreachable.add(root)
            log.warning("could not reach %s (%s): registering it by URI only", root, e)
    return ResolvedDataset(storage_root=root, key=key, uri=uri, kind=d.kind, hash=digest, hash_type=hash_type,
                           size=size, n_files=n_files, suffix=suffix_of(key) if not n_files else "", facets=facets)
