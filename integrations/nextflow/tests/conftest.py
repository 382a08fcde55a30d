"""Fixtures: the core's `instance` (fresh instance per test, SQLite and PostgreSQL) and the run folders."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest_plugins = ["lamin_core.testing"]

sys.path.insert(0, str(Path(__file__).parent))  # nfgen (the fixture writer) and nftools

from nfgen import materialize  # noqa: E402


@pytest.fixture
def run_dir(tmp_path):
    """`run_dir("success")`: a copy of a fixture run folder with its paths pointing at the copy."""

    def make(name: str) -> Path:
        return materialize(name, tmp_path / name)

    return make
