"""Artifacts on S3 served on loopback: a remote default storage, and objects registered in place."""

import boto3
import pytest

import lamin_core as ln
from lamin_core.testing import make_instance


@pytest.fixture
def s3_instance(s3, tmp_path, monkeypatch):
    bucket = s3.make_bucket()
    from lamin_core.db import engine as database
    from lamin_core.setup import init

    monkeypatch.setenv("LAMIN_HOME", str(tmp_path / "home"))
    settings = init(storage=f"s3://{bucket}/lamin", name="s3test")
    yield bucket
    database.configure(None)


def test_save_uploads_into_s3_storage_and_loads_back(s3, s3_instance, tmp_path):
    df = ln.examples.datasets.mini_immuno.get_dataset1()
    artifact = ln.Artifact.from_dataframe(df, key="my_datasets/d1.parquet").save()
    assert str(artifact.path).startswith(f"s3://{s3_instance}/lamin/.lamindb/")
    client = boto3.client("s3", endpoint_url=s3.endpoint)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_instance)["Contents"]]
    assert f"lamin/.lamindb/{artifact.uid}.parquet" in keys
    local = artifact.cache()
    assert local.exists() and str(local).startswith(str(tmp_path / "home" / "cache"))
    assert list(ln.Artifact.get(key="my_datasets/d1.parquet").load().index) == ["sample1", "sample2", "sample3"]
    assert artifact.open().to_table().num_rows == 3
    path = artifact.path
    artifact.delete(permanent=True)
    assert not path.exists()


def test_remote_objects_are_registered_in_place(s3, instance):
    bucket = s3.make_bucket()
    client = boto3.client("s3", endpoint_url=s3.endpoint)
    client.put_object(Bucket=bucket, Key="iris_studies/study0_raw_images/a.jpg", Body=b"a")
    client.put_object(Bucket=bucket, Key="iris_studies/study0_raw_images/b.jpg", Body=b"bb")
    client.put_object(Bucket=bucket, Key="iris_studies/meta.csv", Body=b"x,y\n1,2\n")
    folder = ln.Artifact(f"s3://{bucket}/iris_studies/study0_raw_images").save()
    assert folder.n_files == 2 and folder.size == 3 and not folder.managed
    assert str(folder.path) == f"s3://{bucket}/iris_studies/study0_raw_images"
    one = ln.Artifact(f"s3://{bucket}/iris_studies/meta.csv", description="meta").save()
    assert one.key == "iris_studies/meta.csv" and one.hash_type == "md5"
    assert one.load().shape == (1, 2)
    assert f"s3://{bucket}" in set(ln.Storage.to_dataframe()["root"])
    ln.UPath(f"s3://{bucket}/iris_studies").view_tree()
    one.delete(permanent=True)
    assert client.get_object(Bucket=bucket, Key="iris_studies/meta.csv")["Body"].read() == b"x,y\n1,2\n"


@pytest.fixture
def seaweed_env(seaweedfs, monkeypatch):
    from lamin_core.testing import _reset_fs_cache

    for k, v in seaweedfs.env.items():
        monkeypatch.setenv(k, v)
    _reset_fs_cache()
    yield seaweedfs
    _reset_fs_cache()


def test_seaweedfs_storage_with_credentials(seaweed_env, tmp_path, monkeypatch):
    """A persistent, authenticated S3 server: save, version, load; wrong keys are refused."""
    from lamin_core.db import engine as database
    from lamin_core.errors import StorageError
    from lamin_core.setup import init
    from lamin_core.testing import _reset_fs_cache

    bucket = seaweed_env.make_bucket()
    monkeypatch.setenv("LAMIN_HOME", str(tmp_path / "home"))
    init(storage=f"s3://{bucket}/data", name="seaweed")
    try:
        f = tmp_path / "counts.csv"
        f.write_text("gene,count\nCD8A,1\n")
        v1 = ln.Artifact(f, key="counts.csv").save()
        f.write_text("gene,count\nCD8A,2\n")
        v2 = ln.Artifact(f, key="counts.csv").save()
        assert v2.versions.count() == 2
        assert ln.Artifact.get(key="counts.csv").load()["count"].tolist() == [2]
        objects = seaweed_env.client().list_objects_v2(Bucket=bucket)["Contents"]
        assert {f"data/.lamindb/{v1.uid}.csv", f"data/.lamindb/{v2.uid}.csv"} <= {o["Key"] for o in objects}
        # wrong credentials: a clear error, and no record without data
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
        _reset_fs_cache()
        f.write_text("gene,count\nCD8A,3\n")
        with pytest.raises(Exception) as e:
            ln.Artifact(f, key="counts.csv").save()
        assert "denied" in str(e.value).lower() or "signature" in str(e.value).lower() or isinstance(e.value, (PermissionError, StorageError))
        assert ln.Artifact.filter(key="counts.csv").count() == 2  # no third version was recorded
        assert ln.Artifact.get(key="counts.csv").uid == v2.uid
    finally:
        database.configure(None)


def test_memory_uri_is_registered_in_place(instance):
    """Any fsspec file system works: here memory://, which has no checksum of its own."""
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/lamin-test/table.csv", b"a,b\n1,2\n")
    artifact = ln.Artifact("memory://lamin-test/table.csv", description="in memory").save()
    assert not artifact.managed and artifact.size == 8 and artifact.key == "table.csv"
    assert artifact.load().to_dict("list") == {"a": [1], "b": [2]}
    assert ln.Artifact.get(artifact.uid).description == "in memory"
