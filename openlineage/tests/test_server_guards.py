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


SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({}, "eventTime"),
        ([], None),
        ({"eventType": "START", "eventTime": "2026-01-01T00:00:00Z", "producer": "p", "job": {"namespace": "n", "name": "j"},
          "run": {"runId": "0190f1c2-7a6b-7c3d-8e9f-0a1b2c3d4e5f"}}, "schemaURL"),  # the 2-0-2 schema requires it
        ({"eventType": "START", "eventTime": "2026-01-01T00:00:00Z", "producer": "p", "schemaURL": SCHEMA_URL, "job": {"namespace": "n", "name": "j"}, "run": {}}, "run.runId"),
        ({"eventType": "DONE", "eventTime": "2026-01-01T00:00:00Z", "producer": "p", "schemaURL": SCHEMA_URL, "job": {"namespace": "n", "name": "j"}, "run": {"runId": "0190f1c2-7a6b-7c3d-8e9f-0a1b2c3d4e5f"}}, "eventType"),
        ({"eventType": "START", "eventTime": "2026-01-01T00:00:00Z", "producer": "p", "schemaURL": SCHEMA_URL, "job": {"namespace": "n", "name": ["j"]}, "run": {"runId": "0190f1c2-7a6b-7c3d-8e9f-0a1b2c3d4e5f"}}, "job.name"),
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
    r = client.put(URL, json={}, headers=auth())  # GET is Marquez's lineage graph now; PUT is nothing
    assert r.status_code == 405 and "error" in r.json()


def test_plugin_routes_share_auth_limits_and_errors() -> None:
    """What a route mounted through `lamin_core.routes` gets from the server (the Nextflow weblog relies on it)."""
    from lamin_openlineage.http import HTTPError, read_json
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def plugin(request: Any) -> JSONResponse:
        body = await read_json(request)
        if "runName" not in body:
            raise HTTPError(400, "runName is required", field="runName")
        if body["runName"] == "bad":
            raise ValueError("run names may not be 'bad'")
        return JSONResponse({"ok": True}, status_code=201)

    app = create_app(token=TOKEN, max_body_bytes=1024, load_plugins=False)
    app.router.routes.append(Route("/api/v1/plugin", plugin, methods=["POST"]))
    basic = {"Authorization": "Basic " + base64.b64encode(f"lamin:{TOKEN}".encode()).decode()}
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.post("/api/v1/plugin", json={"runName": "x"}).status_code == 401
        assert c.post("/api/v1/plugin", json={"runName": "x"}, headers=basic).status_code == 201
        r = c.post("/api/v1/plugin", json={}, headers=auth())
        assert r.status_code == 400 and r.json() == {"error": "runName is required", "field": "runName"}
        r = c.post("/api/v1/plugin", json={"runName": "bad"}, headers=auth())
        assert r.status_code == 400 and "may not be" in r.json()["error"]
        assert c.post("/api/v1/plugin", content=b"{" + b" " * 2000 + b"}", headers=auth()).status_code == 413


def test_serve_cli_refuses_without_an_instance(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    lamin = str(Path(sys.executable).parent / "lamin")
    env = {**os.environ, "LAMIN_HOME": str(tmp_path / "empty")}
    env.pop("LAMIN_INSTANCE", None)
    out = subprocess.run([lamin, "serve", "--port", "0"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "no instance is connected" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run([lamin, "serve", "--max-body-mb", "0"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--max-body-mb" in out.stderr
