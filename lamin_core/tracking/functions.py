"""`@ln.flow()` and `@ln.step()`: a function becomes a Transform, each call a Run of it.

    @ln.flow()
    def ingest(key: str) -> ln.Artifact:
        df = clean(load())                     # @ln.step() functions: child runs of this flow's run
        return ln.Artifact.from_dataframe(df, key=key).save()

Both go through the one recording path, `lamin_core.lineage.record()`, like every engine adapter: the
function is the job (key `module.qualname`, its source code deciding the version), the call is the run
(its bound arguments as params, secrets redacted), and the enclosing run (an outer flow or step, the
run of `ln.track()`, a Prefect task of lamin-prefect) is its parent, so `run.initiated_by_run` links them.

- While the function runs, its run is the current run (a context variable: each thread and asyncio task
  has its own), so artifacts it saves are its outputs and artifacts it loads its inputs. Artifacts it
  returns that no run produced yet become its outputs too; Artifact arguments become its inputs.
- An exception marks the run `errored` (`aborted` for KeyboardInterrupt, SystemExit and cancellation),
  keeps the traceback as the run's report, and is re-raised unchanged.
- A flow records its START when called (a long workflow is visible while it runs). A step is usually
  short: its START and COMPLETE are recorded together when it returns (one transaction, `record_many`),
  unless something inside needs its run's id earlier (an artifact saved or loaded, see
  `context.PendingRun`). A child run may be recorded before its parent: `record()` takes either order.

Threads do not inherit context variables in Python 3.11: a step submitted to a thread pool from inside a
flow nests under the flow when submitted as `pool.submit(contextvars.copy_context().run, fn, *args)`;
otherwise it nests under the run of `ln.track()` if there is one, or stands alone.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar, overload

from .. import log
from . import context

if TYPE_CHECKING:
    from ..lineage.events import Job, LineageEvent
    from ..models import Run

F = TypeVar("F", bound=Callable[..., Any])
REFERENCE_TYPE = "lamin_function"  # run.reference_type of flow and step runs; run.reference is a random UUID
ABORTING = (KeyboardInterrupt, SystemExit, GeneratorExit)


class _Spec:
    """What a decorated function's runs share; the Job is built on the first call (reading source is slow)."""

    __slots__ = ("func", "decorator", "key", "version", "description", "signature", "_job")

    def __init__(self, func: Callable[..., Any], decorator: str, key: str | None, version: str | None, description: str | None):
        self.func = func
        self.decorator = decorator
        self.key = key
        self.version = version
        self.description = description
        self.signature = inspect.signature(func)
        self._job: "Job | None" = None

    def job(self) -> "Job":
        if self._job is None:
            from ..lineage.events import Job

            doc = (inspect.getdoc(self.func) or "").strip().split("\n", 1)[0] or None
            self._job = Job(
                namespace="",
                name=self.key or function_key(self.func),
                kind="function",
                source_code=_source(self.func),
                version=self.version,
                description=self.description or doc,
            )
        return self._job


def function_key(func: Callable[..., Any]) -> str:
    """`module.qualname`; for a function of a script run as `__main__`, the module named after its file."""
    module = getattr(func, "__module__", None) or "__main__"
    if module == "__main__":
        file = inspect.getsourcefile(func) if _has_source_file(func) else None
        if file:
            from .source import key_for

            stem = key_for(Path(file))
            module = stem.rsplit(".", 1)[0].replace("/", ".") if "." in stem else stem.replace("/", ".")
    return f"{module}.{func.__qualname__}"


def _has_source_file(func: Callable[..., Any]) -> bool:
    code = getattr(func, "__code__", None)
    return code is not None and os.path.isfile(code.co_filename)


def _source(func: Callable[..., Any]) -> str | None:
    try:
        return inspect.getsource(func)
    except (OSError, TypeError):  # defined in a console: versioned by key alone
        return None


