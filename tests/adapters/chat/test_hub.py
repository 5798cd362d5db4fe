"""Chat across two web processes through Redis pub/sub (the broker of several web processes),
and the rule that a socket only shows what its owner may see, whatever the hub says."""

from __future__ import annotations

import json
import os
import socket

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from homeport.adapters.chat.runtime import subscriber_topic
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.support import actions
from homeport.support.models import Interaction
from tests.adapters.channels import (
    SESSION_COOKIE,
    portal_cookie,
    running_server,
    setup_people,
    staff_cookie,
)
from tests.adapters.chat.test_chat import ORIGIN, open_ws, receive
from tests.conftest import TEST_ACTOR

# Redis pub/sub is one namespace for the whole server: two test workers' hubs would hear each
# other's "agents" messages, so every Redis test runs in the same worker (pytest-xdist group).
pytestmark = pytest.mark.xdist_group("redis")

REDIS_URL = os.environ.get("HOMEPORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_REDIS = os.environ.get("HOMEPORT_REQUIRE_REDIS") == "1"


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url() -> str:
    if not redis_reachable():
        if REQUIRE_REDIS:
            pytest.fail("no Redis on 127.0.0.1:6379 and HOMEPORT_REQUIRE_REDIS=1")
        pytest.skip("no Redis on 127.0.0.1:6379")
    return REDIS_URL


def test_a_chat_crosses_two_web_processes_through_redis(
    settings: Settings,
    db: Database,
    database_url: str,
    clock: ManualClock,
    client: TestClient,
    redis_url: str,
) -> None:
    from homeport.web.app import create_app

    setup_people(db, clock)
    shared = settings.model_copy(update={"chat_broker_url": redis_url})
    # Two applications, each with its own database connections and hub, like two processes.
    first = create_app(shared, db=Database(database_url), clock=clock)
    second = create_app(shared, db=Database(database_url), clock=clock)
    sub_cookie, agent_cookie = portal_cookie(client), staff_cookie(client)
    try:
        with (
            running_server(first) as port_a,
            running_server(second) as port_b,
            open_ws(port_a, "/ws/chat", sub_cookie) as sub,
            open_ws(port_b, "/ws/agent/queue", agent_cookie) as queue,
        ):
            receive(sub, "history")
            receive(queue, "hello")
            sub.send(json.dumps({"type": "message", "client_id": "m1", "body": "Hello?"}))
            case_id = receive(sub, "ack")["message"]["case_id"]
            assert receive(queue, "chat_waiting")["case_id"] == case_id  # from A, heard on B
            with open_ws(port_b, f"/ws/agent/cases/{case_id}", agent_cookie) as desk:
                receive(desk, "history")
                desk.send(json.dumps({"type": "message", "client_id": "a1", "body": "Hi!"}))
                receive(desk, "ack")
                assert receive(sub, "message")["message"]["body"] == "Hi!"  # from B, on A
                sub.send(json.dumps({"type": "message", "client_id": "m2", "body": "Great"}))
                receive(sub, "ack")
                assert receive(desk, "message")["message"]["body"] == "Great"
    finally:
        for app in (first, second):
            app.state.db.dispose()


def test_a_socket_ignores_notices_about_what_its_owner_may_not_see(
    app: FastAPI, client: TestClient, db: Database, clock: ManualClock
) -> None:
    fleet, _account, _agent = setup_people(db, clock)
    with db.transaction() as s:
        bob_case = actions.open_case(
            s,
            now=clock.now(),
            actor=TEST_ACTOR,
            channel="live_chat",
            subject="Bob's chat",
            subscriber_id=fleet.subscribers["ACC-1002"],
            first=actions.NewInteraction(
                channel="live_chat", direction="inbound", author_kind="subscriber", body="secret"
            ),
        )
        bob_case_id = bob_case.id
    with db.session() as s:
        bob_message = s.scalars(
            select(Interaction.id).where(Interaction.case_id == bob_case_id)
        ).one()
    client.cookies.set(SESSION_COOKIE, portal_cookie(client))
    alice = fleet.subscribers["ACC-1001"]
    with client.websocket_connect("/ws/chat", headers={"origin": ORIGIN}) as ws:
        ws.receive_json()
        # A confused (or foreign) notice on Alice's topic names Bob's message.
        app.state.chat.hub.publish(
            subscriber_topic(alice),
            {"type": "interaction", "case_id": bob_case_id, "interaction_id": bob_message},
        )
        ws.send_json({"type": "message", "client_id": "m1", "body": "Mine"})
        frame = ws.receive_json()
        assert frame["type"] == "ack" and frame["message"]["body"] == "Mine"
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}  # nothing about Bob came in between
