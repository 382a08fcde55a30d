"""Collections on both backends: members in order, versions by key and by revises=, the same members being
the same collection, describe() and view_lineage(), load() of AnnData and DataFrame members with the source
artifact named per row, open() as a pyarrow dataset, cache(), and a tracked run's collection inputs and outputs."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import lamin_core as ln


def _h5ad(key: str, genes: list[str], offset: int) -> ln.Artifact:
    n = 4
    adata = ad.AnnData(
        np.arange(n * len(genes), dtype=np.float32).reshape(n, len(genes)) + offset,
        obs=pd.DataFrame({"cell_medium": pd.Categorical(["DMSO", "IFNG", "DMSO", "DMSO"])}, index=[f"{key}-{i}" for i in range(n)]),
        var=pd.DataFrame(index=genes),
    )
    return ln.Artifact.from_anndata(adata, key=key).save()


def _parquet(key: str, values: list[int]) -> ln.Artifact:
    return ln.Artifact.from_dataframe(pd.DataFrame({"x": values}), key=key).save()


def test_members_keep_their_order_and_versions_follow_the_key(instance):
    a, b, c = _parquet("a.parquet", [1]), _parquet("b.parquet", [2]), _parquet("c.parquet", [3])
    v1 = ln.Collection([b, a], key="my-collection", description="first").save()
    assert [x.key for x in v1.ordered_artifacts] == ["b.parquet", "a.parquet"]  # the order given, not by id
    assert [x.key for x in v1.ordered_artifacts.all()] == ["b.parquet", "a.parquet"]
    frame = v1.ordered_artifacts.to_dataframe()
    assert list(frame["key"]) == ["b.parquet", "a.parquet"]
    assert ln.Collection([b, a], key="my-collection").save().id == v1.id  # the same members: the same collection
    v2 = ln.Collection([b, a, c], key="my-collection").save()
    assert v2.uid[:-4] == v1.uid[:-4] and v2.uid > v1.uid and v2.is_latest
    assert not ln.Collection.get(v1.id).is_latest
    v3 = ln.Collection([c], revises=v2).save()
    assert v3.key == "my-collection" and v3.stem_uid == v1.stem_uid
    assert [x.id for x in v3.versions] == [v1.id, v2.id, v3.id]
    assert ln.Collection.filter(key="my-collection", is_latest=True).one().id == v3.id
    text = v2.describe(return_str=True)
    assert "artifacts (3)" in text and "b.parquet" in text


def test_bad_members_are_refused_before_writing(instance, tmp_path):
    a = _parquet("a.parquet", [1])
    (tmp_path / "u.txt").write_text("u")
    unsaved = ln.Artifact(tmp_path / "u.txt", key="u.txt")
    with pytest.raises(ValueError, match=r"u.txt \(item 1\) is not saved"):
        ln.Collection([a, unsaved], key="k")
    with pytest.raises(ValueError, match="listed twice"):
        ln.Collection([a, a], key="k")
    with pytest.raises(ValueError, match="needs a key"):
        ln.Collection([a])
    with pytest.raises(ValueError, match="item 0 is a str"):
        ln.Collection(["a.parquet"], key="k")
    assert ln.Collection.filter().count() == 0


def test_load_open_and_cache(instance):
    a1 = _h5ad("one.h5ad", ["g1", "g2", "g3"], 0)
    a2 = _h5ad("two.h5ad", ["g2", "g3", "g4"], 100)
    anndatas = ln.Collection([a1, a2], key="adatas").save()
    outer = anndatas.load()
    assert outer.shape == (8, 4) and list(outer.obs["artifact_uid"]) == [a1.uid] * 4 + [a2.uid] * 4
    inner = anndatas.load(join="inner")
    assert list(inner.var_names) == ["g2", "g3"] and inner.X[4, 0] == 100  # two.h5ad's first row, g2
    assert [p.name for p in anndatas.cache()] == [a1.path.name, a2.path.name]
    with pytest.raises(NotImplementedError, match="streams collections of .parquet"):
        anndatas.open()

    p1, p2 = _parquet("p1.parquet", [1, 2]), _parquet("p2.parquet", [3])
    tables = ln.Collection([p2, p1], key="tables").save()
    df = tables.load()
    assert list(df["x"]) == [3, 1, 2] and list(df["artifact_uid"]) == [p2.uid, p1.uid, p1.uid]
    dataset = tables.open()
    assert sorted(dataset.to_table().column("x").to_pylist()) == [1, 2, 3]
    mixed = ln.Collection([a1, p1], key="mixed").save()
    with pytest.raises(NotImplementedError, match="concatenates collections of .h5ad or of table"):
        mixed.load()


def test_a_tracked_run_records_collections_in_and_out(instance):
    a, b = _parquet("a.parquet", [1]), _parquet("b.parquet", [2])
    before = ln.Collection([a, b], key="inputs").save()
    assert before.run_id is None
    ln.Transform(key="trainer").save()
    run = ln.track(transform="trainer")
    try:
        before.load()
        made = ln.Collection([b], key="outputs").save()
        assert made.run_id == run.id
        made.load()  # the run's own output is not its input
    finally:
        ln.finish()
    run = ln.Run.get(run.id)
    assert [c.key for c in run.input_collections] == ["inputs"]
    assert [c.key for c in run.output_collections] == ["outputs"]
    assert [r.id for r in ln.Collection.get(before.id).input_of_runs] == [run.id]
    assert run.input_artifacts == []  # the collection is the input, not each member
    text = made.describe(return_str=True)
    assert "trainer" in text and run.uid in text
    graph = made.view_lineage()
    lines = graph.to_text()
    assert lines.startswith("collection outputs") and "member artifact b.parquet" in lines
    assert "from run trainer" in lines and "input collection inputs" in lines and "member artifact a.parquet" in lines
