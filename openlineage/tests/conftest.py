"""Fixtures: the core's `instance` (a fresh instance per test, SQLite and PostgreSQL) and `lamin serve` on it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest_plugins = ["lamin_core.testing"]

sys.path.insert(0, str(Path(__file__).parent))  # ol_helpers (conftest is not importable by name)

from ol_helpers import TOKEN, Server, lamin_serve  # noqa: E402


@pytest.fixture
def serve(instance: Any) -> Iterator[Server]:
    """`lamin serve --token TOKEN --max-body-mb 1` on the test's instance, in a subprocess on loopback."""
    with lamin_serve(instance.env, "--token", TOKEN, "--max-body-mb", "1") as server:
        yield server
