"""A failed save leaves nothing half-written; many processes saving at once lose and duplicate nothing."""

import subprocess
import sys
import textwrap

import pytest
from sqlalchemy.exc import IntegrityError

import lamin_core as ln


def _managed_files(instance):
    folder = instance.storage_root / ".lamindb"
    return sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("lamin.db"))


def test_failed_copy_leaves_no_record(instance, tmp_path):
    src = tmp_path / "vanishing.txt"
    src.write_text("here now")
    artifact = ln.Artifact(src, key="vanishing.txt")
    src.unlink()  # gone before save(): the copy fails
    with pytest.raises(FileNotFoundError):
        artifact.save()
    assert ln.Artifact.filter().all_branches().count() == 0
    assert _managed_files(instance) == []


def test_failed_insert_leaves_no_managed_file(instance, tmp_path):
    src = tmp_path / "orphan.txt"
    src.write_text("would be orphaned")
    artifact = ln.Artifact(src, key="orphan.txt")
    artifact.run_id = 987654  # no such run: the insert fails after the data was copied in
    with pytest.raises(IntegrityError):
        artifact.save()
    assert ln.Artifact.filter().all_branches().count() == 0
    assert _managed_files(instance) == []
    # the instance is still usable afterwards
    ok = ln.Artifact(src, key="orphan.txt").save()
    assert _managed_files(instance) == [f"{ok.uid}.txt"]


WORKER = textwrap.dedent(
    """
    import sys, tempfile, pathlib
    import lamin_core as ln
    worker = int(sys.argv[1])
    folder = pathlib.Path(tempfile.mkdtemp())
    for i in range(25):
        f = folder / f"w{worker}_{i}.txt"
        f.write_text(f"unique {worker} {i}")
        ln.Artifact(f, key=f"w{worker}/{i}.txt").save()
        s = folder / f"shared_{i}.txt"
        s.write_text(f"shared {i}")          # the same content from every worker: one artifact
        ln.Artifact(s, key=f"shared/{i}.txt").save()
        v = folder / "versioned.txt"
        v.write_text(f"version from {worker} {i}")  # new content at one key from every worker: versions
        ln.Artifact(v, key="versioned.txt").save()
    print("ok")
    """
)


def test_processes_saving_at_once(instance, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    procs = [
        subprocess.Popen([sys.executable, str(script), str(w)], env=instance.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(4)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
    assert ln.Artifact.filter(key__startswith="w").count() == 100
    assert ln.Artifact.filter(key__startswith="shared/").count() == 25
    versions = ln.Artifact.filter(key="versioned.txt")
    assert versions.count() == 100
    assert versions.filter(is_latest=True).count() == 1
    assert len({a.uid[:16] for a in versions}) == 1, "all versions share one stem"
    hashes = ln.Artifact.filter().to_list("hash")
    assert len(hashes) == len(set(hashes))
