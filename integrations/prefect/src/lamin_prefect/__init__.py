"""Lineage for Prefect 3: `from lamin_prefect import flow, task` in place of `from prefect import flow, task`.

Flows become Transforms of kind "pipeline", tasks Transforms of kind "function"; every flow run and task run
is a Run (Prefect's run id as `run.reference`), and the artifacts, files, URIs and Prefect assets they read
and write are its inputs and outputs. Everything is recorded through `lamin_core.lineage.record()`.
"""

from __future__ import annotations

from ._emit import record_to
from ._instrument import flow, instrument, materialize, task
from ._reconcile import reconcile

__all__ = ["flow", "task", "materialize", "instrument", "record_to", "reconcile"]
__version__ = "0.1.0"
