"""`ln.track()` without SQLAlchemy: a tracked script writes plain rows (`db.dbapi`), and they are the rows
the ORM would have written."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

import lamin_core as ln
from lamin_core.db import engine as db

SCRIPT = """
import sys
import lamin_core as ln

if sys.argv[1:] == ["orm"]:
    ln.Transform.filter().count()  # SQLAlchemy started first: track() runs in the ORM's transaction
run = ln.track(params={"n": 3, "api_key": "s3cr3t"})
ln.finish()
print(run.uid, "sqlalchemy" in sys.modules)
"""


def run_script(instance, path: Path, *args: str) -> list[str]:
    result = subprocess.run([sys.executable, str(path), *args], env=instance.env, cwd=path.parent,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def row_of(model, uid: str) -> dict:
    with db.read() as s:
        obj = s.execute(select(model).where(model.uid == uid)).scalar_one()
        s.refresh(obj)
        return {c.key: getattr(obj, c.key) for c in inspect(model).column_attrs}


def test_a_tracked_script_never_imports_sqlalchemy_and_writes_what_the_orm_path_writes(instance, tmp_path):
    script = tmp_path / "analysis.py"
    script.write_text(textwrap.dedent(SCRIPT))

    plain_uid, plain_loaded = run_script(instance, script)
    orm_uid, orm_loaded = run_script(instance, script, "orm")
    assert plain_loaded == "False", "a script that only tracks itself imported SQLAlchemy"
    assert orm_loaded == "True"

    plain, orm = row_of(ln.Run, plain_uid), row_of(ln.Run, orm_uid)
    differ = {"id", "uid", "reference", "created_at", "started_at", "finished_at", "facets"}
    assert {k: v for k, v in plain.items() if k not in differ} == {k: v for k, v in orm.items() if k not in differ}
    assert plain["reference"] == plain_uid and plain["reference_type"] == "lamin_run"
    assert plain["status"] == "completed" and plain["params"] == {"n": 3, "api_key": "***"}
    assert plain["started_at"] <= plain["finished_at"]
    assert plain["created_by_id"] is not None and plain["branch_id"] == 1
    assert set(plain["facets"]) == set(orm["facets"]) >= {"python", "platform", "executable", "pid", "cwd", "argv"}

    run = ln.Run.get(uid=plain_uid)
    assert run.transform.key == "analysis.py" and run.transform.source_code == script.read_text()
    assert run.transform.is_latest and run.transform.uid.endswith("0000")
    env = run.environment
    assert env.kind == "environment" and env.storage.root == db.settings().storage_root
    assert "sqlalchemy==" in env.cache().read_text().lower()
    assert ln.Run.get(uid=orm_uid).environment_id == env.id  # one environment artifact, whichever path wrote it


def test_plain_rows_fill_every_column_the_orm_fills_by_default(instance, tmp_path, monkeypatch):
    """A column given a Python default in the models (or NOT NULL) must be written by the plain-row inserts
    too: a new column added to a model and forgotten there fails here, not silently in users' databases."""
    from lamin_core.db import dbapi

    written: dict[str, set[str]] = {}
    real_insert = dbapi.Rows.insert

    def recording_insert(self, table, values):
        written.setdefault(table, set()).update(values)
        return real_insert(self, table, values)

    monkeypatch.setattr(dbapi.Rows, "insert", recording_insert)
    script = tmp_path / "fresh.py"
    script.write_text("print('hello')\n")
    ln.track(path=script)
    ln.finish()
    assert {"transforms", "artifacts", "runs"} <= set(written)
    for model in (ln.Transform, ln.Artifact, ln.Run):
        table = model.__table__
        needed = {c.key for c in table.columns if c.key != "id" and (c.default is not None or not c.nullable)}
        assert needed <= written[table.name], f"{table.name}: plain rows leave out {needed - written[table.name]}"
        assert written[table.name] <= {c.key for c in table.columns}


