"""Overhead of lamin_prefect on a 50-task Prefect flow: the same flow with and without the adapter.

    .venv/bin/python benchmarks/prefect_overhead.py [--tasks 50] [--repeat 16] [--mode sequential|submit] [--db URL]

Each task writes a small file (new content every run, so every run registers new artifact versions: the
adapter's worst case) and returns its path; a last task reads them all. Runs alternate plain / lamin
after one warm-up each (Prefect's server start-up is excluded), each started once the machine is quiet
again (Prefect's server and lamin's recording process idle). Prints medians, the overhead and a 90%
bootstrap interval.

Wall time is what the goal (<10%) is about, measured until the flow's last completion hook ran: the
flow's work and lamin's hooks. lamin's recording process may still be writing then; nobody waits for it
except a query, which waits for what was sent before it ("lineage lag" says how long that would be right
after the call returned). The call itself returns later: Prefect 3.9 joins its heartbeat thread at the
end, which sleeps in 1-second steps, so that time rounds up to whole seconds and hides anything
smaller. Everything lives in temporary folders (PREFECT_HOME, LAMIN_HOME, storage); nothing is left behind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=16)
    parser.add_argument("--mode", choices=["sequential", "submit"], default="sequential")
    parser.add_argument(
        "--pause", type=float, default=10.0,
        help="at most this many seconds between runs (untimed) waiting for the machine to be quiet: Prefect's "
        "local server keeps writing the last run's events into its SQLite for a while, and a run started "
        "meanwhile meets that work (and may wait ~2 s on its lock)",
    )  # fmt: skip
    parser.add_argument(
        "--log-level", default="INFO",
        help="Prefect's logging level (its default, INFO: a line per task run, shipped to its API too)",
    )  # fmt: skip
    parser.add_argument("--db", default=None, help="postgresql://... to record into PostgreSQL (default SQLite)")
    parser.add_argument(
        "--sink", choices=["db", "null"], default="db",
        help="null: the adapter runs fully but its events are dropped (its own cost, without the database)",
    )  # fmt: skip
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="lamin-prefect-bench-"))
    os.environ.update(
        {
            "PREFECT_HOME": str(tmp / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "240",
            "PREFECT_LOGGING_LEVEL": args.log_level,
            "LAMIN_HOME": str(tmp / "lamin"),
        }
    )
    try:
        return _run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_schema: str | None = None


def _fresh_schema(url: str) -> str:
    """A schema of its own in the given PostgreSQL database, dropped when the benchmark ends."""
    import atexit

    import psycopg

    global _schema
    _schema = f"lamin_bench_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{_schema}"')

    def drop() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{_schema}" CASCADE')

    atexit.register(drop)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{_schema},public"


def _run(args: argparse.Namespace, tmp: Path) -> int:
    import prefect

    import lamin_core as ln
    import lamin_prefect

    db = args.db
    if db is not None and db.startswith("postgresql"):
        db = _fresh_schema(db)  # never write into a shared database's public schema
    ln.setup.init(storage=str(tmp / "storage"), db=db, name=f"bench-{os.getpid()}")
    data = tmp / "data"
    data.mkdir()

    def write(folder: str, i: int, run: int) -> str:
        Path(folder).mkdir(exist_ok=True)
        path = Path(folder) / f"part-{i}.txt"
        path.write_text(f"run {run} part {i}\n" * 20)
        return str(path)

    def gather(paths: list[str]) -> int:
        return sum(len(Path(p).read_text()) for p in paths)

    done_at: list[float] = []

    def make(task_deco, flow_deco, name: str):  # the same functions, decorated by Prefect or by lamin_prefect
        write_task = task_deco(name="write")(write)
        gather_task = task_deco(name="gather")(gather)

        def body(folder: str, run: int) -> int:
            if args.mode == "submit":
                futures = [write_task.submit(folder, i, run) for i in range(args.tasks - 1)]
                paths = [f.result() for f in futures]
            else:
                paths = [write_task(folder, i, run) for i in range(args.tasks - 1)]
            return gather_task(paths)

        # a last completion hook marks when the flow's work (lamin's own end hook included) is done
        return flow_deco(name=name, on_completion=[lambda *_: done_at.append(time.perf_counter())])(body)

    plain = make(prefect.task, prefect.flow, "bench-plain")
    lamin = make(lamin_prefect.task, lamin_prefect.flow, "bench-lamin")

    times: dict[str, list[float]] = {"plain": [], "lamin": []}
    work: dict[str, list[float]] = {"plain": [], "lamin": []}
    cpu: dict[str, list[float]] = {"plain": [], "lamin": []}  # this process's CPU: steadier on a busy machine
    lag: list[float] = []  # after a lamin flow call returned: the wait until its lineage was all recorded
    run = 0
    for label, fl in (("plain", plain), ("lamin", lamin)):  # warm-up: server start, imports, first writes
        run += 1
        with lamin_prefect.record_to(lambda event: None) if args.sink == "null" else nullcontext():
            fl(str(data / label), run)
    for i in range(args.repeat):
        # alternate which goes first: Prefect's server keeps working after a run, and whichever run
        # followed the other would otherwise always meet that work
        order = (("plain", plain), ("lamin", lamin)) if i % 2 == 0 else (("lamin", lamin), ("plain", plain))
        for label, fl in order:
            run += 1
            _wait_until_quiet(args.pause)
            t0, c0 = time.perf_counter(), time.process_time()
            with lamin_prefect.record_to(lambda event: None) if args.sink == "null" else nullcontext():
                fl(str(data / label), run)
            times[label].append(time.perf_counter() - t0)
            work[label].append(done_at[-1] - t0)
            cpu[label].append(time.process_time() - c0)
            if label == "lamin":  # the flow does not wait for its lineage; how long would a reader wait?
                t1 = time.perf_counter()
                lamin_prefect._emit.flush()
                lag.append(time.perf_counter() - t1)

    n_runs = ln.Run.filter(reference_type="prefect_task_run").count()
    plain_w, lamin_w = statistics.median(work["plain"]), statistics.median(work["lamin"])
    plain_s, lamin_s = statistics.median(times["plain"]), statistics.median(times["lamin"])
    overhead = (lamin_s - plain_s) / plain_s * 100
    print(f"prefect {prefect.__version__}, {args.tasks} tasks, mode={args.mode}, db={'postgresql' if args.db else 'sqlite'}, "
          f"sink={args.sink}, repeat={args.repeat}, log level {args.log_level}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    print("until the flow's completion hooks ran (its work and lamin's hooks; recording goes on beside it):")
    print(f"plain prefect : median {plain_w:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in work['plain'])})")
    print(f"lamin_prefect : median {lamin_w:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in work['lamin'])})")
    low, high = _interval(work["plain"], work["lamin"])
    print(f"overhead      : {(lamin_w - plain_w) / plain_w * 100:+.1f} %  ({(lamin_w - plain_w) / args.tasks * 1000:+.2f} ms per task); "
          f"90% bootstrap interval {low:+.1f} % to {high:+.1f} %")  # fmt: skip
    print("until the flow call returned (Prefect's heartbeat thread sleeps in 1 s steps and is joined at the end,")
    print("so this rounds up to whole seconds; it is what a caller waits for):")
    print(f"plain prefect : median {plain_s:.3f} s  (runs: {', '.join(f'{t:.2f}' for t in times['plain'])})")
    print(f"lamin_prefect : median {lamin_s:.3f} s  (runs: {', '.join(f'{t:.2f}' for t in times['lamin'])})")
    print(f"overhead      : {overhead:+.1f} %  ({(lamin_s - plain_s) / args.tasks * 1000:+.1f} ms per task)")
    # the fastest run of each is the least disturbed by other work on the machine
    plain_min, lamin_min = min(times["plain"]), min(times["lamin"])
    print(f"fastest runs  : plain {plain_min:.3f} s, lamin {lamin_min:.3f} s, overhead {(lamin_min - plain_min) / plain_min * 100:+.1f} %")
    plain_c, lamin_c = statistics.median(cpu["plain"]), statistics.median(cpu["lamin"])
    print(f"cpu (this process): plain {plain_c:.3f} s, lamin {lamin_c:.3f} s, overhead {(lamin_c - plain_c) / plain_c * 100:+.1f} %")
    print(f"lineage lag   : after the call returned, its lineage was all recorded within median {statistics.median(lag) * 1000:.1f} ms, "
          f"at most {max(lag) * 1000:.1f} ms (a query waits for it)")  # fmt: skip
    print(f"recorded      : {n_runs} task runs, {ln.Artifact.filter().count()} artifacts")
    return 0


def _wait_until_quiet(at_most: float, window: float = 0.25, busy: float = 0.03) -> None:
    """Wait until this process's children (Prefect's server, lamin's recording process) have been idle
    for a whole `window` (under `busy` of a core), at most `at_most` seconds: each run starts from the
    same quiet machine, which a fixed pause did not guarantee (runs varied by a third)."""
    try:
        import psutil
    except ImportError:  # Prefect depends on psutil; without it, a fixed pause
        time.sleep(at_most)
        return

    def cpu_of_children() -> float:
        total = 0.0
        for child in psutil.Process().children(recursive=True):
            try:
                times = child.cpu_times()
                total += times.user + times.system
            except psutil.Error:  # exited meanwhile
                pass
        return total

    deadline = time.monotonic() + at_most
    time.sleep(window)
    before = cpu_of_children()
    while time.monotonic() < deadline:
        time.sleep(window)
        now = cpu_of_children()
        if now - before < busy * window:
            return
        before = now


def _interval(plain: list[float], lamin: list[float], draws: int = 2000) -> tuple[float, float]:
    """90% bootstrap interval of the overhead of the medians: how far the noise of single runs reaches."""
    import random

    rng = random.Random(0)
    ratios = sorted(
        statistics.median(rng.choices(lamin, k=len(lamin))) / statistics.median(rng.choices(plain, k=len(plain))) - 1
        for _ in range(draws)
    )
    return ratios[int(draws * 0.05)] * 100, ratios[int(draws * 0.95)] * 100


if __name__ == "__main__":
    sys.exit(main())
