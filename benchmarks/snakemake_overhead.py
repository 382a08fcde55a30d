"""Wall time of a 200-job Snakemake workflow with and without `--logger lamin` (goal: < 10% overhead).

    python benchmarks/snakemake_overhead.py [--samples 100] [--repeats 2] [--cores 2] [--db postgresql://...]
    python benchmarks/snakemake_overhead.py --db postgresql://postgres@127.0.0.1:5432/test

Each measurement runs `snakemake` from scratch in a fresh copy of the workflow (100 samples x 2 rules, plus
a merge and the target rule: 202 jobs), alternating plain and recorded runs so that machine noise hits both.
The recorded runs write into a throwaway instance (SQLite unless --db is given). Prints every time and
the median overhead of wall time and of CPU time (snakemake and all it started, including the recording
process); CPU time is the steadier number on a busy machine. Exits 0 either way (a benchmark reports, it
does not judge).
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SNAKEFILE = """
SAMPLES = [f"s{i:03d}" for i in range(config.get("samples", 100))]

rule all:
    input: "merged.txt"

rule make:
    output: "raw/{sample}.txt"
    shell: "echo {wildcards.sample} > {output}"

rule count:
    input: "raw/{sample}.txt"
    output: "counts/{sample}.txt"
    log: "logs/{sample}.log"
    shell: "wc -c < {input} > {output} 2> {log}"

rule merge:
    input: expand("counts/{sample}.txt", sample=SAMPLES)
    output: "merged.txt"
    shell: "cat {input} > {output}"
"""


def snakemake_bin() -> str:
    candidate = Path(sys.executable).with_name("snakemake")
    return str(candidate) if candidate.exists() else "snakemake"


def pg_schema(db: str) -> tuple[str, str]:
    """A fresh schema in the PostgreSQL database `db`, so the benchmark never touches existing tables.

    Returns (URL that uses the schema, schema name)."""
    import uuid

    import psycopg

    schema = f"bench_snakemake_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in db else "?"
    return f"{db}{sep}options=-csearch_path%3D{schema},public", schema


def drop_pg_schema(db: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def make_instance(base: Path, db: str | None) -> dict[str, str]:
    env = dict(os.environ, LAMIN_HOME=str(base / "home"))
    storage = base / "storage"
    storage.mkdir()
    init = f"import lamin_core as ln; ln.setup.init(storage={str(storage)!r}, db={db!r}, name='bench-snakemake')"
    subprocess.run([sys.executable, "-c", init], env=env, check=True)
    return env


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(base: Path, n: int, samples: int, cores: str, env: dict[str, str], logger: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds of snakemake and everything it started)."""
    workdir = base / f"run{n}-{'lamin' if logger else 'plain'}"
    workdir.mkdir()
    (workdir / "Snakefile").write_text(SNAKEFILE)
    cmd = [snakemake_bin(), "--cores", cores, "--config", f"samples={samples}", "--quiet", "all"]
    if logger:
        cmd += ["--logger", "lamin"]
    cpu_before, start = children_cpu(), time.perf_counter()
    done = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    elapsed, cpu = time.perf_counter() - start, children_cpu() - cpu_before
    if done.returncode != 0 or "could not be recorded" in done.stderr:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"snakemake failed ({'with' if logger else 'without'} the logger)")
    return elapsed, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100, help="jobs = 2 x samples + 2")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cores", default="2")
    parser.add_argument(
        "--db", default=None, help="PostgreSQL database for the instance, used in a throwaway schema (default: SQLite)"
    )
    args = parser.parse_args(argv)

    base = Path(tempfile.mkdtemp(prefix="bench-snakemake-"))
    db, schema = pg_schema(args.db) if args.db else (None, None)
    try:
        env = make_instance(base, db)
        plain: list[tuple[float, float]] = []
        recorded: list[tuple[float, float]] = []
        for n in range(args.repeats):
            plain.append(run_once(base, n, args.samples, args.cores, env, logger=False))
            recorded.append(run_once(base, n, args.samples, args.cores, env, logger=True))
            print(
                f"repeat {n + 1}: plain {plain[-1][0]:.2f} s (cpu {plain[-1][1]:.2f} s), "
                f"--logger lamin {recorded[-1][0]:.2f} s (cpu {recorded[-1][1]:.2f} s)",
                flush=True,
            )
        jobs = 2 * args.samples + 2
        backend = "postgresql" if args.db else "sqlite"
        load = os.getloadavg()[0]
        print(f"{jobs} jobs, --cores {args.cores}, {backend}, load average {load:.1f} on {os.cpu_count()} cores")
        for what, i in (("wall", 0), ("cpu", 1)):
            p = statistics.median(x[i] for x in plain)
            r = statistics.median(x[i] for x in recorded)
            print(
                f"{what}: plain median {p:.2f} s, --logger lamin median {r:.2f} s, "
                f"overhead {r - p:+.2f} s ({(r - p) / p * 100:+.1f}%), {(r - p) / jobs * 1000:.1f} ms per job"
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if schema is not None:
            drop_pg_schema(args.db, schema)
    return 0


if __name__ == "__main__":
    sys.exit(main())
