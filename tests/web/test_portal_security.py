"""A subscriber can never read or act on another subscriber's data: cases, devices, remote
actions; every POST needs the CSRF token; staff sessions are not subscribers'."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from homeport.audit.actions import Actor
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.health import remote
from homeport.health import service as health_service
from homeport.health.models import DeviceAction
from homeport.selfservice.models import EngagementEvent
from homeport.support import actions as support_actions
from homeport.support.models import Case, Interaction
from tests.conftest import login, make_staff
from tests.selfservice.portal import People, portal_login, setup_portal

TESTS = Actor("system", None, "tests")


@pytest.fixture
def people(db: Database, settings: Settings, clock: ManualClock) -> People:
    return setup_portal(db, settings, clock)


@pytest.fixture
def bobs(db: Database, clock: ManualClock, people: People) -> dict[str, int]:
    """Bob's case (with an internal note) and a remote action on Bob's gateway."""
    bob = people.story.bob
    with db.transaction() as s:
        case = support_actions.open_case(
            s,
            now=clock.now(),
            actor=TESTS,
            channel="email",
            subject="Bob's private matter",
            subscriber_id=bob,
            first=support_actions.NewInteraction(
                channel="email", direction="inbound", author_kind="subscriber", body="secret"
            ),
        )
        support_actions.add_note(
            s, case.id, "internal only", now=clock.now(), actor=TESTS, author_id=None
        )
        home_id, device = health_service.subscriber_gateway(s, bob)
        action = remote.queue_action(
            s,
            home_id=home_id,
            device_id=device,
            kind="speed_test",
            params={},
            requested_by="system",
            finding_id=None,
            now=clock.now(),
        )
        return {"case": case.id, "action": action.id}


def test_another_subscribers_case_is_not_found(
    client: TestClient, db: Database, people: People, bobs: dict[str, int]
) -> None:
    token = portal_login(client)  # Alice
    case_id = bobs["case"]
    page = client.get(f"/portal/cases/{case_id}", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert "Bob" not in page.text and "secret" not in page.text
    reply = client.post(f"/portal/cases/{case_id}/reply", data={"csrf_token": token, "body": "hi"})
    assert reply.status_code == 404
    with db.session() as s:
        bodies = s.scalars(select(Interaction.body).where(Interaction.case_id == case_id)).all()
    assert "hi" not in bodies  # nothing was added to Bob's case
    assert "Bob&#39;s private matter" not in client.get("/portal/cases").text
    assert "private matter" not in client.get("/portal/").text
    # Unknown and out-of-range ids are the same 404.
    assert client.get("/portal/cases/999999").status_code == 404
    assert client.get("/portal/cases/99999999999").status_code == 404


def test_reply_on_another_subscribers_case_is_a_404(
    client: TestClient, people: People, bobs: dict[str, int]
) -> None:
    token = portal_login(client)
    response = client.post(
        f"/portal/cases/{bobs['case']}/reply",
        data={"csrf_token": token, "body": "hi"},
        headers={"accept": "text/html"},
    )
    assert response.status_code == 404


def test_another_subscribers_action_is_not_found(
    client: TestClient, people: People, bobs: dict[str, int]
) -> None:
    portal_login(client)
    assert client.get(f"/portal/actions/{bobs['action']}").status_code == 404
    portal_login(client, "bob@portal.example")
    assert client.get(f"/portal/actions/{bobs['action']}").status_code == 200


def test_moving_another_homes_device_is_not_found(
    client: TestClient, db: Database, people: People
) -> None:
    with db.session() as s:
        bob_home = health_service.subscriber_home(s, people.story.bob)
        from homeport.network.models import ClientDevice

        bob_macs = s.scalars(select(ClientDevice.mac).where(ClientDevice.home_id == bob_home)).all()
        before = s.scalar(select(func.count()).select_from(DeviceAction))
    assert bob_macs
    token = portal_login(client)
    for mac in bob_macs:
        r = client.post(
            "/portal/fix/band/move",
            data={"csrf_token": token, "mac": mac},
            headers={"accept": "text/html"},
        )
        assert r.status_code == 404
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(DeviceAction)) == before


def test_internal_notes_never_reach_the_subscriber(
    client: TestClient, db: Database, clock: ManualClock, people: People
) -> None:
    with db.transaction() as s:
        case = support_actions.open_case(
            s,
            now=clock.now(),
            actor=TESTS,
            channel="phone",
            subject="Line check",
            subscriber_id=people.story.alice,
        )
        support_actions.add_note(
            s, case.id, "Customer sounded annoyed", now=clock.now(), actor=TESTS, author_id=None
        )
        case_id = case.id
    portal_login(client)
    page = client.get(f"/portal/cases/{case_id}")
    assert page.status_code == 200
    assert "Line check" in page.text and "annoyed" not in page.text


def test_every_portal_post_needs_the_csrf_token(
    client: TestClient, db: Database, people: People
) -> None:
    portal_login(client)
    with db.session() as s:
        cases_before = s.scalar(select(func.count()).select_from(Case))
        actions_before = s.scalar(select(func.count()).select_from(DeviceAction))
    for path, data in [
        ("/portal/fix/speed-test", {}),
        ("/portal/fix/restart", {}),
        ("/portal/fix/band/move", {"mac": "x"}),
        ("/portal/fix/guide/wifi_coverage/step", {}),
        ("/portal/fix/guide/wifi_coverage/action", {"step": "check_channel"}),
        ("/portal/contact/message", {"subject": "s", "body": "b"}),
        ("/portal/contact/callback", {"when": "2026-11-24T10:00", "phone": "1"}),
        ("/portal/settings", {"sms": "1"}),
        ("/portal/logout", {}),
        ("/portal/login/link", {"email": "alice@portal.example"}),
    ]:
        r = client.post(path, data={**data, "csrf_token": "wrong"})
        assert r.status_code == 403, path
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == cases_before
        assert s.scalar(select(func.count()).select_from(DeviceAction)) == actions_before


def test_a_staff_session_is_not_a_subscribers(
    client: TestClient, db: Database, clock: ManualClock, people: People
) -> None:
    make_staff(db, clock)
    login(client, "agent@example.net")
    assert client.get("/portal/", headers={"accept": "text/html"}).status_code == 403
    assert client.get("/portal/cases/1", headers={"accept": "text/html"}).status_code == 403


def test_anonymous_visitors_go_to_sign_in(client: TestClient, db: Database) -> None:
    for path in ("/portal/", "/portal/network", "/portal/fix", "/portal/cases/1"):
        r = client.get(path, headers={"accept": "text/html"})
        assert r.status_code == 303 and r.headers["location"].startswith("/portal/login?next=")
    assert client.get("/portal/actions/1").status_code == 401
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(EngagementEvent)) == 0
