"""Registry core benchmarks (issue 2): `python benchmarks/core.py [--backend sqlite|postgresql] [--big-mib 1024]`.

Prints one line per figure. Each figure runs in a fresh instance under a temporary LAMIN_HOME.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent


def report(name: str, value: float, unit: str, goal: str) -> None:
    print(f"{name:<58} {value:>12,.2f} {unit:<6} (goal {goal})", flush=True)


def import_cost() -> None:
    code = (
        "import time, sys, resource; t = time.perf_counter(); import lamin_core; "
        "print(time.perf_counter() - t, len(sys.modules), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    runs = []
    for _ in range(7):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        runs.append((float(out[0]), int(out[1]), int(out[2])))
    wall = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import lamin_core"], check=True)
        wall.append(time.perf_counter() - t)
    report("import lamin_core (in process)", statistics.median(r[0] for r in runs) * 1000, "ms", "< 100 ms")
    report('python -c "import lamin_core" (whole process)', statistics.median(wall) * 1000, "ms", "< 100 ms")
    report("  modules loaded", statistics.median(r[1] for r in runs), "", "few")
    report("  peak RSS", statistics.median(r[2] for r in runs) / 1024, "MB", "< 40 MB")


def init_cost(tmp: Path, db_url: str | None) -> None:
    times = []
    for i in range(5):
        env = {**os.environ, "LAMIN_HOME": str(tmp / f"home-init-{i}")}
        cmd = [sys.executable, "-m", "lamin_core.cli.main", "init", "--storage", str(tmp / f"init-{i}")]
        if db_url:
            cmd += ["--db", _fresh_pg_schema(db_url)]
        t = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    report("lamin init", statistics.median(times) * 1000, "ms", "< 300 ms")


def _fresh_pg_schema(db_url: str) -> str:
    import psycopg

    schema = f"lamin_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{db_url}?options=-csearch_path%3D{schema},public"


def fresh_instance(tmp: Path, name: str, db_url: str | None) -> None:
    import lamin_core as ln

    os.environ["LAMIN_HOME"] = str(tmp / f"home-{name}")
    ln.setup.init(storage=str(tmp / f"storage-{name}"), db=_fresh_pg_schema(db_url) if db_url else None, name=name)


def small_files(tmp: Path, n: int, tag: str) -> list[Path]:
    folder = tmp / f"files-{tag}"
    folder.mkdir()
    paths = []
    for i in range(n):
        p = folder / f"f{i}.bin"
        p.write_bytes(os.urandom(8192))
        paths.append(p)
    return paths


def save_rates(tmp: Path, db_url: str | None) -> None:
    import lamin_core as ln

    fresh_instance(tmp, "one-by-one", db_url)
    paths = small_files(tmp, 1000, "a")
    t = time.perf_counter()
    for i, p in enumerate(paths):
        ln.Artifact(p, key=f"one/{i}.bin").save()
    report("1,000 files of 8 KB, Artifact(path, key).save() one by one", 1000 / (time.perf_counter() - t), "/s", "> 1,000 /s")

    fresh_instance(tmp, "bulk", db_url)
    paths = small_files(tmp, 1000, "b")
    t0 = time.perf_counter()
    built = [ln.Artifact(p, key=f"bulk/{i}.bin") for i, p in enumerate(paths)]
    t1 = time.perf_counter()
    ln.save(built)
    t2 = time.perf_counter()
    report("the same built first, then ln.save(list): the save call", 1000 / (t2 - t1), "/s", "> 5,000 /s")
    report("  building (hashing) + ln.save(list) together", 1000 / (t2 - t0), "/s", "")


def dataframe_save(tmp: Path, db_url: str | None) -> None:
    import numpy as np
    import pandas as pd

    import lamin_core as ln

    fresh_instance(tmp, "df", db_url)
    rng = np.random.default_rng(0)
    times = []
    for i in range(60):
        df = pd.DataFrame(rng.random((1000, 20)), columns=[f"c{j}" for j in range(20)])
        t = time.perf_counter()
        ln.Artifact.from_dataframe(df, key=f"df/{i}.parquet").save()
        times.append(time.perf_counter() - t)
    report("Artifact.from_dataframe(1000x20 df).save()", statistics.median(times[10:]) * 1000, "ms", "< 4 ms")


def big_file(tmp: Path, mib: int, db_url: str | None) -> None:
    import lamin_core as ln
    from lamin_core.storage.hashing import hash_file

    path = tmp / "big.bin"
    block = os.urandom(64 * 1024 * 1024)
    with open(path, "wb") as f:
        for _ in range(max(mib // 64, 1)):
            f.write(block)
    size = path.stat().st_size
    os.sync()  # let the write-back of the new file finish: the figures are about reading a cached file
    hash_file(path)  # warm the page cache
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        hash_file(path)
        runs.append(time.perf_counter() - t)
    report(f"hashing a cached {mib} MiB file, whole content", size / min(runs) / 1e9, "GB/s", "> 3 GB/s")
    fresh_instance(tmp, "big", db_url)
    runs = []
    for i in range(3):
        with open(path, "r+b") as f:  # new content each time (a new version), still cached
            f.seek(-8, os.SEEK_END)
            f.write(i.to_bytes(8, "big"))
        t = time.perf_counter()
        artifact = ln.Artifact(path, key="big.bin").save()
        runs.append(time.perf_counter() - t)
        assert artifact.hash == hash_file(path)
    report(f"saving a {mib} MiB file into storage (copy + hash, one pass), best of 3", min(runs), "s", "< 0.6 s at 1 GiB")
    report("  median of 3", statistics.median(runs), "s", "")
    # the same pipeline where writes cannot be throttled by the disk's write-back: storage on tmpfs
    shm = Path("/dev/shm")
    if shm.is_dir() and not str(tmp).startswith("/dev/shm"):
        with tempfile.TemporaryDirectory(dir=shm) as d:
            fresh_instance(Path(d), "big-shm", db_url)
            t = time.perf_counter()
            ln.Artifact(path, key="big-shm.bin").save()
            report("  the same with the storage on tmpfs (no disk write-back)", time.perf_counter() - t, "s", "")
    os.unlink(path)


def get_by_key(tmp: Path, n: int, db_url: str | None) -> None:
    import lamin_core as ln
    from lamin_core import ids
    from lamin_core.db import engine as database
    from lamin_core.models import Artifact

    fresh_instance(tmp, "get", db_url)
    ln.Storage.filter().first()  # creates the engine, the user and the default storage row
    storage_id = ln.Storage.filter().first().id
    rows = [
        dict(uid=ids.versioned_uid(16), key=f"data/{i:07d}.parquet", storage_id=storage_id, suffix=".parquet",
             size=1, hash=ids.base62(22), hash_type="blake3", is_latest=True, managed=True, branch_id=1)
        for i in range(n)
    ]
    with database.engine().begin() as conn:
        for start in range(0, n, 10_000):
            conn.execute(Artifact.__table__.insert(), rows[start : start + 10_000])
    keys = [f"data/{i:07d}.parquet" for i in range(0, n, max(n // 500, 1))]
    ln.Artifact.get(key=keys[0])
    t = time.perf_counter()
    for k in keys:
        ln.Artifact.get(key=k)
    report(f"get(key=...) with {n:,} artifacts", (time.perf_counter() - t) / len(keys) * 1000, "ms", "< 1 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--n-get", type=int, default=100_000)
    args = parser.parse_args()
    db_url = args.pg if args.backend == "postgresql" else None
    print(f"# lamin-core registry core, backend {args.backend}")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP", "/tmp")) as d:
        tmp = Path(d)
        import_cost()
        init_cost(tmp, db_url)
        save_rates(tmp, db_url)
        dataframe_save(tmp, db_url)
        big_file(tmp, args.big_mib, db_url)
        get_by_key(tmp, args.n_get, db_url)


if __name__ == "__main__":
    main()
