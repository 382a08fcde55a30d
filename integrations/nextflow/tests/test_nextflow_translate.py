"""Ingest's pure half: run folders -> LineageEvents, checked event by event (no database)."""

from __future__ import annotations

import json
import shutil

from lamin_nextflow.identity import PIPELINE_RUN, TASK_RUN
from lamin_nextflow.ingest import find_sources, plan
from lamin_nextflow.weblog import MEMORY, parse_event, to_events

SESSION = "4f1c2e8a-9b7d-4c3e-a1f0-2d5e6b7c8d9e"
COMMIT = "86165b8c81d43a1f57363964431395152e353e56"


def _plan(folder, **kw):
    return plan(find_sources(folder), **kw)


def _by_run(events):
    out = {}
    for e in events:
        out.setdefault(e.run.run_id, []).append(e)
    return out


def _files(events, side):
    return sorted(d.name.rsplit("/", 1)[-1] for e in events for d in getattr(e, side))


def test_success_pipeline_tasks_and_published_outputs(run_dir):
    folder = run_dir("success")
    result = _plan(folder)
    assert (result.runs, result.tasks, result.exit_code, result.skipped) == (1, 3, 0, [])
    events = result.translation.events
    pipeline = [e for e in events if e.run.reference_type == PIPELINE_RUN]
    assert [e.event_type for e in pipeline] == ["START", "COMPLETE", "OTHER"]
    start = pipeline[0]
    assert (start.job.namespace, start.job.name, start.job.kind, start.job.version) == ("nextflow", "nf-core/demo", "pipeline", COMMIT)
    assert start.run.run_id == f"{SESSION}/golden_turing" and start.run.name == "golden_turing"
    # params typed by nextflow_schema.json, secrets redacted, the samplesheet an input of the pipeline run
    assert start.run.params["max_cpus"] == 4 and start.run.params["aws_secret_key"] == "***"
    assert [d.name for d in pipeline[-1].inputs] == [str(folder / "samplesheet.csv")]
    tasks = _by_run(e for e in events if e.run.reference_type == TASK_RUN)
    assert len(tasks) == 3
    for task_events in tasks.values():
        assert [e.event_type for e in task_events] == ["START", "RUNNING", "COMPLETE", "OTHER"]
        assert all(e.run.parent.run_id == f"{SESSION}/golden_turing" for e in task_events)
        assert all(e.job.name.startswith("nf-core/demo/NFCORE_DEMO:DEMO:") for e in task_events)
        facets = task_events[-1].run.facets["nextflow_task"]
        assert facets["workdir"].endswith(task_events[0].run.run_id[2:]) and facets["exit"] == 0
        assert facets["container"].startswith("quay.io/biocontainers/") and facets["resources"]["memory"] == 6442450944
    multiqc = next(v for v in tasks.values() if "MULTIQC" in v[0].job.name)
    # MULTIQC read FASTQC's zips: their published copies stand in for the work files
    assert _files(multiqc, "inputs") == ["S1_fastqc.zip", "S2_fastqc.zip"]
    assert all("/results/fastqc/" in d.name for d in multiqc[-1].inputs)
    assert [d.name for d in multiqc[-1].outputs] == [str(folder / "results/multiqc/multiqc_report.html")]
    fastqc = [v for v in tasks.values() if "FASTQC" in v[0].job.name]
    assert sorted(f for v in fastqc for f in _files(v, "outputs")) == [
        "S1_fastqc.html", "S1_fastqc.zip", "S2_fastqc.html", "S2_fastqc.zip"]
    assert _files(fastqc[0], "inputs") == ["S1_1.fastq.gz", "S1_2.fastq.gz"]
    out = multiqc[-1].outputs[0]
    assert out.hash and out.hash_type == "nextflow" and out.size > 0 and out.storage_root == str(folder / "results")


