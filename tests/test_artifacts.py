"""Artifacts as users make and use them: files, folders, dataframes, AnnData, versions, trash."""

import pytest

import lamin_core as ln
from lamin_core.errors import InvalidKeyError


def test_file_is_copied_in_and_loads_back(instance, tmp_path):
    src = tmp_path / "notes.txt"
    src.write_text("hello")
    artifact = ln.Artifact(src, key="docs/notes.txt", description="my notes").save()
    assert artifact.managed and artifact.suffix == ".txt" and artifact.size == 5
    assert artifact.hash_type == "blake3" and len(artifact.hash) == 22
    assert len(artifact.uid) == 20 and artifact.uid.endswith("0000")
    path = artifact.path
    assert path.exists() and str(path).startswith(str(instance.storage_root)) and path != src
    assert ln.Artifact.get(key="docs/notes.txt").load() == "hello"
    assert artifact.created_by.handle if hasattr(artifact, "created_by") else artifact.created_by_id is not None


def test_same_content_returns_the_existing_artifact(instance, tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("x,y\n1,2\n")
    b = tmp_path / "b.csv"
    b.write_text("x,y\n1,2\n")
    first = ln.Artifact(a, key="a.csv").save()
    second = ln.Artifact(b, key="b.csv").save()
    assert second.id == first.id
    assert ln.Artifact.filter().count() == 1


def test_new_content_under_a_key_is_a_new_version(instance, tmp_path):
    f = tmp_path / "d.json"
    f.write_text('{"v": 1}')
    v1 = ln.Artifact(f, key="cfg/d.json").save()
    f.write_text('{"v": 2}')
    v2 = ln.Artifact(f, key="cfg/d.json").save()
    assert v2.uid[:16] == v1.uid[:16] and v2.uid != v1.uid
    v1 = ln.Artifact.get(v1.uid)
    assert not v1.is_latest and v2.is_latest
    assert ln.Artifact.get(key="cfg/d.json").load() == {"v": 2}
    assert [a.uid for a in v2.versions] == [v1.uid, v2.uid]
    # revises= without a key
    f.write_text('{"v": 3}')
    v3 = ln.Artifact(f, revises=v2).save()
    assert v3.uid[:16] == v1.uid[:16] and v3.key == "cfg/d.json"
    assert ln.Artifact.get(key="cfg/d.json").uid == v3.uid
    assert v3.versions.count() == 3


def test_dataframe_roundtrip_and_open(instance):
    df = ln.examples.datasets.mini_immuno.get_dataset1(with_typo=True)
    artifact = ln.Artifact.from_dataframe(df, key="my_datasets/rnaseq1.parquet").save()
    assert artifact.otype == "DataFrame" and artifact.suffix == ".parquet"
    loaded = ln.Artifact.get(key="my_datasets/rnaseq1.parquet").load()
    assert list(loaded.index) == ["sample1", "sample2", "sample3"]
    assert list(loaded["perturbation"]) == ["DMSO", "IFNJ", "DMSO"]
    assert artifact.open().to_table().num_rows == 3
    assert artifact.cache().suffix == ".parquet"


def test_anndata_roundtrip_and_backed_open(instance):
    adata = ln.examples.datasets.mini_immuno.get_dataset1(otype="AnnData")
    artifact = ln.Artifact.from_anndata(adata, key="my_datasets/rnaseq1.h5ad").save()
    assert artifact.otype == "AnnData"
    assert artifact.load().shape == (3, 3)
    backed = artifact.open()
    assert backed.isbacked and backed.n_obs == 3
    backed.file.close()


def test_folder_artifact(instance, tmp_path):
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.png").write_bytes(b"a")
    (folder / "sub" / "b.png").write_bytes(b"bb")
    artifact = ln.Artifact(folder, key="my_images").save()
    assert artifact.n_files == 2 and artifact.size == 3 and artifact.hash_type == "blake3-dir"
    assert sorted(p.name for p in artifact.cache().rglob("*.png")) == ["a.png", "b.png"]
    # renaming a file inside changes the folder's hash
    (folder / "a.png").rename(folder / "c.png")
    assert ln.Artifact(folder, key="my_images").hash != artifact.hash


def test_file_inside_a_storage_location_is_registered_in_place(instance):
    data = instance.storage_root / "raw" / "reads.fastq"
    data.parent.mkdir()
    data.write_text("@r1\nACGT\n+\nIIII\n")
    artifact = ln.Artifact(data).save()
    assert not artifact.managed and artifact.key == "raw/reads.fastq"
    assert artifact.path == data
    artifact.delete(permanent=True)
    assert data.exists(), "data registered in place is never deleted"


def test_trash_and_restore(instance, tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("trash me")
    artifact = ln.Artifact(f, key="t.txt").save()
    artifact.description = "updated"
    artifact.save()
    assert ln.Artifact.get(key="t.txt").description == "updated"
    artifact.delete()
    assert not ln.Artifact.filter(key="t.txt").exists()
    assert ln.Artifact.filter(key="t.txt", branch__name="trash").count() == 1
    artifact.restore()
    assert ln.Artifact.filter(key="t.txt").count() == 1
    path = artifact.path
    artifact.delete(permanent=True)
    assert not path.exists()
    assert ln.Artifact.filter(key="t.txt").all_branches().count() == 0


def test_saving_trashed_content_again_restores_it(instance, tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("x")
    a = ln.Artifact(f, key="x.txt").save()
    a.delete()
    b = ln.Artifact(f, key="x.txt").save()
    assert b.id == a.id and ln.Artifact.filter(key="x.txt").count() == 1


def test_permanent_delete_of_latest_makes_previous_latest(instance, tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("1")
    v1 = ln.Artifact(f, key="p.txt").save()
    f.write_text("2")
    v2 = ln.Artifact(f, key="p.txt").save()
    v2.delete(permanent=True)
    assert ln.Artifact.get(key="p.txt").uid == v1.uid


@pytest.mark.parametrize("key", ["/abs.txt", "a/../../b.txt", "a//b.txt", "", "a\x00b", ".lamindb/x", "x" * 1025])
def test_bad_keys_are_refused_before_anything_is_written(instance, tmp_path, key):
    f = tmp_path / "k.txt"
    f.write_text("k")
    with pytest.raises(InvalidKeyError) as e:
        ln.Artifact(f, key=key)
    assert isinstance(e.value, ValueError)
    assert ln.Artifact.filter().count() == 0


def test_missing_path_is_a_clear_error(instance, tmp_path):
    with pytest.raises(FileNotFoundError, match="no file or folder at"):
        ln.Artifact(tmp_path / "nope.txt", key="nope.txt")


def test_save_many_in_one_call(instance, tmp_path):
    artifacts = []
    for i in range(20):
        f = tmp_path / f"f{i}.txt"
        f.write_text(f"content {i}")
        artifacts.append(ln.Artifact(f, key=f"batch/f{i}.txt"))
    artifacts.append(ln.Artifact(tmp_path / "f0.txt", key="batch/dup.txt"))  # same content as f0
    saved = ln.save(artifacts)
    assert len(saved) == 21 and saved[-1].id == saved[0].id
    assert ln.Artifact.filter(key__startswith="batch/").count() == 20


def test_storage_registry_and_upath(instance, tmp_path):
    df = ln.Storage.to_dataframe()
    assert str(instance.storage_root) in set(df["root"])
    (tmp_path / "tree" / "a").mkdir(parents=True)
    (tmp_path / "tree" / "a" / "x.txt").write_text("x")
    ln.UPath(tmp_path / "tree").view_tree()
    assert ln.UPath(tmp_path / "tree" / "a" / "x.txt").read_text() == "x"


def test_load_of_unknown_suffix_says_what_to_do(instance, tmp_path):
    f = tmp_path / "blob.bin"
    f.write_bytes(b"\x00\x01")
    artifact = ln.Artifact(f, key="blob.bin").save()
    with pytest.raises(NotImplementedError, match="cache"):
        artifact.load()
    assert artifact.cache().read_bytes() == b"\x00\x01"