def test_values_read_back_through_the_orm(instance, tmp_path):
    script = tmp_path / "values.py"
    script.write_text("x = 1\n")
    handle = ln.track(path=script, params={"alpha": 0.5, "labels": ["a", "b"], "nested": {"k": [1, 2]}})
    assert handle.status == "started" and handle.uid and handle.id
    loaded = ln.Run.get(uid=handle.uid)  # an ORM copy, loaded while the run is open
    run = ln.finish()
    assert run.status == "completed" and run.finished_at is not None
    assert loaded.status == "completed"  # the loaded copy reads the closed row
    stored = ln.Run.get(uid=handle.uid)
    assert stored.params == {"alpha": 0.5, "labels": ["a", "b"], "nested": {"k": [1, 2]}}
    assert abs((stored.started_at.replace(tzinfo=None) - handle.started_at.replace(tzinfo=None)).total_seconds()) < 1e-3
    assert stored.transform.is_latest is True and stored.environment.managed is True
    assert handle == stored and stored == handle  # the handle stands for its Run
    assert handle.transform.key == "values.py"  # anything else loads the ORM Run


def test_new_source_is_a_new_version_and_a_revert_finds_the_old_one(instance, tmp_path):
    script = tmp_path / "versions.py"
    uids = []
    for source in ("a = 1\n", "a = 2\n", "a = 1\n"):
        script.write_text(source)
        ln.track(path=script)
        uids.append(ln.finish().transform.uid)
    assert uids[0][:-4] == uids[1][:-4] and uids[1][-4:] == "0001"
    assert uids[2] == uids[0]  # the same source again: the old version, not a third one
    latest = ln.Transform.filter(key="versions.py", is_latest=True).one()
    assert latest.uid == uids[1]


def test_artifacts_saved_after_track_are_the_runs_outputs(instance, tmp_path):
    script = tmp_path / "outputs.py"
    script.write_text("y = 2\n")
    handle = ln.track(path=script)
    data = tmp_path / "out.txt"
    data.write_text("result")
    artifact = ln.Artifact(data, key="out.txt").save()
    ln.finish()
    assert artifact.run_id == handle.id
    assert [a.key for a in ln.Run.get(uid=handle.uid).output_artifacts] == ["out.txt"]


def test_the_platform_facet_is_what_platform_reports():
    import platform

    from lamin_core.tracking.environment import platform_string, python_version

    assert platform_string() == platform.platform(terse=True)
    assert python_version() == platform.python_version()


@pytest.mark.parametrize("flavour", ["uid", "stem", "key"])
def test_track_names_a_saved_transform(instance, flavour):
    t = ln.Transform(key="pipeline-x", kind="pipeline").save()
    name = {"uid": t.uid, "stem": t.uid[:12], "key": "pipeline-x"}[flavour]
    run = ln.track(transform=name)
    ln.finish()
    assert run.transform_id == t.id
    with pytest.raises(ValueError, match="no transform with uid or key 'nope'"):
        ln.track(transform="nope")


FLOWS = """
import sys
import lamin_core as ln

@ln.step()
def double(x):
    return 2 * x

@ln.flow()
def pipeline(n):
    return sum(double(i) for i in range(n))

run = ln.track()
total = pipeline(3)
ln.finish()
print(run.uid, total, "sqlalchemy" in sys.modules)
"""


def test_flows_and_steps_of_a_tracked_script_record_without_sqlalchemy(instance, tmp_path):
    script = tmp_path / "flows.py"
    script.write_text(textwrap.dedent(FLOWS))
    uid, total, loaded = run_script(instance, script)
    assert total == "6" and loaded == "False"
    tracked = ln.Run.get(uid=uid)
    (flow,) = tracked.child_runs
    assert flow.transform.key == "flows.pipeline" and flow.status == "completed" and flow.params == {"n": 3}
    steps = flow.child_runs
    assert [s.params for s in steps] == [{"x": 0}, {"x": 1}, {"x": 2}]
    assert {s.status for s in steps} == {"completed"} and {s.transform.key for s in steps} == {"flows.double"}
