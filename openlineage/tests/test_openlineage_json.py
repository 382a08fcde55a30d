"""The OpenLineage <-> LineageEvent mapping, on events built by the real openlineage-python client."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lamin_core.lineage.events import Dataset, Job, LineageEvent, ParentRun, RunInfo
from lamin_core.lineage.openlineage_json import (
    OpenLineageEventError,
    dataset_from_uri,
    dataset_uri,
    from_openlineage,
    openlineage_run_id,
    to_openlineage,
)
from lamin_openlineage.validation import parse_event, validate
from openlineage.client.event_v2 import InputDataset, Job as OLJob, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    documentation_job,
    error_message_run,
    job_type_job,
    parent_run,
    schema_dataset,
    source_code_job,
    source_code_location_job,
)
from openlineage.client.serde import Serde
from openlineage.client.uuid import generate_new_uuid

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)


def client_event(state: RunState = RunState.FAIL) -> tuple[dict, str, str]:
    run_id, parent_id = str(generate_new_uuid()), str(generate_new_uuid())
    event = RunEvent(
        eventType=state,
        eventTime=T0.isoformat(),
        producer="https://example.org/my-producer",
        run=Run(
            runId=run_id,
            facets={
                "parent": parent_run.ParentRunFacet(
                    run=parent_run.Run(runId=parent_id), job=parent_run.Job(namespace="airflow", name="etl_dag")
                ),
                "errorMessage": error_message_run.ErrorMessageRunFacet(
                    message="division by zero", programmingLanguage="python", stackTrace="Traceback ..."
                ),
            },
        ),
        job=OLJob(
            namespace="airflow",
            name="etl_dag.load",
            facets={
                "sourceCode": source_code_job.SourceCodeJobFacet(language="python", sourceCode="print(1)"),
                "sourceCodeLocation": source_code_location_job.SourceCodeLocationJobFacet(
                    type="git", url="https://example.org/repo/blob/abc/dags/etl.py"
                ),
                "documentation": documentation_job.DocumentationJobFacet(description="loads the shop tables"),
                "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="AIRFLOW", jobType="TASK"),
            },
        ),
        inputs=[
            InputDataset(
                namespace="postgres://db:5432",
                name="shop.public.orders",
                facets={
                    "schema": schema_dataset.SchemaDatasetFacet(
                        fields=[
                            schema_dataset.SchemaDatasetFacetFields(name="id", type="INTEGER"),
                            schema_dataset.SchemaDatasetFacetFields(name="total", type="DECIMAL"),
                        ]
                    )
                },
            ),
            InputDataset(namespace="s3://raw-bucket", name="2026/01/orders.csv"),
        ],
        outputs=[OutputDataset(namespace="file", name="/data/out/orders.parquet")],
    )
    return Serde.to_dict(event), run_id, parent_id


def test_client_event_maps_to_lineage_event() -> None:
    d, run_id, parent_id = client_event()
    e = parse_event(d)
    assert e.event_type == "FAIL" and e.event_time == T0
    assert (e.job.namespace, e.job.name) == ("airflow", "etl_dag.load")
    assert e.job.source_code == "print(1)"
    assert e.job.description == "loads the shop tables"
    assert e.job.kind == "function"  # jobType TASK
    assert set(e.job.facets) == {"sourceCode", "sourceCodeLocation", "documentation", "jobType"}
    assert e.job.facets["sourceCodeLocation"]["url"].endswith("dags/etl.py")
    assert (e.run.run_id, e.run.reference_type) == (run_id, "openlineage")
    assert e.run.parent == ParentRun(
        run_id=parent_id, job=Job(namespace="airflow", name="etl_dag"), reference_type="openlineage"
    )
    assert e.run.error_message == "division by zero\n\nTraceback ..."
    assert "parent" in e.run.facets and "errorMessage" in e.run.facets
    orders = e.inputs[0]
    assert (orders.namespace, orders.name) == ("postgres://db:5432", "shop.public.orders")
    assert [f["name"] for f in orders.facets["schema"]["fields"]] == ["id", "total"]
    assert [(o.namespace, o.name) for o in e.outputs] == [("file", "/data/out/orders.parquet")]
    assert e.producer == "https://example.org/my-producer"


@pytest.mark.parametrize(("job_type", "kind"), [("DAG", "pipeline"), ("TASK", "function"), ("QUERY", "function"), ("weird", "pipeline")])
def test_job_type_decides_the_kind(job_type: str, kind: str) -> None:
    d, _, _ = client_event()
    d["job"]["facets"]["jobType"]["jobType"] = job_type
    assert from_openlineage(d).job.kind == kind


def test_exported_openlineage_event_reads_back_identically() -> None:
    d, _, _ = client_event()
    e = parse_event(d)
    again = to_openlineage(e)
    validate(again)
    assert from_openlineage(again) == e


def test_lamin_only_fields_travel_as_custom_facets() -> None:
    e = LineageEvent(
        event_type="COMPLETE",
        event_time=T0,
        job=Job(namespace="snakemake", name="wf/Snakefile:align", kind="function", source_code="bwa mem", version="2"),
        run=RunInfo(
            run_id="job-17",
            reference_type="snakemake_job",
            parent=ParentRun(run_id="wf-1", reference_type="snakemake_workflow"),
            params={"threads": 4, "sample": "A"},
            attempt=2,
            name="align A",
            error_message=None,
        ),
        inputs=(Dataset("file", "/abs/in.fq", hash="abc", hash_type="md5", size=12),),
        outputs=(Dataset("file", "/abs/out.bam"), Dataset("file", "/abs/logs/align.log", kind="log")),
    )
    d = to_openlineage(e)
    validate(d)  # what we export is a valid 2-0-2 RunEvent, runId a UUID
    assert d["run"]["runId"] == openlineage_run_id("job-17", "snakemake_job")
    assert d["run"]["facets"]["parent"]["run"]["runId"] == openlineage_run_id("wf-1", "snakemake_workflow")
    assert d["job"]["facets"]["sourceCode"]["sourceCode"] == "bwa mem"
    assert d["job"]["facets"]["jobType"]["jobType"] == "TASK"
    assert from_openlineage(d) == e


def test_malformed_dicts_name_the_field() -> None:
    d, _, _ = client_event()
    d["inputs"][1]["name"] = 7
    with pytest.raises(OpenLineageEventError) as err:
        from_openlineage(d)
    assert err.value.field == "inputs.1.name"
    d, _, _ = client_event()
    d["eventTime"] = "yesterday"
    with pytest.raises(OpenLineageEventError) as err:
        from_openlineage(d)
    assert err.value.field == "eventTime"


def test_naive_event_time_is_utc() -> None:
    d, _, _ = client_event()
    d["eventTime"] = "2026-01-02T03:04:05"
    assert from_openlineage(d).event_time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("namespace", "name", "uri"),
    [
        ("file", "/data/x.csv", "file:///data/x.csv"),
        ("s3://bucket", "k/x.csv", "s3://bucket/k/x.csv"),
        ("gs://bucket", "x", "gs://bucket/x"),
        ("hdfs://nn:8020", "warehouse/t", "hdfs://nn:8020/warehouse/t"),
        ("postgres://db:5432", "shop.public.orders", "postgres://db:5432/shop.public.orders"),
    ],
)
def test_dataset_uris(namespace: str, name: str, uri: str) -> None:
    assert dataset_uri(namespace, name) == uri
    back_ns, back_name = dataset_from_uri(uri)
    assert dataset_uri(back_ns, back_name) == uri


# -- property: whatever lamin-core records, export then ingest gives the same event back -----------------

# names as lamin-core keeps them: no control characters (they become keys)
_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)
_json_scalar = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10)
_json = st.recursive(_json_scalar, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3), max_leaves=6)
_facet = st.fixed_dictionaries({"_producer": st.just("p"), "_schemaURL": st.just("u")}, optional={"v": _json})
# facets, and what lamin-core keeps beside them that is no OpenLineage facet (a pid, a status order)
_facets = st.dictionaries(st.sampled_from(["a", "b", "sql_x", "custom", "pid"]), _facet | _json, max_size=3)
_job = st.builds(
    Job,
    namespace=st.just("") | _text,  # "": a transform keyed without a namespace (ln.track)
    name=_text,
    kind=st.sampled_from(["pipeline", "function", "script", "notebook"]),
    source_code=st.none() | st.text(max_size=30),
    version=st.none() | _text,
    description=st.none() | st.text(max_size=20),
    facets=_facets,
)
_ref_type = st.sampled_from(["openlineage", "snakemake_job", "nextflow_task", "lamin"])
_dataset = st.builds(
    Dataset,
    namespace=st.sampled_from(["file", "s3://b", "postgres://h:5432"]),
    name=_text,
    facets=_facets,
    kind=st.none() | st.sampled_from(["log", "benchmark"]),
    hash=st.none() | _text,
    hash_type=st.none() | st.sampled_from(["md5", "blake3"]),
    size=st.none() | st.integers(0, 2**40),
)


@st.composite
def _events(draw: st.DrawFn) -> LineageEvent:
    ref_type = draw(_ref_type)
    run_id = str(draw(st.uuids())) if ref_type == "openlineage" and draw(st.booleans()) else draw(_text)
    parent = None
    if draw(st.booleans()):
        parent = ParentRun(
            run_id=draw(_text),
            job=draw(st.none() | st.builds(Job, namespace=_text, name=_text, kind=st.sampled_from(["pipeline", "function"]))),
            reference_type=draw(st.none() | _ref_type),
        )
    run = RunInfo(
        run_id=run_id,
        reference_type=ref_type,
        parent=parent,
        params=draw(st.none() | st.dictionaries(st.text(max_size=5), _json, max_size=3)),
        facets=draw(_facets),
        error_message=draw(st.none() | st.text(max_size=20)),
        attempt=draw(st.none() | st.integers(0, 10)),
        name=draw(st.none() | _text),
    )
    when = T0 + timedelta(seconds=draw(st.integers(-(10**8), 10**8)), microseconds=draw(st.integers(0, 999_999)))
    return LineageEvent(
        event_type=draw(st.sampled_from(["START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER"])),
        event_time=when,
        job=draw(_job),
        run=run,
        inputs=draw(st.lists(_dataset, max_size=2)),
        outputs=draw(st.lists(_dataset, max_size=2)),
        producer=draw(st.sampled_from(["", "urn:x", "https://example.org/p"])),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_events())
def test_export_then_ingest_is_the_identity(e: LineageEvent) -> None:
    d = to_openlineage(e)
    validate(d)
    back = from_openlineage(d)
    # inputs/outputs come back as tuples, the contract's default; hypothesis drew lists
    assert back == LineageEvent(**{**e.__dict__, "inputs": tuple(e.inputs), "outputs": tuple(e.outputs)})
