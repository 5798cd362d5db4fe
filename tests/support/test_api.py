"""The cases API (``/api/v1/cases``) over HTTP: filters, search, keyset pages, one case with its
interactions, opening a case and adding interactions from an integration, status changes, and
who may do what (roles, token scopes, CSRF)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy import func, select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.identity import actions as identity
from homeport.identity.models import SubscriberAccount
from homeport.support.models import Case, Interaction
from tests.conftest import PASSWORD, TEST_ACTOR, login
from tests.factories import Fleet, build_fleet
from tests.support.console_data import Desk, build_desk


@pytest.fixture
def fleet(db: Database, clock: ManualClock) -> Fleet:
    return build_fleet(db, clock.now() - timedelta(days=30))


@pytest.fixture
def desk(db: Database, clock: ManualClock, fleet: Fleet) -> Desk:
    return build_desk(db, fleet, clock.now())


def token(db: Database, clock: ManualClock, user_id: int, *scopes: str) -> dict[str, str]:
    with db.transaction() as s:
        _, secret = identity.create_api_token(
            s, user_id=user_id, scopes=list(scopes), actor=TEST_ACTOR, now=clock.now()
        )
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def reader(db: Database, clock: ManualClock, desk: Desk) -> dict[str, str]:
    return token(db, clock, desk.agent, "read")


@pytest.fixture
def writer(db: Database, clock: ManualClock, desk: Desk) -> dict[str, str]:
    return token(db, clock, desk.agent, "read", "cases:write")


def ids(response: object) -> list[int]:
    body = response.json()  # type: ignore[attr-defined]
    return [c["id"] for c in body["items"]]


def test_filters_and_search(client: TestClient, desk: Desk, reader: dict[str, str]) -> None:
    c = desk.cases
    every = client.get("/api/v1/cases", headers=reader)
    assert every.status_code == 200
    assert ids(every) == sorted(c.values(), reverse=True)
    assert ids(client.get("/api/v1/cases?priority=urgent", headers=reader)) == [c["urgent"]]
    assert ids(client.get("/api/v1/cases?channel=sms", headers=reader)) == [c["hostile"]]
    assert ids(client.get(f"/api/v1/cases?assignee_id={desk.agent}", headers=reader)) == [c["mine"]]
    unassigned = ids(client.get("/api/v1/cases?unassigned=true", headers=reader))
    assert c["mine"] not in unassigned and len(unassigned) == 4
    assert ids(client.get(f"/api/v1/cases?team_id={desk.other_team}", headers=reader)) == [
        c["billing"]
    ]
    assert ids(
        client.get("/api/v1/cases?status=new&status=open&category=billing", headers=reader)
    ) == [c["billing"]]
    # ?q= looks in subjects and in every message, case-insensitively; % and _ are literal.
    assert ids(client.get("/api/v1/cases?q=evening", headers=reader)) == [c["wifi"]]
    assert ids(client.get("/api/v1/cases?q=CHARGED TWICE", headers=reader)) == [c["billing"]]
    assert ids(client.get("/api/v1/cases?q=100%25", headers=reader)) == []


def test_keyset_pages(client: TestClient, desk: Desk, reader: dict[str, str]) -> None:
    seen: list[int] = []
    before: int | None = None
    pages = 0
    while True:
        url = "/api/v1/cases?limit=2" + (f"&before_id={before}" if before else "")
        body = client.get(url, headers=reader).json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        before = body["next_before_id"]
        if before is None:
            break
    assert pages == 3
    assert seen == sorted(desk.cases.values(), reverse=True)


def test_one_case_with_its_interactions(
    client: TestClient, desk: Desk, reader: dict[str, str]
) -> None:
    body = client.get(f"/api/v1/cases/{desk.cases['wifi']}", headers=reader).json()
    assert body["subject"] == "Wi-Fi drops in the evening"
    assert body["first_response_due_at"] is not None
    (first,) = body["interactions"]
    assert first["external_id"] == "<m1@example.org>"
    assert first["has_html"] is True and "body_html" not in first
    assert first["attachments"][0]["filename"] == "speed.png"
    assert "data" not in first["attachments"][0]
    assert client.get("/api/v1/cases/999999", headers=reader).status_code == 404


def test_open_a_case_add_interactions_and_solve(
    client: TestClient, db: Database, desk: Desk, fleet: Fleet, writer: dict[str, str]
) -> None:
    opened = client.post(
        "/api/v1/cases",
        headers=writer,
        json={
            "channel": "sms",
            "subject": "Router lights red",
            "subscriber_id": fleet.subscribers["ACC-1002"],
            "category": "no_internet",
            "first": {"channel": "sms", "body": "All lights red", "external_id": "SM1"},
        },
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert (case["status"], case["queue_id"]) == ("new", desk.queue)
    assert [i["body"] for i in case["interactions"]] == ["All lights red"]
    case_id = case["id"]
    url = f"/api/v1/cases/{case_id}/interactions"
    again = client.post(
        url, headers=writer, json={"channel": "sms", "body": "x", "external_id": "SM1"}
    )
    assert again.status_code == 201 and again.json()["created"] is False
    reply = client.post(
        url,
        headers=writer,
        json={"channel": "sms", "direction": "outbound", "author_kind": "agent", "body": "On it"},
    )
    assert reply.json()["created"] is True
    assert reply.json()["interaction"]["author_id"] == desk.agent
    no_outcome = client.post(
        f"/api/v1/cases/{case_id}/status", headers=writer, json={"status": "solved"}
    )
    assert no_outcome.status_code == 422
    assert no_outcome.json()["errors"][0]["field"] == "outcome"
    solved = client.post(
        f"/api/v1/cases/{case_id}/status",
        headers=writer,
        json={"status": "solved", "outcome": "remote_fix", "notes": "Reset remotely."},
    )
    assert solved.status_code == 200
    assert (solved.json()["status"], solved.json()["outcome"]) == ("solved", "remote_fix")
    with db.session() as s:
        assert (
            s.scalar(
                select(func.count()).select_from(Interaction).where(Interaction.case_id == case_id)
            )
            == 2
        )
    history = client.get(f"/api/v1/cases/{case_id}/history", headers=writer)
    assert history.status_code == 200
    entries = history.json()
    assert entries[0]["action"] == "case.opened" and entries[0]["actor_kind"] == "token"
    assert entries[-1]["action"] == "case.status"
    assert entries[-1]["detail"]["outcome"] == "remote_fix"
    assert client.get("/api/v1/cases/999999/history", headers=writer).status_code == 404


def test_bad_input_is_refused_with_reasons(
    client: TestClient, db: Database, desk: Desk, writer: dict[str, str]
) -> None:
    bad = client.post(
        "/api/v1/cases",
        headers=writer,
        json={"channel": "fax", "subject": "", "priority": "asap", "surprise": 1},
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"body.channel", "body.subject", "body.priority", "body.surprise"} <= fields
    nobody = client.post("/api/v1/cases", headers=writer, json={"channel": "email", "subject": "x"})
    assert nobody.status_code == 422
    assert nobody.json()["errors"][0]["field"] == "subscriber_id"
    listing = client.get("/api/v1/cases?channel=fax&status=lost", headers=writer)
    assert listing.status_code == 422
    assert {e["field"] for e in listing.json()["errors"]} == {"channel", "status"}
    assert client.get("/api/v1/cases?limit=1000", headers=writer).status_code == 422
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == len(desk.cases)


def signed_session(settings: Settings, account_id: int) -> str:
    """A subscriber's session cookie, signed as Starlette's SessionMiddleware signs it (what
    the self-service portal's sign-in sets)."""
    data = {"kind": "subscriber", "uid": account_id, "csrf": "t"}
    payload = base64.b64encode(json.dumps(data).encode())
    return TimestampSigner(settings.effective_secret_key()).sign(payload).decode()


def test_who_may_read_and_write(
    client: TestClient,
    db: Database,
    clock: ManualClock,
    settings: Settings,
    desk: Desk,
    fleet: Fleet,
) -> None:
    case_url = f"/api/v1/cases/{desk.cases['wifi']}"
    assert client.get("/api/v1/cases").status_code == 401
    # Technicians work orders, not cases.
    tech = token(db, clock, desk.technician, "read", "cases:write")
    assert client.get("/api/v1/cases", headers=tech).status_code == 403
    assert client.get(case_url, headers=tech).status_code == 403
    # A read-only token cannot write.
    reader = token(db, clock, desk.agent, "read")
    refused = client.post(
        f"{case_url}/interactions", headers=reader, json={"channel": "email", "body": "hi"}
    )
    assert refused.status_code == 403 and "cases:write" in refused.json()["detail"]
    # A write-only token cannot read.
    writer = token(db, clock, desk.agent, "cases:write")
    assert client.get("/api/v1/cases", headers=writer).status_code == 403
    # A signed-in subscriber is not staff.
    with db.transaction() as s:
        identity.create_subscriber_account(
            s,
            subscriber_id=fleet.subscribers["ACC-1001"],
            email="alice.smith@example.org",
            password=PASSWORD,
            actor=TEST_ACTOR,
            now=clock.now(),
        )
    with db.session() as s:
        account = s.scalars(select(SubscriberAccount)).one()
    client.cookies.set("homeport_session", signed_session(settings, account.id))
    refused = client.get("/api/v1/cases")
    assert refused.status_code == 403 and "staff" in refused.json()["detail"]
    client.cookies.clear()
    # A browser session of an agent writes with its CSRF token only.
    csrf = login(client, "agent@example.net")
    body = {"channel": "phone", "direction": "outbound", "author_kind": "agent", "body": "Called"}
    assert client.post(f"{case_url}/interactions", json=body).status_code == 403
    ok = client.post(f"{case_url}/interactions", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
