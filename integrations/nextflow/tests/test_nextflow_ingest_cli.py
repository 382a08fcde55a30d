"""`lamin nextflow ingest` end to end: the real CLI in a subprocess, on SQLite and PostgreSQL."""

from __future__ import annotations

import lamin_core as ln
from nftools import lamin

SESSION = "4f1c2e8a-9b7d-4c3e-a1f0-2d5e6b7c8d9e"


def _artifact(suffix):
    return ln.Artifact.filter(key__endswith=suffix).one()


def _counts():
    return (ln.Transform.filter().count(), ln.Run.filter().count(), ln.Artifact.filter().count())


def _task(name):
    return ln.Run.filter(reference_type="nextflow_task", name=name).one()


def test_success_lineage_from_reads_to_report_and_ingest_twice_changes_nothing(instance, run_dir):
    folder = run_dir("success")
    done = lamin(instance, "nextflow", "ingest", str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imported 1 run(s), 3 task(s)" in done.stdout and "Traceback" not in done.stderr

    pipeline = ln.Run.filter(reference_type="nextflow_run").one()
    assert pipeline.reference == f"{SESSION}/golden_turing" and pipeline.status == "completed"
    assert pipeline.transform.key == "nextflow/nf-core/demo" and pipeline.transform.kind == "pipeline"
    assert pipeline.transform.version == "86165b8c81d43a1f57363964431395152e353e56"
    assert pipeline.params["max_cpus"] == 4 and pipeline.params["aws_secret_key"] == "***"
    assert [a.key.rsplit("/", 1)[-1] for a in pipeline.input_artifacts] == ["samplesheet.csv"]

    report = _artifact("multiqc/multiqc_report.html")
    multiqc = report.run
    assert multiqc.reference_type == "nextflow_task" and multiqc.name == "NFCORE_DEMO:DEMO:MULTIQC"
    assert multiqc.transform.key == "nextflow/nf-core/demo/NFCORE_DEMO:DEMO:MULTIQC"
    assert multiqc.initiated_by_run.id == pipeline.id and multiqc.status == "completed"
    assert multiqc.facets["nextflow_task"]["workdir"].endswith(multiqc.reference[2:])
    zips = sorted(a.key.rsplit("/", 1)[-1] for a in multiqc.input_artifacts)
    assert zips == ["S1_fastqc.zip", "S2_fastqc.zip"]
    s1 = _artifact("fastqc/S1_fastqc.zip").run
    assert s1.name == "NFCORE_DEMO:DEMO:FASTQC (S1)" and s1.initiated_by_run.id == pipeline.id
    assert sorted(a.key.rsplit("/", 1)[-1] for a in s1.input_artifacts) == ["S1_1.fastq.gz", "S1_2.fastq.gz"]
    assert all(a.run is None for a in s1.input_artifacts)  # raw reads: inputs no task wrote
    assert str(report.path).endswith("results/multiqc/multiqc_report.html") and report.hash_type != "nextflow"
    assert not ln.Artifact.filter(key__endswith="multiqc_data.json").exists()  # work-only: needs --intermediates

    before = _counts()
    again = lamin(instance, "nextflow", "ingest", str(folder))
    assert again.returncode == 0 and "all already recorded" in again.stdout
    assert _counts() == before


def test_intermediates_register_work_files(instance, run_dir):
    folder = run_dir("success")
    done = lamin(instance, "nextflow", "ingest", str(folder), "--intermediates")
    assert done.returncode == 0, done.stdout + done.stderr
    data = _artifact("multiqc_data.json")
    assert "/work/" in str(data.path) and data.run.name == "NFCORE_DEMO:DEMO:MULTIQC"


def test_retry_one_task_run_and_ignored_failure(instance, run_dir):
    done = lamin(instance, "nextflow", "ingest", str(run_dir("retry")))
    assert done.returncode == 0, done.stdout + done.stderr
    s1 = _task("NFCORE_DEMO:DEMO:FASTQC (S1)")  # two attempts, two hashes, one Run
    assert s1.status == "completed"
    assert [(a["attempt"], a["status"]) for a in s1.facets["attempts"]] == [(1, "started"), (1, "errored"), (2, "started"), (2, "completed")]
    assert [a["exit"] for a in s1.facets["nextflow_task"]["attempts"]] == [137, 0]
    assert _artifact("fastqc/S1_fastqc.zip").run.id == s1.id
    assert _task("NFCORE_DEMO:DEMO:SEQKIT_STATS (S2)").status == "errored"
    assert ln.Run.filter(reference_type="nextflow_run").one().status == "completed"  # retried or ignored


def test_failed_run_is_errored_with_its_report(instance, run_dir):
    done = lamin(instance, "nextflow", "ingest", str(run_dir("failed")))
    assert done.returncode == 0, done.stdout + done.stderr
    pipeline = ln.Run.filter(reference_type="nextflow_run").one()
    assert pipeline.status == "errored" and "FASTQC (S2)" in pipeline.report.load()
    failed = _task("NFCORE_DEMO:DEMO:FASTQC (S2)")
    assert failed.status == "errored" and "exit status 1" in failed.report.load()


def test_resume_is_a_new_run_and_outputs_keep_their_producing_task(instance, run_dir):
    done = lamin(instance, "nextflow", "ingest", str(run_dir("resume")))
    assert done.returncode == 0, done.stdout + done.stderr
    first, second = ln.Run.filter(reference_type="nextflow_run").order_by("started_at").all()
    assert (first.name, first.status, second.name, second.status) == ("golden_turing", "errored", "silly_euler", "completed")
    assert first.transform.id == second.transform.id
    report = _artifact("multiqc/multiqc_report.html")
    assert report.run.initiated_by_run.id == second.id
    # FASTQC ran once (in the first run); its outputs, published again by the resumed run, stay its own
    fastqc = ln.Run.filter(reference_type="nextflow_task", name__startswith="NFCORE_DEMO:DEMO:FASTQC").all()
    assert len(fastqc) == 2 and all(r.initiated_by_run.id == first.id for r in fastqc)
    assert _artifact("fastqc/S1_fastqc.zip").run.initiated_by_run.id == first.id


def test_published_outputs_on_s3(instance, run_dir, s3):
    folder = run_dir("s3")
    s3.make_bucket("lamin-nf-test")
    client = s3.client()
    for path in (folder / ".lineage").rglob(".data.json"):  # what Nextflow published, uploaded
        text = path.read_text()
        if '"FileOutput"' in text and '"taskRun": null' in text:
            import json

            doc = json.loads(text)["spec"]
            key = doc["path"].split("lamin-nf-test/", 1)[1]
            client.put_object(Bucket="lamin-nf-test", Key=key, Body=f"published {key}".encode())
    env = {**instance.env, **s3.env}
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([str(Path(sys.executable).with_name("lamin")), "nextflow", "ingest", str(folder)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    report = ln.Artifact.filter(key="results/multiqc/multiqc_report.html").one()
    assert str(report.path) == "s3://lamin-nf-test/results/multiqc/multiqc_report.html"
    assert report.hash_type == "md5" and report.run.name == "NFCORE_DEMO:DEMO:MULTIQC"  # read from the bucket
    reads = ln.Artifact.filter(key="data/S2.fastq.gz").one()  # never uploaded: Nextflow's checksum stands in
    assert str(reads.path) == "s3://lamin-nf-test/data/S2.fastq.gz" and reads.hash_type == "nextflow" and reads.hash


def test_broken_input_partial_import_exit_1(instance, run_dir):
    done = lamin(instance, "nextflow", "ingest", str(run_dir("broken")))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "unknown kind 'AgentRun'" in done.stdout and "ends in the middle" in done.stdout
    assert "gone.html: published output not found" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert ln.Run.filter(reference_type="nextflow_task").count() == 3


def test_nothing_usable_exit_2_without_traceback(instance, tmp_path):
    (tmp_path / "empty").mkdir()
    done = lamin(instance, "nextflow", "ingest", str(tmp_path / "empty"))
    assert done.returncode == 2 and "no Nextflow records here" in done.stderr and "Traceback" not in done.stderr
    missing = lamin(instance, "nextflow", "ingest", str(tmp_path / "empty"), "--trace", str(tmp_path / "nope.txt"))
    assert missing.returncode == 2 and "trace file not found" in missing.stderr


def test_samples_from_nextflow_source_with_files_gone_keep_nextflow_checksums(instance, tmp_path):
    """The shared samples name files on another machine: registered by path with Nextflow's checksums."""
    import shutil

    from nftools import SAMPLES

    folder = tmp_path / "launch"
    shutil.copytree(SAMPLES / "lineage" / ".lineage", folder / ".lineage")
    shutil.copy(SAMPLES / "trace" / "execution_trace_raw.txt", folder / "trace.txt")
    done = lamin(instance, "nextflow", "ingest", str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    report = _artifact("multiqc/multiqc_report.html")
    assert report.hash == "03fd5ed150c7862e1fad5efd4f574a47" and report.hash_type == "nextflow"
    assert report.run.reference == "862df53160e07cd823c0c3960545e747" and report.run.status == "completed"
    assert report.run.facets["nextflow_task"]["resources"]["peak_rss"] == 301989888
    reads = ln.Artifact.filter(key__endswith="SAMPLE1_PE_1.fastq.gz").one()
    assert reads.hash == "01c0ffee01c0ffee01c0ffee01c0ffee"


def test_without_an_instance_one_clear_message(run_dir, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "LAMIN_HOME": str(tmp_path / "no-home")}
    done = subprocess.run([str(Path(sys.executable).with_name("lamin")), "nextflow", "ingest", str(run_dir("success"))],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "no lamin instance is connected" in done.stderr
    assert done.stderr.count("\n") <= 2 and "Traceback" not in done.stderr
