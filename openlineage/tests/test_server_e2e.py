"""`lamin serve` end to end: the real openlineage-python client over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import lamin_core as ln
import requests
from ol_helpers import TOKEN, Server, auth, event, fresh, store_counts, table
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    error_message_run,
    job_type_job,
    parent_run,
    schema_dataset,
    source_code_job,
    source_code_location_job,
)
from openlineage.client.uuid import generate_new_uuid


def http_client(server: Server) -> OpenLineageClient:
    return OpenLineageClient(
        config={"transport": {"type": "http", "url": server.base, "auth": {"type": "api_key", "apiKey": TOKEN}}}
    )


def test_openlineage_client_over_http_records_lineage(instance: Any, serve: Server, tmp_path: Path) -> None:
    raw = instance.storage_root / "raw" / "orders.csv"
    raw.parent.mkdir(parents=True)
    raw.write_text("id,total\n1,9.5\n")
    out = tmp_path / "work" / "orders_clean.csv"  # outside every storage location: registered in place
    out.parent.mkdir()
    out.write_text("id,total\n1,9.50\n")
    client = http_client(serve)
    dag_run, task_run, bad_run = str(generate_new_uuid()), str(generate_new_uuid()), str(generate_new_uuid())
    parent = {"parent": parent_run.ParentRunFacet(run=parent_run.Run(runId=dag_run), job=parent_run.Job(namespace="etl", name="shop_dag"))}
    task = Job(
        namespace="etl",
        name="shop_dag.clean",
        facets={
            "sourceCode": source_code_job.SourceCodeJobFacet(language="python", sourceCode="def clean(): ..."),
            "sourceCodeLocation": source_code_location_job.SourceCodeLocationJobFacet(type="git", url="https://example.org/r/blob/1/dags/shop.py"),
            "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="AIRFLOW", jobType="TASK"),
        },
    )
    schema = {"schema": schema_dataset.SchemaDatasetFacet(fields=[schema_dataset.SchemaDatasetFacetFields(name="id", type="INTEGER")])}
    orders_table = InputDataset(namespace="postgres://warehouse:5432", name="shop.public.orders", facets=schema)
    raw_file = InputDataset(namespace="file", name=str(raw))
    s3_obj = InputDataset(namespace="s3://landing", name="2026/orders.json")
    dag = Job(namespace="etl", name="shop_dag", facets={"jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="AIRFLOW", jobType="DAG")})

    t = "2026-03-01T10:00:0{}+00:00"
    client.emit(RunEvent(eventType=RunState.START, eventTime=t.format(0), run=Run(runId=dag_run), job=dag))
    client.emit(RunEvent(eventType=RunState.START, eventTime=t.format(1), run=Run(runId=task_run, facets=parent), job=task, inputs=[orders_table, raw_file, s3_obj]))
    client.emit(RunEvent(eventType=RunState.COMPLETE, eventTime=t.format(2), run=Run(runId=task_run, facets=parent), job=task, outputs=[OutputDataset(namespace="file", name=str(out))]))
    failed = {**parent, "errorMessage": error_message_run.ErrorMessageRunFacet(message="KeyError: 'total'", programmingLanguage="python", stackTrace="Traceback (most recent call last): ...")}
    client.emit(RunEvent(eventType=RunState.START, eventTime=t.format(3), run=Run(runId=bad_run, facets=parent), job=task))
    client.emit(RunEvent(eventType=RunState.FAIL, eventTime=t.format(4), run=Run(runId=bad_run, facets=failed), job=task))
    client.emit(RunEvent(eventType=RunState.COMPLETE, eventTime=t.format(5), run=Run(runId=dag_run), job=dag))
    client.close()

    fresh()
    run = ln.Run.get(reference=task_run)
    assert run.reference_type == "openlineage" and run.status == "completed"
    assert run.started_at.replace(tzinfo=None).isoformat() == "2026-03-01T10:00:01"
    assert run.transform.key == "etl/shop_dag.clean" and run.transform.kind == "function"
    assert run.transform.source_code == "def clean(): ..."
    assert run.transform.facets["sourceCodeLocation"]["url"].endswith("dags/shop.py")
    assert run.initiated_by_run.reference == dag_run
    assert run.initiated_by_run.transform.key == "etl/shop_dag" and run.initiated_by_run.status == "completed"
    inputs = {str(a.path): a for a in run.input_artifacts}
    assert set(inputs) == {str(raw), "postgres://warehouse:5432/shop.public.orders", "s3://landing/2026/orders.json"}
    assert inputs[str(raw)].hash is not None  # a local file is read and hashed in place
    assert inputs["postgres://warehouse:5432/shop.public.orders"].facets["schema"]["fields"][0]["name"] == "id"
    (output,) = run.output_artifacts
    assert str(output.path) == str(out) and output.run.reference == task_run
    assert output.cache().read_text() == "id,total\n1,9.50\n"  # registered in place, not copied
    bad = ln.Run.get(reference=bad_run)
    assert bad.status == "errored"
    assert "KeyError: 'total'" in bad.report.cache().read_text()
    assert bad.transform == run.transform  # same job, same source: one transform


def test_idempotent_and_out_of_order(instance: Any, serve: Server) -> None:
    run_id = str(uuid.uuid4())
    start = event("START", run_id, when="2026-01-01T00:00:00Z", inputs=[table("db.s.a")])
    complete = event("COMPLETE", run_id, when="2026-01-01T00:05:00Z", outputs=[table("db.s.b")])
    s = requests.Session()
    assert s.post(serve.url, json=complete, headers=auth()).status_code == 201  # COMPLETE before START
    r = s.post(serve.url, json=start, headers=auth())
    assert r.status_code == 201 and r.json()["run"]["reference"] == run_id
    before = store_counts()
    for body in (start, complete, complete):  # Airflow-style re-sends
        r = s.post(serve.url, json=body, headers=auth())
        assert r.status_code == 200 and r.json()["status"] == "exists"
    # the same instant written in another timezone is the same event
    assert s.post(serve.url, json={**start, "eventTime": "2026-01-01T01:00:00+01:00"}, headers=auth()).status_code == 200
    assert store_counts() == before
    fresh()
    run = ln.Run.get(reference=run_id)
    assert run.status == "completed"  # a late START does not reopen a finished run
    assert run.started_at.replace(tzinfo=None).isoformat() == "2026-01-01T00:00:00"
    assert run.finished_at.replace(tzinfo=None).isoformat() == "2026-01-01T00:05:00"
    assert [str(a.path) for a in run.input_artifacts] == ["postgres://warehouse:5432/db.s.a"]
    assert before["lineage_events"] == 2


def test_concurrent_producers_lose_no_event(instance: Any, serve: Server) -> None:
    _concurrent_producers(serve)


def test_two_worker_processes_lose_no_event(instance: Any) -> None:
    # several processes write at once (each with its own recording thread), behind one socket we bound
    from ol_helpers import lamin_serve

    with lamin_serve(instance.env, "--token", TOKEN, "--workers", "2") as server:
        _concurrent_producers(server)


def _concurrent_producers(serve: Server) -> None:
    n_clients, runs_each = 8, 6
    parent = str(uuid.uuid4())
    results: list[int] = []
    lock = threading.Lock()
    batches = []
    for c in range(n_clients):
        events = []
        for i in range(runs_each):
            rid = str(uuid.uuid4())
            # every client reads the same table and runs the same jobs: writers meet on shared rows
            events.append(event("START", rid, job=f"task{i % 3}", inputs=[table("db.s.shared")], parent=parent,
                                when=f"2026-01-01T00:{c:02d}:{i:02d}Z"))
            events.append(event("COMPLETE", rid, job=f"task{i % 3}", outputs=[table(f"db.s.out_{c}_{i}")], parent=parent,
                                when=f"2026-01-01T01:{c:02d}:{i:02d}Z"))
        events.append(events[0])  # one re-send each: must be 200, not a second record
        batches.append(events)

    def client(events: list[dict[str, Any]]) -> None:
        s = requests.Session()
        codes = [s.post(serve.url, json=e, headers=auth(), timeout=120).status_code for e in events]
        with lock:
            results.extend(codes)

    threads = [threading.Thread(target=client, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] * n_clients + [201] * (n_clients * runs_each * 2)
    counts = store_counts()
    assert counts["lineage_events"] == n_clients * runs_each * 2
    assert counts["runs"] == n_clients * runs_each + 1  # + the shared parent, known only by id
    fresh()
    assert ln.Run.filter(status="completed", reference_type="openlineage").count() == n_clients * runs_each
    shared = ln.Artifact.get(key="db.s.shared")
    assert len(shared.input_of_runs) == n_clients * runs_each  # one artifact, every run's input
