"""Schemas and validation on both backends: the tutorial's "Validate an artifact" and "Make a new version"
with the exact mini_immuno data, then each rule alone (missing column, wrong dtype, nullable, coerce,
extra columns with and without maximal_set, labels of ULabel- and Record-typed features), the schema
hash, and saves that fail writing nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

import lamin_core as ln
from lamin_core.db import engine as db
from lamin_core.errors import ValidationError
from lamin_core.models.annotations import LABEL_LINKS, artifact_schemas

KEY = "my_datasets/rnaseq1.parquet"


def _tutorial_registries() -> ln.Schema:
    """The tutorial's labels and features (without the bionty-typed ones), and its flexible schema."""
    ln.ULabel(name="DMSO").save()
    ln.ULabel(name="IFNG").save()
    ln.Feature(name="perturbation", dtype=ln.ULabel).save()
    ln.Feature(name="donor", dtype=str, nullable=True).save()
    ln.Feature(name="sample_note", dtype=str, nullable=True).save()
    ln.Feature(name="concentration", dtype=str).save()
    ln.Feature(name="treatment_time_h", dtype="num", coerce=True).save()
    return ln.Schema(itype=ln.Feature).save()


def _links(artifact: ln.Artifact, accessor: str = "ulabels") -> set[tuple[str, str]]:
    """(label name, feature name) of every label linked to the artifact as a feature value."""
    link = LABEL_LINKS[("Artifact", accessor)]
    labels = {u.id: u.name for u in link.label.filter()}
    features = {f.id: f.name for f in ln.Feature.filter()}
    with db.read() as s:
        rows = s.execute(select(link.table.c.label_id, link.table.c.feature_id).where(link.owner_col == artifact.id)).all()
    return {(labels[label], features.get(feature)) for label, feature in rows}


def _columns_feature_set(artifact: ln.Artifact) -> list[str]:
    with db.read() as s:
        schema_id = s.execute(select(artifact_schemas.c.schema_id).where(
            artifact_schemas.c.artifact_id == artifact.id, artifact_schemas.c.slot == "columns")).scalar_one()
    return [f.name for f in ln.Schema.get(schema_id).features]


def _scratch_files(instance) -> list[Path]:
    folder = Path(instance.storage_root, ".lamindb", "_staging")  # scratch files wait in the writer's staging folder
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_tutorial_typo_then_new_version(instance):
    df = ln.examples.datasets.mini_immuno.get_dataset1(with_typo=True)
    v1 = ln.Artifact.from_dataframe(df, key=KEY).save()
    schema = _tutorial_registries()

    with pytest.raises(ValidationError) as error:
        ln.Artifact.from_dataframe(df, key=KEY, schema=schema)
    text = str(error.value)
    assert text.startswith("1 term not validated in feature 'perturbation': 'IFNJ'")
    assert "did you mean 'IFNG'?" in text
    assert "ln.ULabel.from_values(['IFNJ'], create=True).save()" in text
    assert ln.Artifact.filter().count() == 1 and _scratch_files(instance) == []  # nothing written

    df["perturbation"] = df["perturbation"].cat.rename_categories({"IFNJ": "IFNG"})
    artifact = ln.Artifact.from_dataframe(df, key=KEY, schema=schema).save()
    assert artifact.uid[:16] == v1.uid[:16] and artifact.uid.endswith("0001") and artifact.is_latest
    assert artifact.versions.count() == 2
    assert artifact.schema == schema
    # the registered features among the columns, in column order; genes and donor_ethnicity are not features
    assert _columns_feature_set(artifact) == ["perturbation", "sample_note", "concentration", "treatment_time_h", "donor"]
    assert [s.id for s in artifact.feature_sets] == [ln.Schema.get(hash=ln.Schema(
        features=["perturbation", "sample_note", "concentration", "treatment_time_h", "donor"]).hash).id]
    assert _links(artifact) == {("DMSO", "perturbation"), ("IFNG", "perturbation")}
    assert sorted(u.name for u in artifact.ulabels.all()) == ["DMSO", "IFNG"]
    # the first version was saved without a schema: it has no annotations of its own
    v1 = ln.Artifact.get(v1.uid)
    assert v1.schema_id is None and _links(v1) == set() and v1.feature_sets.count() == 0
    loaded = ln.Artifact.get(key=KEY).load()
    assert list(loaded["perturbation"]) == ["DMSO", "IFNG", "DMSO"]


