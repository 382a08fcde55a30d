"""Running the real `snakemake` command in a test, against the test's instance."""

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
# a recording problem is reported on stderr as "lamin: ..." while the workflow carries on
RECORDING_PROBLEM = "lamin: "


def write_workflow(workdir: Path, snakefile: str, **files: str) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "Snakefile").write_text(textwrap.dedent(snakefile).lstrip())
    for name, content in files.items():
        path = workdir / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return workdir


def run_snakemake(workdir: Path, instance: Any, *args: str, expect_ok: bool = True) -> subprocess.CompletedProcess[str]:
    """`snakemake --logger lamin ARGS` in `workdir`, writing to `instance`; fails the test on recording problems."""
    cmd = [SNAKEMAKE, "--logger", "lamin", "--nocolor", *args]
    done = subprocess.run(cmd, cwd=workdir, env=instance.env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert (done.returncode == 0) == expect_ok, output[-4000:]
    # `in`, not startswith: Snakemake's own log lines are written in pieces and may precede ours on a line
    problems = [line for line in output.splitlines() if RECORDING_PROBLEM in line]
    assert not problems, "\n".join(problems) + "\n" + output[-4000:]
    forget_loaded_records()
    return done


def forget_loaded_records() -> None:
    """Another process wrote: drop the objects this process already loaded, so queries show the new state.

    lamin-core keeps one session per thread with `expire_on_commit=False`, and a query returns the
    already-loaded object for a row without refreshing it (reported to the core).
    """
    from lamin_core.db import engine

    engine.session().expire_all()
