"""Contribution branches as the tutorial uses them: `lamin switch -c`, save labels and records in Python,
`lamin switch main`, `lamin merge`; the branch is then marked merged and takes no more work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lamin_core as ln
from lamin_core.models import MAIN_BRANCH_ID

LAMIN = str(Path(sys.executable).parent / "lamin")


def lamin(instance, *args: str) -> subprocess.CompletedProcess:
    """The CLI in its own process; then this process re-reads the instance's settings (its branch)."""
    result = subprocess.run([LAMIN, *args], env=instance.env, capture_output=True, text=True, timeout=120)
    ln.connect(instance.name)
    return result


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr  # no traceback
    return lines[0]


def test_labels_and_records_made_on_a_branch_are_merged_into_main(instance):
    on_main = ln.ULabel(name="On main").save()
    assert "switched to branch 'my_branch'" in ok(lamin(instance, "switch", "-c", "my_branch"))

    label = ln.ULabel(name="My experiment", description="made on a branch").save()
    record_type = ln.Record(name="Sample", is_type=True).save()
    record = ln.Record(name="sample_1", type=record_type).save()
    branch = ln.Branch.get(name="my_branch")
    assert branch.status == "standing"
    assert {label.branch_id, record_type.branch_id, record.branch_id} == {branch.id}
    # on the branch: its records and main's
    assert sorted(u.name for u in ln.ULabel.filter()) == ["My experiment", "On main"]
    assert ln.Record.filter(name="sample_1").count() == 1

    ok(lamin(instance, "switch", "main"))
    assert [u.name for u in ln.ULabel.filter()] == ["On main"]  # main does not see the branch's work
    assert ln.Record.filter().count() == 0
    assert ln.ULabel.filter(branch__name="my_branch").count() == 1  # unless it asks for the branch

    out = ok(lamin(instance, "merge", "my_branch"))
    assert "merged 3 records from branch 'my_branch' into main" in out
    assert sorted(u.name for u in ln.ULabel.filter()) == ["My experiment", "On main"]
    assert ln.ULabel.get(name="My experiment").branch_id == MAIN_BRANCH_ID
    merged_record = ln.Record.get(name="sample_1")
    assert merged_record.branch_id == MAIN_BRANCH_ID and merged_record.type.name == "Sample"
    assert ln.Branch.get(name="my_branch").status == "merged"
    assert on_main.id == ln.ULabel.get(name="On main").id  # main's own records are untouched


def test_a_merged_branch_cannot_be_merged_or_switched_to_again(instance):
    ok(lamin(instance, "switch", "-c", "feature_x"))
    ln.ULabel(name="x").save()
    ok(lamin(instance, "switch", "main"))
    ok(lamin(instance, "merge", "feature_x"))

    assert "already merged" in one_line_error(lamin(instance, "merge", "feature_x"))
    for args in (("switch", "feature_x"), ("switch", "-c", "feature_x")):
        err = one_line_error(lamin(instance, *args))
        assert "was merged into main" in err and "lamin switch -c" in err
    assert ln.setup.info()["branch"] == "main"  # the failed switches changed nothing
    assert "not a contribution branch" in one_line_error(lamin(instance, "merge", "main"))
    assert "no branch named 'nope'" in one_line_error(lamin(instance, "merge", "nope"))
    assert "cannot be worked on" in one_line_error(lamin(instance, "switch", "trash"))
    # a new branch takes the work from here
    ok(lamin(instance, "switch", "-c", "feature_y"))
    assert ln.ULabel(name="y").save().branch_id == ln.Branch.get(name="feature_y").id


def test_merging_the_current_branch_continues_on_main(instance):
    ok(lamin(instance, "switch", "-c", "solo"))
    ln.Record(name="r1").save()
    ok(lamin(instance, "merge", "solo"))  # merged while on it
    assert ln.setup.info()["branch"] == "main"
    assert ln.Record(name="r2").save().branch_id == MAIN_BRANCH_ID
    assert sorted(r.name for r in ln.Record.filter()) == ["r1", "r2"]
