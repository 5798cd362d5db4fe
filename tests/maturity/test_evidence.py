"""The maturity figures measured from hand-built data, written through the domains' own actions,
with the right answers worked out by hand (SQLite and, when configured, PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from homeport.audit.actions import Actor
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.maturity_settings import MaturitySettings
from homeport.health import remote
from homeport.journey import actions as journey_actions
from homeport.journey.models import EVENT_KINDS, Survey
from homeport.kpis import actions as kpi_actions
from homeport.maturity import actions, service
from homeport.maturity.evidence import measure
from homeport.selfservice.actions import record_engagement
from homeport.support import actions as support
from homeport.support import dispatch
from homeport.support.actions import NewInteraction
from tests.conftest import TEST_ACTOR, make_staff
from tests.factories import STANDARD, Fleet, build_fleet, filler

S = MaturitySettings(live_channel_min_contacts=2, min_cases=1, fcr_min_cases=1)


@pytest.fixture
def fleet(db: Database, clock: ManualClock) -> Fleet:
    # Active: ACC-1001, ACC-1002 and four fillers (six); the others are not active.
    return build_fleet(db, clock.now() - timedelta(days=40), STANDARD + filler(4))


def _contact(channel: str, at: datetime, body: str = "It's broken") -> NewInteraction:
    return NewInteraction(
        channel=channel,
        direction="inbound",
        author_kind="subscriber",
        body=body,
        subject="Help",
        address="x@example.org" if channel == "email" else "+44 20 7946 0001",
        started_at=at,
    )


def _case(
    db: Database, sub: int, at: datetime, *, channel: str = "phone", category: str = "wifi"
) -> int:
    with db.transaction() as session:
        case = support.open_case(
            session,
            now=at,
            actor=TEST_ACTOR,
            channel=channel,
            subject="Help",
            category=category,
            subscriber_id=sub,
            first=_contact(channel, at),
        )
        return case.id


def _solve(db: Database, case_id: int, outcome: str, at: datetime) -> None:
    with db.transaction() as session:
        support.set_status(session, case_id, "solved", now=at, actor=TEST_ACTOR, outcome=outcome)


def _measure(db: Database, now: datetime, s: MaturitySettings = S):  # type: ignore[no-untyped-def]
    with db.session() as session:
        return measure(session, s, since=now - timedelta(days=30), until=now)


def test_cases_diagnostics_remote_fix_and_fcr(
    db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    now = clock.now()
    alice, bob = fleet.subscribers["ACC-1001"], fleet.subscribers["ACC-1002"]
    agent = make_staff(db, clock)
    t = now - timedelta(days=10)
    diagnosed = _case(db, alice, t)
    with db.transaction() as session:  # a speed test by the agent while the case is open
        remote.queue_action(
            session,
            home_id=fleet.homes["ACC-1001"],
            device_id="GW-000101",
            kind="speed_test",
            params={},
            requested_by=f"staff:{agent.id}",
            finding_id=None,
            now=t + timedelta(minutes=5),
        )
    _solve(db, diagnosed, "remote_fix", t + timedelta(minutes=30))
    plain = _case(db, bob, t + timedelta(hours=1), category="slow_speed")
    with db.transaction() as session:  # the subscriber writes again: not first-contact resolved
        support.add_interaction(
            session, plain, _contact("phone", t + timedelta(hours=2)), now=t, actor=TEST_ACTOR
        )
    _solve(db, plain, "no_fault_found", t + timedelta(hours=3))
    vague = _case(db, bob, t + timedelta(days=1), category="general")
    _solve(db, vague, "self_service", t + timedelta(days=1, hours=1))
    _case(db, bob, t + timedelta(days=2), category="billing")  # not technical, still open
    old = _case(db, alice, now - timedelta(days=45))  # before the window
    _solve(db, old, "truck_roll", now - timedelta(days=44))

    f = _measure(db, now)
    assert f.active_subscribers == 6
    assert f.cases_opened == 4
    assert (f.cases_solved, f.cases_solved_categorised) == (3, 2)  # "general" is not a category
    assert (f.reactive_technical_opened, f.reactive_technical_diagnosed) == (2, 1)
    assert (f.reactive_technical_solved, f.reactive_technical_remote_fix) == (2, 1)
    # Three solved reactive cases with contacts; two resolved on the first contact.
    assert (f.fcr_cases, f.fcr_resolved) == (3, 2)
    c = {c.id: c for c in service.evaluate(f, S).criteria}
    assert not c["cases_categorised"].met and c["cases_categorised"].value == pytest.approx(2 / 3)
    assert c["remote_diagnostics"].met and c["remote_fix"].met and c["fcr_measured"].met


def test_live_channels_count_contacts_and_chat_conversations(
    db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    now = clock.now()
    alice = fleet.subscribers["ACC-1001"]
    recent = now - timedelta(days=3)
    for i in range(2):
        _case(db, alice, recent + timedelta(hours=i), channel="email")
        _case(db, alice, recent + timedelta(hours=i), channel="phone")
    _case(db, alice, recent, channel="sms")  # one SMS: not live with a minimum of two
    chat = _case(db, alice, recent, channel="live_chat")
    with db.transaction() as session:  # more messages of the same chat: still one contact
        for minute in (1, 2, 3):
            support.add_interaction(
                session,
                chat,
                _contact("live_chat", recent + timedelta(minutes=minute)),
                now=recent,
                actor=TEST_ACTOR,
            )
    for days in (40, 41):  # email contacts too long ago for "live" (30 days)
        _case(db, alice, now - timedelta(days=days), channel="app")
    f = _measure(db, now, S.model_copy(update={"window_days": 90}))
    assert f.live_channel_contacts["chat"] == 1
    assert f.live_channel_contacts["app"] == 0
    assert f.live_channels == ["phone", "email"]


def test_kpi_program_visits_and_journey(db: Database, clock: ManualClock, fleet: Fleet) -> None:
    now = clock.now()
    alice = fleet.subscribers["ACC-1001"]
    lead = Actor("system", None, "tests")
    tech = make_staff(db, clock, email="tech@example.net", role="technician")
    with db.transaction() as session:
        for name, value in (("first_contact_resolution", 70.0), ("truck_roll_rate", 12.0)):
            kpi_actions.set_target(session, lead, name, value, now=now)
        kpi_actions.subscribe(session, lead, "boss@example.net", now=now)
        journey_actions.set_owner(
            session, "signup", "sales", "Head of sales", None, now=now, actor=lead
        )
        for moment, kind in (
            ("post_install", "nps"),
            ("relationship", "nps"),
            ("case_solved", "csat"),
        ):
            at = now - timedelta(days=5)
            session.add(
                Survey(
                    subscriber_id=alice,
                    kind=kind,
                    moment=moment,
                    channel="email",
                    sent_at=at,
                    expires_at=at + timedelta(days=14),
                    answered_at=at + timedelta(hours=1),
                    score=9,
                    comment="",
                )
            )
    for i, notes in enumerate(("Fitted the gateway.", "Recommended a mesh satellite.", "")):
        window = now - timedelta(days=5 - i)
        with db.transaction() as session:
            order = dispatch.create_work_order(
                session,
                subscriber_id=alice,
                kind="upgrade",
                window_start=window,
                window_end=window + timedelta(hours=2),
                actor=TEST_ACTOR,
                now=window - timedelta(hours=1),
                technician_id=tech.id,
            )
            staff = Actor("staff", tech.id, "tech")
            dispatch.transition(session, order.id, "en_route", actor=staff, now=window)
            dispatch.transition(session, order.id, "on_site", actor=staff, now=window)
            dispatch.complete(
                session, order.id, outcome="installed", actor=staff, now=window, notes=notes
            )
    f = _measure(db, now)
    assert f.kpis_with_targets == ["first_contact_resolution", "truck_roll_rate"]
    assert f.kpi_families_with_targets == ["support"]
    assert f.kpi_reports == 1
    assert f.truck_roll_target == 12.0
    assert (f.visits_completed, f.visits_with_recommendation) == (3, 1)
    assert f.nps_moments == ["post_install", "relationship"]  # CSAT is not NPS
    assert f.owned_stages == ["signup"] and f.journey_stages == EVENT_KINDS
    c = {c.id: c for c in service.evaluate(f, S).criteria}
    assert c["technician_recommendations"].met  # 1 of 3 ≥ 25 %
    assert (
        not c["journey_owners"].met
        and "without one: install_scheduled" in c["journey_owners"].evidence
    )


def test_proactive_issues_self_service_and_adoption(
    db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    now = clock.now()
    alice, bob = fleet.subscribers["ACC-1001"], fleet.subscribers["ACC-1002"]
    t = now - timedelta(days=8)
    with db.transaction() as session:
        quiet, _ = support.open_proactive_case(
            session,
            subscriber_id=alice,
            category="coverage_gap",
            subject="Weak Wi-Fi",
            description="",
            priority="normal",
            now=t,
        )
        noticed, _ = support.open_proactive_case(
            session,
            subscriber_id=bob,
            category="speed_below_plan",
            subject="Slow",
            description="",
            priority="normal",
            now=t,
        )
        quiet_id, noticed_id = quiet.id, noticed.id
    _case(db, bob, t + timedelta(hours=1), category="slow_speed")  # Bob calls meanwhile
    _solve(db, quiet_id, "remote_fix", t + timedelta(hours=2))
    _solve(db, noticed_id, "remote_fix", t + timedelta(hours=2))
    with db.transaction() as session:
        record_engagement(session, alice, "home", at=now - timedelta(days=2))
        record_engagement(session, alice, "speed_test", at=now - timedelta(days=1), channel="app")
        record_engagement(session, bob, "home", at=now - timedelta(days=60))  # before the window
    f = _measure(db, now)
    assert f.proactive_cases == 2 and f.reactive_technical_opened == 1
    assert (f.proactive_issues, f.proactive_resolved_no_contact) == (2, 1)
    assert f.self_service_users == 1  # Bob's use is older than the 30-day window
    assert f.digital_users == 2  # but within digital adoption's 90 days
    c = {c.id: c for c in service.evaluate(f, S).criteria}
    assert c["proactive_cases"].value == pytest.approx(2 / 3)
    assert c["proactive_no_contact"].value == pytest.approx(0.5) and c["proactive_no_contact"].met
    assert c["digital_adoption"].value == pytest.approx(2 / 6)


def test_assess_uses_the_window_and_refuses_a_bad_one(db: Database, clock: ManualClock) -> None:
    with db.session() as session:
        result = service.assess(session, S.model_copy(update={"window_days": 7}), now=clock.now())
        assert result.until - result.since == timedelta(days=7)
        with pytest.raises(Exception, match="invalid window"):
            service.assess(session, S, now=clock.now(), days=0)


def test_self_assessment_is_stored_with_both_stages(db: Database, clock: ManualClock) -> None:
    from homeport.maturity import questionnaire

    answers = {q.id: "yes" if q.stage <= 3 else "no" for q in questionnaire.QUESTIONS}
    with db.transaction() as session:
        row = actions.save_assessment(
            session, answers, measured_stage=2, actor=TEST_ACTOR, now=clock.now()
        )
        row_id = row.id
    with db.session() as session:
        stored = service.latest_self_assessment(session)
        assert stored is not None and stored.id == row_id
        assert (stored.stage, stored.measured_stage) == (3, 2)
        assert stored.answers["kpis"] is True and stored.answers["bot"] is False
