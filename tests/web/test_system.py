from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from homeport.core.db import Database
from homeport.core.logging import JsonFormatter


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_readyz_reports_a_schema_behind_the_code(client: TestClient, db: Database) -> None:
    with db.engine.begin() as conn:
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    try:
        r = client.get("/readyz")
        assert r.status_code == 503 and "homeport db upgrade" in r.json()["database"]
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})


def test_readyz_reports_an_unreachable_database(client: TestClient, db: Database) -> None:
    client.app.state.db = Database(
        "postgresql://nobody@127.0.0.1:1/none",  # type: ignore[attr-defined]
        connect_args={"connect_timeout": 2},
    )
    r = client.get("/readyz")
    assert r.status_code == 503 and "cannot reach the database" in r.json()["database"]


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/healthz")
    body = client.get("/metrics").text
    assert 'homeport_http_requests_total{method="GET",route="/healthz",status="200"}' in body
    assert "homeport_http_request_duration_seconds_bucket" in body


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert len(generated.headers["x-request-id"]) == 32


def test_request_log_line_is_json_with_the_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="homeport.http"):
        client.get("/healthz", headers={"X-Request-ID": "trace-me"})
    (record,) = [r for r in caplog.records if r.name == "homeport.http"]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "trace-me" and line["status"] == 200
    assert line["route"] == "/healthz" and "duration_ms" in line


def test_not_found_is_a_page_for_browsers_and_json_for_the_api(client: TestClient) -> None:
    page = client.get("/no-such-page", headers={"accept": "text/html"})
    assert page.status_code == 404 and "<h1>Not found</h1>" in page.text
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


def test_openapi_is_served(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert spec["info"]["title"].startswith("Homeport")
    assert "/api/v1/me" in spec["paths"]
