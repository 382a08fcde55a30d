"""Pooled PostgreSQL connections: a connection the server closed while it sat in the pool is replaced
before use, so the first statement after a server restart or an idle timeout does not fail."""

from __future__ import annotations

import psycopg
import pytest

import lamin_core as ln
from lamin_core.db import engine as db
from lamin_core.testing import PG_URL


def _backend_pids() -> set[int]:
    pool = db.engine().pool
    return {rec.dbapi_connection.info.backend_pid for rec in _pooled_records(pool)}


def _pooled_records(pool) -> list:  # type: ignore[no-untyped-def]
    return [rec for rec in list(pool._pool.queue) if rec.dbapi_connection is not None]  # noqa: SLF001


def test_a_connection_closed_while_idle_is_replaced(pg_instance, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ln.Storage.filter().count() == 1  # a pooled connection exists now
    pids = _backend_pids()
    assert pids
    with psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
        for pid in pids:  # what a server restart or idle_session_timeout does to a pooled connection
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
    assert ln.Storage.filter().count() == 1  # not "server closed the connection unexpectedly"
    assert not (_backend_pids() & pids)


def test_a_connection_in_steady_use_is_not_pinged(pg_instance, monkeypatch: pytest.MonkeyPatch) -> None:
    pings: list[object] = []
    real_ping = db.engine().dialect.do_ping
    monkeypatch.setattr(db.engine().dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn))
    for _ in range(5):
        ln.Storage.filter().count()
    assert pings == []
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
    ln.Storage.filter().count()
    assert len(pings) == 1
