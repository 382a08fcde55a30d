"""`POST /api/v1/nextflow/weblog`, mounted into `lamin serve` (entry-point group `lamin_core.routes`).

Auth (Bearer or Basic, as `weblog.basicToken = 'lamin:T'` sends), the body limit and the JSON error format
come from `lamin serve` itself (`lamin_openlineage.http`); this route only validates and records.
Answers 201 when the event added something, 200 when the instance already had it, 400 naming the bad field.
"""

from __future__ import annotations

from typing import Any

WEBLOG_PATH = "/api/v1/nextflow/weblog"


async def weblog(request: Any) -> Any:
    from lamin_openlineage.http import HTTPError, read_json, run_blocking
    from starlette.responses import JSONResponse

    from .weblog import WeblogError, parse_event, record_weblog_event

    body = await read_json(request)
    try:
        event = parse_event(body)  # validated on the event loop: a bad body never takes a database thread
        is_new = await run_blocking(request, record_weblog_event, event)
    except WeblogError as exc:
        raise HTTPError(400, str(exc), field=exc.field) from None
    return JSONResponse({"status": "created" if is_new else "exists"}, status_code=201 if is_new else 200)


def routes() -> list[Any]:
    """Entry point `lamin_core.routes`: nextflow."""
    from starlette.routing import Route

    return [Route(WEBLOG_PATH, weblog, methods=["POST"])]
