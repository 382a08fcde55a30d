"""get(...) and filter(...).first() warm: `python benchmarks/get_first.py [--backend sqlite|postgresql] [--n 100000]`.

Per operation, warm medians in ms over --repeat calls, the key changing at every call:
  - before: the general ORM path (the fast path of query/fast_get.py switched off in this process);
  - after: what `ln.Artifact.get(...)` and friends cost now;
  - floor: the same SQL and parameters executed and fetched on a plain DB-API connection (sqlite3, or psycopg
    in autocommit): what any Python client pays for the query and its round trip.
With a LaminDB venv (--lamindb-python, $LAMINDB_PYTHON or /tmp/ldb/bin/python), LaminDB's get(key=) and
filter(key=).first() on a SQLite instance of its own (settings in a temporary LAMIN_SETTINGS_DIR, no network)
holding --lamindb-n artifacts, inserted with one executemany.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable

from timing import throwaway_instance, warm_ms

PEER = r'''
import json, random, statistics, string, sys, time
import lamindb as ln
from django.db import connection, transaction

n, repeat = int(sys.argv[1]), int(sys.argv[2])
def uid(k):
    return "".join(random.choices(string.ascii_letters + string.digits, k=k))
with connection.cursor() as c:
    c.execute("SELECT id FROM lamindb_storage LIMIT 1"); storage_id = c.fetchone()[0]
    c.execute("SELECT id FROM lamindb_user LIMIT 1"); user_id = c.fetchone()[0]
rows = [(uid(16) + "0000", f"data/{i:07d}.parquet", ".parquet", 1, uid(22), True, False, False, storage_id, user_id)
        for i in range(n)]
with transaction.atomic(), connection.cursor() as c:
    c.executemany('INSERT INTO lamindb_artifact (uid, "key", suffix, size, hash, is_latest, _key_is_virtual, '
                  '_overwrite_versions, storage_id, created_by_id) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)', rows)
keys = [r[1] for r in rows[:: max(n // 500, 1)]]
state = {"i": 0}
def nxt():
    state["i"] = (state["i"] + 1) % len(keys)
    return keys[state["i"]]
def timed(fn):
    for _ in range(20):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); fn(); times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)
assert ln.Artifact.get(key=keys[1]).key == keys[1]
print("RESULT " + json.dumps({"get_key": timed(lambda: ln.Artifact.get(key=nxt())),
                              "filter_first": timed(lambda: ln.Artifact.filter(key=nxt()).first())}))
'''


def seed(n: int) -> tuple[list[str], list[str]]:
    import lamin_core as ln
    from lamin_core import ids
    from lamin_core.db import engine as db
    from lamin_core.models import Artifact

    storage_id = ln.Storage.filter().first().id
    rows = [
        dict(uid=ids.versioned_uid(16), key=f"data/{i:07d}.parquet", storage_id=storage_id, suffix=".parquet", size=1,
             hash=ids.base62(22), hash_type="blake3", is_latest=True, managed=True, branch_id=1)
        for i in range(n)
    ]
    with db.engine().begin() as conn:
        for start in range(0, n, 10_000):
            conn.execute(Artifact.__table__.insert(), rows[start : start + 10_000])
    step = max(n // 500, 1)
    return [r["key"] for r in rows[::step]], [r["uid"] for r in rows[::step]]


def rotating(values: list[Any]) -> Callable[[], Any]:
    state = {"i": 0}

    def nxt() -> Any:
        state["i"] = (state["i"] + 1) % len(values)
        return values[state["i"]]

    return nxt


def floor_ms(backend: str, statements: list[tuple[str, Any]], repeat: int) -> float:
    """The same SQL on a DB-API connection of its own: execute + fetchone."""
    from lamin_core.db import engine as db

    url = db.settings().db_url
    if backend == "sqlite":
        import sqlite3

        conn: Any = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)
    else:
        import psycopg

        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    nxt = rotating(statements)

    def run() -> Any:
        sql, params = nxt()
        cur = conn.cursor()
        cur.execute(sql, params)
        row = cur.fetchone()
        cur.close()
        return row

    try:
        return warm_ms(run, repeat, warmup=50)[0]
    finally:
        conn.close()


def ours(backend: str, n: int, repeat: int) -> dict[str, tuple[float, float, float]]:
    import lamin_core as ln
    from lamin_core.query import fast_get
    from lamin_core.query.queryset import _visible_branch_ids

    keys, uids = seed(n)
    A = ln.Artifact
    prefixes = [k[:10] for k in keys]  # "data/00012": 100 keys
    ops: dict[str, tuple[Callable[[Any], Any], list[Any], Callable[[Any], Any]]] = {
        # name: (the call, its arguments, the query set it runs: for the floor's SQL)
        "get(key=...)": (lambda k: A.get(key=k), keys, lambda k: A.filter(key=k, is_latest=True)[:2]),
        "get(uid)": (lambda u: A.get(u), uids, lambda u: A.filter(uid=u)[:2]),
        "filter(key=...).first()": (lambda k: A.filter(key=k).first(), keys, lambda k: A.filter(key=k).order_by("id")[:1]),
        "filter(key__startswith=...).first()": (
            lambda p: A.filter(key__startswith=p).first(), prefixes, lambda p: A.filter(key__startswith=p).order_by("id")[:1]
        ),
    }
    out = {}
    real_fetch = fast_get.fetch
    for name, (call, args, queryset) in ops.items():
        assert call(args[1]) is not None
        nxt = rotating(args)
        fast_get.fetch = lambda qs, branches: None  # type: ignore[assignment]
        try:
            before = warm_ms(lambda: call(nxt()), max(repeat // 4, 200), warmup=50)[0]
        finally:
            fast_get.fetch = real_fetch  # type: ignore[assignment]
        after = warm_ms(lambda: call(nxt()), repeat, warmup=50)[0]
        statements = []
        for a in args:
            qs = queryset(a)
            planned = fast_get.explain(qs, _visible_branch_ids() if qs._branch_scope else None)
            assert planned is not None, name
            statements.append(planned)
        out[name] = (before, after, floor_ms(backend, statements, repeat))
    return out


def lamindb(python: str, n: int, repeat: int) -> dict[str, float] | None:
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, "LAMIN_SETTINGS_DIR": str(Path(d, "settings"))}
        lamin = Path(python).with_name("lamin")
        init = subprocess.run([str(lamin), "init", "--storage", str(Path(d, "storage"))], env=env, cwd=d,
                              capture_output=True, text=True)
        if init.returncode != 0:
            print(f"(LaminDB: lamin init failed: {init.stderr[-500:]})")
            return None
        done = subprocess.run([python, "-c", PEER, str(n), str(repeat)], env=env, cwd=d, capture_output=True, text=True)
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        if done.returncode != 0 or line is None:
            print(f"(LaminDB failed: {done.stderr[-800:]})")
            return None
        return json.loads(line[len("RESULT ") :])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=3000)
    default_peer = os.environ.get("LAMINDB_PYTHON") or ("/tmp/ldb/bin/python" if Path("/tmp/ldb/bin/python").exists() else None)
    p.add_argument("--lamindb-python", default=default_peer)
    p.add_argument("--lamindb-n", type=int, default=100_000)
    p.add_argument("--lamindb-repeat", type=int, default=300)
    a = p.parse_args()
    with throwaway_instance(a.backend, name="get-first"):
        results = ours(a.backend, a.n, a.repeat)
    peer = lamindb(a.lamindb_python, a.lamindb_n, a.lamindb_repeat) if a.lamindb_python else None
    print(f"# get / first, {a.backend}, {a.n:,} artifacts, warm medians in ms (goal: < 0.15 ms)")
    head = f"{'operation':<38}{'before (ORM)':>14}{'after':>10}{'floor':>10}"
    if peer:
        head += f"{f'LaminDB ({a.lamindb_n:,}, SQLite)':>28}"
    print(head)
    peer_keys = {"get(key=...)": "get_key", "filter(key=...).first()": "filter_first"}
    for name, (before, after, floor) in results.items():
        line = f"{name:<38}{before:>14.3f}{after:>10.3f}{floor:>10.3f}"
        if peer:
            line += f"{peer[peer_keys[name]]:>28.3f}" if name in peer_keys else f"{'':>28}"
        print(line, flush=True)
    if not a.lamindb_python:
        print("(LaminDB not measured: pass --lamindb-python or set LAMINDB_PYTHON)")


if __name__ == "__main__":
    main()
