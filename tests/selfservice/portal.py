"""Shared setup of the portal tests: the health story's fleet (tests/web/health_data.py) with
portal accounts for Alice (a Wi-Fi problem) and Bob (healthy), and signing in through the real
form."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.identity import actions as identity_actions
from tests.conftest import PASSWORD, TEST_ACTOR, csrf_from
from tests.web.health_data import HealthStory, build_story

ALICE_EMAIL = "alice@portal.example"
BOB_EMAIL = "bob@portal.example"


@dataclass
class People:
    story: HealthStory
    alice_account: int
    bob_account: int


def make_account(db: Database, clock: ManualClock, subscriber_id: int, email: str) -> int:
    with db.transaction() as s:
        account = identity_actions.create_subscriber_account(
            s,
            subscriber_id=subscriber_id,
            email=email,
            password=PASSWORD,
            actor=TEST_ACTOR,
            now=clock.now(),
        )
        return account.id


def setup_portal(db: Database, settings: Settings, clock: ManualClock) -> People:
    story = build_story(db, settings)
    return People(
        story,
        make_account(db, clock, story.alice, ALICE_EMAIL),
        make_account(db, clock, story.bob, BOB_EMAIL),
    )


def portal_login(client: TestClient, email: str = ALICE_EMAIL) -> str:
    """Sign in through the portal's form; returns the session's CSRF token."""
    client.cookies.clear()
    page = client.get("/portal/login")
    response = client.post(
        "/portal/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/portal/settings").text)
