"""`lamin --help` lists every command, plugins' included, with one line each; errors end a command
with one line and no traceback unless `--debug`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LAMIN = str(Path(sys.executable).with_name("lamin"))


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([LAMIN, *args], capture_output=True, text=True, env=env, timeout=120)


def test_help_lists_builtin_and_plugin_commands_with_a_description() -> None:
    out = run("--help").stdout
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("    ") and line.split()}
    for command in ("init", "save", "merge", "serve", "nextflow", "openlineage", "prefect"):
        assert command in lines, f"`lamin --help` does not list {command}"
    # each plugin command is described in words, not by its entry point or a usage string
    text = " ".join(out.split())
    assert "register a finished Nextflow run" in text
    assert "mark Prefect runs whose process died" in text
    assert "group `lamin_core.commands`" not in text


def test_an_error_is_one_line_without_traceback(tmp_path) -> None:
    import os

    env = {**os.environ, "LAMIN_HOME": str(tmp_path / "empty-home")}
    env.pop("LAMIN_DEBUG", None)
    done = run("info", env=env)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: no lamin instance is connected")
    assert "Traceback" not in done.stderr
    debug = run("--debug", "info", env=env)
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "NoInstanceError" in debug.stderr
