"""A live `lamin serve` refuses bad input with 4xx, keeps serving, and writes nothing."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lamin_core.lineage.openlineage_json import is_uuid
from ol_helpers import Server, auth, event, store_counts


def post(server: Server, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(server.url, data=body, headers={"Content-Type": "application/json", **auth(), **(headers or {})}, timeout=60)


def drop(d: dict[str, Any], *path: str) -> dict[str, Any]:
    d = json.loads(json.dumps(d))
    cur = d
    for p in path[:-1]:
        cur = cur[p]
    del cur[path[-1]]
    return d


def put(d: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    d = json.loads(json.dumps(d))
    cur = d
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    return d


GOOD = event("START", "0190f1c2-7a6b-7c3d-8e9f-0a1b2c3d4e5f", inputs=[{"namespace": "file", "name": "/nope/x.csv"}])
MALFORMED = [
    (drop(GOOD, "run", "runId"), "run.runId"),
    (put(GOOD, "FINISHED", "eventType"), "eventType"),
    (put(GOOD, 12, "job", "name"), "job.name"),
    (put(GOOD, "not-a-uuid", "run", "runId"), "run.runId"),
    (put(GOOD, {"a": 1}, "eventTime"), "eventTime"),
    (put(GOOD, "yesterday", "eventTime"), "eventTime"),
    (put(GOOD, "file", "inputs"), "inputs"),
    (put(GOOD, [{"namespace": "file"}], "inputs"), "inputs.0.name"),
    (put(GOOD, {"run": {"runId": "x"}, "job": {"namespace": "n", "name": "p"}, "_producer": "p", "_schemaURL": "s"}, "run", "facets", "parent"), "run.facets.parent.run.runId"),
    (drop(GOOD, "job"), "job"),
]


def test_bad_input_is_refused_and_changes_nothing(instance: Any, serve: Server) -> None:
    before = store_counts()
    for body, field in MALFORMED:
        r = post(serve, json.dumps(body).encode())
        assert r.status_code == 400, (field, r.text)
        assert r.json()["field"] == field and r.json()["error"]
    for raw in (b"{", b"", b"null", b"[1, 2]", b'{"eventType": "START"', "\u00e9".encode("latin-1")):
        r = post(serve, raw)
        assert r.status_code == 400 and r.json()["error"], raw
    big = json.dumps(put(GOOD, "x" * (2 * 1024 * 1024), "job", "facets", "huge")).encode()  # over --max-body-mb 1
    r = post(serve, big)
    assert r.status_code == 413 and "limit" in r.json()["error"]
    for bad_auth in ({"Authorization": "Bearer nope"}, {"Authorization": ""}):
        r = requests.post(serve.url, json=GOOD, headers=bad_auth, timeout=30)
        assert r.status_code == 401
    assert store_counts() == before
    # still serving, and a good event after all that is recorded
    assert requests.get(serve.base + "/healthz", timeout=30).status_code == 200
    assert post(serve, json.dumps(GOOD).encode()).status_code == 201
    basic = "Basic " + base64.b64encode(b"nextflow:test-token-123").decode()
    assert post(serve, json.dumps(GOOD).encode(), {"Authorization": basic}).status_code == 200


# -- fuzz: events damaged so that they must be refused --------------------------------------------------

_not_str = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
_required_paths = [("eventTime",), ("producer",), ("run",), ("job",), ("run", "runId"), ("job", "namespace"), ("job", "name")]
_string_paths = [("eventTime",), ("producer",), ("run", "runId"), ("job", "namespace"), ("job", "name"), ("eventType",)]


@st.composite
def invalid_bodies(draw: st.DrawFn) -> bytes:
    base = event(draw(st.sampled_from(["START", "COMPLETE", "FAIL"])), str(uuid.uuid4()), inputs=[{"namespace": "s3://b", "name": "k"}])
    how = draw(st.sampled_from(["drop", "type", "uuid", "enum", "time", "toplevel", "bytes", "dataset"]))
    if how == "drop":
        body: Any = drop(base, *draw(st.sampled_from(_required_paths)))
    elif how == "type":
        body = put(base, draw(_not_str), *draw(st.sampled_from(_string_paths)))
    elif how == "uuid":
        body = put(base, draw(st.text(max_size=40).filter(lambda s: not is_uuid(s))), "run", "runId")
    elif how == "enum":
        body = put(base, draw(st.text(max_size=12).filter(lambda s: s not in ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER", ""))), "eventType")
    elif how == "time":
        body = put(base, draw(st.text(max_size=25).filter(lambda s: "T" not in s.upper())), "eventTime")
    elif how == "dataset":
        body = put(base, [draw(st.dictionaries(st.sampled_from(["namespace", "facets"]), _not_str, max_size=2))], "inputs")
    elif how == "toplevel":
        body = draw(st.lists(st.integers(), max_size=3) | st.integers() | st.text(max_size=10) | st.none())
    else:
        raw = draw(st.binary(min_size=1, max_size=200).filter(lambda b: not _is_json_object(b)))
        return raw
    return json.dumps(body).encode()


def _is_json_object(b: bytes) -> bool:
    try:
        return isinstance(json.loads(b), dict)
    except ValueError:
        return False


@pytest.fixture
def baseline(instance: Any, serve: Server) -> tuple[Server, dict[str, int]]:
    assert post(serve, json.dumps(event("START")).encode()).status_code == 201  # a store with something in it
    return serve, store_counts()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=invalid_bodies())
def test_fuzzed_batch_is_refused_and_changes_nothing(baseline: tuple[Server, dict[str, int]], body: bytes) -> None:
    server, before = baseline
    r = post(server, body)
    assert 400 <= r.status_code < 500, (body[:200], r.status_code, r.text)
    assert set(r.json()) == {"error", "field"}
    assert store_counts() == before
    assert requests.get(server.base + "/healthz", timeout=30).status_code == 200
