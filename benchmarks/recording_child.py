"""How soon the adapters' recording process records: start -> first event committed, in fresh processes.

    .venv/bin/python benchmarks/recording_child.py                        # SQLite, 11 fresh children
    .venv/bin/python benchmarks/recording_child.py --backend postgresql   # a fresh schema in db `test`
    .venv/bin/python benchmarks/recording_child.py --runs 21

The recording process of the Snakemake and Prefect adapters (`python -m lamin_core.lineage.background`) starts
with a BackgroundRecorder's first `send`. Each round starts a fresh engine-like process that has imported what
an adapter imports, then times `send(batch)` + `flush()`: `Popen` of the child, its imports, its connection, and
the batch recorded and committed (the child answers a flush once everything before it is recorded; a flush
does not wait for LINGER_S). The batches are what the adapters send for a task: a Prefect task run's START and
COMPLETE under its flow run (params, plain-value annotations, a file in and a file out), and a Snakemake job's
START and COMPLETE under its workflow. Goal: < 100 ms.

Floors, in the same rounds: `python -c pass`, and on PostgreSQL `python -c "import psycopg"` (what any client
pays to connect). `--pythonpath DIR` runs engine and child against another checkout (a `git worktree` of the
previous commit: the "before" figure). Wall times of fresh processes, median and p90 of --runs rounds, the
variants interleaved; PYTHONDONTWRITEBYTECODE is removed (bytecode caches on, as on a user's machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import throwaway_instance  # noqa: E402

GOAL_MS = 100.0

ENGINE = r'''
import sys, time, uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from lamin_core.lineage import Dataset, Job, LineageEvent, ParentRun, RunInfo
from lamin_core.lineage.background import BackgroundRecorder, instance_env

kind, work = sys.argv[1], Path(sys.argv[2])
tag = uuid.uuid4().hex
src, out = work / f"in-{tag}.txt", work / f"out-{tag}.txt"
src.write_text("input " + tag)
out.write_text("output " + tag)
t0 = datetime.now(timezone.utc)
if kind == "prefect":
    flow = Job("prefect", "etl", kind="pipeline", source_code="def etl(): ...")
    job = Job("prefect", "etl.clean", kind="function", source_code="def clean(n, sample): ...")
    run = RunInfo(tag, "prefect_task_run", parent=ParentRun(tag + "f", flow, "prefect_flow_run"), params={"n": 3, "sample": "A"},
                  attempt=1, name="clean-0", annotations={"n": 3, "sample": "A"})
    engine = "prefect"
else:
    flow = Job("snakemake", "wf/Snakefile", kind="pipeline", source_code="rule all: ...")
    job = Job("snakemake", "wf/Snakefile:align", kind="function", source_code="shell: 'bwa mem {input} > {output}'",
              description="Snakemake rule align")
    run = RunInfo(tag, "snakemake_job", parent=ParentRun(tag + "w", flow, "snakemake_workflow"),
                  params={"rule": "align", "jobid": 1, "wildcards": {"sample": "A"}, "threads": 1}, attempt=1,
                  name="align[sample=A]", annotations={"sample": "A"})
    engine = "snakemake"
events = [
    LineageEvent("START", t0, job, run, inputs=[Dataset("file", str(src))], producer=engine, engine=engine),
    LineageEvent("COMPLETE", t0 + timedelta(milliseconds=5), job, run, outputs=[Dataset("file", str(out))], producer=engine,
                 engine=engine),
]
recorder = BackgroundRecorder(instance_env())
t = time.perf_counter()
recorder.send(events)  # starts the child
recorder.flush()  # answered once the batch is committed
ms = (time.perf_counter() - t) * 1000
recorder.close()
print(f"RESULT {ms:.3f}")
'''


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | extra


def timed(cmd: list[str], env: dict[str, str], cwd: str) -> float:
    """The figure a command reports (`RESULT ms`), else its wall time in ms."""
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = (time.perf_counter() - t) * 1000
    if done.returncode != 0 or "could not record" in done.stderr:
        raise SystemExit(f"failed: {' '.join(cmd)[:200]}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return float(line.split()[1])
    return wall


def median_p90(values: list[float]) -> str:
    v = sorted(values)
    return f"{statistics.median(v):7.1f} ms (p90 {v[max(0, -(-len(v) * 9 // 10) - 1)]:7.1f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--pythonpath", help="run engine and child against this checkout (e.g. a worktree of HEAD)")
    args = parser.parse_args()
    with throwaway_instance(args.backend, name="recording_child") as home, tempfile.TemporaryDirectory() as work:
        extra = {"LAMIN_HOME": home}
        if args.pythonpath:
            extra["PYTHONPATH"] = args.pythonpath
        env = clean_env(extra)
        script = Path(work) / "engine.py"
        script.write_text(ENGINE)
        variants: dict[str, Callable[[], float]] = {
            "python -c pass": lambda: timed([sys.executable, "-c", "pass"], env, work),
        }
        if args.backend == "postgresql":
            variants["python -c 'import psycopg'"] = lambda: timed([sys.executable, "-c", "import psycopg"], env, work)
        for kind in ("prefect", "snakemake"):
            variants[f"{kind} task: start -> recorded"] = lambda kind=kind: timed([sys.executable, str(script), kind, work], env, work)
        for fn in variants.values():  # once untimed: bytecode caches, the instance's first rows
            fn()
        samples: dict[str, list[float]] = {name: [] for name in variants}
        names = list(variants)
        for i in range(args.runs):
            k = i % len(names)
            for name in names[k:] + names[:k]:
                samples[name].append(variants[name]())
        where = f" ({args.pythonpath})" if args.pythonpath else ""
        print(f"recording child, {args.backend}, {args.runs} fresh processes each{where}")
        for name, values in samples.items():
            verdict = ""
            if "recorded" in name:
                verdict = "ok" if statistics.median(values) < GOAL_MS else "OVER"
                verdict = f"  goal < {GOAL_MS:g} ms {verdict}"
            print(f"  {name:<38} {median_p90(values)}{verdict}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
