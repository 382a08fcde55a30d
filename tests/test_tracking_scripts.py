"""`ln.track()` / `ln.finish()` in real scripts run as subprocesses: what a user's script leaves behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import lamin_core as ln

PY = sys.executable




def run_script(instance, path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([PY, str(path), *args], env=instance.env, cwd=path.parent, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"script failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def write(path: Path, code: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code))
    return path


SCRIPT = """
import sys
import lamin_core as ln

run = ln.track(params={"n": int(sys.argv[1]), "api_token": "s3cr3t", "db": "postgresql://u:pw@h/db"})
raw = ln.Artifact.get(key="raw.txt")
text = raw.cache().read_text()
with open("result.txt", "w") as f:
    f.write(text.upper() * int(sys.argv[1]))
artifact = ln.Artifact("result.txt", key="result.txt").save()
ln.finish()
print(run.uid)
"""


def test_script_run_records_transform_run_inputs_outputs_environment(instance, tmp_path):
    raw_file = tmp_path / "raw.txt"
    raw_file.write_text("hello")
    raw = ln.Artifact(raw_file, key="raw.txt").save()
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    script = write(repo / "analysis" / "upper.py", SCRIPT)

    first = run_script(instance, script, "1").stdout.strip().splitlines()[-1]
    second = run_script(instance, script, "2").stdout.strip().splitlines()[-1]

    run = ln.Run.get(uid=first)
    assert run.transform.key == "analysis/upper.py"  # relative to the git root, not the working directory
    assert run.transform.kind == "script"
    assert run.transform.source_code == script.read_text()
    assert run.status == "completed" and run.finished_at is not None and run.started_at is not None
    assert run.params == {"n": 1, "api_token": "***", "db": "postgresql://u:***@h/db"}
    assert run.host and run.facets["python"] == ".".join(map(str, sys.version_info[:3]))
    assert run.created_by_id is not None
    assert [a.uid for a in run.input_artifacts] == [raw.uid]
    assert [a.key for a in run.output_artifacts] == ["result.txt"]
    assert ln.Artifact.get(key="result.txt", is_latest=True).transform.key == "analysis/upper.py"
    env = run.environment
    assert env.kind == "environment" and "sqlalchemy==" in env.cache().read_text().lower()

    run2 = ln.Run.get(uid=second)
    assert run2.transform.uid == run.transform.uid  # same source: same transform version
    assert run2.environment_id == env.id  # same packages: one environment artifact, shared
    assert [r.uid for r in run.transform.runs] == [first, second]

    # changed source: a new version of the same key
    script.write_text(script.read_text() + "# tweak\n")
    third = run_script(instance, script, "1").stdout.strip().splitlines()[-1]
    t3 = ln.Run.get(uid=third).transform
    assert t3.key == "analysis/upper.py" and t3.uid != run.transform.uid and t3.uid[:-4] == run.transform.uid[:-4]
    assert t3.is_latest and len(ln.Transform.filter(key="analysis/upper.py")) == 2
    df = ln.Run.to_dataframe()
    assert len(df) == 3


CRASH = """
import sys, lamin_core as ln
ln.track()
if sys.argv[1] == "raise":
    raise RuntimeError("the data is bad")
if sys.argv[1] == "exit":
    sys.exit(3)
if sys.argv[1] == "sleep":
    import time
    print("ready", flush=True)
    time.sleep(60)
