"""Feature values at scale: filter by a feature value, and to_dataframe(include="features").

    .venv/bin/python benchmarks/annotations.py                        # 1,000,000 artifacts x 10 features, SQLite
    .venv/bin/python benchmarks/annotations.py --n 100000 --backend postgresql

Seeds a throwaway instance (PostgreSQL: a temporary schema of LAMIN_TEST_PG, dropped afterwards) with
plain INSERT ... SELECT statements, generated in the database: n artifacts, 10 features (6 floats,
2 strings, 2 ULabel-typed with 100 labels), one value of each feature per artifact (10 x n rows), then
ANALYZE. Times each operation through the public API, warm, and prints median and 90th percentile in
ms. Goals (issue 13): filter(<feature>=value) materialised < 5 ms; to_dataframe(include="features") of
10,000 artifacts < 100 ms.

Values: float feature f_k holds (id * (k + 1)) % (n / 10) / 10, so one value matches about 10 artifacts;
str feature s_k holds 'sample_<id % (n / 10)>' (10 artifacts each); label feature l_k names one of 100
labels (n / 100 artifacts each).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable

from timing import throwaway_instance, warm_ms  # this folder is on sys.path when a benchmark runs as a script

N_FLOAT, N_STR, N_LABEL, N_LABELS = 6, 2, 2, 100
NOW = "2025-01-01 00:00:00.000000"


def seed(n: int, dialect: str) -> float:
    """Everything with INSERT ... SELECT over a generated series; returns the seconds it took."""
    from sqlalchemy import select, text

    import lamin_core as ln
    from lamin_core.db import engine as db
    from lamin_core.models import Storage
    from lamin_core.setup.user import current_user_id

    t0 = time.perf_counter()
    for k in range(N_FLOAT):
        ln.Feature(name=f"f_{k}", dtype=float).save()
    for k in range(N_STR):
        ln.Feature(name=f"s_{k}", dtype=str).save()
    for k in range(N_LABEL):
        ln.Feature(name=f"l_{k}", dtype=ln.ULabel).save()
    ln.save([ln.ULabel(name=f"label_{i}") for i in range(N_LABELS)])
    user = current_user_id()
    bucket = max(n // 10, 1)
    if dialect == "sqlite":
        series = f"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {n}) "
        src, uid, true = "c", "printf('%020d', i)", "1"
        key, sample = "'bench/' || i || '.parquet'", "'sample_' || (a.id % {b})"
    else:
        series = ""
        src, uid, true = f"generate_series(1, {n}) AS c(i)", "lpad(i::text, 20, '0')", "true"
        key, sample = "'bench/' || i || '.parquet'", "'sample_' || (a.id % {b})"
    with db.engine().begin() as conn:
        storage = conn.execute(select(Storage.id)).scalars().first()
        conn.execute(text(
            f"{series}INSERT INTO artifacts (key, storage_id, suffix, is_latest, managed, updated_at, created_at, uid,"
            f" created_by_id, branch_id, otype) SELECT {key}, {storage}, '.parquet', {true}, {true}, '{NOW}', '{NOW}',"
            f" {uid}, {user}, 1, 'DataFrame' FROM {src}"
        ))
        fids = dict(conn.execute(text("SELECT name, id FROM features")).all())
        lids = [r[0] for r in conn.execute(text("SELECT id FROM ulabels ORDER BY id"))]
        # an artifact's values side by side, as add_values() writes them
        scalar = ", ".join(
            [f"({fids[f'f_{k}']}, {k + 1}, 'num')" for k in range(N_FLOAT)] + [f"({fids[f's_{k}']}, {k}, 'str')" for k in range(N_STR)]
        )
        conn.execute(text(
            f"WITH fs(fid, k, kind) AS (VALUES {scalar})"
            f" INSERT INTO artifact_feature_values (artifact_id, feature_id, value_num, value_str)"
            f" SELECT a.id, fs.fid, CASE WHEN fs.kind = 'num' THEN ((a.id * fs.k) % {bucket}) / 10.0 END,"
            f" CASE WHEN fs.kind = 'str' THEN {sample.format(b=bucket)} END"
            f" FROM artifacts a CROSS JOIN fs ORDER BY a.id, fs.fid"
        ))
        labels = ", ".join(f"({fids[f'l_{k}']}, {k})" for k in range(N_LABEL))
        conn.execute(text(
            f"WITH fs(fid, k) AS (VALUES {labels})"
            f" INSERT INTO artifact_ulabels (artifact_id, label_id, feature_id)"
            f" SELECT a.id, {lids[0]} + ((a.id + fs.k) % {N_LABELS}), fs.fid FROM artifacts a CROSS JOIN fs ORDER BY a.id, fs.fid"
        ))
    with db.engine().connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return time.perf_counter() - t0




def timeit(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    return warm_ms(fn, repeat, warmup=1)


def run_benchmarks(n: int, repeat: int) -> list[tuple[str, float, float, str]]:
    import lamin_core as ln

    A = ln.Artifact
    bucket = max(n // 10, 1)
    state = {"i": 0}

    def nxt() -> int:
        state["i"] += 1
        return (state["i"] * 7919) % bucket

    checks: dict[str, int] = {}

    def by_float() -> None:
        checks["float"] = len(A.filter(f_0=nxt() / 10).to_dataframe())

    def by_str() -> None:
        checks["str"] = len(A.filter(s_0=f"sample_{nxt()}").to_dataframe())

    def by_label_page() -> None:
        checks["label"] = len(A.filter(l_0=f"label_{nxt() % N_LABELS}")[:100].to_dataframe())

    def by_label_count() -> None:
        checks["label_count"] = A.filter(l_0=f"label_{nxt() % N_LABELS}").count()

    def chained() -> None:
        checks["chained"] = len(A.filter(f_1__gt=bucket / 20, l_1="label_3", key__startswith="bench/1")[:100].to_dataframe())

    def frame_plain() -> None:
        checks["plain"] = len(A.to_dataframe(limit=10_000))

    def frame_features() -> None:
        df = A.to_dataframe(limit=10_000, include="features")
        checks["features"] = len(df)
        checks["columns"] = sum(c.startswith(("f_", "s_", "l_")) for c in df.columns)

    results = []
    for name, fn, goal in [
        ("filter(f_0=<float>).to_dataframe()  (~10 matches)", by_float, "< 5 ms"),
        ("filter(s_0=<str>).to_dataframe()  (~10 matches)", by_str, "< 5 ms"),
        (f"filter(l_0=<label>)[:100].to_dataframe()  ({n // N_LABELS:,} match)", by_label_page, "-"),
        (f"filter(l_0=<label>).count()  ({n // N_LABELS:,} match)", by_label_count, "-"),
        ("filter(f_1__gt=.., l_1=.., key__startswith=..)[:100].to_dataframe()", chained, "-"),
        ("Artifact.to_dataframe(limit=10_000)  (no features, for comparison)", frame_plain, "-"),
        ('Artifact.to_dataframe(limit=10_000, include="features")  (10 features)', frame_features, "< 100 ms"),
    ]:
        med, p90 = timeit(fn, repeat)
        results.append((name, med, p90, goal))
    assert 1 <= checks["float"] <= 20 and 1 <= checks["str"] <= 20, checks
    assert checks["features"] == min(10_000, n) and checks["columns"] == 10, checks
    return results


def bench_backend(backend: str, n: int, repeat: int) -> None:
    with throwaway_instance(backend, "bench_annotations"):
        print(f"seeding {n:,} artifacts x 10 features ({backend}) ...", file=sys.stderr, flush=True)
        took = seed(n, backend)
        print(f"\n{backend}: {n:,} artifacts, {10 * n:,} feature values (seeded in {took:.0f} s)")
        print(f"{'operation':<72} {'median':>9} {'p90':>9}  goal")
        for name, med, p90, goal in run_benchmarks(n, repeat):
            print(f"{name:<72} {med:>7.2f}ms {p90:>7.2f}ms  {goal}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000, help="artifacts to seed (default 1,000,000)")
    p.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    p.add_argument("--repeat", type=int, default=30, help="timed repetitions per operation")
    args = p.parse_args(argv)
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        bench_backend(backend, args.n, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
