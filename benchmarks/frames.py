"""A query set to a pandas DataFrame, beside the floors the drivers set: 10,000 and 7,979 rows x all columns.

    .venv/bin/python benchmarks/frames.py                         # SQLite and PostgreSQL
    .venv/bin/python benchmarks/frames.py --backend postgresql --repeat 100
    .venv/bin/python benchmarks/frames.py --lamindb-python /path/to/venv-with-lamindb/bin/python

Seeds --n artifacts (default 10,000; every column filled as a registry holds them: some descriptions,
hashes, kinds, runs) in a throwaway instance and times, as warm medians / p90 in ms:
  - `ln.Artifact.filter()[:rows].to_dataframe()`: the Arrow path: ADBC on PostgreSQL; on SQLite the rows as
    SQLite's own JSON text, parsed by Arrow's CSV reader (lamin_core/query/sqlite_frames.py: a second SQLite
    library in the process is unsafe, lamin_core/query/arrow_frames.py);
  - the same frame through the DBAPI path (`via="dbapi"`): the fallback, and how frames were read before;
  - the floors, on the very SQL and parameters these paths send: Python's `sqlite3` `fetchall()` (PostgreSQL:
    psycopg's `fetchall()`) alone; on SQLite the text path alone (the JSON rows fetched, parsed, to pandas:
    no conversions, no index); ADBC query -> Arrow table -> pandas alone (on SQLite in a process of its
    own, where adbc-driver-sqlite is installed).
LaminDB 2.x (--lamindb-python, or /tmp/ldb/bin/python when it exists): `ln.Artifact.filter().to_dataframe(
limit=None)` of --n artifacts in a SQLite instance of its own (LAMIN_SETTINGS_DIR in a temporary folder; no
network), artifacts inserted with Django's bulk_create. The issue's goal: 10,000 rows < 15 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from timing import throwaway_instance, warm_ms  # this folder is on sys.path when a benchmark runs as a script

PEER_PYTHON = "/tmp/ldb/bin/python"


def seed(n: int) -> None:
    from sqlalchemy import insert, select

    from lamin_core import ids
    from lamin_core.db import engine as db
    from lamin_core.models import Artifact, Run, Storage, Transform
    from lamin_core.setup.user import current_user_id

    user, now, rng = current_user_id(), datetime.now(timezone.utc), random.Random(0)
    with db.engine().begin() as conn:
        storage = conn.execute(select(Storage.id)).scalars().first()
        conn.execute(insert(Transform.__table__), [
            dict(uid=ids.base62(16), key=f"pipeline_{t}.py", kind="pipeline", is_latest=True, created_at=now,
                 updated_at=now, created_by_id=user, branch_id=1) for t in range(10)])
        tids = conn.execute(select(Transform.id)).scalars().all()
        conn.execute(insert(Run.__table__), [
            dict(uid=ids.base62(20), transform_id=tids[r % len(tids)], status="completed", created_at=now,
                 started_at=now, created_by_id=user, branch_id=1) for r in range(100)])
        rids = conn.execute(select(Run.id)).scalars().all()
        conn.execute(insert(Artifact.__table__), [
            dict(uid=ids.base62(20), key=f"project_{i // 1000:02d}/sample_{i:07d}.parquet",
                 description=f"counts of sample {i}" if i % 10 == 0 else None, storage_id=storage,
                 suffix=".parquet", size=rng.randint(1, 10**9), hash=ids.base62(22), hash_type="md5",
                 kind="dataset" if i % 3 == 0 else None, otype="DataFrame" if i % 2 == 0 else None,
                 is_latest=True, managed=True, run_id=rids[i % len(rids)] if i % 7 else None,
                 created_at=now - timedelta(seconds=n - i), updated_at=now, created_by_id=user, branch_id=1)
            for i in range(n)])
    with db.engine().connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


ADBC_SQLITE_ALONE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from timing import warm_ms
import adbc_driver_sqlite.dbapi as adbc
args = json.loads(sys.argv[2])
conn = adbc.connect(args["path"], autocommit=True)
cursor = conn.cursor()
cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": "1048576"})
def run():
    cursor.execute(args["sql"], args["values"] or None)
    return cursor.fetch_arrow_table().to_pandas()
assert len(run()) == args["rows"]
print(json.dumps(warm_ms(run, args["repeat"], warmup=3)))
cursor.close()
conn.close()
"""


def has_text_path() -> bool:
    import importlib.util

    return importlib.util.find_spec("lamin_core.query.sqlite_frames") is not None


