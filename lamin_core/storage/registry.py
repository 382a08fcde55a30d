"""Which registered storage location a path or URI belongs to."""

from __future__ import annotations

import time

from .managed import MANAGED_DIR

_roots: dict[str, object] = {"at": 0.0, "roots": ()}
TTL_SECONDS = 2.0  # other processes may register locations; a short cache keeps saves fast
REFRESH_ON_MISS_SECONDS = 0.2


def registered_roots(refresh: bool = False) -> tuple[str, ...]:
    """Every registered root, longest first. Read on plain rows (`db.dbapi.read()`: the ORM session's
    connection when the process has one, else its own), so that the recording child and `lamin save FILE`
    resolve paths without importing SQLAlchemy."""
    if refresh or time.monotonic() - _roots["at"] > TTL_SECONDS:  # type: ignore[operator]
        from ..db import dbapi

        with dbapi.read() as rows:
            found = [r[0] for r in rows.all("SELECT root FROM storages")]
        _roots.update(at=time.monotonic(), roots=tuple(sorted(found, key=len, reverse=True)))
    return _roots["roots"]  # type: ignore[return-value]


def forget_roots() -> None:
    _roots.update(at=0.0, roots=())


def find_storage_root(path_or_uri: str) -> str | None:
    """The longest registered root that contains `path_or_uri`, ignoring lamin-core's own `.lamindb/`."""
    root = _match(path_or_uri, registered_roots())
    if root is None and time.monotonic() - _roots["at"] > REFRESH_ON_MISS_SECONDS:  # type: ignore[operator]
        root = _match(path_or_uri, registered_roots(refresh=True))
    return root


def _match(path_or_uri: str, roots: tuple[str, ...]) -> str | None:
    for root in roots:  # longest first
        if path_or_uri.startswith(root.rstrip("/") + "/"):
            rest = path_or_uri[len(root) :].lstrip("/")
            return None if rest.split("/", 1)[0] == MANAGED_DIR else root
    return None


def remote_root_of(uri: str) -> str:
    """The bucket (or first path segment) of a URI: where a new remote Storage is rooted."""
    scheme, rest = uri.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"
