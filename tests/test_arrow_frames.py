"""to_dataframe() through ADBC (Arrow columns) gives the very frame the DBAPI path gives on PostgreSQL:
the same columns, dtypes, index and values (NULLs, JSON, booleans, datetimes, include= paths, slices), and
it reads what the process and other processes committed. Where it can't (inside a write transaction) the
DBAPI path answers. SQLite never loads a second SQLite library (unsafe: lamin_core/query/arrow_frames.py);
its own path is tests/test_sqlite_frames.py's."""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading

import pandas as pd
import pytest
from test_query_data import build_graph, make_artifact

import lamin_core as ln
from lamin_core.db import engine as db
from lamin_core.query import arrow_frames
from lamin_core.query.frames import to_dataframe


def assert_same(qs, include=None) -> pd.DataFrame:
    """Both paths, column by column and dtype by dtype. On SQLite the default path: SQLite's text of the rows
    parsed by Arrow (tests/test_sqlite_frames.py), or the rows where it refuses."""
    rows = to_dataframe(qs, include=include, via="dbapi")
    if db.engine().dialect.name == "sqlite":
        fast = to_dataframe(qs, include=include)
    else:
        fast = to_dataframe(qs, include=include, via="arrow")
    assert_identical(fast, rows)
    return fast


def assert_identical(fast: pd.DataFrame, rows: pd.DataFrame) -> None:
    """The same columns, dtypes, index and values; object cells compared by type and repr (5 vs 5.0, None
    vs NaN)."""
    assert list(fast.columns) == list(rows.columns)
    assert fast.index.name == rows.index.name and fast.index.dtype == rows.index.dtype
    assert fast.index.tolist() == rows.index.tolist()
    for name in rows.columns:
        a, b = fast[name], rows[name]
        assert a.dtype == b.dtype, f"{name}: {a.dtype} != {b.dtype}"
        if isinstance(b.dtype, pd.DatetimeTZDtype):
            assert str(a.dt.tz) == str(b.dt.tz) == "UTC" and type(a.dt.tz) is type(b.dt.tz)
        pd.testing.assert_series_equal(a, b, check_exact=True)
        assert [(type(v), repr(v)) for v in a.tolist()] == [(type(v), repr(v)) for v in b.tolist()], name


@pytest.fixture
def g(instance, tmp_path):
    return build_graph(tmp_path)


def test_registries_with_nulls_json_booleans_datetimes(g, instance):
    t = g.t_py
    values = [5, 1.5, 0.30000000000000004, 123456789.12345679, "text", [1, 2], {"a": {"b": [1.25, None]}}, True, None, 10**15]
    for i, v in enumerate(values):
        run = ln.Run(t, name=f"r{i}", params=v).save()
        if i % 3 == 0:
            run.finished_at = dt.datetime(2024, 5, 17, 12, 30, 45, 123456, tzinfo=dt.timezone.utc)
            run.save()
    ln.ULabel(name="DMSO", description="a solvent").save()
    ln.ULabel(name="IFNG").save()
    for name, dtype, default in [("temperature", float, 21.5), ("count", int, 3), ("flag", bool, True), ("label", str, "x"),
                                 ("nothing", str, None)]:
        ln.Feature(name=name, dtype=dtype, default_value=default).save()
    for model in (ln.Artifact, ln.Run, ln.Transform, ln.ULabel, ln.Feature, ln.Storage, ln.User, ln.Collection,
                  ln.Record, ln.Schema, ln.Branch):
        assert_same(model.filter())
    features = assert_same(ln.Feature.filter())
    assert features["default_value"].tolist() == [21.5, 3, True, "x", None]
    runs = assert_same(ln.Run.filter(name__startswith="r"))
    assert runs["params"].tolist() == values  # decoded, exactly
    assert runs["finished_at"].isna().sum() == len(values) - 4 and str(runs["finished_at"].dtype) == "datetime64[ns, UTC]"
    # a column of numbers only, and of numbers with NULL
    assert_same(ln.Run.filter(name__in=["r0", "r9"]))
    assert_same(ln.Run.filter(name__in=["r1", "r2", "r8"]))
    assert_same(ln.Run.filter(name="r4"))
    arts = assert_same(ln.Artifact.filter())
    assert arts["is_latest"].dtype == bool and arts["n_files"].tolist() == [None] * 5  # all NULL: object None
    assert arts["run_id"].dtype == "float64"  # the unlinked artifact has none


