"""Remote actions over HTTP: a gateway collects its queued actions in the answer to its reports
(marked ``sent`` in the same commit) and reports each result to
``POST /api/v1/devices/{device_id}/actions/{action_id}/result``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from homeport.adapters.http_ingest import api as ingest_api
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.health import remote, tasks
from tests.adapters.http_ingest.test_api import _bearer, _device_secret, _post, _token
from tests.factories import Fleet, build_fleet
from tests.remote_actions import audit_trail, load, queue
from tests.telemetry.conftest import report

GW = "GW-000101"


@pytest.fixture
def ingest_client(app: FastAPI, client: TestClient) -> TestClient:
    if not any(isinstance(r, APIRoute) and r.path == "/api/v1/telemetry" for r in app.routes):
        app.include_router(ingest_api.router)
    return client


@pytest.fixture
def fleet(db: Database, clock: ManualClock) -> Fleet:
    return build_fleet(db, clock.now())


def _queue(
    db: Database,
    fleet: Fleet,
    clock: ManualClock,
    kind: str = "reboot",
    params: dict[str, Any] | None = None,
    *,
    account: str = "ACC-1001",
    device_id: str = GW,
) -> int:
    return queue(
        db,
        fleet,
        clock,
        account=account,
        device_id=device_id,
        kind=kind,
        params=params,
        requested_by="staff:7",
    )


def _sent(client: TestClient, db: Database, clock: ManualClock, fleet: Fleet) -> tuple[str, int]:
    """A reboot for GW, collected by GW (now ``sent``): GW's secret and the action's id."""
    secret = _device_secret(db, clock, GW)
    action_id = _queue(db, fleet, clock)
    actions = _post(client, [], _bearer(secret, GW)).json()["actions"]
    assert [a["id"] for a in actions] == [action_id]
    return secret, action_id


def _result(
    client: TestClient, device: str, action_id: int, body: Any, headers: dict[str, str]
) -> Any:
    return client.post(
        f"/api/v1/devices/{device}/actions/{action_id}/result",
        content=orjson.dumps(body),
        headers={"content-type": "application/json", **headers},
    )


def test_a_gateway_receives_its_queued_actions_once_and_they_become_sent(
    ingest_client: TestClient, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    secret = _device_secret(db, clock, GW)
    reboot = _queue(db, fleet, clock)
    clock.advance(timedelta(seconds=1))
    channel = _queue(db, fleet, clock, "set_channel", {"band": "2.4GHz", "channel": 6})
    other = _queue(db, fleet, clock, account="ACC-1002", device_id="GW-000102")
    clock.advance(timedelta(seconds=30))
    response = _post(ingest_client, [report(GW)], _bearer(secret, GW))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 1
    assert body["actions"] == [
        {"id": reboot, "kind": "reboot", "params": {}},
        {"id": channel, "kind": "set_channel", "params": {"band": "2.4GHz", "channel": 6}},
    ]
    for action_id in (reboot, channel):
        action = load(db, action_id)
        assert action.status == "sent"
        assert action.sent_at is not None
        assert action.result == {"via": "http"}
        assert audit_trail(db, action_id) == ["device_action.queued", "device_action.sent"]
    assert load(db, other).status == "queued"  # another device's action stays
    # Delivered once: the next post (an empty batch is a poll) carries nothing.
    again = _post(ingest_client, [], _bearer(secret, GW))
    assert again.status_code == 200
    assert again.json() == {"accepted": 0, "duplicates": 0, "rejected": [], "actions": []}


def test_an_integration_token_gets_no_actions(
    ingest_client: TestClient, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    token = _token(db, clock, "telemetry:write")
    action_id = _queue(db, fleet, clock)
    response = _post(ingest_client, [report(GW)], _bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["actions"] == []
    assert load(db, action_id).status == "queued"


def test_a_gateway_reports_the_result_of_its_action(
    ingest_client: TestClient, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    secret, action_id = _sent(ingest_client, db, clock, fleet)
    clock.advance(timedelta(minutes=2))
    response = _result(
        ingest_client, GW, action_id, {"status": "done", "detail": "rebooted"}, _bearer(secret, GW)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"id": action_id, "device_id": GW, "kind": "reboot", "status": "done"}
    action = load(db, action_id)
    assert action.status == "done"
    assert action.completed_at is not None
    assert action.result == {"via": "http", "detail": "rebooted"}
    assert audit_trail(db, action_id) == [
        "device_action.queued",
        "device_action.sent",
        "device_action.done",
    ]
    # An action that ended never changes again: 409 with the reason.
    late = _result(ingest_client, GW, action_id, {"status": "failed"}, _bearer(secret, GW))
    assert late.status_code == 409
    assert late.json()["detail"] == f"action {action_id} is done; it cannot become failed"


def test_a_gateway_may_report_only_its_own_actions(
    ingest_client: TestClient, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    mine = _device_secret(db, clock, GW)
    theirs_secret = _device_secret(db, clock, "GW-000102")
    theirs = _queue(db, fleet, clock, account="ACC-1002", device_id="GW-000102")
    _post(ingest_client, [], _bearer(theirs_secret, "GW-000102"))
    # Another device's path: 403, with the reason.
    response = _result(ingest_client, "GW-000102", theirs, {"status": "done"}, _bearer(mine, GW))
    assert response.status_code == 403
    assert "may report only its own actions" in response.json()["detail"]
    # Its own path but another device's action: 404, as for an action that does not exist.
    response = _result(ingest_client, GW, theirs, {"status": "done"}, _bearer(mine, GW))
    assert response.status_code == 404
    assert response.json()["detail"] == f"device {GW} has no action {theirs}"
    assert (
        _result(ingest_client, GW, 999_999, {"status": "done"}, _bearer(mine, GW)).status_code
        == 404
    )
    # A wrong secret is not a device at all.
    assert (
        _result(
            ingest_client, GW, theirs, {"status": "done"}, _bearer(theirs_secret, GW)
        ).status_code
        == 401
    )
    assert load(db, theirs).status == "sent"
    assert audit_trail(db, theirs) == ["device_action.queued", "device_action.sent"]


def test_an_integration_token_reports_for_any_device_with_the_scope(
    ingest_client: TestClient, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    token = _token(db, clock, "telemetry:write")
    read_only = _token(db, clock, "read")
    action_id = _queue(db, fleet, clock, account="ACC-1002", device_id="GW-000102")
    with db.transaction() as session:
        remote.deliver_pending(session, ["GW-000102"], via="test", now=clock.now())
    refused = _result(
        ingest_client, "GW-000102", action_id, {"status": "failed"}, _bearer(read_only)
    )
    assert refused.status_code == 403
    response = _result(
        ingest_client,
        "GW-000102",
        action_id,
        {"status": "unsupported", "detail": "no such radio"},
        _bearer(token),
    )
    assert response.status_code == 200, response.text
    action = load(db, action_id)
    assert action.status == "unsupported"
    assert action.result["detail"] == "no such radio"
    assert action.result["via"] == "http-integration"


@pytest.mark.parametrize(
    "body",
    [
        {"status": "sent"},
        {"status": "cancelled"},
        {"status": "DONE"},
        {},
        {"status": "done", "detail": "x" * 501},
        {"status": "done", "extra": 1},
        {"status": "done", "detail": 5},
    ],
)
def test_a_bad_result_body_is_422(
    ingest_client: TestClient, db: Database, clock: ManualClock, fleet: Fleet, body: Any
) -> None:
    secret, action_id = _sent(ingest_client, db, clock, fleet)
    response = _result(ingest_client, GW, action_id, body, _bearer(secret, GW))
    assert response.status_code == 422, response.text
    assert load(db, action_id).status == "sent"


def test_a_result_that_is_not_json_is_refused(
    ingest_client: TestClient, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    secret = _device_secret(db, clock, GW)
    action_id = _queue(db, fleet, clock)
    response = ingest_client.post(
        f"/api/v1/devices/{GW}/actions/{action_id}/result",
        content=b"{not json",
        headers={"content-type": "application/json", **_bearer(secret, GW)},
    )
    assert response.status_code in (400, 422)


def test_a_result_for_an_action_never_sent_is_409(
    ingest_client: TestClient, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    token = _token(db, clock, "telemetry:write")
    action_id = _queue(db, fleet, clock)  # still queued: the device never collected it
    response = _result(ingest_client, GW, action_id, {"status": "done"}, _bearer(token))
    assert response.status_code == 409
    assert response.json()["detail"] == f"action {action_id} is queued; it cannot become done"
    assert load(db, action_id).status == "queued"


def _expire(db: Database, clock: ManualClock) -> int:
    with db.transaction() as session:
        return tasks.expire_actions(
            session,
            now=clock.now(),
            older_than=timedelta(hours=1),
            sent_older_than=timedelta(hours=3),
        )


def test_a_sent_action_without_a_result_is_failed_by_the_expiry(
    ingest_client: TestClient, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    """Sent but never received (the answer was lost): it must not stay live forever."""
    _, action_id = _sent(ingest_client, db, clock, fleet)
    clock.advance(timedelta(hours=2))
    n = _expire(db, clock)
    assert n == 0  # a sent action is not "queued": the queued expiry leaves it alone
    clock.advance(timedelta(hours=2))
    n = _expire(db, clock)
    assert n == 1
    action = load(db, action_id)
    assert action.status == "failed"
    assert action.result["reason"] == "no result from the device in time"
    assert audit_trail(db, action_id)[-1] == "device_action.failed"
