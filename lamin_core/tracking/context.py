"""The active run of this thread or asyncio task, and what the core does with it.

Artifacts saved while a run is active become its outputs (`artifact.run`); artifacts loaded, cached or
opened become its inputs. A context variable (not a global) keeps threads and asyncio tasks apart.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models import Artifact, Run

_current_run: ContextVar["Run | None"] = ContextVar("lamin_current_run", default=None)


def current_run() -> "Run | None":
    return _current_run.get()


def current_run_id() -> int | None:
    run = _current_run.get()
    return run.id if run is not None else None


def set_current_run(run: "Run | None") -> object:
    """Make `run` the active run; returns a token for `reset_current_run`."""
    return _current_run.set(run)


def reset_current_run(token: object) -> None:
    _current_run.reset(token)  # type: ignore[arg-type]


def register_input(artifact: "Artifact") -> None:
    run = _current_run.get()
    if run is None or artifact.id is None or artifact.run_id == run.id:
        return  # a run's own outputs are not its inputs
    from ..db import engine as db
    from ..db.upsert import insert_ignore
    from ..models.run import run_input_artifacts

    with db.write() as s:
        insert_ignore(s, run_input_artifacts, {"run_id": run.id, "artifact_id": artifact.id})
