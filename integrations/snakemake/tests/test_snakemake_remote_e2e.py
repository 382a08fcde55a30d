"""`--logger-lamin-server`: Snakemake reports over HTTP to `lamin serve`, with no database access of its own."""

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from snakemake_run import run_snakemake, write_workflow

import lamin_core as ln

pytestmark = pytest.mark.slow

TOKEN = "t0ken-for-tests"
SNAKEFILE = """
rule all:
    input: "out/a.txt", "out/b.txt"

rule upper:
    input: "in/{s}.txt"
    output: "out/{s}.txt"
    shell: "tr a-z A-Z < {input} > {output}"
"""


@pytest.fixture
def server(sqlite_instance) -> Iterator[str]:
    """`lamin serve --port 0 --token T` on the test's instance; yields its base URL."""
    lamin = str(Path(sys.executable).with_name("lamin"))
    proc = subprocess.Popen(
        [lamin, "serve", "--port", "0"],
        env={**sqlite_instance.env, "LAMIN_SERVE_TOKEN": TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        m = re.search(r"http://[\d.]+:\d+", line)
        assert m, f"lamin serve did not start: {line}"
        yield m.group(0)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_jobs_report_to_lamin_serve(server: str, sqlite_instance, tmp_path: Path) -> None:
    wd = write_workflow(tmp_path / "remote", SNAKEFILE, **{"in__a.txt": "alpha\n", "in__b.txt": "beta\n"})
    # this "cluster node" has no lamin instance at all: everything must go through the server
    no_instance = {**sqlite_instance.env, "LAMIN_HOME": str(tmp_path / "empty_home")}
    node = type(sqlite_instance)(**{**sqlite_instance.__dict__, "env": no_instance})
    # the token on the command line (the environment variable is the better habit): it must not be saved
    run_snakemake(wd, node, "--cores", "2", "--logger-lamin-server", server, "--logger-lamin-token", TOKEN)

    (wf_run,) = ln.Run.filter(reference_type="snakemake_workflow")
    assert wf_run.status == "completed" and wf_run.transform.kind == "pipeline"
    assert TOKEN not in str(wf_run.params) and "--logger-lamin-token ***" in wf_run.params["command"]
    jobs = ln.Run.filter(reference_type="snakemake_job", initiated_by_run=wf_run).to_list()
    assert sorted(r.name.split(" #")[0] for r in jobs) == ["all", "upper[s=a]", "upper[s=b]"]
    out_a = ln.Artifact.get(key="out/a.txt", storage__root=str(wd))
    assert out_a.run.transform.key == f"snakemake/{wd.name}/Snakefile:upper"
    assert [a.key for a in out_a.run.input_artifacts] == ["in/a.txt"]


def test_a_refused_token_is_reported_and_the_workflow_still_runs(server: str, sqlite_instance, tmp_path: Path) -> None:
    wd = write_workflow(tmp_path / "remote", SNAKEFILE, **{"in__a.txt": "alpha\n", "in__b.txt": "beta\n"})
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    cmd = [snakemake, "--logger", "lamin", "--cores", "1", "--logger-lamin-server", server]
    env = {**sqlite_instance.env, "SNAKEMAKE_LOGGER_LAMIN_TOKEN": "wrong"}
    done = subprocess.run(cmd, cwd=wd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and (wd / "out" / "a.txt").exists()
    problems = [line for line in done.stderr.splitlines() if "lamin: " in line]
    assert any("401" in line for line in problems) and len(problems) <= 3, problems  # said once, not per event
    assert ln.Run.filter(reference_type="snakemake_workflow").count() == 0
