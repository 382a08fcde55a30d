"""What a run keeps of parameters, command lines and environment variables: never a secret."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from lamin_core.tracking.environment import captured_env, environment_text
from lamin_core.tracking.params import bound_params, clean_params
from lamin_core.tracking.redact import REDACTED, is_secret_name, redact, redact_argv


@pytest.mark.parametrize(
    "name",
    ["api_key", "apiKey", "GITHUB_TOKEN", "db_password", "dbPassword", "dbpassword", "AWS_SECRET_ACCESS_KEY",
     "AWS_ACCESS_KEY_ID", "credentials", "auth", "private_key", "client_secret", "sessionId", "passwd", "accesstoken",
     "logger-lamin-token"],
)
def test_secret_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["key", "keys", "artifact_key", "monkey", "author", "tokenizer", "path", "n_rows"])
def test_names_that_are_not_secrets(name):
    assert not is_secret_name(name)


def test_redact_values_urls_and_command_lines():
    params = {"key": "data/x.parquet", "db": "postgresql://me:hunter2@db:5432/x", "nested": [{"token": "t", "n": 1}],
              "password": "", "api_key": None}
    assert redact(params) == {"key": "data/x.parquet", "db": f"postgresql://me:{REDACTED}@db:5432/x",
                              "nested": [{"token": REDACTED, "n": 1}], "password": "", "api_key": None}
    assert redact_argv(["run.py", "--token", "abc", "--api-key=xyz", "-n", "3", "--key", "a/b"]) == [
        "run.py", "--token", REDACTED, f"--api-key={REDACTED}", "-n", "3", "--key", "a/b"]


def test_params_are_json_and_redacted():
    def f(self, n: int, df=None, *args, password: str = "x", path: Path = Path("/tmp/a"), **extra):
        pass

    class Frame:
        shape = (3, 2)

    raw = bound_params(inspect.signature(f), (object(), 2, Frame()), {"password": "pw", "secret_token": "t", "other": {1, 2}})
    assert clean_params(raw) == {"n": 2, "df": {"type": "Frame", "shape": [3, 2]}, "args": [], "password": REDACTED,
                                 "path": "/tmp/a", "secret_token": REDACTED, "other": [1, 2]}
    assert bound_params(inspect.signature(f), (), {}) == {}  # a call that will fail by itself records nothing
    assert clean_params({}) is None


def test_captured_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("LAMIN_API_TOKEN", "s3cr3t")
    monkeypatch.setenv("MY_UNRELATED_PASSWORD", "nope")
    env = captured_env()
    assert env["SLURM_JOB_ID"] == "42" and env["LAMIN_API_TOKEN"] == REDACTED
    assert "MY_UNRELATED_PASSWORD" not in env  # only a few known prefixes are kept at all
    from lamin_core.tracking import environment

    monkeypatch.setenv("LAMIN_HOME", str(tmp_path))
    monkeypatch.setattr(environment, "_memo", {})  # as in a new process
    text = environment_text()
    assert text.startswith("python==") and "sqlalchemy==" in text.lower()
    assert environment_text() == text and list((tmp_path / "cache" / "environments").glob("*.txt"))