class _Call:
    """One call of a decorated function: its run, from START to COMPLETE or FAIL."""

    __slots__ = ("spec", "start_event", "pending", "run", "token")

    def __init__(self, spec: _Spec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        from ..lineage.events import LineageEvent, RunInfo
        from .params import annotation_values, bound_params, clean_params

        self.spec = spec
        job = spec.job()
        reference = str(uuid.uuid4())  # what OpenLineage expects of a runId, should the run be exported
        raw = bound_params(spec.signature, args, kwargs)
        info = RunInfo(
            run_id=reference, reference_type=REFERENCE_TYPE, parent=context.current_parent(), params=clean_params(raw),
            annotations=annotation_values(raw),  # params that existing features name become the run's feature values
        )
        self.start_event = LineageEvent("START", _now(), job, info, producer=PRODUCER)
        self.run: "Run | None" = None
        self.pending: context.PendingRun | None = None
        if spec.decorator == "flow":
            _watch_exit()
            self.run = _record([self.start_event])[0]
            self.token = context.set_current_run(self.run)
            _open_calls[id(self)] = self
        else:
            self.pending = context.PendingRun(reference, REFERENCE_TYPE, job, self._materialize)
            self.token = context.set_current_run(self.pending)
        try:
            _link_inputs(raw)
        except BaseException:
            context.reset_current_run(self.token)
            raise

    def _materialize(self) -> "Run":
        _watch_exit()
        run = _record([self.start_event])[0]
        _open_calls[id(self)] = self
        return run

    def complete(self, result: Any) -> None:
        try:
            outputs = [a for a in _artifacts_in(result) if a.id is not None and a.run_id is None]
            if outputs:
                _claim_outputs(outputs, context.current_run_id())
            self._finish("COMPLETE", None)
        finally:
            context.reset_current_run(self.token)

    def fail(self, exc: BaseException) -> None:
        try:
            event_type = "ABORT" if isinstance(exc, ABORTING) or _is_cancelled(exc) else "FAIL"
            import traceback

            message = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            self._finish(event_type, message)
        except Exception as e:  # never hide the function's own exception behind a recording error
            log.warning("could not record the %s of %s: %s", type(exc).__name__, self.spec.job().name, e)
        finally:
            context.reset_current_run(self.token)

    def _finish(self, event_type: str, message: str | None) -> None:
        from dataclasses import replace

        _open_calls.pop(id(self), None)
        start = self.start_event
        info = replace(start.run, params=None, parent=None, error_message=message)
        end = replace(start, event_type=event_type, event_time=_now(start.event_time), run=info)
        if self.pending is not None:
            # one transaction for a step; START again if it was recorded already: that changes nothing,
            # and covers a START that a caller's rolled-back transaction took with it
            _record([start, end])
        else:
            _record([end])


PRODUCER = "lamin_core.tracking.functions"
# calls whose START is recorded and whose end is not: closed as aborted if the process exits under them
# (a daemon thread's flow when the main thread ends; SIGTERM reaches flows in the main thread as SystemExit)
_open_calls: dict[int, _Call] = {}
_exit_state: dict[str, Any] = {"pid": None, "signals": False}


def _watch_exit() -> None:
    if _exit_state["pid"] != os.getpid():
        import atexit

        _exit_state["pid"] = os.getpid()
        atexit.register(_abort_open_calls)
    if not _exit_state["signals"] and threading.current_thread() is threading.main_thread():
        from .track import install_signal_handlers

        install_signal_handlers()  # only the main thread may; a flow in another thread tries again later
        _exit_state["signals"] = True


def _abort_open_calls() -> None:
    if _exit_state["pid"] != os.getpid():
        return  # a forked child does not own its parent's calls
    for call in list(_open_calls.values()):
        try:
            call._finish("ABORT", "the process exited while this call was running")
        except Exception as e:
            log.warning("could not mark a run of %s aborted: %s", call.spec.job().name, e)


def _record(events: "list[LineageEvent]") -> "list[Run]":
    """Record; the runs as handles (ids at once, the ORM Run on first use): a script whose flows only run never
    imports SQLAlchemy."""
    from ..lineage.recorder import record_many
    from .run_handle import TrackedRun

    return [
        TrackedRun(id=r.run_id, uid=r.run_uid, transform_id=r.transform_id, reference=e.run.run_id,  # type: ignore[misc]
                   reference_type=e.run.reference_type)
        for e, r in zip(events, record_many(events), strict=True)
    ]


def _now(after: datetime | None = None) -> datetime:
    now = datetime.now(timezone.utc)
    if after is not None and now <= after:  # the clock may not have moved: keep END after START
        from datetime import timedelta

        now = after + timedelta(microseconds=1)
    return now


def _is_cancelled(exc: BaseException) -> bool:
    import asyncio

    return isinstance(exc, asyncio.CancelledError)


def _artifact_class() -> Any:
    """`Artifact`, if the models are loaded: no value can be an Artifact before they are, and importing them
    to find out would cost a script whose flows pass plain values the whole ORM."""
    import sys

    models = sys.modules.get("lamin_core.models")
    return getattr(models, "Artifact", None)


def _artifacts_in(value: Any) -> list[Any]:
    """Artifacts in a return value: itself, or the items of a list, tuple, set or dict (one level)."""
    Artifact = _artifact_class()
    if Artifact is None:
        return []
    if isinstance(value, Artifact):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return [v for v in value if isinstance(v, Artifact)]
    return []


def _link_inputs(params: dict[str, Any]) -> None:
    """Saved Artifacts passed as arguments are inputs of the call's run."""
    Artifact = _artifact_class()
    if not params or Artifact is None:
        return
    for value in params.values():
        candidates = [value] if isinstance(value, Artifact) else (_artifacts_in(value) if isinstance(value, (list, tuple, dict)) else [])
        for artifact in candidates:
            if artifact.id is not None:
                context.register_input(artifact)


def _claim_outputs(artifacts: list[Any], run_id: int | None) -> None:
    """Returned artifacts that no run produced: this run produced them (e.g. saved in an unlinked thread)."""
    from sqlalchemy import update
    from sqlalchemy.orm.attributes import set_committed_value

    from ..db import engine as db
    from ..models import Artifact

    if run_id is None:
        return
    ids = [a.id for a in artifacts]
    with db.write() as s:
        s.execute(update(Artifact).where(Artifact.id.in_(ids), Artifact.run_id.is_(None)).values(run_id=run_id))
    for a in artifacts:
        set_committed_value(a, "run_id", run_id)


def _decorate(decorator: str, key: str | None, version: str | None, description: str | None) -> Callable[[F], F]:
    def wrap(func: F) -> F:
        if not callable(func):
            raise TypeError(f"@ln.{decorator}() decorates a function, not {type(func).__name__}")
        spec = _Spec(func, decorator, key, version, description)
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                call = _Call(spec, args, kwargs)
                try:
                    result = await func(*args, **kwargs)
                except BaseException as e:
                    call.fail(e)
                    raise
                call.complete(result)
                return result

            async_wrapper.__lamin_spec__ = spec  # type: ignore[attr-defined]
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            call = _Call(spec, args, kwargs)
            try:
                result = func(*args, **kwargs)
            except BaseException as e:
                call.fail(e)
                raise
            call.complete(result)
            return result

        wrapper.__lamin_spec__ = spec  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return wrap


@overload
def flow(key: F) -> F: ...
@overload
def flow(key: str | None = None, *, version: str | None = None, description: str | None = None) -> Callable[[F], F]: ...
def flow(key: Any = None, *, version: str | None = None, description: str | None = None) -> Any:
    """Track a function as a workflow: a Transform for it, a Run per call (see the module docstring).

    `key` overrides the Transform key (default `module.qualname`); `version` pins a version label.
    """
    if callable(key):  # used bare: @ln.flow
        return _decorate("flow", None, version, description)(key)
    return _decorate("flow", key, version, description)


@overload
def step(key: F) -> F: ...
@overload
def step(key: str | None = None, *, version: str | None = None, description: str | None = None) -> Callable[[F], F]: ...
def step(key: Any = None, *, version: str | None = None, description: str | None = None) -> Any:
    """Track a function as a step: like `flow`, and its runs are children of the enclosing run."""
    if callable(key):
        return _decorate("step", None, version, description)(key)
    return _decorate("step", key, version, description)