def test_intermediates_add_the_work_files(run_dir):
    folder = run_dir("success")
    events = _plan(folder, intermediates=True).translation.events
    outputs = [d.name for e in events for d in e.outputs]
    # every work output (multiqc_data.json was never published) beside the 5 published copies
    assert sum("/work/" in name for name in outputs) == 6 and sum("/results/" in name for name in outputs) == 5
    work = next(d for e in events for d in e.outputs if "/work/" in d.name)
    assert work.storage_root == str(folder / "work")


def test_retry_is_one_run_with_attempts_and_ignored_failure_keeps_pipeline_completed(run_dir):
    result = _plan(run_dir("retry"))  # the human trace: only short hashes, joined to the lineage store
    assert result.exit_code == 0 and result.tasks == 4
    tasks = _by_run(e for e in result.translation.events if e.run.reference_type == TASK_RUN)
    s1 = next(v for v in tasks.values() if v[0].run.name == "NFCORE_DEMO:DEMO:FASTQC (S1)")
    assert [(e.event_type, e.run.attempt) for e in s1] == [("START", 1), ("FAIL", 1), ("START", 2), ("COMPLETE", 2), ("OTHER", 2)]
    assert "exit status 137" in s1[1].run.error_message
    attempts = s1[-1].run.facets["nextflow_task"]["attempts"]
    assert [a["status"] for a in attempts] == ["FAILED", "COMPLETED"] and attempts[0]["hash"] == s1[0].run.run_id
    assert attempts[1]["hash"] != attempts[0]["hash"]  # each retry has its own hash and work dir
    ignored = next(v for v in tasks.values() if "SEQKIT_STATS" in v[0].job.name)
    assert [e.event_type for e in ignored][:2] == ["START", "FAIL"]
    pipeline = [e for e in result.translation.events if e.run.reference_type == PIPELINE_RUN]
    assert [e.event_type for e in pipeline] == ["START", "COMPLETE", "OTHER"]


def test_failed_run_is_errored_with_the_failing_process(run_dir):
    result = _plan(run_dir("failed"))
    pipeline = [e for e in result.translation.events if e.run.reference_type == PIPELINE_RUN]
    assert [e.event_type for e in pipeline] == ["START", "FAIL", "OTHER"]
    assert "NFCORE_DEMO:DEMO:FASTQC (S2)" in pipeline[1].run.error_message


def test_resume_is_a_new_run_and_reused_tasks_stay_with_the_first(run_dir):
    result = _plan(run_dir("resume"))
    assert result.runs == 2 and result.exit_code == 0
    first, second = result.assembly.runs
    assert (first.meta.run_name, first.status, second.meta.run_name, second.status) == (
        "golden_turing", "errored", "silly_euler", "completed")
    assert first.meta.session_id == second.meta.session_id
    assert [t.process for t in second.tasks] == ["NFCORE_DEMO:DEMO:MULTIQC"]  # FASTQC was cached
    # FASTQC outputs published again by the resumed run still belong to the first run's tasks
    republished = [e for e in result.translation.events if e.event_type == "OTHER" and e.event_time.hour == 13
                   and "FASTQC" in e.job.name]
    assert len(republished) == 2 and all(e.run.parent.run_id.endswith("/golden_turing") for e in republished)
    assert {e.run.run_id for e in republished} == {t.hash for t in first.tasks if "FASTQC" in t.name}


def test_s3_outputs_are_uris_with_nextflow_checksums(run_dir):
    events = _plan(run_dir("s3")).translation.events
    outputs = [d for e in events for d in e.outputs]
    assert len(outputs) == 5 and all(d.namespace == "s3://lamin-nf-test" for d in outputs)
    assert {d.name for d in outputs} >= {"results/multiqc/multiqc_report.html", "results/fastqc/S1_fastqc.zip"}
    assert all(d.hash for d in outputs) and all(d.storage_root == "s3://lamin-nf-test/results" for d in outputs)
    raw = [d for e in events for d in e.inputs if d.name.startswith("data/")]
    assert len(raw) == 3 and all(d.hash for d in raw)


