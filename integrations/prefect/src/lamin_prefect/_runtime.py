"""What happens while an instrumented flow or task runs: the function wrapper and the state hooks.

Two Prefect mechanisms, each used for what only it can see:

- a thin wrapper around the user's function (installed as `task.fn` / `flow.fn` after Prefect built the
  object, so Prefect's task key, cache key, version and parameter schema still come from the original
  function). It runs once per attempt, sees the real argument values and the exception of each attempt,
  and makes the run "current" so files opened inside are attributed to it. It records START.
- Prefect's state hooks (`on_completion`, `on_failure`, flows also `on_crashed`, `on_cancellation`): they
  see the final state, including runs whose function never ran (cache hits, failed upstreams, crashes).
  They record COMPLETE / FAIL / ABORT.

Every record goes through `_emit` -> `lamin_core.lineage.record()` / `record_many()`.
"""

from __future__ import annotations

import functools
import inspect
import logging
import types
from typing import Any, Callable

from lamin_core.lineage import Dataset, Job, LineageEvent, ParentRun, RunInfo

from . import _capture, _core
from ._annotate import ENGINE, default_mode, plain_values
from ._emit import close_open_runs, defer_start, emit, emit_later, now
from ._jobs import flow_job, task_job
from ._reconcile import process_facets, reconcile_once
from ._values import (
    asset_dataset,
    candidates_in,
    dataset_for_path,
    existing_datasets,
    params_for_record,
    uri_of,
)

FLOW_RUN = "prefect_flow_run"
TASK_RUN = "prefect_task_run"
PRODUCER = "https://github.com/laminlabs/lamin-core/tree/main/integrations/prefect"

# run id -> scope, from the wrapper (START) to the final state hook; popped by the hook
_scopes: dict[str, _capture.RunScope] = {}
# flow run id -> its Job, for flow runs instrumented in this process (task runs name them as parent)
_flow_jobs: dict[str, Job] = {}
# flow run id -> URIs its task runs (and subflow runs) produced: a flow returning a file its task wrote
# must not claim to have produced it too (artifact.run is the task run)
_produced_in_flow: dict[str, set[str]] = {}


