"""Prefect flows and tasks as OpenLineage jobs (lamin Transforms): keys, source code, versions."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from lamin_core.lineage import Job

NAMESPACE = "prefect"
_job_cache: dict[tuple[Any, ...], Job] = {}


def original_fn(fn: Callable[..., Any]) -> Callable[..., Any]:
    return getattr(fn, "__lamin_original__", fn)


def _source(fn: Callable[..., Any]) -> str | None:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):  # defined in a REPL or built dynamically
        return None


def _user_version(flow: Any, fn: Callable[..., Any]) -> str | None:
    """`flow.version` when the user set it; None when it is Prefect's default (a hash of the whole file)."""
    version = getattr(flow, "version", None)
    if not version:
        return None
    try:
        from prefect.utilities.hashing import file_hash

        source_file = inspect.getsourcefile(fn)
        if source_file and file_hash(source_file) == version:
            return None  # the core versions by the function's source, which is finer than the file
    except (OSError, TypeError):
        pass
    return str(version)


def flow_job(flow: Any) -> Job:
    fn = original_fn(flow.fn)
    cache_key = ("flow", fn.__code__ if hasattr(fn, "__code__") else fn, flow.name, flow.version)
    job = _job_cache.get(cache_key)
    if job is None:
        job = Job(
            namespace=NAMESPACE,
            name=flow.name,
            kind="pipeline",
            source_code=_source(fn),
            version=_user_version(flow, fn),
            description=flow.description,
        )
        _job_cache[cache_key] = job
    return job


def task_job(task: Any, flow_name: str | None) -> Job:
    """A task's Transform: keyed under its flow (`prefect/<flow>/<task>`) so equally named tasks of two
    pipelines stay apart; a task run outside any flow is `prefect/<task>`."""
    fn = original_fn(task.fn)
    cache_key = ("task", fn.__code__ if hasattr(fn, "__code__") else fn, task.name, task.version, flow_name)
    job = _job_cache.get(cache_key)
    if job is None:
        job = Job(
            namespace=NAMESPACE,
            name=f"{flow_name}/{task.name}" if flow_name else task.name,
            kind="function",
            source_code=task.source_code or _source(fn),
            version=str(task.version) if task.version else None,
            description=task.description,
        )
        _job_cache[cache_key] = job
    return job
