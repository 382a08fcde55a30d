"""A killed save leaves nothing behind that `lamin gc` cannot find, and never a record without its data.

A saving process is killed with SIGKILL at points spread over its whole save (before, during and after
the copy or upload, around the commit). Afterwards `gc` removes the leftovers, and then: every file under
the storage root belongs to a record, every record's file exists with its recorded size and hash, and the
next save of the same content works. Local storage (SQLite and PostgreSQL), moto and SeaweedFS.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import lamin_core as ln
from lamin_core.artifacts.gc import collect
from lamin_core.storage import hashing
from lamin_core.storage.managed import uid_of_managed_name

SAVER = textwrap.dedent("""
    import sys
    import lamin_core as ln
    ln.Artifact.filter().count()  # connected before the clock starts
    print("go", flush=True)
    ln.Artifact(sys.argv[1], key=sys.argv[2]).save()
    print("done", flush=True)
""")
HOLDER = textwrap.dedent("""
    import pandas as pd
    import lamin_core as ln
    ln.Artifact.from_dataframe(pd.DataFrame({"a": [1, 2]}), key="held.parquet")  # a scratch file, not saved yet
    print("holding", flush=True)
    sys_stdin = __import__("sys").stdin.read()
""")
LOCAL_SIZE = 80 * 1024 * 1024  # above DEFER_HASH_FROM: hashed while it is copied
S3_SIZE = 104 * 1024 * 1024  # above twice s3fs's 50 MiB part size: a multipart upload


def make_content(path: Path, size: int, seed: int) -> Path:
    with open(path, "wb") as f:
        f.write(seed.to_bytes(8, "little") + os.urandom(8))
        f.truncate(size)
    return path


def start(script: str, env: dict[str, str], *args: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", script, *args], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline().strip()  # type: ignore[union-attr]
    assert first in ("go", "holding"), proc.stderr.read()  # type: ignore[union-attr]
    return proc


def timed_save(env: dict[str, str], path: Path, key: str) -> float:
    proc = start(SAVER, env, str(path), key)
    t0 = time.perf_counter()
    assert proc.stdout.readline().strip() == "done", proc.stderr.read()  # type: ignore[union-attr]
    elapsed = time.perf_counter() - t0
    proc.wait(timeout=60)
    return elapsed


def kill_saves(env: dict[str, str], tmp_path: Path, size: int, rounds: int, seed: int) -> int:
    """Kill `rounds` saves at delays spread from 0 to a bit past a whole save's duration; returns kills made."""
    rng = random.Random(seed)
    duration = timed_save(env, make_content(tmp_path / "warmup.bin", size, seed), "big.bin")
    delays = [duration * 1.1 * i / max(rounds - 1, 1) * rng.uniform(0.9, 1.0) for i in range(rounds)]
    kills = 0
    for i, delay in enumerate(delays):
        source = make_content(tmp_path / f"round{i}.bin", size, seed * 100 + i)
        proc = start(SAVER, env, str(source), "big.bin")
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
    return kills


def check_local_storage(root: Path) -> None:
    records = {a.uid: a for a in ln.Artifact.filter(managed=True).all()}
    files = [p for p in root.rglob("*") if p.is_file() and not p.name.startswith("lamin.db")]
    for p in files:
        rel = p.relative_to(root).as_posix()
        uid = uid_of_managed_name(rel.removeprefix(".lamindb/"))
        assert rel.startswith(".lamindb/") and uid in records, f"{rel}: no record names it"
    for uid, a in records.items():
        path = Path(a.path)
        assert path.exists(), f"artifact {uid} has no data"
        assert path.stat().st_size == a.size and hashing.hash_file(path) == a.hash


def save_again_works(tmp_path: Path) -> None:
    content = make_content(tmp_path / "again.bin", 3 * 1024 * 1024, 7)
    first = ln.Artifact(content, key="again.bin").save()
    again = ln.Artifact(content, key="again.bin").save()
    assert again.id == first.id and Path(first.cache()).read_bytes() == content.read_bytes()


def test_killed_saves_on_local_storage_leave_nothing_behind(instance, tmp_path, capsys):
    kills = kill_saves(instance.env, tmp_path, LOCAL_SIZE, rounds=7, seed=1 if instance.backend == "sqlite" else 2)
    found = collect(dry_run=True, older_than=0)
    report = collect(older_than=0)
    assert report.removed == len(found.found)
    check_local_storage(instance.storage_root)
    save_again_works(tmp_path)
    check_local_storage(instance.storage_root)
    with capsys.disabled():
        print(f"\n[{instance.backend}] local: {kills} kills survived, {len(found.found)} leftovers found and removed")


def test_gc_leaves_a_live_save_and_young_data_alone(instance, tmp_path):
    holder = start(HOLDER, instance.env)
    staging = instance.storage_root / ".lamindb" / "_staging"
    held = [p for p in staging.rglob("*") if p.is_file()]
    assert len(held) == 1
    orphan = instance.storage_root / ".lamindb" / "AAAAAAAAAAAAAAAA0000.bin"  # unrecorded, but just written
    orphan.write_bytes(b"x")
    report = collect(older_than=0)
    assert held[0].exists() and report.kept_live == 1, "a save in progress keeps its staging"
    assert not orphan.exists() and report.removed == 1
    orphan.write_bytes(b"x")
    assert collect().found == [] and orphan.exists(), "younger than the grace period: left alone"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
    dry = collect(dry_run=True)
    assert [g.reason for g in dry.found] == ["staging of a process that is gone"] and held[0].exists()
    assert collect().removed == 1 and not held[0].exists()