@functools.lru_cache(maxsize=1024)
def _cached_signature(fn: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(fn)


def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    try:
        return _cached_signature(fn)  # once per function, not per task run
    except TypeError:  # an unhashable callable object
        return inspect.signature(fn)


def _bind(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        signature = _signature(fn)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        params = dict(bound.arguments)
        # `**kwargs` arrives as one dict entry: flatten it so each keyword is a parameter
        for name, p in signature.parameters.items():
            if p.kind is inspect.Parameter.VAR_KEYWORD and isinstance(params.get(name), dict):
                params.update(params.pop(name))
        first = next(iter(params), None)
        if first in ("self", "cls"):  # a task defined as a method: the instance is not a parameter
            params.pop(first)
        return params
    except (TypeError, ValueError):
        return {f"arg{i}": a for i, a in enumerate(args)} | kwargs


def _error_text(exc: BaseException | None, fallback: str | None) -> str:
    if exc is not None:
        text = str(exc)
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return fallback or "failed"


# ---- the wrapper -------------------------------------------------------------------------------------


def _event(event_type: str, scope: _capture.RunScope, **run_fields: Any) -> LineageEvent:
    run = scope.run
    fields = {
        "run_id": run.run_id,
        "reference_type": run.reference_type,
        "parent": run.parent,
        "attempt": scope.attempt,
        "name": run.name,
        "facets": run.facets,
    }
    fields.update(run_fields)
    inputs = fields.pop("inputs", ())
    outputs = fields.pop("outputs", ())
    if scope.annotations and scope.annotate != "none":
        fields["annotations"] = scope.annotations
    return LineageEvent(
        event_type=event_type,  # type: ignore[arg-type]
        event_time=now(),
        job=scope.job,
        run=RunInfo(**fields),
        inputs=inputs,
        outputs=outputs,
        producer=PRODUCER,
        annotate=scope.annotate,  # type: ignore[arg-type]
        engine=ENGINE,
    )


def _send(scope: _capture.RunScope, event: LineageEvent) -> None:
    """A run's end goes to the recording process. A task run's may wait in this process to go with later
    ones (one pipe write for many); a flow run's goes at once, taking them along. Nobody waits for the
    recording: this process's next query does (see `lamin_core.lineage.background`)."""
    emit_later(event, hold=scope.run.reference_type == TASK_RUN)


def _asset_inputs() -> list[Dataset]:
    from prefect.context import AssetContext

    ctx = AssetContext.get()
    if ctx is None:
        return []
    assets = set(ctx.direct_asset_dependencies) | set(ctx.upstream_assets)
    return [asset_dataset(a) for a in sorted(assets, key=lambda a: a.key)]


def _start(scope: _capture.RunScope, args: tuple[Any, ...], kwargs: dict[str, Any], fn: Callable[..., Any]) -> None:
    """Record START of this attempt, with the arguments' artifacts, files and URIs as inputs."""
    params = _bind(fn, args, kwargs)
    if not scope.ran:
        # what existed before the FIRST attempt: a file a failed attempt half-wrote is not an input of the next
        scope.params = params
        if scope.annotate != "none":
            scope.annotations = plain_values(params)
        scope.candidates = list(candidates_in(params))
        scope.absent_at_start = set()
        scope.inputs_at_start = existing_datasets(scope.candidates, absent=scope.absent_at_start)
    scope.error = None
    scope.ran = True
    inputs = list(scope.inputs_at_start.values())
    if scope.run.reference_type == TASK_RUN:
        inputs += _asset_inputs()
    start = _event("START", scope, params=params_for_record(params), inputs=inputs)
    if scope.run.reference_type == FLOW_RUN:
        # a flow run's START goes to the recording process at once (it is visible while the flow runs);
        # its Run is fetched here only if the flow's own code needs it (an artifact saved in the body)
        emit_later(start)
        scope.core_run = _core.pending_run(scope.run.run_id, FLOW_RUN, scope.job, lambda: getattr(emit(start), "run", None))
    else:
        # a task run's START waits for its end (one transaction for both) unless the task body needs
        # its Run earlier (an artifact saved or loaded inside): the core's PendingRun asks for it then
        defer_start(start)
        scope.core_run = _core.pending_run(scope.run.run_id, TASK_RUN, scope.job, lambda: getattr(emit(start), "run", None))


def _enter(kind: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
    """Set up the scope of one attempt; None when not running under Prefect (e.g. `task.fn(...)` called directly)."""
    from prefect.context import FlowRunContext, TaskRunContext

    enclosing = _capture.current_scope.get()
    if kind == "task":
        ctx = TaskRunContext.get()
        if ctx is None or ctx.task_run is None:
            return None
        prefect_run, run_id = ctx.task_run, str(ctx.task_run.id)
        flow_run_id = str(prefect_run.flow_run_id) if prefect_run.flow_run_id else None
        parent_job = _flow_jobs.get(flow_run_id) if flow_run_id else None
        if parent_job is None and enclosing is not None:  # e.g. the flow run was instrumented elsewhere
            flow_run_id, parent_job = enclosing.flow_run_id, enclosing.flow_job
        job = task_job(ctx.task, parent_job.name if parent_job else None)
        parent = ParentRun(run_id=flow_run_id, job=parent_job, reference_type=FLOW_RUN) if parent_job else None
        reference_type, own_flow_run, own_flow_job = TASK_RUN, flow_run_id, parent_job
    else:
        ctx = FlowRunContext.get()
        if ctx is None or ctx.flow_run is None:
            return None
        prefect_run, run_id = ctx.flow_run, str(ctx.flow_run.id)
        job = flow_job(ctx.flow)
        _flow_jobs[run_id] = job
        reconcile_once()
        _instrument_called_tasks(ctx.flow)
        parent = None
        if enclosing is not None and enclosing.flow_run_id and enclosing.flow_job:
            # a subflow: its parent is the flow run it was called from
            parent = ParentRun(run_id=enclosing.flow_run_id, job=enclosing.flow_job, reference_type=FLOW_RUN)
        reference_type, own_flow_run, own_flow_job = FLOW_RUN, run_id, job

    scope = _scopes.get(run_id)
    if scope is None:
        facets = {"prefect": {"run_name": prefect_run.name, "flow_run_id": own_flow_run, **process_facets()}}
        run = RunInfo(run_id=run_id, reference_type=reference_type, parent=parent, name=prefect_run.name, facets=facets)
        scope = _capture.RunScope(job=job, run=run, flow_run_id=own_flow_run, flow_job=own_flow_job)
        obj = ctx.task if kind == "task" else ctx.flow
        # the object's own mode, else the enclosing flow's (a task follows its flow), else the default
        scope.annotate = getattr(obj, "_lamin_annotate", None) or (enclosing.annotate if enclosing else None) or default_mode()
        scope.save = getattr(obj, "_lamin_save", None)
        _scopes[run_id] = scope
    scope.attempt = max(int(prefect_run.run_count or 1), 1)
    _start(scope, args, kwargs, fn)
    core_token = _core.enter_run(scope.core_run)
    token = _capture.current_scope.set(scope)
    return scope, token, core_token


def _exit(state: tuple[Any, ...] | None, result: Any = None, exc: BaseException | None = None) -> None:
    if state is None:
        return
    scope, token, core_token = state
    _capture.current_scope.reset(token)
    _core.exit_run(core_token)
    if exc is None:
        scope.result = result
        _collect_assets(scope)
        return
    scope.error = _error_text(exc, None)
    # Exceptions fail this attempt (Prefect may retry: the next START moves the run on); anything else
    # (KeyboardInterrupt, cancellation) aborts it. Recording per attempt keeps each attempt's message.
    event_type = "FAIL" if isinstance(exc, Exception) else "ABORT"
    _send(scope, _event(event_type, scope, error_message=scope.error))
    scope.failure_reported_for = scope.attempt


def _saved(state: tuple[Any, ...] | None, result: Any) -> None:
    """`task(schema=, key=)`: validate and save the result while the run is current (artifact.run is this
    run); a ValidationError fails this attempt like any exception of the task."""
    if state is None or state[0].save is None:
        return
    from ._annotate import save_result

    save_result(state[0].save, state[0].params, result)


def _collect_assets(scope: _capture.RunScope) -> None:
    """Assets a @materialize task declares are its outputs (with metadata added while it ran)."""
    from prefect.context import AssetContext

    ctx = AssetContext.get()
    if ctx is None or not ctx.downstream_assets:
        return
    outputs = []
    for asset in sorted(ctx.downstream_assets, key=lambda a: a.key):
        dataset = asset_dataset(asset)
        metadata = ctx.materialization_metadata.get(asset.key)
        if metadata:
            from ._values import jsonable

            facets = dict(dataset.facets)
            facets["prefect_asset"] = {**facets["prefect_asset"], "metadata": jsonable(metadata)}
            dataset = Dataset(dataset.namespace, dataset.name, facets=facets)
        outputs.append(dataset)
    scope.asset_outputs = outputs


def _templates(kind: str, fn: Callable[..., Any]) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The wrapper bodies. They reach everything through closure variables and builtins only, so that
    `wrap` can rebuild them with the user's module globals (see there)."""
    enter, exit_, saved = _enter, _exit, _saved

    async def _call_user_async(*args: Any, **kwargs: Any) -> Any:
        state = enter(kind, fn, args, kwargs)
        try:
            result = await fn(*args, **kwargs)
            saved(state, result)
        except BaseException as exc:
            exit_(state, exc=exc)
            raise
        exit_(state, result=result)
        return result

    def _call_user_sync(*args: Any, **kwargs: Any) -> Any:
        state = enter(kind, fn, args, kwargs)
        try:
            result = fn(*args, **kwargs)
            saved(state, result)
        except BaseException as exc:
            exit_(state, exc=exc)
            raise
        exit_(state, result=result)
        return result

    return _call_user_async, _call_user_sync


_ASYNC_TEMPLATE, _SYNC_TEMPLATE = _templates("task", lambda: None)
WRAPPER_CODES = frozenset({_ASYNC_TEMPLATE.__code__, _SYNC_TEMPLATE.__code__})
_capture.WRAPPER_CODES = WRAPPER_CODES


def wrap(kind: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """The wrapper installed as `.fn`: same signature, same sync/async nature, same source for Prefect.

    Prefect (pydantic) resolves string annotations such as `x: ln.Artifact` in the globals of `.fn`: the
    wrapper therefore gets the user's module globals, not this module's.
    """
    async_body, sync_body = _templates(kind, fn)
    body = async_body if inspect.iscoroutinefunction(fn) else sync_body
    globals_ = getattr(fn, "__globals__", None)
    if globals_ is not None:
        body = types.FunctionType(body.__code__, globals_, body.__name__, body.__defaults__, body.__closure__)
    wrapper = functools.wraps(fn)(body)
    wrapper.__lamin_original__ = fn  # type: ignore[attr-defined]
    wrapper.__prefect_task_source__ = fn  # type: ignore[attr-defined]  # Prefect: task key from the original
    return wrapper


# ---- state hooks -------------------------------------------------------------------------------------


def _scope_from_hook(kind: str, obj: Any, prefect_run: Any) -> _capture.RunScope:
    """The scope the wrapper made, or a fresh one when the function never ran (cache hit, upstream failure)."""
    run_id = str(prefect_run.id)
    scope = _scopes.pop(run_id, None)
    if scope is not None:
        return scope
    if kind == "task":
        flow_run_id = str(prefect_run.flow_run_id) if prefect_run.flow_run_id else None
        parent_job = _flow_jobs.get(flow_run_id) if flow_run_id else None
        job = task_job(obj, parent_job.name if parent_job else None)
        parent = ParentRun(run_id=flow_run_id, job=parent_job, reference_type=FLOW_RUN) if parent_job else None
        run = RunInfo(run_id=run_id, reference_type=TASK_RUN, parent=parent, name=prefect_run.name)
        scope = _capture.RunScope(job=job, run=run, flow_run_id=flow_run_id, flow_job=parent_job)
    else:
        job = _flow_jobs.get(run_id) or flow_job(obj)
        run = RunInfo(run_id=run_id, reference_type=FLOW_RUN, name=prefect_run.name)
        scope = _capture.RunScope(job=job, run=run, flow_run_id=run_id, flow_job=job)
    scope.attempt = max(int(prefect_run.run_count or 1), 1)
    return scope


def _state_facets(scope: _capture.RunScope, state: Any) -> dict[str, Any]:
    prefect_facet = dict(scope.run.facets.get("prefect", {}))
    prefect_facet.update({"state_type": str(state.type.value), "state_name": state.name})
    return {**scope.run.facets, "prefect": prefect_facet}


def _completed(kind: str, obj: Any, prefect_run: Any, state: Any) -> None:
    scope = _scope_from_hook(kind, obj, prefect_run)
    result = scope.result
    if not scope.ran:
        # the function did not run here (a cache hit): the cached value is still what this run produced
        data = getattr(state, "data", None)
        result = getattr(data, "result", data)
    # Files opened here are checked by the recording process (`only_if_file`), not here: the open may
    # have failed, the file may have been temporary. Every system call in this thread can hand the
    # interpreter lock to Prefect's threads and wait to get it back: short tasks felt each stat.
    outputs = {path: dataset_for_path(path, only_if_file=True) for path in scope.writes}
    # arguments naming files that did not exist at the start and do now were written by this run: only
    # those are checked again
    def unknown(candidates: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        return [c for c in candidates if not (c[0] == "file" and (c[1] in outputs or c[1] in scope.inputs_at_start))]

    created = existing_datasets([c for c in scope.candidates if c[0] == "uri" or (c[0] == "file" and c[1] in scope.absent_at_start)])
    for uri, dataset in created.items():
        if uri not in scope.inputs_at_start:
            outputs[uri] = dataset
    for uri, dataset in existing_datasets(unknown(list(candidates_in(result)))).items():
        if uri not in scope.inputs_at_start:
            outputs.setdefault(uri, dataset)
    asset_outputs = scope.asset_outputs
    if asset_outputs is None and kind == "task" and not scope.ran:
        asset_outputs = [asset_dataset(a) for a in getattr(obj, "assets", None) or []]
    for dataset in asset_outputs or []:
        outputs[uri_of(dataset)] = dataset
    if kind == "flow":
        for uri in _produced_in_flow.pop(scope.run.run_id, ()):
            outputs.pop(uri, None)
    parent_flow = scope.run.parent.run_id if scope.run.parent else None
    if parent_flow is not None and outputs:
        _produced_in_flow.setdefault(parent_flow, set()).update(outputs)
    # files read (and not written) that the arguments did not already name
    inputs = [
        dataset_for_path(p, only_if_file=True) for p in scope.reads if p not in scope.writes and p not in scope.inputs_at_start
    ]
    _send(scope, _event("COMPLETE", scope, facets=_state_facets(scope, state), inputs=inputs, outputs=list(outputs.values())))
    if kind == "flow":
        _flow_jobs.pop(scope.run.run_id, None)


def _failed(kind: str, obj: Any, prefect_run: Any, state: Any, event_type: str = "FAIL") -> None:
    scope = _scope_from_hook(kind, obj, prefect_run)
    if scope.failure_reported_for != scope.attempt or event_type != "FAIL":
        message = scope.error or state.message or state.name
        _send(scope, _event(event_type, scope, facets=_state_facets(scope, state), error_message=message))
    if kind == "flow":
        _flow_jobs.pop(scope.run.run_id, None)
        _produced_in_flow.pop(scope.run.run_id, None)


# Hook names start with `lamin_`: Prefect names a hook in its log lines and error messages, and
# `_QuietHooks` below recognises ours by it.


def lamin_task_completed(task: Any, task_run: Any, state: Any) -> None:
    _completed("task", task, task_run, state)


def lamin_task_failed(task: Any, task_run: Any, state: Any) -> None:
    _failed("task", task, task_run, state)


def lamin_flow_completed(flow: Any, flow_run: Any, state: Any) -> None:
    _completed("flow", flow, flow_run, state)


def lamin_flow_failed(flow: Any, flow_run: Any, state: Any) -> None:
    _failed("flow", flow, flow_run, state)


def lamin_flow_crashed(flow: Any, flow_run: Any, state: Any) -> None:
    # Task runs of a crashed flow get no hooks of their own: end them here so none stays `started`.
    close_open_runs(str(flow_run.id), "FAIL", f"flow run crashed: {state.message or state.name}", keep=str(flow_run.id))
    _failed("flow", flow, flow_run, state, event_type="FAIL")


def lamin_flow_cancelled(flow: Any, flow_run: Any, state: Any) -> None:
    close_open_runs(str(flow_run.id), "ABORT", f"flow run cancelled: {state.message or state.name}", keep=str(flow_run.id))
    _failed("flow", flow, flow_run, state, event_type="ABORT")


def _instrument_called_tasks(flow: Any) -> None:
    from ._instrument import instrument_called_tasks

    instrument_called_tasks(flow)


class _QuietHooks(logging.Filter):
    """Drops Prefect's two INFO lines per run about running lamin's hooks ("Running hook
    'lamin_task_completed' in response to entering state 'Completed'", "Hook ... finished running
    successfully"): at Prefect's default level they tripled a task's log output, and every line is also
    shipped to Prefect's API, for nothing the user did. Errors in the hooks are still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not isinstance(record.msg, str):
            return True
        return not record.msg.startswith(("Running hook 'lamin_", "Hook 'lamin_"))


_QUIET = _QuietHooks()


def quiet_hooks() -> None:
    """Install the filter on the loggers Prefect's run engines log hook runs to (once)."""
    for name in ("prefect.task_runs", "prefect.flow_runs"):
        logger = logging.getLogger(name)
        if _QUIET not in logger.filters:
            logger.addFilter(_QUIET)
