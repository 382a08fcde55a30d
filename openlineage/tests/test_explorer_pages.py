"""The explorer's pages over HTTP (in-process app on the test's instance, both backends): login by cookie, the
pages' content, what they must never show (secrets, unescaped HTML), the graph's folding of pipelines, and
errors that say what to fix. The browser flow is in test_explorer_browser.py.

The instance is filled through `lamin_core.lineage.record_many` with events shaped as the Snakemake and Nextflow
adapters send them (a workflow run with task runs, files in place), plus artifacts saved with the Python API.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))  # explorer_fill (the tests' directory is not a package)

from lamin_core.lineage import Dataset, Job, LineageEvent, ParentRun, RunInfo

TOKEN = "explorer-token-1"
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)
N_TASKS = 120


def _app(token: str | None) -> Any:
    from lamin_openlineage.server import create_app

    return create_app(token=token, load_plugins=False)


@pytest.fixture
def open_client(instance: Any) -> Iterator[TestClient]:
    with TestClient(_app(None), raise_server_exceptions=False, follow_redirects=False) as c:
        yield c


@pytest.fixture
def token_client(instance: Any) -> Iterator[TestClient]:
    with TestClient(_app(TOKEN), raise_server_exceptions=False, follow_redirects=False) as c:
        yield c


def fill_pipeline(root: Path, n_tasks: int = N_TASKS) -> dict[str, Any]:
    """A Snakemake-shaped workflow: `n_tasks` jobs each turn raw/i.txt into out/i.txt, one merge job reads them
    all, and a Nextflow-shaped task downstream reads the merge (lineage across engines); one job failed."""
    import lamin_core as ln
    from lamin_core.lineage import record_many

    (root / "raw").mkdir(parents=True, exist_ok=True)
    (root / "out").mkdir(parents=True, exist_ok=True)
    wf = Job("snakemake", "wf/Snakefile", source_code="rule all:\n    input: 'merged.txt'\n")
    parent = ParentRun("wf-1", job=wf, reference_type="snakemake_workflow")
    step = Job("snakemake", "wf/Snakefile:step", kind="function", source_code="rule step:\n    shell: 'cp {input} {output}'\n")
    events = [LineageEvent("START", T0, wf, RunInfo("wf-1", reference_type="snakemake_workflow"))]
    for i in range(n_tasks):
        raw, out = root / "raw" / f"{i}.txt", root / "out" / f"{i}.txt"
        raw.write_text(f"raw {i}\n")
        out.write_text(f"out {i}\n")
        run = RunInfo(f"job-{i}", reference_type="snakemake_job", parent=parent)
        events += [LineageEvent("START", T0 + timedelta(seconds=i), step, run, inputs=[Dataset("file", str(raw))]),
                   LineageEvent("COMPLETE", T0 + timedelta(seconds=i + 1), step, run, outputs=[Dataset("file", str(out))])]
    merged = root / "merged.txt"
    merged.write_text("merged\n")
    merge = Job("snakemake", "wf/Snakefile:merge", kind="function")
    merge_run = RunInfo("job-merge", reference_type="snakemake_job", parent=parent,
                        params={"threads": 2, "api_token": "s3cr3t-value", "db": "postgresql://me:hunter2@db/x"})
    events += [LineageEvent("START", T0 + timedelta(minutes=10), merge, merge_run,
                            inputs=[Dataset("file", str(root / "out" / f"{i}.txt")) for i in range(n_tasks)]),
               LineageEvent("COMPLETE", T0 + timedelta(minutes=11), merge, merge_run, outputs=[Dataset("file", str(merged))]),
               LineageEvent("COMPLETE", T0 + timedelta(minutes=12), wf, RunInfo("wf-1", reference_type="snakemake_workflow"))]
    qc = Job("nextflow", "rnaseq/QC", kind="function")
    nf_parent = ParentRun("nf-1", job=Job("nextflow", "rnaseq"), reference_type="nextflow_run")
    report = root / "qc.html"
    report.write_text("<html>qc</html>\n")
    qc_run = RunInfo("task-1", reference_type="nextflow_task", parent=nf_parent)
    events += [LineageEvent("START", T0 + timedelta(minutes=20), qc, qc_run, inputs=[Dataset("file", str(merged))]),
               LineageEvent("FAIL", T0 + timedelta(minutes=21), qc,
                            RunInfo("task-1", reference_type="nextflow_task", parent=nf_parent, error_message="QC <b>exploded</b>"),
                            outputs=[Dataset("file", str(report))])]
    record_many(events)
    return {
        "raw0": _by_path(root / "raw" / "0.txt"), "merged": _by_path(merged), "report": _by_path(report),
        "merge_run": ln.Run.get(reference="job-merge"), "qc_run": ln.Run.get(reference="task-1"),
    }


def _by_path(path: Path) -> Any:
    import lamin_core as ln

    return next(a for a in ln.Artifact.filter(key__endswith=path.name) if Path(str(a.path)) == path)


@pytest.fixture
def pipeline(instance: Any) -> dict[str, Any]:
    return fill_pipeline(instance.storage_root / "wf")


# ---------------------------------------------------------------------------------------------- login


def test_token_login_sets_an_http_only_cookie_and_logout_clears_it(token_client: TestClient) -> None:
    c = token_client
    first = c.get("/ui/run/abc?depth=2")
    assert first.status_code == 303 and first.headers["location"] == "/ui/login?next=/ui/run/abc%3Fdepth%3D2"
    assert c.get("/").headers["location"] == "/ui/login?next=/"
    assert c.get("/ui/login").status_code == 200 and 'name="token"' in c.get("/ui/login").text
    assert c.get("/ui/static/explorer.css").status_code == 200  # the form's styles need no token
    assert c.get("/api/v1/search", params={"q": "x"}).status_code == 401  # the API keeps its JSON 401
    assert c.get("/ui/api/graph/artifact/x").status_code == 401

    wrong = c.post("/ui/login", data={"token": "nope", "next": "/"})
    assert wrong.status_code == 303 and "error=1" in wrong.headers["location"] and "set-cookie" not in wrong.headers
    assert "Wrong token" in c.get(wrong.headers["location"]).text

    ok = c.post("/ui/login", data={"token": TOKEN, "next": "//evil.example/"})
    assert ok.status_code == 303 and ok.headers["location"] == "/"  # never a redirect off this server
    cookie = ok.headers["set-cookie"].lower()
    assert "lamin_token=" in cookie and "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    home = c.get("/")
    assert home.status_code == 200 and "Latest artifacts" in home.text and 'id="logout"' in home.text
    assert c.get("/ui/api/graph/artifact/x").status_code == 404  # the page's own graph JSON: past the gate
    assert c.get("/api/v1/search", params={"q": "x"}).status_code == 401  # the API stays header-only: a cookie is no API key

    out = c.post("/ui/logout")
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert 'lamin_token=""' in out.headers["set-cookie"] or "max-age=0" in out.headers["set-cookie"].lower()
    c.cookies.clear()
    assert c.get("/").status_code == 303


def test_a_bearer_token_opens_pages_without_a_cookie(token_client: TestClient) -> None:
    page = token_client.get("/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200 and 'id="logout"' not in page.text


def test_without_a_token_pages_are_open(open_client: TestClient) -> None:
    assert open_client.get("/").status_code == 200
    login = open_client.get("/ui/login")
    assert login.status_code == 200 and "without a token" in login.text


# ---------------------------------------------------------------------------------------------- pages


def test_home_searches_and_filters(open_client: TestClient, pipeline: dict[str, Any]) -> None:
    c = open_client
    merged = pipeline["merged"]
    found = c.get("/", params={"q": "merged"})
    assert found.status_code == 200 and f"/ui/artifact/{merged.uid}" in found.text
    assert f"/ui/artifact/{merged.uid}" in c.get("/", params={"q": merged.uid}).text  # a uid finds its record
    errored = c.get("/", params={"kind": "run", "status": "errored"}).text
    assert pipeline["qc_run"].uid in errored and pipeline["merge_run"].uid not in errored
    nextflow = c.get("/", params={"kind": "transform", "engine": "nextflow"}).text
    assert "rnaseq/QC" in nextflow and "wf/Snakefile" not in nextflow
    assert merged.uid in c.get("/", params={"kind": "artifact", "engine": "snakemake", "q": "merged"}).text
    assert merged.uid not in c.get("/", params={"kind": "artifact", "engine": "nextflow", "q": "merged"}).text
    assert c.get("/", params={"since": "2999-01-01"}).text.count("/ui/artifact/") == 0
    bad = c.get("/", params={"since": "yesterday"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text
    assert c.get("/", params={"kind": "cats"}).status_code == 400


def test_artifact_page_shows_fields_versions_features_labels_preview_and_download(open_client: TestClient, instance: Any) -> None:
    import lamin_core as ln
    from explorer_fill import python_api_artifacts

    made = python_api_artifacts()
    first, fixed, h5ad = made["first"], made["fixed"], made["h5ad"]
    fixed.description = "<script>alert('x')</script>"
    fixed.save()
    page = open_client.get(f"/ui/artifact/{fixed.uid}")
    assert page.status_code == 200
    text = page.text
    assert "<script>alert" not in text and "&lt;script&gt;alert" in text  # escaped, never run
    assert fixed.hash in text and "my_datasets/rnaseq1.parquet" in text and str(instance.storage_root) in text
    assert f"/ui/artifact/{first.uid}" in text  # the other version, one click away
    assert "temperature" in text and "21.6" in text and "My experiment" in text and "explorer-demo" in text
    assert 'id="preview"' in text and "sample1" in text and "IFNG" in text  # the first rows of the parquet
    got = open_client.get(f"/ui/artifact/{fixed.uid}/download")
    assert got.status_code == 200 and got.content == Path(str(fixed.path)).read_bytes()
    assert "rnaseq1.parquet" in got.headers["content-disposition"]
    obs = open_client.get(f"/ui/artifact/{h5ad.uid}").text
    assert "obs of an AnnData" in obs and "perturbation" in obs
    made_by = open_client.get(f"/ui/artifact/{first.uid}").text
    assert f"/ui/run/{first.run.uid}" in made_by  # the tracked flow's run made the first version
    assert ln.Artifact.get(fixed.uid).run is None  # the page read the file without making it a run's input
    missing = open_client.get("/ui/artifact/doesNotExist0000")
    assert missing.status_code == 404 and "no artifact with uid" in missing.text


def test_run_page_redacts_secrets_and_shows_inputs_outputs_children_and_report(open_client: TestClient, pipeline: dict[str, Any]) -> None:
    merge = pipeline["merge_run"]
    text = open_client.get(f"/ui/run/{merge.uid}").text
    assert "s3cr3t-value" not in text and "hunter2" not in text and "threads" in text
    assert f"Inputs ({N_TASKS})" in text and pipeline["merged"].uid in text
    assert f"/ui/transform/{merge.transform.uid}" in text and "snakemake" in text
    parent = merge.initiated_by_run
    parent_page = open_client.get(f"/ui/run/{parent.uid}").text
    assert f"Child runs ({N_TASKS + 1})" in parent_page
    qc = open_client.get(f"/ui/run/{pipeline['qc_run'].uid}").text
    assert "errored" in qc and "QC &lt;b&gt;exploded&lt;/b&gt;" in qc  # the error text, escaped


def test_transform_page_highlights_source_and_lists_runs(open_client: TestClient, pipeline: dict[str, Any]) -> None:
    t = pipeline["merge_run"].initiated_by_run.transform
    text = open_client.get(f"/ui/transform/{t.uid}").text
    assert 'class="src"' in text and "rule" in text and "Runs (1)" in text
    assert ".src .k " in open_client.get("/ui/pygments.css").text  # the highlighter's styles, served locally


# ---------------------------------------------------------------------------------------------- graph


def _graph(c: TestClient, kind: str, uid: str, **params: Any) -> dict[str, Any]:
    answer = c.get(f"/ui/api/graph/{kind}/{uid}", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_graph_folds_a_pipelines_task_runs_until_expanded(open_client: TestClient, pipeline: dict[str, Any]) -> None:
    c = open_client
    raw0 = pipeline["raw0"]
    folded = _graph(c, "artifact", raw0.uid, direction="down", depth=5)
    runs = [n for n in folded["nodes"] if n["kind"] == "run"]
    wf = next(n for n in runs if n["title"] == "snakemake/wf/Snakefile")
    assert wf["collapsed"] == 2 and wf["engine"] == "snakemake"  # the two task runs on this path: step 0, merge
    # the workflow's internal files are hidden with its tasks: raw0 -> workflow -> merged -> QC -> report
    assert {n["title"] for n in folded["nodes"] if n["kind"] == "artifact"} == {raw0.key, pipeline["merged"].key, pipeline["report"].key}
    nf = next(n for n in runs if n["uid"] == pipeline["qc_run"].initiated_by_run.uid)  # the QC task, folded
    assert nf["engine"] == "nextflow" and nf["collapsed"] == 1 and nf["stroke"] != wf["stroke"]  # engines by colour
    xs = {n["id"]: n["x"] for n in folded["nodes"]}
    assert all(xs[s] < xs[t] for s, t, _ in folded["edges"])  # left to right
    expanded = _graph(c, "artifact", raw0.uid, direction="down", depth=5, expand=f"{wf['expandable']},{nf['expandable']}")
    titles = {n["title"] for n in expanded["nodes"]}
    assert {"snakemake/wf/Snakefile:step", "snakemake/wf/Snakefile:merge", "wf/out/0.txt", "nextflow/rnaseq/QC"} <= titles
    qc = next(n for n in expanded["nodes"] if n["uid"] == pipeline["qc_run"].uid)
    merge = next(n for n in expanded["nodes"] if n["uid"] == pipeline["merge_run"].uid)
    assert qc["status"] == "errored" and merge["status"] == "completed" and qc["fill"] != merge["fill"]  # status by colour
    assert "snakemake/wf/Snakefile" not in titles  # expanded: its tasks stand in for it


def test_graph_of_an_output_shows_the_run_that_made_it_and_respects_direction_and_depth(open_client: TestClient, pipeline: dict[str, Any]) -> None:
    c = open_client
    merged = pipeline["merged"]
    up = _graph(c, "artifact", merged.uid, direction="up", depth=1)
    made_by = next(n for n in up["nodes"] if n["kind"] == "run")
    assert made_by["uid"] == pipeline["merge_run"].uid  # not folded: it is on the focus's own path
    assert len([n for n in up["nodes"] if n["kind"] == "artifact"]) == N_TASKS + 1  # its inputs and itself
    assert all(n["uid"] != pipeline["qc_run"].uid for n in up["nodes"])  # downstream is not drawn
    down = _graph(c, "artifact", merged.uid, direction="down", depth=1)
    (reader,) = [n for n in down["nodes"] if n["kind"] == "run"]  # the Nextflow task, folded into its pipeline run
    assert reader["uid"] == pipeline["qc_run"].initiated_by_run.uid and reader["collapsed"] == 1
    deeper = _graph(c, "artifact", merged.uid, direction="up", depth=2)
    assert len(deeper["nodes"]) > len(up["nodes"])
    assert c.get(f"/ui/api/graph/artifact/{merged.uid}", params={"direction": "sideways"}).status_code == 400
    assert c.get(f"/ui/api/graph/artifact/{merged.uid}", params={"depth": "x"}).status_code == 400
    assert c.get("/ui/api/graph/artifact/nope").status_code == 404


def test_graph_svg_is_the_no_script_fallback_with_links(open_client: TestClient, pipeline: dict[str, Any]) -> None:
    svg = open_client.get(f"/ui/graph/artifact/{pipeline['merged'].uid}.svg", params={"depth": 1, "direction": "both"})
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert f"/ui/run/{pipeline['merge_run'].uid}" in svg.text and "<svg" in svg.text
    page = open_client.get(f"/ui/artifact/{pipeline['merged'].uid}").text
    assert "<noscript>" in page and ".svg?depth=3" in page


def test_graph_of_a_run_goes_both_ways_and_a_pipelines_run_shows_its_tasks_folded(open_client: TestClient, pipeline: dict[str, Any]) -> None:
    c = open_client
    merge = pipeline["merge_run"]
    around = _graph(c, "run", merge.uid, direction="both", depth=1)
    uids = {n["uid"] for n in around["nodes"]}
    assert merge.uid in uids and pipeline["merged"].uid in uids and pipeline["raw0"].uid not in uids  # depth 1
    assert pipeline["qc_run"].initiated_by_run.uid in uids  # downstream: the Nextflow pipeline that read the output
    assert around["focus"] == f"r{merge.id}"
    workflow = merge.initiated_by_run
    folded = _graph(c, "run", workflow.uid, direction="both", depth=1)
    node = next(n for n in folded["nodes"] if n["uid"] == workflow.uid)
    assert node["collapsed"] == N_TASKS + 1  # every task of the workflow, folded into it
    titles = {n["title"] for n in folded["nodes"] if n["kind"] == "artifact"}
    assert pipeline["merged"].key in titles and "wf/raw/0.txt" in titles and "wf/out/0.txt" not in titles
