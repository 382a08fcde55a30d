"""`collection.mapped()` on both backends: the map-style dataset protocol that torch's DataLoader relies on
(len, getitem, getitems in the order asked, labels encoded over all members, label weights for a weighted
sampler), inner and outer joins of the members' variables, sparse and dense X, layers, closing, and the
dataset pickled into worker processes that reopen the files themselves. torch is not a dependency (its
Linux wheel and its CUDA libraries are gigabytes): the last test runs a real DataLoader with workers and is
selected with LAMIN_TEST_TORCH=1 (tests/conftest.py); the protocol tests run everywhere."""

from __future__ import annotations

import multiprocessing
import pickle

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import lamin_core as ln


def _member(key: str, genes: list[str], media: list[str], offset: int, sparse: bool) -> ln.Artifact:
    n = len(media)
    dense = ((np.arange(n * len(genes)).reshape(n, len(genes)) + offset) * (np.arange(len(genes)) % 2)).astype(np.float32)
    adata = ad.AnnData(
        sp.csr_matrix(dense) if sparse else dense,
        obs=pd.DataFrame({"cell_medium": pd.Categorical(media), "donor": [f"d{i % 2}" for i in range(n)]},
                         index=[f"{key}-{i}" for i in range(n)]),
        var=pd.DataFrame(index=genes),
        layers={"counts": (sp.csr_matrix(dense * 10) if sparse else dense * 10)},
    )
    return ln.Artifact.from_anndata(adata, key=key).save()


def _collection(sparse: bool = True) -> ln.Collection:
    a1 = _member("one.h5ad", ["g1", "g2", "g3", "g4"], ["DMSO", "IFNG", "DMSO"], 0, sparse)
    a2 = _member("two.h5ad", ["g2", "g4", "g5"], ["IFNG", "IFNG", "DMSO", "TNF", "DMSO"], 100, sparse)
    return ln.Collection([a1, a2], key="rnaseq").save()


def _expected(collection: ln.Collection, join: str, layer: str = "X") -> tuple[np.ndarray, list[str]]:
    adata = collection.load(join=join)
    X = adata.X if layer == "X" else adata.layers[layer]
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    return np.nan_to_num(X), list(adata.var_names)


@pytest.mark.parametrize("sparse", [True, False])
def test_rows_labels_and_joins_as_anndata_concat_has_them(instance, sparse):
    collection = _collection(sparse)
    with collection.mapped(obs_keys=["cell_medium"], join="inner") as dataset:
        assert len(dataset) == 8 and dataset.shape == (8, 2) and dataset.var_joint == ["g2", "g4"]
        expected, names = _expected(collection, "inner")
        assert names == ["g2", "g4"]
        rows = np.stack([dataset[i]["X"] for i in range(len(dataset))])
        assert np.array_equal(rows, expected)
        assert [dataset[i]["_store_idx"] for i in range(8)] == [0, 0, 0, 1, 1, 1, 1, 1]
        assert dataset.encoders["cell_medium"] == {"DMSO": 0, "IFNG": 1, "TNF": 2}
        assert [dataset[i]["cell_medium"] for i in range(8)] == [0, 1, 0, 1, 1, 0, 2, 0]
        batch = dataset.__getitems__([7, 0, 7, 3, -1])  # any order, repeats and negatives, as samplers ask
        assert np.array_equal(np.stack([s["X"] for s in batch]), expected[[7, 0, 7, 3, 7]])
        with pytest.raises(IndexError):
            dataset[8]
    outer = collection.mapped(obs_keys="cell_medium", join="outer", layers_keys=["X", "counts"])
    expected, names = _expected(collection, "outer")
    assert outer.var_joint == names == ["g1", "g2", "g3", "g4", "g5"]
    order = np.random.default_rng(0).permutation(8)
    samples = outer.__getitems__(order)
    assert np.array_equal(np.stack([s["X"] for s in samples]), expected[order])
    counts, _ = _expected(collection, "outer", "counts")
    assert np.array_equal(np.stack([s["counts"] for s in samples]), counts[order])
    outer.close()
    assert outer._files == {}
    assert np.array_equal(outer[2]["X"], expected[2])  # closed files reopen on the next read
    outer.close()


def test_label_weights_for_a_weighted_sampler(instance):
    dataset = _collection().mapped(obs_keys=["cell_medium", "donor"])
    weights = dataset.get_label_weights("cell_medium")
    # DMSO 4 times, IFNG 3 times, TNF once: rarer labels weigh more
    assert np.allclose(weights, [1 / 4, 1 / 3, 1 / 4, 1 / 3, 1 / 3, 1 / 4, 1, 1 / 4])
    both = dataset.get_label_weights(["cell_medium", "donor"])
    assert both.shape == (8,) and both[6] == 1.0
    with pytest.raises(ValueError, match="were not read"):
        dataset.get_label_weights("tissue")
    dataset.close()


def test_bad_arguments_and_members_are_named(instance, tmp_path):
    collection = _collection()
    with pytest.raises(ValueError, match="obs has no column 'tissue'"):
        collection.mapped(obs_keys=["tissue"])
    with pytest.raises(ValueError, match="join must be"):
        collection.mapped(join="left")
    with pytest.raises(ValueError, match="other variables than file 0"):
        collection.mapped(join=None)
    with pytest.raises(TypeError, match="unknown argument"):
        collection.mapped(obs_key="cell_medium")
    table = ln.Artifact.from_dataframe(pd.DataFrame({"x": [1]}), key="t.parquet").save()
    with pytest.raises(NotImplementedError, match="reads .h5ad members"):
        ln.Collection([table], key="tables").save().mapped()


def _read_in_worker(payload: bytes) -> list[list[float]]:
    dataset = pickle.loads(payload)
    return [s["X"].tolist() for s in dataset.__getitems__([4, 0, 6])]


def test_pickled_into_worker_processes_that_open_their_own_files(instance):
    collection = _collection()
    dataset = collection.mapped(obs_keys=["cell_medium"], join="outer", parallel=True)
    assert dataset._files == {}  # parallel=True: the parent holds no handle for the workers to inherit
    expected = [s["X"].tolist() for s in dataset.__getitems__([4, 0, 6])]
    assert dataset._files  # reading opened them
    payload = pickle.dumps(dataset)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(_read_in_worker, [payload, payload])
    assert results == [expected, expected]
    dataset.close()


@pytest.mark.torch
def test_torch_dataloader_with_weighted_sampler_and_workers(instance):
    import torch  # LAMIN_TEST_TORCH=1 selects this test, and then torch must be there
    from torch.utils.data import DataLoader, WeightedRandomSampler

    collection = _collection()
    dataset = collection.mapped(obs_keys=["cell_medium"], parallel=True)
    sampler = WeightedRandomSampler(weights=dataset.get_label_weights("cell_medium"), num_samples=len(dataset))
    seen = 0
    for batch in DataLoader(dataset, batch_size=3, sampler=sampler, num_workers=2, multiprocessing_context="spawn"):
        assert batch["X"].shape[1] == 2 and batch["X"].dtype == torch.float32
        seen += batch["X"].shape[0]
    assert seen == len(dataset)
    expected, _ = _expected(collection, "inner")
    for batch in DataLoader(dataset, batch_size=8, shuffle=False):
        assert np.array_equal(batch["X"].numpy(), expected) and batch["cell_medium"].tolist() == [0, 1, 0, 1, 1, 0, 2, 0]
    dataset.close()
