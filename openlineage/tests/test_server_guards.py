"""What the server refuses before touching the database: bad JSON, bad events, no token, huge bodies.

These run the real Starlette app in-process (no instance needed: nothing here may reach `record()`).
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any, Iterator

import pytest
from lamin_openlineage.server import create_app
from starlette.testclient import TestClient

TOKEN = "s3cr3t-token"
URL = "/api/v1/lineage"


@pytest.fixture()
def client() -> Iterator[TestClient]:
    app = create_app(token=TOKEN, max_body_bytes=64 * 1024, load_plugins=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_healthz_needs_no_token(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic " + base64.b64encode(b"lamin:wrong").decode()},
        {"Authorization": "Basic !!!notbase64"},
        {"Authorization": TOKEN},
    ],
)
def test_without_the_token_401(client: TestClient, headers: dict[str, str]) -> None:
    r = client.post(URL, content=b"{}", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"] and "s3cr3t" not in r.text


def test_basic_auth_with_the_token_as_password_passes_the_guard(client: TestClient) -> None:
    basic = {"Authorization": "Basic " + base64.b64encode(f"nextflow:{TOKEN}".encode()).decode()}
    r = client.post(URL, content=b"not json", headers=basic)
    assert r.status_code == 400  # past auth, refused for the body


@pytest.mark.parametrize(
    ("body", "needle"),
    [(b"{not json", "invalid JSON"), (b"", "empty body"), (b"\xff\xfe\x00", "invalid JSON"), (b"[" * 30_000, "invalid JSON"), (b"[" * 30_000 + b"]" * 30_000, "invalid JSON")],
)
def test_invalid_json_400(client: TestClient, body: bytes, needle: str) -> None:
    r = client.post(URL, content=body, headers=auth())
    assert r.status_code == 400, r.text
    assert needle in r.json()["error"] and r.json()["field"] is None


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({}, "eventTime"),
        ([], None),
        ({"eventType": "START", "eventTime": "2026-01-01T00:00:00Z", "producer": "p", "job": {"namespace": "n", "name": "j"}, "run": {}}, "run.runId"),
        ({"eventType": "DONE", "eventTime": "2026-01-01T00:00:00Z", "producer": "p", "job": {"namespace": "n", "name": "j"}, "run": {"runId": "0190f1c2-7a6b-7c3d-8e9f-0a1b2c3d4e5f"}}, "eventType"),
        ({"eventType": "START", "eventTime": "2026-01-01T00:00:00Z", "producer": "p", "job": {"namespace": "n", "name": ["j"]}, "run": {"runId": "0190f1c2-7a6b-7c3d-8e9f-0a1b2c3d4e5f"}}, "job.name"),
    ],
)
def test_invalid_event_400_names_the_field(client: TestClient, event: Any, field: str | None) -> None:
    r = client.post(URL, json=event, headers=auth())
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) == {"error", "field"} and body["error"]
    if field is not None:
        assert body["field"] == field


def test_oversized_body_413(client: TestClient) -> None:
    big = json.dumps({"x": "a" * 100_000}).encode()
    r = client.post(URL, content=big, headers=auth())
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_oversized_chunked_body_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit has to count while reading
        for _ in range(10):
            yield b"x" * 16 * 1024

    r = client.post(URL, content=chunks(), headers=auth())
    assert r.status_code == 413


def test_gzip_bomb_413(client: TestClient) -> None:
    bomb = gzip.compress(b"{" + b" " * (10 * 1024 * 1024) + b"}")  # ~10 KB on the wire, 10 MB inflated
    r = client.post(URL, content=bomb, headers={**auth(), "Content-Encoding": "gzip"})
    assert r.status_code == 413


def test_gzip_body_is_read(client: TestClient) -> None:
    r = client.post(URL, content=gzip.compress(b'{"eventType": "NOPE"}'), headers={**auth(), "Content-Encoding": "gzip"})
    assert r.status_code == 400 and r.json()["field"] in ("eventType", "eventTime")


def test_unknown_paths_and_methods_answer_json(client: TestClient) -> None:
    r = client.get("/nope", headers=auth())
    assert r.status_code == 404 and "error" in r.json()
    r = client.get(URL, headers=auth())
    assert r.status_code == 405 and "error" in r.json()
