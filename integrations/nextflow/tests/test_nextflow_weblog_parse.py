"""Weblog bodies: what is accepted (current and older shapes) and the field named when one is not."""

from __future__ import annotations

import json

import pytest
from nftools import SAMPLES
from lamin_nextflow.weblog import MEMORY, WeblogError, parse_event, to_events

NO_DB = {"job_lookup": lambda ref: None, "first_hash_lookup": lambda ref, name: None}


def _lines(name):
    return [json.loads(line) for line in (SAMPLES / "weblog" / name).read_text().splitlines()]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"runId": None}, "runId"),
        ({"runName": ""}, "runName"),
        ({"event": "process_exploded"}, "event"),
        ({"utcTime": "yesterday"}, "utcTime"),
        ({"trace": None}, "trace"),
        ({"trace": {"name": "X", "workdir": "/tmp/not-a-workdir"}}, "trace.workdir"),
        ({"runName": "x" * 500}, "runName"),
    ],
)
def test_bad_bodies_name_the_field(change, field):
    body = dict(_lines("weblog_success.jsonl")[1], **change)
    with pytest.raises(WeblogError) as info:
        parse_event(body)
    assert info.value.field == field


def test_not_an_object_and_started_without_metadata():
    with pytest.raises(WeblogError):
        parse_event(["started"])
    body = dict(_lines("weblog_success.jsonl")[0])
    del body["metadata"]
    with pytest.raises(WeblogError) as info:
        parse_event(body)
    assert info.value.field == "metadata"


def test_older_params_and_stats_are_accepted():
    started = _lines("weblog_success.jsonl")[0]
    older = {k: v for k, v in started.items() if k != "metadata"}
    older.update(params={"input": "s.csv", "api_token": "s3cr3t"}, stats={"succeededCount": 0},
                 metadata={"workflow": started["metadata"]["workflow"]})
    MEMORY.clear()
    (event,) = to_events(parse_event(older), **NO_DB)
    assert event.event_type == "START" and event.run.params == {"input": "s.csv", "api_token": "***"}


def test_process_event_of_an_unknown_run_is_refused_with_advice():
    MEMORY.clear()
    with pytest.raises(WeblogError) as info:
        to_events(parse_event(_lines("weblog_success.jsonl")[1]), **NO_DB)
    assert info.value.field == "runId" and "lamin nextflow ingest" in str(info.value)


def test_failure_sample_closes_the_run_as_errored():
    MEMORY.clear()
    events = [e for body in _lines("weblog_failure.jsonl") for e in to_events(parse_event(body), **NO_DB)]
    pipeline = [e for e in events if e.run.reference_type == "nextflow_run"]
    assert [e.event_type for e in pipeline] == ["START", "FAIL", "FAIL"]
    assert "exit status (1)" in pipeline[-1].run.error_message
    task = [e for e in events if e.run.run_id == "b7c41e02d9a86f35e1c07b2d4a9e6f18"]
    assert task[-1].event_type == "FAIL" and task[-1].run.facets["nextflow_task"]["exit"] == 1


def test_error_event_with_an_unusable_trace_still_fails_the_run():
    MEMORY.clear()
    lines = _lines("weblog_failure.jsonl")
    to_events(parse_event(lines[0]), **NO_DB)
    error = dict(lines[4], trace={"status": "FAILED"})  # no workdir, no name
    (event,) = to_events(parse_event(error), **NO_DB)
    assert event.event_type == "FAIL" and event.run.reference_type == "nextflow_run"


def test_pipeline_names_become_clean_keys():
    from lamin_nextflow.identity import pipeline_name
    from lamin_nextflow.records import PipelineMeta

    def name(**kw):
        return pipeline_name(PipelineMeta("s", "r", **kw))

    assert name(manifest_name="nf-core//rnaseq/") == "nf-core/rnaseq"
    assert name(manifest_name="../../etc") == "etc"
    assert name(repository="https://github.com/nf-core/demo.git") == "nf-core/demo"
    assert name(repository="git@github.com:me/tool.git") == "me/tool"
    assert name(script_file="/home/alice/proj/main.nf") == "proj/main.nf"  # local scripts: the same from both sources
