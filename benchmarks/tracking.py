"""How much tracking costs: `ln.track()` + `ln.finish()`, a `@ln.flow()` call, a `@ln.step()` call.

    .venv/bin/python benchmarks/tracking.py                         # SQLite
    .venv/bin/python benchmarks/tracking.py --backend postgresql    # PostgreSQL on 127.0.0.1:5432
    .venv/bin/python benchmarks/tracking.py --calls 500 --scripts 5

A fresh instance under a temporary LAMIN_HOME (PostgreSQL: in a new schema of LAMIN_BENCH_PG, dropped
afterwards). Prints medians and 90th percentiles in milliseconds, in process and after the first call
(the first call connects and reads the installed packages once), and the wall time of a small script run
with and without tracking. Goals from the issue on SQLite: track + finish < 30 ms, flow < 5 ms, step < 2 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

PG_ADMIN_URL = os.environ.get("LAMIN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
GOALS_MS = {"track + finish": 30.0, "flow call": 5.0, "step call in a flow": 2.0}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


Timing = tuple[list[float], list[float]]  # wall and CPU milliseconds per call


def timed(fn: Callable[[], object], n: int) -> Timing:
    wall, cpu = [], []
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return wall, cpu


def report(name: str, timing: Timing) -> None:
    """Wall time, and this process's CPU time: on a busy machine (other jobs on the same cores) wall time
    includes waiting for a core; the CPU time is what the call costs. On SQLite the database works in this
    process, so CPU time is close to the wall time of an idle machine; on PostgreSQL the server's share is
    not in it."""
    wall, cpu = timing
    goal = GOALS_MS.get(name)
    med = statistics.median(wall)
    verdict = "" if goal is None else ("  ok (goal < %g ms)" % goal if med < goal else "  OVER the goal of %g ms" % goal)
    print(f"{name:<28} median {med:7.2f} ms  p90 {pct(wall, 0.9):7.2f} ms  cpu median {statistics.median(cpu):6.2f} ms"
          f"  n={len(wall)}{verdict}")


def setup_instance(home: Path, backend: str) -> str | None:
    os.environ["LAMIN_HOME"] = str(home)
    from lamin_core.setup import init

    schema = None
    db = None
    if backend == "postgresql":
        import psycopg

        schema = f"lamin_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        db = f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    init(storage=str(home / "storage"), db=db, name="bench")
    return schema


def bench_in_process(calls: int, home: Path) -> None:
    import lamin_core as ln
    from lamin_core.tracking import environment

    script = home / "analysis.py"
    script.write_text("import lamin_core as ln\nln.track()\nln.finish()\n")

    # the very first track() reads every installed package's metadata; later ones use the cache
    shutil.rmtree(home / "cache" / "environments", ignore_errors=True)
    environment._memo.clear()
    t = time.perf_counter()
    ln.track(path=script)
    ln.finish()
    print(f"{'first track + finish':<28} {(time.perf_counter() - t) * 1000:8.2f} ms (connects, reads installed packages)")
    environment._memo.clear()  # a new process: the on-disk cache, not the in-memory one
    t = time.perf_counter()
    ln.track(path=script)
    ln.finish()
    print(f"{'track + finish, new process':<28} {(time.perf_counter() - t) * 1000:8.2f} ms (environment from the disk cache)")

    report("track + finish", timed(lambda: (ln.track(path=script), ln.finish()), max(20, calls // 10)))

    @ln.step()
    def step(x: int) -> int:
        return x + 1

    @ln.flow()
    def empty_flow(n: int) -> int:
        return n

    results: dict[str, Timing] = {}

    @ln.flow()
    def flow_with_steps(n: int) -> None:
        results["step call in a flow"] = timed(lambda: step(1), n)

    empty_flow(0)
    report("flow call", timed(lambda: empty_flow(1), calls))
    flow_with_steps(calls)
    report("step call in a flow", results["step call in a flow"])
    report("step call alone", timed(lambda: step(2), calls))


def bench_scripts(n: int, home: Path) -> None:
    plain = home / "plain.py"
    tracked = home / "tracked.py"
    body = "import lamin_core as ln\nx = sum(range(1000))\n"
    plain.write_text(body)  # the same script without the two calls, as a user compares them
    tracked.write_text(body + "ln.track()\nln.finish()\n")
    # as on a user's machine: with bytecode caches (a sandbox that sets PYTHONDONTWRITEBYTECODE would
    # otherwise compile every lamin_core module the tracked script imports, in every run)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, str(tracked)], env=env, check=True, cwd=home)  # warm the page cache
    walls: dict[str, list[float]] = {"plain": [], "tracked": []}
    for _ in range(n):
        for name, path in (("plain", plain), ("tracked", tracked)):
            t = time.perf_counter()
            subprocess.run([sys.executable, str(path)], env=env, check=True, cwd=home)
            walls[name].append((time.perf_counter() - t) * 1000)
    p, t = statistics.median(walls["plain"]), statistics.median(walls["tracked"])
    verdict = "ok (goal < 50 ms)" if t - p < 50 else "OVER the goal of 50 ms"
    print(f"{'script without tracking':<28} median {p:8.1f} ms (imports lamin_core)")
    print(f"{'script with track + finish':<28} median {t:8.1f} ms (+{t - p:.1f} ms: connect, track, finish)  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--calls", type=int, default=300, help="flow and step calls to time")
    parser.add_argument("--scripts", type=int, default=5, help="script runs to time, each way")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="lamin-bench-tracking-"))
    schema = setup_instance(home, args.backend)
    print(f"backend {args.backend}, Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    try:
        bench_in_process(args.calls, home)
        bench_scripts(args.scripts, home)
    finally:
        from lamin_core.db import engine as db

        db.configure(None)
        if schema is not None:
            import psycopg

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
