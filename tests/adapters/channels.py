"""Shared setup of the chat, CTI and SMS channel tests: a small fleet, a subscriber who can sign
in to the portal, an agent, and a real uvicorn server on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.identity import actions as identity_actions
from homeport.support.models import Interaction, OutboundMessage
from tests.conftest import PASSWORD, TEST_ACTOR, csrf_from, make_staff
from tests.factories import Fleet, build_fleet

SESSION_COOKIE = "homeport_session"
ALICE = "ACC-1001"  # Alice Smith, alice.smith@example.org, +44 20 7946 0001, SMS consent on
ALICE_PORTAL = "alice@portal.example"


def setup_people(db: Database, clock: ManualClock) -> tuple[Fleet, int, int]:
    """The standard fleet, Alice's portal account and an agent. Returns (fleet, account id,
    agent id)."""
    fleet = build_fleet(db, clock.now())
    with db.transaction() as s:
        account = identity_actions.create_subscriber_account(
            s,
            subscriber_id=fleet.subscribers[ALICE],
            email=ALICE_PORTAL,
            password=PASSWORD,
            actor=TEST_ACTOR,
            now=clock.now(),
        )
        account_id = account.id
    agent = make_staff(db, clock, email="agent@example.net", role="agent")
    return fleet, account_id, agent.id


def portal_cookie(client: TestClient, email: str = ALICE_PORTAL) -> str:
    """Sign in through the portal's real form; returns the session cookie."""
    client.cookies.clear()
    page = client.get("/portal/login")
    response = client.post(
        "/portal/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/portal/")
    cookie = client.cookies[SESSION_COOKIE]
    client.cookies.clear()
    return cookie


def staff_cookie(client: TestClient, email: str = "agent@example.net") -> str:
    client.cookies.clear()
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 303, response.text
    cookie = client.cookies[SESSION_COOKIE]
    client.cookies.clear()
    return cookie


def count(db: Database, model: type[Interaction] | type[OutboundMessage]) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


@contextmanager
def running_server(app: FastAPI) -> Iterator[int]:
    """Serve ``app`` with uvicorn (WebSockets by the ``websockets`` library) on a free loopback
    port; yields the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, ws="websockets-sansio", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def wait_for(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)
