"""Features and feature values on both backends: the tutorial's lines, dtypes, errors that write nothing,
queries by feature value, to_dataframe(include="features"), describe(), runs and records, deleting
features and labels that values use, and two processes annotating one artifact at once."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap

import pytest

import lamin_core as ln
from lamin_core.errors import FieldError, ValidationError


def _artifact(key: str = "my_datasets/rnaseq1.parquet", i: int = 0) -> ln.Artifact:
    df = ln.examples.datasets.mini_immuno.get_dataset1()
    df["n"] = i  # a different content per artifact
    return ln.Artifact.from_dataframe(df, key=key).save()


def _keys(qs) -> list[str]:
    return sorted(a.key for a in qs)


def test_tutorial_lines(instance):
    artifact = _artifact()
    my_experiment = ln.ULabel(name="My experiment").save()
    artifact.ulabels.add(my_experiment)  # a plain label, as the tutorial adds first
    ln.Feature(name="temperature", dtype=float).save()
    ln.Feature(name="experiment", dtype=ln.ULabel).save()
    artifact.features.add_values({"temperature": 21.6, "experiment": "My experiment"})
    assert artifact.features.get_values() == {"temperature": 21.6, "experiment": "My experiment"}
    text = artifact.describe(return_str=True)
    assert "temperature" in text and "21.6" in text and "My experiment" in text and ".ulabels" in text
    assert _keys(ln.Artifact.filter(temperature=21.6)) == [artifact.key]
    assert _keys(ln.Artifact.filter(experiment="My experiment")) == [artifact.key]
    df = ln.Artifact.to_dataframe(include="features")
    assert df.loc[artifact.id, "temperature"] == 21.6 and df.loc[artifact.id, "experiment"] == "My experiment"

    artifact.features.remove_values(["temperature", "experiment"])
    assert artifact.features.get_values() == {}
    assert [u.name for u in artifact.ulabels.all()] == ["My experiment"]  # the plain link stays
    ln.Feature.get(name="temperature").delete()
    ln.Feature.get(name="experiment").delete()
    assert ln.Feature.filter(name__in=["temperature", "experiment"]).count() == 0
    # the tutorial's next line: the deleted (trashed) feature still parses in a query, which finds nothing
    assert len(ln.Artifact.filter(temperature=21.6).to_dataframe()) == 0
    assert "temperature" not in ln.Artifact.to_dataframe(include="features").columns
    with pytest.raises(FieldError, match="no field 'temprature' and there is no feature of that name"):
        ln.Artifact.filter(temprature=21.6)


def test_dtypes_round_trip(instance):
    artifact = _artifact()
    ln.ULabel(name="DMSO").save()
    ln.ULabel(name="IFNG").save()
    ln.Feature(name="count", dtype=int).save()
    ln.Feature(name="ratio", dtype="num").save()
    ln.Feature(name="donor", dtype=str).save()
    ln.Feature(name="is_control", dtype=bool).save()
    ln.Feature(name="sample_date", dtype="date").save()
    ln.Feature(name="measured_at", dtype="datetime").save()
    ln.Feature(name="settings", dtype=dict).save()
    ln.Feature(name="tags", dtype=list[str]).save()
    ln.Feature(name="perturbations", dtype=list[ln.ULabel]).save()
    cest = dt.timezone(dt.timedelta(hours=2))
    artifact.features.add_values({
        "count": 3, "ratio": 0.5, "donor": "D0001", "is_control": False, "sample_date": dt.date(2024, 5, 1),
        "measured_at": dt.datetime(2024, 5, 1, 14, 30, tzinfo=cest), "settings": {"a": [1, 2], "b": {"c": "x"}},
        "tags": ["x", "y"], "perturbations": ["DMSO", "IFNG"],
    })
    values = artifact.features.get_values()
    assert values == {
        "count": 3, "ratio": 0.5, "donor": "D0001", "is_control": False, "sample_date": dt.date(2024, 5, 1),
        "measured_at": dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone.utc), "settings": {"a": [1, 2], "b": {"c": "x"}},
        "tags": ["x", "y"], "perturbations": ["DMSO", "IFNG"],
    }
    assert type(values["count"]) is int and type(values["is_control"]) is bool
    # adding again does not duplicate; a list feature gathers, a one-value feature is replaced
    artifact.features.add_values({"count": 3, "tags": ["y", "z"], "donor": "D0002", "perturbations": "DMSO"})
    values = artifact.features.get_values()
    assert values["count"] == 3 and values["tags"] == ["x", "y", "z"] and values["donor"] == "D0002"
    assert values["perturbations"] == ["DMSO", "IFNG"]
    artifact.features.set_values({"tags": ["q"], "perturbations": ["IFNG"]})
    values = artifact.features.get_values()
    assert values["tags"] == ["q"] and values["perturbations"] == ["IFNG"]
    artifact.features.remove_values("tags", value="q")
    assert "tags" not in artifact.features.get_values()
    df = ln.Artifact.filter(id=artifact.id).to_dataframe(include="features")
    row = df.loc[artifact.id]
    assert row["count"] == 3 and row["is_control"] == False and row["perturbations"] == ["IFNG"]  # noqa: E712
    assert row["settings"] == {"a": [1, 2], "b": {"c": "x"}} and row["sample_date"] == dt.date(2024, 5, 1)


def test_bad_values_write_nothing_and_say_why(instance):
    artifact = _artifact()
    ln.ULabel(name="DMSO").save()
    ln.ULabel(name="IFNG").save()
    ln.Feature(name="temperature", dtype=float).save()
    ln.Feature(name="perturbation", dtype=ln.ULabel).save()
    ln.Feature(name="donor", dtype=str, nullable=False).save()
    with pytest.raises(ValidationError) as e:
        artifact.features.add_values({"temperature": "hot", "perturbation": "DMSO"})
    assert "'temperature'" in str(e.value) and "float" in str(e.value)
    with pytest.raises(ValidationError) as e:
        artifact.features.add_values({"temperature": 21.6, "perturbation": "IFNJ"})
    assert "'IFNJ'" in str(e.value) and "did you mean 'IFNG'" in str(e.value)
    with pytest.raises(ValidationError) as e:
        artifact.features.add_values({"temperature": 21.6, "temprature": 1})
    assert "'temprature'" in str(e.value) and "'temperature'" in str(e.value) and "ln.Feature(name='temprature'" in str(e.value)
    with pytest.raises(ValidationError, match="not nullable"):
        artifact.features.add_values({"temperature": 21.6, "donor": None})
    with pytest.raises(ValidationError, match="at most 2000 bytes"):
        artifact.features.add_values({"temperature": 21.6, "donor": "x" * 2001})
    with pytest.raises(ValidationError, match="takes one value"):
        artifact.features.add_values({"temperature": [1.0, 2.0]})
    assert artifact.features.get_values() == {}
    assert ln.Artifact.filter(temperature__isnull=False).count() == 0


def test_coerce_default_and_types(instance):
    artifact = _artifact()
    ln.Feature(name="treatment_time_h", dtype="num", coerce=True).save()
    ln.Feature(name="replicate", dtype=int, default_value=1).save()
    ln.Feature(name="n_cells", dtype=int).save()
    kind = ln.Feature(name="sample_features", is_type=True).save()
    ln.Feature(name="tissue", dtype=str, type=kind).save()
    artifact.features.add_values({"treatment_time_h": "24", "replicate": None, "tissue": "lung"})
    assert artifact.features.get_values() == {"treatment_time_h": 24.0, "replicate": 1, "tissue": "lung"}
    with pytest.raises(ValidationError, match="'n_cells' has dtype int"):
        artifact.features.add_values({"n_cells": 2.5})
    with pytest.raises(ValidationError, match="feature type"):
        artifact.features.add_values({"sample_features": "x"})
    assert ln.Feature.get(name="tissue").type.name == "sample_features"


def test_queries_by_feature(instance):
    a1, a2, a3 = (_artifact(f"q/{i}.parquet", i) for i in range(3))
    for name in ("DMSO", "IFNG"):
        ln.ULabel(name=name).save()
    ln.Feature(name="temperature", dtype=float).save()
    ln.Feature(name="perturbation", dtype=ln.ULabel).save()
    ln.Feature(name="sample_date", dtype="date").save()
    ln.Feature(name="donor", dtype=str).save()
    ln.Feature(name="tags", dtype=list[str]).save()
    ln.Feature(name="is_control", dtype=bool).save()
    a1.features.add_values({"temperature": 21.6, "perturbation": "DMSO", "sample_date": "2024-01-01", "donor": "D_01",
                            "tags": ["a", "b"], "is_control": True})
    a2.features.add_values({"temperature": 25, "perturbation": ["IFNG", "DMSO"], "sample_date": dt.date(2024, 6, 1),
                            "donor": "D_02", "tags": ["b"], "is_control": False})
    a3.features.add_values({"temperature": 30.5})
    A = ln.Artifact
    assert _keys(A.filter(temperature=21.6)) == ["q/0.parquet"]
    assert _keys(A.filter(temperature=25)) == ["q/1.parquet"]
    assert _keys(A.filter(temperature__gt=22)) == ["q/1.parquet", "q/2.parquet"]
    assert _keys(A.filter(temperature__range=(20, 26))) == ["q/0.parquet", "q/1.parquet"]
    assert _keys(A.filter(perturbation="DMSO")) == ["q/0.parquet", "q/1.parquet"]
    assert _keys(A.filter(perturbation__in=["IFNG", "nope"])) == ["q/1.parquet"]
    assert _keys(A.filter(perturbation=ln.ULabel.get(name="IFNG"))) == ["q/1.parquet"]
    assert _keys(A.filter(perturbation__startswith="IF")) == ["q/1.parquet"]
    assert _keys(A.filter(sample_date__gt=dt.date(2024, 3, 1))) == ["q/1.parquet"]
    assert _keys(A.filter(sample_date__lte="2024-01-01")) == ["q/0.parquet"]
    assert _keys(A.filter(donor__contains="_0")) == ["q/0.parquet", "q/1.parquet"]
    assert _keys(A.filter(donor__icontains="d_02")) == ["q/1.parquet"]
    assert _keys(A.filter(tags="b")) == ["q/0.parquet", "q/1.parquet"]
    assert _keys(A.filter(tags="a")) == ["q/0.parquet"]
    assert _keys(A.filter(is_control=False)) == ["q/1.parquet"]
    assert _keys(A.filter(perturbation__isnull=True)) == ["q/2.parquet"]
    assert _keys(A.filter(donor__isnull=False)) == ["q/0.parquet", "q/1.parquet"]
    # chained with field lookups, and in exclude()
    assert _keys(A.filter(temperature__gt=20, key__endswith="2.parquet")) == ["q/2.parquet"]
    assert _keys(A.filter(key__startswith="q/").exclude(perturbation="DMSO")) == ["q/2.parquet"]
    assert A.get(temperature=30.5).key == "q/2.parquet"
    with pytest.raises(FieldError) as e:
        A.filter(temprature=21.6)
    assert "no field 'temprature' and there is no feature of that name" in str(e.value) and "Did you mean 'temperature'" in str(e.value)
    assert "Valid fields:" in str(e.value) and "key" in str(e.value) and "Features:" in str(e.value)
    with pytest.raises(FieldError, match="float"):
        A.filter(temperature="warm")
    with pytest.raises(FieldError, match="__in"):
        A.filter(perturbation=["DMSO", "IFNG"])


def test_to_dataframe_include_features(instance):
    arts = [_artifact(f"d/{i}.parquet", i) for i in range(3)]
    ln.ULabel(name="DMSO").save()
    ln.ULabel(name="IFNG").save()
    ln.Feature(name="temperature", dtype=float).save()
    ln.Feature(name="perturbation", dtype=ln.ULabel).save()
    ln.Feature(name="tags", dtype=list[str]).save()
    arts[0].features.add_values({"temperature": 1.5, "perturbation": "DMSO", "tags": ["a"]})
    arts[1].features.add_values({"perturbation": ["DMSO", "IFNG"]})
    df = ln.Artifact.filter(key__startswith="d/").to_dataframe(include=["features", "run__transform__key"])
    assert "run__transform__key" in df.columns and "key" in df.columns
    assert df.loc[arts[0].id, "temperature"] == 1.5 and df.loc[arts[0].id, "tags"] == ["a"]
    assert df.loc[arts[1].id, "perturbation"] == ["DMSO", "IFNG"] and df.loc[arts[0].id, "perturbation"] == "DMSO"
    assert df["temperature"].isna().sum() == 2 and df.loc[arts[2].id, "perturbation"] is None
    assert list(df.columns[-3:]) == ["temperature", "perturbation", "tags"]


def test_run_and_record_features(instance):
    transform = ln.Transform(key="pipeline.py").save()
    runs = [ln.Run(transform).save() for _ in range(2)]
    ln.Feature(name="sample", dtype=str).save()
    ln.Feature(name="learning_rate", dtype=float).save()
    runs[0].features.add_values({"sample": "A", "learning_rate": 0.01})
    runs[1].features.add_values({"sample": "B"})
    assert [r.id for r in ln.Run.filter(sample="A")] == [runs[0].id]
    assert [r.id for r in ln.Run.filter(learning_rate__lt=0.1)] == [runs[0].id]
    assert runs[0].features.get_values() == {"sample": "A", "learning_rate": 0.01}
    assert "learning_rate" in runs[0].describe(return_str=True)
    df = ln.Run.filter(transform=transform).to_dataframe(include="features")
    assert df.loc[runs[1].id, "sample"] == "B"
    # a record (LaminDB 2's flexible registry) holds values too, and ULabels as label values
    ln.ULabel(name="lung").save()
    ln.Feature(name="tissue", dtype=ln.ULabel).save()
    sample_type = ln.Record(name="Sample", is_type=True).save()
    record = ln.Record(name="S1", type=sample_type).save()
    record.features.add_values({"sample": "S1", "tissue": "lung"})
    assert ln.Record.filter(tissue="lung").one().name == "S1"
    assert record.features.get_values() == {"sample": "S1", "tissue": "lung"}


def test_deleting_features_and_labels_in_use(instance):
    artifact = _artifact()
    run = ln.Run(ln.Transform(key="p.py").save()).save()
    dmso = ln.ULabel(name="DMSO").save()
    plain = ln.ULabel(name="plain").save()
    ln.Feature(name="temperature", dtype=float).save()
    ln.Feature(name="perturbation", dtype=ln.ULabel).save()
    artifact.features.add_values({"temperature": 21.6, "perturbation": "DMSO"})
    run.features.add_values({"temperature": 3.0})
    artifact.ulabels.add(plain)
    with pytest.raises(ValidationError) as e:
        ln.Feature.get(name="temperature").delete()
    assert "1 artifact, 1 run" in str(e.value) and "remove_values('temperature')" in str(e.value)
    with pytest.raises(ValidationError, match="1 artifact"):
        ln.Feature.get(name="perturbation").delete()
    # a label used as a feature value cannot be deleted for good; a plain link is no reason to refuse
    with pytest.raises(ValidationError, match="feature value"):
        dmso.delete(permanent=True)
    plain.delete(permanent=True)
    assert ln.ULabel.filter(name="plain").count() == 0
    artifact.features.remove_values(["temperature", "perturbation"])
    run.features.remove_values(ln.Feature.get(name="temperature"))
    dmso.delete(permanent=True)
    ln.Feature.get(name="temperature").delete()
    ln.Feature.get(name="perturbation").delete()
    assert ln.Feature.filter().count() == 0  # in the trash
    # the tutorial queries by the deleted feature: it still parses, and finds nothing
    assert ln.Artifact.filter(temperature=21.6).count() == 0
    # naming it again brings it back from the trash
    again = ln.Feature(name="temperature", dtype=float).save()
    assert ln.Feature.get(name="temperature").id == again.id and again.branch_id == 1
    artifact.features.add_values({"temperature": 22.5})
    assert ln.Artifact.filter(temperature=22.5).count() == 1
    artifact.features.remove_values("temperature")
    again.delete()
    again.delete()  # from the trash: for good
    assert ln.Feature.filter(name="temperature").all_branches().count() == 0


def test_unsaved_owner_and_unknown_feature_in_remove(instance):
    ln.Feature(name="temperature", dtype=float).save()
    artifact = _artifact()
    with pytest.raises(ValidationError, match="no feature named 'temprature'"):
        artifact.features.remove_values("temprature")
    with pytest.raises(ValidationError, match="add_values\\(\\) takes a dict"):
        artifact.features.add_values([("temperature", 1.0)])


def test_two_processes_add_values_to_one_artifact(instance):
    artifact = _artifact()
    for w in range(2):
        ln.Feature(name=f"metric_{w}", dtype=float).save()
        ln.Feature(name=f"tags_{w}", dtype=list[int]).save()
    script = textwrap.dedent(f"""
        import sys
        import lamin_core as ln
        w = int(sys.argv[1])
        artifact = ln.Artifact.get(id={artifact.id})
        for i in range(25):
            artifact.features.add_values({{f"metric_{{w}}": float(i), f"tags_{{w}}": [i]}})
    """)
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(w)], env=instance.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for w in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    values = artifact.features.get_values()
    for w in range(2):
        assert values[f"metric_{w}"] == 24.0  # one value: the last one written replaced the others
        assert values[f"tags_{w}"] == list(range(25))  # every element of every write
