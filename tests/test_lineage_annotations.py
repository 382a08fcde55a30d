"""Annotations carried by lineage events become feature values in the recording transaction
(`lamin_core/lineage/annotations.py`): `existing` (default), `auto` and `none` modes."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import lamin_core as ln
from lamin_core.lineage import Dataset, Job, LineageEvent, RunInfo, record
from lamin_core.lineage.recorder import record_many

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def event(kind: str, run_id: str, *, outputs=(), annotations=None, annotate="existing", engine="testengine",
          seconds: int = 0) -> LineageEvent:
    return LineageEvent(
        kind, T0 + timedelta(seconds=seconds), Job("eng", "wf/step", kind="function", source_code="step"),
        RunInfo(run_id, "test_engine", annotations=annotations), outputs=list(outputs), annotate=annotate, engine=engine,
    )


def out_file(tmp_path: Path, name: str, text: str) -> Dataset:
    path = tmp_path / name
    path.write_text(text)
    return Dataset("file", str(path))


def test_existing_mode_annotates_run_and_outputs_with_existing_features_only(instance, tmp_path):
    ln.Feature(name="sample", dtype=str).save()
    ln.Feature(name="replicate", dtype=int).save()
    e = event("COMPLETE", "job-a", outputs=[out_file(tmp_path, "a.txt", "A")],
              annotations={"sample": "A", "replicate": 2, "unknown_key": "x"})
    rec = record(e)
    artifact = ln.Artifact.get(id=rec.output_ids[0])
    assert artifact.features.get_values() == {"sample": "A", "replicate": 2}
    assert rec.run.features.get_values() == {"sample": "A", "replicate": 2}
    assert ln.Artifact.filter(sample="A").count() == 1
    assert ln.Run.filter(replicate=2).count() == 1
    assert not ln.Feature.filter(name="unknown_key").exists()
    assert rec.run.report is None


def test_invalid_value_is_reported_and_recorded_nowhere(instance, tmp_path, caplog, monkeypatch):
    from lamin_core.lineage import annotations

    monkeypatch.setattr(annotations, "_reported", set())  # each problem is logged once per process
    ln.Feature(name="replicate", dtype=int).save()
    ln.Feature(name="sample", dtype=str).save()
    e = event("COMPLETE", "job-b", outputs=[out_file(tmp_path, "b.txt", "B")], annotations={"replicate": "one", "sample": "B"})
    rec = record(e)  # the event is recorded: a bad value never fails the pipeline
    artifact = ln.Artifact.get(id=rec.output_ids[0])
    assert artifact.features.get_values() == {"sample": "B"}
    assert ln.Run.filter(replicate__isnull=False).count() == 0
    report = ln.Run.get(id=rec.run.id).report.load()
    assert "replicate" in report and "'one'" in report
    assert any("replicate" in r.getMessage() for r in caplog.records)


def test_auto_mode_creates_typed_features_under_the_engine_type(instance, tmp_path):
    e = event("COMPLETE", "job-c", outputs=[out_file(tmp_path, "c.txt", "C")], annotate="auto", engine="snakemake",
              annotations={"sample": "C", "lanes": 3, "ratio": 0.5, "paired": True, "day": datetime(2026, 1, 2).date()})
    rec = record(e)
    engine_type = ln.Feature.get(name="snakemake")
    assert engine_type.is_type
    made = {f.name: f.dtype for f in ln.Feature.filter(type_id=engine_type.id)}
    assert made == {"sample": "str", "lanes": "int", "ratio": "float", "paired": "bool", "day": "date"}
    assert ln.Artifact.filter(lanes__gt=2, paired=True).count() == 1
    assert ln.Artifact.get(id=rec.output_ids[0]).features.get_values()["day"].isoformat() == "2026-01-02"


def test_auto_mode_makes_ulabels_for_label_values_existing_mode_does_not(instance, tmp_path):
    d = out_file(tmp_path, "t.txt", "T")
    tagged = Dataset(d.namespace, d.name, labels={"environment": ["production"]})
    record(event("COMPLETE", "job-e", outputs=[tagged], annotate="existing"))
    assert not ln.ULabel.filter(name="production").exists()
    rec = record(event("COMPLETE", "job-f", outputs=[tagged], annotate="auto", engine="openlineage", seconds=1))
    assert ln.Feature.get(name="environment").dtype == "cat[ULabel]"
    assert ln.Artifact.filter(environment="production").count() == 1
    assert rec.output_ids


def test_none_mode_writes_nothing(instance, tmp_path):
    ln.Feature(name="sample", dtype=str).save()
    rec = record(event("COMPLETE", "job-g", outputs=[out_file(tmp_path, "g.txt", "G")], annotations={"sample": "G"}, annotate="none"))
    assert rec.run.features.get_values() == {}
    assert ln.Artifact.filter(sample="G").count() == 0


def test_rerun_replaces_values_and_batches_annotate_each_output(instance, tmp_path):
    ln.Feature(name="sample", dtype=str).save()
    events = [event("COMPLETE", f"job-{i}", outputs=[out_file(tmp_path, f"{i}.txt", str(i))], annotations={"sample": f"S{i % 2}"})
              for i in range(6)]
    record_many(events)
    assert ln.Artifact.filter(sample="S0").count() == 3
    # the same content made again by a run with another sample: one value, the new one
    again = event("COMPLETE", "job-again", outputs=[out_file(tmp_path, "0.txt", "0")], annotations={"sample": "S9"})
    rec = record(again)
    assert ln.Artifact.get(id=rec.output_ids[0]).features.get_values() == {"sample": "S9"}


def test_columns_become_the_artifacts_feature_set(instance, tmp_path):
    d = out_file(tmp_path, "tbl.csv", "a,b\n1,x\n")
    ds = Dataset(d.namespace, d.name, columns=[("cell_count", "bigint"), ("donor", "varchar")], annotations={"row_count": 1})
    rec = record(event("COMPLETE", "job-h", outputs=[ds], annotate="auto", engine="openlineage"))
    artifact = ln.Artifact.get(id=rec.output_ids[0])
    feature_set = artifact.feature_sets.first()
    assert [f.name for f in feature_set.members] == ["cell_count", "donor"]
    assert ln.Feature.get(name="cell_count").dtype == "int"
    assert ln.Artifact.filter(row_count__gte=1).count() == 1


def test_events_with_annotations_pickle():
    e = event("START", "p", annotations={"sample": "A", "n": [1, 2]}, annotate="auto")
    assert pickle.loads(pickle.dumps(e)) == e


def test_track_params_and_flow_arguments_annotate_runs(instance):
    ln.Feature(name="learning_rate", dtype=float).save()
    ln.Feature(name="dataset", dtype=str).save()
    run = ln.track(transform=ln.Transform(key="train.py", kind="script"),
                   params={"learning_rate": 0.01, "epochs": 3, "api_key": "s3cret"})
    try:
        assert ln.Run.filter(learning_rate=0.01).one() == run
        assert run.features.get_values() == {"learning_rate": 0.01}  # `epochs` has no feature
    finally:
        ln.finish()

    @ln.flow()
    def train(dataset: str, learning_rate: float = 0.1) -> None:
        pass

    @ln.step()
    def prepare(dataset: str) -> None:
        pass

    train("pbmc", learning_rate=0.5)
    prepare("lung")
    assert ln.Run.filter(dataset="pbmc", learning_rate=0.5).count() == 1
    assert ln.Run.filter(dataset="lung").one().transform.key.endswith("prepare")