def test_all_problems_in_one_error_naming_each_column(instance):
    _tutorial_registries()
    ln.Feature(name="batch", dtype=int).save()
    ln.Feature(name="sample_id", dtype=str, nullable=False).save()
    schema = ln.Schema(features=["perturbation", "batch", "sample_id", "concentration"], name="assay").save()
    df = pd.DataFrame({
        "perturbation": pd.Categorical(["DMSO", "IFNJ", "dmso"]),
        "batch": ["a", "b", "c"],
        "sample_id": ["s1", None, None],
    })
    with pytest.raises(ValidationError) as error:
        ln.Artifact.from_dataframe(df, key="x.parquet", schema=schema)
    text = str(error.value)
    assert text.startswith("4 problems validating the DataFrame against schema 'assay':")
    assert "1 column missing, required by schema 'assay': 'concentration'" in text
    assert "column 'batch' has dtype object (string), but feature 'batch' has dtype 'int'" in text
    assert "column 'sample_id': 2 rows without a value (None/NaN), but feature 'sample_id' is not nullable" in text
    assert "2 terms not validated in feature 'perturbation': 'IFNJ', 'dmso'" in text
    assert "'dmso': did you mean 'DMSO'?" in text and "'IFNJ': did you mean 'IFNG'?" in text
    assert ln.Artifact.filter().count() == 0


def test_missing_column_and_minimal_set(instance):
    ln.Feature(name="temperature", dtype=float).save()
    ln.Feature(name="site", dtype=str).save()
    df = pd.DataFrame({"temperature": [21.6, 22.0]})
    strict = ln.Schema(features=["temperature", "site"]).save()
    with pytest.raises(ValidationError, match=r"1 column missing, required by schema \w+: 'site'"):
        ln.Artifact.from_dataframe(df, key="t.parquet", schema=strict)
    lenient = ln.Schema(features=["temperature", "site"], minimal_set=False).save()
    artifact = ln.Artifact.from_dataframe(df, key="t.parquet", schema=lenient).save()
    assert _columns_feature_set(artifact) == ["temperature"]


def test_wrong_dtype_and_feature_coerce(instance):
    ln.Feature(name="count", dtype=int).save()
    ln.Feature(name="score", dtype=float).save()
    ln.Feature(name="day", dtype="date").save()
    schema = ln.Schema(features=["count", "score", "day"]).save()
    df = pd.DataFrame({"count": [1.5, 2.0], "score": ["high", "low"], "day": ["2024-01-01", "2024-01-02"]})
    with pytest.raises(ValidationError) as error:
        ln.Artifact.from_dataframe(df, key="d.parquet", schema=schema)
    text = str(error.value)
    assert "column 'count' has dtype float64, but feature 'count' has dtype 'int'" in text
    assert "column 'score' has dtype object (string), but feature 'score' has dtype 'float'" in text
    assert "column 'day' has dtype object (string), but feature 'day' has dtype 'date'" in text
    assert "coerce=True" in text
    # a feature's own coerce converts its column; values that do not convert are named
    ln.Feature(name="count", dtype=int, coerce=True).save()
    ln.Feature(name="score", dtype=float, coerce=True).save()
    ln.Feature(name="day", dtype="date", coerce=True).save()
    with pytest.raises(ValidationError) as error:
        ln.Artifact.from_dataframe(df, key="d.parquet", schema=schema)
    text = str(error.value)
    assert "column 'count' has dtype float64 and could not be coerced to dtype 'int' of feature 'count'" in text
    assert "not whole numbers, e.g. 1.5" in text and "'score'" in text and "'day'" not in text
    ok = pd.DataFrame({"count": ["1", "2"], "score": [1, 2], "day": ["2024-01-01", "2024-01-02"]})
    artifact = ln.Artifact.from_dataframe(ok, key="d.parquet", schema=schema).save()
    loaded = artifact.load()
    assert str(loaded["count"].dtype) == "int64" and list(loaded["count"]) == [1, 2]
    assert list(ok["count"]) == ["1", "2"]  # the caller's DataFrame is left as it was


