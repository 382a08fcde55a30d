"""`lamin serve`: an OpenLineage backend (Starlette on uvicorn) that records into the connected instance.

Routes:
- `POST /api/v1/lineage`: one OpenLineage RunEvent (spec 2-0-x JSON), the path Marquez uses, so that
  `OPENLINEAGE_URL=http://HOST:PORT` is all a producer needs. Validated against the 2-0-2 schema
  (400 naming the field, nothing written), translated by `lamin_core.lineage.openlineage_json`, and
  recorded with `lamin_core.lineage.record()`: 201 the first time, 200 when the instance already had it.
- `GET /healthz`: 200 `{"status": "ok"}` (no token needed: load balancers probe it).
- Marquez's read API (`GET /api/v1/lineage?nodeId=...`, `/api/v1/namespaces/...`, `/api/v1/runs/{id}`,
  `/api/v1/search`), so that Marquez's web UI, `marquez-python` and scripts read the instance: see `marquez_api`.
- the lineage explorer's web pages: `GET /` and `/ui/...` (see `lamin_openlineage.explorer`).
- whatever the entry-point group `lamin_core.routes` adds (see `lamin_openlineage.http` for what those
  routes share).

The database work is blocking, so it runs in a threadpool bounded by `db_concurrency` (see `create_app`);
the event loop only parses and validates.
"""

from __future__ import annotations

import logging
import os
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from .batching import Batcher
from .http import GuardMiddleware, HTTPError, ServerConfig, json_error, read_json, record_event

if TYPE_CHECKING:
    from starlette.requests import Request

log = logging.getLogger("lamin_openlineage.server")

ROUTES_GROUP = "lamin_core.routes"


async def post_lineage(request: Request) -> JSONResponse:
    from .validation import parse_event

    body = await read_json(request)
    event = parse_event(body)  # OpenLineageEventError (a ValueError with .field) -> 400
    return await record_event(request, event, ingested=True)  # from an OpenLineage producer: not forwarded back


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def plugin_routes() -> list[BaseRoute]:
    """Routes of other packages (entry-point group `lamin_core.routes`: `module:function` -> list of routes)."""
    routes: list[BaseRoute] = []
    for ep in entry_points(group=ROUTES_GROUP):
        try:
            routes.extend(ep.load()())
        except Exception:  # a broken plugin must not take the OpenLineage endpoint down with it
            log.exception("lamin serve: could not load routes from %s (%s); serving without them", ep.name, ep.value)
    return routes


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPError)
    return json_error(exc.status, exc.error, exc.field)


async def _value_error(request: Request, exc: Exception) -> JSONResponse:
    # OpenLineageEventError, and the core's ValueErrors for bad keys or paths: the client's input is at fault
    return json_error(400, str(exc) or type(exc).__name__, getattr(exc, "field", None))


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    # the database refused a value the schema let through (a NUL byte in a description for PostgreSQL,
    # a number out of range): the client's data, not the server, is at fault
    orig = getattr(exc, "orig", exc)
    return json_error(400, f"the database refused a value of this event: {str(orig).splitlines()[0][:300]}")


async def _starlette_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return json_error(exc.status_code, exc.detail or "error", headers=getattr(exc, "headers", None))


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("lamin serve: error while handling %s %s", request.method, request.url.path, exc_info=exc)
    return json_error(500, f"internal error ({type(exc).__name__}); see the server log")


# Threads that record at once, per server process. One, on both backends: concurrent requests then queue
# and are recorded together in bigger batches; with several threads each batch shrank to about one event
# and PostgreSQL ingest fell (8 threads: ~330 events/s, 1: ~450 with the same code). Parallelism comes
# from worker processes (`--workers`).
DB_THREADS = 1
FORWARD_POLL_S = 5.0  # how often `lamin serve` looks for outbox rows that other processes left


def create_app(
    token: str | None = None,
    max_body_bytes: int = 10 * 1024 * 1024,
    *,
    db_concurrency: int | None = None,
    load_plugins: bool = True,
) -> Starlette:
    """The ASGI app of `lamin serve` (also usable under any ASGI server, or with httpx/TestClient)."""
    from anyio import CapacityLimiter
    from sqlalchemy.exc import DataError

    from .explorer import ExplorerGate
    from .explorer import routes as explorer_routes
    from .marquez_api import routes as marquez_routes

    routes: list[BaseRoute] = [
        Route("/api/v1/lineage", post_lineage, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        *marquez_routes(),  # Marquez's read API: GET /api/v1/lineage, /namespaces/..., /runs/{id}, /search
        *explorer_routes(),  # the lineage explorer's pages: GET / and /ui/... (see explorer/)
    ]
    if load_plugins:
        routes.extend(plugin_routes())
    config = ServerConfig(token=token or None, max_body_bytes=max_body_bytes)
    app = Starlette(
        routes=routes,
        # the explorer's gate first: it turns its login cookie into the Authorization header the guard checks
        middleware=[Middleware(ExplorerGate, config=config), Middleware(GuardMiddleware, config=config)],
        exception_handlers={
            HTTPError: _http_error,
            ValueError: _value_error,
            DataError: _data_error,
            HTTPException: _starlette_error,
            Exception: _server_error,
        },
    )
    threads = db_concurrency or DB_THREADS
    app.state.config = config
    app.state.db_limiter = CapacityLimiter(threads)
    app.state.batcher = Batcher(app.state.db_limiter, workers=threads)
    return app


def app_from_env() -> Starlette:
    """Factory for `uvicorn --factory` and multi-worker runs: settings from the `LAMIN_SERVE_*` variables.

    With live forwarding configured (`LAMIN_OPENLINEAGE_URL`, `ln.settings.openlineage_url`), the server is a
    sender too: a thread delivers what it records and, every `FORWARD_POLL_S`, what other processes left."""
    from lamin_core.lineage.forwarding import kick

    kick(poll_s=FORWARD_POLL_S)
    return create_app(
        token=os.environ.get("LAMIN_SERVE_TOKEN") or None,
        max_body_bytes=int(float(os.environ.get("LAMIN_SERVE_MAX_BODY_MB", "10")) * 1024 * 1024),
        db_concurrency=int(os.environ["LAMIN_SERVE_DB_CONCURRENCY"]) if os.environ.get("LAMIN_SERVE_DB_CONCURRENCY") else None,
    )


def run_info(app: Starlette) -> dict[str, Any]:
    """What the server prints at startup (never the token)."""
    return {
        "routes": [getattr(r, "path", "?") for r in app.routes],
        "auth": "token" if app.state.config.token else "none",
        "max_body_bytes": app.state.config.max_body_bytes,
    }
