"""Whatever bytes a run folder holds, the readers report problems instead of raising (property tests)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lamin_nextflow.lineage_store import read_store
from lamin_nextflow.trace import KNOWN_FIELDS, parse_trace, row_to_attempt
from lamin_nextflow.weblog import WeblogError, parse_event

FIELDS = sorted(KNOWN_FIELDS)
cells = st.one_of(st.text(st.characters(codec="utf-8", blacklist_characters="\n\r\t"), max_size=12), st.integers().map(str), st.sampled_from(["-", "1.5 GB", "3m 2s", "187%", ""]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
quick = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@quick
@given(header=st.lists(st.sampled_from(FIELDS), min_size=2, max_size=8, unique=True),
       rows=st.lists(st.lists(cells, max_size=10), max_size=5))
def test_any_trace_text_parses_or_is_reported(tmp_path, header, rows):
    path = tmp_path / "trace.txt"
    path.write_text("\n".join(["\t".join(header)] + ["\t".join(r) for r in rows]))
    trace = parse_trace(path)
    if "hash" in header or "workdir" in header:  # a trace: every non-blank row is read or reported
        assert len(trace.rows) + len(trace.skipped) == sum(1 for r in rows if "\t".join(r).strip())
    else:
        assert not trace.rows and "not a Nextflow trace" in trace.skipped[0].reason


@quick
@given(record=st.dictionaries(st.sampled_from(FIELDS), cells, max_size=12))
def test_any_trace_record_becomes_an_attempt(record):
    from lamin_nextflow.trace import TaskAttempt

    assert isinstance(row_to_attempt(record), TaskAttempt)


@quick
@given(doc=json_values, kind=st.sampled_from(["WorkflowRun", "TaskRun", "FileOutput", "TaskOutput", "WorkflowOutput", "X"]),
       wrapped=st.booleans())
def test_any_lineage_record_is_read_or_skipped(tmp_path_factory, doc, kind, wrapped):
    store = tmp_path_factory.mktemp("store")
    record = {"version": "lineage/v1beta1", "kind": kind}
    record.update({"spec": doc} if wrapped else (doc if isinstance(doc, dict) else {"value": doc}))
    (store / "abc").mkdir()
    (store / "abc" / ".data.json").write_text(json.dumps(record))
    found = read_store(store)
    # the one record is read into the store, or skipped with a reason: never lost silently
    read = (len(found.runs) + len(found.tasks) + len(found.work_files) + sum(map(len, found.published.values()))
            + len(found.task_outputs) + len(found.run_ends))
    assert read + len(found.skipped) >= 1
    assert all(s.reason for s in found.skipped)


@quick
@given(body=st.dictionaries(st.sampled_from(["runName", "runId", "event", "utcTime", "trace", "metadata", "params"]),
                            json_values, max_size=7))
def test_any_weblog_body_is_accepted_or_refused_with_a_field(body):
    try:
        event = parse_event(body)
    except WeblogError as e:  # refused: the message and the field name the culprit (the server's 400)
        assert str(e) and (e.field is None or e.field in str(e) or e.field in body or e.field in ("trace", "metadata"))
    else:
        assert event is not None and all(isinstance(body.get(k), str) and body[k].strip() for k in ("runName", "runId", "event"))


@quick
@given(tasks=st.dictionaries(st.text(max_size=4), json_values, max_size=3), published=json_values, pipeline=json_values)
def test_any_nf_prov_manifest_is_read_or_skipped(tasks, published, pipeline):
    from lamin_nextflow.nfprov import parse_manifest

    manifest = parse_manifest({"pipeline": pipeline, "tasks": tasks, "published": published}, "manifest.json")
    # every task is read or skipped with a reason
    assert len(manifest.tasks) + sum(1 for s in manifest.skipped if ": task " in s.source) == len(tasks)
    assert all(s.reason for s in manifest.skipped)