def test_schema_coerce_converts_every_column(instance):
    ln.ULabel(name="DMSO").save()
    ln.Feature(name="perturbation", dtype=ln.ULabel).save()
    ln.Feature(name="treatment_time_h", dtype=int).save()
    df = pd.DataFrame({"perturbation": ["DMSO", "DMSO"], "treatment_time_h": ["24", "6"]})
    plain = ln.Schema(features=["perturbation", "treatment_time_h"]).save()
    with pytest.raises(ValidationError, match="column 'treatment_time_h' has dtype object"):
        ln.Artifact.from_dataframe(df, key="c.parquet", schema=plain)
    coercing = ln.Schema(features=["perturbation", "treatment_time_h"], coerce=True).save()
    assert coercing.id != plain.id  # coerce is part of the definition
    artifact = ln.Artifact.from_dataframe(df, key="c.parquet", schema=coercing).save()
    loaded = artifact.load()
    assert list(loaded["treatment_time_h"]) == [24, 6] and str(loaded["treatment_time_h"].dtype) == "int64"
    assert isinstance(loaded["perturbation"].dtype, pd.CategoricalDtype)  # object -> category
    assert _links(artifact) == {("DMSO", "perturbation")}


def test_nullable(instance):
    ln.Feature(name="donor", dtype=str, nullable=True).save()
    ln.Feature(name="sample", dtype=str, nullable=False).save()
    schema = ln.Schema(features=["donor", "sample"]).save()
    df = pd.DataFrame({"donor": ["D0001", None, None], "sample": ["a", "b", None]})
    with pytest.raises(ValidationError) as error:
        ln.Artifact.from_dataframe(df, key="n.parquet", schema=schema)
    text = str(error.value)
    assert text.startswith("column 'sample': 1 row without a value (None/NaN)") and "'donor'" not in text
    df.loc[2, "sample"] = "c"
    assert ln.Artifact.from_dataframe(df, key="n.parquet", schema=schema).save().schema == schema


def test_extra_columns_allowed_unless_maximal_set(instance):
    ln.Feature(name="temperature", dtype=float).save()
    ln.Feature(name="site", dtype=str).save()  # registered, but not in the schema
    df = pd.DataFrame({"temperature": [21.6], "site": [3], "notes": ["x"]})
    open_schema = ln.Schema(features=["temperature"]).save()
    artifact = ln.Artifact.from_dataframe(df, key="e.parquet", schema=open_schema).save()
    assert _columns_feature_set(artifact) == ["temperature"]  # extra columns are neither validated nor annotated
    closed = ln.Schema(features=["temperature"], maximal_set=True, name="closed").save()
    with pytest.raises(ValidationError) as error:
        ln.Artifact.from_dataframe(df.assign(temperature=[1.0]), key="e.parquet", schema=closed)
    assert "2 columns not in schema 'closed', which allows no others (maximal_set=True): 'site', 'notes'" in str(error.value)
    # flexible: registered features among the extra columns are validated too ('site' is not a str here)
    flexible = ln.Schema(features=["temperature"], flexible=True).save()
    with pytest.raises(ValidationError, match="column 'site' has dtype int64, but feature 'site' has dtype 'str'"):
        ln.Artifact.from_dataframe(df, key="e.parquet", schema=flexible)