def text_path_alone(conn: Any, qs: Any, typed: list[tuple[str, Any, Any]]) -> Callable[[], Any]:
    """SQLite's JSON text of the rows, on the SQL and parameters `to_dataframe()` sends, parsed into Arrow
    columns and handed to pandas: no datetime or boolean conversion, no index."""
    from lamin_core.db import engine as db
    from lamin_core.query import arrow_frames, sqlite_frames

    sql, values = arrow_frames._compile(sqlite_frames.rows_statement(qs, typed), db.engine().dialect)
    types = sqlite_frames.arrow_types(typed)

    def run() -> Any:
        data = b"\n".join([r[0] for r in conn.execute(sql, values).fetchall()])
        return sqlite_frames.parse(data, types).to_pandas(deduplicate_objects=False, use_threads=False)

    return run


def floors(qs: Any, repeat: int) -> tuple[dict[str, Callable[[], Any]], dict[str, tuple[float, float]], Callable[[], None]]:
    """The drivers alone, on the SQL and parameters each path of `to_dataframe()` sends: functions to time
    here, figures timed elsewhere, and a closer.

    ADBC on SQLite runs in a process of its own: its SQLite library next to `sqlite3`'s on one database
    in one process crashes the process (lamin_core/query/arrow_frames.py).
    """
    from sqlalchemy import inspect

    from lamin_core.db import engine as db
    from lamin_core.query import arrow_frames, frames

    model = qs.model
    typed = [(c.key, getattr(model, c.key), c.columns[0].type) for c in inspect(model).column_attrs if c.key not in frames.HIDDEN]
    dialect = db.engine().dialect
    rows_stmt = qs.statement(*[frames._raw(e, t, dialect.name).label(n) for n, e, t in typed])
    url = db.settings().db_url
    timed: dict[str, Callable[[], Any]] = {}
    measured: dict[str, tuple[float, float]] = {}
    if dialect.name == "sqlite":
        import sqlite3

        path = url[len("sqlite:///"):]
        sql, values = arrow_frames._compile(rows_stmt, dialect)  # qmark, as SQLAlchemy sends it
        conn: Any = sqlite3.connect(path, check_same_thread=False)
        timed["sqlite3 fetchall() alone"] = lambda: conn.execute(sql, values).fetchall()
        if has_text_path():
            timed["SQLite JSON rows -> Arrow (CSV reader) -> pandas alone"] = text_path_alone(conn, qs, typed)
        args = dict(path=path, sql=sql, values=values, rows=len(conn.execute(sql, values).fetchall()), repeat=repeat)
        done = subprocess.run([sys.executable, "-c", ADBC_SQLITE_ALONE, str(Path(__file__).parent), json.dumps(args)],
                              capture_output=True, text=True)
        if done.returncode == 0:
            measured["ADBC query -> Arrow -> pandas alone (own process)"] = tuple(json.loads(done.stdout))
        else:
            print(f"ADBC SQLite floor not measured: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return timed, measured, conn.close
    import adbc_driver_postgresql.dbapi as adbc
    import psycopg

    compiled = rows_stmt.compile(dialect=dialect)
    state = compiled.construct_expanded_state(escape_names=False)
    processors = {**compiled._bind_processors, **state.processors}
    params = {k: processors[k](v) if k in processors else v for k, v in state.parameters.items()}
    pconn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    timed["psycopg fetchall() alone"] = lambda: pconn.execute(state.statement, params).fetchall()
    adbc_dialect = arrow_frames._dialect_for_driver(dialect)
    adbc_sql, adbc_values = arrow_frames._compile(qs.statement(*[e.label(n) for n, e, _ in typed]), adbc_dialect)
    adbc_params = arrow_frames._params(adbc_values)
    aconn = adbc.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                         db_kwargs={"adbc.postgresql.type_resolver_mode": "builtin"}, autocommit=True)
    cursor = aconn.cursor()

    def arrow_alone() -> Any:
        cursor.execute(adbc_sql, adbc_params)
        return cursor.fetch_arrow_table().to_pandas()

    timed["ADBC query -> Arrow -> pandas alone"] = arrow_alone

    def close() -> None:
        cursor.close()
        aconn.close()
        pconn.close()

    return timed, measured, close


