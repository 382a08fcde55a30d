"""Marquez's read API at scale: `GET /api/v1/lineage?depth=20` on 10,000 runs and 30,000 artifacts.

    .venv/bin/python benchmarks/openlineage_read.py                    # both backends
    .venv/bin/python benchmarks/openlineage_read.py --backend sqlite --repeat 50

The graph: 10 pipelines of 100 jobs in a chain (1,000 transforms); every job ran 10 times (10,000 runs); every
run wrote the next version of its job's 3 output files (30,000 artifacts) and read the 3 files the same run of
the job before it wrote (29,700 input links). Seeded with Core bulk inserts into a fresh instance (PostgreSQL:
a temporary schema, dropped afterwards), then `lamin serve` is started on it and the lineage of a job in the
middle of a pipeline is asked for over HTTP with `requests`: at depth 20 that is 41 jobs, 123 datasets of 10
versions each. Prints the warm median and 90th percentile in milliseconds, over HTTP and in process
(`marquez_read.lineage` + JSON shaping, no HTTP). Goal: < 100 ms over HTTP.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from timing import throwaway_instance, warm_ms  # this folder is on sys.path when a benchmark runs as a script

N_PIPELINES, N_STEPS, N_RUNS_PER_JOB, N_OUTPUTS = 10, 100, 10, 3
TOKEN = "bench-token"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "openlineage" / "src"))


def seed() -> str:
    """Insert the graph; returns the root of the instance's storage."""
    from sqlalchemy import insert, select

    from lamin_core import ids
    from lamin_core.db import engine as db
    from lamin_core.models import Artifact, Run, Storage, Transform
    from lamin_core.models.run import run_input_artifacts
    from lamin_core.setup.user import current_user_id

    user = current_user_id()
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    eng = db.engine()
    with eng.begin() as conn:
        storage, root = conn.execute(select(Storage.id, Storage.root)).first()  # type: ignore[misc]
        conn.execute(insert(Transform.__table__), [
            dict(uid=ids.base62(12) + "0000", key=f"bench/p{p}.step{j:03d}", kind="function", is_latest=True,
                 facets={"job": {"namespace": "bench", "name": f"p{p}.step{j:03d}"}}, created_at=t0, updated_at=t0,
                 created_by_id=user, branch_id=1)
            for p in range(N_PIPELINES) for j in range(N_STEPS)
        ])
        tids = conn.execute(select(Transform.id).order_by(Transform.id)).scalars().all()
        run_rows = []
        for t_index, tid in enumerate(tids):
            for k in range(N_RUNS_PER_JOB):
                start = t0 + timedelta(hours=k, minutes=t_index % N_STEPS)
                run_rows.append(dict(uid=ids.base62(20), transform_id=tid, status="completed", created_at=start, started_at=start,
                                     finished_at=start + timedelta(seconds=30), created_by_id=user, branch_id=1))
        conn.execute(insert(Run.__table__), run_rows)
        rids = conn.execute(select(Run.id).order_by(Run.id)).scalars().all()
        stems = {(p, j, o): ids.base62(16) for p in range(N_PIPELINES) for j in range(N_STEPS) for o in range(N_OUTPUTS)}
        artifacts = []
        for p in range(N_PIPELINES):
            for j in range(N_STEPS):
                for k in range(N_RUNS_PER_JOB):
                    rid = rids[((p * N_STEPS) + j) * N_RUNS_PER_JOB + k]
                    for o in range(N_OUTPUTS):
                        artifacts.append(dict(
                            uid=stems[(p, j, o)] + f"{k:04d}", key=f"p{p}/step{j:03d}/out{o}.parquet", storage_id=storage,
                            suffix=".parquet", size=1000 + k, hash=None, kind=None, is_latest=k == N_RUNS_PER_JOB - 1,
                            managed=False, run_id=rid, created_at=t0 + timedelta(hours=k), updated_at=t0 + timedelta(hours=k),
                            created_by_id=user, branch_id=1,
                        ))
        for start in range(0, len(artifacts), 10_000):
            conn.execute(insert(Artifact.__table__), artifacts[start : start + 10_000])
        aid = {(r.run_id, r.key): r.id for r in conn.execute(select(Artifact.id, Artifact.run_id, Artifact.key))}
        links = []
        for p in range(N_PIPELINES):
            for j in range(1, N_STEPS):
                for k in range(N_RUNS_PER_JOB):
                    rid = rids[((p * N_STEPS) + j) * N_RUNS_PER_JOB + k]
                    before = rids[((p * N_STEPS) + j - 1) * N_RUNS_PER_JOB + k]
                    for o in range(N_OUTPUTS):
                        links.append({"run_id": rid, "artifact_id": aid[(before, f"p{p}/step{j - 1:03d}/out{o}.parquet")]})
        conn.execute(insert(run_input_artifacts), links)
    with eng.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return str(root)


