"""The CTI webhook: HMAC-signed call events (good, bad, replayed), the call's lifecycle with its
handle time, retries that change nothing, and the screen pop on the agent's queue socket."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select

from homeport.adapters.cti.api import sign
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.support.models import Case, Interaction
from tests.adapters.channels import SESSION_COOKIE, count, setup_people, staff_cookie
from tests.factories import Fleet

SECRET = "cti-test-secret-0123456789"
ALICE_CALLER = "02079460001"  # Alice's +44 20 7946 0001 as the PBX shows it


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"cti_secret": SECRET, "cti_extensions": {"201": "agent@example.net"}}
    )


@pytest.fixture
def people(db: Database, clock: ManualClock) -> tuple[Fleet, int]:
    fleet, _account, agent_id = setup_people(db, clock)
    return fleet, agent_id


def post(
    client: TestClient,
    at: datetime,
    payload: dict[str, Any],
    *,
    secret: str = SECRET,
    timestamp: datetime | None = None,
) -> Response:
    body = json.dumps(payload).encode()
    ts = str(int((timestamp or at).timestamp()))
    return client.post(
        "/api/v1/cti/events",
        content=body,
        headers={
            "content-type": "application/json",
            "x-homeport-timestamp": ts,
            "x-homeport-signature": sign(secret, ts, body),
        },
    )


def event(kind: str, at: datetime, **extra: Any) -> dict[str, Any]:
    return {"event": kind, "call_id": "call-1", "at": at.isoformat(), **extra}


def test_signature_good_bad_and_replayed(
    client: TestClient, clock: ManualClock, people: tuple[Fleet, int]
) -> None:
    now = clock.now()
    start = event("call.started", now, caller=ALICE_CALLER)
    assert post(client, now, start, secret="wrong-secret").status_code == 403
    stale = now - timedelta(seconds=301)
    assert post(client, now, start, timestamp=stale).status_code == 403
    future = now + timedelta(seconds=301)
    assert post(client, now, start, timestamp=future).status_code == 403
    unsigned = client.post("/api/v1/cti/events", json=start)
    assert unsigned.status_code == 403
    # A body changed after signing no longer matches.
    ts = str(int(now.timestamp()))
    forged = client.post(
        "/api/v1/cti/events",
        content=json.dumps({**start, "caller": "0999"}).encode(),
        headers={
            "x-homeport-timestamp": ts,
            "x-homeport-signature": sign(SECRET, ts, json.dumps(start).encode()),
        },
    )
    assert forged.status_code == 403
    ok = post(client, now, start)
    assert ok.status_code == 200, ok.text
    # A replay inside the window is harmless: the same call, nothing new.
    again = post(client, now, start)
    assert again.json() == {**ok.json(), "duplicate": True}


def test_the_webhook_is_refused_until_a_secret_is_set(app: FastAPI, client: TestClient) -> None:
    app.state.settings = app.state.settings.model_copy(update={"cti_secret": ""})
    now = datetime.now(UTC)
    response = post(client, now, event("call.started", now), secret="")
    assert response.status_code == 503


def test_call_lifecycle_with_handle_time_and_screen_pop(
    client: TestClient, db: Database, clock: ManualClock, people: tuple[Fleet, int]
) -> None:
    fleet, agent_id = people
    alice = fleet.subscribers["ACC-1001"]
    t0 = clock.now()
    client.cookies.set(SESSION_COOKIE, staff_cookie(client))
    with client.websocket_connect(
        "/ws/agent/queue", headers={"origin": "http://testserver"}
    ) as queue:
        assert queue.receive_json()["type"] == "hello"
        started = post(client, t0, event("call.started", t0, caller=ALICE_CALLER, extension="201"))
        assert started.status_code == 200, started.text
        body = started.json()
        assert (body["subscriber_id"], body["state"], body["duplicate"]) == (
            alice,
            "ringing",
            False,
        )
        pop = queue.receive_json()
        assert pop["type"] == "screen_pop" and pop["event"] == "call.started"
        assert (pop["case_id"], pop["subscriber_id"], pop["agent_id"]) == (
            body["case_id"],
            alice,
            agent_id,
        )
        assert (pop["subscriber_name"], pop["account_number"]) == ("Alice Smith", "ACC-1001")

        t1 = t0 + timedelta(seconds=12)
        clock.advance(t1 - t0)
        answered = post(client, t1, event("call.answered", t1, staff_id=agent_id))
        assert answered.json()["state"] == "answered"
        assert queue.receive_json()["event"] == "call.answered"

    t2 = t1 + timedelta(seconds=185)
    clock.advance(t2 - t1)
    ended = post(client, t2, event("call.ended", t2))
    assert ended.json()["state"] == "ended" and ended.json()["duplicate"] is False
    # Retries of every event change nothing.
    for kind, at in (("call.ended", t2), ("call.answered", t1), ("call.started", t0)):
        retry = post(client, t2, event(kind, at, caller=ALICE_CALLER))
        assert retry.status_code == 200 and retry.json()["duplicate"] is True
    with db.session() as s:
        (call,) = s.scalars(select(Interaction).where(Interaction.channel == "phone")).all()
        assert (call.external_id, call.direction, call.author_kind) == (
            "call-1",
            "inbound",
            "subscriber",
        )
        assert (call.started_at, call.ended_at, call.handle_time_s) == (t0, t2, 185)
        assert call.meta["call"]["agent_id"] == agent_id
        case = s.get_one(Case, call.case_id)
        assert (case.channel, case.subscriber_id, case.assignee_id) == ("phone", alice, agent_id)
    assert count(db, Interaction) == 1


def test_a_call_joins_the_callers_live_case_and_unknown_numbers_open_their_own(
    client: TestClient, db: Database, clock: ManualClock, people: tuple[Fleet, int]
) -> None:
    now = clock.now()
    first = post(client, now, event("call.started", now, caller=ALICE_CALLER)).json()
    later = now + timedelta(hours=2)
    clock.advance(later - now)
    second = post(
        client, later, event("call.started", later, caller=ALICE_CALLER, call_id="call-2")
    ).json()
    assert second["case_id"] == first["case_id"]
    stranger = post(
        client, later, event("call.started", later, caller="+1 555 0100", call_id="call-3")
    ).json()
    assert stranger["subscriber_id"] is None and stranger["case_id"] != first["case_id"]
    with db.session() as s:
        assert s.get_one(Case, stranger["case_id"]).contact == "+1 555 0100"


def test_a_missed_call_and_an_end_without_a_start(
    client: TestClient, db: Database, clock: ManualClock, people: tuple[Fleet, int]
) -> None:
    t0 = clock.now()
    post(client, t0, event("call.started", t0, caller=ALICE_CALLER))
    t1 = t0 + timedelta(seconds=40)
    clock.advance(t1 - t0)
    assert post(client, t1, event("call.ended", t1)).json()["state"] == "ended"
    # The PBX lost the start of another call: the end alone records it.
    lone = post(
        client,
        t1,
        event(
            "call.ended",
            t1,
            call_id="call-9",
            caller=ALICE_CALLER,
            started_at=(t0 + timedelta(seconds=5)).isoformat(),
        ),
    )
    assert lone.status_code == 200, lone.text
    with db.session() as s:
        missed = s.scalars(select(Interaction).where(Interaction.external_id == "call-1")).one()
        assert (missed.handle_time_s, missed.meta["call"]["missed"]) == (0, True)
        other = s.scalars(select(Interaction).where(Interaction.external_id == "call-9")).one()
        assert (other.started_at, other.ended_at) == (t0 + timedelta(seconds=5), t1)


def test_a_bad_event_is_refused_without_writing(
    client: TestClient, db: Database, clock: ManualClock, people: tuple[Fleet, int]
) -> None:
    now = clock.now()
    assert post(client, now, event("call.exploded", now)).status_code == 422
    assert post(client, now, {"event": "call.started"}).status_code == 422
    assert count(db, Interaction) == 0


def test_a_signed_event_over_a_real_socket(
    app: FastAPI, db: Database, clock: ManualClock, people: tuple[Fleet, int]
) -> None:
    import urllib.error
    import urllib.request

    from tests.adapters.channels import running_server

    now = clock.now()
    body = json.dumps(event("call.started", now, caller=ALICE_CALLER)).encode()
    ts = str(int(now.timestamp()))
    with running_server(app) as port:

        def send(signature: str) -> tuple[int, dict[str, Any]]:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/cti/events",
                data=body,
                method="POST",
                headers={
                    "content-type": "application/json",
                    "x-homeport-timestamp": ts,
                    "x-homeport-signature": signature,
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())

        assert send("sha256=" + "0" * 64)[0] == 403
        status, answer = send(sign(SECRET, ts, body))
    assert status == 200 and answer["state"] == "ringing"
    with db.session() as s:  # answered 200 only once committed
        assert s.get_one(Interaction, answer["interaction_id"]).external_id == "call-1"
