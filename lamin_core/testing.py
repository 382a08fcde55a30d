"""pytest fixtures for lamin-core and its adapters: `pytest_plugins = ["lamin_core.testing"]`.

- `instance`: a fresh instance per test, connected in this process, parametrized over the backends in
  `LAMIN_TEST_BACKENDS` (default `sqlite,postgresql`). PostgreSQL instances live in their own schema of
  `LAMIN_TEST_PG` (default the local `test` database), dropped afterwards. A backend that is asked for
  and unreachable fails the test: CI must never skip PostgreSQL silently.
- `sqlite_instance`, `pg_instance`: one backend only.
- `s3`: a moto S3 server on loopback for the whole session, with `AWS_*` variables set.
`instance.env` is the environment a subprocess needs to write to the same instance.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

PG_URL = os.environ.get("LAMIN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = [b.strip() for b in os.environ.get("LAMIN_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]


@dataclass
class TestInstance:
    name: str
    backend: str
    storage_root: Path
    home: Path
    db_url: str
    env: dict[str, str] = field(default_factory=dict)


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema},public"


def _pg_execute(sql: str) -> None:
    import psycopg

    try:
        with psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)
    except psycopg.OperationalError as e:
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL} ({e}); start it or set LAMIN_TEST_BACKENDS=sqlite", pytrace=False)


def make_instance(tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch, name: str = "test") -> Iterator[TestInstance]:
    from .db import engine as database
    from .setup import init

    home = tmp_path / "lamin_home"
    storage = tmp_path / "storage"
    monkeypatch.setenv("LAMIN_HOME", str(home))
    monkeypatch.delenv("LAMIN_INSTANCE", raising=False)
    schema = None
    db_url = None
    if backend == "postgresql":
        schema = f"lamin_test_{uuid.uuid4().hex[:12]}"
        _pg_execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        _pg_execute(f'CREATE SCHEMA "{schema}"')
        db_url = _pg_schema_url(schema)
    elif backend != "sqlite":
        raise ValueError(f"unknown test backend {backend!r}")
    settings = init(storage=str(storage), db=db_url, name=name)
    env = {**os.environ, "LAMIN_HOME": str(home)}
    try:
        yield TestInstance(
            name=name, backend=backend, storage_root=Path(settings.storage_root), home=home, db_url=settings.db_url, env=env
        )
    finally:
        database.configure(None)
        from .storage.registry import forget_roots

        forget_roots()
        if schema is not None:
            _pg_execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=BACKENDS)
def instance(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestInstance]:
    yield from make_instance(tmp_path, request.param, monkeypatch)


@pytest.fixture
def sqlite_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestInstance]:
    yield from make_instance(tmp_path, "sqlite", monkeypatch)


@pytest.fixture
def pg_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestInstance]:
    yield from make_instance(tmp_path, "postgresql", monkeypatch)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class S3Server:
    endpoint: str
    env: dict[str, str]

    def make_bucket(self, name: str | None = None) -> str:
        import boto3

        name = name or f"bucket-{uuid.uuid4().hex[:10]}"
        boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1").create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """A real S3 API (moto's server) on loopback; the AWS variables point every client at it."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    _reset_fs_cache()
    try:
        yield S3Server(endpoint=endpoint, env=env)
    finally:
        server.stop()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _reset_fs_cache()


def _reset_fs_cache() -> None:
    from .storage.paths import _filesystem

    _filesystem.cache_clear()
    try:
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
    except ImportError:
        pass


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "slow: end-to-end tests that start engines")
