"""File names as Snakemake logs them -> what they point at.

Snakemake's `job_info` lists files as display strings: relative to the working directory and sometimes
annotated (`data/x.txt (retrieve from storage)`, `out.fifo (pipe)`, `s3://b/k (send to storage)`). This
module undoes that formatting; it imports nothing heavy because it runs once per file per job.
"""

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

# The labels Snakemake appends in parentheses (snakemake/io/fmt.py); combinations are joined by ", ".
_LABELS = (
    "retrieve from storage",
    "only provide storage uri",
    "send to storage",
    "in storage",
    "cached",
    "pipe",
    "service",
    "nodelocal",
    "update",
    "before update",
)
_ANNOTATION = re.compile(r"^(?P<name>.*?) \((?P<labels>[^()]*)\)$", re.DOTALL)
_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)$")
# Files that are not data on disk: a named pipe or a socket exists only while its jobs run.
_NOT_FILES = frozenset({"pipe", "service"})
# Snakemake's placeholder for checkpoint targets that are not known yet.
_TBD = "<TBD>"


@dataclass(frozen=True)
class FileRef:
    """One file of a job, without Snakemake's display annotations."""

    name: str  # as written in the Snakefile (relative path or URI)
    labels: frozenset[str]

    @property
    def is_uri(self) -> bool:
        return _URI.match(self.name) is not None

    @property
    def is_data(self) -> bool:
        """False for pipes, services and unresolved checkpoint targets: nothing to register."""
        return bool(self.name) and self.name != _TBD and not (self.labels & _NOT_FILES)


def _is_label(text: str) -> bool:
    return text in _LABELS or text.startswith("access: ")


def parse_file(display: str) -> FileRef:
    """Split a display string such as `a.txt (pipe, send to storage)` into name and labels.

    Only a trailing parenthesis made of known labels is removed, so a file that is really called
    `report (final).txt` keeps its name.
    """
    text = str(display)
    m = _ANNOTATION.match(text)
    if m:
        labels = [part.strip() for part in m.group("labels").split(",")]
        if labels and all(_is_label(label) for label in labels):
            return FileRef(m.group("name"), frozenset(labels))
    return FileRef(text, frozenset())


def parse_files(displays: Iterable[object] | object | None) -> list[FileRef]:
    """`input`/`output`/`log` are lists, `benchmark` a single string or None: accept all three."""
    if displays is None:
        return []
    if isinstance(displays, (str, os.PathLike)):
        displays = [displays]
    refs = [parse_file(str(d)) for d in displays]  # type: ignore[union-attr]
    return [r for r in refs if r.is_data]


def absolute(name: str, workdir: str) -> str:
    """A local file name as an absolute, normalized path (Snakemake logs them relative to workdir)."""
    path = os.path.expanduser(name)
    if not os.path.isabs(path):
        path = os.path.join(workdir, path)
    return os.path.normpath(path)


def split_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/a/b.txt` -> (`s3://bucket`, `a/b.txt`): OpenLineage's namespace and name."""
    m = _URI.match(uri)
    if m is None:
        raise ValueError(f"not a URI: {uri!r}")
    authority, _, path = m.group("rest").partition("/")
    return f"{m.group('scheme')}://{authority}", path
