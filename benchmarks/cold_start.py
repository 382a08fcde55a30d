"""Cold start: what a user waits for in a fresh process (a tracked script, `lamin save`/`lamin load`, the
adapters' recording child), beside LaminDB where it can do the same.

    .venv/bin/python benchmarks/cold_start.py                          # SQLite, 11 runs of everything
    .venv/bin/python benchmarks/cold_start.py --backend postgresql     # a fresh schema in db `test` on 127.0.0.1:5432
    .venv/bin/python benchmarks/cold_start.py --runs 21 --lamindb-python /path/to/lamindb-venv/bin/python

Every figure is the wall time of fresh processes started as a shell starts them: median and 90th percentile
over --runs runs, all variants interleaved round by round (the order rotating) so that other jobs on the
machine slow them alike; `cpu` is the CPU time of the process and its children, steadier on a busy machine
(on PostgreSQL the server's share is not in it). PYTHONDONTWRITEBYTECODE is removed from the timed
processes' environment (bytecode caches on, as on a user's machine) and every variant runs once untimed first.
The instance is a throwaway one (timing.throwaway_instance; PostgreSQL: a new schema, dropped afterwards).

1. `python tracked.py` (`import lamin_core as ln`, a tiny body, `ln.track()`, `ln.finish()`) minus
   `python plain.py` (the same without the two calls: it touches no registry), the median of the per-round
   differences; goal < 50 ms on SQLite, < 80 ms on PostgreSQL. Then every tracked run is checked: completed,
   its transform with the script's source, an environment artifact.
2. `lamin save SCRIPT.py` (a new source each run: a new transform), `lamin save FILE --key K` (a new small file
   each run) and `lamin load UID --into DIR` (lamin-core's `load`
   takes a transform and writes its source back), the console script as typed; goal < 120 ms.
3. The recording child of the Snakemake and Prefect adapters (lamin_core/lineage/background.py, started by a
   BackgroundRecorder's first `send`). It has no readiness signal; from a fresh process that has imported
   what an adapter imports: first send -> the event committed (send + flush: the child answers once it has
   recorded it), goal < 100 ms; first send -> the event seen by another connection without a flush (polled
   every 5 ms; includes the child's LINGER_S); the child alone with an empty input (start -> exit); and
   the child's imports when it records one event (-X importtime, top 10 cumulative).
4. The tracked script's imports (-X importtime, top 15 cumulative; indentation is nesting).

LaminDB (--lamindb-python, default /tmp/ldb/bin/python) runs the same scripts with `import lamindb as ln`,
and its own `lamin save`/`lamin load transform --uid`, in an instance of its own (`lamin init --storage`,
settings in a temporary LAMIN_SETTINGS_DIR), on SQLite only. Offline, its `track()` and its `lamin save` of
a file fail: they ask the hub whether the instance is registered (`is_on_hub`). So its scripts (plain and
tracked alike) set `ln.setup.settings.instance._is_on_hub = False`, and its `lamin save` runs as `python -c`
with that line before the CLI's `main()`: its figures lack the hub round trip they make online.
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import throwaway_instance  # noqa: E402

PEER_DEFAULT = "/tmp/ldb/bin/python"
TRACK_GOAL_MS = {"sqlite": 50.0, "postgresql": 80.0}
CLI_GOAL_MS = 120.0
RECORDER_GOAL_MS = 100.0
BODY = "x = sum(range(1000))\n"
PEER_STUB = "ln.setup.settings.instance._is_on_hub = False  # offline: no hub lookup\n"
# LaminDB's CLI with the same stub; `python -c PEER_CLI save ...` stands for `lamin save ...`
PEER_CLI = (
    "import sys, lamindb_setup\nlamindb_setup.settings.instance._is_on_hub = False\n"
    "from lamin_cli.__main__ import main\nsys.argv = ['lamin', *sys.argv[1:]]\nsys.exit(main())\n"
)
# An engine's process with an adapter's recorder: times its first send until the event is recorded
ENGINE = r'''
import resource, sys, time, uuid
from datetime import datetime, timezone
from lamin_core.lineage import Job, LineageEvent, RunInfo
from lamin_core.lineage.background import BackgroundRecorder, instance_env
run_id = uuid.uuid4().hex
event = LineageEvent("COMPLETE", datetime.now(timezone.utc), Job("cold_start", "step", kind="function"),
                     RunInfo(run_id, "cold_start_bench"))
recorder = BackgroundRecorder(instance_env())
if sys.argv[1] == "poll":  # another connection, as another process sees it (this process's queries flush first)
    from sqlalchemy import text
    from lamin_core.db.engine import make_engine, settings
    probe, query = make_engine(settings().db_url).connect(), text("SELECT count(*) FROM runs WHERE reference = :r")
t = time.perf_counter()
recorder.send([event])  # starts the child
if sys.argv[1] == "flush":
    recorder.flush()
else:
    while not probe.execute(query, {"r": run_id}).scalar():
        probe.rollback()
        time.sleep(0.005)
ms = (time.perf_counter() - t) * 1000
recorder.close()
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"RESULT {ms:.3f} {(usage.ru_utime + usage.ru_stime) * 1000:.3f}")
'''

Sample = tuple[float, float]  # wall and CPU milliseconds
Samples = list[Sample]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without PYTHONDONTWRITEBYTECODE (which would make every run recompile)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | (extra or {})


def run(cmd: list[str], env: dict[str, str], cwd: Path, stdin: bytes = b"") -> tuple[Sample, str, str]:
    """Run a command to its end: ((wall ms, its CPU ms), stdout, stderr); a failure stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, input=stdin, capture_output=True)
    wall = (time.perf_counter() - t) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out, err = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd)[:300]}\n{out[-2000:]}\n{err[-3000:]}")
    return (wall, (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000), out, err


def interleave(variants: dict[str, Callable[[int], Sample]], runs: int) -> dict[str, Samples]:
    """Each variant once untimed (round 0), then `runs` rounds of all of them, the order rotating each round."""
    for fn in variants.values():
        fn(0)
    names = list(variants)
    out: dict[str, Samples] = {name: [] for name in names}
    for i in range(1, runs + 1):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            out[name].append(variants[name](i))
    return out


def median_p90(values: list[float]) -> tuple[float, float]:
    """Median and 90th percentile (nearest rank: of 11 runs, the 10th)."""
    v = sorted(values)
    return statistics.median(v), v[max(0, math.ceil(len(v) * 0.9) - 1)]


def fmt(samples: Samples) -> str:
    med, p90 = median_p90([w for w, _ in samples])
    return f"{med:7.1f} ms (p90 {p90:7.1f}, cpu {statistics.median(c for _, c in samples):6.1f})"


def show(name: str, ours: Samples, peer: Samples | str, goal: float | None = None) -> None:
    """One line: name, ours, LaminDB's (or why not), goal, verdict."""
    verdict = "" if goal is None else ("ok" if median_p90([w for w, _ in ours])[0] < goal else "OVER")
    goal_text = f"< {goal:g} ms" if goal is not None else "-"
    peer_text = peer if isinstance(peer, str) else fmt(peer)
    print(f"{name:<42} {fmt(ours)}  | LaminDB {peer_text:<44} | goal {goal_text:<9} {verdict}", flush=True)


def diff(a: Samples, b: Samples) -> Samples:
    """Per-round differences a - b (wall and CPU)."""
    return [(wa - wb, ca - cb) for (wa, ca), (wb, cb) in zip(a, b, strict=True)]


def import_summary(stderr: str, top: int) -> list[str]:
    """`-X importtime` output: the `top` largest cumulative times, and the total (all top-level imports)."""
    rows: list[tuple[float, float, int, str]] = []
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)", line)
        if m:
            rows.append((int(m[2]) / 1000, int(m[1]) / 1000, len(m[3]) // 2, m[4]))
    total = sum(cum for cum, _, depth, _ in rows if depth == 0)
    lines = [f"  all imports: {total:.1f} ms (sum of top-level cumulative), {len(rows)} modules"]
    for cum, own, depth, name in sorted(rows, key=lambda r: -r[0])[:top]:
        lines.append(f"  {cum:7.1f} ms cumulative {own:6.1f} self  {'  ' * depth}{name}")
    return lines


# ---- LaminDB -------------------------------------------------------------------------------------------


class Peer:
    """LaminDB in its own SQLite instance under `home` (its development directory: the scripts run there)."""

    def __init__(self, python: str, home: Path) -> None:
        self.python, self.home = python, home
        home.mkdir()
        self.env = clean_env({"LAMIN_SETTINGS_DIR": str(home / "settings")})
        self.version = self._ask("import importlib.metadata as m; print(m.version('lamindb'))")
        run([str(Path(python).with_name("lamin")), "init", "--storage", str(home / "storage")], self.env, home)
        for name, tail in (("plain.py", ""), ("tracked.py", "ln.track()\nln.finish()\n")):
            (home / name).write_text("import lamindb as ln\n" + PEER_STUB + BODY + tail)
        (home / "loadme.py").write_text("print('a transform for lamin load')\n")
        self.cli("save", "loadme.py")
        (home / "loadme.py").unlink()
        self.load_uid = self._ask("import lamindb as ln; print(ln.Transform.get(key='loadme.py').uid)")

    def _ask(self, code: str) -> str:
        return run([self.python, "-c", code], self.env, self.home)[1].strip().splitlines()[-1]

    def script(self, name: str) -> Callable[[int], Sample]:
        return lambda i: run([self.python, name], self.env, self.home)[0]

    def code(self, code: str) -> Callable[[int], Sample]:
        return lambda i: run([self.python, "-c", code], self.env, self.home)[0]

    def cli(self, *args: str) -> Sample:
        return run([self.python, "-c", PEER_CLI, *args], self.env, self.home)[0]

    def save_script(self, i: int) -> Sample:
        path = self.home / f"script_{i}.py"
        path.write_text(f"print({uuid.uuid4().hex!r})\n")
        return self.cli("save", path.name)

    def save(self, i: int) -> Sample:
        path = self.home / f"data_{i}.txt"
        path.write_text(f"{uuid.uuid4().hex}\n")
        return self.cli("save", path.name, "--key", f"bench/data_{i}.txt")

    def load(self, i: int) -> Sample:
        (self.home / "loadme.py").unlink(missing_ok=True)  # it would ask whether to replace it
        lamin = str(Path(self.python).with_name("lamin"))
        return run([lamin, "load", "transform", "--uid", self.load_uid], self.env, self.home)[0]


# ---- lamin-core ----------------------------------------------------------------------------------------


def query(sql: str) -> list[tuple[Any, ...]]:
    from sqlalchemy import text

    from lamin_core.db import engine as db

    with db.read() as s:
        return [tuple(row) for row in s.execute(text(sql)).all()]


def verify_tracked(expected: int, source: str) -> None:
    """Every run of tracked.py: completed, its transform with the script's source, an environment artifact."""
    sql = ("SELECT r.status, t.source_code, (SELECT count(*) FROM artifacts a WHERE a.id = r.environment_id) "
           "FROM runs r JOIN transforms t ON t.id = r.transform_id WHERE t.key LIKE '%tracked.py'")
    deadline = time.monotonic() + 5  # in case finishing ever goes to the background
    while True:
        rows = query(sql)
        bad = [r for r in rows if r[0] != "completed" or r[1] != source or r[2] != 1]
        if (len(rows) == expected and not bad) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    print(f"check: {len(rows)} runs of tracked.py recorded (expected {expected}: the timed runs + 1 untimed); "
          f"{len(rows) - len(bad)} completed, with the script's source and an environment artifact")
    assert len(rows) == expected, f"{len(rows)} runs recorded, expected {expected}"
    assert not bad, f"{len(bad)} runs incomplete, e.g. status/source/environment: {bad[0][0]!r}, {bad[0][1]!r:.60}, {bad[0][2]}"


def bench(args: argparse.Namespace, base: Path) -> None:
    backend, runs = args.backend, args.runs
    py, lamin = sys.executable, str(Path(sys.executable).with_name("lamin"))
    work = base / "core"
    work.mkdir()
    env = clean_env()  # LAMIN_HOME of the throwaway instance included
    from lamin_core.db import engine as db
    from lamin_core.lineage.background import CHILD_ARGS

    db_url = db.settings().db_url
    (work / "plain.py").write_text("import lamin_core as ln\n" + BODY)
    tracked_source = "import lamin_core as ln\n" + BODY + "ln.track()\nln.finish()\n"
    (work / "tracked.py").write_text(tracked_source)
    (work / "loadme.py").write_text("print('a transform for lamin load')\n")
    load_uid = re.search(r"as transform (\w+)", run([lamin, "save", "loadme.py"], env, work)[1])[1]  # type: ignore[index]

    peer: Peer | None = None
    why = "n/a: LaminDB on SQLite only" if backend != "sqlite" else "n/a: no LaminDB (--lamindb-python)"
    if backend == "sqlite" and args.lamindb_python and Path(args.lamindb_python).exists():
        peer = Peer(args.lamindb_python, base / "peer")
        print(f"LaminDB {peer.version} from {args.lamindb_python}")

    def ours(cmd: list[str], stdin: bytes = b"") -> Callable[[int], Sample]:
        return lambda i: run(cmd, env, work, stdin)[0]

    def save(i: int) -> Sample:
        (work / f"data_{i}.txt").write_text(f"{uuid.uuid4().hex}\n")
        return run([lamin, "save", f"data_{i}.txt", "--key", f"bench/data_{i}.txt"], env, work)[0]

    def save_script(i: int) -> Sample:
        (work / f"script_{i}.py").write_text(f"print({uuid.uuid4().hex!r})\n")  # new source: a new transform
        return run([lamin, "save", f"script_{i}.py"], env, work)[0]

    def engine(mode: str) -> Callable[[int], Sample]:
        def go(i: int) -> Sample:
            out = run([py, "-c", ENGINE, mode], env, work)[1]
            wall, cpu = re.search(r"RESULT (\S+) (\S+)", out).groups()  # type: ignore[union-attr]
            return float(wall), float(cpu)
        return go

    variants: dict[str, Callable[[int], Sample]] = {
        "pass": ours([py, "-c", "pass"]),
        "import": ours([py, "-c", "import lamin_core"]),
        # the floors on PostgreSQL: a driver's import and one connection, whoever uses it (libpq: what the
        # plain-rows paths use, lamin_core/db/libpq.py; psycopg: what they used before, and the ORM uses)
        **({"driver": ours([py, "-c", f"import psycopg; psycopg.connect({db_url!r}).close()"]),
            "libpq": ours([py, "-c", f"from lamin_core.db import libpq; libpq.connect({db_url!r}).close()"])}
           if backend == "postgresql" else {}),
        "plain": ours([py, "plain.py"]),
        "tracked": ours([py, "tracked.py"]),
        "save": save,
        "save script": save_script,
        "load": lambda i: run([lamin, "load", load_uid, "--into", str(work / f"loaded_{i}")], env, work)[0],
        "flush": engine("flush"),
        "poll": engine("poll"),
        "child": ours([py, *CHILD_ARGS]),
    }
    if peer is not None:
        variants |= {
            "peer pass": peer.code("pass"), "peer import": peer.code("import lamindb"),
            "peer plain": peer.script("plain.py"), "peer tracked": peer.script("tracked.py"),
            "peer save": peer.save, "peer save script": peer.save_script, "peer load": peer.load,
        }
    r = interleave(variants, runs)

    def p(name: str) -> Samples | str:
        return r[f"peer {name}"] if peer is not None else why

    print(f"\n## 1. tracked script ({runs} fresh processes each; LaminDB: `import lamindb as ln`, hub lookup stubbed)")
    show("python -c pass", r["pass"], p("pass"))
    show("python -c 'import lamin_core' (lamindb)", r["import"], p("import"))
    show("plain.py (no track)", r["plain"], p("plain"))
    if "driver" in r:
        show("floor: python -c 'import psycopg; connect'", r["driver"], "n/a")
        show("floor: python -c 'libpq; connect'", r["libpq"], "n/a")
    show("tracked.py (track + finish)", r["tracked"], p("tracked"))
    peer_overhead = diff(r["peer tracked"], r["peer plain"]) if peer is not None else why
    show("track + finish overhead (tracked - plain)", diff(r["tracked"], r["plain"]), peer_overhead, TRACK_GOAL_MS[backend])
    verify_tracked(runs + 1, tracked_source)

    print("\n## 2. CLI, end to end (LaminDB: `lamin save` via python -c with the hub lookup stubbed; "
          "`lamin load transform --uid` as typed)")
    show("lamin save SCRIPT.py (a transform)", r["save script"], p("save script"), CLI_GOAL_MS)
    show("lamin save FILE --key K (an artifact)", r["save"], p("save"), CLI_GOAL_MS)
    show("lamin load UID --into DIR (a transform)", r["load"], p("load"), CLI_GOAL_MS)
    n_saved = query("SELECT count(*) FROM artifacts WHERE key LIKE 'bench/data_%'")[0][0]
    print(f"check: {n_saved} artifacts saved by `lamin save` (expected {runs + 1}); "
          f"{sum(1 for d in work.glob('loaded_*') if (d / 'loadme.py').exists())} sources loaded")
    assert n_saved == runs + 1

    none = "n/a: LaminDB has no recording child"
    print("\n## 3. the adapters' recording child (Snakemake ProcessSink, Prefect emit_later: BackgroundRecorder)")
    show("first send -> committed (send + flush)", r["flush"], none, RECORDER_GOAL_MS)
    show("first send -> seen elsewhere (no flush)", r["poll"], none)
    show("child alone: empty input, start -> exit", r["child"], none)
    recorded = query("SELECT count(*) FROM runs WHERE reference_type = 'cold_start_bench' AND status = 'completed'")[0][0]
    print(f"  (cpu of the first two: the child's; LINGER_S = 1 s: an event waits that long for company unless "
          f"flushed)\ncheck: {recorded} events recorded by recording children (expected {2 * (runs + 1)})")
    assert recorded == 2 * (runs + 1)
    from lamin_core.lineage import Job, LineageEvent, RunInfo
    from lamin_core.lineage.background import frame

    event = LineageEvent("COMPLETE", datetime.now(timezone.utc), Job("cold_start", "step", kind="function"),
                         RunInfo(uuid.uuid4().hex, "cold_start_bench"))
    err = run([py, "-X", "importtime", *CHILD_ARGS], env, work, frame(pickle.dumps([event])))[2]
    print("imports of the recording child, recording one event (-X importtime):")
    print("\n".join(import_summary(err, 10)))

    print("\n## 4. where tracked.py's time goes: imports (-X importtime)")
    print("\n".join(import_summary(run([py, "-X", "importtime", "tracked.py"], env, work)[2], 15)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--runs", type=int, default=11, help="fresh processes per figure (default 11)")
    parser.add_argument("--lamindb-python", default=os.environ.get("LAMINDB_PYTHON", PEER_DEFAULT),
                        help=f"a Python with lamindb installed (default {PEER_DEFAULT} if it exists)")
    args = parser.parse_args()
    import lamin_core

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"cold start: backend {args.backend}, Python {sys.version.split()[0]}, {os.cpu_count()} cores, "
          f"load average {load}; {args.runs} runs per figure")
    print(f"lamin_core {lamin_core.__version__} from {Path(lamin_core.__file__).parent}")
    if os.getloadavg()[0] > (os.cpu_count() or 1) * 0.75:
        print("busy machine: other jobs inflate the wall times; the cpu figures are the steadier ones")
    with tempfile.TemporaryDirectory(prefix="lamin-cold-start-") as d, throwaway_instance(args.backend, "coldstart"):
        bench(args, Path(d))
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
