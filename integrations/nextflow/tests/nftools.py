"""Helpers of the Nextflow tests (a module of its own: `conftest` is not importable by name when
several test folders run in one session)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
