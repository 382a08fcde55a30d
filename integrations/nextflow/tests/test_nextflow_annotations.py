"""`lamin nextflow ingest --annotate`: each task's meta map, tag and samplesheet row annotate its run and
published outputs (the real CLI in a subprocess, SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import lamin_core as ln
from nftools import lamin

SHEET = "sample,fastq_1,condition,replicate\nS1,data/S1_1.fastq.gz,control,1\nS2,data/S2.fastq.gz,treated,2\n"


def _ingest(instance, folder: Path, *args: str) -> None:
    (folder / "samplesheet.csv").write_text(SHEET)  # the run's --input, with two plain columns
    done = lamin(instance, "nextflow", "ingest", str(folder), *args)
    assert done.returncode == 0, done.stdout + done.stderr


def _names(artifacts) -> list[str]:
    return sorted(a.key.rsplit("/", 1)[-1] for a in artifacts)


def test_meta_and_samplesheet_annotate_task_runs_and_published_outputs(instance, run_dir):
    ln.Feature(name="sample", dtype=str).save()
    ln.Feature(name="condition", dtype=str).save()
    ln.Feature(name="replicate", dtype=int).save()
    _ingest(instance, run_dir("success"))

    assert _names(ln.Artifact.filter(sample="S1")) == ["S1_fastqc.html", "S1_fastqc.zip"]
    assert _names(ln.Artifact.filter(condition="treated", replicate=2)) == ["S2_fastqc.html", "S2_fastqc.zip"]
    fastqc_s1 = ln.Run.filter(reference_type="nextflow_task", sample="S1").one()
    assert fastqc_s1.name == "NFCORE_DEMO:DEMO:FASTQC (S1)"
    assert fastqc_s1.features.get_values() == {"sample": "S1", "condition": "control", "replicate": 1}
    # `existing`: meta.id (as meta_id) and the tag have no feature here, and none is made
    assert not ln.Feature.filter(name__in=["meta_id", "tag", "fastq_1"]).exists()


def test_auto_creates_features_under_the_nextflow_type(instance, run_dir):
    _ingest(instance, run_dir("success"), "--annotate", "auto")
    made = {f.name: f.dtype for f in ln.Feature.filter(type__name="nextflow")}
    assert made == {"sample": "str", "condition": "str", "replicate": "int", "meta_id": "str", "tag": "str"}
    assert _names(ln.Artifact.filter(meta_id="S2")) == ["S2_fastqc.html", "S2_fastqc.zip"]


def test_annotate_none_writes_no_values(instance, run_dir):
    ln.Feature(name="sample", dtype=str).save()
    _ingest(instance, run_dir("success"), "--annotate", "none")
    assert ln.Artifact.filter(key__endswith="S1_fastqc.zip").count() == 1
    assert ln.Artifact.filter(sample="S1").count() == 0


def test_unknown_annotate_mode_is_a_usage_error(instance, run_dir):
    done = lamin(instance, "nextflow", "ingest", str(run_dir("success")), "--annotate", "everything")
    assert done.returncode == 2 and "invalid choice: 'everything'" in done.stderr
