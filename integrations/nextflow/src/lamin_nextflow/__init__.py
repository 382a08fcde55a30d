"""lamin-nextflow: Nextflow runs recorded as lamin lineage.

- live: `POST /api/v1/nextflow/weblog` on `lamin serve` (entry point `lamin_core.routes`), or
  `handle_weblog(body)` from Python;
- afterwards: `lamin nextflow ingest DIR` (entry point `lamin_core.commands`), or `ingest(Path(DIR))`.

Both translate what Nextflow reports into `lamin_core.lineage.LineageEvent`s and call `record()`.
Submodules load on first use: the CLI and the server import only what they need.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["find_sources", "handle_weblog", "ingest", "plan"]

_WHERE = {"find_sources": "ingest", "ingest": "ingest", "plan": "ingest", "handle_weblog": "weblog"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        from importlib import import_module

        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(name)
