"""lamin-openlineage: lamin-core as an OpenLineage backend, client transport and exporter.

- `lamin serve`: the HTTP sink (`lamin_openlineage.server`), `POST /api/v1/lineage`.
- `LaminTransport`: an openlineage-python transport that records events straight into the connected
  instance; importing this package registers it as `transport: {type: lamin}`.
- `export_run(run)`: send a run recorded by lamin-core to an OpenLineage backend.

The translation itself lives in the core (`lamin_core.lineage.openlineage_json`), shared with other adapters.
"""

from __future__ import annotations

from typing import Any

from .transport import LaminConfig, LaminTransport

__all__ = ["LaminConfig", "LaminTransport", "export_run", "export_runs"]


def __getattr__(name: str) -> Any:
    # export pulls in the models and the HTTP transport: only when asked for
    if name in ("export_run", "export_runs"):
        from . import export

        return getattr(export, name)
    raise AttributeError(name)
