"""Attach lineage to Prefect objects: `flow`, `task` (drop-in decorators) and `instrument` (existing objects).

Instrumenting never changes what Prefect sees of the function: the Task/Flow is built by Prefect from the
original function first (task key, cache key, version, parameter schema), then `.fn` is swapped for a
same-signature wrapper and lamin's state hooks are appended to the user's hooks.
"""

from __future__ import annotations

import inspect
import types
from typing import Any, Callable, TypeVar

from . import _capture, _runtime
from ._jobs import original_fn

T = TypeVar("T")

_TASK_HOOKS = (("on_completion_hooks", _runtime.lamin_task_completed), ("on_failure_hooks", _runtime.lamin_task_failed))
_FLOW_HOOKS = (
    ("on_completion_hooks", _runtime.lamin_flow_completed),
    ("on_failure_hooks", _runtime.lamin_flow_failed),
    ("on_crashed_hooks", _runtime.lamin_flow_crashed),
    ("on_cancellation_hooks", _runtime.lamin_flow_cancelled),
)
_scanned_flow_codes: set[Any] = set()


def _is_task(obj: Any) -> bool:
    from prefect.tasks import Task

    return isinstance(obj, Task)


def _is_flow(obj: Any) -> bool:
    from prefect.flows import Flow

    return isinstance(obj, Flow)


def _add_hooks(obj: Any, hooks: tuple[tuple[str, Callable[..., Any]], ...]) -> None:
    _runtime.quiet_hooks()
    for attribute, hook in hooks:
        current = list(getattr(obj, attribute) or [])
        if hook not in current:
            # a new list: Prefect keeps the list the user passed, which may be shared with other tasks
            setattr(obj, attribute, [hook, *current])


def _wrap_fn(obj: Any, kind: str) -> None:
    fn = obj.fn
    if hasattr(fn, "__lamin_original__"):
        return
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        return  # generator tasks keep their function: runs and states are recorded, opened files are not
    obj.fn = _runtime.wrap(kind, fn)


def instrument(obj: T, *, tasks: bool = True) -> T:
    """Record lineage for an existing Prefect flow or task, in place; returns the same object.

    For a flow, the tasks its function calls by global name are instrumented too when it first runs
    (`tasks=False` to leave them alone). Instrumenting twice is harmless.
    """
    if _is_task(obj):
        _wrap_fn(obj, "task")
        _add_hooks(obj, _TASK_HOOKS)
    elif _is_flow(obj):
        _wrap_fn(obj, "flow")
        _add_hooks(obj, _FLOW_HOOKS)
        if not tasks:
            _scanned_flow_codes.add(_code_of(obj))
    else:
        raise TypeError(
            f"lamin_prefect.instrument() takes a Prefect flow or task (made with @flow or @task), got {type(obj).__name__}"
        )
    _capture.install_audit_hook()
    return obj


def _code_of(flow: Any) -> Any:
    fn = original_fn(flow.fn)
    return getattr(fn, "__code__", fn)


def _names_used(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):  # comprehensions, lambdas and inner functions
            names |= _names_used(const)
    return names


def instrument_called_tasks(flow: Any) -> None:
    """Instrument the Prefect tasks a flow's function refers to by global name (once per function)."""
    code = _code_of(flow)
    if code in _scanned_flow_codes or not isinstance(code, types.CodeType):
        return
    _scanned_flow_codes.add(code)
    fn = original_fn(flow.fn)
    namespace = dict(getattr(fn, "__globals__", {}))
    # tasks defined in an enclosing function reach the flow as closure variables
    for name, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or ()):
        try:
            namespace[name] = cell.cell_contents
        except ValueError:  # an empty cell: the variable is not assigned yet
            pass
    for name in _names_used(code) | set(code.co_freevars):
        value = namespace.get(name)
        if value is not None and _is_task(value):
            instrument(value)


def task(__fn: Callable[..., Any] | None = None, /, *, annotate: str | None = None, schema: Any = None,
         key: str | None = None, artifact_description: str | None = None, **kwargs: Any) -> Any:
    """`prefect.task` with lineage: same arguments, same behaviour (retries, caching, .submit(), .map()).

    `annotate=`: "existing" / "auto" / "none", how the task's parameters annotate its runs and outputs
    (default: its flow's mode). `schema=` + `key=`: the task's DataFrame result is validated and saved as
    the artifact at `key` (may name parameters: "tables/{sample}.parquet"); invalid data fails the task run.
    """
    from prefect import task as prefect_task

    from ._annotate import check_mode, save_spec

    options = {"annotate": check_mode(annotate), "save": save_spec(schema, key, artifact_description)}
    if __fn is None:
        return lambda fn: _configured(instrument(prefect_task(**kwargs)(fn)), options)
    return _configured(instrument(prefect_task(__fn, **kwargs)), options)


def flow(__fn: Callable[..., Any] | None = None, /, *, annotate: str | None = None, **kwargs: Any) -> Any:
    """`prefect.flow` with lineage: same arguments, same behaviour (retries, subflows, async, task runners).

    `annotate=`: "existing" (default, or `LAMIN_PREFECT_ANNOTATE`), "auto" or "none": how the flow's
    parameters annotate its run and outputs; its tasks follow it unless they say otherwise.
    """
    from prefect import flow as prefect_flow

    from ._annotate import check_mode

    options = {"annotate": check_mode(annotate)}
    if __fn is None:
        return lambda fn: _configured(instrument(prefect_flow(**kwargs)(fn)), options)
    return _configured(instrument(prefect_flow(__fn, **kwargs)), options)


def _configured(obj: T, options: dict[str, Any]) -> T:
    """Keep lamin's options on the Prefect object; the wrapper reads them per run. `with_options()`
    copies of the object keep them (Prefect copies the instance's attributes)."""
    for name, value in options.items():
        if value is not None:
            setattr(obj, f"_lamin_{name}", value)
    return obj


def materialize(*assets: Any, by: str | None = None, **task_kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """`prefect.assets.materialize` with lineage: the assets become output artifacts of the task run."""
    from prefect.assets import materialize as prefect_materialize

    decorator = prefect_materialize(*assets, by=by, **task_kwargs)
    return lambda fn: instrument(decorator(fn))
