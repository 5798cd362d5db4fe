"""Hand-built histories for the churn tests: one subscriber whose every signal is set by hand,
and a small population whose churn follows its contacts (so a model has something to learn)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from homeport.core.db import Database
from homeport.health.models import ExperienceScore, Finding, Outage, OutageMember
from homeport.journey.models import Survey
from homeport.selfservice.models import EngagementEvent
from homeport.subscribers.models import Subscriber
from homeport.support import actions as support_actions
from homeport.support.actions import NewInteraction
from homeport.support.models import Case, Interaction, WorkOrder
from tests.conftest import TEST_ACTOR
from tests.factories import Fleet


def contact(db: Database, subscriber_id: int, at: datetime, category: str) -> int:
    """A subscriber's call about ``category``: a reactive case with one inbound interaction."""
    with db.transaction() as s:
        case = support_actions.open_case(
            s,
            now=at,
            actor=TEST_ACTOR,
            channel="phone",
            subject=f"About {category}",
            subscriber_id=subscriber_id,
            category=category,
            first=NewInteraction(
                channel="phone", direction="inbound", author_kind="subscriber", body="Hello"
            ),
        )
        return case.id


def unhappy_history(db: Database, fleet: Fleet, account: str, t: datetime) -> None:
    """Everything that points to churn for ``account`` as of ``t``."""
    sid, home = fleet.subscribers[account], fleet.homes[account]
    for days in (2, 9, 20):
        contact(db, sid, t - timedelta(days=days), "slow_speed")
    with db.transaction() as s:
        for hour in range(0, 28 * 24, 6):
            at = t - timedelta(hours=hour + 1)
            value = 54.0 if at > t - timedelta(days=7) else 82.0
            s.add(
                ExperienceScore(
                    home_id=home,
                    period_start=at,
                    score=value,
                    wan_service=value,
                    wan_continuity=100.0,
                    wifi_coverage=100.0,
                    wifi_efficiency=100.0,
                    device_health=100.0,
                )
            )
        s.add_all(
            [
                Finding(
                    home_id=home,
                    kind="speed_below_plan",
                    severity="warning",
                    status="open",
                    first_seen_at=t - timedelta(days=3),
                    opened_at=t - timedelta(days=3),
                    last_seen_at=t,
                ),
                Finding(
                    home_id=home,
                    kind="weak_signal",
                    subject="a4:5e:60:00:00:03",
                    severity="info",
                    status="resolved",
                    first_seen_at=t - timedelta(days=40),
                    opened_at=t - timedelta(days=40),
                    last_seen_at=t - timedelta(days=35),
                    resolved_at=t - timedelta(days=35),
                ),
                WorkOrder(
                    subscriber_id=sid,
                    kind="repair",
                    status="completed",
                    window_start=t - timedelta(days=15),
                    window_end=t - timedelta(days=15, hours=-4),
                    created_at=t - timedelta(days=16),
                ),
                Survey(
                    subscriber_id=sid,
                    kind="nps",
                    moment="case_solved",
                    channel="email",
                    sent_at=t - timedelta(days=40),
                    expires_at=t - timedelta(days=26),
                    answered_at=t - timedelta(days=39),
                    score=8,
                ),
                Survey(
                    subscriber_id=sid,
                    kind="nps",
                    moment="relationship",
                    channel="email",
                    sent_at=t - timedelta(days=6),
                    expires_at=t + timedelta(days=8),
                    answered_at=t - timedelta(days=5),
                    score=3,
                ),
                EngagementEvent(
                    subscriber_id=sid, at=t - timedelta(days=120), channel="app", kind="page"
                ),
            ]
        )
        outage = Outage(
            scope="port",
            port_id=fleet.ports["north-olt1-p1"],
            status="closed",
            opened_at=t - timedelta(days=20),
            closed_at=t - timedelta(days=19),
        )
        s.add(outage)
        s.flush()
        s.add(
            OutageMember(
                outage_id=outage.id,
                home_id=home,
                subscriber_id=sid,
                lost_at=t - timedelta(days=20),
                recovered_at=t - timedelta(days=19),
            )
        )


def population(db: Database, fleet: Fleet, now: datetime, n: int = 400, seed: int = 7) -> None:
    """``n`` subscribers activated two years before ``now``. About a third are unhappy: six
    contacts in the 120 days before a moment ``e``, after which most of them leave; the rest
    leave rarely. Rows are added directly (the history is in the past)."""
    rng = random.Random(seed)
    with db.transaction() as s:
        for i in range(n):
            unhappy = rng.random() < 0.35
            e = now - timedelta(days=rng.uniform(0, 420))
            leaves = rng.random() < (0.75 if unhappy else 0.04)
            sub = Subscriber(
                account_number=f"POP-{i:04d}",
                name=f"Population {i}",
                email=f"pop{i}@example.test",
                status="churned" if leaves and e <= now else "active",
                journey_stage="churned" if leaves and e <= now else "established",
                plan_id=fleet.plans["fibre-500" if i % 2 else "fibre-100"],
                activated_at=now - timedelta(days=730),
                churned_at=e if leaves else None,
                created_at=now - timedelta(days=740),
                updated_at=now,
            )
            s.add(sub)
            s.flush()
            times = (
                [e - timedelta(days=rng.uniform(3, 120)) for _ in range(6)]
                if unhappy
                else [now - timedelta(days=rng.uniform(0, 700)) for _ in range(rng.randint(0, 1))]
            )
            for at in times:
                case = Case(
                    subscriber_id=sub.id,
                    origin="reactive",
                    channel="phone",
                    category="slow_speed" if unhappy else "billing",
                    status="solved",
                    subject="Slow",
                    opened_at=at,
                    updated_at=at,
                    solved_at=at + timedelta(hours=3),
                )
                s.add(case)
                s.flush()
                s.add(
                    Interaction(
                        case_id=case.id,
                        channel="phone",
                        direction="inbound",
                        author_kind="subscriber",
                        started_at=at,
                    )
                )
