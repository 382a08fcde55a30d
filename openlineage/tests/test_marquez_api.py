"""Marquez's read API on `lamin serve`, read with Marquez's own Python client (`marquez-python`), both backends.

The instance is filled with the kinds of events the Snakemake, Prefect and Nextflow adapters record (their
namespaces, reference types, parents and datasets), through `lamin_core.lineage.record_many`: running the
three engines here would take minutes, and what the read API sees is the recorded rows, not the engine.
The lineage crosses engines: a Snakemake job writes a file a Prefect task reads, whose table a Nextflow task reads.
"""

from __future__ import annotations

import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from marquez_client import MarquezClient
from marquez_client.errors import APIError
from ol_helpers import TOKEN, Server, auth

from lamin_core.lineage import Dataset, Job, LineageEvent, ParentRun, RunInfo
from lamin_core.lineage.openlineage_json import openlineage_run_id

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)
TABLE_NS = "postgres://warehouse:5432"


def _event(kind: str, minute: int, job: Job, run: RunInfo, inputs: list[Dataset] = (), outputs: list[Dataset] = ()) -> LineageEvent:  # type: ignore[assignment]
    return LineageEvent(kind, T0 + timedelta(minutes=minute), job, run, inputs=list(inputs), outputs=list(outputs))  # type: ignore[arg-type]


def fill(root: Path) -> dict[str, Any]:
    """Record a Snakemake workflow, a Prefect flow and a Nextflow pipeline that hand data to each other."""
    from lamin_core.lineage import record_many

    files = {name: root / "work" / name for name in ("s1.fq", "s1.bam", "s1.sorted.bam")}
    for i, path in enumerate(files.values()):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content {i}\n")
    fq, bam, sorted_bam = (Dataset("file", str(p)) for p in files.values())
    counts = Dataset(TABLE_NS, "db.public.counts")
    report = Dataset("s3://bucket", "qc/report.html")

    wf = Job("snakemake", "wf/Snakefile")
    wf_run = RunInfo("wf-1", reference_type="snakemake_workflow")
    align, sort = Job("snakemake", "wf/Snakefile:align", kind="function"), Job("snakemake", "wf/Snakefile:sort", kind="function")
    sm_parent = ParentRun("wf-1", job=wf, reference_type="snakemake_workflow")
    flow = Job("prefect", "etl")
    flow_run = RunInfo("3f1c2a9e-0000-4000-8000-000000000001", reference_type="prefect_flow_run")
    load = Job("prefect", "etl.load", kind="function")
    pipeline = Job("nextflow", "rnaseq", version="1.0")
    qc = Job("nextflow", "rnaseq/QC", kind="function", version="1.0")
    nf_parent = ParentRun("nf-run-1", job=pipeline, reference_type="nextflow_run")
    runs = {
        "align": RunInfo("job-1", reference_type="snakemake_job", parent=sm_parent),
        "sort": RunInfo("job-2", reference_type="snakemake_job", parent=sm_parent),
        "load": RunInfo("3f1c2a9e-0000-4000-8000-000000000002", reference_type="prefect_task_run",
                        parent=ParentRun(flow_run.run_id, job=flow, reference_type="prefect_flow_run"), params={"n": 3}),
        "qc": RunInfo("a1b2c3", reference_type="nextflow_task", parent=nf_parent),
    }
    record_many([
        _event("START", 0, wf, wf_run),
        _event("START", 1, align, runs["align"], inputs=[fq]),
        _event("COMPLETE", 2, align, runs["align"], outputs=[bam]),
        _event("START", 3, sort, runs["sort"], inputs=[bam]),
        _event("COMPLETE", 4, sort, runs["sort"], outputs=[sorted_bam]),
        _event("COMPLETE", 5, wf, wf_run),
        _event("START", 6, flow, flow_run),
        _event("START", 7, load, runs["load"], inputs=[sorted_bam]),
        _event("COMPLETE", 8, load, runs["load"], outputs=[counts]),
        _event("COMPLETE", 9, flow, flow_run),
        _event("START", 10, pipeline, RunInfo("nf-run-1", reference_type="nextflow_run")),
        _event("START", 11, qc, runs["qc"], inputs=[counts]),
        _event("FAIL", 12, qc, RunInfo("a1b2c3", reference_type="nextflow_task", parent=nf_parent, error_message="boom"), outputs=[report]),
    ])
    return {"files": {k: str(v) for k, v in files.items()}, "runs": runs}


