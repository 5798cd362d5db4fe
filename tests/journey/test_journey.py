"""The journey domain: events once per moment, surveys and their rules, the closed loop, themes,
the funnel on a hand-built set, frontline feedback. On SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from homeport import wiring
from homeport.audit.actions import Actor
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from homeport.core.journey_settings import JourneySettings
from homeport.core.settings import Settings
from homeport.identity import actions as identity_actions
from homeport.journey import actions, handlers, service, surveys, themes
from homeport.journey.models import JourneyEvent, Survey
from homeport.subscribers import actions as subscriber_actions
from homeport.subscribers.models import Subscriber
from homeport.subscribers.schemas import SubscriberIn
from homeport.support import actions as support_actions
from homeport.support import defaults
from homeport.support.models import Case, OutboundMessage, SupportQueue
from tests.conftest import TEST_ACTOR, make_staff
from tests.factories import build_fleet

S = JourneySettings()
URL = "https://isp.example"
_LINK = re.compile(r"/survey/([A-Za-z0-9_\-]+)")


def events(db: Database, subscriber_id: int, kind: str | None = None) -> list[JourneyEvent]:
    with db.session() as s:
        stmt = select(JourneyEvent).where(JourneyEvent.subscriber_id == subscriber_id)
        if kind:
            stmt = stmt.where(JourneyEvent.kind == kind)
        return list(s.scalars(stmt.order_by(JourneyEvent.id)))


def open_case(db: Database, sid: int, now: datetime, category: str = "slow_speed") -> int:
    with db.transaction() as s:
        case = support_actions.open_case(
            s,
            now=now,
            actor=TEST_ACTOR,
            channel="phone",
            subject="It is slow",
            subscriber_id=sid,
            category=category,
        )
        return case.id


def solve(db: Database, case_id: int, now: datetime) -> None:
    with db.transaction() as s:
        support_actions.set_status(
            s, case_id, "solved", now=now, actor=TEST_ACTOR, outcome="remote_fix"
        )


def installed(db: Database, sid: int, at: datetime, how: str = "self") -> None:
    with db.transaction() as s:
        actions.record_event(
            s, subscriber_id=sid, kind="installed", at=at, ref="install", detail={"install": how}
        )


def token_of(db: Database, email: str) -> str:
    with db.session() as s:
        body = s.scalars(
            select(OutboundMessage.body)
            .where(OutboundMessage.recipient == email)
            .order_by(OutboundMessage.id.desc())
        ).first()
    assert body is not None, f"no email to {email}"
    match = _LINK.search(body)
    assert match, body
    return match.group(1)


def send_due(db: Database, now: datetime) -> surveys.SendResult:
    with db.transaction() as s:
        return surveys.send_due(s, now=now, s=S, public_url=URL, bsp_name="Fibre Co")


@pytest.fixture
def wired(db: Database, settings: Settings) -> Database:
    wiring.connect(db, settings)
    return db


# --- Journey events ---------------------------------------------------------------------------


def test_each_moment_is_recorded_once_from_the_other_domains_events(
    wired: Database, clock: ManualClock
) -> None:
    db = wired
    fleet = build_fleet(db, clock.now())
    now = clock.now()
    with db.transaction() as s:
        saved = subscriber_actions.upsert_subscriber(
            s,
            SubscriberIn(
                account_number="NEW-1",
                name="Nia New",
                email="nia@example.org",
                plan_code="fibre-100",
                status="onboarding",
                journey_stage="signup",
            ),
            actor=TEST_ACTOR,
            now=now,
        )
    sid = saved.row.id
    (signup,) = events(db, sid, "signup")
    assert signup.department == "sales" and signup.at == now
    # Activation without an installation visit: a self-install.
    clock.advance(timedelta(days=3))
    with db.transaction() as s:
        subscriber_actions.upsert_subscriber(
            s,
            SubscriberIn(
                account_number="NEW-1",
                name="Nia New",
                email="nia@example.org",
                plan_code="fibre-500",
                status="active",
                journey_stage="onboarding",
            ),
            actor=TEST_ACTOR,
            now=clock.now(),
        )
    (inst,) = events(db, sid, "installed")
    assert inst.detail["install"] == "self" and inst.department == "field"
    (plan,) = events(db, sid, "plan_change")
    assert plan.detail["to_plan_id"] == fleet.plans["fibre-500"]
    # Two cases: one first case; solving records case_solved once even if the handler reruns.
    first = open_case(db, sid, clock.now())
    open_case(db, sid, clock.now() + timedelta(hours=1))
    solve(db, first, clock.now() + timedelta(hours=2))
    assert [e.detail["case_id"] for e in events(db, sid, "first_case")] == [first]
    with db.transaction() as s:
        handlers.on_case_status(s, support_actions.CaseStatusChanged(first, sid, "solved", "open"))
        _, created = actions.record_event(
            s, subscriber_id=sid, kind="first_case", at=now, ref="first_case"
        )
    assert created is False
    assert len(events(db, sid, "case_solved")) == 1
    # Churn.
    with db.transaction() as s:
        subscriber_actions.upsert_subscriber(
            s,
            SubscriberIn(
                account_number="NEW-1",
                name="Nia New",
                email="nia@example.org",
                plan_code=None,
                status="churned",
                journey_stage="churned",
            ),
            actor=TEST_ACTOR,
            now=clock.now(),
        )
    assert [e.department for e in events(db, sid, "churned")] == ["retention"]


def test_an_onsite_installation_is_recorded_from_the_work_order(
    wired: Database, clock: ManualClock
) -> None:
    db = wired
    fleet = build_fleet(db, clock.now())
    sid = fleet.subscribers["BRI-2001"]
    from homeport.support.dispatch import WorkOrderCompleted, WorkOrderCreated

    with db.transaction() as s:
        handlers.on_work_order_created(
            s, WorkOrderCreated(1, sid, None, "install", None, clock.now())
        )
        handlers.on_work_order_completed(
            s,
            WorkOrderCompleted(
                1, sid, None, "install", "installed", "truck_roll", True, None, None, clock.now()
            ),
        )
        handlers.on_work_order_completed(
            s,
            WorkOrderCompleted(
                1, sid, None, "install", "installed", "truck_roll", True, None, None, clock.now()
            ),
        )
    assert [e.ref for e in events(db, sid, "install_scheduled")] == ["wo:1"]
    (inst,) = events(db, sid, "installed")
    assert inst.detail["install"] == "onsite"


def test_bad_events_are_refused(db: Database, clock: ManualClock) -> None:
    fleet = build_fleet(db, clock.now())
    with db.transaction() as s, pytest.raises(ValidationFailed):
        actions.record_event(
            s, subscriber_id=fleet.subscribers["ACC-1001"], kind="bought_a_boat", at=clock.now()
        )
    with db.transaction() as s, pytest.raises(NotFound):
        actions.record_event(s, subscriber_id=99999, kind="signup", at=clock.now())


def test_backfill_derives_history_and_runs_twice_harmlessly(
    db: Database, clock: ManualClock
) -> None:
    fleet = build_fleet(db, clock.now())
    alice = fleet.subscribers["ACC-1001"]
    case_id = open_case(db, alice, clock.now() - timedelta(days=5))
    solve(db, case_id, clock.now() - timedelta(days=4))
    with db.transaction() as s:
        first = actions.backfill(s, now=clock.now(), first_week=timedelta(days=7))
    with db.transaction() as s:
        again = actions.backfill(s, now=clock.now(), first_week=timedelta(days=7))
    assert first.recorded > 0 and again.recorded == 0
    assert again.considered == first.considered
    kinds = {e.kind for e in events(db, alice)}
    assert {"signup", "installed", "first_week_check", "first_case", "case_solved"} <= kinds
    # Dev is still waiting for the installation: signed up, not installed.
    dev = {e.kind for e in events(db, fleet.subscribers["BRI-2001"])}
    assert dev == {"signup"}
    assert all(e.detail.get("backfilled") for e in events(db, alice))


def test_stage_owners_defaults_and_changes(db: Database, clock: ManualClock) -> None:
    with db.transaction() as s:
        defaults.install(s, now=clock.now(), actor=TEST_ACTOR, timezone="UTC")
        assert service.unowned_stages(s) == list(actions.STAGES)
        assert actions.seed_default_owners(s, now=clock.now(), actor=TEST_ACTOR) == 9
        assert actions.seed_default_owners(s, now=clock.now(), actor=TEST_ACTOR) == 0
        assert service.unowned_stages(s) == []
        actions.set_owner(
            s, "churned", "marketing", "Win-back lead", None, now=clock.now(), actor=TEST_ACTOR
        )
        rows = {o.stage: o for o in service.owners(s)}
        assert rows["churned"].department == "marketing"
        assert rows["at_risk"].team == "Retention"
        assert actions.departments(s)["churned"] == "marketing"
        with pytest.raises(ValidationFailed):
            actions.set_owner(s, "nowhere", "sales", "x", None, now=clock.now(), actor=TEST_ACTOR)


# --- Surveys ----------------------------------------------------------------------------------


def test_post_install_survey_goes_out_a_day_later_by_email(
    db: Database, clock: ManualClock
) -> None:
    fleet = build_fleet(db, clock.now())
    sid = fleet.subscribers["ACC-1002"]
    installed(db, sid, clock.now())
    assert send_due(db, clock.now() + timedelta(hours=2)).sent == 0  # too early
    result = send_due(db, clock.now() + timedelta(hours=25))
    assert result.by_moment == {"post_install": 1}
    with db.session() as s:
        rows = s.scalars(
            select(Survey).where(Survey.subscriber_id == sid).order_by(Survey.id)
        ).all()
    assert [(r.kind, r.channel) for r in rows] == [("csat", "email"), ("nps", "email")]
    token = token_of(db, "bob@jones.example")
    assert rows[0].token_hash == surveys.hash_token(token) and rows[1].token_hash is None
    assert len(token) >= 40 and token not in (rows[0].token_hash or "")
    assert send_due(db, clock.now() + timedelta(hours=26)).sent == 0  # asked once


def test_no_more_than_one_survey_in_30_days(db: Database, clock: ManualClock) -> None:
    fleet = build_fleet(db, clock.now())
    sid = fleet.subscribers["ACC-1002"]
    now = clock.now()
    case_id = open_case(db, sid, now - timedelta(days=1))
    solve(db, case_id, now - timedelta(hours=3))
    assert send_due(db, now).by_moment == {"case_solved": 1}
    second = open_case(db, sid, now + timedelta(days=2))
    solve(db, second, now + timedelta(days=3))
    later = now + timedelta(days=3, hours=3)
    result = send_due(db, later)
    assert result.sent == 0 and result.skipped.get("surveyed recently") == 1
    with db.session() as s:
        sub = s.get_one(Subscriber, sid)
        assert surveys.refusal(s, sub, "relationship", now=later, s=S) == "surveyed recently"
        assert surveys.refusal(s, sub, "relationship", now=now + timedelta(days=31), s=S) is None
        assert surveys.refusal(s, sub, "relationship", now=now + timedelta(days=29), s=S) == (
            "surveyed recently"
        )


def test_no_email_survey_without_consent_and_portal_only_with_an_account(
    db: Database, clock: ManualClock
) -> None:
    fleet = build_fleet(db, clock.now())
    sid = fleet.subscribers["ACC-1002"]
    with db.transaction() as s:
        s.get_one(Subscriber, sid).consent_email = False
    installed(db, sid, clock.now())
    later = clock.now() + timedelta(days=2)
    result = send_due(db, later)
    assert result.sent == 0
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Survey)) == 0
    with db.transaction() as s:
        identity_actions.create_subscriber_account(
            s,
            subscriber_id=sid,
            email="bob@jones.example",
            password=None,
            actor=TEST_ACTOR,
            now=later,
        )
    assert send_due(db, later).by_channel == {"portal": 1}
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboundMessage)) == 0
        pending = surveys.pending_survey(s, sid, now=later)
    assert pending is not None and [q.kind for q in pending.questions] == ["csat", "nps"]


def test_relationship_nps_waits_while_a_case_is_open(db: Database, clock: ManualClock) -> None:
    fleet = build_fleet(db, clock.now())
    alice, bob = fleet.subscribers["ACC-1001"], fleet.subscribers["ACC-1002"]
    open_case(db, alice, clock.now() - timedelta(days=40))
    relationship_s = JourneySettings(relationship_every_days=1)  # everyone in the first cycle
    with db.transaction() as s:
        result = surveys.send_due(
            s, now=clock.now(), s=relationship_s, public_url=URL, bsp_name="Fibre Co"
        )
        asked = set(s.scalars(select(Survey.subscriber_id).where(Survey.moment == "relationship")))
    # Alice has a live case; Carol is suspended, Dev onboarding, Erin a prospect.
    assert asked == {bob}
    assert result.by_moment == {"relationship": 1}


def test_a_token_answers_once_and_expires(db: Database, clock: ManualClock) -> None:
    fleet = build_fleet(db, clock.now())
    sid = fleet.subscribers["ACC-1002"]
    installed(db, sid, clock.now())
    at = clock.now() + timedelta(hours=25)
    send_due(db, at)
    token = token_of(db, "bob@jones.example")
    with db.session() as s:
        inv = surveys.by_token(s, token, now=at, bsp_name="Fibre Co")
    csat_id, nps_id = (q.survey_id for q in inv.questions)
    with db.transaction() as s, pytest.raises(ValidationFailed):
        surveys.answer_by_token(s, token, {csat_id: 6}, now=at)  # CSAT is 1–5
    with db.transaction() as s:
        surveys.answer_by_token(s, token, {csat_id: 5, nps_id: 10}, "Quick instalation", now=at)
    with db.transaction() as s, pytest.raises(Conflict, match="already been answered"):
        surveys.answer_by_token(s, token, {csat_id: 1}, now=at)
    with db.session() as s:
        rows = s.scalars(select(Survey).where(Survey.subscriber_id == sid).order_by(Survey.id))
        assert [(r.score, r.theme, r.comment) for r in rows] == [
            (5, "installation", "Quick instalation"),
            (10, "installation", ""),
        ]
    with db.transaction() as s, pytest.raises(NotFound):
        surveys.answer_by_token(s, "not-a-token", {csat_id: 5}, now=at)


def test_an_expired_token_is_refused(db: Database, clock: ManualClock) -> None:
    fleet = build_fleet(db, clock.now())
    sid = fleet.subscribers["ACC-1002"]
    installed(db, sid, clock.now())
    at = clock.now() + timedelta(hours=25)
    send_due(db, at)
    token = token_of(db, "bob@jones.example")
    late = at + timedelta(days=14)
    with db.session() as s:
        inv = surveys.by_token(s, token, now=late, bsp_name="x")
        assert inv.expired and not inv.answered
        assert surveys.pending_survey(s, sid, now=late) is None
    with db.transaction() as s, pytest.raises(Conflict, match="closed"):
        surveys.answer_by_token(s, token, {inv.survey_id: 4}, now=late)


def test_a_subscriber_never_answers_another_subscribers_survey(
    db: Database, clock: ManualClock
) -> None:
    fleet = build_fleet(db, clock.now())
    alice, bob = fleet.subscribers["ACC-1001"], fleet.subscribers["ACC-1002"]
    installed(db, bob, clock.now())
    at = clock.now() + timedelta(hours=25)
    send_due(db, at)
    with db.session() as s:
        inv = surveys.pending_survey(s, bob, now=at)
        assert inv is not None
        assert surveys.pending_survey(s, alice, now=at) is None
    with db.transaction() as s, pytest.raises(NotFound):
        surveys.answer_for_subscriber(s, alice, inv.survey_id, {inv.survey_id: 1}, now=at)
    # The companion question is not a survey of its own either.
    companion = inv.questions[1].survey_id
    with db.transaction() as s, pytest.raises(NotFound):
        surveys.answer_for_subscriber(s, bob, companion, {companion: 9}, now=at)
    with db.transaction() as s:
        surveys.answer_for_subscriber(s, bob, inv.survey_id, {inv.survey_id: 4}, "ok", now=at)
    with db.session() as s:
        assert s.get_one(Survey, inv.survey_id).score == 4


def test_a_detractor_opens_a_retention_follow_up_case(wired: Database, clock: ManualClock) -> None:
    db = wired
    fleet = build_fleet(db, clock.now())
    sid = fleet.subscribers["ACC-1002"]
    with db.transaction() as s:
        defaults.install(s, now=clock.now(), actor=TEST_ACTOR, timezone="UTC")
    installed(db, sid, clock.now(), how="onsite")
    at = clock.now() + timedelta(hours=25)
    send_due(db, at)
    token = token_of(db, "bob@jones.example")
    with db.session() as s:
        inv = surveys.by_token(s, token, now=at, bsp_name="x")
    csat_id, nps_id = (q.survey_id for q in inv.questions)
    with db.transaction() as s:
        surveys.answer_by_token(
            s, token, {csat_id: 2, nps_id: 3}, "The engineer was 3 hours late", now=at
        )
    with db.session() as s:
        rows = list(s.scalars(select(Survey).where(Survey.subscriber_id == sid)))
        case_ids = {r.follow_up_case_id for r in rows}
        assert len(case_ids) == 1 and None not in case_ids
        case = s.get_one(Case, case_ids.pop())
        queue = s.get_one(SupportQueue, case.queue_id)
    assert (case.category, case.channel, case.subscriber_id) == (
        "retention_follow_up",
        "system",
        sid,
    )
    assert queue.name == "Retention"
    assert "NPS 3" in case.description and "3 hours late" in case.description
    assert rows[0].theme == "technician"
    (risk,) = events(db, sid, "at_risk")
    assert risk.ref == f"survey:{csat_id}" and risk.department == "retention"
    # The follow-up is not the subscriber's "first case".
    assert events(db, sid, "first_case") == []


def test_a_promoter_opens_no_case(db: Database, clock: ManualClock) -> None:
    fleet = build_fleet(db, clock.now())
    sid = fleet.subscribers["ACC-1002"]
    installed(db, sid, clock.now())
    at = clock.now() + timedelta(hours=25)
    send_due(db, at)
    token = token_of(db, "bob@jones.example")
    with db.session() as s:
        inv = surveys.by_token(s, token, now=at, bsp_name="x")
    with db.transaction() as s:
        surveys.answer_by_token(s, token, {inv.survey_id: 3}, now=at)  # CSAT 3: passive
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def test_the_figures_follow_the_published_formulas() -> None:
    assert surveys.nps([10, 9, 8, 7, 6, 0]) == pytest.approx(100 * (2 - 2) / 6)
    assert surveys.nps([10, 10, 10, 3]) == pytest.approx(50.0)
    assert surveys.csat([5, 4, 3, 1]) == pytest.approx(50.0)
    assert surveys.ces([7, 5, 3]) == pytest.approx(5.0)
    assert surveys.nps([]) is None and surveys.csat([]) is None
    assert surveys.is_detractor("nps", 6) and not surveys.is_detractor("nps", 7)
    assert surveys.is_detractor("csat", 2) and not surveys.is_detractor("csat", 3)
    assert not surveys.is_detractor("ces", 1)


@pytest.mark.parametrize(
    ("kind", "scores", "tone"),
    [
        ("nps", (0, 6), "bad"),
        ("nps", (7, 8), "warn"),
        ("nps", (9, 10), "ok"),
        ("csat", (1, 2), "bad"),
        ("csat", (3,), "warn"),
        ("csat", (4, 5), "ok"),
        ("ces", (1, 4), "warn"),
        ("ces", (5, 7), "ok"),
        ("unknown", (10,), "warn"),
    ],
)
def test_an_answers_tone_on_the_console(kind: str, scores: tuple[int, ...], tone: str) -> None:
    assert {surveys.tone(kind, s) for s in scores} == {tone}


# --- Themes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("comment", "theme"),
    [
        ("Speeds are sloww every evening, netflix keeps buffering", "speed"),
        ("Wiffi doesnt reach my bedrom upstairs", "wifi_coverage"),
        ("The wi-fi signal in the garden office is useless", "wifi_coverage"),
        ("internet keeps droping out, 3 outages this week", "outages"),
        ("No internet for two days!!", "outages"),
        ("instalation took forever and the router came late", "installation"),
        ("The techician was brilliant and tidy", "technician"),
        ("tecnician never turned up to the appointment", "technician"),
        ("I was on hold for 45 minuts before anyone answred", "support_wait"),
        ("Waited ages for a call back", "support_wait"),
        ("Too expensiv, the price went up again", "billing_price"),
        ("charged twice on my bill", "billing_price"),
        ("The app keeps crashing when I log in", "app_portal"),
        ("Brilliant!", "other"),
        ("   ", None),
    ],
)
def test_comments_are_grouped_by_theme(comment: str, theme: str | None) -> None:
    assert themes.classify(comment) == theme


def test_short_words_are_not_fuzzy_matched() -> None:
    # "spend" is one letter from "speed" but a different word: short words match exactly.
    assert themes.classify("I spend a lot of time at home") == "other"
    assert themes.edit_distance("techician", "technician") == 1
    assert themes.edit_distance("recieve", "receive") == 1  # a swap is one edit


# --- Funnel and results -----------------------------------------------------------------------


def test_funnel_numbers_on_a_hand_built_set(db: Database, clock: ManualClock) -> None:
    fleet = build_fleet(db, clock.now())
    now = clock.now()
    d = timedelta(days=1)
    a, b, c, dv, e = (
        fleet.subscribers[k] for k in ("ACC-1001", "ACC-1002", "ACC-1003", "BRI-2001", "ACC-1005")
    )
    rows = [
        # a: signed up 80 days ago, booked after 2 days, installed after 6, checked, established.
        (a, "signup", now - 80 * d, "signup"),
        (a, "install_scheduled", now - 78 * d, "wo:1"),
        (a, "installed", now - 74 * d, "install"),
        (a, "first_week_check", now - 67 * d, "first_week"),
        # b: signed up 60 days ago, self-installed after 2 days, checked, churned after 10 days.
        (b, "signup", now - 60 * d, "signup"),
        (b, "installed", now - 58 * d, "install"),
        (b, "first_week_check", now - 51 * d, "first_week"),
        (b, "churned", now - 48 * d, "churn:x"),
        # c: signed up 20 days ago, installed 10 days ago: checked but not yet established.
        (c, "signup", now - 20 * d, "signup"),
        (c, "install_scheduled", now - 18 * d, "wo:2"),
        (c, "installed", now - 10 * d, "install"),
        (c, "first_week_check", now - 3 * d, "first_week"),
        # dv: signed up 5 days ago, waiting.
        (dv, "signup", now - 5 * d, "signup"),
        # e: signed up 200 days ago: outside the 90-day period.
        (e, "signup", now - 200 * d, "signup"),
        (e, "installed", now - 190 * d, "install"),
    ]
    with db.transaction() as s:
        n = actions.record_events(
            s, [{"subscriber_id": x, "kind": k, "at": at, "ref": r} for x, k, at, r in rows]
        )
        assert n == len(rows)
        f = service.funnel(s, since=now - 90 * d, until=now, now=now, s=S)
    steps = {st.name: (st.subscribers, st.from_previous, st.from_signup) for st in f.steps}
    assert steps == {
        "signup": (4, None, 100.0),
        "installed": (3, 75.0, 75.0),
        "first_week": (3, 100.0, 75.0),
        "established": (1, 33.3, 25.0),
    }
    times = {i.label: (i.subscribers, i.median_days) for i in f.intervals}
    assert times["Sign-up to installed"] == (3, 6.0)  # 6, 2 and 10 days
    assert times["Sign-up to installation booked"] == (2, 2.0)
    assert times["Installation booked to installed"] == (2, 6.0)  # 4 and 8 days
    assert times["At risk to churned"] == (0, None)


def test_results_per_moment_and_installation_experience(db: Database, clock: ManualClock) -> None:
    fleet = build_fleet(db, clock.now())
    now = clock.now()
    a, b = fleet.subscribers["ACC-1001"], fleet.subscribers["ACC-1002"]
    installed(db, a, now - timedelta(days=10), how="self")
    installed(db, b, now - timedelta(days=10), how="onsite")
    open_case(db, b, now - timedelta(days=5))
    with db.transaction() as s:
        for sid, kind, moment, score, comment in [
            (a, "csat", "post_install", 5, "easy to set up"),
            (a, "nps", "post_install", 10, ""),
            (b, "csat", "post_install", 2, "the engineer was late"),
            (b, "nps", "post_install", 4, ""),
        ]:
            s.add(
                Survey(
                    subscriber_id=sid,
                    kind=kind,
                    moment=moment,
                    channel="email",
                    sent_at=now - timedelta(days=9),
                    expires_at=now + timedelta(days=5),
                    answered_at=now - timedelta(days=8),
                    score=score,
                    comment=comment,
                    theme=themes.classify(comment) if comment else None,
                )
            )
        s.add(
            Survey(
                subscriber_id=a,
                kind="nps",
                moment="relationship",
                channel="email",
                sent_at=now - timedelta(days=2),
                expires_at=now + timedelta(days=12),
                comment="",
            )
        )
    with db.session() as s:
        results = {
            (r.moment, r.kind): r
            for r in service.survey_results(s, since=now - timedelta(days=30), until=now)
        }
        groups = {
            g.install: g
            for g in service.install_experience(s, since=now - timedelta(days=30), until=now)
        }
        rows = service.theme_summary(s, since=now - timedelta(days=30), until=now)
    assert results[("post_install", "nps")].score == 0.0  # one promoter, one detractor
    assert results[("post_install", "csat")].score == 50.0
    assert results[("relationship", "nps")].answered == 0
    assert results[("relationship", "nps")].response_rate == 0.0
    assert groups["self"].csat == 100.0 and groups["onsite"].csat == 0.0
    assert groups["onsite"].contacts_per_install == 1.0 and groups["self"].with_contact_pct == 0.0
    assert {r.theme: r.comments for r in rows} == {"installation": 1, "technician": 1}


# --- Frontline feedback -----------------------------------------------------------------------


def test_feedback_votes_once_and_only_leaders_set_status(db: Database, clock: ManualClock) -> None:
    agent = make_staff(db, clock, email="agent@example.net", role="agent")
    tech = make_staff(db, clock, email="tech@example.net", role="technician")
    lead = make_staff(db, clock, email="lead@example.net", role="supervisor")
    now = clock.now()
    with db.transaction() as s:
        item = actions.submit_feedback(
            s,
            author_id=tech.id,
            kind="friction",
            title="The quality check needs a fresh report",
            now=now,
            actor=Actor("staff", tech.id),
        )
        item_id = item.id
    with db.transaction() as s:
        assert actions.vote(s, item_id, staff_id=agent.id, now=now, actor=TEST_ACTOR) == 1
    with db.transaction() as s, pytest.raises(Conflict, match="already voted"):
        actions.vote(s, item_id, staff_id=agent.id, now=now, actor=TEST_ACTOR)
    with db.transaction() as s, pytest.raises(Conflict, match="own item"):
        actions.vote(s, item_id, staff_id=tech.id, now=now, actor=TEST_ACTOR)
    with db.transaction() as s:
        assert actions.vote(s, item_id, staff_id=lead.id, now=now, actor=TEST_ACTOR) == 2
    with db.transaction() as s, pytest.raises(PermissionDenied):
        actions.set_feedback_status(
            s, item_id, status="planned", response="", role="agent", now=now, actor=TEST_ACTOR
        )
    with db.transaction() as s, pytest.raises(ValidationFailed):
        actions.set_feedback_status(
            s, item_id, status="declined", response="", role="supervisor", now=now, actor=TEST_ACTOR
        )
    with db.transaction() as s:
        actions.set_feedback_status(
            s,
            item_id,
            status="planned",
            response="In the next release",
            role="supervisor",
            now=now,
            actor=TEST_ACTOR,
        )
        board = service.feedback_board(s, viewer_id=agent.id)
    assert [(r.item.status, r.item.votes, r.voted, r.own) for r in board] == [
        ("planned", 2, True, False)
    ]
    with db.transaction() as s, pytest.raises(ValidationFailed):
        actions.submit_feedback(
            s, author_id=agent.id, kind="rant", title="x", now=now, actor=TEST_ACTOR
        )
