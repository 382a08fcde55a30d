"""Flow and task parameters as annotations, and tasks whose DataFrame result is saved as a validated artifact.

- `annotate=` on `flow()` / `task()` (default: the flow's mode for its tasks, else the environment variable
  `LAMIN_PREFECT_ANNOTATE`, else "existing"): how a run's parameters become feature values of the run and
  of what it produced (see `lamin_core/lineage/annotations.py`). Only plain values annotate (strings,
  numbers, bools, dates, lists of these); secret-looking names never do.
- `task(schema=..., key=...)`: the task's return value, a pandas DataFrame, is saved inside the task run as
  `ln.Artifact.from_dataframe(df, key=key, schema=schema)`; data that does not validate raises
  `ln.errors.ValidationError` in the task, so the task run fails and Prefect's retries apply. `key` may name
  the task's parameters (`"tables/{sample}.parquet"`). The task still returns the DataFrame.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

from lamin_core.lineage.events import ANNOTATE_MODES

from ._values import is_secret_name

ENGINE = "prefect"
ENV = "LAMIN_PREFECT_ANNOTATE"


def check_mode(mode: str | None) -> str | None:
    if mode is not None and mode not in ANNOTATE_MODES:
        raise ValueError(f"annotate= must be one of {', '.join(ANNOTATE_MODES)}, not {mode!r}")
    return mode


def default_mode() -> str:
    mode = os.environ.get(ENV) or "existing"
    if mode not in ANNOTATE_MODES:
        raise ValueError(f"{ENV} must be one of {', '.join(ANNOTATE_MODES)}, not {mode!r}")
    return mode


def plain_values(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters that can be feature values: not secrets, not objects (artifacts, frames, clients)."""
    out = {}
    for name, value in params.items():
        if is_secret_name(name):
            continue
        plain = _plain(value)
        if plain is not None:
            out[name] = plain
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, (str, bool, int, float, dt.date)):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (str, bool, int, float)) for v in value):
        return list(value)
    return None


@dataclass(frozen=True)
class SaveSpec:
    """`task(schema=..., key=...)`: how the task's DataFrame result is saved."""

    key: str
    schema: Any = None  # an ln.Schema, or a saved schema's name
    description: str | None = None


def save_spec(schema: Any, key: str | None, description: str | None) -> SaveSpec | None:
    if schema is None and key is None:
        return None
    if not key:
        raise ValueError("task(schema=...) saves the task's DataFrame as an artifact: give its key too, "
                         "e.g. task(schema=schema, key='tables/{sample}.parquet')")
    return SaveSpec(key=key, schema=schema, description=description)


def save_result(spec: SaveSpec, params: dict[str, Any], result: Any) -> Any:
    """Validate and save the task's DataFrame (in the task run: the artifact's run is this run)."""
    import lamin_core as ln

    if type(result).__name__ != "DataFrame":
        raise TypeError(f"a task with schema=/key= must return a pandas DataFrame to save as {spec.key!r}, not {type(result).__name__}")
    try:
        key = spec.key.format(**params)
    except (KeyError, IndexError) as e:
        raise ValueError(f"key {spec.key!r} names {e}, which is not a parameter of the task ({', '.join(params)})") from None
    schema = spec.schema
    if isinstance(schema, str):
        found = ln.Schema.filter(name=schema).first()
        if found is None:
            raise ln.errors.ValidationError(f"no ln.Schema named {schema!r}: save it first, ln.Schema(name={schema!r}, features=[...]).save()")
        schema = found
    return ln.Artifact.from_dataframe(result, key=key, schema=schema, description=spec.description).save()
