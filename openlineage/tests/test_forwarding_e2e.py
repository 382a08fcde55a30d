"""Live forwarding end to end (issue 17): real pipelines in their own processes, forwarding to a second
`lamin serve` on another instance, which is stopped, restarted and started late.

Instance A is the test's `instance` (SQLite and PostgreSQL); the receiver B is a separate SQLite instance
with its own `LAMIN_HOME`. Waits below are readiness waits (until the outbox is empty), never timings.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from ol_helpers import LAMIN, lamin_serve, summary_of

WAIT_S = 180  # how long a test waits for the outbox to empty before it fails (a readiness bound)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def other_env(instance: Any, tmp_path: Path) -> dict[str, str]:
    """The environment of a second, empty instance (B), which receives what A forwards."""
    env = {k: v for k, v in instance.env.items() if not k.startswith(("LAMIN_INSTANCE", "LAMIN_OPENLINEAGE"))}
    env["LAMIN_HOME"] = str(tmp_path / "b_home")
    subprocess.run([LAMIN, "init", "--storage", str(tmp_path / "b_storage"), "--name", "b"], env=env, check=True,
                   capture_output=True, timeout=120)
    return env


def _sql(env: dict[str, str], query: str) -> list[list[Any]]:
    """Rows of `query` on the instance `env` names, read in a fresh process."""
    code = ("import json, sys; from sqlalchemy import text; from lamin_core.db import engine as db\n"
            "with db.read() as s: print(json.dumps([list(r) for r in s.execute(text(sys.argv[1]))], default=str))")
    out = subprocess.run([sys.executable, "-c", code, query], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _status(env: dict[str, str]) -> dict[str, str]:
    out = subprocess.run([LAMIN, "openlineage", "status"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return dict(line.split(": ", 1) for line in out.stdout.splitlines() if ": " in line)


def _wait_until_delivered(env: dict[str, str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while True:
        backlog = _sql(env, "SELECT count(*) FROM openlineage_outbox WHERE refused_at IS NULL")[0][0]
        if backlog == 0:
            return
        assert time.monotonic() < deadline, f"{backlog} events still waiting: {_status(env)}"
        time.sleep(0.5)


def _identities(env: dict[str, str]) -> list[str]:
    return [r[0] for r in _sql(env, "SELECT identity FROM lineage_events ORDER BY identity")]


FLOWS = """
import sys, time
from pathlib import Path
import lamin_core as ln

@ln.step()
def write(folder: str, i: int) -> str:
    p = Path(folder) / f"part{i}.txt"
    p.write_text(f"part {i} " * 10)
    return str(p)

@ln.flow()
def pipeline(folder: str, n: int, pause: float) -> None:
    for i in range(n):
        write(folder, i)
        time.sleep(pause)

folder, n, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
Path(folder).mkdir(parents=True, exist_ok=True)
for round in range(int(sys.argv[4])):
    pipeline(folder, n, pause)
"""


def _run_flows(env: dict[str, str], tmp_path: Path, n: int, pause: float, rounds: int) -> "subprocess.Popen[str]":
    script = tmp_path / "flows.py"
    script.write_text(FLOWS)
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "data"), str(n), str(pause), str(rounds)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finished(proc: "subprocess.Popen[str]") -> None:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err


PREFECT_FLOW = """
from pathlib import Path
import sys
from lamin_prefect import flow, task

@task
def extract(folder: str, sample: str) -> str:
    p = Path(folder) / f"{sample}.csv"
    p.write_text(f"sample,value\\n{sample},1\\n")
    return str(p)

@task
def combine(folder: str, paths: list[str]) -> str:
    out = Path(folder) / "combined.csv"
    out.write_text("".join(Path(p).read_text() for p in paths))
    return str(out)

