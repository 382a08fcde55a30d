"""What every route of `lamin serve` shares: auth, the body limit, JSON errors, and recording off the event loop.

Routes added by other packages (entry-point group `lamin_core.routes`, e.g. the Nextflow weblog) get the
first two for free, because they are ASGI middleware around the whole app:

- **Auth.** With `lamin serve --token T`, every request except `GET /healthz` must carry
  `Authorization: Bearer T` or `Authorization: Basic base64(<any user>:T)` (Nextflow's weblog can only send
  Basic); otherwise 401 `{"error": ..., "field": null}`.
- **Body limit.** Bodies over `--max-body-mb` (10 MB by default) get 413, whether announced by
  `Content-Length` or streamed chunked; gzip bodies (`Content-Encoding: gzip`, openlineage-python's
  `compression: gzip`) are limited after decompression too.

and use the rest from here. A plugin route looks like this::

    from starlette.routing import Route
    from lamin_openlineage.http import HTTPError, read_json, record_event

    async def weblog(request):
        body = await read_json(request)            # 400 on invalid JSON, 413 when too big
        if "runId" not in body:
            raise HTTPError(400, "runId is required", field="runId")   # -> 400 {"error", "field"}
        event = to_lineage_event(body)             # a ValueError with a `.field` also becomes a 400
        return await record_event(request, event) # record() in the threadpool: 201 new, 200 known

    def routes():                                  # entry point: lamin_core.routes = {nextflow = "pkg.mod:routes"}
        return [Route("/api/v1/nextflow/weblog", weblog, methods=["POST"])]

For other blocking work (several events per request, lookups) use `await run_blocking(request, fn, *args)`:
it runs in the same bounded threadpool as `record_event`, so a burst of requests cannot open more database
connections than the pool has. Errors are JSON everywhere: `{"error": "<what is wrong>", "field": "<dotted
path or null>"}`; a `ValueError` escaping a route is a 400, anything else a 500 without internals.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from starlette.responses import JSONResponse

if TYPE_CHECKING:
    from lamin_core.lineage.events import LineageEvent
    from starlette.requests import Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("lamin_openlineage.server")
T = TypeVar("T")

PUBLIC_PATHS = frozenset({"/healthz"})
# After refusing a body as too large we still read (and drop) this much of it, so that the client, which is
# usually still sending, sees the 413 instead of a connection reset.
_DRAIN_LIMIT = 64 * 1024 * 1024


class HTTPError(Exception):
    """Raise from a route to answer `status` with `{"error": error, "field": field}`."""

    def __init__(self, status: int, error: str, field: str | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.field = field


class BodyTooLarge(HTTPError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than the limit of {limit} bytes (lamin serve --max-body-mb)")


def json_error(status: int, error: str, field: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one error format of the server."""
    return JSONResponse({"error": error, "field": field}, status_code=status, headers=headers)


@dataclass(frozen=True)
class ServerConfig:
    token: str | None = None
    max_body_bytes: int = 10 * 1024 * 1024


def token_matches(authorization: str | None, token: str) -> bool:
    """`Bearer T`, or `Basic base64(user:T)` for any user; compared in constant time."""
    if not authorization:
        return False
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return hmac.compare_digest(value.encode(), token.encode())
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        _, sep, password = decoded.partition(":")
        return bool(sep) and hmac.compare_digest(password.encode(), token.encode())
    return False


class GuardMiddleware:
    """Pure ASGI middleware: token check and body-size limit for every route, plugin routes included."""

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit = self.config.max_body_bytes
        if self.config.token and scope["path"] not in PUBLIC_PATHS:
            if not token_matches(headers.get("authorization"), self.config.token):
                await _drain(receive, _DRAIN_LIMIT)
                response = json_error(
                    401, "missing or wrong token (send Authorization: Bearer <token>)", headers={"WWW-Authenticate": "Bearer"}
                )
                await response(scope, receive, send)
                return
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _drain(receive, _DRAIN_LIMIT)
            await json_error(413, BodyTooLarge(limit).error)(scope, receive, send)
            return
        await self.app(scope, _limited(receive, limit), send)


def _limited(receive: Receive, limit: int) -> Receive:
    """A `receive` that raises `BodyTooLarge` (a 413 via the app's handler) once the body passes `limit`."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                if message.get("more_body", False):
                    await _drain(receive, _DRAIN_LIMIT)
                raise BodyTooLarge(limit)
        return message

    return wrapped


async def _drain(receive: Receive, budget: int) -> None:
    read = 0
    while read <= budget:
        message = await receive()
        if message["type"] != "http.request":
            return
        read += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _gunzip(body: bytes, limit: int) -> bytes:
    # decompress at most limit+1 bytes: a 10 KB gzip bomb must not become gigabytes in memory
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error as e:
        raise HTTPError(400, f"body is not valid gzip: {e}") from None
    if len(out) > limit:
        raise BodyTooLarge(limit)
    return out


async def read_json(request: Request) -> Any:
    """The request body parsed as JSON; 400 when it is not JSON, 413 when it is too large."""
    body = await request.body()
    encoding = request.headers.get("content-encoding", "").lower().strip()
    if encoding == "gzip":
        body = _gunzip(body, _config(request).max_body_bytes)
    elif encoding not in ("", "identity"):
        raise HTTPError(415, f"unsupported Content-Encoding {encoding!r} (gzip or none)")
    if not body.strip():
        raise HTTPError(400, "empty body: expected one JSON object")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise HTTPError(400, f"invalid JSON: {e}"[:500]) from None


def _config(request: Request) -> ServerConfig:
    return request.app.state.config  # type: ignore[no-any-return]


async def run_blocking(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Run blocking (database) work in the server's bounded threadpool."""
    from anyio import to_thread

    return await to_thread.run_sync(fn, *args, limiter=request.app.state.db_limiter)


async def record_event(request: Request, event: LineageEvent, *, ingested: bool = False) -> JSONResponse:
    """Record one event off the event loop: 201 when it was new, 200 when the instance already had it.

    Goes through the server's group-commit queue (`lamin_openlineage.batching`): under load, events that
    wait together are written in one transaction; each request still gets its own answer or error.
    `ingested=True`: the event came from an OpenLineage producer, and live forwarding does not send it
    back out unless `forward_ingested` is set (`lamin_core.lineage.outbox`).
    """
    body = dict(await request.app.state.batcher.record(event, ingested=ingested))
    is_new = body.pop("is_new")
    return JSONResponse(body, status_code=201 if is_new else 200)
