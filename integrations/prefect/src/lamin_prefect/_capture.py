"""Which files a flow or task opens while its function runs, via Python's audit hook on `open`.

A `RunScope` is made current (a context variable) only while the user's function executes, so an `open`
is attributed to the innermost instrumented run: threads and event loops that Prefect starts copy the
context, so `.submit()`/`.map()` in a thread pool and async tasks are attributed correctly.

What this cannot see (documented in docs/prefect.md):
- files opened by C/C++/Rust code that bypasses Python's `open` (pyarrow's native readers, h5py,
  compiled extensions, subprocesses such as shell tools);
- files opened in threads the task starts itself without copying the context (`threading.Thread`,
  a plain `ThreadPoolExecutor`; `asyncio.to_thread` does copy it);
- opens made by Prefect, lamin_core or the import system (skipped on purpose: result persistence,
  hashing and module imports are not data the task read).
"""

from __future__ import annotations

import os
import sys
import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from lamin_core.lineage import Job, RunInfo
from lamin_core.storage.managed import MANAGED_DIR

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
# Frames of these packages between the `open` and the user's function mean the open is machinery, not data.
_SKIP_MODULES = (
    "prefect", "lamin_core", "lamin_prefect", "importlib", "zipimport", "pkgutil", "linecache",
    "tokenize", "inspect", "traceback", "logging", "warnings", "_pytest", "pluggy", "site",
    "sqlalchemy", "alembic", "pydantic", "cloudpickle", "certifi", "ssl", "mimetypes", "platform",
)  # fmt: skip
_SKIP_PREFIXES = ("/dev/", "/proc/", "/sys/", "/etc/")
_MANAGED_DIR = os.sep + MANAGED_DIR + os.sep


@dataclass
class RunScope:
    """One run (flow run or task run) whose function is executing; collects the files it opens."""

    job: Job
    run: RunInfo
    flow_run_id: str | None  # the Prefect flow run this run belongs to (itself, for a flow run)
    flow_job: Job | None
    reads: dict[str, None] = field(default_factory=dict)  # insertion-ordered sets of absolute paths
    writes: dict[str, None] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # filled in by the wrapper, read by the state hooks
    params: dict[str, Any] = field(default_factory=dict)
    candidates: list[tuple[str, Any]] = field(default_factory=list)
    inputs_at_start: dict[str, Any] = field(default_factory=dict)
    absent_at_start: set[str] = field(default_factory=set)  # argument paths that did not exist at all
    result: Any = None
    error: str | None = None
    failure_reported_for: int | None = None  # attempt whose FAIL the wrapper already recorded
    attempt: int = 1
    ran: bool = False  # the function ran at least once (a cache hit never calls it)
    core_run: Any = None  # the core's Run, made current while the function runs (artifact.run)
    annotate: str = "existing"  # how the parameters annotate the run and its outputs (_annotate.py)
    annotations: dict[str, Any] | None = None  # the plain parameters, once the function ran
    save: Any = None  # task(schema=, key=): an _annotate.SaveSpec
    asset_outputs: list[Any] | None = None  # datasets of the assets a @materialize task declared

    def saw_open(self, path: str, writing: bool) -> None:
        with self.lock:
            if writing:
                self.writes[path] = None
            else:
                self.reads[path] = None


current_scope: ContextVar[RunScope | None] = ContextVar("lamin_prefect_scope", default=None)
_installed = False
_install_lock = threading.Lock()
_ignored_roots: list[str] = []
# code objects of lamin_prefect's function wrappers (set by _runtime): where the user's code begins
WRAPPER_CODES: frozenset[Any] = frozenset()


def ignore_root(path: str) -> None:
    """Never attribute opens under this folder (Prefect's home, the instance's own database and cache)."""
    root = os.path.abspath(path).rstrip(os.sep) + os.sep
    if root not in _ignored_roots:
        _ignored_roots.append(root)


def _opened_by_machinery(frame: FrameType | None) -> bool:
    """True when Prefect, lamin_core, the import system, ... sit between this `open` and the user's code."""
    depth = 0
    while frame is not None and depth < 200:
        if frame.f_code in WRAPPER_CODES:
            return False  # reached our wrapper: everything below it is the user's function
        module = frame.f_globals.get("__name__", "")
        if module.split(".", 1)[0] in _SKIP_MODULES:
            return True
        frame = frame.f_back
        depth += 1
    return False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    # Called for every audit event in the process: the first comparison must reject almost all of them.
    if event != "open":
        return
    scope = current_scope.get()
    if scope is None:
        return
    try:
        _see_open(scope, *args[:3])
    except Exception:  # an exception here would make the user's open() fail: lineage never does that
        pass


def _see_open(scope: RunScope, path: Any, mode: Any, flags: Any) -> None:
    if path is None or isinstance(path, int):
        return  # opening a file descriptor: the file was already opened (and seen) by name
    path = os.path.abspath(os.fsdecode(path))
    if path.startswith(_SKIP_PREFIXES) or any(path.startswith(root) for root in _ignored_roots):
        return
    if _MANAGED_DIR in path and os.path.basename(path).startswith("lamin.db"):
        # an instance's SQLite files: hashing them with open() in a process that holds a SQLite
        # connection to them would drop that connection's locks (see shared/notes/engines.md)
        return
    if isinstance(mode, str):
        writing = any(c in mode for c in "wax+")
    else:
        writing = bool((flags or 0) & _WRITE_FLAGS)
    if _opened_by_machinery(sys._getframe(2)):
        return
    # no check that it is a file (the open may still fail, the path be a directory): the recording
    # process checks, outside the task's thread
    scope.saw_open(path, writing)


def install_audit_hook() -> None:
    """Install the process-wide audit hook once (audit hooks cannot be removed, so never twice)."""
    global _installed
    if _installed:
        return
    with _install_lock:
        if _installed:
            return
        for root in (sys.prefix, sys.base_prefix, sys.exec_prefix):
            ignore_root(root)
        sys.addaudithook(_audit)
        _installed = True
