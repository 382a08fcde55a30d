"""When the database cannot be reached, a Prefect flow runs as usual and lamin_prefect warns; with
`LAMIN_PREFECT_STRICT=1` the same failure fails the flow instead (docs/prefect.md)."""

from __future__ import annotations

import logging

import pytest

from lamin_core.db import engine as db
from lamin_prefect import flow, task
from lamin_prefect._emit import flush

pytestmark = pytest.mark.slow


@task
def double(x: int) -> int:
    return 2 * x


@flow(name="strictness")
def pipeline(x: int) -> int:
    return double(x) + 1


@pytest.fixture
def unreachable(pg_instance, prefect_server):  # noqa: ANN001, ANN201
    """The connected instance's database moved to a port where nothing listens."""
    settings = db.settings()
    settings.db_url = "postgresql://postgres@127.0.0.1:1/nowhere"
    settings.save()
    db.configure(settings)
    yield settings


def test_an_unreachable_database_does_not_fail_the_flow(unreachable, caplog, capfd, monkeypatch) -> None:
    monkeypatch.delenv("LAMIN_PREFECT_STRICT", raising=False)
    with caplog.at_level(logging.WARNING, logger="lamin_prefect"):
        assert pipeline(20) == 41
        flush()
    # the recording process reports on its stderr (the flow's own stderr: it inherits it), the flow's
    # process through the `lamin_prefect` logger
    reported = capfd.readouterr().err + "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("lamin_prefect"))
    assert "could not record" in reported, "the lost lineage must be reported"
    assert "port 1" in reported or "127.0.0.1" in reported


def test_strict_mode_fails_the_flow_when_recording_fails(unreachable, monkeypatch) -> None:
    monkeypatch.setenv("LAMIN_PREFECT_STRICT", "1")
    with pytest.raises(Exception) as failure:
        pipeline(20)
    assert "127.0.0.1" in str(failure.value) or "connect" in str(failure.value).lower()
