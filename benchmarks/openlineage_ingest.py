"""How fast `lamin serve` ingests OpenLineage events: 8 concurrent clients, SQLite and PostgreSQL.

    .venv/bin/python benchmarks/openlineage_ingest.py                 # both backends
    .venv/bin/python benchmarks/openlineage_ingest.py --backend postgresql --events 500 --clients 8

For each backend: a fresh instance (own LAMIN_HOME; PostgreSQL in a new database on 127.0.0.1:5432, dropped
afterwards), `lamin serve --port 0` in a subprocess, then N clients (threads, one HTTP session each) post
pre-serialized RunEvents built with openlineage-python: per run a START (one input table) and a COMPLETE
(one output table), runs nested under a parent run. Prints events/s and the latency distribution, and
checks that every event was answered 201 and every run is in the instance afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

PG_ADMIN_URL = os.environ.get("LAMIN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
VENV_BIN = Path(sys.executable).parent


def build_events(client: int, n_events: int) -> list[bytes]:
    """START + COMPLETE pairs for n_events/2 runs, serialized the way openlineage-python's HTTP transport does."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import parent_run, schema_dataset, source_code_job
    from openlineage.client.serde import Serde

    parent_id = str(uuid.uuid4())
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(hours=client)
    out: list[bytes] = []
    for i in range(n_events // 2):
        run_id = str(uuid.uuid4())
        facets = {"parent": parent_run.ParentRunFacet(run=parent_run.Run(runId=parent_id), job=parent_run.Job(namespace="bench", name=f"dag{client}"))}
        job = Job(
            namespace="bench",
            name=f"dag{client}.task{i % 10}",
            facets={"sourceCode": source_code_job.SourceCodeJobFacet(language="sql", sourceCode=f"select {i % 10}")},
        )
        schema = {"schema": schema_dataset.SchemaDatasetFacet(fields=[schema_dataset.SchemaDatasetFacetFields(name="id", type="INT")])}
        inp = InputDataset(namespace="postgres://warehouse:5432", name=f"shop.public.in_{client}_{i}", facets=schema)
        outp = OutputDataset(namespace="postgres://warehouse:5432", name=f"shop.public.out_{client}_{i}", facets=schema)
        start = RunEvent(eventType=RunState.START, eventTime=(t0 + timedelta(seconds=2 * i)).isoformat(), run=Run(runId=run_id, facets=facets), job=job, inputs=[inp], producer="urn:bench")
        done = RunEvent(eventType=RunState.COMPLETE, eventTime=(t0 + timedelta(seconds=2 * i + 1)).isoformat(), run=Run(runId=run_id, facets=facets), job=job, outputs=[outp], producer="urn:bench")
        out += [Serde.to_json(start).encode(), Serde.to_json(done).encode()]
    return out


@contextmanager
def instance(backend: str) -> Iterator[dict[str, str]]:
    """A fresh instance; yields the environment that selects it."""
    tmp = Path(tempfile.mkdtemp(prefix=f"lamin-bench-{backend}-"))
    env = {**os.environ, "LAMIN_HOME": str(tmp / "home")}
    db_name = None
    cmd = [str(VENV_BIN / "lamin"), "init", "--storage", str(tmp / "data"), "--name", f"bench-{backend}"]
    if backend == "postgresql":
        import psycopg

        db_name = f"lamin_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db_name}"')
        cmd += ["--db", PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{db_name}"]
    try:
        subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
        yield env
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if db_name:
            import psycopg

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


@contextmanager
def server(env: dict[str, str], workers: int) -> Iterator[str]:
    from lamin_openlineage.testing import lamin_serve

    with lamin_serve(env, *(["--workers", str(workers)] if workers > 1 else [])) as running:
        yield running.base


def run_clients(base: str, bodies: list[list[bytes]]) -> tuple[float, list[float], dict[int, int]]:
    import requests

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(len(bodies) + 1)

    def client(events: list[bytes]) -> None:
        session = requests.Session()
        mine: list[float] = []
        codes: dict[int, int] = {}
        barrier.wait()
        for body in events:
            t = time.perf_counter()
            r = session.post(base + "/api/v1/lineage", data=body, headers={"Content-Type": "application/json"}, timeout=60)
            mine.append(time.perf_counter() - t)
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
        with lock:
            latencies.extend(mine)
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=client, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, latencies, statuses


def count_runs(env: dict[str, str]) -> int:
    code = "import lamin_core as ln; print(ln.Run.filter(reference_type='openlineage').count())"
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1])


def server_cpu_seconds(base: str) -> float | None:
    """CPU time of the `lamin serve` process listening at `base`, workers included (None without psutil)."""
    try:
        import psutil
    except ImportError:
        return None
    port = int(base.rsplit(":", 1)[1])
    for conn in psutil.net_connections(kind="tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            proc = psutil.Process(conn.pid)
            procs = [proc, *proc.children(recursive=True)]
            if proc.parent() is not None and "lamin" in " ".join(proc.parent().cmdline()):
                procs = [proc.parent(), *proc.parent().children(recursive=True)]
            return sum(sum(p.cpu_times()[:2]) for p in procs)
    return None


def bench(backend: str, clients: int, events: int, workers: int) -> None:
    bodies = [build_events(c, events) for c in range(clients)]
    total = sum(len(b) for b in bodies)
    with instance(backend) as env, server(env, workers) as base:
        cpu0, client0 = server_cpu_seconds(base), time.process_time()
        elapsed, lat, statuses = run_clients(base, bodies)
        cpu1, client_cpu = server_cpu_seconds(base), time.process_time() - client0
        runs = count_runs(env)
    lat.sort()
    q = statistics.quantiles(lat, n=100)
    print(
        f"{backend:10s} clients={clients} workers={workers} events={total}: {total / elapsed:7.0f} events/s  "
        f"p50={q[49] * 1000:6.1f} ms  p99={q[98] * 1000:6.1f} ms  max={lat[-1] * 1000:6.1f} ms  "
        f"statuses={dict(sorted(statuses.items()))}  runs recorded={runs} (expected {total // 2 + clients})"
        + (f"  server CPU {(cpu1 - cpu0) / total * 1000:.1f} ms/event" if cpu0 is not None and cpu1 is not None else "")
        + f"  clients' CPU {client_cpu / total * 1000:.1f} ms/event",
        flush=True,
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--events", type=int, default=250, help="events per client (default 250)")
    p.add_argument("--workers", type=int, default=1, help="lamin serve --workers (default 1)")
    args = p.parse_args()
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        bench(backend, args.clients, args.events, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
