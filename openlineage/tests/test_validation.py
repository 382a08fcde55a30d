"""Schema validation: every malformed RunEvent is refused with the dotted path of the field at fault."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lamin_core.lineage.openlineage_json import OpenLineageEventError
from lamin_openlineage.validation import parse_event, validate

RUN_ID = "0190f1c2-7a6b-7c3d-8e9f-0a1b2c3d4e5f"
FACET = {"_producer": "https://example.org/p", "_schemaURL": "https://example.org/s"}


def event() -> dict[str, Any]:
    return {
        "eventType": "START",
        "eventTime": "2026-01-02T03:04:05.000Z",
        "producer": "https://example.org/p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": RUN_ID, "facets": {"parent": {**FACET, "run": {"runId": RUN_ID}, "job": {"namespace": "n", "name": "dag"}}}},
        "job": {"namespace": "n", "name": "dag.task", "facets": {"sourceCode": {**FACET, "language": "python", "sourceCode": "x"}}},
        "inputs": [{"namespace": "file", "name": "/a.csv", "facets": {"schema": {**FACET, "fields": [{"name": "a", "type": "int"}]}}}],
        "outputs": [{"namespace": "s3://b", "name": "k", "outputFacets": {"outputStatistics": {**FACET, "rowCount": 3}}}],
    }


def test_a_valid_event_passes() -> None:
    validate(event())
    assert parse_event(event()).run.run_id == RUN_ID


def _set(d: dict[str, Any], path: str | tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A copy of `d` with the value at `path` ("a.0.b" or a tuple of keys) replaced, or deleted."""
    d = copy.deepcopy(d)
    keys = tuple(path.split(".")) if isinstance(path, str) else path
    *parents, last = keys
    cur: Any = d
    for k in parents:
        cur = cur[int(k)] if isinstance(cur, list) else cur[k]
    if isinstance(cur, list):
        last = int(last)
    if value is _DELETE:
        del cur[last]
    else:
        cur[last] = value
    return d


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("run.runId", _DELETE, "run.runId"),
        ("run.runId", "not-a-uuid", "run.runId"),
        ("run.runId", 42, "run.runId"),
        ("eventType", "FINISHED", "eventType"),
        ("eventType", 1, "eventType"),
        ("eventTime", _DELETE, "eventTime"),
        ("eventTime", "tomorrow", "eventTime"),
        ("eventTime", "2026-01-02", "eventTime"),
        ("producer", _DELETE, "producer"),
        ("job", _DELETE, "job"),
        ("job", [], "job"),
        ("job.name", 3, "job.name"),
        ("job.name", "", "job.name"),
        ("job.namespace", _DELETE, "job.namespace"),
        ("job.facets", "x", "job.facets"),
        ("job.facets.sourceCode.sourceCode", _DELETE, "job.facets.sourceCode.sourceCode"),
        ("job.facets.sourceCode._producer", _DELETE, "job.facets.sourceCode._producer"),
        ("run.facets.parent.run.runId", "nope", "run.facets.parent.run.runId"),
        ("run.facets.parent.job", _DELETE, "run.facets.parent.job"),
        ("inputs", {}, "inputs"),
        ("inputs.0.name", _DELETE, "inputs.0.name"),
        ("inputs.0.namespace", None, "inputs.0.namespace"),
        ("inputs.0.facets.schema.fields.0.name", 1, "inputs.0.facets.schema.fields.0.name"),
        ("outputs.0.outputFacets.outputStatistics", 5, "outputs.0.outputFacets.outputStatistics"),
    ],
)
def test_malformed_events_name_the_field(path: str, value: Any, field: str) -> None:
    with pytest.raises(OpenLineageEventError) as err:
        parse_event(_set(event(), path, value))
    assert err.value.field == field, err.value.message
    assert err.value.message  # a sentence a producer's developer can act on


def test_not_an_object() -> None:
    for bad in ([], "x", 1, None):
        with pytest.raises(OpenLineageEventError):
            parse_event(bad)


# -- fuzz: random damage to a valid event is either still valid or refused with a field -----------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=8,
)


def _paths(d: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = []
    items = d.items() if isinstance(d, dict) else enumerate(d) if isinstance(d, list) else []
    for k, v in items:
        out.append((*prefix, k))
        out.extend(_paths(v, (*prefix, k)))
    return out


@st.composite
def damaged_events(draw: st.DrawFn) -> dict[str, Any]:
    d = event()
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(d)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        d = _set(d, path, draw(st.just(_DELETE) | _json))
    return d


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_events())
def test_fuzzed_events_are_valid_or_refused_with_a_field(d: dict[str, Any]) -> None:
    try:
        parse_event(d)
    except OpenLineageEventError as e:
        assert e.message
        if e.field is not None:
            # the field names a place in the event, or a member missing from one (keys may hold "." or "[")
            places = {".".join(map(str, p)) for p in _paths(d)}
            missing_from = {"", *places}
            assert e.field in places or any(
                (e.field.startswith(f"{p}.") or p == "") and "." not in e.field[len(p) :].lstrip(".")
                for p in missing_from
            ), (e.field, e.message)


@pytest.mark.parametrize("key", ["0[", "0[0", "a.b", "x]"])
def test_a_facet_key_with_dots_or_brackets_is_named_as_it_is(key: str) -> None:
    d = event()
    d["run"]["facets"] = {key: None}
    with pytest.raises(OpenLineageEventError) as err:
        parse_event(d)
    assert err.value.field == f"run.facets.{key}", err.value.message
    assert err.value.message.startswith(f"run.facets.{key} must be object")
