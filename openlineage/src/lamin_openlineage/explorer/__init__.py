"""The lineage explorer: read-only web pages served by `lamin serve` (home and search, artifacts, runs,
transforms, an interactive lineage graph), rendered on the server, with no CDN or network at run time.

`server.create_app` registers `routes()` (at `/` and under `/ui/`) and puts `ExplorerGate` (login by cookie)
in front of the server's token guard. See docs/explorer.md.
"""

from __future__ import annotations

from .auth import ExplorerGate
from .routes import routes

__all__ = ["ExplorerGate", "routes"]