def test_include_paths_slices_and_empty_frames(g):
    A = ln.Artifact
    include = ["run__transform__key", "run__started_at", "run__transform__is_latest", "storage__root", "created_by__handle",
               "run__params"]
    df = assert_same(A.filter(), include=include)
    assert df["run__transform__is_latest"].dtype == object and df["run__transform__is_latest"].isna().sum() == 1
    assert_same(A.filter(key__contains="/").order_by("-key")[1:3], include="run__transform__key")
    assert_same(A.filter(key__startswith="my").order_by("transform__key", "-key")[:1])
    assert_same(A.filter(description__isnull=False).order_by("created_at")[1:])
    assert_same(A.filter(key__in=["other/x.txt", "unlinked.txt", "nope"]))
    assert_same(A.filter(key="nope"))  # no rows: the same untyped frame
    assert_same(A.filter(key="nope"), include="run__started_at")
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    assert len(assert_same(A.filter(created_at__lt=soon, is_latest=True))) == 5
    assert_same(A.search("iris"))
    assert_same(ln.Run.filter(params__n=3))
    assert_same(A.filter(key__contains="_b%c*?["))


def test_feature_columns(instance, tmp_path):
    arts = [make_artifact(tmp_path, f"d/{i}.txt") for i in range(3)]
    ln.ULabel(name="DMSO").save()
    ln.Feature(name="temperature", dtype=float).save()
    ln.Feature(name="perturbation", dtype=ln.ULabel).save()
    arts[0].features.add_values({"temperature": 1.5, "perturbation": "DMSO"})
    df = assert_same(ln.Artifact.filter(key__startswith="d/"), include=["features", "run__transform__key"])
    assert df.loc[arts[0].id, "temperature"] == 1.5 and df["temperature"].isna().sum() == 2


def test_late_values_and_odd_datetimes(instance):
    """A value after 1,100 NULLs, numbers among objects in a JSON column, and (SQLite) datetimes that
    SQLAlchemy did not write."""
    from sqlalchemy import insert, text

    from lamin_core import ids
    from lamin_core.models import Run

    t = ln.Transform(key="p.py").save()
    now = dt.datetime.now(dt.timezone.utc)
    rows = [dict(uid=ids.base62(20), transform_id=t.id, status="completed", created_at=now, branch_id=1,
                 params=None, name=None) for _ in range(1100)]
    rows += [dict(uid=ids.base62(20), transform_id=t.id, status="completed", created_at=now, branch_id=1,
                  params=p, name="late") for p in ({"a": 1}, 7, 2.5)]
    with db.write() as s:
        s.execute(insert(Run.__table__), rows)
    df = assert_same(ln.Run.filter())
    assert df["params"].tolist()[-3:] == [{"a": 1}, 7, 2.5] and df["name"].tolist()[-1] == "late"
    if db.engine().dialect.name == "sqlite":
        with db.write() as s:  # an offset, no fraction, a date only
            s.execute(text("UPDATE runs SET started_at = '2024-01-01 12:00:00+02:00' WHERE id % 3 = 0"))
            s.execute(text("UPDATE runs SET finished_at = '2024-01-01 12:00:00' WHERE id % 3 = 1"))
            s.execute(text("UPDATE runs SET finished_at = '2024-01-02' WHERE id % 3 = 2"))
        df = assert_same(ln.Run.filter())
        assert df["started_at"].dropna().iloc[0] == pd.Timestamp("2024-01-01 10:00:00", tz="UTC")


def test_sqlite_frames_never_load_a_second_sqlite(sqlite_instance, tmp_path):
    build_graph(tmp_path)
    assert len(ln.Artifact.filter().to_dataframe()) == 5
    assert "adbc_driver_sqlite" not in sys.modules and not arrow_frames._state


