"""`lamin serve` and `lamin openlineage export|status|flush`, plugged into the core CLI (entry-point group `lamin_core.commands`).

Each function takes the words after the command and returns the exit code.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys


def _serve_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lamin serve",
        description="Serve the connected instance as an OpenLineage backend (POST /api/v1/lineage, GET /healthz).",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument(
        "--token",
        default=None,
        help="require 'Authorization: Bearer TOKEN' (or Basic with TOKEN as password); "
        "LAMIN_SERVE_TOKEN sets it without showing it in the process list",
    )
    p.add_argument("--max-body-mb", type=float, default=10.0, help="refuse bodies larger than this with 413 (default 10)")
    p.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    p.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    return p


def serve_main(argv: list[str]) -> int:
    """`lamin serve [--host 127.0.0.1] [--port 8000] [--token T] [--max-body-mb 10] [--workers 1]`."""
    args = _serve_parser().parse_args(argv)
    if args.max_body_mb <= 0:
        print("lamin serve: --max-body-mb must be positive", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("lamin serve: --workers must be at least 1", file=sys.stderr)
        return 2
    token = args.token or os.environ.get("LAMIN_SERVE_TOKEN") or None
    problem = _instance_problem()
    if problem:
        print(f"lamin serve: {problem}", file=sys.stderr)
        return 1

    import uvicorn

    # settings travel by environment so that every worker process builds the same app (app_from_env)
    os.environ["LAMIN_SERVE_MAX_BODY_MB"] = str(args.max_body_mb)
    if token:
        os.environ["LAMIN_SERVE_TOKEN"] = token
    else:
        os.environ.pop("LAMIN_SERVE_TOKEN", None)
    config = uvicorn.Config(
        "lamin_openlineage.server:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=False,  # one line per event is noise at hundreds of events per second
        timeout_graceful_shutdown=10,
    )
    auth = "token required" if token else "no token"
    # we bind the socket ourselves: `--port 0` can then say which port it got (tests and scripts read this
    # line), and the socket is made so that its connections get TCP_NODELAY (see `_bind`)
    try:
        sock = _bind(args.host, args.port)
    except OSError as e:
        print(f"lamin serve: cannot listen on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    print(f"lamin serve: OpenLineage endpoint http://{args.host}:{port}/api/v1/lineage ({auth})", flush=True)
    if args.workers > 1:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[sock]).run()  # what uvicorn.run does, with our socket instead of its own
    else:
        uvicorn.Server(config).run(sockets=[sock])
    return 0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY only on connections of sockets whose proto is
    # IPPROTO_TCP, and without it every response waits ~40 ms for the client's delayed ACK (Nagle)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _instance_problem() -> str | None:
    """Why the server could not record anything (no instance connected), or None."""
    try:
        from lamin_core.setup.settings import load_current

        load_current()
    except Exception as e:  # NoInstanceError, unreadable settings: a user-facing message, not a traceback
        detail = str(e)
        if type(e).__name__ == "NoInstanceError":
            return f"no instance is connected ({detail}): run `lamin init --storage DIR` or `lamin connect NAME` first"
        return f"cannot read the connected instance: {detail or type(e).__name__}"
    return None


def openlineage_main(argv: list[str]) -> int:
    """`lamin openlineage export|status|flush`: OpenLineage tools for lamin-core."""
    p = argparse.ArgumentParser(prog="lamin openlineage", description="OpenLineage tools for lamin-core.")
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="emit recorded runs as OpenLineage events to a backend")
    e.add_argument("--url", default=None, help="backend base URL (default: LAMIN_OPENLINEAGE_URL or ln.settings)")
    e.add_argument("--run", dest="runs", action="append", default=[], help="uid of a run to export (repeatable)")
    e.add_argument("--all", action="store_true", help="export every run of the instance")
    sub.add_parser("status", help="live forwarding: the target, the backlog, what was delivered and dropped, the last error")
    f = sub.add_parser("flush", help="live forwarding: deliver the backlog now")
    f.add_argument("--timeout", type=float, default=60.0, help="give up after so many seconds (default 60)")
    args = p.parse_args(argv)
    if args.cmd == "status":
        return _status()
    if args.cmd == "flush":
        return _flush(args.timeout)
    if not args.runs and not args.all:
        print("lamin openlineage export: name runs with --run UID, or pass --all", file=sys.stderr)
        return 2
    from .export import ExportError, export_runs

    try:
        n = export_runs(uids=args.runs or None, url=args.url)
    except ExportError as err:
        print(f"lamin openlineage export: {err}", file=sys.stderr)
        return 1
    print(f"exported {n} events")
    return 0


def _status() -> int:
    """Print the forwarder's state, one `name: value` line each (scripts read them)."""
    problem = _instance_problem()
    if problem:
        print(f"lamin openlineage status: {problem}", file=sys.stderr)
        return 1
    from lamin_core.lineage.forwarding import status

    state = status()
    if state["target"] is None:
        print("target: none (set LAMIN_OPENLINEAGE_URL or ln.settings.openlineage_url to forward lineage live)")
    for name, value in state.items():
        if name == "target" and value is None:
            continue
        print(f"{name}: {'-' if value is None else value}")
    return 0


def _flush(timeout: float) -> int:
    problem = _instance_problem()
    if problem:
        print(f"lamin openlineage flush: {problem}", file=sys.stderr)
        return 1
    from lamin_core.lineage.forwarding import EMPTY, flush, status

    if status()["target"] is None:
        print("lamin openlineage flush: no target: set LAMIN_OPENLINEAGE_URL or ln.settings.openlineage_url", file=sys.stderr)
        return 1
    outcome = flush(timeout)
    state = status()
    print(f"backlog: {state['backlog']}, delivered: {state['delivered']}, last error: {state['last_error'] or '-'}")
    return 0 if outcome == EMPTY and state["backlog"] == 0 else 1
