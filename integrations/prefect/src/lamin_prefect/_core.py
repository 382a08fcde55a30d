"""The one place this package touches lamin_core beyond `record()`: making a run current.

While a flow's or task's function runs, its Run is the core's current run (`lamin_core.tracking.context`),
so `ln.Artifact(...).save()` inside the task sets `artifact.run` to the task run, and loading or caching
an artifact there counts as an input of it.
"""

from __future__ import annotations

from typing import Any, Callable


def pending_run(reference: str, reference_type: str, job: Any, materialize: Callable[[], Any]) -> Any:
    """A run the core records (via `materialize`) only when something inside the task needs it."""
    from lamin_core.tracking.context import PendingRun

    return PendingRun(reference, reference_type, job, materialize)


def enter_run(run: Any) -> Any:
    """Make `run` (a core Run or PendingRun; None when recording failed) current; returns a token."""
    if run is None:
        return None
    from lamin_core.tracking.context import set_current_run

    return set_current_run(run)


def exit_run(token: Any) -> None:
    if token is None:
        return
    from lamin_core.tracking.context import reset_current_run

    reset_current_run(token)