def client(server: Server) -> MarquezClient:
    return MarquezClient(server.base, api_key=TOKEN)


def get(server: Server, path: str, **params: Any) -> requests.Response:
    return requests.get(server.base + path, params=params, headers=auth(), timeout=60)


@pytest.fixture
def filled(instance: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("LAMIN_PROBE_REMOTE", "0")  # no network: s3:// datasets are registered by URI
    return fill(instance.storage_root)


def test_marquez_client_lists_namespaces_jobs_datasets_and_runs(instance: Any, filled: dict[str, Any], serve: Server) -> None:
    mq = client(serve)
    namespaces = {n["name"]: n for n in mq.list_namespaces()["namespaces"]}
    assert {"snakemake", "prefect", "nextflow", "file", TABLE_NS, "s3://bucket"} <= set(namespaces)
    assert namespaces["snakemake"]["ownerName"] and namespaces["snakemake"]["createdAt"].endswith("Z")

    jobs = mq.list_jobs("snakemake")
    assert jobs["totalCount"] == 3
    by_name = {j["name"]: j for j in jobs["jobs"]}
    assert set(by_name) == {"wf/Snakefile", "wf/Snakefile:align", "wf/Snakefile:sort"}
    align = by_name["wf/Snakefile:align"]
    files = filled["files"]
    assert align["id"] == {"namespace": "snakemake", "name": "wf/Snakefile:align"}
    assert align["inputs"] == [{"namespace": "file", "name": files["s1.fq"]}]
    assert align["outputs"] == [{"namespace": "file", "name": files["s1.bam"]}]
    assert align["latestRun"]["state"] == "COMPLETED"

    # paging: limit and offset walk the same order
    first, second = mq.list_jobs("snakemake", limit=1, offset=0)["jobs"], mq.list_jobs("snakemake", limit=1, offset=1)["jobs"]
    assert [first[0]["name"], second[0]["name"]] == sorted(by_name)[:2]

    load = mq.get_job("prefect", "etl.load")
    assert load["inputs"] == [{"namespace": "file", "name": files["s1.sorted.bam"]}]
    assert load["outputs"] == [{"namespace": TABLE_NS, "name": "db.public.counts"}]

    (qc_run,) = mq.list_job_runs("nextflow", "rnaseq/QC")["runs"]
    assert qc_run["state"] == "FAILED" and qc_run["id"] == openlineage_run_id("a1b2c3", "nextflow_task")
    (load_run,) = mq.list_job_runs("prefect", "etl.load")["runs"]
    assert load_run["id"] == openlineage_run_id("3f1c2a9e-0000-4000-8000-000000000002", "prefect_task_run")  # as exported
    assert load_run["args"] == {"n": "3"} and load_run["durationMs"] == 60_000
    assert mq.get_job_run(qc_run["id"])["state"] == "FAILED"  # the client's /jobs/runs/{id}
    assert get(serve, f"/api/v1/runs/{load_run['id']}").json()["jobVersion"]["name"] == "etl.load"

    datasets = mq.list_datasets("file")
    assert datasets["totalCount"] == 3
    assert [d["name"] for d in datasets["datasets"]] == sorted(files.values())
    bam = mq.get_dataset("file", files["s1.bam"])  # a name with slashes, encoded by the client
    assert bam["id"] == {"namespace": "file", "name": files["s1.bam"]} and bam["type"] == "DB_TABLE"
    assert mq.get_dataset(TABLE_NS, "db.public.counts")["sourceName"] == TABLE_NS
    assert [d["name"] for d in mq.list_datasets("s3://bucket")["datasets"]] == ["qc/report.html"]

    with pytest.raises(APIError):
        mq.get_job("snakemake", "no-such-job")


def test_lineage_graph_crosses_engines(instance: Any, filled: dict[str, Any], serve: Server) -> None:
    files = filled["files"]
    answer = get(serve, "/api/v1/lineage", nodeId=f"dataset:file:{files['s1.bam']}", depth=20)
    assert answer.status_code == 200, answer.text
    graph = {n["id"]: n for n in answer.json()["graph"]}
    align, sort, load, qc = ("job:snakemake:wf/Snakefile:align", "job:snakemake:wf/Snakefile:sort",
                             "job:prefect:etl.load", "job:nextflow:rnaseq/QC")
    assert {align, sort, load, qc} <= set(graph)
    bam = f"dataset:file:{files['s1.bam']}"
    assert graph[bam]["type"] == "DATASET" and graph[align]["type"] == "JOB"
    assert graph[bam]["inEdges"] == [{"origin": align, "destination": bam}]
    assert graph[bam]["outEdges"] == [{"origin": bam, "destination": sort}]
    counts = f"dataset:{TABLE_NS}:db.public.counts"
    assert graph[counts]["inEdges"] == [{"origin": load, "destination": counts}]
    assert graph[qc]["data"]["latestRun"]["state"] == "FAILED"
    # depth counts job-to-job hops: from align, depth 1 reaches sort but not the Prefect task two hops away
    near = {n["id"] for n in get(serve, "/api/v1/lineage", nodeId=align, depth=1).json()["graph"]}
    assert sort in near and load not in near and f"dataset:file:{files['s1.sorted.bam']}" in near
    assert get(serve, "/api/v1/lineage", nodeId="job:nope:nope").status_code == 404
    bad = get(serve, "/api/v1/lineage", nodeId="table:x")
    assert bad.status_code == 400 and bad.json()["field"] == "nodeId"


def test_ids_are_those_of_the_export(instance: Any, filled: dict[str, Any], serve: Server) -> None:
    """A run exported as OpenLineage names its job, run and datasets exactly as the read API does."""
    import lamin_core as ln
    from lamin_core.db import engine as db
    from lamin_core.lineage.openlineage_json import to_openlineage
    from lamin_openlineage.export import events_of_run

    with db.read() as s:
        run = s.merge(ln.Run.get(reference="job-1", reference_type="snakemake_job"))
        exported = [to_openlineage(e) for e in events_of_run(s, run)]
    mq = client(serve)
    for event in exported:
        job = mq.get_job(event["job"]["namespace"], event["job"]["name"])
        assert job["latestRun"]["id"] == event["run"]["runId"]
        for ds in event["inputs"] + event["outputs"]:
            assert mq.get_dataset(ds["namespace"], ds["name"])["id"] == {"namespace": ds["namespace"], "name": ds["name"]}


def test_search_and_token(instance: Any, filled: dict[str, Any], serve: Server) -> None:
    found = get(serve, "/api/v1/search", q="sorted").json()
    assert found["totalCount"] == 1 and found["results"][0]["type"] == "DATASET"
    assert found["results"][0]["nodeId"] == f"dataset:file:{filled['files']['s1.sorted.bam']}"
    jobs = get(serve, "/api/v1/search", q="SNAKEFILE", filter="JOB").json()["results"]
    assert {r["name"] for r in jobs} == {"wf/Snakefile", "wf/Snakefile:align", "wf/Snakefile:sort"}
    assert get(serve, "/api/v1/search").status_code == 400
    assert requests.get(serve.base + "/api/v1/namespaces", timeout=30).status_code == 401
    quoted = urllib.parse.quote("s3://bucket", safe="")
    assert get(serve, f"/api/v1/namespaces/{quoted}").json()["name"] == "s3://bucket"
    assert get(serve, "/api/v1/namespaces/nope/jobs").status_code == 404
