"""Real Prefect for the tests: one temporary local Prefect server for the whole session (start-up is slow).

Prefect reads its settings at import, so the environment is set here, before any test imports it.
"""

from __future__ import annotations

import os
import tempfile
from typing import Iterator

import pytest

pytest_plugins = ["lamin_core.testing"]  # the `instance` fixture: a fresh instance per test, both backends

_PREFECT_HOME = tempfile.mkdtemp(prefix="lamin-prefect-home-")
os.environ.update(
    {
        "PREFECT_HOME": _PREFECT_HOME,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # telemetry writes race the test database ("locked")
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "240",  # the 20 s default is too short on 2 cores
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
    }
)
os.environ.pop("PREFECT_API_URL", None)


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """Prefect's test harness: a temporary database and API server, started once per session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=None):
        yield


@pytest.fixture
def events(prefect_server: None, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[list]:
    """The LineageEvents lamin_prefect produces during a test, in order, instead of recording them."""
    import lamin_prefect

    # no instance at all: whatever the developer's own ~/.lamin holds is never read or written
    monkeypatch.setenv("LAMIN_HOME", str(tmp_path_factory.mktemp("no-lamin-home")))

    captured: list = []
    with lamin_prefect.record_to(captured.append):
        yield captured
