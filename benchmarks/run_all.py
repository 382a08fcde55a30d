"""Every benchmark, one after the other, each printing its own figures: `make bench`.

    python benchmarks/run_all.py            # all
    python benchmarks/run_all.py core query # some, by file name without .py

The query benchmark seeds 1,000,000 artifacts per backend and takes a few minutes; the rest take
seconds to a minute each. Run on a quiet machine: the figures are wall-clock times.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ORDER = ["core", "tracking", "query", "frames", "get_first", "annotations", "validation", "openlineage_ingest", "prefect_overhead", "snakemake_overhead", "bionty", "mapped", "cold_start", "recording_child"]
EXTRA = {"nextflow_ingest": REPO / "integrations" / "nextflow" / "benchmarks" / "ingest_bench.py"}


def main(names: list[str]) -> int:
    scripts = {name: HERE / f"{name}.py" for name in ORDER} | EXTRA
    chosen = names or list(scripts)
    unknown = [n for n in chosen if n not in scripts]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(scripts)}", file=sys.stderr)
        return 2
    failed = []
    for name in chosen:
        print(f"\n### {name}", flush=True)
        if subprocess.call([sys.executable, str(scripts[name])], cwd=REPO) != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