def timeit(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    return warm_ms(fn, repeat, warmup=3)  # warm: connection pools, statement caches, the server's imports


def measure(env: dict[str, str], repeat: int) -> list[tuple[str, float, float, int]]:
    import requests
    from lamin_core.db import engine as db
    from lamin_openlineage.marquez_api import graph_json
    from lamin_openlineage.marquez_read import lineage
    from lamin_openlineage.testing import lamin_serve

    node = f"job:bench:p{N_PIPELINES // 2}.step{N_STEPS // 2:03d}"
    results = []
    sizes: dict[str, int] = {}

    def in_process() -> None:
        with db.read() as s:
            sizes["in process"] = len(graph_json(lineage(s, node, 20))["graph"])

    results.append(("lineage depth 20, in process", *timeit(in_process, repeat)))
    with lamin_serve(env, "--token", TOKEN) as server:
        session = requests.Session()
        headers = {"Authorization": f"Bearer {TOKEN}"}

        def over_http(depth: int) -> Callable[[], None]:
            def go() -> None:
                answer = session.get(server.base + "/api/v1/lineage", params={"nodeId": node, "depth": depth}, headers=headers, timeout=60)
                answer.raise_for_status()
                sizes[f"depth {depth}"] = len(answer.json()["graph"])

            return go

        results.append(("GET /api/v1/lineage depth 20 over HTTP", *timeit(over_http(20), repeat)))
        results.append(("GET /api/v1/lineage depth 5 over HTTP", *timeit(over_http(5), repeat)))

        def jobs_page() -> None:
            session.get(server.base + "/api/v1/namespaces/bench/jobs", params={"limit": 100}, headers=headers, timeout=60).raise_for_status()

        results.append(("GET /api/v1/namespaces/bench/jobs (100 of 1,000)", *timeit(jobs_page, repeat)))
    expected = (2 * 20 + 1) + (2 * 20 + 1) * N_OUTPUTS + N_OUTPUTS  # jobs, their outputs, and the inputs of the first
    assert sizes["depth 20"] == sizes["in process"] == expected, (sizes, expected)
    return [(name, med, p90, sizes.get("depth 20" if "20" in name else "depth 5", 0)) for name, med, p90 in results]


def bench_backend(backend: str, repeat: int) -> None:
    with throwaway_instance(backend) as home:
        t0 = time.perf_counter()
        seed()
        print(f"{backend}: seeded 10,000 runs and 30,000 artifacts in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        results = measure({**os.environ, "LAMIN_HOME": home}, repeat)
        print(f"\n{backend}, {N_PIPELINES * N_STEPS * N_RUNS_PER_JOB:,} runs, "
              f"{N_PIPELINES * N_STEPS * N_RUNS_PER_JOB * N_OUTPUTS:,} artifacts (median / p90 of {repeat}, ms)")
        for name, med, p90, _ in results:
            goal = "< 100 ms" if "depth 20 over HTTP" in name else "-"
            print(f"  {name:<52} {med:8.2f} {p90:8.2f}   goal {goal}")
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--repeat", type=int, default=30, help="timed requests per measurement")
    args = p.parse_args(argv)
    for backend in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
        bench_backend(backend, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