# "end": falls off the end without ln.finish()
"""


def test_crash_and_missing_finish_never_leave_a_run_started(instance, tmp_path):
    script = write(tmp_path / "fragile.py", CRASH)
    failed = run_script(instance, script, "raise", check=False)
    assert failed.returncode == 1 and "the data is bad" in failed.stderr  # the user still sees the traceback
    run_script(instance, script, "end")
    exited = run_script(instance, script, "exit", check=False)
    assert exited.returncode == 3

    proc = subprocess.Popen([PY, str(script), "sleep"], env=instance.env, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM

    runs = list(ln.Run.filter(transform__key="fragile.py").order_by("id"))
    assert [r.status for r in runs] == ["errored", "aborted", "aborted", "aborted"]
    assert all(r.finished_at is not None for r in runs)
    assert "RuntimeError: the data is bad" in runs[0].report.load()
    assert runs[1].facets["reason"] == "the process exited without ln.finish()"
    assert runs[3].facets["reason"] == "terminated by SIGTERM"


def test_plan_and_explicit_transform(instance, tmp_path):
    plan = write(tmp_path / ".plans" / "agent-plan.md", "# Plan\n1. clean\n2. train\n")
    script = write(
        tmp_path / "with_plan.py",
        """
        import lamin_core as ln
        t = ln.Transform(key="my_pipeline", version="1.2.0").save()
        run = ln.track(transform=t, plan=".plans/agent-plan.md", params={"password": "x", "lr": 0.1})
        ln.finish()
        print(run.uid)
        """,
    )
    uid = run_script(instance, script).stdout.strip().splitlines()[-1]
    run = ln.Run.get(uid=uid)
    assert run.transform.key == "my_pipeline" and run.transform.version == "1.2.0"
    assert run.params == {"password": "***", "lr": 0.1}
    assert run.plan.kind == "plan" and run.plan.key == ".plans/agent-plan.md"
    assert run.plan.cache().read_text() == plan.read_text()


def test_track_in_process_with_manual_transform_and_runs(instance, tmp_path):
    transform = ln.Transform(key="my_pipeline", version="1.2.0").save()
    assert ln.Transform(key="my_pipeline", version="1.2.0").save().id == transform.id  # same version: same record
    manual = ln.Run(transform, params={"k": 1}).save()
    assert manual.status == "started" and manual.transform.key == "my_pipeline"
    assert [r.id for r in transform.runs] == [manual.id]

    run = ln.track(transform="my_pipeline", params={"a": 1})
    try:
        assert ln.context.current_run() is run
        f = tmp_path / "x.txt"
        f.write_text("x")
        saved = ln.Artifact(f, key="x.txt").save()
        assert saved.run_id == run.id
    finally:
        ln.finish()
    assert ln.Run.get(run.id).status == "completed"
    assert ln.context.current_run() is None
    with pytest.raises(ValueError, match="call ln.track"):
        ln.finish()
    with pytest.raises(ValueError, match="no transform"):
        ln.track(transform="does-not-exist")
    with pytest.raises(ValueError, match="could not find the running script"):
        ln.track()  # pytest's __main__ is not a script file of the user


def test_track_path_notebook_version_ignores_outputs(instance, tmp_path):
    import json

    nb = {"cells": [{"cell_type": "code", "source": ["import lamin_core as ln\n"], "outputs": [], "execution_count": None,
                     "metadata": {}}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "analysis.ipynb"
    path.write_text(json.dumps(nb))
    run1 = ln.track(path=path)
    ln.finish()
    nb["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}]
    nb["cells"][0]["execution_count"] = 7
    path.write_text(json.dumps(nb))
    run2 = ln.track(path=path)
    ln.finish()
    assert run1.transform.kind == "notebook" and run1.transform.key == "analysis.ipynb"
    assert run2.transform.uid == run1.transform.uid  # executing a notebook is not a new version
    assert '"hi\\n"' in ln.Run.get(run2.id).report.cache().read_text()  # the report keeps the outputs


FLOWS_KILLED = """
import threading, time
import lamin_core as ln

started = threading.Event()

@ln.flow()
def background() -> None:
    started.set()  # its START is recorded before its body runs
    time.sleep(60)

@ln.flow()
def foreground() -> None:
    print("ready", flush=True)
    time.sleep(60)

threading.Thread(target=background, daemon=True).start()
started.wait(60)
foreground()
"""


def test_flows_of_a_terminated_process_are_aborted(instance, tmp_path):
    script = write(tmp_path / "flows_killed.py", FLOWS_KILLED)
    proc = subprocess.Popen([PY, str(script)], env=instance.env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    runs = {r.transform.key.rsplit(".", 1)[-1]: r for r in ln.Run.filter(transform__key__startswith="flows_killed.")}
    assert set(runs) == {"background", "foreground"}
    assert all(r.status == "aborted" and r.finished_at is not None for r in runs.values())


def test_a_run_of_another_instance_is_never_closed_in_the_connected_one(instance, tmp_path):
    from lamin_core.setup import init

    first = ln.track(transform=ln.Transform(key="first.py", kind="script"))
    init(storage=str(tmp_path / "second-storage"), name="second")  # connects to a new instance
    victim_transform = ln.Transform(key="victim", kind="pipeline").save()
    victim = ln.Run(victim_transform).save()
    assert victim.id == first.id  # the same row id in the other database
    ln.finish()
    assert ln.Run.get(victim.id).status == "started"  # untouched



ARRAY_TASK = """
import pathlib, sys, time
import lamin_core as ln
from lamin_core.db import engine as db

db.engine()  # connected, imports done: now wait for the others
barrier = pathlib.Path(sys.argv[1])
(barrier / f"ready-{sys.argv[2]}").touch()
while not (barrier / "go").exists():
    time.sleep(0.002)
ln.track(params={"task": int(sys.argv[2])})
ln.finish()
"""


def test_a_job_array_tracking_one_new_script_at_once(instance, tmp_path):
    script = write(tmp_path / "array_task.py", ARRAY_TASK)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [subprocess.Popen([PY, str(script), str(barrier), str(i)], env=instance.env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(3)]
    deadline = time.monotonic() + 120
    while len(list(barrier.glob("ready-*"))) < 3 and time.monotonic() < deadline:
        assert all(p.poll() is None for p in procs), "a task died before the start"
        time.sleep(0.01)
    (barrier / "go").touch()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    transforms = ln.Transform.filter(key="array_task.py")
    assert len(transforms) == 1  # one Transform however many tasks created it at once
    runs = list(ln.Run.filter(transform_id=transforms[0].id))
    assert sorted(r.params["task"] for r in runs) == [0, 1, 2] and {r.status for r in runs} == {"completed"}
    assert len({r.environment_id for r in runs}) == 1
    assert len(ln.Artifact.filter(kind="environment")) == 1
