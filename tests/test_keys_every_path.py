"""Keys stay valid after a save: every write path applies the key rules and refuses with nothing changed.

Paths: attribute update + `save()` (new and stored artifacts), `ln.save([...])`, `lamin save --key`, the
Snakemake storage plugin, the recording path. A managed artifact may be renamed: only its record changes.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

import lamin_core as ln
from lamin_core.errors import InvalidKeyError

BAD_KEYS = ["../../etc/passwd.txt", "/etc/passwd.txt", ".lamindb/x.txt", "a//b.txt", "a/./b.txt", "a\\b.txt", "x\x00.txt"]
LAMIN = str(Path(sys.executable).parent / "lamin")


def stored_keys() -> dict[int, str | None]:
    """The keys as the database has them, read with SQL (not through objects the session may hold)."""
    from lamin_core.db import engine as db

    with db.read() as s:
        return dict(s.execute(text("SELECT id, key FROM artifacts")).all())


def managed_files(root: Path) -> list[str]:
    """The artifacts' data under `.lamindb/` (not the SQLite database, not empty staging folders)."""
    from lamin_core.storage.managed import uid_of_managed_name

    folder = root / ".lamindb"
    found = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    return sorted(f for f in found if not f.startswith("lamin.db"))


def write(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


@pytest.mark.parametrize("bad", BAD_KEYS)
def test_changing_a_saved_key_to_a_bad_one_is_refused(instance, tmp_path, bad):
    artifact = ln.Artifact(write(tmp_path / "a.txt", "a"), key="data/a.txt").save()
    before = stored_keys()
    artifact.key = bad
    with pytest.raises(InvalidKeyError):
        artifact.save()
    assert stored_keys() == before
    assert artifact.key == "data/a.txt", "the refused key is not kept on the object"
    # a later save of something else in the same session does not write it either
    artifact.description = "still here"
    artifact.save()
    assert stored_keys() == before
    assert ln.Artifact.get(key="data/a.txt").description == "still here"


def test_renaming_a_managed_artifact_changes_only_the_record(instance, tmp_path):
    artifact = ln.Artifact(write(tmp_path / "a.txt", "hello"), key="data/a.txt").save()
    path_before = artifact.path
    artifact.key = "renamed/b.txt"
    artifact.save()
    assert stored_keys() == {artifact.id: "renamed/b.txt"}
    assert artifact.path == path_before and path_before.exists(), "the stored object is named by uid, not by key"
    assert managed_files(instance.storage_root) == [path_before.name]
    assert ln.Artifact.get(key="renamed/b.txt").load() == "hello"
    assert ln.Artifact.filter(key="data/a.txt").count() == 0


def test_a_key_set_before_the_first_save_is_checked(instance, tmp_path):
    artifact = ln.Artifact(write(tmp_path / "a.txt", "a"), key="ok/a.txt")
    artifact.key = "../../etc/passwd.txt"
    with pytest.raises(InvalidKeyError, match=r"'\.\.'"):
        artifact.save()
    assert stored_keys() == {} and managed_files(instance.storage_root) == []
    artifact.key = "ok/a.txt"  # fixed: the same object saves
    assert artifact.save().key == "ok/a.txt" and len(managed_files(instance.storage_root)) == 1


def test_an_artifact_registered_in_place_keeps_its_key(instance, tmp_path):
    in_place = write(instance.storage_root / "raw" / "x.csv", "x\n1\n")  # inside the storage root: registered in place
    fresh = ln.Artifact(in_place)
    assert not fresh.managed and fresh.key == "raw/x.csv"
    fresh.key = "elsewhere/x.csv"
    with pytest.raises(InvalidKeyError, match="registered in place"):
        fresh.save()
    assert stored_keys() == {}
    saved = ln.Artifact(in_place).save()
    saved.key = "elsewhere/x.csv"
    with pytest.raises(InvalidKeyError, match="registered in place"):
        saved.save()
    assert stored_keys() == {saved.id: "raw/x.csv"} and saved.key == "raw/x.csv"


def test_ln_save_checks_every_key_before_writing_any(instance, tmp_path):
    good = ln.Artifact(write(tmp_path / "g.txt", "g"), key="g.txt")
    bad = ln.Artifact(write(tmp_path / "b.txt", "b"), key="b.txt")
    bad.key = "../b.txt"
    with pytest.raises(InvalidKeyError):
        ln.save([good, bad])
    assert stored_keys() == {} and managed_files(instance.storage_root) == []
    saved = ln.save([good])[0]
    saved.key = "/abs/g.txt"
    with pytest.raises(InvalidKeyError, match="absolute"):
        ln.save([saved])
    assert stored_keys() == {saved.id: "g.txt"}


def test_lamin_save_key_refuses_a_bad_key(instance, tmp_path):
    data = write(tmp_path / "d.csv", "a\n1\n")
    result = subprocess.run([LAMIN, "save", str(data), "--key", "../../d.csv"], env=instance.env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: ") and "'..'" in result.stderr
    assert stored_keys() == {} and managed_files(instance.storage_root) == []


def test_snakemake_storage_plugin_refuses_a_bad_key(instance, tmp_path):
    from snakemake_storage_plugin_lamin import StorageProvider
    from snakemake_storage_plugin_lamin.artifacts import store

    verdict = StorageProvider.is_valid_query("lamin://../../etc/passwd.txt")
    assert not verdict.valid and "'..'" in verdict.reason
    assert StorageProvider.is_valid_query("lamin://results/out.txt").valid
    output = write(tmp_path / "job" / "out.txt", "out")
    with pytest.raises(InvalidKeyError):
        store("lamin://.lamindb/out.txt", ".lamindb/out.txt", output)  # a query that skipped the parse-time check
    assert stored_keys() == {} and managed_files(instance.storage_root) == []


def test_the_recording_path_refuses_a_name_that_would_escape(instance):
    from lamin_core.lineage import Dataset, Job, LineageEvent, RunInfo, record

    event = LineageEvent("COMPLETE", datetime.now(timezone.utc), Job("ns", "j"), RunInfo("r-escape", "test"),
                         outputs=[Dataset("s3://bucket", "data/../../escape.txt")])
    with pytest.raises(InvalidKeyError):
        record(event)
    assert stored_keys() == {} and ln.Run.filter(reference="r-escape").count() == 0


def test_a_bad_key_never_reaches_the_database_through_another_save(instance, tmp_path, caplog):
    artifact = ln.Artifact(write(tmp_path / "a.txt", "a"), key="a.txt").save()
    artifact.key = "../a.txt"  # changed, never saved; then something else is saved in the same session
    assert ln.ULabel(name="unrelated").save().id is not None
    assert stored_keys() == {artifact.id: "a.txt"} and artifact.key == "a.txt"
    assert "was not saved" in caplog.text and "'..'" in caplog.text
