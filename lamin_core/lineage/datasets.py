"""Datasets named by OpenLineage (namespace + name) resolved to Artifacts registered in place.

Resolution (reading and hashing files) happens before the write transaction, so that slow I/O never
holds the database's write lock; the upsert inside the transaction only compares and inserts rows.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from types import SimpleNamespace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .. import ids
from ..db.upsert import newest_uid_of_stem
from ..artifacts.save import storage_id_for
from ..storage import hashing
from ..storage.keys import suffix_of, validate_key
from ..storage.paths import normalize_root
from ..storage.registry import find_storage_root
from .events import Dataset

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

logger = logging.getLogger("lamin_core")

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


def resolve(d: Dataset) -> ResolvedDataset:
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


def _resolve_local(d: Dataset, path_str: str, facets: dict[str, Any]) -> ResolvedDataset:
    path = Path(path_str)
    if not path.is_absolute():
        base = Path(d.storage_root) if d.storage_root else Path.cwd()
        path = base / path
    path = Path(os.path.normpath(path))
    root = find_storage_root(str(path))
    if root is None:
        hint = normalize_root(d.storage_root) if d.storage_root else None
        root = hint if hint and str(path).startswith(hint.rstrip("/") + "/") else str(path.parent)
    key = path.relative_to(root).as_posix()
    digest, hash_type, size, n_files = d.hash, d.hash_type, d.size, None
    try:
        if path.is_dir():
            digest, size, n_files = hashing.hash_dir(path)
            hash_type = hashing.DIR_HASH_TYPE
        elif path.is_file():
            size = path.stat().st_size
            digest, hash_type = hashing.hash_file(path, size), hashing.HASH_TYPE
    except OSError as e:  # unreadable: still registered, by path
        logger.warning("could not read %s: %s", path, e)
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
            logger.warning("could not reach %s (%s): registering it by URI only", root, e)
    return ResolvedDataset(storage_root=root, key=key, uri=uri, kind=d.kind, hash=digest, hash_type=hash_type,
                           size=size, n_files=n_files, suffix=suffix_of(key) if not n_files else "", facets=facets)


def upsert_artifact(s: "Session", rd: ResolvedDataset, producer_run_id: int | None) -> SimpleNamespace:
    """The artifact for this content at this place: existing, a new version of the key, or new.

    Returns its row (id, uid, run_id). Plain rows, not ORM objects: this runs for every dataset of every
    event. ORM objects of these artifacts already in memory are expired, so they show the change.
    """
    from sqlalchemy import and_, insert, or_, update

    from ..models import Artifact
    from .runs import expire_loaded

    table = Artifact.__table__
    c = table.c
    storage_id = storage_id_for(s, rd.storage_root)
    at_key = and_(c.storage_id == storage_id, c.key == rd.key, c.is_latest)
    # one query answers both questions: is this content known, and what is the latest at this key?
    where = or_(c.hash == rd.hash, at_key) if rd.hash is not None else at_key
    found = s.execute(select(c.id, c.uid, c.hash, c.storage_id, c.key, c.is_latest, c.run_id).where(where)).all()
    same = next((r for r in found if rd.hash is not None and r.hash == rd.hash), None)
    if same is not None:
        if producer_run_id is not None and same.run_id is None and rd.kind is None:
            # first seen as an unproduced input, now someone made it
            s.execute(update(table).where(c.id == same.id).values(run_id=producer_run_id))
            expire_loaded(s, Artifact, same.id)
            return SimpleNamespace(id=same.id, uid=same.uid, run_id=producer_run_id)
        return SimpleNamespace(id=same.id, uid=same.uid, run_id=same.run_id)
    latest = next((r for r in found if r.storage_id == storage_id and r.key == rd.key and r.is_latest), None)
    uid = ids.versioned_uid(16)
    if latest is not None:
        if rd.hash is None or latest.hash is None:
            if rd.hash is not None:  # now we can read what we only knew by name
                s.execute(update(table).where(c.id == latest.id).values(hash=rd.hash, hash_type=rd.hash_type, size=rd.size))
                expire_loaded(s, Artifact, latest.id)
            return SimpleNamespace(id=latest.id, uid=latest.uid, run_id=latest.run_id)
        stem = latest.uid[:-4]
        uid = ids.next_version_uid(newest_uid_of_stem(s, c.uid, stem) or latest.uid)
        # the old latest steps down before the new one goes in (unique index)
        s.execute(update(table).where(c.id == latest.id).values(is_latest=False))
        expire_loaded(s, Artifact, latest.id)
    values = dict(
        uid=uid, key=rd.key, storage_id=storage_id, suffix=rd.suffix, size=rd.size, hash=rd.hash,
        hash_type=rd.hash_type, n_files=rd.n_files, otype=rd.otype, kind=rd.kind, managed=False,
        facets=rd.facets or None, run_id=producer_run_id, is_latest=True,
    )
    new_id = s.execute(insert(table).values(**values).returning(c.id)).scalar_one()
    return SimpleNamespace(id=new_id, uid=uid, run_id=producer_run_id)
