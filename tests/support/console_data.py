"""A small support desk for the console and cases-API tests, set up through the real actions:
one team ("Tier 1") with its queue, the signed-in agent and a colleague, a second team's queue,
SLA policies, a macro, and cases in several channels and states."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from homeport.audit.actions import Actor
from homeport.core.db import Database
from homeport.identity import actions as identity
from homeport.support import actions
from homeport.support.actions import NewAttachment, NewInteraction
from tests.conftest import PASSWORD, TEST_ACTOR
from tests.factories import Fleet

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@dataclass
class Desk:
    team: int
    other_team: int
    agent: int
    colleague: int
    technician: int
    queue: int
    other_queue: int
    macro: int
    cases: dict[str, int] = field(default_factory=dict)


def inbound(body: str, channel: str = "email", **kw: object) -> NewInteraction:
    return NewInteraction(
        channel=channel, direction="inbound", author_kind="subscriber", body=body, **kw
    )  # type: ignore[arg-type]


def build_desk(db: Database, fleet: Fleet, now: datetime) -> Desk:
    alice = fleet.subscribers["ACC-1001"]
    bob = fleet.subscribers["ACC-1002"]
    actor = Actor("system", None, "tests")
    with db.transaction() as s:
        team = identity.create_team(s, name="Tier 1", kind="support", actor=TEST_ACTOR, now=now)
        other = identity.create_team(s, name="Billing", kind="support", actor=TEST_ACTOR, now=now)
        agent = identity.create_staff_user(
            s,
            email="agent@example.net",
            name="Ada Agent",
            role="agent",
            password=PASSWORD,
            actor=TEST_ACTOR,
            now=now,
            team_id=team.id,
        )
        colleague = identity.create_staff_user(
            s,
            email="colleague@example.net",
            name="Cole League",
            role="agent",
            password=PASSWORD,
            actor=TEST_ACTOR,
            now=now,
            team_id=team.id,
        )
        tech = identity.create_staff_user(
            s,
            email="tech@example.net",
            role="technician",
            password=PASSWORD,
            actor=TEST_ACTOR,
            now=now,
        )
        # Nobody is available: cases wait in the queue until someone takes them.
        for staff in (agent, colleague):
            actions.set_agent_profile(s, staff.id, now=now, actor=TEST_ACTOR, available=False)
        queue = actions.save_queue(
            s, name="Tier 1 general", team_id=team.id, is_default=True, now=now, actor=TEST_ACTOR
        )
        other_queue = actions.save_queue(
            s,
            name="Billing",
            team_id=other.id,
            categories=["billing"],
            rank=10,
            now=now,
            actor=TEST_ACTOR,
        )
        for priority, first, resolve in (("normal", 4, 24), ("high", 1, 8), ("urgent", 1, 4)):
            actions.save_sla_policy(
                s,
                name=f"{priority.capitalize()} 24x7",
                priority=priority,
                first_response_s=first * 3600,
                resolution_s=resolve * 3600,
                now=now,
                actor=TEST_ACTOR,
            )
        macro = actions.save_macro(
            s,
            name="Restarted",
            body="Hello {first_name}, we restarted your router (case {case_id}). {agent}",
            set_status="pending_subscriber",
            now=now,
            actor=TEST_ACTOR,
        )
        desk = Desk(
            team=team.id,
            other_team=other.id,
            agent=agent.id,
            colleague=colleague.id,
            technician=tech.id,
            queue=queue.id,
            other_queue=other_queue.id,
            macro=macro.id,
        )

        def open_(key: str, at: datetime, **kw: object) -> int:
            case = actions.open_case(s, now=at, actor=actor, **kw)  # type: ignore[arg-type]
            desk.cases[key] = case.id
            return case.id

        open_(
            "wifi",
            now - timedelta(hours=3),
            channel="email",
            subject="Wi-Fi drops in the evening",
            subscriber_id=alice,
            category="wifi",
            first=inbound(
                "My wifi keeps dropping every evening around 8pm.",
                subject="Wi-Fi drops",
                address="alice.smith@example.org",
                external_id="<m1@example.org>",
                body_html="<p>My wifi keeps <b>dropping</b></p>",
                attachments=[NewAttachment("speed.png", "image/png", b"\x89PNG fake")],
            ),
        )
        open_(
            "urgent",
            now - timedelta(hours=2),
            channel="phone",
            subject="No internet at all",
            subscriber_id=bob,
            category="no_internet",
            priority="urgent",
            first=inbound("Caller says nothing works since this morning.", channel="phone"),
        )
        open_(
            "hostile",
            now - timedelta(hours=1),
            channel="sms",
            subject=f"Help {HOSTILE}",
            subscriber_id=alice,
            category="general",
            first=inbound(f"router broken {HOSTILE}", channel="sms", address="+447700900001"),
        )
        open_(
            "billing",
            now - timedelta(minutes=30),
            channel="email",
            subject="Invoice is wrong",
            subscriber_id=bob,
            category="billing",
            first=inbound("I was charged twice.", address="bob@jones.example"),
        )
        mine = open_(
            "mine",
            now - timedelta(days=2),
            channel="live_chat",
            subject="Slow speeds on the laptop",
            subscriber_id=alice,
            category="slow_speed",
            first=inbound("Speed test shows 20 Mbps.", channel="live_chat"),
        )
        actions.assign(s, mine, agent.id, now=now - timedelta(days=1), actor=actor)
    return desk
