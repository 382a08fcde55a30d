"""`lamin save` of agent plans (found again by `ln.track(plan=KEY)`) and of data files (`--key`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lamin_core as ln
from lamin_core.models import MAIN_BRANCH_ID

LAMIN = str(Path(sys.executable).parent / "lamin")


def lamin(instance, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([LAMIN, *args], env=instance.env, capture_output=True, text=True, timeout=120, cwd=cwd)
    ln.connect(instance.name)  # this process follows a `lamin switch` made in another one
    return result


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def agent_plan(root: Path, text: str = "# Plan\n1. clean\n2. train\n") -> Path:
    """An agent's plan inside a git project, where it writes them: `.cursor/plans/`."""
    (root / ".git").mkdir(parents=True, exist_ok=True)
    plan = root / ".cursor" / "plans" / "my-agent-plan.md"
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text(text)
    return plan


TRACKED = """
import lamin_core as ln
run = ln.track(plan=".plans/my-agent-plan.md")
ln.finish()
print(run.uid)
"""


def run_tracked_script(instance, folder: Path) -> "ln.Run":
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "analysis.py"
    script.write_text(textwrap.dedent(TRACKED))
    result = subprocess.run([sys.executable, str(script)], env=instance.env, cwd=folder, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return ln.Run.get(uid=result.stdout.strip().splitlines()[-1])


def test_saved_plan_is_found_by_its_key_when_tracking(instance, tmp_path):
    plan = agent_plan(tmp_path / "project")
    out = ok(lamin(instance, "save", str(plan)))
    assert "saved plan '.plans/my-agent-plan.md'" in out
    artifact = ln.Artifact.get(key=".plans/my-agent-plan.md")
    assert artifact.kind == "plan" and artifact.branch_id == MAIN_BRANCH_ID
    assert artifact.cache().read_text() == plan.read_text()

    # a script elsewhere (no plan file beside it) names the plan by its key
    run = run_tracked_script(instance, tmp_path / "elsewhere")
    assert run.plan_id == artifact.id
    assert ln.Artifact.filter(kind="plan").count() == 1  # linked, not saved again


def test_plan_saved_on_a_contribution_branch(instance, tmp_path):
    ok(lamin(instance, "switch", "-c", "agent_work"))
    plan = agent_plan(tmp_path / "project")
    assert "on branch 'agent_work'" in ok(lamin(instance, "save", str(plan)))
    branch = ln.Branch.get(name="agent_work")
    artifact = ln.Artifact.get(key=".plans/my-agent-plan.md")
    assert artifact.branch_id == branch.id

    run = run_tracked_script(instance, tmp_path / "elsewhere")  # the script runs on the branch too
    assert run.plan_id == artifact.id and run.branch_id == branch.id

    ok(lamin(instance, "switch", "main"))
    assert ln.Artifact.filter(key=".plans/my-agent-plan.md").count() == 0  # main sees it after the merge
    ok(lamin(instance, "merge", "agent_work"))
    assert ln.Artifact.get(key=".plans/my-agent-plan.md").branch_id == MAIN_BRANCH_ID


def test_changed_plan_is_a_new_version_and_tracking_takes_the_latest(instance, tmp_path):
    plan = agent_plan(tmp_path / "project")
    ok(lamin(instance, "save", str(plan)))
    plan.write_text("# Plan\n1. clean\n2. train\n3. evaluate\n")
    ok(lamin(instance, "save", str(plan)))
    versions = list(ln.Artifact.filter(key=".plans/my-agent-plan.md").order_by("id"))
    assert len(versions) == 2 and versions[1].is_latest and not versions[0].is_latest
    assert run_tracked_script(instance, tmp_path / "elsewhere").plan_id == versions[1].id


def test_kind_plan_for_a_file_outside_a_plans_folder(instance, tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text("todo\n")
    ok(lamin(instance, "save", str(notes), "--kind", "plan"))
    assert ln.Artifact.get(key=".plans/notes.md").kind == "plan"
    notes.write_text("todo\ndone\n")  # (the same content would be the same artifact, at its first key)
    ok(lamin(instance, "save", str(notes), "--kind", "plan", "--key", "plans/2024/notes.md"))
    assert ln.Artifact.get(key="plans/2024/notes.md").kind == "plan"


def test_save_a_data_file_at_a_key(instance, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    out = ok(lamin(instance, "save", str(data), "--key", "raw/data.csv", "--description", "raw counts"))
    artifact = ln.Artifact.get(key="raw/data.csv")
    assert f"saved artifact 'raw/data.csv' as {artifact.uid}" in out
    assert artifact.kind is None and artifact.suffix == ".csv" and artifact.description == "raw counts"
    assert artifact.load().to_dict("list") == {"a": [1], "b": [2]}
    ok(lamin(instance, "save", str(data), "--key", "raw/data.csv"))  # the same content: the same artifact
    assert ln.Artifact.filter(key="raw/data.csv").count() == 1

    # a Markdown file outside a plans folder is data like any other
    readme = tmp_path / "README.md"
    readme.write_text("# About\n")
    ok(lamin(instance, "save", str(readme), "--key", "docs/README.md"))
    assert ln.Artifact.get(key="docs/README.md").kind is None


def test_save_errors_are_one_clear_line(instance, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    assert "contains '..'" in one_line_error(lamin(instance, "save", str(data), "--key", "../x"))
    assert "absolute path" in one_line_error(lamin(instance, "save", str(data), "--key", "/etc/x"))
    assert "pass --key KEY" in one_line_error(lamin(instance, "save", str(data)))
    assert "no file or folder" in one_line_error(lamin(instance, "save", str(tmp_path / "missing.csv"), "--key", "m.csv"))
    assert ln.Artifact.filter().count() == 0  # nothing was saved on the way to an error


def test_track_with_a_plan_key_that_was_never_saved(instance, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="no saved plan with key '.plans/nope.md'.*lamin save"):
        ln.track(transform=ln.Transform(key="my_pipeline"), plan=".plans/nope.md")
    assert ln.Run.filter().count() == 0
