"""AnnData artifacts on both backends: the tutorial's composite schema (obs by features, the var index by
bt.Gene.ensembl_gene_id, X by dtype), one error naming slot, column and values when a slot fails (nothing
written), feature sets linked per slot and found by a gene symbol, dense and sparse X, h5ad and zarr, and
open() that leaves X on disk."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sqlalchemy import select

import lamin_core as ln
from lamin_core import bionty as bt
from lamin_core.db import engine as db
from lamin_core.errors import ValidationError
from lamin_core.models.annotations import artifact_schemas

GENES = ["ENSG00000153563", "ENSG00000010610", "ENSG00000170458"]  # CD8A, CD4, CD14


def _schemas() -> ln.Schema:
    """The tutorial's obs features (the ones without ontology lookups) and its composite AnnData schema."""
    ln.ULabel(name="DMSO").save()
    ln.ULabel(name="IFNG").save()
    ln.Feature(name="perturbation", dtype=ln.ULabel).save()
    ln.Feature(name="concentration", dtype=str).save()
    ln.Feature(name="treatment_time_h", dtype="num", coerce=True).save()
    obs_schema = ln.Schema(itype=ln.Feature).save()
    var_schema = ln.Schema(itype=bt.Gene.ensembl_gene_id, dtype=int).save()
    return ln.Schema(otype="AnnData", slots={"obs": obs_schema, "var.T": var_schema}).save()


def _adata(perturbation: list[str] | None = None, genes: list[str] | None = None, X=None) -> ad.AnnData:  # type: ignore[no-untyped-def]
    obs = pd.DataFrame(
        {
            "perturbation": pd.Categorical(perturbation or ["DMSO", "IFNG", "DMSO"]),
            "concentration": ["0.1%", "200 nM", "0.1%"],
            "treatment_time_h": [24, 24, 6],
        },
        index=["sample1", "sample2", "sample3"],
    )
    X = np.array([[1, 2, 3], [2, 3, 4], [3, 4, 5]]) if X is None else X
    return ad.AnnData(X, obs=obs, var=pd.DataFrame(index=genes or GENES))


def _slots(artifact: ln.Artifact) -> dict[str, ln.Schema]:
    with db.read() as s:
        rows = s.execute(select(artifact_schemas.c.slot, artifact_schemas.c.schema_id)
                         .where(artifact_schemas.c.artifact_id == artifact.id)).all()
    return {slot: ln.Schema.get(schema_id) for slot, schema_id in rows}


def test_from_anndata_validates_every_slot_and_links_feature_sets(instance):
    schema = _schemas()
    artifact = ln.Artifact.from_anndata(_adata(), key="my_datasets/my_rnaseq1.h5ad", schema=schema).save()
    assert artifact.otype == "AnnData" and artifact.suffix == ".h5ad" and artifact.schema_id == schema.id
    slots = _slots(artifact)
    assert set(slots) == {"obs", "var.T"}
    assert [f.name for f in slots["obs"].features] == ["perturbation", "concentration", "treatment_time_h"]
    genes = slots["var.T"].genes
    assert [g.ensembl_gene_id for g in genes] == GENES and [g.symbol for g in genes] == ["CD8A", "CD4", "CD14"]
    assert slots["var.T"].itype == "bionty.Gene.ensembl_gene_id" and slots["var.T"].dtype == "int" and slots["var.T"].n == 3
    assert {g.symbol for g in slots["var.T"].members} == {"CD8A", "CD4", "CD14"}
    # the tutorial's query: the dataset that measured CD8A
    feature_sets = ln.Schema.filter(genes__symbol="CD8A").all()
    assert [s.id for s in feature_sets] == [slots["var.T"].id]
    assert [a.id for a in ln.Artifact.filter(feature_sets__in=feature_sets)] == [artifact.id]
    assert [a.id for a in ln.Artifact.filter(schemas__in=feature_sets)] == [artifact.id]
    assert ln.Schema.filter(genes__symbol="GAPDH").count() == 0
    # obs labels are annotations like a DataFrame's columns
    assert ln.Artifact.filter(perturbation="IFNG").one().id == artifact.id
    text = artifact.describe(return_str=True)
    assert "slots: obs, var.T" in text and "obs (3 features)" in text and "var.T (3 bionty.Gene.ensembl_gene_id)" in text
    # a second dataset measuring the same genes shares the var.T feature set
    other = ln.Artifact.from_anndata(_adata(X=np.array([[9, 2, 3], [2, 3, 4], [3, 4, 5]])), key="b.h5ad", schema=schema).save()
    assert _slots(other)["var.T"].id == slots["var.T"].id
    assert ln.Artifact.filter(feature_sets__in=ln.Schema.filter(genes__symbol="CD4")).count() == 2


