"""`lamin save PATH` and `lamin load UID`: scripts, notebooks and plans in and out of an instance."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lamin_core as ln
from lamin_core.cli.main import main


def test_save_script_versions_by_source_and_load_it_back(instance, tmp_path, capsys):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    script = repo / "pipelines" / "prep.py"
    script.parent.mkdir()
    script.write_text("print('v1')\n")

    assert main(["save", str(script)]) == 0
    assert main(["save", str(script), "--description", "prepares data"]) == 0
    v1 = ln.Transform.get(key="pipelines/prep.py")
    assert v1.kind == "script" and v1.source_code == "print('v1')\n"
    script.write_text("print('v2')\n")
    assert main(["save", str(script)]) == 0
    out = capsys.readouterr().out
    assert "(new)" in out and "(unchanged)" in out and "(new version)" in out
    v2 = ln.Transform.get(key="pipelines/prep.py", is_latest=True)
    assert v2.uid[:-4] == v1.uid[:-4] and v2.uid != v1.uid

    into = tmp_path / "checkout"
    assert main(["load", f"https://lamin.ai/acme/data/transform/{v1.uid}", "--into", str(into)]) == 0
    assert (into / "prep.py").read_text() == "print('v1')\n"
    assert main(["load", v1.uid, "--into", str(into)]) == 0  # same content: nothing to do
    assert main(["load", v1.uid[:-4], "--into", str(into)]) == 1  # the stem means the latest (v2), which differs
    assert "exists and differs" in capsys.readouterr().err
    assert main(["load", v1.uid[:-4], "--into", str(tmp_path / "other")]) == 0
    assert (tmp_path / "other" / "prep.py").read_text() == "print('v2')\n"


def test_save_plan_and_errors(instance, tmp_path, capsys):
    plan = tmp_path / ".cursor" / "plans" / "agent-plan.md"
    plan.parent.mkdir(parents=True)
    plan.write_text("# Plan\n- step 1\n")
    assert main(["save", str(plan)]) == 0
    artifact = ln.Artifact.get(kind="plan")
    assert artifact.key == ".plans/agent-plan.md" and artifact.cache().read_text() == "# Plan\n- step 1\n"
    plan.write_text("# Plan\n- step 1\n- step 2\n")
    assert main(["save", str(plan)]) == 0
    assert len(ln.Artifact.filter(key=".plans/agent-plan.md")) == 2  # a new version of the plan

    (tmp_path / "data.bin").write_bytes(b"\0")
    capsys.readouterr()
    assert main(["save", str(tmp_path / "data.bin")]) == 1
    assert main(["save", str(tmp_path / "missing.py")]) == 1
    assert main(["save", str(plan), "--key", "../outside.md"]) == 1
    assert main(["load", "not a uid!"]) == 1
    assert main(["load", "zzzzzzzzzzzz"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 5 and all(line.startswith("error: ") for line in err)  # one clear line each, no traceback


def test_cli_in_a_subprocess(instance, tmp_path):
    script = tmp_path / "job.sh"
    script.write_text("echo hi\n")
    lamin = Path(sys.executable).parent / "lamin"
    result = subprocess.run([str(lamin), "save", str(script)], env=instance.env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "saved script 'job.sh'" in result.stdout
    assert ln.Transform.get(key="job.sh").source_code == "echo hi\n"