def test_lamin_gc_cli(instance, tmp_path):
    lamin = str(Path(sys.executable).parent / "lamin")
    orphan = instance.storage_root / ".lamindb" / "BBBBBBBBBBBBBBBB0000.txt"
    orphan.write_text("left by a crash")
    old = time.time() - 7200
    os.utime(orphan, (old, old))
    kept = ln.Artifact(make_content(tmp_path / "k.bin", 1024, 3), key="k.bin").save()
    os.utime(kept.path, (old, old))
    dry = subprocess.run([lamin, "gc", "--dry-run"], env=instance.env, capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0 and "would remove 1 leftover" in dry.stdout and str(orphan) in dry.stdout, dry.stderr
    assert orphan.exists()
    run = subprocess.run([lamin, "gc"], env=instance.env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "removed 1 leftover" in run.stdout, run.stderr
    assert not orphan.exists() and kept.path.exists()


def test_the_automatic_sweep_runs_at_most_once_a_day(instance, tmp_path):
    from lamin_core.artifacts import gc
    from lamin_core.setup.settings import cache_dir

    orphan = instance.storage_root / ".lamindb" / "CCCCCCCCCCCCCCCC0000.txt"
    orphan.write_text("left by a crash")
    old = time.time() - 2 * gc.GRACE_SECONDS
    os.utime(orphan, (old, old))
    ln.Artifact(make_content(tmp_path / "a.bin", 10, 1), key="a.bin").save()  # first save here: starts the clock
    stamp = cache_dir() / f"gc-{instance.name}.stamp"
    assert stamp.exists() and orphan.exists()
    day_ago = time.time() - gc.SWEEP_EVERY - 60
    os.utime(stamp, (day_ago, day_ago))
    ln.Artifact(make_content(tmp_path / "b.bin", 10, 2), key="b.bin").save()  # a day later: sweeps
    sweeper = next((t for t in __import__("threading").enumerate() if t.name == "lamin-gc"), None)
    if sweeper is not None:
        sweeper.join(timeout=60)
    assert not orphan.exists() and time.time() - stamp.stat().st_mtime < gc.SWEEP_EVERY


# ---- S3 ----


def s3_objects(client, bucket: str) -> list[dict]:
    return client.list_objects_v2(Bucket=bucket).get("Contents", [])


def check_s3_storage(client, bucket: str, prefix: str) -> None:
    records = {a.uid: a for a in ln.Artifact.filter(managed=True).all()}
    for obj in s3_objects(client, bucket):
        rel = obj["Key"].removeprefix(prefix + "/")
        uid = uid_of_managed_name(rel.removeprefix(".lamindb/"))
        assert rel.startswith(".lamindb/") and uid in records, f"{obj['Key']}: no record names it"
    for uid, a in records.items():
        head = client.head_object(Bucket=bucket, Key=f"{prefix}/.lamindb/{uid}{a.suffix}")
        assert head["ContentLength"] == a.size
        assert hashing.hash_file(a.cache()) == a.hash
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def s3_kills(server, tmp_path: Path, monkeypatch, rounds: int, label: str) -> None:
    from lamin_core.db import engine as database
    from lamin_core.setup import init
    from lamin_core.testing import _reset_fs_cache

    for k, v in server.env.items():
        monkeypatch.setenv(k, v)
    _reset_fs_cache()
    bucket = server.make_bucket()
    monkeypatch.setenv("LAMIN_HOME", str(tmp_path / "home"))
    init(storage=f"s3://{bucket}/lamin", name="s3crash")
    try:
        env = {**os.environ}
        kills = kill_saves(env, tmp_path, S3_SIZE, rounds=rounds, seed=3)
        client = server.client()
        found = collect(dry_run=True, older_than=0)
        collect(older_than=0)
        check_s3_storage(client, bucket, "lamin")
        save_again_works(tmp_path)
        check_s3_storage(client, bucket, "lamin")
        print(f"\n[{label}] {kills} kills survived, {len(found.found)} leftovers found and removed")
    finally:
        database.configure(None)
        _reset_fs_cache()
        drop_bucket(server, bucket)


def drop_bucket(server, bucket: str) -> None:
    """Give the server its space back: SeaweedFS runs with few volumes, and a bucket holds some of them."""
    client = server.client()
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for obj in s3_objects(client, bucket):
        client.delete_object(Bucket=bucket, Key=obj["Key"])
    client.delete_bucket(Bucket=bucket)


def test_killed_saves_on_moto_leave_nothing_behind(s3, tmp_path, monkeypatch, capsys):
    with capsys.disabled():
        s3_kills(s3, tmp_path, monkeypatch, rounds=5, label="moto")


def test_killed_saves_on_seaweedfs_leave_nothing_behind(seaweedfs, tmp_path, monkeypatch, capsys):
    with capsys.disabled():
        s3_kills(seaweedfs, tmp_path, monkeypatch, rounds=4, label="seaweedfs")
