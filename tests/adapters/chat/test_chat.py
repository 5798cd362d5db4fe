"""The chat channel over real WebSockets: a subscriber and an agent talk through a running
uvicorn server (and Starlette's ASGI test client), every message committed before its ack."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from homeport.adapters.chat import conversation
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.support import service
from homeport.support.models import Case, Interaction, OutboundMessage
from tests.adapters.channels import (
    SESSION_COOKIE,
    count,
    portal_cookie,
    running_server,
    setup_people,
    staff_cookie,
    wait_for,
)

ORIGIN = "http://testserver"


def receive(ws: ClientConnection, kind: str | None = None) -> dict[str, Any]:
    """The next frame (of type ``kind``, skipping others), within 5 s."""
    while True:
        data: dict[str, Any] = json.loads(ws.recv(timeout=5))
        if kind is None or data["type"] == kind or data["type"] == "error":
            return data


def open_ws(port: int, path: str, cookie: str, origin: str | None = None) -> ClientConnection:
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    headers["Origin"] = origin or f"http://127.0.0.1:{port}"
    return connect(f"ws://127.0.0.1:{port}{path}", additional_headers=headers, open_timeout=5)


def test_subscriber_and_agent_chat_over_a_real_server(
    app: FastAPI, client: TestClient, db: Database, clock: ManualClock
) -> None:
    fleet, _account, agent_id = setup_people(db, clock)
    alice = fleet.subscribers["ACC-1001"]
    sub_cookie, agent_cookie = portal_cookie(client), staff_cookie(client)
    with (
        running_server(app) as port,
        open_ws(port, "/ws/chat", sub_cookie) as sub,
        open_ws(port, "/ws/agent/queue", agent_cookie) as queue,
    ):
        history = receive(sub, "history")
        assert history["case_id"] is None and history["messages"] == []
        assert receive(queue, "hello")["staff_id"] == agent_id

        sub.send(json.dumps({"type": "message", "client_id": "m1", "body": "No internet"}))
        ack = receive(sub, "ack")
        # The ack comes after the commit: another connection already sees the row.
        with db.session() as s:
            stored = s.get_one(Interaction, ack["message"]["id"])
            assert (stored.channel, stored.direction, stored.body) == (
                "live_chat",
                "inbound",
                "No internet",
            )
            case = s.get_one(Case, stored.case_id)
            assert (case.channel, case.subscriber_id, case.origin) == (
                "live_chat",
                alice,
                "reactive",
            )
        conv = ack["message"]["conversation"]
        assert stored.meta == {"conversation": conv}
        waiting = receive(queue, "chat_waiting")
        assert (waiting["case_id"], waiting["subscriber_id"]) == (case.id, alice)

        with open_ws(port, f"/ws/agent/cases/{case.id}", agent_cookie) as desk:
            seen = receive(desk, "history")
            assert [m["body"] for m in seen["messages"]] == ["No internet"]
            assert seen["chat"] is True and seen["mode"] == "live"
            desk.send(json.dumps({"type": "message", "client_id": "a1", "body": "Hello!"}))
            assert receive(desk, "ack")["message"]["author"] == "agent"
            heard = receive(sub, "message")["message"]
            assert (heard["author"], heard["body"], heard["author_name"]) == (
                "agent",
                "Hello!",
                "Agent",
            )
            sub.send(json.dumps({"type": "message", "client_id": "m2", "body": "Thanks"}))
            assert receive(sub, "ack")["message"]["body"] == "Thanks"
            assert receive(desk, "message")["message"]["body"] == "Thanks"
            # An internal note reaches the agent's socket, never the subscriber's.
            desk.send(json.dumps({"type": "note", "client_id": "n1", "body": "check ONT"}))
            assert receive(desk, "ack")["message"]["internal"] is True
    with db.session() as s:
        items = service.interactions(s, case.id)
        assert [i.body for i in items] == ["No internet", "Hello!", "Thanks", "check ONT"]
        assert service.contacts(items) == 1  # one conversation is one contact
        assert s.get_one(Case, case.id).first_response_at == clock.now()


def test_reconnect_shows_history_and_a_resend_is_not_stored_twice(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    setup_people(db, clock)
    client.cookies.set(SESSION_COOKIE, portal_cookie(client))
    headers = {"origin": ORIGIN}
    with client.websocket_connect("/ws/chat", headers=headers) as ws:
        assert ws.receive_json()["type"] == "history"
        ws.send_json({"type": "message", "client_id": "m1", "body": "Router lights red"})
        first = ws.receive_json()
        assert first["type"] == "ack" and first["duplicate"] is False
    with client.websocket_connect("/ws/chat", headers=headers) as ws:
        history = ws.receive_json()
        assert history["case_id"] == first["message"]["case_id"]
        assert [m["body"] for m in history["messages"]] == ["Router lights red"]
        # The widget resends a message whose ack it never saw: recognised, not stored again.
        ws.send_json({"type": "message", "client_id": "m1", "body": "Router lights red"})
        again = ws.receive_json()
        assert again["duplicate"] is True and again["message"]["id"] == first["message"]["id"]
        ws.send_json({"type": "message", "client_id": "m2", "body": "  "})
        error = ws.receive_json()
        assert error["type"] == "error" and error["client_id"] == "m2"
    assert count(db, Interaction) == 1


@pytest.mark.parametrize(
    ("path", "who", "origin", "code"),
    [
        ("/ws/chat", "subscriber", "http://evil.example", 4403),
        ("/ws/chat", "subscriber", None, 4403),
        ("/ws/chat", "nobody", ORIGIN, 4401),
        ("/ws/chat", "staff", ORIGIN, 4403),
        ("/ws/agent/queue", "subscriber", ORIGIN, 4403),
        ("/ws/agent/cases/1", "subscriber", ORIGIN, 4403),
        ("/ws/agent/cases/999", "staff", ORIGIN, 4404),
    ],
)
def test_sockets_refuse_other_origins_and_the_wrong_people(
    client: TestClient,
    db: Database,
    clock: ManualClock,
    path: str,
    who: str,
    origin: str | None,
    code: int,
) -> None:
    setup_people(db, clock)
    cookies = {"subscriber": portal_cookie(client), "staff": staff_cookie(client), "nobody": ""}
    if cookies[who]:
        client.cookies.set(SESSION_COOKIE, cookies[who])
    headers = {"origin": origin} if origin else {}
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(path, headers=headers),
    ):
        pass
    assert refused.value.code == code


def test_a_cross_site_socket_is_refused_by_the_real_server(
    app: FastAPI, client: TestClient, db: Database, clock: ManualClock
) -> None:
    setup_people(db, clock)
    cookie = portal_cookie(client)
    with running_server(app) as port:
        with pytest.raises(InvalidStatus) as refused:
            open_ws(port, "/ws/chat", cookie, origin="https://attacker.example")
        assert refused.value.response.status_code == 403
        with open_ws(port, "/ws/chat", cookie) as ok:  # the same cookie from the site itself
            assert receive(ok)["type"] == "history"


def test_unanswered_chat_turns_async_and_agent_replies_go_by_email(
    app: FastAPI, client: TestClient, db: Database, clock: ManualClock
) -> None:
    setup_people(db, clock)
    timeout = app.state.settings.chat_answer_timeout_s
    agent = staff_cookie(client)
    client.cookies.set(SESSION_COOKIE, portal_cookie(client))
    with client.websocket_connect("/ws/chat", headers={"origin": ORIGIN}) as sub:
        sub.receive_json()
        sub.send_json({"type": "message", "client_id": "m1", "body": "Wi-Fi drops"})
        case_id = sub.receive_json()["message"]["case_id"]
        clock.advance(timedelta(seconds=timeout - 1))
        assert app.state.chat.sweep_now() == []  # not yet
        clock.advance(timedelta(seconds=2))
        assert app.state.chat.sweep_now() == [case_id]
        assert app.state.chat.sweep_now() == []  # once
        notice = sub.receive_json()["message"]
        assert (notice["author"], notice["event"], notice["channel"]) == (
            "system",
            "async_fallback",
            "async_chat",
        )
        client.cookies.set(SESSION_COOKIE, agent)
        with client.websocket_connect(
            f"/ws/agent/cases/{case_id}", headers={"origin": ORIGIN}
        ) as desk:
            assert desk.receive_json()["mode"] == "async"
            desk.send_json({"type": "message", "client_id": "a1", "body": "Try channel 36"})
            reply = desk.receive_json()["message"]
            assert reply["channel"] == "async_chat"
        assert sub.receive_json()["message"]["body"] == "Try channel 36"
    with db.session() as s:
        (mail,) = s.scalars(select(OutboundMessage)).all()
        assert (mail.channel, mail.recipient, mail.status) == (
            "email",
            "alice.smith@example.org",
            "queued",
        )
        assert (mail.case_id, mail.interaction_id) == (case_id, reply["id"])
        assert "Try channel 36" in mail.body
        assert "http://127.0.0.1:8000/portal/chat" in mail.body
        assert s.get_one(Case, case_id).channel == "live_chat"  # the channel of origin stays


def test_a_subscriber_who_leaves_unanswered_is_answered_asynchronously(
    app: FastAPI, client: TestClient, db: Database, clock: ManualClock
) -> None:
    setup_people(db, clock)
    client.cookies.set(SESSION_COOKIE, portal_cookie(client))
    with client.websocket_connect("/ws/chat", headers={"origin": ORIGIN}) as sub:
        sub.receive_json()
        app.state.chat.leave_grace_s = 0
        sub.send_json({"type": "message", "client_id": "m1", "body": "Slow speeds"})
        case_id = sub.receive_json()["message"]["case_id"]

    def turned_async() -> bool:
        with db.session() as s:
            return conversation.is_async(s, case_id)

    wait_for(turned_async)
    with client.websocket_connect("/ws/chat", headers={"origin": ORIGIN}) as sub:
        history = sub.receive_json()
        assert history["mode"] == "async" and history["case_id"] == case_id
        assert [m["author"] for m in history["messages"]] == ["subscriber", "system"]
        sub.send_json({"type": "message", "client_id": "m2", "body": "Still slow"})
        assert sub.receive_json()["message"]["channel"] == "async_chat"


def test_an_answered_chat_does_not_turn_async(
    app: FastAPI, client: TestClient, db: Database, clock: ManualClock
) -> None:
    _fleet, _account, agent_id = setup_people(db, clock)
    client.cookies.set(SESSION_COOKIE, portal_cookie(client))
    with client.websocket_connect("/ws/chat", headers={"origin": ORIGIN}) as sub:
        sub.receive_json()
        sub.send_json({"type": "message", "client_id": "m1", "body": "Hello"})
        case_id = sub.receive_json()["message"]["case_id"]
    with db.transaction() as s:
        conversation.agent_says(
            s,
            case_id=case_id,
            staff_id=agent_id,
            body="Hi Alice",
            client_id="a1",
            now=clock.now(),
            public_url="http://x",
        )
    clock.advance(timedelta(hours=1))
    assert app.state.chat.sweep_now() == []
    assert count(db, OutboundMessage) == 0


def test_a_flood_of_messages_is_refused_beyond_the_rate_limit(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    from homeport.adapters.chat.api import RATE_LIMIT

    setup_people(db, clock)
    client.cookies.set(SESSION_COOKIE, portal_cookie(client))
    with client.websocket_connect("/ws/chat", headers={"origin": ORIGIN}) as ws:
        ws.receive_json()
        for n in range(RATE_LIMIT + 3):
            ws.send_json({"type": "message", "client_id": f"m{n}", "body": f"spam {n}"})
        frames = [ws.receive_json() for _ in range(RATE_LIMIT + 3)]
    assert [f["type"] for f in frames].count("ack") == RATE_LIMIT
    refused = [f for f in frames if f["type"] == "error"]
    assert len(refused) == 3 and "too many messages" in refused[0]["error"]
    assert count(db, Interaction) == RATE_LIMIT


def test_a_socket_closes_when_its_account_is_deactivated(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    from homeport.identity.models import SubscriberAccount

    _fleet, account_id, _agent = setup_people(db, clock)
    client.cookies.set(SESSION_COOKIE, portal_cookie(client))
    with client.websocket_connect("/ws/chat", headers={"origin": ORIGIN}) as ws:
        ws.receive_json()
        ws.send_json({"type": "message", "client_id": "m1", "body": "still there?"})
        assert ws.receive_json()["type"] == "ack"
        with db.transaction() as s:
            s.get_one(SubscriberAccount, account_id).is_active = False
        ws.send_json({"type": "message", "client_id": "m2", "body": "hello?"})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401
    assert count(db, Interaction) == 1  # the message after deactivation was not stored
