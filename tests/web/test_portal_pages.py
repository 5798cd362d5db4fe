"""The subscriber portal's pages with the real app: home, my network, fix it myself (remote
actions and a guided flow recorded for the agent), contact and cases, preferences; every use is
an engagement event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from homeport.audit.actions import Actor
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.health.models import DeviceAction, Outage, OutageMember
from homeport.selfservice.models import EngagementEvent
from homeport.subscribers.models import Subscriber
from homeport.support import actions as support_actions
from homeport.support.models import LIVE_STATUSES, Case, CaseTag, GuidedStep, Interaction
from tests.conftest import csrf_from
from tests.selfservice.portal import People, make_account, portal_login, setup_portal

TESTS = Actor("system", None, "tests")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No auto-remediation: the subscriber's own fix is what changes the channel here."""
    health = settings.health.model_copy(update={"auto_remediation": False})
    return settings.model_copy(update={"health": health})


@pytest.fixture
def people(db: Database, settings: Settings, clock: ManualClock) -> People:
    return setup_portal(db, settings, clock)


def _events(db: Database, subscriber_id: int) -> list[tuple[str, dict[str, object]]]:
    with db.session() as s:
        rows = s.scalars(
            select(EngagementEvent)
            .where(EngagementEvent.subscriber_id == subscriber_id)
            .order_by(EngagementEvent.id)
        )
        return [(r.kind, dict(r.detail)) for r in rows]


def test_sign_in_lands_on_home_with_score_wifi_problem_and_nav(
    client: TestClient, db: Database, people: People
) -> None:
    portal_login(client)
    home = client.get("/portal/")
    assert home.status_code == 200
    text = home.text
    assert "Hello, Alice" in text
    assert "Your Internet experience" in text
    assert "You&#39;re connected to the Internet." in text or "You're connected" in text
    assert "Wi-Fi is crowded" in text  # the congested 2.4 GHz channel, in plain words
    assert "has a weak Wi-Fi signal" in text
    assert 'href="/portal/fix/guide/wifi_coverage"' in text
    for link in (
        "/portal/network",
        "/portal/fix",
        "/portal/help",
        "/portal/contact",
        "/portal/settings",
    ):
        assert f'href="{link}"' in text
    assert 'rel="manifest" href="/portal/manifest.webmanifest"' in text
    kinds = [k for k, _ in _events(db, people.story.alice)]
    assert kinds == ["sign_in", "page_view", "page_view"]  # sign-in, settings (csrf), home
    assert _events(db, people.story.alice)[0][1] == {"method": "password"}


def test_default_after_sign_in_is_home_and_next_stays_on_the_portal(
    client: TestClient, people: People
) -> None:
    page = client.get("/portal/login?next=https://evil.example/")
    assert 'value="/portal/"' in page.text
    response = client.post(
        "/portal/login",
        data={
            "email": "alice@portal.example",
            "password": "correct horse battery",
            "csrf_token": csrf_from(page.text),
            "next": "//evil.example/portal/",
        },
    )
    assert response.status_code == 303 and response.headers["location"] == "/portal/"


def test_network_page_explains_struggling_devices(client: TestClient, people: People) -> None:
    portal_login(client)
    page = client.get("/portal/network")
    assert page.status_code == 200
    assert "Devices that struggle" in page.text
    assert "weak Wi-Fi signal" in page.text
    assert "crowded" in page.text  # the 2.4 GHz radio's state
    assert "Connected devices" in page.text


def test_outage_banner_with_estimated_fix_time(
    client: TestClient, db: Database, clock: ManualClock, people: People
) -> None:
    with db.transaction() as s:
        member = s.scalars(select(OutageMember).order_by(OutageMember.subscriber_id)).first()
        assert member is not None
        s.execute(
            update(Outage)
            .where(Outage.id == member.outage_id)
            .values(eta_at=clock.now() + timedelta(hours=2))
        )
        sid = member.subscriber_id
    make_account(db, clock, sid, "filler@portal.example")
    portal_login(client, "filler@portal.example")
    page = client.get("/portal/")
    assert "There is a problem in your area" in page.text
    assert "Expected to be fixed by 12:00" in page.text  # 10:00 UTC + 2 h, in London (UTC)
    # Alice is not in the outage: no banner.
    portal_login(client)
    assert "There is a problem in your area" not in client.get("/portal/").text


