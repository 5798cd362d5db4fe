"""A working support desk out of the box: teams, queues, SLA policies and macros that a small
BSP can start with and change later (``homeport desk init``; the demo runs it too).

Nothing is overwritten: an existing team, queue, policy or macro of the same name (or, for a
policy, the same priority) is kept as the BSP left it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor
from homeport.health.detectors import KINDS
from homeport.identity import actions as identity_actions
from homeport.identity.models import Team
from homeport.support import actions
from homeport.support.models import Macro, SlaPolicy, SupportQueue

#: The BSP's opening hours for normal and low priority cases (urgent and high run 24x7).
OFFICE_HOURS = "mon-fri 08:00-20:00; sat 09:00-17:00"

WAN_KINDS = tuple(
    k
    for k in KINDS
    if k.startswith(
        ("wan", "speed", "high_l", "high_j", "packet", "buffer", "optical", "device_offline")
    )
)
WIFI_KINDS = tuple(k for k in KINDS if k not in WAN_KINDS)

#: (name, team, categories, channels, rank)
QUEUES: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...], int], ...] = (
    ("Proactive (NOC)", "Network operations", (), ("system",), 5),
    ("Connectivity", "Customer support", ("no_internet", "slow_speed", *WAN_KINDS), (), 10),
    ("Wi-Fi and devices", "Customer support", ("wifi", "equipment", *WIFI_KINDS), (), 20),
    # The chatbot hands cancellation requests here (homeport.selfservice.bot.CATEGORIES), and
    # a detractor's survey answer opens a follow-up (homeport.journey.surveys, channel system):
    # ranked before the NOC's queue, which takes every other case of channel system.
    ("Retention", "Retention", ("cancel_service", "retention_follow_up", "at_risk"), (), 4),
)
DEFAULT_QUEUE = ("General", "Customer support")
TEAMS = (
    ("Customer support", "support"),
    ("Network operations", "noc"),
    ("Field", "field"),
    ("Retention", "retention"),
)

#: priority -> (first response s, resolution s, business hours)
SLAS: dict[str, tuple[int, int, str]] = {
    "urgent": (15 * 60, 4 * 3600, "24x7"),
    "high": (3600, 8 * 3600, "24x7"),
    "normal": (4 * 3600, 24 * 3600, OFFICE_HOURS),
    "low": (8 * 3600, 72 * 3600, OFFICE_HOURS),
}

MACROS: tuple[tuple[str, str | None, str, str], ...] = (
    (
        "Remote fix done",
        None,
        "Hi {first_name},\n\nI have just run a remote check on your connection and fixed what "
        "I found. Everything looks healthy from here now. If anything still does not work, "
        "reply to this message and I will pick it up.\n\nBest regards,\n{agent}",
        "pending_subscriber",
    ),
    (
        "Outage in your area",
        "no_internet",
        "Hi {first_name},\n\nThere is a network fault in your area that our engineers are "
        "working on. Your service will come back on its own once it is repaired; you do not "
        "need to do anything. We will let you know when it is fixed.\n\n{agent}",
        "",
    ),
    (
        "Need more information",
        None,
        "Hi {first_name},\n\nThank you for getting in touch. To help you quickly, could you "
        "tell me which devices are affected and since when?\n\n{agent}",
        "pending_subscriber",
    ),
    (
        "Technician booked",
        None,
        "Hi {first_name},\n\nI have booked a technician visit for you. You will receive the "
        "time window separately. Reference: case {case_id}.\n\n{agent}",
        "pending_field",
    ),
)


@dataclass(frozen=True)
class Installed:
    teams: int
    queues: int
    policies: int
    macros: int


def install(session: Session, *, now: datetime, actor: Actor, timezone: str) -> Installed:
    """Create whatever of the default desk is missing; returns how many of each were made."""
    teams = {t.name: t for t in session.scalars(select(Team))}
    made_teams = 0
    for name, kind in TEAMS:
        if name not in teams:
            teams[name] = identity_actions.create_team(
                session, name=name, kind=kind, actor=actor, now=now
            )
            made_teams += 1
    queues = set(session.scalars(select(SupportQueue.name)))
    made_queues = 0
    for name, team, categories, channels, rank in QUEUES:
        if name not in queues:
            actions.save_queue(
                session,
                name=name,
                team_id=teams[team].id,
                categories=categories,
                channels=channels,
                rank=rank,
                now=now,
                actor=actor,
            )
            made_queues += 1
    if DEFAULT_QUEUE[0] not in queues:
        actions.save_queue(
            session,
            name=DEFAULT_QUEUE[0],
            team_id=teams[DEFAULT_QUEUE[1]].id,
            is_default=True,
            now=now,
            actor=actor,
        )
        made_queues += 1
    priorities = set(session.scalars(select(SlaPolicy.priority).where(SlaPolicy.plan_id.is_(None))))
    made_policies = 0
    for priority, (first, resolve, hours) in SLAS.items():
        if priority not in priorities:
            actions.save_sla_policy(
                session,
                name=f"{priority.capitalize()} priority",
                priority=priority,
                first_response_s=first,
                resolution_s=resolve,
                business_hours=hours,
                timezone=timezone,
                now=now,
                actor=actor,
            )
            made_policies += 1
    macros = set(session.scalars(select(Macro.name)))
    made_macros = 0
    for name, category, body, status in MACROS:
        if name not in macros:
            actions.save_macro(
                session,
                name=name,
                body=body,
                category=category,
                set_status=status,
                now=now,
                actor=actor,
            )
            made_macros += 1
    return Installed(made_teams, made_queues, made_policies, made_macros)
