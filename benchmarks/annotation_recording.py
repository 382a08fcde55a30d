"""What annotations cost the recording path: `record_many()` of job-like events, by annotate mode.

    .venv/bin/python benchmarks/annotation_recording.py [--jobs 400] [--batch 20] [--repeat 5]

Each job is a START and a COMPLETE event (one output file, new content) carrying the annotations a
Snakemake job would: {"sample": ..., "depth": 30, "kit": "v2"}. Batches of `--batch` events are recorded
the way the background recorder hands them over. Modes, each in a fresh SQLite instance and timed apart:

- none                : annotations on the events, `annotate="none"` (the baseline)
- existing, no match  : the default, no feature named (one feature query per batch)
- existing, 2 features: `sample` and `depth` exist (values written: one DELETE and one INSERT per table)
- auto                : features made on the first batch, then written like existing

Prints the median time per job over `--repeat` rounds and the cost relative to `none`. The machine may be
shared: run it on a quiet machine, or read the spread (min-max) it prints too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

MODES = ("none", "existing, no match", "existing, 2 features", "auto")


def run_mode(mode: str, jobs: int, batch: int, base: Path) -> float:
    os.environ["LAMIN_HOME"] = str(base / "home")
    import lamin_core as ln
    from lamin_core.db import engine as db
    from lamin_core.lineage import Dataset, Job, LineageEvent, RunInfo
    from lamin_core.lineage.recorder import record_many
    from lamin_core.setup import init

    init(storage=str(base / "storage"), name="bench-annotations")
    if mode == "existing, 2 features":
        ln.Feature(name="sample", dtype=str).save()
        ln.Feature(name="depth", dtype=int).save()
    annotate = {"none": "none", "auto": "auto"}.get(mode, "existing")
    work = base / "work"
    work.mkdir()
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    events = []
    for i in range(jobs):
        out = work / f"out{i}.txt"
        out.write_text(f"job {i}\n")
        run = RunInfo(f"job-{i}", "bench", annotations={"sample": f"s{i % 50}", "depth": 30, "kit": "v2"})
        job = Job("bench", "wf:rule", kind="function", source_code="rule")
        events.append(LineageEvent("START", t0 + timedelta(seconds=i), job, run, annotate=annotate, engine="bench"))
        events.append(LineageEvent("COMPLETE", t0 + timedelta(seconds=i, milliseconds=500), job, run,
                                   outputs=[Dataset("file", str(out))], annotate=annotate, engine="bench"))
    started = time.perf_counter()
    for start in range(0, len(events), batch):
        record_many(events[start : start + batch])
    elapsed = time.perf_counter() - started
    if mode != "none":
        assert mode == "existing, no match" or ln.Artifact.filter(sample="s1").count() == jobs // 50
    db.configure(None)
    return elapsed / jobs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {m: [] for m in MODES}
    for _ in range(args.repeat):
        for mode in MODES:  # interleaved, so machine noise hits every mode
            with tempfile.TemporaryDirectory(prefix="lamin-bench-annot-") as tmp:
                times[mode].append(run_mode(mode, args.jobs, args.batch, Path(tmp)))
    base = statistics.median(times["none"])
    print(f"{args.jobs} jobs (START + COMPLETE, 1 output each), batches of {args.batch} events, SQLite, "
          f"{args.repeat} rounds, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for mode in MODES:
        med = statistics.median(times[mode])
        spread = f"{min(times[mode]) * 1e3:.2f}-{max(times[mode]) * 1e3:.2f}"
        print(f"{mode:22s}: {med * 1e3:6.2f} ms per job (range {spread}), {100 * (med / base - 1):+5.1f} % vs none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