def test_every_slot_problem_in_one_error_and_nothing_written(instance):
    schema = _schemas()
    n_genes, n_schemas = bt.Gene.filter().count(), ln.Schema.filter().count()
    bad = _adata(perturbation=["DMSO", "IFNJ", "DMSO"], genes=[GENES[0], "ENSG99999999999", GENES[2]],
                 X=np.array([[1.5, 2, 3], [2, 3, 4], [3, 4, 5]]))
    with pytest.raises(ValidationError) as error:
        ln.Artifact.from_anndata(bad, key="bad.h5ad", schema=schema)
    text = str(error.value)
    assert "3 problems validating the AnnData" in text
    assert "slot 'obs': 1 term not validated in feature 'perturbation': 'IFNJ'" in text and "did you mean 'IFNG'?" in text
    assert "slot 'var.T': 1 term not validated in the var index (bionty.Gene.ensembl_gene_id): 'ENSG99999999999'" in text
    assert "slot 'var.T': X has dtype float64, but schema" in text and "requires dtype 'int'" in text
    assert ln.Artifact.filter().count() == 0
    assert bt.Gene.filter().count() == n_genes and ln.Schema.filter().count() == n_schemas


def test_schema_must_be_a_saved_composite(instance):
    schema = _schemas()
    with pytest.raises(ValidationError, match="has no slots: an AnnData is validated against a composite schema"):
        ln.Artifact.from_anndata(_adata(), key="x.h5ad", schema=schema.slots["obs"])
    with pytest.raises(ValidationError, match="save the schema"):
        ln.Artifact.from_anndata(_adata(), key="x.h5ad", schema=ln.Schema(otype="AnnData", slots={"obs": schema.slots["obs"]},
                                                                          name="unsaved"))
    with pytest.raises(ValueError, match="should end with .h5ad"):
        ln.Artifact.from_anndata(_adata(), key="x.parquet")
    assert ln.Artifact.filter().count() == 0


@pytest.mark.parametrize("fmt", ["h5ad", "zarr"])
@pytest.mark.parametrize("sparse", [False, True])
def test_dense_and_sparse_x_saved_loaded_and_opened_backed(instance, fmt, sparse):
    rng = np.random.default_rng(0)
    dense = rng.integers(0, 5, size=(40, 3))
    X = sp.csr_matrix(dense) if sparse else dense
    adata = ad.AnnData(X, obs=pd.DataFrame({"perturbation": pd.Categorical(["DMSO", "IFNG"] * 20),
                                            "concentration": ["1"] * 40, "treatment_time_h": [1] * 40},
                                           index=[f"c{i}" for i in range(40)]), var=pd.DataFrame(index=GENES))
    artifact = ln.Artifact.from_anndata(adata, key=f"data/x.{fmt}", schema=_schemas()).save()
    assert artifact.suffix == f".{fmt}" and artifact.otype == "AnnData"
    assert (artifact.n_files is not None) == (fmt == "zarr")  # a .zarr AnnData is a folder artifact
    assert set(_slots(artifact)) == {"obs", "var.T"}
    loaded = artifact.load()
    got = loaded.X.toarray() if sp.issparse(loaded.X) else np.asarray(loaded.X)
    assert np.array_equal(got, dense) and list(loaded.var_names) == GENES
    opened = artifact.open()
    assert opened.shape == (40, 3) and list(opened.obs["perturbation"][:2]) == ["DMSO", "IFNG"]
    assert not isinstance(opened.X, np.ndarray) and not sp.issparse(opened.X)  # X is still on disk
    rows = opened.X[5:8]
    rows = rows.toarray() if sp.issparse(rows) else np.asarray(rows)
    assert np.array_equal(rows, dense[5:8])
    if fmt == "h5ad":
        assert opened.isbacked
        opened.file.close()
