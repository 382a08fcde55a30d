"""`db/libpq.py`: PostgreSQL on libpq through ctypes reads and writes what psycopg does, and a fresh process
that only tracks itself imports neither SQLAlchemy nor psycopg."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

import lamin_core as ln
from lamin_core.db import dbapi, libpq



def test_libpq_is_found_here():
    # the system's libpq.so.5, or psycopg-binary's own copy: wherever the tests run there is one, and a
    # missing one must fail here rather than quietly leave these paths on psycopg
    assert libpq.load() is not None


def both(url: str) -> tuple[libpq.Connection, psycopg.Connection]:
    return libpq.connect(url), psycopg.connect(url)


def fill_registries(tmp_path) -> None:
    """A little of everything the tutorial writes: a run, artifacts, a feature, labels, a schema."""
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    transform = ln.Transform(key="fill.py", kind="script").save()
    run = ln.Run(transform, params={"n": 1, "nested": {"x": [1.5, None]}}).save()
    ln.Artifact(data, key="d/data.csv", description="with 'quotes', %, and ünïcode\nnewline", run=run).save()
    data.write_text("a,b\n1,3\n")
    ln.Artifact(data, key="d/data.csv").save()
    ln.Feature(name="temperature", dtype=float).save()
    ln.ULabel(name="My experiment").save()
    ln.Schema([ln.Feature.get(name="temperature")], name="a schema").save()


def test_every_column_of_every_table_reads_as_psycopg_reads_it(pg_instance, tmp_path):
    fill_registries(tmp_path)
    ours, theirs = both(pg_instance.db_url)
    schema = ours.cursor().execute("SELECT current_schema()").fetchone()[0]
    tables = [t for (t,) in theirs.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", (schema,)).fetchall()]
    assert len(tables) > 20
    compared = 0
    for table in tables:
        sql = f'SELECT * FROM "{table}" ORDER BY 1'
        mine, psycopgs = ours.cursor().execute(sql).fetchall(), theirs.execute(sql).fetchall()
        assert mine == psycopgs, table
        compared += sum(v is not None for row in mine for v in row)
    assert compared > 100
    # and every column type of the schema has a reader, filled or not
    oids = {oid for (oid,) in theirs.execute(
        "SELECT DISTINCT a.atttypid::int FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r' AND a.attnum > 0",
        (schema,)).fetchall()}
    assert oids <= set(libpq.VALUE_TYPES), oids - set(libpq.VALUE_TYPES)
    ours.close(), theirs.close()


VALUES = {
    "flag": True, "big": 2**62 + 1, "neg": -7, "real": 0.1 + 0.2, "tiny": 5e-324, "text": "it's 100% \"ünïcode\"\n\t\\x",
    "empty": "", "aware": datetime(2026, 12, 4, 19, 1, 2, 345678, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    "naive": datetime(2026, 1, 2, 3, 4, 5), "doc": '{"k": [1, 2.5, null, "v"]}', "nothing": None,
}
COLUMNS = ("flag boolean, big bigint, neg integer, real double precision, tiny double precision, text text, empty varchar(10),"
           " aware timestamptz, naive timestamp, doc jsonb, nothing text")


def test_parameters_go_in_as_psycopg_sends_them_and_come_back_equal(pg_instance):
    ours, theirs = both(pg_instance.db_url)
    theirs.execute(f"CREATE TABLE roundtrip (id serial PRIMARY KEY, {COLUMNS})")
    theirs.commit()
    names = ", ".join(VALUES)
    marks = ", ".join(f"%({n})s" for n in VALUES)
    ours.cursor().execute(f"INSERT INTO roundtrip ({names}) VALUES ({marks})", VALUES)
    theirs.execute(f"INSERT INTO roundtrip ({names}) VALUES ({marks})", VALUES)
    ours.commit(), theirs.commit()
    sql = f"SELECT {names} FROM roundtrip ORDER BY id"
    mine, psycopgs = ours.cursor().execute(sql).fetchall(), theirs.execute(sql).fetchall()
    assert mine == psycopgs
    assert mine[0] == mine[1]
    assert mine[0][list(VALUES).index("doc")] == {"k": [1, 2.5, None, "v"]}
    assert mine[0][list(VALUES).index("aware")] == VALUES["aware"]
    # positional placeholders, a repeated name, and a literal percent sign
    row = ours.cursor().execute("SELECT %(a)s::int + %(a)s::int, '50%%'", {"a": 21}).fetchone()
    assert row == (42, "50%")
    assert ours.cursor().execute("SELECT %s::text || %s::text", ("a", "b")).fetchone() == ("ab",)
    ours.close(), theirs.close()


def test_errors_are_classified_as_psycopg_and_sqlalchemy_classify_them(pg_instance):
    from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError

    from lamin_core.db.upsert import is_retryable

    conn = libpq.connect(pg_instance.db_url)
    rows = dbapi.Rows(conn, "postgresql")
    rows.execute("CREATE TABLE uniq (id serial PRIMARY KEY, u text UNIQUE)")
    rows.execute("INSERT INTO uniq (u) VALUES (:u)", {"u": "a"})
    with pytest.raises(IntegrityError) as raised:
        rows.execute("INSERT INTO uniq (u) VALUES (:u)", {"u": "a"})
    assert type(raised.value.orig) is libpq.UniqueViolation and raised.value.orig.sqlstate == "23505"
    assert "Key (u)=(a) already exists" in str(raised.value.orig)
    assert is_retryable(raised.value)
    conn.rollback()
    with pytest.raises(ProgrammingError, match="syntax error"):
        rows.execute("SELEC 1")
    conn.rollback()
    with pytest.raises(DataError, match="NUL"):
        rows.execute("SELECT :t", {"t": "a\x00b"})
    conn.close()


def test_a_transaction_commits_or_rolls_back_as_a_whole(pg_instance):
    ours, theirs = both(pg_instance.db_url)
    theirs.execute("CREATE TABLE tx (v int)")
    theirs.commit()
    ours.cursor().execute("INSERT INTO tx VALUES (1)")
    assert theirs.execute("SELECT count(*) FROM tx").fetchone() == (0,)  # not yet committed
    theirs.rollback()
    ours.rollback()
    ours.cursor().execute("INSERT INTO tx VALUES (2)")
    with pytest.raises(libpq.DataError):
        ours.cursor().execute("SELECT 1/0")
    with pytest.raises(libpq.InternalError, match="aborted"):  # as on any connection: nothing more until rollback
        ours.cursor().execute("SELECT 1")
    ours.rollback()
    ours.cursor().execute("INSERT INTO tx VALUES (3)")
    ours.commit()
    assert theirs.execute("SELECT v FROM tx").fetchall() == [(3,)]
    ours.close(), theirs.close()
    with pytest.raises(libpq.InterfaceError, match="closed"):
        ours.cursor().execute("SELECT 1")


def test_a_bad_address_fails_in_one_line():
    with pytest.raises(libpq.OperationalError, match="connection failed"):
        libpq.connect("postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2")


SCRIPT = """
import sys
import lamin_core as ln

