"""End runs whose process died without a word (SIGKILL, OOM killer, power loss): no run `started` forever.

Hooks and `atexit` cover every exit Python sees. A killed process runs neither, so each Prefect run lamin
records carries the host and process id that ran it (`run.facets["prefect"]`). `reconcile()` looks for
runs still `started` that were run on this host by a process that no longer exists, and records them as
aborted. It runs once per process before the first instrumented flow starts, and on demand with
`lamin prefect reconcile`. Runs of other hosts are left alone: from here, nothing tells whether they live.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
from typing import Any

from lamin_core.lineage import Job, LineageEvent, RunInfo

from ._emit import emit, now

REFERENCE_TYPES = ("prefect_flow_run", "prefect_task_run")
_done_in_this_process = False


@functools.lru_cache(maxsize=1)
def _host() -> str:
    # once per process: a system call per task run let Prefect's threads take the interpreter lock
    return socket.gethostname()


def process_facets() -> dict[str, Any]:
    """What identifies the process running a run (saved with every run's facets)."""
    return {"host": _host(), "pid": os.getpid()}


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def reconcile() -> list[str]:
    """Record as aborted the `started` Prefect runs of dead processes on this host; returns their references."""
    import lamin_core as ln

    host = socket.gethostname()
    ended: list[str] = []
    for run in ln.Run.filter(reference_type__in=list(REFERENCE_TYPES), status="started").all():
        origin = (run.facets or {}).get("prefect") or {}
        pid = origin.get("pid")
        if origin.get("host") != host or not isinstance(pid, int) or _alive(pid):
            continue
        namespace, _, name = (run.transform.key or "prefect/unknown").partition("/")
        # the run's status follows its latest attempt: the abort must be of that attempt
        attempts = [a.get("attempt") for a in (run.facets or {}).get("attempts", []) if isinstance(a.get("attempt"), int)]
        message = f"the process that ran this (pid {pid} on {host}) ended without reporting the end of the run"
        emit(
            LineageEvent(
                event_type="ABORT",
                event_time=now(),
                job=Job(namespace=namespace, name=name or namespace, kind=run.transform.kind or "pipeline"),
                run=RunInfo(
                    run_id=run.reference,
                    reference_type=run.reference_type,
                    attempt=max(attempts) if attempts else None,
                    error_message=message,
                ),
            )
        )
        ended.append(run.reference)
    return ended


def reconcile_once() -> None:
    """`reconcile()` the first time a flow starts in this process; never fails the flow."""
    global _done_in_this_process
    from . import _emit

    if _done_in_this_process or _emit.redirected():
        return  # events go to a callable (`record_to`), not to the database reconcile would read
    _done_in_this_process = True
    try:
        reconcile()
    except Exception:  # no instance, no database: the flow's own recording will say so
        pass


def main(argv: list[str]) -> int:
    """`lamin prefect reconcile`: mark Prefect runs whose process died on this host (SIGKILL, OOM) as aborted."""
    if argv[:1] != ["reconcile"] or len(argv) > 1:
        print("usage: lamin prefect reconcile\n\n" + (__doc__ or "").strip(), file=sys.stderr)
        return 2
    ended = reconcile()
    print(f"{len(ended)} run(s) of dead processes recorded as aborted" + (": " + ", ".join(ended) if ended else ""))
    return 0
