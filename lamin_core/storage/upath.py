"""`ln.UPath`: a small pathlib-like handle on local paths and fsspec URIs, with `view_tree()`."""

from __future__ import annotations

import os
from typing import Any, Iterator

from .paths import filesystem, is_local, strip_file_scheme


class UPath:
    def __init__(self, path: str | os.PathLike[str], **storage_options: Any) -> None:
        self._uri = str(path).rstrip("/") if "://" in str(path) else os.fspath(path)
        self._options = storage_options
        if is_local(self._uri):
            self._uri = os.path.abspath(strip_file_scheme(self._uri))

    @property
    def fs(self) -> Any:
        return filesystem(self._uri, **self._options)

    @property
    def protocol(self) -> str:
        return "file" if is_local(self._uri) else self._uri.split("://", 1)[0]

    @property
    def name(self) -> str:
        return self._uri.rstrip("/").rsplit("/", 1)[-1]

    @property
    def suffix(self) -> str:
        dot = self.name.rfind(".")
        return self.name[dot:] if dot > 0 else ""

    @property
    def parent(self) -> "UPath":
        return UPath(self._uri.rstrip("/").rsplit("/", 1)[0], **self._options)

    def __truediv__(self, other: str) -> "UPath":
        return UPath(f"{self._uri.rstrip('/')}/{other}", **self._options)

    def __str__(self) -> str:
        return self._uri

    def __fspath__(self) -> str:
        if not is_local(self._uri):
            raise TypeError(f"{self._uri} is not a local path; use artifact.cache() for a local copy")
        return self._uri

    def __repr__(self) -> str:
        return f"UPath({self._uri!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UPath) and other._uri == self._uri

    def __hash__(self) -> int:
        return hash(self._uri)

    def exists(self) -> bool:
        return bool(self.fs.exists(self._uri))

    def is_dir(self) -> bool:
        return bool(self.fs.isdir(self._uri))

    def is_file(self) -> bool:
        return bool(self.fs.isfile(self._uri))

    def stat(self) -> dict[str, Any]:
        return dict(self.fs.info(self._uri))

    def iterdir(self) -> Iterator["UPath"]:
        for entry in self.fs.ls(self._uri, detail=False):
            yield self._child(entry)

    def glob(self, pattern: str) -> Iterator["UPath"]:
        for entry in self.fs.glob(f"{self._uri.rstrip('/')}/{pattern}"):
            yield self._child(entry)

    def _child(self, entry: str) -> "UPath":
        if "://" in self._uri and "://" not in entry:
            entry = f"{self.protocol}://{entry}"
        return UPath(entry, **self._options)

    def read_bytes(self) -> bytes:
        return bytes(self.fs.cat_file(self._uri))

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def open(self, mode: str = "rb", **kwargs: Any) -> Any:
        return self.fs.open(self._uri, mode, **kwargs)

    def view_tree(self, level: int = 2, limit_to_directories: bool = False, length_limit: int = 1000) -> None:
        """Print the folder as a tree, as LaminDB does: counts first, then the entries."""
        lines: list[str] = []
        n_dirs = n_files = 0

        def walk(path: str, prefix: str, depth: int) -> None:
            nonlocal n_dirs, n_files
            entries = sorted(self.fs.ls(path, detail=True), key=lambda e: e["name"])
            for i, entry in enumerate(entries):
                is_dir = entry.get("type") == "directory"
                if limit_to_directories and not is_dir:
                    continue
                last = i == len(entries) - 1
                name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
                if len(lines) < length_limit:
                    lines.append(f"{prefix}{'└── ' if last else '├── '}{name}{'/' if is_dir else ''}")
                if is_dir:
                    n_dirs += 1
                    if depth < level:
                        walk(entry["name"], prefix + ("    " if last else "│   "), depth + 1)
                else:
                    n_files += 1

        walk(self._uri, "", 1)
        print(f"{n_dirs} sub-directories & {n_files} files with suffixes")
        print(self.name + "/")
        print("\n".join(lines))
