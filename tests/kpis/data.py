"""A hand-built week of support, health, self-service, survey and journey data whose KPIs are
worked out by hand in the tests (tests/kpis/test_kpis.py).

The week measured is Monday 16 to Monday 23 November 2026 (UTC, which is London time then).
Subscribers (tests.factories.STANDARD): Alice (ACC-1001, north, Gigabit), Bob (ACC-1002,
north), Carol (ACC-1003, north, churns on day 2), Dev (BRI-2001, south, Fibre 100) and Erin
(ACC-1005, a prospect never activated).

Cases (reactive unless said):
- A  Alice email no_internet, day 1 09:00, one message, reply after 30 min, solved after 2 h
     (due after 1 h: late).                                             FCR yes
- B  Bob phone wifi, day 2 09:00, two calls (600 s and 300 s handled), reply after 1 h, solved
     after 5 h (due after 24 h: in time); a repair visit is booked.      FCR no (2 contacts)
- C  Carol live_chat equipment, day 1 12:00, two messages of one chat conversation, solved
     after 3 h.                                                          FCR yes (1 contact)
- D  Dev email slow_speed, day 3 08:00, solved after 4 h.              FCR no (repeat E)
- E  Dev email slow_speed, day 4 10:00, never solved; due on day 5 (overdue); a repeat of D.
- F  Dev sms slow_speed, day 4 11:00, merged into E: excluded everywhere.
- G  Bob email billing, day 1 10:00, solved after 1 h, reopened by Bob's reply on day 2 10:00
     and solved again at 11:00 (25 h after opening).                     FCR no (2 contacts)
- P  Alice proactive wan_down, day 3 12:00, solved after 1 h (auto_resolved).
- Z  Alice email no_internet, day 9 12:00: after the week and after every 7-day window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from homeport.audit.actions import Actor
from homeport.core.db import Database
from homeport.health.models import ExperienceScore, Finding
from homeport.journey.models import JourneyEvent, Survey
from homeport.selfservice.models import BotConversation, EngagementEvent
from homeport.subscribers.models import Subscriber
from homeport.support import actions, dispatch
from homeport.support.actions import NewInteraction
from homeport.support.models import Case
from homeport.telemetry.models import TelemetryHourly
from tests.factories import Fleet, build_fleet

SINCE = datetime(2026, 11, 16, tzinfo=UTC)
UNTIL = datetime(2026, 11, 23, tzinfo=UTC)
ACTOR = Actor("system", None, "tests")


def day(n: int, hour: int = 0, minute: int = 0) -> datetime:
    """Day ``n`` of the week (day 0 is Monday 16 November) at ``hour:minute`` UTC."""
    return SINCE + timedelta(days=n, hours=hour, minutes=minute)


@dataclass
class Week:
    fleet: Fleet
    cases: dict[str, int]
    alice: int
    bob: int
    carol: int
    dev: int


def _inbound(
    channel: str,
    body: str = "help",
    *,
    handle_time_s: int | None = None,
    meta: dict[str, Any] | None = None,
) -> NewInteraction:
    return NewInteraction(
        channel=channel,
        direction="inbound",
        author_kind="subscriber",
        body=body,
        handle_time_s=handle_time_s,
        meta=meta or {},
    )


def _reply(channel: str, at: datetime) -> NewInteraction:
    return NewInteraction(
        channel=channel, direction="outbound", author_kind="agent", body="on it", started_at=at
    )


def build_week(db: Database) -> Week:
    fleet = build_fleet(db, day(0))
    alice, bob, carol, dev, erin = (
        fleet.subscribers[a] for a in ("ACC-1001", "ACC-1002", "ACC-1003", "BRI-2001", "ACC-1005")
    )
    ids: dict[str, int] = {}

    def open_(
        key: str, sub: int, channel: str, category: str, at: datetime, *firsts: object
    ) -> int:
        with db.transaction() as s:
            first = firsts[0] if firsts else _inbound(channel)
            c = actions.open_case(
                s,
                now=at,
                actor=ACTOR,
                channel=channel,
                subject=f"case {key}",
                first=first,  # type: ignore[arg-type]
                subscriber_id=sub,
                category=category,
            )
            ids[key] = c.id
            return c.id

    def add(key: str, item: NewInteraction, at: datetime) -> None:
        with db.transaction() as s:
            actions.add_interaction(s, ids[key], item, now=at, actor=ACTOR)

    def solve(key: str, at: datetime, outcome: str = "remote_fix") -> None:
        with db.transaction() as s:
            actions.set_status(s, ids[key], "solved", now=at, actor=ACTOR, outcome=outcome)

    open_("A", alice, "email", "no_internet", day(1, 9))
    add("A", _reply("email", day(1, 9, 30)), day(1, 9, 30))
    solve("A", day(1, 11))

    open_("B", bob, "phone", "wifi", day(2, 9), _inbound("phone", handle_time_s=600))
    add("B", _reply("phone", day(2, 10)), day(2, 10))
    add("B", _inbound("phone", handle_time_s=300), day(2, 12))
    solve("B", day(2, 14))

    chat = {"conversation": "conv-1"}
    open_("C", carol, "live_chat", "equipment", day(1, 12), _inbound("live_chat", meta=chat))
    add("C", _inbound("live_chat", "still there?", meta=chat), day(1, 12, 5))
    solve("C", day(1, 15))

    open_("D", dev, "email", "slow_speed", day(3, 8))
    solve("D", day(3, 12))
    open_("E", dev, "email", "slow_speed", day(4, 10))
    open_("F", dev, "sms", "slow_speed", day(4, 11))
    with db.transaction() as s:
        actions.merge(s, ids["F"], ids["E"], now=day(4, 12), actor=ACTOR)

    open_("G", bob, "email", "billing", day(1, 10))
    solve("G", day(1, 11))
    add("G", _inbound("email", "not fixed"), day(2, 10))
    solve("G", day(2, 11))

    with db.transaction() as s:
        p, _ = actions.open_proactive_case(
            s,
            subscriber_id=alice,
            category="wan_down",
            subject="Internet connection is down",
            description="",
            priority="normal",
            now=day(3, 12),
        )
        ids["P"] = p.id
    solve("P", day(3, 13), "auto_resolved")
    open_("Z", alice, "email", "no_internet", day(9, 12))

    with db.transaction() as s:
        dispatch.create_work_order(
            s,
            subscriber_id=bob,
            kind="repair",
            window_start=day(3, 9),
            window_end=day(3, 12),
            actor=ACTOR,
            now=day(2, 13),
            case_id=ids["B"],
        )
        # SLA due times, set by hand (no SLA policy in this desk).
        for key, due in (("A", day(1, 10)), ("B", day(3, 9)), ("E", day(5, 10))):
            s.execute(update(Case).where(Case.id == ids[key]).values(resolution_due_at=due))
        # Carol churns on day 2; Erin (a prospect) was never activated.
        s.execute(
            update(Subscriber)
            .where(Subscriber.id == carol)
            .values(status="churned", journey_stage="churned", churned_at=day(2))
        )
        s.execute(update(Subscriber).where(Subscriber.id == erin).values(activated_at=None))
        # Self-service use: Alice 10 days before the end, Dev 60, Bob 100 (outside 90 days).
        for sub, ago in ((alice, 10), (dev, 60), (bob, 100)):
            s.add(EngagementEvent(subscriber_id=sub, at=UNTIL - timedelta(days=ago), kind="page"))
        # Chatbot: Alice contained, Bob handed over, Dev abandoned; one ended before the week.
        for sub, outcome, ended in (
            (alice, "contained", day(2)),
            (bob, "handed_over", day(3)),
            (dev, "abandoned", day(4)),
            (dev, "contained", day(-1)),
        ):
            s.add(
                BotConversation(
                    subscriber_id=sub,
                    started_at=ended - timedelta(minutes=5),
                    last_at=ended,
                    ended_at=ended,
                    outcome=outcome,
                )
            )
        _surveys(s, alice, bob)
        _health(s, fleet)
        # Journey: Dev signed up 3 days before the week and was installed on day 2; Bob has an
        # installation but no sign-up event (not counted).
        s.add_all(
            [
                JourneyEvent(subscriber_id=dev, kind="signup", at=day(-3), department="sales"),
                JourneyEvent(subscriber_id=dev, kind="installed", at=day(2), department="field"),
                JourneyEvent(subscriber_id=bob, kind="installed", at=day(3), department="field"),
            ]
        )
    return Week(fleet, ids, alice, bob, carol, dev)


def _surveys(s: object, alice: int, bob: int) -> None:
    rows = []
    answers = (
        ("nps", alice, (10, 9)),
        ("nps", bob, (9, 7, 3)),
        ("csat", alice, (5, 4)),
        ("csat", bob, (2,)),
        ("ces", alice, (2, 5)),
        ("ces", bob, (6, 7)),
    )
    for kind, sub, scores in answers:
        for i, score in enumerate(scores):
            rows.append(_survey(sub, kind, day(1 + i, 15), score))
    rows.append(_survey(alice, "nps", None, None))  # sent, never answered
    rows.append(_survey(bob, "nps", day(-2), 0))  # answered before the week
    s.add_all(rows)  # type: ignore[attr-defined]


def _survey(sub: int, kind: str, answered: datetime | None, score: int | None) -> Survey:
    return Survey(
        subscriber_id=sub,
        kind=kind,
        moment="relationship",
        channel="email",
        sent_at=day(-5),
        expires_at=day(20),
        answered_at=answered,
        score=score,
    )


def _health(s: object, fleet: Fleet) -> None:
    alice_home, bob_home, carol_home, dev_home = (
        fleet.homes[a] for a in ("ACC-1001", "ACC-1002", "ACC-1003", "BRI-2001")
    )
    rows: list[object] = []
    # Experience: Alice 90 and 80 (mean 85, excellent), Bob 50; one score after the week.
    for home, hour, score in (
        (alice_home, 1, 90.0),
        (alice_home, 2, 80.0),
        (bob_home, 1, 50.0),
        (bob_home, 24 * 7 + 1, 100.0),
    ):
        rows.append(
            ExperienceScore(
                home_id=home,
                period_start=SINCE + timedelta(hours=hour),
                score=score,
                wan_service=score,
                wan_continuity=score,
                wifi_coverage=score,
                wifi_efficiency=score,
                device_health=score,
                explanation={},
            )
        )
    # Availability: Alice 12 reports all up, Bob 12 with 6 down.
    for home, down in ((alice_home, 0), (bob_home, 6)):
        rows.append(
            TelemetryHourly(
                home_id=home, period_start=day(1, 10), reports=12, wan_down_reports=down
            )
        )
    # Findings: Alice's fixed and resolved before any contact; Bob's (fix failed) resolved
    # after his case B; Carol's still open; Dev's is information only.
    for home, severity, opened, resolved, remediation in (
        (alice_home, "warning", day(3, 1), day(3, 3), "fixed"),
        (bob_home, "critical", day(2, 8), day(2, 18), "failed"),
        (carol_home, "warning", day(5), None, ""),
        (dev_home, "info", day(1), day(1, 5), "fixed"),
    ):
        rows.append(
            Finding(
                home_id=home,
                kind="wan_down",
                subject="",
                severity=severity,
                status="resolved" if resolved else "open",
                first_seen_at=opened,
                opened_at=opened,
                last_seen_at=resolved or opened,
                resolved_at=resolved,
                remediation=remediation,
            )
        )
    s.add_all(rows)  # type: ignore[attr-defined]
