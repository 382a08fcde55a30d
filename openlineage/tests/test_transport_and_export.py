"""The `lamin` client transport (no server), and export: recorded runs out as OpenLineage and back in."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import lamin_core as ln
import pytest
from lamin_core.lineage import record
from lamin_core.lineage.events import Dataset, Job, LineageEvent, ParentRun, RunInfo
from lamin_core.lineage.openlineage_json import RUN_EVENT_SCHEMA_URL, OpenLineageEventError
from ol_helpers import LAMIN, Server, fresh, lamin_serve, store_counts, summary_of
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import DatasetEvent, InputDataset, Job as OLJob, OutputDataset, Run, RunEvent, RunState
from openlineage.client.event_v2 import StaticDataset
from openlineage.client.facet_v2 import schema_dataset
from openlineage.client.uuid import generate_new_uuid


@pytest.mark.parametrize("transport_type", ["lamin", "lamin_openlineage.LaminTransport"])
def test_lamin_transport_records_without_a_server(
    instance: Any, transport_type: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lamin_openlineage  # noqa: F401  (registers `type: lamin`)

    monkeypatch.setenv("LAMIN_PROBE_REMOTE", "0")  # no network: gs:// is registered by URI

    data = tmp_path / "in.csv"
    data.write_text("a\n1\n")
    client = OpenLineageClient(config={"transport": {"type": transport_type}})
    run_id = str(generate_new_uuid())
    schema = {"schema": schema_dataset.SchemaDatasetFacet(fields=[schema_dataset.SchemaDatasetFacetFields(name="a", type="int")])}
    job = OLJob(namespace="notebooks", name="explore")
    t0 = datetime(2026, 2, 1, tzinfo=timezone.utc)
    client.emit(RunEvent(eventType=RunState.START, eventTime=t0.isoformat(), run=Run(runId=run_id), job=job, inputs=[InputDataset(namespace="file", name=str(data), facets=schema)]))
    client.emit(RunEvent(eventType=RunState.COMPLETE, eventTime=(t0 + timedelta(minutes=1)).isoformat(), run=Run(runId=run_id), job=job, outputs=[OutputDataset(namespace="gs://bucket", name="out/x.parquet")]))
    # static lineage (no run) is not something lamin-core records: skipped, not an error
    client.emit(DatasetEvent(eventTime=t0.isoformat(), dataset=StaticDataset(namespace="file", name=str(data))))

    run = ln.Run.get(reference=run_id)
    assert run.status == "completed" and run.transform.key == "notebooks/explore"
    (inp,) = run.input_artifacts
    assert str(inp.path) == str(data)
    assert [(f["name"], f["type"]) for f in inp.facets["schema"]["fields"]] == [("a", "int")]
    (out,) = run.output_artifacts
    assert str(out.path) == "gs://bucket/out/x.parquet"

    # a malformed event raises in the producer and writes nothing
    before = store_counts()
    bad = RunEvent(eventType=RunState.START, eventTime=t0.isoformat(), run=Run(runId=str(generate_new_uuid())), job=OLJob(namespace="n", name=""))
    with pytest.raises(OpenLineageEventError) as err:
        client.emit(bad)
    assert err.value.field == "job.name"
    assert store_counts() == before


def test_transport_from_openlineage_yml(instance: Any, tmp_path: Path) -> None:
    """The user's way: an openlineage.yml naming the transport, read by the client in a fresh process."""
    config = tmp_path / "openlineage.yml"
    config.write_text("transport:\n  type: lamin_openlineage.LaminTransport\n")
    code = (
        "from openlineage.client import OpenLineageClient\n"
        "from openlineage.client.event_v2 import Job, Run, RunEvent, RunState\n"
        "c = OpenLineageClient()\n"
        "c.emit(RunEvent(eventType=RunState.COMPLETE, eventTime='2026-01-01T00:00:00Z',"
        " run=Run(runId='0190f1c2-7a6b-7c3d-8e9f-0a1b2c3d4e5f'), job=Job(namespace='yml', name='job')))\n"
    )
    env = {**instance.env, "OPENLINEAGE_CONFIG": str(config)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120, cwd=tmp_path)
    fresh()
    assert ln.Run.get(reference="0190f1c2-7a6b-7c3d-8e9f-0a1b2c3d4e5f").transform.key == "yml/job"


