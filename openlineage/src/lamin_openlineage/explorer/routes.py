"""The explorer's routes: server-rendered pages at `/` and under `/ui/`, the graph as JSON and as SVG, downloads.

Each page reads the instance in the server's bounded threadpool (`run_blocking`, the same pool as recording),
then renders a Jinja2 template; templates get plain data, never ORM objects that could lazy-load.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route

from ..http import run_blocking
from . import data, details
from .auth import COOKIE, LOGIN, PREFIX

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.templating import Jinja2Templates

HERE = Path(__file__).parent
DEFAULT_DEPTH = 3
SVG_TIMEOUT = 60


@lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    from starlette.templating import Jinja2Templates

    t = Jinja2Templates(directory=str(HERE / "templates"))  # autoescape on for .html
    t.env.globals.update(prefix=PREFIX, human_size=details.human_size, fmt_time=_fmt_time)
    return t


def _in_read(fn: Callable[..., Any], *args: Any) -> Any:
    """Run `fn` as one read: the ORM's lazy loads open a transaction in this worker thread's session, and
    `db.read()` ends it on the way out (left open, it held locks on PostgreSQL until the thread's next read)."""
    from lamin_core.db import engine as db

    with db.read():
        return fn(*args)


async def _blocking(request: Request, fn: Callable[..., Any], *args: Any) -> Any:
    """Blocking reads in the server's bounded threadpool, each closed as one read."""
    return await run_blocking(request, _in_read, fn, *args)


def _fmt_time(t: Any) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S") if t is not None else ""


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    config = request.app.state.config
    context = {**context, "auth": bool(config.token), "logged_in": bool(config.token and request.cookies.get(COOKIE))}
    return templates().TemplateResponse(request, name, context, status_code=status)


async def _page(request: Request, name: str, fn: Callable[..., dict[str, Any]], *args: Any) -> HTMLResponse:
    """Read in the threadpool, render; a missing record is a 404 page, bad input a 400 page naming the fix."""
    try:
        context = await _blocking(request, fn, *args)
    except data.NotFound as e:
        return _render(request, "error.html", {"title": "Not found", "message": str(e)}, 404)
    except ValueError as e:
        return _render(request, "error.html", {"title": "Bad request", "message": str(e)}, 400)
    return _render(request, name, context)


def _graph_args(request: Request) -> dict[str, Any]:
    q = request.query_params
    try:
        depth = int(q.get("depth", DEFAULT_DEPTH))
    except ValueError:
        raise ValueError(f"depth must be a whole number, not {q.get('depth')!r}") from None
    direction = q.get("direction", "both")
    if direction not in ("up", "down", "both"):
        raise ValueError(f"direction must be up, down or both, not {direction!r}")
    try:
        expand = [int(x) for x in q.get("expand", "").split(",") if x.strip()]
    except ValueError:
        raise ValueError("expand must be a comma-separated list of run ids") from None
    return {"depth": max(1, min(depth, 20)), "direction": direction, "expand": expand}


def _focus(kind: str, uid: str) -> tuple[str, int]:
    from lamin_core.models import Artifact, Run

    if kind not in ("artifact", "run"):
        raise data.NotFound(f"lineage is drawn around an artifact or a run, not a {kind!r}")
    model = Artifact if kind == "artifact" else Run
    record = model.filter(uid=uid).all_branches().first()
    if record is None:
        raise data.NotFound(f"no {kind} with uid {uid!r}")
    return kind, record.id


def _graph(kind: str, uid: str, args: dict[str, Any]) -> Any:
    from lamin_core.db import engine as db

    from .graph import build

    focus_kind, focus_id = _focus(kind, uid)
    with db.read() as s:
        return build(s, focus_kind, focus_id, url_for=lambda k, u: f"{PREFIX}/{k}/{u}", **args)


# ---------------------------------------------------------------------------------------------- pages


async def home(request: Request) -> HTMLResponse:
    q = request.query_params
    f = data.Filters(q=q.get("q", "").strip()[:200], kind=q.get("kind", ""), engine=q.get("engine", ""),
                     status=q.get("status", ""), since=q.get("since", ""))
    return await _page(request, "home.html", data.home, f)


async def artifact_page(request: Request) -> HTMLResponse:
    uid = request.path_params["uid"]

    def read() -> dict[str, Any]:
        out = details.artifact(uid)
        out["preview"] = details.preview(uid)
        out["graph"] = {"kind": "artifact", "uid": uid, **_graph_args(request)}
        return out

    return await _page(request, "artifact.html", read)


async def run_page(request: Request) -> HTMLResponse:
    uid = request.path_params["uid"]

    def read() -> dict[str, Any]:
        out = details.run(uid)
        out["graph"] = {"kind": "run", "uid": uid, **_graph_args(request)}
        return out

    return await _page(request, "run.html", read)


async def transform_page(request: Request) -> HTMLResponse:
    return await _page(request, "transform.html", details.transform, request.path_params["uid"])


async def lineage_page(request: Request) -> HTMLResponse:
    kind, uid = request.path_params["kind"], request.path_params["uid"]

    def read() -> dict[str, Any]:
        _focus(kind, uid)  # 404 before drawing anything
        return {"graph": {"kind": kind, "uid": uid, **_graph_args(request)}, "kind": kind, "uid": uid}

    return await _page(request, "lineage.html", read)


async def login_page(request: Request) -> HTMLResponse:
    from .auth import safe_next

    return _render(request, "login.html", {"next": safe_next(request.query_params.get("next")),
                                           "error": bool(request.query_params.get("error"))})


# ---------------------------------------------------------------------------------------------- graph, files


async def graph_json(request: Request) -> JSONResponse:
    kind, uid = request.path_params["kind"], request.path_params["uid"]
    try:
        graph = await _blocking(request, _graph, kind, uid, _graph_args(request))
    except data.NotFound as e:
        return JSONResponse({"error": str(e), "field": None}, status_code=404)
    return JSONResponse(graph.to_json())


async def graph_svg(request: Request) -> Response:
    """The graph drawn by Graphviz: what the pages show with JavaScript off (links on every node)."""
    kind, uid = request.path_params["kind"], request.path_params["uid"]
    try:
        graph = await _blocking(request, _graph, kind, uid, _graph_args(request))
    except data.NotFound as e:
        return Response(str(e), status_code=404, media_type="text/plain")
    dot = shutil.which("dot")
    if dot is None:
        return Response("Graphviz `dot` is not installed on the server (apt-get install graphviz)", status_code=501,
                        media_type="text/plain")

    def render() -> bytes:
        result = subprocess.run([dot, "-Tsvg"], input=graph.to_dot().encode(), capture_output=True, timeout=SVG_TIMEOUT)
        if result.returncode != 0:
            raise RuntimeError(f"dot failed: {result.stderr.decode(errors='replace')[:300]}")
        return result.stdout

    svg = await run_blocking(request, render)
    return Response(svg, media_type="image/svg+xml")


async def download(request: Request) -> Response:
    from lamin_core.storage.paths import is_local

    uid = request.path_params["uid"]
    try:
        uri, name, size = await _blocking(request, details.download_target, uid)
    except data.NotFound as e:
        return Response(str(e), status_code=404, media_type="text/plain")
    except ValueError as e:
        return Response(str(e), status_code=400, media_type="text/plain")
    if is_local(uri):
        path = Path(uri.removeprefix("file://"))
        if not path.is_file():
            return Response(f"the data of artifact {uid} is missing at {uri}", status_code=404, media_type="text/plain")
        return FileResponse(path, filename=name)

    def chunks() -> Any:  # remote: streamed through fsspec, never held in memory whole
        from lamin_core.storage.upath import UPath

        with UPath(uri).open("rb") as fh:
            while block := fh.read(1024 * 1024):
                yield block

    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(chunks(), media_type="application/octet-stream", headers=headers)


async def pygments_css(request: Request) -> Response:
    return Response(details.pygments_css(), media_type="text/css", headers={"Cache-Control": "max-age=3600"})


def routes() -> list[BaseRoute]:
    """`GET /` (home) and everything under `/ui/` (registered by `server.create_app`)."""
    from starlette.staticfiles import StaticFiles

    return [
        Route("/", home, methods=["GET"]),
        Route(PREFIX + "/", home, methods=["GET"]),
        Route(LOGIN, login_page, methods=["GET"]),
        Route(PREFIX + "/artifact/{uid}", artifact_page, methods=["GET"]),
        Route(PREFIX + "/artifact/{uid}/download", download, methods=["GET"]),
        Route(PREFIX + "/run/{uid}", run_page, methods=["GET"]),
        Route(PREFIX + "/transform/{uid}", transform_page, methods=["GET"]),
        Route(PREFIX + "/lineage/{kind}/{uid}", lineage_page, methods=["GET"]),
        Route(PREFIX + "/api/graph/{kind}/{uid}", graph_json, methods=["GET"]),
        Route(PREFIX + "/graph/{kind}/{uid}.svg", graph_svg, methods=["GET"]),
        Route(PREFIX + "/pygments.css", pygments_css, methods=["GET"]),
        Mount(PREFIX + "/static", app=StaticFiles(directory=str(HERE / "static")), name="explorer-static"),
    ]