def bench_backend(backend: str, n: int, rows: list[int], repeat: int) -> list[tuple[str, int, str, float, float]]:
    import inspect as pyinspect

    import lamin_core as ln
    from lamin_core.query import frames

    results = []
    with throwaway_instance(backend, name="frames"):
        print(f"{backend}: seeding {n:,} artifacts ...", file=sys.stderr)
        seed(n)
        has_paths = "via" in pyinspect.signature(frames.to_dataframe).parameters  # not before the Arrow path
        for r in rows:
            qs = ln.Artifact.filter()[:r]
            df = qs.to_dataframe()
            assert df.shape == (min(r, n), 20), df.shape  # 21 columns with the index
            timed: dict[str, Callable[[], Any]] = {"to_dataframe()": qs.to_dataframe}
            measured: dict[str, tuple[float, float]] = {}
            close: Callable[[], None] = lambda: None  # noqa: E731
            if has_paths:
                timed['to_dataframe() through the DBAPI path (via="dbapi")'] = lambda qs=qs: frames.to_dataframe(qs, via="dbapi")
                drivers, measured, close = floors(qs, repeat)
                timed.update(drivers)
            try:
                for label, fn in timed.items():
                    med, p90 = warm_ms(fn, repeat, warmup=3)
                    results.append((backend, r, label, med, p90))
            finally:
                close()
            results += [(backend, r, label, med, p90) for label, (med, p90) in measured.items()]
    return results


PEER_WORKLOAD = r'''
import json, statistics, sys, time, random
ARGS = json.loads(sys.argv[1])
import lamindb as ln
from django.db.models import Model
from lamindb.base.uids import base62_20, base62_12
from lamindb.models import Artifact

def make(**fields):  # Artifact() wants a file; bulk_create wants instances: Django's own constructor
    a = Artifact.__new__(Artifact)
    Model.__init__(a, **fields)
    return a

n, rng, storage, user = ARGS["n"], random.Random(0), ln.settings.storage.record, ln.setup.settings.user.id
Artifact.objects.bulk_create([make(
    uid=base62_20(), key=f"project_{i // 1000:02d}/sample_{i:07d}.parquet",
    description=f"counts of sample {i}" if i % 10 == 0 else None, storage=storage, suffix=".parquet",
    size=rng.randint(1, 10**9), hash=base62_12() + base62_12()[:10], _hash_type="md5", kind="dataset" if i % 3 == 0 else None,
    otype="DataFrame" if i % 2 == 0 else None, is_latest=True, _key_is_virtual=True, _overwrite_versions=False,
    created_by_id=user) for i in range(n)], batch_size=2000)

def timed(fn, repeat):
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); fn(); times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.9) - 1)]

df = ln.Artifact.filter().to_dataframe(limit=None)
assert len(df) == n, df.shape
out = {"all": timed(lambda: ln.Artifact.filter().to_dataframe(limit=None), ARGS["repeat"]), "columns": len(df.columns)}
print("RESULT " + json.dumps(out))
'''


def bench_peer(python: str, n: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, "LAMIN_SETTINGS_DIR": str(Path(d, "settings"))}
        lamin = Path(python).with_name("lamin")
        subprocess.run([str(lamin), "init", "--storage", str(Path(d, "storage"))], env=env, check=True, capture_output=True, cwd=d)
        done = subprocess.run([python, "-c", PEER_WORKLOAD, json.dumps({"n": n, "repeat": repeat})], env=env, cwd=d,
                              capture_output=True, text=True)
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        if done.returncode != 0 or line is None:
            raise SystemExit(f"LaminDB failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        return json.loads(line[len("RESULT "):])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--n", type=int, default=10_000, help="artifacts to seed (default 10,000)")
    p.add_argument("--rows", default="10000,7979", help="frame sizes: filter()[:rows] (default 10000,7979)")
    p.add_argument("--repeat", type=int, default=50, help="timed runs per figure (default 50)")
    p.add_argument("--lamindb-python", default=os.environ.get("LAMINDB_PYTHON") or (PEER_PYTHON if os.path.exists(PEER_PYTHON) else None))
    args = p.parse_args(argv)
    rows = [int(r) for r in args.rows.split(",")]
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = [res for b in backends for res in bench_backend(b, args.n, rows, args.repeat)]
    print(f"\nA query set to a DataFrame, {args.n:,} artifacts seeded (warm median / p90 of {args.repeat} runs, ms)")
    for backend, r, label, med, p90 in results:
        print(f"  {backend:<10} {r:>6,} rows  {label:<55} {med:8.2f} {p90:8.2f}")
    if args.lamindb_python:
        peer = bench_peer(args.lamindb_python, args.n, args.repeat)
        med, p90 = peer["all"]
        print(f"  {'sqlite':<10} {args.n:>6,} rows  {'LaminDB: Artifact.filter().to_dataframe(limit=None)':<55} {med:8.2f} {p90:8.2f}"
              f"   ({peer['columns']} columns)")
    else:
        print("  (LaminDB not measured: pass --lamindb-python or set LAMINDB_PYTHON)")
    print("  goal: 10,000 rows < 15 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