def test_flat_store_with_nf_prov_and_without_store(run_dir):
    folder = run_dir("flat")
    with_store = _plan(folder)
    assert with_store.exit_code == 0 and with_store.tasks == 3
    shutil.rmtree(folder / ".lineage")  # nf-prov manifest + human trace + .nextflow/history only
    without = _plan(folder)
    assert without.runs == 1 and without.tasks == 3 and without.exit_code == 0
    events = without.translation.events
    published = sorted(d.name.rsplit("/", 1)[-1] for e in events if e.run.reference_type == TASK_RUN for d in e.outputs)
    assert published == ["S1_fastqc.html", "S1_fastqc.zip", "S2_fastqc.html", "S2_fastqc.zip", "multiqc_report.html"]
    assert events[0].job.version == "1.0.2"  # no commit id without the store: the manifest's version


def test_broken_input_imports_the_rest_and_says_what_it_skipped(run_dir):
    result = _plan(run_dir("broken"))
    assert result.exit_code == 1 and result.runs == 1 and result.tasks == 3
    reasons = " | ".join(s.reason for s in result.skipped)
    assert "unknown kind 'AgentRun'" in reasons and "unreadable lineage record" in reasons
    assert "ends in the middle" in reasons
    assert "published output not found and Nextflow recorded no checksum" in reasons


def test_nothing_usable_is_exit_2(tmp_path):
    (tmp_path / "notes.txt").write_text("no nextflow here\n")
    result = _plan(tmp_path)
    assert result.runs == 0 and result.exit_code == 2


def test_weblog_events_are_a_subset_of_ingest_events(run_dir):
    """Ingesting after the weblog repeats the weblog's events (no change) and only adds files."""
    for name in ("success", "retry"):
        folder = run_dir(name)
        MEMORY.clear()
        live = set()
        for line in (folder / "weblog.jsonl").read_text().splitlines():
            for event in to_events(parse_event(json.loads(line)), job_lookup=lambda r: None,
                                   first_hash_lookup=lambda r, n: None):
                live.add((event.identity, event.job.name, event.run.parent.run_id if event.run.parent else None))
        ingested = {(e.identity, e.job.name, e.run.parent.run_id if e.run.parent else None)
                    for e in _plan(folder).translation.events}
        if name == "retry":  # the human trace has no `start` column: only the weblog knows when tasks began
            live = {item for item in live if item[0][2] != "RUNNING"}
        assert live and live <= ingested, sorted(live - ingested)


def test_trace_and_lineage_store_named_on_the_command_line(run_dir, tmp_path):
    folder = run_dir("retry")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (folder / ".lineage").rename(elsewhere / "store")
    trace = next((folder / "results" / "pipeline_info").glob("*.txt"))
    trace = trace.rename(elsewhere / "my_trace.tsv")
    assert _plan(folder).tasks == 0  # neither is where ingest looks by default
    result = plan(find_sources(folder, trace_files=[trace], lineage_store=elsewhere / "store"))
    assert result.exit_code == 0 and result.tasks == 4
    assert result.assembly.runs[0].status == "completed"


def test_resume_that_reused_every_task_adds_no_duplicate_tasks(run_dir):
    folder = run_dir("resume")
    traces = sorted((folder / "results" / "pipeline_info").glob("*.txt"))
    second = traces[1]
    lines = second.read_text().splitlines()  # keep the resumed run's cached rows only
    second.write_text("\n".join([lines[0]] + [line for line in lines[1:] if "\tCACHED\t" in line]) + "\n")
    result = _plan(folder)
    first, resumed = result.assembly.runs
    assert len(first.tasks) == 3 and len({t.hash for t in first.tasks}) == 3
    assert [t.process for t in resumed.tasks] == ["NFCORE_DEMO:DEMO:MULTIQC"]  # from the lineage store
