"""Helpers of the Nextflow tests (a module of its own: `conftest` is not importable by name when
several test folders run in one session)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

SAMPLES = Path("/work/shared/samples/nextflow")


def lamin(instance, *args: str) -> subprocess.CompletedProcess:
    """Run the real `lamin` command (the venv's) against the test instance."""
    exe = Path(sys.executable).with_name("lamin")
    return subprocess.run([str(exe), *args], env=instance.env, capture_output=True, text=True, timeout=300)


def fresh(instance, expression: str):
    """`expression` (JSON-able, `ln` in scope) evaluated in a new process: the instance as stored."""
    code = f"import json, lamin_core as ln; print(json.dumps({expression}))"
    done = subprocess.run([sys.executable, "-c", code], env=instance.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@contextmanager
def lamin_serve(instance, *args: str) -> Iterator[str]:
    """`lamin serve --port 0 ARGS` on the test instance, in its own process; yields its base URL once it answers."""
    import httpx

    exe = Path(sys.executable).with_name("lamin")
    proc = subprocess.Popen([str(exe), "serve", "--port", "0", *args], env=instance.env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://([\d.]+):(\d+)/", line)
        assert match, f"lamin serve did not start: {line!r}"
        base = f"http://{match.group(1)}:{match.group(2)}"
        deadline = time.monotonic() + 60  # a readiness wait, not a timing assertion
        while True:
            try:
                httpx.get(base + "/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "lamin serve never answered"
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
