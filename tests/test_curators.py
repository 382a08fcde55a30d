"""`ln.curators.DataFrameCurator` on both backends: validate, see what failed, standardize, add new labels,
save the annotated artifact; and a curator that refuses to save invalid data writes nothing."""

from __future__ import annotations

import pandas as pd
import pytest

import lamin_core as ln
from lamin_core.errors import ValidationError

KEY = "my_datasets/rnaseq1.parquet"


@pytest.fixture
def schema(instance) -> ln.Schema:
    ln.ULabel(name="DMSO").save()
    ln.ULabel(name="IFNG").save()
    ln.Feature(name="perturbation", dtype=ln.ULabel).save()
    ln.Feature(name="concentration", dtype=str).save()
    ln.Feature(name="treatment_time_h", dtype="num", coerce=True).save()
    return ln.Schema(itype=ln.Feature).save()


def test_validate_add_new_from_and_save_artifact(schema):
    df = ln.examples.datasets.mini_immuno.get_dataset1(with_typo=True)
    curator = ln.curators.DataFrameCurator(df, schema)
    with pytest.raises(ValidationError, match="1 term not validated in feature 'perturbation': 'IFNJ'"):
        curator.validate()
    assert curator.cat.non_validated == {"perturbation": ["IFNJ"]} and not curator.is_validated
    with pytest.raises(ValidationError, match="IFNJ"):
        curator.save_artifact(key=KEY)
    assert ln.Artifact.filter().count() == 0
    curator.cat.add_new_from("perturbation")
    assert ln.ULabel.filter(name="IFNJ").count() == 1 and curator.cat.non_validated == {}
    curator.validate()
    artifact = curator.save_artifact(key=KEY, description="curated")
    assert artifact.key == KEY and artifact.description == "curated" and artifact.schema == schema
    assert sorted(u.name for u in artifact.ulabels.all()) == ["DMSO", "IFNJ"]
    assert [f.name for f in artifact.feature_sets.first().features] == ["perturbation", "concentration", "treatment_time_h"]


def test_standardize_by_case_to_the_registry_name(schema):
    df = pd.DataFrame({
        "perturbation": pd.Categorical(["dmso", "Ifng", "DMSO", "IFNJ"]),
        "concentration": ["0.1%", "200 nM", "0.1%", "1%"],
        "treatment_time_h": [24, 24, 6, 6],
    })
    curator = ln.curators.DataFrameCurator(df, schema)
    assert curator.cat.non_validated == {"perturbation": ["dmso", "Ifng", "IFNJ"]}
    curator.standardize()
    assert list(curator.df["perturbation"]) == ["DMSO", "IFNG", "DMSO", "IFNJ"]
    assert isinstance(curator.df["perturbation"].dtype, pd.CategoricalDtype)
    assert curator.cat.non_validated == {"perturbation": ["IFNJ"]}  # a typo is not a synonym
    with pytest.raises(ValidationError) as error:
        curator.validate()
    assert "did you mean 'IFNG'?" in str(error.value)


def test_standardize_plain_column_and_unknown_key(schema):
    df = pd.DataFrame({"perturbation": ["dmso", None, "ifng"], "concentration": ["1", "2", "3"]})
    curator = ln.curators.DataFrameCurator(df, schema)
    curator.cat.standardize("perturbation")
    assert list(curator.df["perturbation"]) == ["DMSO", None, "IFNG"]
    with pytest.raises(ValidationError, match="'concentration' is not a categorical column"):
        curator.cat.add_new_from("concentration")
    artifact = curator.save_artifact(key="plain.parquet")
    assert sorted(u.name for u in artifact.ulabels.all()) == ["DMSO", "IFNG"]


def test_curator_coerces_as_the_schema_says(instance):
    ln.Feature(name="treatment_time_h", dtype=int).save()
    coercing = ln.Schema(features=["treatment_time_h"], coerce=True).save()
    curator = ln.curators.DataFrameCurator(pd.DataFrame({"treatment_time_h": ["24", "6"]}), coercing)
    curator.validate()
    assert list(curator.df["treatment_time_h"]) == [24, 6]
    assert list(curator.save_artifact(key="t.parquet").load()["treatment_time_h"]) == [24, 6]


def test_curator_needs_a_saved_schema_and_a_dataframe(instance):
    ln.Feature(name="a", dtype=int).save()
    with pytest.raises(ValidationError, match="save the schema before curating"):
        ln.curators.DataFrameCurator(pd.DataFrame({"a": [1]}), ln.Schema(features=["a"]))
    with pytest.raises(ValidationError, match="takes a pandas DataFrame"):
        ln.curators.DataFrameCurator({"a": [1]}, ln.Schema(features=["a"]).save())


def test_bionty_synonyms_standardize_and_validate_from_the_public_source(instance):
    from lamin_core import bionty as bt

    ln.Feature(name="cell_type_by_expert", dtype=bt.CellType).save()
    ln.Feature(name="assay_oid", dtype=bt.ExperimentalFactor.ontology_id).save()
    schema = ln.Schema(features=["cell_type_by_expert", "assay_oid"]).save()
    df = ln.examples.datasets.mini_immuno.get_dataset1(with_cell_type_synonym=True)
    curator = ln.curators.DataFrameCurator(df, schema)
    assert curator.cat.non_validated == {"cell_type_by_expert": ["B-cell"]}
    curator.standardize()
    assert list(curator.df["cell_type_by_expert"]) == ["B cell"] + ["CD8-positive, alpha-beta T cell"] * 2
    artifact = curator.save_artifact(key="cells.parquet")  # terms from the public source are saved with it
    assert sorted(c.name for c in artifact.cell_types.all()) == ["B cell", "CD8-positive, alpha-beta T cell"]
    assert [e.ontology_id for e in artifact.experimental_factors.all()] == ["EFO:0008913"]
