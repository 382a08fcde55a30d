"""Progress bars for long work: bytes and rate for transfers, counts for batches; only where a person watches.

A bar shows when all hold: stderr is a terminal, the `CI` variable is unset, `LAMIN_PROGRESS` is not "0" and
`ln.settings.verbosity` is 2 or more. `LAMIN_PROGRESS=1` forces bars even without a terminal (benchmarks,
recordings). Work too small to take about a second shows no bar at all. Only one bar is live at a time
(rich allows one live display): work started while a bar is showing (parallel copies) counts silently.

The callers advance the bar between chunks of at most a few MiB, so Ctrl-C (KeyboardInterrupt) is seen
within a chunk's time; the callers' cleanup (see artifacts/save.py) then leaves the instance as it was.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

MIN_BYTES = 64 * 1024 * 1024  # below this a local copy takes well under a second
MIN_COUNT = 200
DEFAULT_VERBOSITY = 2
_state = {"verbosity": DEFAULT_VERBOSITY}
_live = threading.Lock()
_LEVELS = {0: 40, 1: 30, 2: 20, 3: 10}  # logging's ERROR, WARNING, INFO, DEBUG: imported only when set


def get_verbosity() -> int:
    return _state["verbosity"]


def set_verbosity(level: int) -> None:
    if level not in _LEVELS:
        raise ValueError(f"verbosity is 0 (silent), 1 (warnings), 2 (info) or 3 (debug), not {level!r}")
    import logging

    _state["verbosity"] = level
    logging.getLogger("lamin_core").setLevel(_LEVELS[level])


def enabled() -> bool:
    """Whether a bar would show now (see the module docstring)."""
    setting = os.environ.get("LAMIN_PROGRESS", "")
    if setting == "0" or _state["verbosity"] < 2:
        return False
    if setting == "1":
        return True
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        return False
    return sys.stderr.isatty()


def _noop(_n: int = 1) -> None:
    pass


@contextmanager
def _bar(total: int | None, description: str, transfer: bool) -> Iterator[Callable[[int], None]]:
    if not enabled() or not _live.acquire(blocking=False):
        yield _noop
        return
    try:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns = [TextColumn("{task.description}"), BarColumn()]
        columns += [DownloadColumn(), TransferSpeedColumn()] if transfer else [MofNCompleteColumn()]
        columns.append(TimeRemainingColumn())
        console = Console(stderr=True, force_terminal=True if os.environ.get("LAMIN_PROGRESS") == "1" else None)
        with Progress(*columns, console=console, transient=True, refresh_per_second=5) as progress:
            task = progress.add_task(description, total=total)
            yield lambda n=1: progress.advance(task, n)
    finally:
        _live.release()


def copy_progress(total_bytes: int | None, description: str) -> "contextmanager[Callable[[int], None]]":  # type: ignore[valid-type]
    """A bar in bytes with the transfer rate; `advance(n)` after each n bytes. No bar for small transfers."""
    if total_bytes is not None and total_bytes < MIN_BYTES:
        return _silent()
    return _bar(total_bytes, description, transfer=True)


def count_progress(total: int | None, description: str) -> "contextmanager[Callable[[int], None]]":  # type: ignore[valid-type]
    """A bar in items (files hashed, runs ingested, events exported); `advance(n)` after n items."""
    if total is not None and total < MIN_COUNT:
        return _silent()
    return _bar(total, description, transfer=False)


@contextmanager
def _silent() -> Iterator[Callable[[int], None]]:
    yield _noop


def fsspec_callback(advance: Callable[[int], None]) -> Any:
    """An fsspec Callback forwarding transferred bytes to `advance` (uploads and downloads report through it)."""
    from fsspec.callbacks import DEFAULT_CALLBACK, Callback

    if advance is _noop:
        return DEFAULT_CALLBACK  # fsspec's own no-op

    class _Forward(Callback):
        def relative_update(self, inc: int = 1) -> None:
            advance(inc)

    return _Forward()
