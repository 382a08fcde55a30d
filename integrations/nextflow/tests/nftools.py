"""Helpers of the Nextflow tests (a module of its own: `conftest` is not importable by name when
several test folders run in one session)."""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

# the format samples live in the repository (see samples/README.md for how they were made)
SAMPLES = Path(__file__).resolve().parent / "samples"


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
    from lamin_openlineage.testing import lamin_serve as serve

    with serve(instance.env, *args) as server:
        yield server.base
