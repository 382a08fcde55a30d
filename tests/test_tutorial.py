"""LaminDB's tutorial, run as written (examples/tutorial/tutorial.py), in a fresh process on a new instance,
on each backend: the end-to-end check that what users read works. Sections after `UNTIL` are not built yet."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from lamin_core.testing import BACKENDS, _pg_execute, _pg_schema_url

TUTORIAL = Path(__file__).resolve().parents[1] / "examples" / "tutorial" / "tutorial.py"
UNTIL = "collections"


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_tutorial_runs_as_written(backend: str, tmp_path: Path) -> None:
    script = tmp_path / "tutorial.py"  # outside any git repository: its key is its file name
    shutil.copy(TUTORIAL, script)
    args = [sys.executable, str(script), "--until", UNTIL]
    schema = None
    if backend == "postgresql":
        schema = f"lamin_tutorial_{uuid.uuid4().hex[:10]}"
        _pg_execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        _pg_execute(f'CREATE SCHEMA "{schema}"')
        args += ["--db", _pg_schema_url(schema)]
    env = {**os.environ, "LAMIN_HOME": str(tmp_path / "home"), "COLUMNS": "100"}
    try:
        done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    finally:
        if schema:
            _pg_execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert f"all sections up to {UNTIL} ran" in out
    # what the tutorial shows: the typo's message, the annotations, the public ontology's search
    assert "1 term not validated in feature 'perturbation': 'IFNJ'" in out and "did you mean 'IFNG'?" in out
    assert "gamma-delta T cell" in out
