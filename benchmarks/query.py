"""Query speed at scale: get, prefix filter, dataframes and search over N artifacts, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/query.py                 # 1,000,000 artifacts, both backends
    .venv/bin/python benchmarks/query.py --n 100000 --backend sqlite

Seeds a fresh instance in a temporary folder (PostgreSQL: a temporary schema of LAMIN_TEST_PG, dropped
afterwards) with Core bulk inserts, runs ANALYZE, then times each operation through the public API
(`ln.Artifact.get/filter/search`) and prints the median and 90th percentile in milliseconds.
Goals at 1,000,000: get < 1 ms, prefix filter [:100] to a dataframe < 10 ms, 10,000 rows to a
dataframe < 60 ms, search (a specific term, and a term in every row) < 50 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from timing import warm_ms  # this folder is on sys.path when a benchmark runs as a script

N_TRANSFORMS = 100
N_RUNS = 10_000
N_PROJECTS = 50
CHUNK = 20_000


def key_of(i: int) -> str:
    # a batch of 1,000 artifacts lives in one project folder
    return f"project_{(i // 1000) % N_PROJECTS:02d}/batch_{i // 1000:04d}/sample_{i:07d}.parquet"


def seed(n: int) -> None:
    """Insert transforms, runs and n artifacts with Core inserts, in chunks."""
    from sqlalchemy import insert, select

    from lamin_core import ids
    from lamin_core.db import engine as db
    from lamin_core.models import Artifact, Run, Storage, Transform
    from lamin_core.setup.user import current_user_id

    user = current_user_id()
    now = datetime.now(timezone.utc)
    eng = db.engine()
    with eng.begin() as conn:
        storage = conn.execute(select(Storage.id)).scalars().first()
        conn.execute(insert(Transform.__table__), [
            dict(uid=ids.base62(16), key=f"pipeline_{t}", description=f"pipeline number {t}", kind="pipeline",
                 is_latest=True, created_at=now, updated_at=now, created_by_id=user, branch_id=1)
            for t in range(N_TRANSFORMS)
        ])
        tids = conn.execute(select(Transform.id).order_by(Transform.id)).scalars().all()
        conn.execute(insert(Run.__table__), [
            dict(uid=ids.base62(20), transform_id=tids[r % len(tids)], status="completed", created_at=now,
                 started_at=now, created_by_id=user, branch_id=1)
            for r in range(N_RUNS)
        ])
        rids = conn.execute(select(Run.id).order_by(Run.id)).scalars().all()
    table = Artifact.__table__
    rng = random.Random(0)
    t0 = time.perf_counter()
    for start in range(0, n, CHUNK):
        rows = []
        for i in range(start, min(n, start + CHUNK)):
            special = i == n // 2
            rows.append(dict(
                uid=ids.base62(20),
                key="special/iris_unique.parquet" if special else key_of(i),
                description="the one iris table" if special else (f"counts of sample {i} from study {i % 97}" if i % 10 == 0 else None),
                storage_id=storage, suffix=".parquet", size=rng.randint(1, 10**9), hash=None, kind=None,
                is_latest=True, managed=True, run_id=rids[i % len(rids)], created_at=now - timedelta(seconds=n - i),
                updated_at=now, created_by_id=user, branch_id=1,
            ))
        with eng.begin() as conn:
            conn.execute(insert(table), rows)
        done = min(n, start + CHUNK)
        print(f"\r  seeded {done:,}/{n:,} artifacts ({time.perf_counter() - t0:.0f} s)", end="", file=sys.stderr)
    print(file=sys.stderr)
    with eng.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()




def timeit(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    return warm_ms(fn, repeat, warmup=1)


def run_benchmarks(n: int, repeat: int) -> list[tuple[str, float, float, str]]:
    import lamin_core as ln

    rng = random.Random(1)
    keys = [key_of(rng.randrange(n)) for _ in range(repeat + 1)]
    keys = [k for k in keys if k != key_of(n // 2)]
    it = iter(keys * 3)
    prefixes = [key_of(rng.randrange(n)).rsplit("/", 1)[0] + "/" for _ in range(repeat + 1)]
    pit = iter(prefixes * 3)
    checks: dict[str, Any] = {}

    def get() -> None:
        k = next(it)
        assert ln.Artifact.get(key=k).key == k

    def prefix100() -> None:
        df = ln.Artifact.filter(key__startswith=next(pit))[:100].to_dataframe()
        checks["prefix100"] = len(df)

    # one project folder (20,000 artifacts at 1,000,000), or all projects for a small n
    folder = "project_07/" if n // N_PROJECTS >= 10_000 else "project_"

    def rows10k() -> None:
        df = ln.Artifact.filter(key__startswith=folder)[:10_000].to_dataframe()
        checks["rows10k"] = len(df)

    def newest10k() -> None:
        checks["newest10k"] = len(ln.Artifact.to_dataframe(limit=10_000))

    def search(term: str) -> Callable[[], None]:
        def go() -> None:
            checks[term] = [a.key for a in ln.Artifact.search(term)]

        return go

    def traversal() -> None:
        checks["traversal"] = len(ln.Artifact.filter(run__transform__key="pipeline_7")[:100].to_dataframe())

    results = []
    for name, fn, goal in [
        ("get(key=...)", get, "< 1 ms"),
        ("filter(key__startswith=...)[:100].to_dataframe()", prefix100, "< 10 ms"),
        ("10,000 rows to a dataframe: Artifact.to_dataframe(limit=10_000)", newest10k, "< 60 ms"),
        (f"10,000 rows to a dataframe: filter(key__startswith={folder!r})[:10_000]", rows10k, "< 60 ms"),
        ('search("iris_unique"): specific term', search("iris_unique"), "< 50 ms"),
        ('search("sample"): term in every row', search("sample"), "< 50 ms"),
        ('search("iris_uniqe"): typo of a specific term', search("iris_uniqe"), "-"),
        ('search("sampel"): typo of a term in every row', search("sampel"), "-"),
        ('filter(run__transform__key=...)[:100].to_dataframe()', traversal, "-"),
    ]:
        med, p90 = timeit(fn, repeat)
        results.append((name, med, p90, goal))
    assert checks["prefix100"] == 100 or n < 100_000, checks["prefix100"]
    assert checks["rows10k"] == min(10_000, n - 1), checks["rows10k"]
    assert checks["iris_unique"][0] == "special/iris_unique.parquet", checks["iris_unique"][:3]
    assert checks["iris_uniqe"][:1] == ["special/iris_unique.parquet"], checks["iris_uniqe"][:3]
    assert len(checks["sample"]) == 20 and len(checks["sampel"]) == 20, (checks["sample"], checks["sampel"])
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000, help="artifacts to seed (default 1,000,000)")
    p.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--repeat", type=int, default=30, help="timed repetitions per operation")
    p.add_argument("--keep", metavar="DIR", help="keep the seeded instances in DIR (PostgreSQL: schema lamin_bench_kept_N) and reuse them")
    args = p.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        bench_backend(backend, args.n, args.repeat, args.keep)
    return 0


def bench_backend(backend: str, n: int, repeat: int, keep: str | None = None) -> None:
    """Seed and measure one backend; with `keep`, the seeded instance is kept there and reused next time."""
    from lamin_core.db import engine as db
    from lamin_core.setup import connect, init
    from lamin_core.testing import PG_URL, _pg_execute, _pg_schema_url

    tmp_ctx = tempfile.TemporaryDirectory() if keep is None else None
    base = tmp_ctx.name if tmp_ctx else os.path.join(os.path.abspath(keep), backend)
    marker = os.path.join(base, "seeded")
    reuse = keep is not None and os.path.exists(marker) and open(marker).read() == str(n)
    if keep is not None and not reuse:
        shutil.rmtree(base, ignore_errors=True)  # an instance seeded with another n: start over
    os.makedirs(base, exist_ok=True)
    os.environ["LAMIN_HOME"] = os.path.join(base, "home")
    os.environ.pop("LAMIN_INSTANCE", None)
    schema = None
    db_url = None
    if backend == "postgresql":
        schema = f"lamin_bench_{uuid.uuid4().hex[:10]}" if keep is None else f"lamin_bench_kept_{n}"
        if not reuse:
            _pg_execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            _pg_execute(f'CREATE SCHEMA "{schema}"')
        db_url = _pg_schema_url(schema)
    try:
        if reuse:
            connect("bench")
        else:
            init(storage=os.path.join(base, "storage"), db=db_url, name="bench")
            print(f"{backend}: seeding {n:,} artifacts{' in ' + PG_URL if schema else ''} ...", file=sys.stderr)
            t0 = time.perf_counter()
            seed(n)
            print(f"{backend}: seeded in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
            if keep is not None:
                with open(marker, "w") as f:
                    f.write(str(n))
        results = run_benchmarks(n, repeat)
        print(f"\n{backend}, {n:,} artifacts (median / p90 of {repeat} runs, ms)")
        for name, med, p90, goal in results:
            print(f"  {name:<72} {med:8.2f} {p90:8.2f}   goal {goal}")
        sys.stdout.flush()
    finally:
        db.configure(None)
        if schema is not None and keep is None:
            _pg_execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        if tmp_ctx is not None:
            tmp_ctx.cleanup()


if __name__ == "__main__":
    sys.exit(main())
