"""How fast `lamin nextflow ingest` and the weblog receiver record a run of N samples.

    python integrations/nextflow/benchmarks/ingest_bench.py [N_SAMPLES] [--db postgresql://...]

Writes a run of N FASTQC tasks and one MULTIQC task in Nextflow's formats (lineage store, raw trace,
history, weblog events), then times: parsing and translation alone; ingest into a fresh instance;
ingesting it again (every event already known); and the same run posted as weblog events, in process.
Prints numbers; asserts nothing about time.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from nfgen import RunSpec, TaskSpec, Writer, materialize  # noqa: E402


def write_run(base: Path, samples: int) -> Path:
    tasks = [TaskSpec("FASTQC", f"S{i}", [f"S{i}.fastq.gz"], [f"S{i}_fastqc.html", f"S{i}_fastqc.zip"], "fastqc")
             for i in range(samples)]
    tasks.append(TaskSpec("MULTIQC", None, [f"task:S{i}/S{i}_fastqc.zip" for i in range(samples)],
                          ["multiqc_report.html"], "multiqc"))
    writer = Writer(base / "template")
    writer.run(RunSpec("bench_run", tasks))
    writer.close()
    import nfgen

    nfgen.FIXTURES = base  # materialize() copies from here
    return materialize("template", base / "run")


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    samples = int(args[0]) if args else 200
    db = sys.argv[sys.argv.index("--db") + 1] if "--db" in sys.argv else None
    tmp = Path(tempfile.mkdtemp(prefix="nf-bench-"))
    os.environ["LAMIN_HOME"] = str(tmp / "home")
    run = write_run(tmp, samples)

    from lamin_nextflow.ingest import find_sources, ingest, plan

    t = time.perf_counter()
    result = plan(find_sources(run))
    parse_s = time.perf_counter() - t
    events = result.events
    print(f"run: {samples} samples, {result.tasks} tasks, {events} events, "
          f"{sum(1 for _ in (run / '.lineage').rglob('.data.json'))} lineage records")
    print(f"parse + translate:       {parse_s * 1000:8.1f} ms")

    import lamin_core as ln

    ln.setup.init(storage=str(tmp / "storage"), db=db)
    t = time.perf_counter()
    first = ingest(run)
    took = time.perf_counter() - t
    print(f"ingest (new instance):   {took:8.2f} s   {first.events / took:7.1f} events/s, {first.artifacts} artifacts")
    t = time.perf_counter()
    again = ingest(run)
    took = time.perf_counter() - t
    print(f"ingest again (no-op):    {took:8.2f} s   {again.events / took:7.1f} events/s, {again.new_events} new")

    if db is not None:  # the same database already holds these events: the weblog timing would be of no-ops
        print("weblog, in process:      (SQLite only: needs an empty database)")
        return
    from lamin_nextflow.weblog import MEMORY, handle_weblog

    ln.setup.init(storage=str(tmp / "storage2"))
    MEMORY.clear()
    bodies = [json.loads(line) for line in (run / "weblog.jsonl").read_text().splitlines()]
    t = time.perf_counter()
    for body in bodies:
        handle_weblog(body)
    took = time.perf_counter() - t
    print(f"weblog, in process:      {took:8.2f} s   {len(bodies) / took:7.1f} posts/s ({len(bodies)} posts)")


if __name__ == "__main__":
    main()