def test_parameters_stay_parameters(g):
    evil = "x'; DROP TABLE artifacts; --"
    assert len(assert_same(ln.Artifact.filter(key=evil))) == 0
    assert len(assert_same(ln.Artifact.filter(key__startswith=evil))) == 0
    assert ln.Artifact.filter().count() == 5


@pytest.fixture
def pg_graph(pg_instance, tmp_path):
    return build_graph(tmp_path)


def test_reads_own_and_other_writes(pg_graph, pg_instance, tmp_path):
    import subprocess

    instance = pg_instance

    assert len(to_dataframe(ln.Artifact.filter(), via="arrow")) == 5  # the connection exists now
    make_artifact(tmp_path, "new/own.txt")
    assert "new/own.txt" in set(to_dataframe(ln.Artifact.filter(), via="arrow")["key"])
    code = ("import lamin_core as ln, pathlib, sys; p = pathlib.Path(sys.argv[1]); p.write_text('other');"
            " ln.Artifact(p, key='new/other.txt').save()")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "other.txt")], env=instance.env, check=True, timeout=120)
    assert "new/other.txt" in set(to_dataframe(ln.Artifact.filter(), via="arrow")["key"])
    # inside a write transaction only its own connection sees its rows: the DBAPI path answers
    with db.write():
        make_artifact(tmp_path, "new/uncommitted.txt")
        with pytest.raises(arrow_frames.Unsupported):
            to_dataframe(ln.Artifact.filter(), via="arrow")
        assert "new/uncommitted.txt" in set(ln.Artifact.filter().to_dataframe()["key"])


def test_search_path_of_the_instance_schema(pg_graph, pg_instance):
    assert len(to_dataframe(ln.Artifact.filter(), via="arrow")) == 5
    cursor = arrow_frames._state["cursor"]
    cursor.execute("SELECT current_schema()")
    schema = cursor.fetch_arrow_table().column(0)[0].as_py()
    assert schema != "public" and f"search_path%3D{schema}" in pg_instance.db_url


def test_connection_follows_configure_fork_and_failures(pg_graph, pg_instance, monkeypatch):
    to_dataframe(ln.Artifact.filter(), via="arrow")
    assert arrow_frames._state.get("url") == pg_instance.db_url
    settings = db.settings()
    db.configure(settings)  # pointed anew: the connection is closed
    assert "cursor" not in arrow_frames._state
    assert len(to_dataframe(ln.Artifact.filter(), via="arrow")) == 5

    pid = os.fork()
    if pid == 0:  # the child connects anew and leaves the parent's session alone
        code = 1
        try:
            code = 0 if len(to_dataframe(ln.Artifact.filter(), via="arrow")) == 5 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(to_dataframe(ln.Artifact.filter(), via="arrow")) == 5

    # a connection that died under us: this read answers the DBAPI way, the next one connects anew
    broken = arrow_frames._state["cursor"]
    broken.close()
    assert len(ln.Artifact.filter().to_dataframe()) == 5
    assert len(to_dataframe(ln.Artifact.filter(), via="arrow")) == 5

    # a thread that finds the connection busy reads the DBAPI way instead of waiting
    with arrow_frames._lock:
        with pytest.raises(arrow_frames.Unsupported):
            to_dataframe(ln.Artifact.filter(), via="arrow")
        assert len(ln.Artifact.filter().to_dataframe()) == 5

    # whatever fails on the Arrow path (a driver, a bug), the DBAPI path answers
    def fail(*args, **kwargs):
        raise RuntimeError("no")

    monkeypatch.setattr(arrow_frames, "_execute", fail)
    assert len(ln.Artifact.filter().to_dataframe()) == 5
    with pytest.raises(RuntimeError):
        to_dataframe(ln.Artifact.filter(), via="arrow")


def test_threads_read_at_once(g):
    results, errors = [], []

    def read():
        try:
            for _ in range(10):
                results.append(len(ln.Artifact.filter().to_dataframe()))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and results == [5] * 40


def test_import_stays_light():
    import subprocess

    code = "import sys, lamin_core; print(any(m.split('.')[0] in ('pyarrow', 'adbc_driver_manager') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