def test_record_typed_feature_and_list_of_labels(instance):
    treatment = ln.Record(name="Treatment", is_type=True).save()
    ln.Record(name="DMSO", type=treatment).save()
    ln.Record(name="IFNG", type=treatment).save()
    ln.ULabel(name="Chinese").save()
    ln.ULabel(name="Han Chinese").save()
    ln.Feature(name="treatment", dtype=ln.Record).save()
    ln.Feature(name="donor_ethnicity", dtype=list[ln.ULabel]).save()
    schema = ln.Schema(features=["treatment", "donor_ethnicity"]).save()
    df = pd.DataFrame({
        "treatment": ["DMSO", "IFNG", "IFNJ"],
        "donor_ethnicity": [["Chinese", "Singaporean Chinese"], ["Chinese", "Han Chinese"], ["Chinese"]],
    })
    with pytest.raises(ValidationError) as error:
        ln.Artifact.from_dataframe(df, key="r.parquet", schema=schema)
    text = str(error.value)
    assert "1 term not validated in feature 'treatment': 'IFNJ'" in text
    assert "ln.Record.from_values(['IFNJ'], create=True).save()" in text
    assert "1 term not validated in feature 'donor_ethnicity': 'Singaporean Chinese'" in text
    ln.ULabel(name="Singaporean Chinese").save()
    df["treatment"] = ["DMSO", "IFNG", "IFNG"]
    artifact = ln.Artifact.from_dataframe(df, key="r.parquet", schema=schema).save()
    assert _links(artifact, "records") == {("DMSO", "treatment"), ("IFNG", "treatment")}
    assert _links(artifact) == {(n, "donor_ethnicity") for n in ("Chinese", "Han Chinese", "Singaporean Chinese")}


def test_same_content_again_returns_the_artifact_with_annotations(instance):
    df = ln.examples.datasets.mini_immuno.get_dataset1()
    plain = ln.Artifact.from_dataframe(df, key=KEY).save()
    schema = _tutorial_registries()
    validated = ln.Artifact.from_dataframe(df, key=KEY, schema=schema).save()
    assert validated.id == plain.id and ln.Artifact.filter().count() == 1
    assert ln.Artifact.get(plain.uid).schema_id == schema.id
    assert _links(validated) == {("DMSO", "perturbation"), ("IFNG", "perturbation")}


def test_a_failed_save_leaves_neither_artifact_nor_annotations(instance):
    schema = _tutorial_registries()
    df = ln.examples.datasets.mini_immuno.get_dataset1()
    artifact = ln.Artifact.from_dataframe(df, key=KEY, schema=schema)  # validated: DMSO and IFNG exist
    ln.ULabel.get(name="IFNG").delete(permanent=True)  # gone before the save links it
    with pytest.raises(Exception):
        artifact.save()
    assert ln.Artifact.filter().count() == 0
    with db.read() as s:
        assert s.execute(select(artifact_schemas)).all() == []
        assert s.execute(select(LABEL_LINKS[("Artifact", "ulabels")].table)).all() == []
    assert ln.Schema.filter().count() == 1  # only the user's schema: the feature set was rolled back