def test_speed_test_restart_and_band_move_use_the_action_queue(
    client: TestClient, db: Database, people: People
) -> None:
    token = portal_login(client)
    r = client.post("/portal/fix/speed-test", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/portal/fix#actions"
    r = client.post("/portal/fix/restart", data={"csrf_token": token})
    assert r.status_code == 303
    fix = client.get("/portal/fix")
    assert "Speed test" in fix.text and "Restart of your gateway" in fix.text
    with db.session() as s:
        rows = s.scalars(select(DeviceAction).order_by(DeviceAction.id)).all()
    mine = [a for a in rows if a.requested_by == f"subscriber:{people.story.alice}"]
    assert [a.kind for a in mine] == ["speed_test", "reboot"]
    # A second restart within the hour is refused by the queue's rate limit, with the reason.
    again = client.post("/portal/fix/restart", data={"csrf_token": token})
    assert again.status_code == 303
    assert "Not done" in client.get("/portal/fix").text
    kinds = [k for k, _ in _events(db, people.story.alice)]
    assert "speed_test" in kinds and "restart" in kinds
    # The status of one's own action, as JSON, never cached.
    status = client.get(f"/portal/actions/{mine[0].id}")
    assert status.status_code == 200
    assert status.json()["status"] == "queued"
    assert status.headers["cache-control"] == "no-store"


def test_band_move_only_for_a_steerable_device_of_ones_own(
    client: TestClient, db: Database, people: People
) -> None:
    token = portal_login(client)
    r = client.post("/portal/fix/band/move", data={"csrf_token": token, "mac": "00:00:00:00:00:01"})
    assert r.status_code == 404


def test_guided_wifi_flow_runs_on_live_facts_and_is_recorded(
    client: TestClient, db: Database, people: People
) -> None:
    token = portal_login(client)
    page = client.get("/portal/fix/guide/wifi_coverage")
    assert "Start the check" in page.text
    r = client.post("/portal/fix/guide/wifi_coverage/step", data={"csrf_token": token})
    assert r.status_code == 303
    page = client.get("/portal/fix/guide/wifi_coverage")
    assert "Your Internet line is stable" in page.text
    assert "Next check" in page.text
    client.post(
        "/portal/fix/guide/wifi_coverage/step",
        data={"csrf_token": token, "step": "check_channel"},
    )
    page = client.get("/portal/fix/guide/wifi_coverage")
    assert "Change the Wi-Fi channel" in page.text
    r = client.post(
        "/portal/fix/guide/wifi_coverage/action",
        data={"csrf_token": token, "step": "check_channel"},
    )
    assert r.status_code == 303
    page = client.get("/portal/fix/guide/wifi_coverage")
    assert "Wi-Fi channel change" in page.text and "Check again" in page.text
    with db.session() as s:
        action = s.scalars(select(DeviceAction).where(DeviceAction.kind == "set_channel")).one()
    assert action.requested_by == f"subscriber:{people.story.alice}"
    assert action.params["band"] == "2.4GHz"
    steps = [d for k, d in _events(db, people.story.alice) if k == "guided_step"]
    assert [(d["flow"], d["step"], d["result"]) for d in steps] == [
        ("wifi_coverage", "check_line", "line_stable"),
        ("wifi_coverage", "check_channel", "congested_channel"),
    ]
    assert steps[1]["proposal"] == {
        "kind": "action",
        "next": "check_coverage",
        "action": "set_channel",
    }
    kinds = [k for k, _ in _events(db, people.story.alice)]
    assert "channel_change" in kinds and "guided_action" in kinds


def test_guided_steps_go_on_the_subscribers_live_case_for_the_agent(
    client: TestClient, db: Database, clock: ManualClock, people: People
) -> None:
    alice = people.story.alice
    with db.transaction() as s:
        live = s.scalars(
            select(Case).where(Case.subscriber_id == alice, Case.status.in_(LIVE_STATUSES))
        ).all()
        for c in live:  # only the case opened here is live
            support_actions.set_status(
                s, c.id, "solved", now=clock.now(), actor=TESTS, outcome="remote_fix", notes="x"
            )
        case = support_actions.open_case(
            s,
            now=clock.now(),
            actor=TESTS,
            channel="phone",
            subject="Wi-Fi drops",
            subscriber_id=alice,
            category="wifi",
        )
        case_id = case.id
    token = portal_login(client)
    client.post("/portal/fix/guide/wifi_coverage/step", data={"csrf_token": token})
    with db.session() as s:
        step = s.scalars(select(GuidedStep).where(GuidedStep.case_id == case_id)).one()
        notes = s.scalars(
            select(Interaction).where(
                Interaction.case_id == case_id, Interaction.direction == "internal"
            )
        ).all()
    assert (step.flow, step.step, step.result) == ("wifi_coverage", "check_line", "line_stable")
    assert step.staff_user_id is None
    assert any("Guided step in the portal" in n.body for n in notes)
    steps = [d for k, d in _events(db, alice) if k == "guided_step"]
    assert steps[-1]["case_id"] == case_id
    # The subscriber never sees the internal note on their case.
    page = client.get(f"/portal/cases/{case_id}")
    assert page.status_code == 200
    assert "Wi-Fi drops" in page.text
    assert "Guided step in the portal" not in page.text


def test_contact_message_callback_and_reply(
    client: TestClient, db: Database, people: People
) -> None:
    token = portal_login(client)
    contact = client.get("/portal/contact")
    assert 'href="/portal/chat"' in contact.text
    r = client.post(
        "/portal/contact/message",
        data={"csrf_token": token, "subject": "Bill question", "body": "Why <b>two</b> bills?"},
    )
    assert r.status_code == 303
    case_path = r.headers["location"]
    case_id = int(case_path.rsplit("/", 1)[1])
    page = client.get(case_path)
    assert "Why &lt;b&gt;two&lt;/b&gt; bills?" in page.text  # escaped
    r = client.post(
        f"/portal/cases/{case_id}/reply", data={"csrf_token": token, "body": "Also, hello"}
    )
    assert r.status_code == 303
    r = client.post(
        "/portal/contact/callback",
        data={
            "csrf_token": token,
            "when": "2026-11-24T14:30",
            "phone": "+44 20 7946 0001",
            "note": "About my Wi-Fi",
        },
    )
    assert r.status_code == 303
    cb_id = int(r.headers["location"].rsplit("/", 1)[1])
    with db.session() as s:
        case = s.get_one(Case, case_id)
        assert (case.channel, case.subscriber_id) == ("app", people.story.alice)
        items = s.scalars(
            select(Interaction).where(Interaction.case_id == case_id).order_by(Interaction.id)
        ).all()
        assert [(i.channel, i.direction, i.author_kind) for i in items] == [
            ("app", "inbound", "subscriber"),
            ("app", "inbound", "subscriber"),
        ]
        cb = s.get_one(Case, cb_id)
        assert cb.category == "callback" and cb.channel == "app"
        assert s.scalars(select(CaseTag.tag).where(CaseTag.case_id == cb_id)).all() == ["callback"]
        assert "14:30" in cb.subject
    listing = client.get("/portal/cases")
    assert "Bill question" in listing.text and "Callback request" in listing.text
    kinds = [k for k, _ in _events(db, people.story.alice)]
    assert {"contact", "callback", "case_reply"} <= set(kinds)
    # A time in the past is refused with the reason.
    r = client.post(
        "/portal/contact/callback",
        data={"csrf_token": token, "when": "2026-11-20T14:30", "phone": "+44 1"},
    )
    assert "next 14 days" in client.get("/portal/contact").text


def test_preferences_are_the_subscribers_consents(
    client: TestClient, db: Database, people: People
) -> None:
    token = portal_login(client)
    r = client.post("/portal/settings", data={"csrf_token": token, "sms": "1"})
    assert r.status_code == 303
    with db.session() as s:
        sub = s.get_one(Subscriber, people.story.alice)
        assert (sub.consent_email, sub.consent_sms, sub.consent_marketing) == (
            False,
            True,
            False,
        )
        assert sub.consent_updated_at is not None
    page = client.get("/portal/settings")
    assert "Preferences saved." in page.text
    assert ("preferences", {"email": False, "sms": True, "marketing": False, "changed": True}) in (
        _events(db, people.story.alice)
    )


def test_every_page_renders_and_counts_a_view(
    client: TestClient, db: Database, people: People
) -> None:
    portal_login(client)
    for path, name in [
        ("/portal/", "home"),
        ("/portal/network", "network"),
        ("/portal/fix", "fix"),
        ("/portal/fix/guide/slow_speed", "guide:slow_speed"),
        ("/portal/contact", "contact"),
        ("/portal/cases", "cases"),
        ("/portal/settings", "settings"),
    ]:
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'aria-current="page"' in page.text, path
        assert ("page_view", {"page": name}) in _events(db, people.story.alice), path


def test_pwa_manifest_service_worker_and_icons(client: TestClient) -> None:
    manifest = client.get("/portal/manifest.webmanifest")
    assert manifest.status_code == 200
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    data = manifest.json()
    assert data["scope"] == "/portal/" and data["start_url"] == "/portal/"
    for icon in data["icons"]:
        svg = client.get(icon["src"])
        assert svg.status_code == 200 and svg.text.lstrip().startswith("<svg")
    sw = client.get("/portal/sw.js")
    assert sw.status_code == 200 and "javascript" in sw.headers["content-type"]
    # The shell only: the worker never stores pages or answers with account data.
    assert 'caches.match("/portal/offline")' in sw.text
    assert "/portal/actions" not in sw.text
    offline = client.get("/portal/offline")
    assert offline.status_code == 200 and "You're offline" in offline.text.replace("&#39;", "'")


def test_the_tab_bar_marks_the_help_and_chat_pages(client: TestClient, people: People) -> None:
    portal_login(client)
    for path, tab in [("/portal/help", "Help"), ("/portal/chat", "Contact")]:
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'aria-current="page"><span class="ico" aria-hidden="true">' in page.text
        current = page.text.split('aria-current="page">', 1)[1].split("</a>", 1)[0]
        assert current.endswith(tab), (path, current)
