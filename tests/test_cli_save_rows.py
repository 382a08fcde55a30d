"""`lamin save FILE --key` and `lamin save plan.md` without SQLAlchemy: the rows they write are the rows
`ln.Artifact(path, key=...).save()` writes (both run artifacts/batch.py; the CLI on plain rows)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect, select

import lamin_core as ln
from lamin_core.db import engine as db

LAMIN = str(Path(sys.executable).parent / "lamin")
# ordinary dates, ids and names: what differs between any two saves
DIFFER = {"id", "uid", "key", "hash", "created_at", "updated_at"}

# the CLI's own entry point, in a process that reports whether it imported SQLAlchemy
CLI = """
import sys
from lamin_core.cli.main import main

sys.argv = ["lamin", *sys.argv[1:]]
code = main()
print("SQLALCHEMY", "sqlalchemy" in sys.modules)
sys.exit(code)
"""


def cli(instance, *args: str, cwd: Path | None = None) -> str:
    result = subprocess.run([sys.executable, "-c", CLI, *args], env=instance.env, capture_output=True, text=True,
                            timeout=120, cwd=cwd)
    assert result.returncode == 0, result.stderr
    ln.connect(instance.name)
    assert "SQLALCHEMY False" in result.stdout, f"`lamin save {' '.join(args)}` imported SQLAlchemy"
    return result.stdout


def row(key: str, **filters) -> dict:
    with db.read() as s:
        found = s.execute(select(ln.Artifact).filter_by(key=key, **filters)).scalars().one()
        s.refresh(found)
        return {c.key: getattr(found, c.key) for c in inspect(ln.Artifact).column_attrs}


def same_columns(plain: dict, orm: dict) -> None:
    assert {k: v for k, v in plain.items() if k not in DIFFER} == {k: v for k, v in orm.items() if k not in DIFFER}
    assert plain["created_at"] <= plain["updated_at"] and plain["hash"] and plain["uid"] != orm["uid"]


def test_a_file_saved_by_the_cli_is_the_row_the_orm_saves(instance, tmp_path):
    (tmp_path / "a.csv").write_text("a,b\n1,2\n")
    (tmp_path / "b.csv").write_text("a,b\n3,4\n")  # the same size, other content
    out = cli(instance, "save", str(tmp_path / "a.csv"), "--key", "cli/data.csv", "--description", "counts")
    orm = ln.Artifact(tmp_path / "b.csv", key="orm/data.csv", description="counts").save()
    assert f"saved artifact 'cli/data.csv' as {row('cli/data.csv')['uid']}" in out and "(new)" in out
    same_columns(row("cli/data.csv"), row("orm/data.csv"))
    assert orm.suffix == ".csv" and orm.uid.endswith("0000")

    # new content at each key: the next version of each, the old one no longer latest
    (tmp_path / "a.csv").write_text("a,b\n5,6\n")
    (tmp_path / "b.csv").write_text("a,b\n7,8\n")
    assert "(new version)" in cli(instance, "save", str(tmp_path / "a.csv"), "--key", "cli/data.csv", "--description", "counts")
    ln.Artifact(tmp_path / "b.csv", key="orm/data.csv", description="counts").save()
    plain_v2, orm_v2 = row("cli/data.csv", is_latest=True), row("orm/data.csv", is_latest=True)
    same_columns(plain_v2, orm_v2)
    assert plain_v2["uid"].endswith("0001") and orm_v2["uid"].endswith("0001")
    same_columns(row("cli/data.csv", is_latest=False), row("orm/data.csv", is_latest=False))

    # the same content again: the stored artifact, nothing written
    before = ln.Artifact.filter().count()
    out = cli(instance, "save", str(tmp_path / "a.csv"), "--key", "cli/data.csv")
    assert f"as {plain_v2['uid']}" in out and "unchanged" in out
    assert ln.Artifact.filter().count() == before


def test_a_folder_and_a_plan_saved_by_the_cli_are_the_rows_the_orm_saves(instance, tmp_path):
    for name, text in (("cli", "1"), ("orm", "2")):
        folder = tmp_path / name / "images"
        folder.mkdir(parents=True)
        (folder / "x.txt").write_text(text)
        (folder / "y.txt").write_text("y")
    cli(instance, "save", str(tmp_path / "cli" / "images"), "--key", "cli/images")
    ln.Artifact(tmp_path / "orm" / "images", key="orm/images").save()
    same_columns(row("cli/images"), row("orm/images"))
    assert row("cli/images")["n_files"] == 2

    plans = tmp_path / ".cursor" / "plans"
    plans.mkdir(parents=True)
    (plans / "cli.md").write_text("# Plan 1\n")
    (plans / "orm.md").write_text("# Plan 2\n")
    cli(instance, "save", str(plans / "cli.md"))
    ln.Artifact(plans / "orm.md", key=".plans/orm.md", kind="plan", description="plan").save()
    same_columns(row(".plans/cli.md"), row(".plans/orm.md"))
    assert row(".plans/cli.md")["kind"] == "plan"


def test_the_cli_restores_trashed_content_and_a_bad_key_writes_nothing(instance, tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("keep me")
    trashed = ln.Artifact(data, key="t/data.txt").save()
    trashed.delete()
    assert ln.Artifact.filter(key="t/data.txt").count() == 0
    out = cli(instance, "save", str(data), "--key", "t/other.txt")
    assert f"as {trashed.uid}" in out  # the same content is the same artifact, back from the trash
    assert ln.Artifact.get(key="t/data.txt").uid == trashed.uid

    result = subprocess.run([LAMIN, "save", str(tmp_path / "data.txt"), "--key", ".lamindb/x.txt"],
                            env=instance.env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert ln.Artifact.filter().count() == 1


def test_the_plain_rows_agree_with_the_models():
    """batch.py writes rows without the models: its column list, defaults and branch ids are theirs."""
    from lamin_core.artifacts import batch
    from lamin_core.models import MAIN_BRANCH_ID, TRASH_BRANCH_ID

    assert (batch.MAIN_BRANCH_ID, batch.TRASH_BRANCH_ID) == (MAIN_BRANCH_ID, TRASH_BRANCH_ID)
    table = ln.Artifact.__table__
    record_defaults = {"created_at", "created_by_id", "branch_id", "updated_at"}
    assert set(batch.COLUMN_DEFAULTS) == {c.key for c in table.columns} - {"id"} - record_defaults
    for name, default in batch.COLUMN_DEFAULTS.items():
        declared = table.c[name].default
        if name == "uid":
            continue  # every new artifact has one before it is saved (a version family's)
        assert (declared.arg if declared is not None else None) == default, name




def test_the_cli_uploads_into_s3_storage(s3, tmp_path, monkeypatch):
    """A remote default storage takes the same route: storing.py uploads through fsspec."""
    import os

    import boto3

    bucket = s3.make_bucket()
    monkeypatch.setenv("LAMIN_HOME", str(tmp_path / "home"))
    (tmp_path / "data.csv").write_text("a\n1\n")
    steps = [[LAMIN, "init", "--storage", f"s3://{bucket}/lamin", "--name", "s3cli"],
             [sys.executable, "-c", CLI, "save", str(tmp_path / "data.csv"), "--key", "raw/data.csv"]]
    outputs = [subprocess.run(step, env=dict(os.environ), capture_output=True, text=True, timeout=120) for step in steps]
    assert all(out.returncode == 0 for out in outputs), [out.stderr for out in outputs]
    assert "SQLALCHEMY False" in outputs[-1].stdout
    ln.connect("s3cli")
    try:
        uid = ln.Artifact.get(key="raw/data.csv").uid
        listed = boto3.client("s3", endpoint_url=s3.endpoint).list_objects_v2(Bucket=bucket)["Contents"]
        assert f"lamin/.lamindb/{uid}.csv" in {o["Key"] for o in listed}
        assert ln.Artifact.get(uid=uid).cache().read_text() == "a\n1\n"
    finally:
        db.configure(None)
