"""`lamin serve` in a subprocess, for tests, benchmarks and demos of any adapter that talks HTTP to it.

    with lamin_serve(env, "--token", "T") as server:
        requests.post(server.url, json=event, headers={"Authorization": "Bearer T"})

The server is started on a free port (`--port 0`), reported on its first stdout line; the context yields
once `/healthz` answers and stops the server afterwards. Its stderr goes to a file (never an unread
pipe, which would block a chatty server), readable as `server.log()` for assertion messages.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

LAMIN = str(Path(sys.executable).parent / "lamin")
READY_SECONDS = 60  # a readiness wait, not a timing assertion


@dataclass
class Server:
    base: str
    proc: "subprocess.Popen[str]"
    log_path: Path

    @property
    def url(self) -> str:
        return self.base + "/api/v1/lineage"

    def log(self) -> str:
        """What the server wrote to stderr (tracebacks of 500s)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def stop(proc: "subprocess.Popen[str]", timeout: float = 15) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@contextmanager
def lamin_serve(env: dict[str, str], *args: str, echo_errors: bool = True) -> Iterator[Server]:
    """`lamin serve --port 0 ARGS` with `env` (which names the instance); yields once it answers."""
    log_fd, log_name = tempfile.mkstemp(prefix="lamin-serve-", suffix=".log")
    proc = subprocess.Popen([LAMIN, "serve", "--port", "0", *args], env=env, stdout=subprocess.PIPE, stderr=log_fd, text=True)
    os.close(log_fd)
    server = Server(base="", proc=proc, log_path=Path(log_name))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://([\d.]+):(\d+)/", line)
        if not match:
            raise RuntimeError(f"lamin serve did not start: {line!r} {server.log()}")
        server.base = f"http://{match.group(1)}:{match.group(2)}"
        deadline = time.monotonic() + READY_SECONDS
        while not _healthy(server.base):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"lamin serve exited or never answered /healthz: {server.log()}")
            time.sleep(0.05)
        yield server
    finally:
        stop(proc)
        if echo_errors and "Traceback" in server.log():
            print(f"lamin serve logged errors:\n{server.log()}", file=sys.stderr)  # pytest shows it on failure
        server.log_path.unlink(missing_ok=True)
