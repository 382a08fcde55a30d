"""The parsers read every format Nextflow writes, and say what they skip instead of raising."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone

from nftools import SAMPLES
from lamin_nextflow.history import read_history
from lamin_nextflow.lineage_store import read_store
from lamin_nextflow.nfprov import read_manifest
from lamin_nextflow.schema import read_schema, type_params
from lamin_nextflow.trace import parse_trace

FULL = "3a9f2c1d0e8b7a6f5e4d3c2b1a09f8e7"


def test_raw_trace_gives_full_hash_times_and_metrics():
    trace = parse_trace(SAMPLES / "trace" / "execution_trace_raw.txt")
    assert not trace.skipped and len(trace.rows) == 3
    row = trace.rows[0]
    assert row.hash == FULL and row.short_hash == "3a/9f2c1d"
    assert row.process == "NFCORE_DEMO:DEMO:FASTQC" and row.tag == "SAMPLE1_PE"
    assert row.status == "COMPLETED" and row.exit == 0 and row.attempt == 1
    assert row.submit == datetime(2025, 6, 1, 12, 0, 1, tzinfo=timezone.utc)
    assert row.complete == datetime(2025, 6, 1, 12, 0, 31, tzinfo=timezone.utc)
    assert row.container == "quay.io/biocontainers/fastqc:0.12.1--hdfd78af_0"
    assert row.resources["memory"] == 6442450944 and row.resources["cpus"] == 2
    assert row.resources["peak_rss"] == 301989888 and row.resources["%cpu"] == 187.4


def test_default_trace_human_units_and_short_hash():
    trace = parse_trace(SAMPLES / "trace" / "execution_trace_default.txt")
    assert len(trace.rows) == 3 and not trace.skipped
    row = trace.rows[0]
    assert row.hash is None and row.short_hash == "3a/9f2c1d"  # the default fields name no workdir
    assert row.resources["duration"] == 30_000 and row.resources["realtime"] == 28_900
    assert row.resources["peak_rss"] == 288 * 1024**2 and row.resources["peak_vmem"] == round(3.7 * 1024**3)
    assert row.submit == datetime(2025, 6, 1, 12, 0, 1, tzinfo=timezone.utc)
    assert row.complete == datetime(2025, 6, 1, 12, 0, 31, tzinfo=timezone.utc)  # submit + duration


def test_truncated_trace_keeps_whole_rows_and_reports_the_cut_one(tmp_path):
    text = (SAMPLES / "trace" / "execution_trace_raw.txt").read_text()
    cut = tmp_path / "trace.txt"
    cut.write_text(text[: len(text) - 200])
    trace = parse_trace(cut)
    assert [r.task_id for r in trace.rows] == ["1", "2"]
    assert len(trace.skipped) == 1 and "ends in the middle" in trace.skipped[0].reason


def test_not_a_trace_and_missing_file_are_reported(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("hello\tworld\n1\t2\n")
    assert "not a Nextflow trace" in parse_trace(other).skipped[0].reason
    assert "cannot read" in parse_trace(tmp_path / "gone.txt").skipped[0].reason


def _flatten(store_dir):
    for data in store_dir.rglob(".data.json"):
        doc = json.loads(data.read_text())
        spec = doc.pop("spec")
        doc.update(spec)
        data.write_text(json.dumps(doc))


def test_wrapped_and_flat_lineage_records_read_the_same(tmp_path):
    wrapped = read_store(SAMPLES / "lineage" / ".lineage")
    flat_dir = tmp_path / ".lineage"
    shutil.copytree(SAMPLES / "lineage" / ".lineage", flat_dir)
    _flatten(flat_dir)
    flat = read_store(flat_dir)
    assert not wrapped.skipped and not flat.skipped
    for store in (wrapped, flat):
        run = store.runs["16b31030474f2e96c55f4940bca3ab64"]
        assert (run.session_id, run.run_name) == ("4f1c2e8a-9b7d-4c3e-a1f0-2d5e6b7c8d9e", "golden_turing")
        assert run.commit_id == "86165b8c81d43a1f57363964431395152e353e56"
        assert run.params == {"input": "/home/alice/proj/samplesheet.csv", "outdir": "results"}
        task = store.tasks[FULL]
        assert task.name == "NFCORE_DEMO:DEMO:FASTQC (SAMPLE1_PE)" and task.workflow_lid == run.lineage_id
        assert [f.path for f in task.inputs] == ["/home/alice/proj/data/SAMPLE1_PE_1.fastq.gz",
                                                "/home/alice/proj/data/SAMPLE1_PE_2.fastq.gz"]
        assert task.values == {"meta": {"id": "SAMPLE1_PE", "single_end": False}}
        (report,) = store.published["16b31030474f2e96c55f4940bca3ab64"]
        assert report.path == "/home/alice/proj/results/multiqc/multiqc_report.html"
        assert report.task_hash == "862df53160e07cd823c0c3960545e747" and report.checksum == "03fd5ed150c7862e1fad5efd4f574a47"
        assert store.work_files[f"{FULL}/SAMPLE1_PE_fastqc.zip"].size == 250123
    assert wrapped.tasks == flat.tasks and wrapped.work_files == flat.work_files


def test_unknown_kind_and_unreadable_records_are_skipped_not_fatal(tmp_path):
    store_dir = tmp_path / ".lineage"
    shutil.copytree(SAMPLES / "lineage" / ".lineage", store_dir)
    (store_dir / "aa" / ".data.json").parent.mkdir()
    (store_dir / "aa" / ".data.json").write_text('{"version": "lineage/v9", "kind": "Hologram", "spec": {}}')
    (store_dir / "bb").mkdir()
    (store_dir / "bb" / ".data.json").write_text("{not json")
    store = read_store(store_dir)
    reasons = sorted(s.reason for s in store.skipped)
    assert len(reasons) == 2
    assert "unknown kind 'Hologram'" in reasons[0] and "unreadable" in reasons[1]
    assert len(store.tasks) == 3  # the rest still read


def test_nf_prov_manifest_tasks_get_hashes_from_work_paths():
    manifest = read_manifest(SAMPLES / "nf_prov" / "manifest_legacy.json")
    assert manifest.pipeline["name"] == "nf-core/demo"
    assert manifest.tasks["1"].hash == FULL
    assert manifest.tasks["1"].inputs[0].path == "/home/alice/proj/data/SAMPLE1_PE_1.fastq.gz"
    (published,) = manifest.published
    assert published.path == "/home/alice/proj/results/multiqc/multiqc_report.html"
    assert published.task_hash == "862df53160e07cd823c0c3960545e747"


def test_history_and_schema(tmp_path):
    history = tmp_path / "history"
    history.write_text(
        "2025-06-01 12:00:00\t1m 35s\tgolden_turing\tOK\t86165b8c81\t4f1c2e8a-9b7d-4c3e-a1f0-2d5e6b7c8d9e\t"
        "nextflow run nf-core/demo -r 1.0.2 -resume\nnot a history line\n"
    )
    (entry,) = read_history(history)
    assert entry.run_name == "golden_turing" and entry.status == "OK" and entry.resume and entry.revision == "1.0.2"
    assert (entry.end - entry.start).total_seconds() == 95
    schema_file = tmp_path / "nextflow_schema.json"
    schema_file.write_text(json.dumps({"$defs": {"g": {"properties": {
        "max_cpus": {"type": "integer"}, "skip_qc": {"type": "boolean"}, "input": {"type": "string", "format": "file-path"}}}}}))
    schema = read_schema(schema_file)
    assert type_params({"max_cpus": "4", "skip_qc": "true", "input": "s.csv", "x": "1"}, schema) == {
        "max_cpus": 4, "skip_qc": True, "input": "s.csv", "x": "1"}
    assert schema.file_params() == ["input"]


def test_secret_options_are_hidden_in_command_lines():
    from lamin_nextflow._util import redact_command

    command = "nextflow run nf-core/demo --input s.csv --api_token abc --aws_secret_key=xyz -r 1.0.2"
    assert redact_command(command) == "nextflow run nf-core/demo --input s.csv --api_token *** --aws_secret_key=*** -r 1.0.2"
