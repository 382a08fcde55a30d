"""The active run of this thread or asyncio task, and what the core does with it.

Artifacts saved while a run is active become its outputs (`artifact.run`); artifacts loaded, cached or
opened become its inputs. A context variable (not a global) keeps threads and asyncio tasks apart: two
flows running in two threads never see each other's runs, and asyncio tasks inherit the run of the code
that created them.

Two kinds of value can be active:
- a `Run` (set by `ln.track()`, `@ln.flow`, or an adapter such as lamin-prefect);
- a `PendingRun`: a `@ln.step` call whose Run is not written yet. Steps are short and most never need
  their run's id, so their START is recorded together with their COMPLETE in one transaction at the end;
  anything that needs the id (an artifact saved or loaded inside the step) writes the START first.

`ln.track()` also sets a process-wide fallback: threads started by a tracked script (which do not
inherit context variables) still save their artifacts under the script's run.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..lineage.events import Job, ParentRun
    from ..models import Artifact, Run

# the reference_type of runs that lamin-core itself identifies (tracked scripts, manual runs used as
# parents): their reference is their own uid, so that `record()` events can name them as parents
OWN_REFERENCE_TYPE = "lamin_run"

_current_run: ContextVar["Run | PendingRun | None"] = ContextVar("lamin_current_run", default=None)
_process_run: dict[str, Any] = {"run": None}  # the run of ln.track(): the fallback of every thread


class PendingRun:
    """A run that `record()` will create when first needed, named by its reference already.

    `materialize` is called at most once (under a lock: the context may have been copied into threads)
    and must record the run's START and return the Run.
    """

    __slots__ = ("reference", "reference_type", "job", "_materialize", "_run", "_lock")

    def __init__(self, reference: str, reference_type: str, job: "Job", materialize: Callable[[], "Run"]) -> None:
        self.reference = reference
        self.reference_type = reference_type
        self.job = job
        self._materialize = materialize
        self._run: "Run | None" = None
        self._lock = threading.Lock()

    @property
    def is_materialized(self) -> bool:
        return self._run is not None

    def run(self) -> "Run":
        if self._run is None:
            with self._lock:
                if self._run is None:
                    self._run = self._materialize()
                    self._forget_on_rollback()
        return self._run

    def _forget_on_rollback(self) -> None:
        """Materialized inside a caller's transaction (an artifact save asked for the id): if that
        transaction rolls back, so does the START, and the next need must record it again. Recording a
        START twice is harmless (the same event changes nothing), so a reset too many costs one query."""
        from ..db import engine as db

        if not db.in_write():
            return
        from sqlalchemy import event

        def forget(_session: object) -> None:
            self._run = None

        event.listen(db.session(), "after_rollback", forget, once=True)


def _active() -> "Run | PendingRun | None":
    value = _current_run.get()
    return value if value is not None else _process_run["run"]


def current_run() -> "Run | None":
    """The active Run as an ORM object, written to the database if it was still pending."""
    value = _active()
    if isinstance(value, PendingRun):
        value = value.run()
    if value is not None and not hasattr(value, "_sa_instance_state"):
        return value.orm()  # a TrackedRun (ln.track(), @ln.flow, @ln.step): its ORM Run
    return value


def current_run_id() -> int | None:
    value = _active()
    if value is None:
        return None
    if isinstance(value, PendingRun):
        return value.run().id
    return value.id


def set_current_run(run: "Run | PendingRun | None") -> object:
    """Make `run` the active run; returns a token for `reset_current_run`."""
    return _current_run.set(run)


def reset_current_run(token: object) -> None:
    _current_run.reset(token)  # type: ignore[arg-type]


def set_process_run(run: "Run | None") -> None:
    """The run every thread falls back to when its context has none (what `ln.track()` sets)."""
    _process_run["run"] = run


def process_run() -> "Run | None":
    return _process_run["run"]


def current_parent() -> "ParentRun | None":
    """The active run as the parent of a run that `record()` is about to create, without writing it.

    A pending step is named by its reference and job (record() creates it if the child comes first); a
    Run that has no reference yet (a manual `ln.Run(transform)`) gets its own uid as one.
    """
    from ..lineage.events import ParentRun

    value = _active()
    if value is None:
        return None
    if isinstance(value, PendingRun):
        return ParentRun(run_id=value.reference, job=value.job, reference_type=value.reference_type)
    ensure_reference(value)
    return ParentRun(run_id=value.reference or "", reference_type=value.reference_type)


def ensure_reference(run: "Run") -> None:
    """Give a run that the recording path must find by reference its own uid as reference (once)."""
    if run.reference is not None and run.reference_type is not None:
        return
    from sqlalchemy import update
    from sqlalchemy.orm.attributes import set_committed_value

    from ..db import engine as db
    from ..models import Run

    if run.id is None:
        raise ValueError("a run must be saved before runs can be recorded under it: call run.save() first")
    # an UPDATE by id, not session.add(): the Run may belong to another thread's session
    with db.write() as s:
        s.execute(update(Run).where(Run.id == run.id).values(reference_type=OWN_REFERENCE_TYPE, reference=run.uid))
    set_committed_value(run, "reference_type", OWN_REFERENCE_TYPE)
    set_committed_value(run, "reference", run.uid)


def register_input(artifact: "Artifact") -> None:
    """Link an artifact that was loaded, cached or opened as an input of the active run."""
    if _active() is None or artifact.id is None:
        return
    run = current_run()
    if run is None or artifact.run_id == run.id:
        return  # a run's own outputs are not its inputs
    from ..db import engine as db
    from ..db.upsert import insert_ignore
    from ..models.run import run_input_artifacts

    with db.write() as s:
        insert_ignore(s, run_input_artifacts, {"run_id": run.id, "artifact_id": artifact.id})
