"""Local paths and fsspec URIs. Local paths never import fsspec: most saves are local and must be fast."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem


def is_local(path_or_uri: str) -> bool:
    return "://" not in path_or_uri or path_or_uri.startswith("file://")


def strip_file_scheme(uri: str) -> str:
    if uri.startswith("file://"):
        rest = uri[len("file://") :]
        # file:///abs/path or file://host/abs/path
        return rest if rest.startswith("/") else "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return uri


def normalize_root(root: str) -> str:
    """A storage root as stored: an absolute local path, or a URI without a trailing slash."""
    if is_local(root):
        return str(Path(strip_file_scheme(root)).expanduser().resolve())
    return root.rstrip("/")


def join(root: str, key: str) -> str:
    return f"{root.rstrip('/')}/{key}" if key else root


def protocol(uri: str) -> str:
    return "file" if is_local(uri) else uri.split("://", 1)[0]


@lru_cache(maxsize=32)
def _filesystem(proto: str, options: tuple[tuple[str, Any], ...]) -> "AbstractFileSystem":
    import fsspec

    from .._optional import require_filesystem

    require_filesystem(proto)
    return fsspec.filesystem(proto, **fs_options(options))


def filesystem(uri: str, **options: Any) -> "AbstractFileSystem":
    """The fsspec file system for a URI; S3 honours AWS_ENDPOINT_URL (loopback servers in tests)."""
    proto = protocol(uri)
    if proto == "s3":
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint and "endpoint_url" not in options:
            options["endpoint_url"] = endpoint
        # an unreachable bucket should fail in seconds, not after minutes of retries
        options.setdefault("config_kwargs", {"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 2}})
    frozen = tuple(sorted((k, _freeze(v)) for k, v in options.items()))
    return _filesystem(proto, frozen)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def fs_options(frozen: Any) -> Any:
    if isinstance(frozen, tuple) and all(isinstance(x, tuple) and len(x) == 2 for x in frozen):
        return {k: fs_options(v) for k, v in frozen}
    return frozen