run = ln.track()
ln.finish()
print(run.uid, "sqlalchemy" in sys.modules, "psycopg" in sys.modules)
"""


@pytest.mark.parametrize("driver", ["libpq", "psycopg"])
def test_a_tracked_script_on_postgresql_imports_neither_sqlalchemy_nor_psycopg(pg_instance, tmp_path, driver):
    script = tmp_path / "tracked.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**pg_instance.env, dbapi.PG_DRIVER_ENV: driver}
    result = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    uid, sqlalchemy_loaded, psycopg_loaded = result.stdout.split()
    assert sqlalchemy_loaded == "False"
    assert psycopg_loaded == str(driver == "psycopg")
    run = ln.Run.get(uid=uid)
    assert run.status == "completed" and run.transform.key == "tracked.py" and run.environment is not None


def test_psycopg_binarys_own_libpq_serves_where_the_system_has_none(pg_instance):
    code = textwrap.dedent(f"""
        from lamin_core.db import libpq
        libpq._LIBRARY_NAMES = ()  # as on a machine without the system's libpq
        conn = libpq.connect({pg_instance.db_url!r})
        print(conn.cursor().execute("SELECT %(x)s::int + 1", {{"x": 41}}).fetchone()[0], libpq.load()._name)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    answer, library = result.stdout.split()
    assert answer == "42" and "psycopg_binary.libs" in library
