"""``POST /api/v1/telemetry``: authentication (integration token or device secret), per-report
answers, whole-body errors, and "accepted means committed"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from homeport.adapters.http_ingest import api as ingest_api
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.identity import actions as identity_actions
from homeport.identity.api import access_of
from homeport.telemetry import actions as telemetry_actions
from homeport.telemetry.models import TelemetryReport
from tests.conftest import TEST_ACTOR, make_staff
from tests.factories import Fleet, build_fleet
from tests.telemetry.conftest import report

URL = "/api/v1/telemetry"


@pytest.fixture
def ingest_client(app: FastAPI, client: TestClient) -> TestClient:
    """The app with the ingest router (added here until ``web/routes.py`` lists it)."""
    if not any(isinstance(r, APIRoute) and r.path == URL for r in app.routes):
        app.include_router(ingest_api.router)
    return client


@pytest.fixture
def fleet(db: Database, clock: ManualClock) -> Fleet:
    return build_fleet(db, clock.now())


def _token(db: Database, clock: ManualClock, *scopes: str) -> str:
    user = make_staff(db, clock, email=f"bridge-{'-'.join(scopes)}@example.net", role="noc")
    with db.transaction() as session:
        _, secret = identity_actions.create_api_token(
            session, user_id=user.id, scopes=list(scopes), actor=TEST_ACTOR, now=clock.now()
        )
    return secret


def _device_secret(db: Database, clock: ManualClock, device_id: str) -> str:
    with db.transaction() as session:
        return telemetry_actions.issue_device_secret(
            session, device_id=device_id, actor=TEST_ACTOR, now=clock.now()
        )


def _bearer(secret: str, device: str | None = None) -> dict[str, str]:
    headers = {"authorization": f"Bearer {secret}"}
    if device:
        headers["x-homeport-device"] = device
    return headers


def _stored(db: Database) -> list[tuple[str, str]]:
    with db.session() as session:
        return sorted(
            (r.device_id, r.source) for r in session.scalars(select(TelemetryReport)).all()
        )


def _post(client: TestClient, body: Any, headers: dict[str, str]) -> Any:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(URL, content=data, headers={"content-type": "application/json", **headers})


def test_the_routes_declare_one_access_rule() -> None:
    routes = [r for r in ingest_api.router.routes if isinstance(r, APIRoute)]
    assert len(routes) == 2
    for route in routes:
        (rule,) = access_of(route.dependant.dependencies)
        assert rule.audience == "staff"
        assert rule.scope == "telemetry:write"
        assert (
            rule.describe()
            == "gateway (device secret) or staff (any staff role); token scope telemetry:write"
        )


def test_an_integration_token_stores_a_mixed_batch(
    ingest_client: TestClient, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    token = _token(db, clock, "telemetry:write")
    now = clock.now()
    batch = [
        report("GW-000101"),
        report("GW-000102", wan={"status": "up", "latency_ms": 90_000}),
        report("GW-UNKNOWN"),
        "not a report",
        report("GW-000103", ts=(now + timedelta(days=2)).isoformat()),
        report("GW-000103"),
        report("GW-000101"),
    ]
    response = _post(ingest_client, batch, _bearer(token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (2, 1)
    assert [(r["index"], r["device_id"]) for r in body["rejected"]] == [
        (1, "GW-000102"),
        (2, "GW-UNKNOWN"),
        (3, None),
        (4, "GW-000103"),
    ]
    reasons = [r["reason"] for r in body["rejected"]]
    assert reasons[0].startswith("wan.latency_ms: Input should be less than or equal to 60000")
    assert reasons[1] == "unknown device"
    assert reasons[2] == "a report must be a JSON object, not a string"
    assert "in the future" in reasons[3]
    # Accepted means committed: a fresh session sees them.
    assert _stored(db) == [("GW-000101", "http"), ("GW-000103", "http")]
    again = _post(ingest_client, {"reports": batch[:1]}, _bearer(token))
    assert again.json() == {"accepted": 0, "duplicates": 1, "rejected": [], "actions": []}


def test_anonymous_and_wrong_credentials_are_refused(
    ingest_client: TestClient, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    batch = [report("GW-000101")]
    assert _post(ingest_client, batch, {}).status_code == 401
    assert _post(ingest_client, batch, _bearer("hp_nope_nope")).status_code == 401
    read_only = _token(db, clock, "read")
    response = _post(ingest_client, batch, _bearer(read_only))
    assert response.status_code == 403
    assert "telemetry:write" in response.json()["detail"]
    assert _stored(db) == []


def test_a_device_reports_for_itself_with_its_secret(
    ingest_client: TestClient, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    secret = _device_secret(db, clock, "GW-000101")
    batch = [report("GW-000101"), report("GW-000102")]
    response = _post(ingest_client, batch, _bearer(secret, "GW-000101"))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": [
            {
                "index": 1,
                "device_id": "GW-000102",
                "reason": "authenticated as device GW-000101, not GW-000102",
            }
        ],
        "actions": [],
    }
    assert _stored(db) == [("GW-000101", "http")]


def test_a_wrong_rotated_or_revoked_device_secret_is_refused(
    ingest_client: TestClient, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    batch = [report("GW-000102")]
    old = _device_secret(db, clock, "GW-000102")
    new = _device_secret(db, clock, "GW-000102")  # rotation: the old one stops working
    assert _post(ingest_client, batch, _bearer(old, "GW-000102")).status_code == 401
    assert _post(ingest_client, batch, _bearer(new, "GW-000101")).status_code == 401
    assert _post(ingest_client, batch, _bearer(new, "GW-NOBODY")).status_code == 401
    assert _post(ingest_client, batch, {"x-homeport-device": "GW-000102"}).status_code == 401
    assert _post(ingest_client, batch, _bearer(new, "GW-000102")).status_code == 200
    with db.transaction() as session:
        telemetry_actions.revoke_device_secret(
            session, device_id="GW-000102", actor=TEST_ACTOR, now=clock.now()
        )
    response = _post(ingest_client, [report("GW-000102", uptime_s=1)], _bearer(new, "GW-000102"))
    assert response.status_code == 401
    assert response.json()["detail"] == "unknown device, or invalid or revoked device secret"


def test_a_body_that_is_not_a_batch_is_400(
    ingest_client: TestClient, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    token = _token(db, clock, "telemetry:write")
    response = _post(ingest_client, b'[{"device_id": ', _bearer(token))
    assert response.status_code == 400
    assert response.json()["detail"].startswith("the body is not valid JSON")
    response = _post(ingest_client, {"device_id": "GW-000101"}, _bearer(token))
    assert response.status_code == 400
    assert _stored(db) == []


def test_a_batch_over_the_limit_is_413(
    ingest_client: TestClient, app: FastAPI, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    app.state.settings.telemetry.max_batch = 3
    token = _token(db, clock, "telemetry:write")
    batch = [
        report("GW-000101", ts=(clock.now() - timedelta(minutes=i)).isoformat()) for i in range(4)
    ]
    response = _post(ingest_client, batch, _bearer(token))
    assert response.status_code == 413
    assert "4 reports in one batch; at most 3" in response.json()["detail"]
    huge = b"[" + b" " * (3 * ingest_api.MAX_BYTES_PER_REPORT) + b"]"
    assert _post(ingest_client, huge, _bearer(token)).status_code == 413
    assert _post(ingest_client, batch[:3], _bearer(token)).json()["accepted"] == 3


@pytest.fixture
def crash_after_store(monkeypatch: pytest.MonkeyPatch) -> None:
    real = telemetry_actions.store_reports

    def store_then_crash(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise RuntimeError("the process died before the commit")

    monkeypatch.setattr(ingest_api, "store_reports", store_then_crash)


def test_no_success_is_answered_before_the_commit(
    app: FastAPI, db: Database, clock: ManualClock, fleet: Fleet, crash_after_store: None
) -> None:
    app.include_router(ingest_api.router)
    token = _token(db, clock, "telemetry:write")
    with TestClient(app, raise_server_exceptions=False) as client:
        response = _post(client, [report("GW-000101")], _bearer(token))
    assert response.status_code == 500
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(TelemetryReport)) == 0
