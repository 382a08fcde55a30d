"""Fixtures: the core's `instance` (fresh instance per test, SQLite and PostgreSQL) and the run folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["lamin_core.testing"]

sys.path.insert(0, str(Path(__file__).parent))  # nfgen: the fixture writer

from nfgen import materialize  # noqa: E402

SAMPLES = Path("/work/shared/samples/nextflow")


@pytest.fixture
def run_dir(tmp_path):
    """`run_dir("success")`: a copy of a fixture run folder with its paths pointing at the copy."""

    def make(name: str) -> Path:
        return materialize(name, tmp_path / name)

    return make


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