def _record_some_lineage(storage_root: Path, tmp_path: Path) -> None:
    """Runs as the adapters record them: non-UUID engine ids, params, a parent, attempts, files, a log, a failure."""
    src = storage_root / "raw" / "reads.fq"
    src.parent.mkdir(parents=True)
    src.write_text("@r1\nACGT\n+\nIIII\n")
    bam = tmp_path / "work" / "out.bam"
    bam.parent.mkdir()
    bam.write_bytes(b"BAM\x01" * 10)
    log = tmp_path / "work" / "align.log"
    log.write_text("aligned 1 read\n")
    t0 = datetime(2026, 4, 1, 8, 0, tzinfo=timezone.utc)
    wf = Job(namespace="snakemake", name="wf/Snakefile", kind="pipeline", source_code="rule all: ...")
    align = Job(namespace="snakemake", name="wf/Snakefile:align", kind="function", source_code="bwa mem {input}", description="align reads")
    parent = ParentRun(run_id="wf-42", job=wf, reference_type="snakemake_workflow")
    params = {"threads": 4, "sample": "A", "reference": None}

    def info(rid: str, attempt: int | None = None, error: str | None = None) -> RunInfo:
        return RunInfo(run_id=rid, reference_type="snakemake_job", parent=parent, params=params, attempt=attempt, error_message=error, name=f"align {rid}")

    wf_info = RunInfo(run_id="wf-42", reference_type="snakemake_workflow", params={"configfile": "config.yaml"})
    record(LineageEvent("START", t0, wf, wf_info))
    record(LineageEvent("START", t0 + timedelta(seconds=1), align, info("job-1", 1), inputs=[Dataset("file", str(src))]))
    record(LineageEvent("FAIL", t0 + timedelta(seconds=2), align, info("job-1", 1, "out of memory")))
    record(LineageEvent("START", t0 + timedelta(seconds=3), align, info("job-1", 2), inputs=[Dataset("file", str(src))]))
    record(LineageEvent("COMPLETE", t0 + timedelta(seconds=4), align, info("job-1", 2),
                        outputs=[Dataset("file", str(bam)), Dataset("file", str(log), kind="log")]))
    record(LineageEvent("START", t0 + timedelta(seconds=5), align, info("job-2"), inputs=[Dataset("postgres://db:5432", "lims.public.samples")]))
    record(LineageEvent("FAIL", t0 + timedelta(seconds=6), align, info("job-2", error="exit code 137")))
    record(LineageEvent("COMPLETE", t0 + timedelta(seconds=7), wf, wf_info))


def test_export_then_ingest_yields_the_same_records(instance: Any, serve: Server, tmp_path: Path) -> None:
    from lamin_openlineage import export_runs
    from lamin_openlineage.export import ExportError

    _record_some_lineage(instance.storage_root, tmp_path)
    import requests

    for event_type, when in (("START", "2026-04-02T00:00:00Z"), ("COMPLETE", "2026-04-02T00:10:00Z")):
        body = {"eventType": event_type, "eventTime": when, "producer": "urn:p", "schemaURL": RUN_EVENT_SCHEMA_URL,
                "run": {"runId": "0190f1c2-7a6b-7c3d-8e9f-0a1b2c3d4e5f"}, "job": {"namespace": "air", "name": "dag.t"},
                "outputs": [{"namespace": "s3://b", "name": "k.csv"}] if event_type == "COMPLETE" else []}
        r = requests.post(serve.url, json=body, headers={"Authorization": "Bearer test-token-123"}, timeout=30)
        assert r.status_code == 201, (r.status_code, r.text, serve.log())
    expected = summary_of(instance.env)
    assert len(expected) == 4

    # into the same instance: every event is already there, nothing changes
    before = store_counts()
    n = export_runs(url=serve.base, api_key="test-token-123")
    assert n == 10 and store_counts() == before
    with pytest.raises(ExportError, match="401"):
        export_runs(url=serve.base, api_key="wrong")

    # into another instance, through its own `lamin serve`: the same transforms, runs and artifacts
    other_home = tmp_path / "other_home"
    env = {k: v for k, v in instance.env.items() if k != "LAMIN_INSTANCE"}
    env["LAMIN_HOME"] = str(other_home)
    subprocess.run([LAMIN, "init", "--storage", str(tmp_path / "other_storage"), "--name", "other"], env=env, check=True, capture_output=True, timeout=120)
    with lamin_serve(env) as other:
        os.environ["LAMIN_OPENLINEAGE_URL"] = other.base  # the documented way to name the target
        try:
            assert export_runs() == 10
        finally:
            del os.environ["LAMIN_OPENLINEAGE_URL"]
    got = summary_of(env)
    for k in expected:
        assert got[k] == expected[k], k
    assert got == expected


def test_export_cli(instance: Any, serve: Server, tmp_path: Path) -> None:
    _record_some_lineage(instance.storage_root, tmp_path)
    run = ln.Run.get(reference="job-1")
    env = {**instance.env, "LAMIN_OPENLINEAGE_URL": serve.base, "LAMIN_OPENLINEAGE_API_KEY": "test-token-123"}
    out = subprocess.run([LAMIN, "openlineage", "export", "--run", run.uid], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "exported 4 events" in out.stdout
    out = subprocess.run([LAMIN, "openlineage", "export", "--run", "nope"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "no run with uid nope" in out.stderr and "Traceback" not in out.stderr
    del env["LAMIN_OPENLINEAGE_URL"]
    out = subprocess.run([LAMIN, "openlineage", "export", "--all"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "LAMIN_OPENLINEAGE_URL" in out.stderr
