"""Instances from the shell and from Python: init, connect, info, delete, and the no-instance error."""

import os
import subprocess
import sys

import pytest

import lamin_core as ln
from lamin_core.errors import NoInstanceError

LAMIN = [sys.executable, "-m", "lamin_core.cli.main"]


def lamin(*args, env):
    return subprocess.run([*LAMIN, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMIN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LAMIN_INSTANCE", raising=False)
    from lamin_core.db import engine

    engine.configure(None)
    yield {**os.environ, "LAMIN_HOME": str(tmp_path / "home")}
    engine.configure(None)


def test_cli_init_info_connect_delete(home, tmp_path):
    r = lamin("init", "--storage", str(tmp_path / "one"), env=home)
    assert r.returncode == 0, r.stderr
    assert "initialized instance 'one'" in r.stdout
    assert (tmp_path / "one" / ".lamindb" / "lamin.db").exists()
    r = lamin("init", "--storage", str(tmp_path / "two"), "--name", "second", "--modules", "bionty", env=home)
    assert r.returncode == 0, r.stderr
    info = lamin("info", env=home).stdout
    assert "instance: second" in info and "modules: bionty" in info
    assert lamin("connect", "one", env=home).returncode == 0
    assert "instance: one" in lamin("info", env=home).stdout
    r = lamin("delete", "one", env=home)
    assert r.returncode != 0 and "--force" in r.stderr
    assert lamin("delete", "one", "--force", env=home).returncode == 0
    assert not (tmp_path / "one" / ".lamindb").exists()
    r = lamin("connect", "one", env=home)
    assert r.returncode == 1 and "no instance named 'one'" in r.stderr and "Traceback" not in r.stderr


def test_no_instance_error_names_the_fix(home):
    with pytest.raises(NoInstanceError, match="lamin init --storage"):
        ln.Artifact.filter().count()
    r = lamin("info", env=home)
    assert r.returncode == 1 and "lamin init" in r.stderr and "Traceback" not in r.stderr


def test_init_again_reconnects_to_the_same_instance(home, tmp_path):
    s1 = ln.setup.init(storage=tmp_path / "data")
    f = tmp_path / "x.txt"
    f.write_text("x")
    ln.Artifact(f, key="x.txt").save()
    s2 = ln.setup.init(storage=tmp_path / "data")
    assert s2.uid == s1.uid
    assert ln.Artifact.get(key="x.txt").load() == "x"


def test_python_connect_switches_instances(home, tmp_path):
    ln.setup.init(storage=tmp_path / "a", name="a")
    f = tmp_path / "x.txt"
    f.write_text("only in a")
    ln.Artifact(f, key="x.txt").save()
    ln.setup.init(storage=tmp_path / "b", name="b")
    assert ln.Artifact.filter(key="x.txt").count() == 0
    ln.connect("a")
    assert ln.Artifact.filter(key="x.txt").count() == 1


def test_postgres_instance_via_cli(home, tmp_path):
    import uuid

    from lamin_core.testing import _pg_execute, _pg_schema_url

    schema = f"lamin_cli_{uuid.uuid4().hex[:8]}"
    _pg_execute(f'CREATE SCHEMA "{schema}"')
    try:
        r = lamin("init", "--storage", str(tmp_path / "pgdata"), "--db", _pg_schema_url(schema), "--name", "pg", env=home)
        assert r.returncode == 0, r.stderr
        info = lamin("info", env=home).stdout
        assert "postgresql://" in info and "instance: pg" in info
    finally:
        _pg_execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_password_is_redacted_in_info():
    from lamin_core.setup.instance import redact_url

    assert redact_url("postgresql://me:s3cret@db:5432/x") == "postgresql://me:***@db:5432/x"


def test_bad_db_url_is_refused(home, tmp_path):
    with pytest.raises(ValueError, match="--db must be"):
        ln.setup.init(storage=tmp_path / "d", db="mysql://x")
