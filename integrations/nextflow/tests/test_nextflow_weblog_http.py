"""`POST /api/v1/nextflow/weblog` through `lamin serve`'s app (the route mounted by its entry point)."""

from __future__ import annotations

import base64
import json

import lamin_core as ln
import pytest
from nftools import fresh, lamin, lamin_serve
from lamin_nextflow.weblog import MEMORY
from lamin_openlineage.server import create_app
from starlette.testclient import TestClient

TOKEN = "nf-secret"
PATH = "/api/v1/nextflow/weblog"
BASIC = {"Authorization": "Basic " + base64.b64encode(f"lamin:{TOKEN}".encode()).decode()}  # weblog.basicToken


@pytest.fixture
def client(instance):
    MEMORY.clear()
    with TestClient(create_app(token=TOKEN), raise_server_exceptions=False) as c:
        yield c


def _post_all(client, folder, forget=False):
    codes = []
    for line in (folder / "weblog.jsonl").read_text().splitlines():
        if forget:  # as if each event reached another server process: only the database remembers
            MEMORY.clear()
        response = client.post(PATH, content=line, headers=BASIC)
        assert response.status_code in (200, 201), response.text
        codes.append(response.status_code)
    return codes


def _counts():
    return (ln.Transform.filter().count(), ln.Run.filter().count())


def test_weblog_records_runs_then_ingest_adds_files_to_the_same_runs(instance, client, run_dir):
    folder = run_dir("success")
    assert set(_post_all(client, folder)) == {201}
    assert set(_post_all(client, folder)) == {200}  # the same events again: nothing new
    pipeline = ln.Run.filter(reference_type="nextflow_run").one()
    assert pipeline.name == "golden_turing" and pipeline.status == "completed"
    assert pipeline.transform.key == "nextflow/nf-core/demo" and pipeline.params["aws_secret_key"] == "***"
    tasks = ln.Run.filter(reference_type="nextflow_task").all()
    assert len(tasks) == 3 and all(t.initiated_by_run.id == pipeline.id and t.status == "completed" for t in tasks)
    multiqc = next(t for t in tasks if t.name == "NFCORE_DEMO:DEMO:MULTIQC")
    assert multiqc.facets["nextflow_task"]["resources"]["memory"] == 6442450944
    assert multiqc.finished_at is not None and multiqc.started_at < multiqc.finished_at
    assert ln.Artifact.filter().count() == 0  # the weblog names no files

    before = _counts()
    done = lamin(instance, "nextflow", "ingest", str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    assert _counts() == before  # the same transforms and runs, completed with files
    report = ln.Artifact.filter(key__endswith="multiqc_report.html").one()
    assert report.run.id == multiqc.id
    assert sorted(a.key.rsplit("/", 1)[-1] for a in report.run.input_artifacts) == ["S1_fastqc.zip", "S2_fastqc.zip"]
    pipeline = ln.Run.filter(reference_type="nextflow_run").one()
    assert [a.key.rsplit("/", 1)[-1] for a in pipeline.input_artifacts] == ["samplesheet.csv"]
    # the weblog sent "4"; ingest types it by the schema (read in a fresh process: this one holds the
    # pipeline Run loaded before the ingest, and the core's session does not refresh loaded objects)
    assert fresh(instance, "ln.Run.filter(reference_type='nextflow_run').one().params['max_cpus']") == 4


def test_retry_attempts_join_one_run_across_server_processes(instance, client, run_dir):
    folder = run_dir("retry")
    _post_all(client, folder, forget=True)
    s1 = ln.Run.filter(reference_type="nextflow_task", name="NFCORE_DEMO:DEMO:FASTQC (S1)").one()
    assert s1.status == "completed" and [a["attempt"] for a in s1.facets["attempts"]][-1] == 2
    assert ln.Run.filter(reference_type="nextflow_run").one().status == "completed"
    before = _counts()
    done = lamin(instance, "nextflow", "ingest", str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    assert _counts() == before


def test_failure_closes_the_run_as_errored(instance, client, run_dir):
    _post_all(client, run_dir("failed"))
    pipeline = ln.Run.filter(reference_type="nextflow_run").one()
    assert pipeline.status == "errored" and pipeline.report is not None


def test_auth_and_bad_bodies(instance, client, run_dir):
    line = (run_dir("success") / "weblog.jsonl").read_text().splitlines()[0]
    assert client.post(PATH, content=line).status_code == 401
    wrong = {"Authorization": "Basic " + base64.b64encode(b"lamin:guess").decode()}
    assert client.post(PATH, content=line, headers=wrong).status_code == 401
    body = json.loads(line)
    del body["runId"]
    response = client.post(PATH, json=body, headers=BASIC)
    assert response.status_code == 400 and response.json()["field"] == "runId"
    response = client.post(PATH, content=b"{nope", headers=BASIC)
    assert response.status_code == 400 and "invalid JSON" in response.json()["error"]
    process = json.loads((run_dir("failed") / "weblog.jsonl").read_text().splitlines()[1])
    response = client.post(PATH, json=process, headers=BASIC)  # its run never started here
    assert response.status_code == 400 and response.json()["field"] == "runId"
    assert ln.Run.filter().count() == 0


def test_real_lamin_serve_takes_nextflow_basic_auth(instance, run_dir):
    """`lamin serve` in its own process mounts the route; httpx posts as Nextflow does (Basic auth)."""
    import httpx

    lines = (run_dir("failed") / "weblog.jsonl").read_text().splitlines()
    with lamin_serve(instance, "--token", TOKEN) as base:
        url = base + PATH
        with httpx.Client(auth=("nextflow", TOKEN), timeout=60) as client:
            codes = [client.post(url, content=body, headers={"Content-Type": "application/json"}).status_code
                     for body in lines]
            assert set(codes) == {201}
            assert client.post(url, content=lines[0]).status_code == 200
        assert httpx.post(url, content=lines[0], timeout=60).status_code == 401
    pipeline = ln.Run.filter(reference_type="nextflow_run").one()
    assert pipeline.status == "errored" and pipeline.name == "sad_hopper"
    assert ln.Run.filter(reference_type="nextflow_task", status="errored").count() == 1