def test_schema_hash_is_the_definition(instance):
    a = ln.Feature(name="a", dtype=int).save()
    b = ln.Feature(name="b", dtype=ln.ULabel).save()
    first = ln.Schema(features=[a, b], name="ab").save()
    assert len(first.hash) == 22 and first.n == 2 and not first.flexible and first.itype == "Feature"
    same = ln.Schema(features=["b", "a"], name="renamed")  # same definition: the saved record
    assert same.id == first.id and same.save().id == first.id
    assert ln.Schema.get(first.id).name == "renamed"  # the name is not part of the definition
    assert [f.name for f in first.members] == ["a", "b"]
    ordered = ln.Schema(features=[b, a], ordered_set=True).save()
    assert ordered.id != first.id and [f.name for f in ordered.features] == ["b", "a"]
    assert ln.Schema(features=[a, b], maximal_set=True).save().id != first.id
    flexible = ln.Schema(itype=ln.Feature).save()
    assert flexible.flexible and flexible.n is None and ln.Schema(itype=ln.Feature).id == flexible.id
    var = ln.Schema(itype="bionty.Gene.ensembl_gene_id", dtype=int).save()
    assert var.dtype == "int" and var.id != flexible.id
    composite = ln.Schema(otype="AnnData", slots={"obs": flexible, "var.T": var}).save()
    assert composite.slots == {"obs": flexible, "var.T": var}
    assert ln.Schema(otype="AnnData", slots={"var.T": var, "obs": flexible}).id == composite.id
    assert ln.Schema(otype="AnnData", slots={"obs": first, "var.T": var}).save().id != composite.id
    assert ln.Schema.filter().count() == 7


def test_schema_errors_name_the_fix(instance):
    ln.Feature(name="a", dtype=int).save()
    with pytest.raises(ValidationError, match=r"no feature named 'zz': ln.Feature\(name='zz', dtype=...\).save\(\)"):
        ln.Schema(features=["a", "zz"])
    with pytest.raises(ValidationError, match="unknown argument"):
        ln.Schema(features=["a"], strict=True)
    df = pd.DataFrame({"a": [1]})
    with pytest.raises(ValidationError, match=r"save the schema before validating against it"):
        ln.Artifact.from_dataframe(df, key="a.parquet", schema=ln.Schema(features=["a"], name="unsaved"))
    composite = ln.Schema(otype="AnnData", slots={"obs": ln.Schema(features=["a"]).save()}).save()
    with pytest.raises(ValidationError, match="AnnData"):
        ln.Artifact.from_dataframe(df, key="a.parquet", schema=composite)
    assert ln.Artifact.filter().count() == 0 and ln.Schema.filter().count() == 2


def test_tutorial_with_its_bionty_features(instance):
    """The tutorial's exact lines: cell types and the assay id validate from the public ontologies and are saved."""
    from lamin_core import bionty as bt

    df = ln.examples.datasets.mini_immuno.get_dataset1(with_typo=True)
    ln.ULabel(name="DMSO").save()
    ln.ULabel(name="IFNG").save()
    ln.Feature(name="perturbation", dtype=ln.ULabel).save()
    ln.Feature(name="cell_type_by_model", dtype=bt.CellType).save()
    ln.Feature(name="cell_type_by_expert", dtype=bt.CellType).save()
    ln.Feature(name="assay_oid", dtype=bt.ExperimentalFactor.ontology_id).save()
    ln.Feature(name="donor", dtype=str, nullable=True).save()
    ln.Feature(name="sample_note", dtype=str, nullable=True).save()
    ln.Feature(name="concentration", dtype=str).save()
    ln.Feature(name="treatment_time_h", dtype="num", coerce=True).save()
    schema = ln.Schema(itype=ln.Feature).save()
    with pytest.raises(ValidationError) as error:
        ln.Artifact.from_dataframe(df, key=KEY, schema=schema)
    assert str(error.value).startswith("1 term not validated in feature 'perturbation': 'IFNJ'")  # the only problem
    assert bt.CellType.filter().count() == 0  # validating saved nothing
    df["perturbation"] = df["perturbation"].cat.rename_categories({"IFNJ": "IFNG"})
    artifact = ln.Artifact.from_dataframe(df, key=KEY, schema=schema).save()
    assert _links(artifact, "cell_types") == {
        ("B cell", "cell_type_by_model"), ("T cell", "cell_type_by_model"),
        ("B cell", "cell_type_by_expert"), ("CD8-positive, alpha-beta T cell", "cell_type_by_expert"),
    }
    assert [e.ontology_id for e in artifact.experimental_factors.all()] == ["EFO:0008913"]
    assert len(_columns_feature_set(artifact)) == 8