@flow(name="forwarded-etl")
def etl(folder: str, samples: list[str]) -> str:
    return combine(folder, [extract(folder, s) for s in samples])

Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)
etl(sys.argv[1], ["s1", "s2", "s3"])
"""


def test_prefect_flow_forwarded_to_a_second_lamin_serve_yields_the_same_records(
    instance: Any, other_env: dict[str, str], tmp_path: Path
) -> None:
    script = tmp_path / "etl.py"
    script.write_text(PREFECT_FLOW)
    with lamin_serve(other_env) as b:
        env = {**instance.env, "LAMIN_OPENLINEAGE_URL": b.base, "PREFECT_HOME": str(tmp_path / "prefect"),
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "240",
               "PREFECT_LOGGING_TO_API_ENABLED": "false", "LAMIN_OPENLINEAGE_EXIT_WAIT": "30"}
        env.pop("PREFECT_API_URL", None)
        done = subprocess.run([sys.executable, str(script), str(tmp_path / "data")], env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        _wait_until_delivered(instance.env)
        assert "Traceback" not in b.log(), b.log()
    a_runs, b_runs = summary_of(instance.env), summary_of(other_env)
    prefect_runs = {k for k in a_runs if k.startswith("prefect_")}
    assert len(prefect_runs) == 5  # the flow run, three extracts, one combine
    assert a_runs == b_runs  # transforms, runs (status, times, params, parents), artifacts (paths, hashes) alike
    assert _identities(instance.env) == _identities(other_env)


def test_receiver_stopped_and_restarted_mid_run_loses_and_duplicates_nothing(
    instance: Any, other_env: dict[str, str], tmp_path: Path
) -> None:
    port = _free_port()
    env = {**instance.env, "LAMIN_OPENLINEAGE_URL": f"http://127.0.0.1:{port}", "LAMIN_OPENLINEAGE_EXIT_WAIT": "60"}
    with lamin_serve(other_env, "--port", str(port)):
        proc = _run_flows(env, tmp_path, n=10, pause=0.2, rounds=6)  # about 15 s: B comes back while it runs
        deadline = time.monotonic() + WAIT_S
        while not _sql(other_env, "SELECT count(*) FROM lineage_events")[0][0]:  # B has some, not all yet
            assert time.monotonic() < deadline and proc.poll() is None, "nothing arrived at the receiver"
            time.sleep(0.05)
    # B is down now, mid-run; the pipeline goes on
    time.sleep(1.0)  # let the pipeline record a few events while B is down (not a timing assertion)
    with lamin_serve(other_env, "--port", str(port)):
        _finished(proc)
        _wait_until_delivered(instance.env)
    a, b = _identities(instance.env), _identities(other_env)
    assert len(a) == 6 * (2 + 10 * 2)  # per round: the flow's START and COMPLETE, each step's
    assert proc.returncode == 0
    assert b == a  # none lost; lineage_events' identities are unique: none twice
    b_runs = _sql(other_env, "SELECT reference_type, reference, count(*) FROM runs GROUP BY reference_type, reference HAVING count(*) > 1")
    assert b_runs == []


def test_target_down_for_the_whole_run_then_up_everything_arrives(
    instance: Any, other_env: dict[str, str], tmp_path: Path
) -> None:
    port = _free_port()
    env = {**instance.env, "LAMIN_OPENLINEAGE_URL": f"http://127.0.0.1:{port}"}
    _finished(_run_flows(env, tmp_path, n=5, pause=0.0, rounds=2))
    expected = _identities(instance.env)
    status = _status(env)
    assert status["backlog"] == str(len(expected)) and status["target"] == f"http://127.0.0.1:{port}/api/v1/lineage"
    assert "ConnectionRefusedError" in status["last_error"]
    with lamin_serve(other_env, "--port", str(port)):
        out = subprocess.run([LAMIN, "openlineage", "flush"], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
    assert _identities(other_env) == expected
    status = _status(env)
    assert status["backlog"] == "0" and status["delivered"] == str(len(expected)) and status["dropped"] == "0"


def test_status_without_a_target_and_nothing_forwarded(instance: Any, tmp_path: Path) -> None:
    env = {k: v for k, v in instance.env.items() if not k.startswith("LAMIN_OPENLINEAGE")}
    env["OPENLINEAGE_URL"] = "http://127.0.0.1:9"  # the producers' variable: not a forwarding target
    _finished(_run_flows(env, tmp_path, n=2, pause=0.0, rounds=1))
    out = subprocess.run([LAMIN, "openlineage", "status"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "target: none" in out.stdout and "backlog: 0" in out.stdout
    assert _sql(env, "SELECT count(*) FROM openlineage_outbox")[0][0] == 0


def test_events_ingested_by_lamin_serve_are_not_sent_back(
    instance: Any, other_env: dict[str, str], tmp_path: Path
) -> None:
    from lamin_core.lineage.openlineage_json import RUN_EVENT_SCHEMA_URL

    def post(url: str, run_id: str) -> None:
        body = {"eventType": "START", "eventTime": "2026-04-02T00:00:00Z", "producer": "urn:p", "schemaURL": RUN_EVENT_SCHEMA_URL,
                "run": {"runId": run_id}, "job": {"namespace": "air", "name": "dag.t"}}
        r = requests.post(url, json=body, timeout=30)
        assert r.status_code == 201, r.text

    with lamin_serve(other_env) as b:
        a_env = {**instance.env, "LAMIN_OPENLINEAGE_URL": b.base}
        with lamin_serve(a_env) as a:
            post(a.url, "0190f1c2-7a6b-7c3d-8e9f-0a1b2c3d4e51")
        assert _sql(instance.env, "SELECT count(*) FROM openlineage_outbox")[0][0] == 0
        assert _sql(other_env, "SELECT count(*) FROM lineage_events")[0][0] == 0
        with lamin_serve({**a_env, "LAMIN_OPENLINEAGE_FORWARD_INGESTED": "1"}) as a:
            post(a.url, "0190f1c2-7a6b-7c3d-8e9f-0a1b2c3d4e52")
            _wait_until_delivered(instance.env)
        assert _sql(other_env, "SELECT count(*) FROM lineage_events")[0][0] == 1
