"""Writes of the support domain: the only module that persists cases, interactions, tags,
macros and SLA clocks and publishes their events.

Proactive cases (DESIGN.md 5a): one live proactive case per (subscriber, category),
guaranteed by the partial unique index ``uq_cases_live_proactive`` even when two processes
escalate at once; a repeat updates the existing case instead of opening another.

Reactive cases open from a first interaction in any channel. Every case is routed to a queue
and, when an agent has capacity, assigned (:mod:`homeport.support.routing`); its SLA clocks
start from the policy for its priority and plan (:mod:`homeport.support.sla`) and pause while
the case waits on the subscriber. An interaction that a channel delivers twice (same channel
and external id: Message-ID, call id, SMS id) is recognised and not stored again.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.db import Database
from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.core.events import Event, publish
from homeport.health.detectors import TITLES
from homeport.health.events import FindingEscalated
from homeport.identity.models import StaffUser
from homeport.subscribers.models import Subscriber
from homeport.support import routing
from homeport.support.dispatch import WorkOrderCompleted, WorkOrderCreated
from homeport.support.models import (
    AUTHORS,
    CASE_STATUSES,
    CHANNELS,
    DIRECTIONS,
    LIVE_STATUSES,
    OUTCOMES,
    PRIORITIES,
    AgentProfile,
    Attachment,
    Case,
    CaseTag,
    Interaction,
    Macro,
    OutboundMessage,
    SlaPolicy,
    SupportQueue,
)
from homeport.support.service import outage_for_subscriber
from homeport.support.sla import BusinessHours

log = logging.getLogger("homeport.support")
ACTOR = Actor.system("proactive")
#: Finding severity → case priority.
PRIORITY_OF = {"critical": "high", "warning": "normal", "info": "low"}


@dataclass(frozen=True)
class CaseOpened(Event):
    case_id: int
    subscriber_id: int
    origin: str
    category: str


@dataclass(frozen=True)
class CaseUpdated(Event):
    case_id: int
    subscriber_id: int


_LIVE_PROACTIVE = text(f"origin = 'proactive' AND status IN {LIVE_STATUSES!r}")


def open_proactive_case(
    session: Session,
    *,
    subscriber_id: int,
    category: str,
    subject: str,
    description: str,
    priority: str,
    now: datetime,
    finding_id: int | None = None,
    outage_id: int | None = None,
) -> tuple[Case, bool]:
    """The subscriber's live proactive case for ``category``, opened now unless one is already
    live (then it is updated). Returns the case and whether it was opened by this call."""
    problems = []
    if priority not in PRIORITIES:
        problems.append(FieldError("priority", f"one of {', '.join(PRIORITIES)}"))
    if not category or len(category) > 40:
        problems.append(FieldError("category", "1 to 40 characters"))
    if not subject.strip():
        problems.append(FieldError("subject", "required"))
    if problems:
        raise ValidationFailed("invalid proactive case", problems)
    if session.get(Subscriber, subscriber_id) is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    values = {
        "subscriber_id": subscriber_id,
        "origin": "proactive",
        "channel": "system",
        "category": category,
        "priority": priority,
        "status": "new",
        "subject": subject.strip()[:200],
        "description": description,
        "finding_id": finding_id,
        "outage_id": outage_id,
        "opened_at": now,
        "updated_at": now,
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(Case)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["subscriber_id", "category"], index_where=_LIVE_PROACTIVE
        )
        .returning(Case.id)
    )
    new_id = session.execute(stmt).scalar()
    if new_id is not None:
        case = session.get_one(Case, new_id)
        subscriber = session.get_one(Subscriber, subscriber_id)
        _start_sla(session, case, subscriber.plan_id)
        record(
            session,
            at=now,
            actor=ACTOR,
            action="case.opened",
            entity_type="case",
            entity_id=case.id,
            subscriber_id=subscriber_id,
            origin="proactive",
            category=category,
            finding_id=finding_id,
        )
        publish(session, CaseOpened(case.id, subscriber_id, "proactive", category))
        _route(session, case, now, ACTOR)
        return case, True
    case = session.scalars(
        select(Case)
        .where(
            Case.subscriber_id == subscriber_id,
            Case.category == category,
            Case.origin == "proactive",
            Case.status.in_(LIVE_STATUSES),
        )
        .with_for_update()
    ).one()
    case.updated_at = now
    if PRIORITIES.index(priority) > PRIORITIES.index(case.priority):
        case.priority = priority
    note = f"\n\n[{now.isoformat()}] Seen again: {subject.strip()}"
    if description:
        note += f"\n{description}"
    case.description = (case.description + note)[-20_000:]
    if case.finding_id is None:
        case.finding_id = finding_id
    record(
        session,
        at=now,
        actor=ACTOR,
        action="case.updated",
        entity_type="case",
        entity_id=case.id,
        finding_id=finding_id,
    )
    publish(session, CaseUpdated(case.id, subscriber_id))
    return case, False


def case_for_escalation(session: Session, event: FindingEscalated) -> Case:
    """Open (or update) the proactive case for an escalated finding."""
    reasons = {
        "critical": "a critical problem",
        "remediation_failed": "the automatic fix did not work",
        "remediation_refused": "the automatic fix was not allowed",
        "persistent": "the problem persists",
    }
    title = TITLES.get(event.kind, event.kind.replace("_", " ").capitalize())
    case, _ = open_proactive_case(
        session,
        subscriber_id=event.subscriber_id,
        category=event.kind,
        subject=f"{title}: {event.summary}",
        description=f"Opened by Homeport health: {reasons.get(event.reason, event.reason)}.",
        priority=PRIORITY_OF.get(event.severity, "normal"),
        now=event.at,
        finding_id=event.finding_id,
    )
    return case


@dataclass(frozen=True)
class InteractionAdded(Event):
    case_id: int
    interaction_id: int
    subscriber_id: int | None
    channel: str
    direction: str
    author_kind: str


@dataclass(frozen=True)
class CaseStatusChanged(Event):
    case_id: int
    subscriber_id: int | None
    status: str
    previous: str


@dataclass(frozen=True)
class CaseAssigned(Event):
    case_id: int
    assignee_id: int | None
    queue_id: int | None


@dataclass(frozen=True)
class SlaWarning(Event):
    case_id: int
    assignee_id: int | None
    clock: str  # "first_response" | "resolution"
    due_at: datetime


@dataclass(frozen=True)
class SlaBreached(Event):
    case_id: int
    assignee_id: int | None
    clock: str
    due_at: datetime


@dataclass(frozen=True)
class NewAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class NewInteraction:
    """What a channel (or an agent) says on a case. ``external_id`` is the channel's own id of
    the message (email Message-ID, call id, SMS id) and makes a redelivery harmless."""

    channel: str
    direction: str
    author_kind: str
    body: str = ""
    subject: str = ""
    address: str = ""
    body_html: str = ""
    external_id: str | None = None
    author_id: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    handle_time_s: int | None = None
    attachments: Sequence[NewAttachment] = ()


#: Most characters of one interaction body kept (a pasted log, a long email thread).
MAX_BODY = 200_000
#: Longest chat message kept (characters), from the subscriber, an agent or the chatbot.
MAX_CHAT_MESSAGE = 4000
#: A chat client's id of one message, which makes a resend after a dropped connection harmless.
MAX_CHAT_CLIENT_ID = 64
MAX_ATTACHMENT = 10 * 1024 * 1024
_TAG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


def clean_chat_message(body: str, client_id: str) -> str:
    """A chat message's text, stripped, or :class:`ValidationFailed` (empty, too long, or a
    missing or overlong client id)."""
    problems = []
    text = body.strip()
    if not text:
        problems.append(FieldError("body", "required"))
    elif len(text) > MAX_CHAT_MESSAGE:
        problems.append(FieldError("body", f"at most {MAX_CHAT_MESSAGE} characters"))
    if not 0 < len(client_id) <= MAX_CHAT_CLIENT_ID:
        problems.append(FieldError("client_id", f"1 to {MAX_CHAT_CLIENT_ID} characters"))
    if problems:
        raise ValidationFailed("invalid chat message", problems)
    return text


def _check_interaction(item: NewInteraction) -> list[FieldError]:
    problems = []
    if item.channel not in CHANNELS:
        problems.append(FieldError("channel", f"one of {', '.join(CHANNELS)}"))
    if item.direction not in DIRECTIONS:
        problems.append(FieldError("direction", f"one of {', '.join(DIRECTIONS)}"))
    if item.author_kind not in AUTHORS:
        problems.append(FieldError("author_kind", f"one of {', '.join(AUTHORS)}"))
    if item.direction == "internal" and item.author_kind != "agent":
        problems.append(FieldError("direction", "only agents write internal notes"))
    # A phone call is logged by its times; every other contact says something.
    empty = not (item.body.strip() or item.attachments)
    if item.direction != "internal" and empty and item.channel != "phone":
        problems.append(FieldError("body", "required"))
    if item.handle_time_s is not None and item.handle_time_s < 0:
        problems.append(FieldError("handle_time_s", "0 or more seconds"))
    if item.external_id is not None and not 0 < len(item.external_id) <= 300:
        problems.append(FieldError("external_id", "1 to 300 characters"))
    for a in item.attachments:
        if len(a.data) > MAX_ATTACHMENT:
            problems.append(FieldError("attachments", f"{a.filename}: larger than 10 MB"))
    return problems


def _get_case(session: Session, case_id: int, *, lock: bool = False) -> Case:
    stmt = select(Case).where(Case.id == case_id)
    if lock:
        stmt = stmt.with_for_update()
    case = session.scalars(stmt).first()
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


def live_case(session: Session, case_id: int) -> Case:
    """The case (locked for update), following merges to the case it was merged into."""
    case = _get_case(session, case_id, lock=True)
    seen = {case.id}
    while case.merged_into_id is not None and case.merged_into_id not in seen:
        case = _get_case(session, case.merged_into_id, lock=True)
        seen.add(case.id)
    return case


def sla_policy_for(session: Session, priority: str, plan_id: int | None) -> SlaPolicy | None:
    """The policy for this priority and plan, else the priority's policy for every plan."""
    rows = session.scalars(
        select(SlaPolicy).where(
            SlaPolicy.priority == priority,
            or_(SlaPolicy.plan_id == plan_id, SlaPolicy.plan_id.is_(None)),
        )
    ).all()
    specific = [p for p in rows if p.plan_id is not None]
    chosen = specific or list(rows)
    return chosen[0] if chosen else None


def _hours(policy: SlaPolicy) -> BusinessHours:
    return BusinessHours.parse(policy.business_hours, policy.timezone)


def _start_sla(session: Session, case: Case, plan_id: int | None) -> None:
    policy = sla_policy_for(session, case.priority, plan_id)
    case.sla_policy_id = policy.id if policy else None
    if policy is None:
        case.first_response_due_at = case.resolution_due_at = None
        return
    hours = _hours(policy)
    case.first_response_due_at = (
        None if case.first_response_at else hours.add(case.opened_at, policy.first_response_s)
    )
    case.resolution_due_at = hours.add(case.opened_at, policy.resolution_s)


def _route(session: Session, case: Case, now: datetime, actor: Actor) -> None:
    queue = routing.queue_for(session, category=case.category, channel=case.channel)
    if queue is None:
        return
    case.queue_id = queue.id
    case.team_id = queue.team_id
    if case.assignee_id is None:
        case.assignee_id = routing.pick_agent(session, queue)
    if case.assignee_id is not None:
        record(
            session,
            at=now,
            actor=actor,
            action="case.assigned",
            entity_type="case",
            entity_id=case.id,
            assignee_id=case.assignee_id,
            queue_id=queue.id,
            routed=True,
        )
        publish(session, CaseAssigned(case.id, case.assignee_id, queue.id))


def find_subscriber(session: Session, *, email: str = "", phone: str = "") -> Subscriber | None:
    """The subscriber with this email address or phone number (digits compared), if exactly
    one has it."""
    if email:
        rows = session.scalars(
            select(Subscriber).where(func.lower(Subscriber.email) == email.strip().lower()).limit(2)
        ).all()
        if len(rows) == 1:
            return rows[0]
    digits = re.sub(r"\D", "", phone)
    if len(digits) >= 6:
        # Compare the last 9 digits so +44 7700 900123 matches 07700 900123.
        tail = digits[-9:]
        candidates = session.scalars(
            select(Subscriber).where(Subscriber.phone.like(f"%{tail[-4:]}%")).limit(200)
        ).all()
        found = [s for s in candidates if re.sub(r"\D", "", s.phone).endswith(tail)]
        if len(found) == 1:
            return found[0]
    return None


def open_case(
    session: Session,
    *,
    now: datetime,
    actor: Actor,
    channel: str,
    subject: str,
    first: NewInteraction | None = None,
    subscriber_id: int | None = None,
    contact: str = "",
    category: str = "general",
    priority: str = "normal",
    description: str = "",
) -> Case:
    """Open a reactive case (a subscriber got in touch, or an agent logged a contact), with its
    first interaction. The case is linked to the subscriber's open area outage, routed and its
    SLA clocks started, all in the caller's transaction."""
    problems = []
    if channel not in CHANNELS:
        problems.append(FieldError("channel", f"one of {', '.join(CHANNELS)}"))
    if priority not in PRIORITIES:
        problems.append(FieldError("priority", f"one of {', '.join(PRIORITIES)}"))
    if not category or len(category) > 40:
        problems.append(FieldError("category", "1 to 40 characters"))
    if not subject.strip():
        problems.append(FieldError("subject", "required"))
    if subscriber_id is None and not contact.strip():
        problems.append(FieldError("subscriber_id", "a subscriber or a contact address"))
    if first is not None:
        problems += _check_interaction(first)
    if problems:
        raise ValidationFailed("invalid case", problems)
    plan_id = None
    outage_id = None
    if subscriber_id is not None:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None:
            raise NotFound(f"no subscriber {subscriber_id}")
        plan_id = subscriber.plan_id
        outage = outage_for_subscriber(session, subscriber_id)
        outage_id = outage.id if outage else None
    case = Case(
        subscriber_id=subscriber_id,
        contact=contact.strip()[:254],
        origin="reactive",
        channel=channel,
        category=category,
        priority=priority,
        status="new",
        subject=subject.strip()[:200],
        description=description,
        outage_id=outage_id,
        opened_at=now,
        updated_at=now,
        resolution_notes="",
    )
    session.add(case)
    session.flush()
    _start_sla(session, case, plan_id)
    record(
        session,
        at=now,
        actor=actor,
        action="case.opened",
        entity_type="case",
        entity_id=case.id,
        subscriber_id=subscriber_id,
        origin="reactive",
        channel=channel,
        category=category,
        outage_id=outage_id,
    )
    publish(session, CaseOpened(case.id, subscriber_id or 0, "reactive", category))
    _route(session, case, now, actor)
    if first is not None:
        _add(session, case, first, now=now, actor=actor)
    return case


def find_interaction(session: Session, channel: str, external_id: str) -> Interaction | None:
    return session.scalars(
        select(Interaction).where(
            Interaction.channel == channel, Interaction.external_id == external_id
        )
    ).first()


def add_interaction(
    session: Session, case_id: int, item: NewInteraction, *, now: datetime, actor: Actor
) -> tuple[Interaction, bool]:
    """Record one contact on a case (following a merge to the surviving case). Returns the
    interaction and whether it is new; a redelivered one (same channel and external id) is
    returned as it was stored. A subscriber's message reopens a solved case and resumes a
    case pending on them; an agent's first reply stops the first-response clock. A closed
    case takes no more interactions: the caller opens a new case."""
    problems = _check_interaction(item)
    if problems:
        raise ValidationFailed("invalid interaction", problems)
    if item.external_id:
        existing = find_interaction(session, item.channel, item.external_id)
        if existing is not None:
            return existing, False
    case = live_case(session, case_id)
    if case.status == "closed":
        raise Conflict(f"case {case.id} is closed: open a new case")
    return _add(session, case, item, now=now, actor=actor), True


def _add(
    session: Session, case: Case, item: NewInteraction, *, now: datetime, actor: Actor
) -> Interaction:
    body = item.body[:MAX_BODY]
    started = item.started_at or now
    interaction = Interaction(
        case_id=case.id,
        channel=item.channel,
        direction=item.direction,
        author_kind=item.author_kind,
        author_id=item.author_id,
        address=item.address[:254],
        subject=item.subject[:300],
        body=body,
        body_html=item.body_html[:MAX_BODY],
        external_id=item.external_id,
        meta=item.meta,
        started_at=started,
        ended_at=item.ended_at,
        handle_time_s=item.handle_time_s,
    )
    session.add(interaction)
    session.flush()
    for a in item.attachments:
        session.add(
            Attachment(
                interaction_id=interaction.id,
                filename=(a.filename or "attachment")[:255],
                content_type=(a.content_type or "application/octet-stream")[:127],
                size=len(a.data),
                sha256=hashlib.sha256(a.data).hexdigest(),
                data=a.data,
            )
        )
    case.updated_at = now
    if item.direction == "inbound" and item.author_kind == "subscriber":
        if case.status in ("pending_subscriber", "solved"):
            _set_status(session, case, "open", now=now, actor=actor, reason="subscriber replied")
    elif item.direction == "outbound" and item.author_kind in ("agent", "bot"):
        if case.first_response_at is None:
            case.first_response_at = now
        if case.status == "new":
            _set_status(session, case, "open", now=now, actor=actor, reason="first response")
    elif item.direction == "internal" and case.status == "new":
        _set_status(session, case, "open", now=now, actor=actor, reason="agent working")
    record(
        session,
        at=now,
        actor=actor,
        action="interaction.added",
        entity_type="case",
        entity_id=case.id,
        interaction_id=interaction.id,
        channel=item.channel,
        direction=item.direction,
        attachments=len(item.attachments),
    )
    publish(
        session,
        InteractionAdded(
            case.id,
            interaction.id,
            case.subscriber_id,
            item.channel,
            item.direction,
            item.author_kind,
        ),
    )
    return interaction


def update_interaction(
    session: Session,
    interaction_id: int,
    *,
    now: datetime,
    actor: Actor,
    meta: dict[str, Any] | None = None,
    ended_at: datetime | None = None,
    handle_time_s: int | None = None,
    answered: bool = False,
) -> Interaction:
    """Complete a contact that lasts (a call): its channel facts (``meta``, replaced), its end
    and handle time. ``answered`` marks an inbound call as picked up by the desk, which is the
    case's first response (its clock stops) and opens a new case."""
    problems = []
    if handle_time_s is not None and handle_time_s < 0:
        problems.append(FieldError("handle_time_s", "0 or more seconds"))
    interaction = session.get(Interaction, interaction_id)
    if interaction is None:
        raise NotFound(f"no interaction {interaction_id}")
    if ended_at is not None and ended_at < interaction.started_at:
        problems.append(FieldError("ended_at", "not before the interaction started"))
    if problems:
        raise ValidationFailed("invalid interaction update", problems)
    if meta is not None:
        interaction.meta = dict(meta)  # a new dict, so that the JSON column sees the change
    if ended_at is not None:
        interaction.ended_at = ended_at
    if handle_time_s is not None:
        interaction.handle_time_s = handle_time_s
    case = _get_case(session, interaction.case_id, lock=True)
    case.updated_at = max(case.updated_at, now)
    if answered and interaction.direction == "inbound":
        if case.first_response_at is None:
            case.first_response_at = now
        if case.status == "new":
            _set_status(session, case, "open", now=now, actor=actor, reason="call answered")
    record(
        session,
        at=now,
        actor=actor,
        action="interaction.updated",
        entity_type="case",
        entity_id=case.id,
        interaction_id=interaction.id,
        ended=ended_at is not None,
        handle_time_s=handle_time_s,
        answered=answered,
    )
    return interaction


def _resume_sla(session: Session, case: Case, now: datetime) -> None:
    """Move the due times forward by the business time the clock was paused."""
    if case.sla_paused_at is None:
        return
    policy = session.get(SlaPolicy, case.sla_policy_id) if case.sla_policy_id else None
    if policy is not None:
        hours = _hours(policy)
        paused = hours.between(case.sla_paused_at, now)
        if case.first_response_due_at and case.first_response_at is None:
            case.first_response_due_at = hours.add(case.first_response_due_at, paused)
        if case.resolution_due_at:
            case.resolution_due_at = hours.add(case.resolution_due_at, paused)
    case.sla_paused_at = None


def _set_status(
    session: Session,
    case: Case,
    status: str,
    *,
    now: datetime,
    actor: Actor,
    reason: str = "",
    outcome: str | None = None,
    notes: str | None = None,
) -> None:
    previous = case.status
    if previous == status:
        return
    if previous == "pending_subscriber":
        _resume_sla(session, case, now)
    if status == "pending_subscriber":
        case.sla_paused_at = now
    if status == "solved":
        case.solved_at = now
        case.outcome = outcome
        if notes is not None:
            case.resolution_notes = notes
    elif status == "closed":
        case.closed_at = now
    elif previous in ("solved",):
        # Reopened: the earlier resolution no longer stands.
        case.solved_at = None
        case.outcome = None
    case.status = status
    case.updated_at = now
    record(
        session,
        at=now,
        actor=actor,
        action="case.status",
        entity_type="case",
        entity_id=case.id,
        previous=previous,
        status=status,
        outcome=outcome,
        reason=reason,
    )
    publish(session, CaseStatusChanged(case.id, case.subscriber_id, status, previous))


def set_status(
    session: Session,
    case_id: int,
    status: str,
    *,
    now: datetime,
    actor: Actor,
    outcome: str | None = None,
    notes: str | None = None,
) -> Case:
    """Move a case to ``status``. Solving needs an outcome code; only a solved case can be
    closed; a closed case stays closed."""
    problems = []
    if status not in CASE_STATUSES:
        problems.append(FieldError("status", f"one of {', '.join(CASE_STATUSES)}"))
    if status == "solved" and outcome not in OUTCOMES:
        problems.append(FieldError("outcome", f"solving needs one of {', '.join(OUTCOMES)}"))
    if status != "solved" and outcome is not None:
        problems.append(FieldError("outcome", "only given when solving"))
    if problems:
        raise ValidationFailed("invalid status change", problems)
    case = _get_case(session, case_id, lock=True)
    if case.status == "closed":
        raise Conflict(f"case {case.id} is closed")
    if status == "closed" and case.status != "solved":
        raise Conflict(f"case {case.id} is {case.status}: solve it before closing")
    if case.merged_into_id is not None:
        raise Conflict(f"case {case.id} was merged into case {case.merged_into_id}")
    _set_status(session, case, status, now=now, actor=actor, outcome=outcome, notes=notes)
    return case


def assign(
    session: Session, case_id: int, assignee_id: int | None, *, now: datetime, actor: Actor
) -> Case:
    """Give the case to a staff user (``None``: back to the queue)."""
    case = _get_case(session, case_id, lock=True)
    if case.status == "closed":
        raise Conflict(f"case {case.id} is closed")
    if assignee_id is not None:
        staff = session.get(StaffUser, assignee_id)
        if staff is None or not staff.is_active:
            raise ValidationFailed(
                "invalid assignee", [FieldError("assignee_id", "no active staff user")]
            )
        if staff.role not in (*routing.AGENT_ROLES, "admin"):
            raise ValidationFailed(
                "invalid assignee",
                [FieldError("assignee_id", f"a {staff.role} does not work cases")],
            )
    if case.assignee_id == assignee_id:
        return case
    case.assignee_id = assignee_id
    case.updated_at = now
    record(
        session,
        at=now,
        actor=actor,
        action="case.assigned",
        entity_type="case",
        entity_id=case.id,
        assignee_id=assignee_id,
    )
    publish(session, CaseAssigned(case.id, assignee_id, case.queue_id))
    return case


def set_category(
    session: Session,
    case_id: int,
    *,
    now: datetime,
    actor: Actor,
    category: str | None = None,
    priority: str | None = None,
) -> Case:
    """Recategorise or reprioritise; a new priority restarts the SLA targets from the
    opening time under the matching policy."""
    problems = []
    if category is not None and not 0 < len(category) <= 40:
        problems.append(FieldError("category", "1 to 40 characters"))
    if priority is not None and priority not in PRIORITIES:
        problems.append(FieldError("priority", f"one of {', '.join(PRIORITIES)}"))
    if problems:
        raise ValidationFailed("invalid case change", problems)
    case = _get_case(session, case_id, lock=True)
    changes: dict[str, object] = {}
    if category is not None and category != case.category:
        changes["category"] = [case.category, category]
        case.category = category
    if priority is not None and priority != case.priority:
        changes["priority"] = [case.priority, priority]
        case.priority = priority
        plan_id = None
        if case.subscriber_id is not None:
            sub = session.get(Subscriber, case.subscriber_id)
            plan_id = sub.plan_id if sub else None
        _start_sla(session, case, plan_id)
    if changes:
        case.updated_at = now
        record(
            session,
            at=now,
            actor=actor,
            action="case.changed",
            entity_type="case",
            entity_id=case.id,
            **changes,
        )
    return case


def link_subscriber(
    session: Session, case_id: int, subscriber_id: int, *, now: datetime, actor: Actor
) -> Case:
    """Attach a case from an unknown sender to the subscriber the agent identified."""
    case = _get_case(session, case_id, lock=True)
    if session.get(Subscriber, subscriber_id) is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    if case.subscriber_id == subscriber_id:
        return case
    previous = case.subscriber_id
    case.subscriber_id = subscriber_id
    outage = outage_for_subscriber(session, subscriber_id)
    if outage is not None and case.outage_id is None:
        case.outage_id = outage.id
    case.updated_at = now
    record(
        session,
        at=now,
        actor=actor,
        action="case.subscriber_linked",
        entity_type="case",
        entity_id=case.id,
        subscriber_id=subscriber_id,
        previous=previous,
    )
    return case


def set_tags(
    session: Session, case_id: int, tags: Sequence[str], *, now: datetime, actor: Actor
) -> list[str]:
    """Replace the case's tags (lower-case words of letters, digits, ``_ . -``)."""
    clean = sorted({t.strip().lower() for t in tags if t.strip()})
    bad = [t for t in clean if not _TAG.match(t)]
    if bad:
        raise ValidationFailed(
            "invalid tags",
            [FieldError("tags", f"{t!r}: letters, digits, _ . - up to 40") for t in bad],
        )
    case = _get_case(session, case_id, lock=True)
    before = sorted(session.scalars(select(CaseTag.tag).where(CaseTag.case_id == case.id)))
    if before == clean:
        return clean
    session.execute(delete(CaseTag).where(CaseTag.case_id == case.id))
    session.add_all(CaseTag(case_id=case.id, tag=t) for t in clean)
    case.updated_at = now
    record(
        session,
        at=now,
        actor=actor,
        action="case.tags",
        entity_type="case",
        entity_id=case.id,
        before=before,
        after=clean,
    )
    return clean


def add_note(
    session: Session,
    case_id: int,
    body: str,
    *,
    now: datetime,
    actor: Actor,
    author_id: int | None,
    meta: dict[str, Any] | None = None,
) -> Interaction:
    """An internal note: seen by staff only, never sent to the subscriber. ``meta`` links it to
    what it reports (a remote action, a guided step)."""
    note = NewInteraction(
        channel="system",
        direction="internal",
        author_kind="agent",
        author_id=author_id,
        body=body,
        meta=meta or {},
    )
    if not body.strip():
        raise ValidationFailed("empty note", [FieldError("body", "required")])
    interaction, _ = add_interaction(session, case_id, note, now=now, actor=actor)
    return interaction


def merge(
    session: Session, duplicate_id: int, into_id: int, *, now: datetime, actor: Actor
) -> Case:
    """Merge a duplicate case into another of the same subscriber: its interactions move to
    the surviving case and it is solved with outcome ``duplicate``."""
    if duplicate_id == into_id:
        raise ValidationFailed("cannot merge", [FieldError("into", "a different case")])
    dup = _get_case(session, duplicate_id, lock=True)
    into = live_case(session, into_id)
    if into.id == dup.id:
        raise Conflict(f"case {into_id} was merged into case {duplicate_id}")
    if dup.subscriber_id is not None and into.subscriber_id not in (None, dup.subscriber_id):
        raise Conflict("cases of different subscribers cannot be merged")
    if into.status == "closed":
        raise Conflict(f"case {into.id} is closed")
    if dup.status == "closed":
        raise Conflict(f"case {dup.id} is closed")
    moved = session.execute(
        update(Interaction)
        .where(Interaction.case_id == dup.id)
        .values(case_id=into.id)
        .returning(Interaction.id)
    ).all()
    if into.subscriber_id is None and dup.subscriber_id is not None:
        into.subscriber_id = dup.subscriber_id
    dup.merged_into_id = into.id
    _set_status(
        session,
        dup,
        "solved",
        now=now,
        actor=actor,
        outcome="duplicate",
        notes=f"Merged into case {into.id}.",
        reason="merged",
    )
    into.updated_at = now
    record(
        session,
        at=now,
        actor=actor,
        action="case.merged",
        entity_type="case",
        entity_id=into.id,
        duplicate_id=dup.id,
        interactions_moved=len(moved),
    )
    return into


class _Placeholders(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_macro(body: str, *, subscriber: Subscriber | None, case: Case, agent_name: str) -> str:
    """Fill a macro's placeholders: ``{first_name}``, ``{name}``, ``{account_number}``,
    ``{plan}``, ``{case_id}``, ``{agent}``. Unknown placeholders stay as written."""
    values = _Placeholders(
        first_name=(subscriber.name.split()[0] if subscriber and subscriber.name else "there"),
        name=subscriber.name if subscriber else "",
        account_number=subscriber.account_number if subscriber else "",
        plan=subscriber.plan.name if subscriber and subscriber.plan else "",
        case_id=str(case.id),
        agent=agent_name,
    )
    return body.format_map(values)


def save_macro(
    session: Session,
    *,
    name: str,
    body: str,
    now: datetime,
    actor: Actor,
    category: str | None = None,
    set_status: str = "",
) -> Macro:
    problems = []
    if not 0 < len(name.strip()) <= 100:
        problems.append(FieldError("name", "1 to 100 characters"))
    if not body.strip():
        problems.append(FieldError("body", "required"))
    if set_status and set_status not in LIVE_STATUSES:
        problems.append(FieldError("set_status", f"one of {', '.join(LIVE_STATUSES)}"))
    if problems:
        raise ValidationFailed("invalid macro", problems)
    macro = session.scalars(select(Macro).where(Macro.name == name.strip())).first()
    if macro is None:
        macro = Macro(name=name.strip(), body=body, created_at=now)
        session.add(macro)
    macro.body = body
    macro.category = category
    macro.set_status = set_status
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="macro.saved",
        entity_type="macro",
        entity_id=macro.id,
        name=macro.name,
    )
    return macro


def queue_outbound(
    session: Session,
    *,
    channel: str,
    recipient: str,
    body: str,
    now: datetime,
    subject: str = "",
    headers: dict[str, Any] | None = None,
    case_id: int | None = None,
    interaction_id: int | None = None,
) -> OutboundMessage:
    """Commit a message for the worker to send (email or SMS): it goes out after the change
    that caused it is committed, and is retried if the server is down."""
    if channel not in ("email", "sms"):
        raise ValidationFailed("invalid outbound", [FieldError("channel", "email or sms")])
    if not recipient.strip():
        raise ValidationFailed("invalid outbound", [FieldError("recipient", "required")])
    message = OutboundMessage(
        channel=channel,
        recipient=recipient.strip(),
        subject=subject[:300],
        body=body,
        headers=headers or {},
        case_id=case_id,
        interaction_id=interaction_id,
        status="queued",
        attempts=0,
        last_error="",
        created_at=now,
        next_attempt_at=now,
    )
    session.add(message)
    session.flush()
    return message


@dataclass(frozen=True)
class Retry:
    """How an outbound message is retried: ``backoff`` doubling per failed attempt (1, 2, 4 …
    minutes), at most ``max_backoff`` apart, given up after ``max_attempts``."""

    max_attempts: int = 10
    backoff: timedelta = timedelta(minutes=1)
    max_backoff: timedelta = timedelta(hours=1)

    def at(self, attempts: int, now: datetime) -> datetime:
        """When to try again after ``attempts`` failed attempts."""
        delay: timedelta = self.backoff * (2 ** max(0, attempts - 1))
        return now + min(delay, self.max_backoff)


@dataclass
class SendRun:
    """What one run of an outbound sender did, by outcome of each message."""

    #: How the messages are called in the summary ("SMS"), or nothing.
    noun: str = ""
    sent: int = 0
    retried: int = 0
    failed: int = 0

    def add(self, outcome: str) -> None:
        """Count one message's outcome: ``"sent"``, ``"retry"`` or ``"failed"``."""
        if outcome == "sent":
            self.sent += 1
        elif outcome == "failed":
            self.failed += 1
        else:
            self.retried += 1

    def __str__(self) -> str:
        noun = f"{self.noun} " if self.noun else ""
        return f"{self.sent} {noun}sent, {self.retried} to retry, {self.failed} failed"


def due_outbound(
    session: Session, channel: str, *, now: datetime, limit: int
) -> list[OutboundMessage]:
    """Queued messages of ``channel`` due now, oldest due first, locked for this sender
    (another sender process skips them: ``SKIP LOCKED`` on PostgreSQL)."""
    return list(
        session.scalars(
            select(OutboundMessage)
            .where(
                OutboundMessage.channel == channel,
                OutboundMessage.status == "queued",
                OutboundMessage.next_attempt_at <= now,
            )
            .order_by(OutboundMessage.next_attempt_at, OutboundMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def outbound_sent(
    message: OutboundMessage, *, now: datetime, headers: dict[str, Any] | None = None
) -> None:
    """The channel accepted the message (``headers``: what it answered, e.g. its id)."""
    message.status = "sent"
    message.sent_at = now
    message.attempts += 1
    message.last_error = ""
    if headers:
        message.headers = {**(message.headers or {}), **headers}


def outbound_failed(
    message: OutboundMessage, error: str, *, now: datetime, permanent: bool, retry: Retry
) -> str:
    """One failed attempt: ``"failed"`` when permanent or out of attempts, else ``"retry"``
    with the next attempt scheduled. Logged either way."""
    message.attempts += 1
    message.last_error = error[:2000]
    what = f"{message.channel} {message.id} to {message.recipient}"
    if permanent or message.attempts >= retry.max_attempts:
        message.status = "failed"
        log.warning("%s failed: %s", what, error)
        return "failed"
    message.next_attempt_at = retry.at(message.attempts, now)
    log.info("%s: %s; retry at %s", what, error, message.next_attempt_at.isoformat())
    return "retry"


def fill_capacity(session: Session, *, now: datetime, actor: Actor | None = None) -> int:
    """Assign waiting (unassigned, live) cases of every queue to agents with free capacity,
    most urgent and oldest first, after giving a queue to live cases that have none. Returns
    how many were assigned."""
    actor = actor or Actor.system("routing")
    # Live cases opened before any queue existed (or whose queue was deleted) are routed now.
    orphans = session.scalars(
        select(Case)
        .where(
            Case.queue_id.is_(None),
            Case.status.in_(LIVE_STATUSES),
            Case.merged_into_id.is_(None),
        )
        .order_by(Case.opened_at, Case.id)
        .limit(500)
    ).all()
    for case in orphans:
        queue = routing.queue_for(session, category=case.category, channel=case.channel)
        if queue is not None:
            case.queue_id, case.team_id = queue.id, queue.team_id
    if orphans:
        session.flush()
    assigned = 0
    for queue in session.scalars(select(SupportQueue).order_by(SupportQueue.id)).all():
        waiting = list(
            session.scalars(
                select(Case)
                .where(
                    Case.queue_id == queue.id,
                    Case.assignee_id.is_(None),
                    Case.status.in_(LIVE_STATUSES),
                    Case.merged_into_id.is_(None),
                )
                .order_by(Case.opened_at, Case.id)
                .limit(500)
            )
        )
        waiting.sort(key=lambda c: (-PRIORITIES.index(c.priority), c.opened_at, c.id))
        for case in waiting:
            agent = routing.pick_agent(session, queue)
            if agent is None:
                break
            case.assignee_id = agent
            case.updated_at = now
            session.flush()
            record(
                session,
                at=now,
                actor=actor,
                action="case.assigned",
                entity_type="case",
                entity_id=case.id,
                assignee_id=agent,
                queue_id=queue.id,
                routed=True,
            )
            publish(session, CaseAssigned(case.id, agent, queue.id))
            assigned += 1
    return assigned


def check_slas(session: Session, *, now: datetime) -> tuple[int, int]:
    """Warn on live cases near a due time and mark breaches; a breached case is escalated
    (priority raised one step, once). Returns (warnings, breaches)."""
    warnings = breaches = 0
    live = session.scalars(
        select(Case)
        .where(
            Case.status.in_(LIVE_STATUSES),
            Case.sla_policy_id.is_not(None),
            Case.sla_paused_at.is_(None),
            Case.sla_breached_at.is_(None),
        )
        .order_by(Case.id)  # warnings, breaches and their audit entries in a stable order
    ).all()
    policies = {p.id: p for p in session.scalars(select(SlaPolicy))}
    actor = Actor.system("sla")
    for case in live:
        policy = policies.get(case.sla_policy_id or -1)
        if policy is None:
            continue
        clocks = []
        if case.first_response_at is None and case.first_response_due_at is not None:
            clocks.append(("first_response", case.first_response_due_at, policy.first_response_s))
        if case.resolution_due_at is not None:
            clocks.append(("resolution", case.resolution_due_at, policy.resolution_s))
        for clock, due, target_s in clocks:
            if now >= due:
                case.sla_breached_at = now
                record(
                    session,
                    at=now,
                    actor=actor,
                    action="sla.breached",
                    entity_type="case",
                    entity_id=case.id,
                    clock=clock,
                    due_at=due.isoformat(),
                )
                publish(session, SlaBreached(case.id, case.assignee_id, clock, due))
                breaches += 1
                if case.escalated_at is None:
                    case.escalated_at = now
                    step = min(PRIORITIES.index(case.priority) + 1, len(PRIORITIES) - 1)
                    case.priority = PRIORITIES[step]
                    record(
                        session,
                        at=now,
                        actor=actor,
                        action="case.escalated",
                        entity_type="case",
                        entity_id=case.id,
                        priority=case.priority,
                    )
                break
            warn_at = due - timedelta(seconds=target_s * (1 - policy.warn_fraction))
            if case.sla_warned_at is None and now >= warn_at:
                case.sla_warned_at = now
                record(
                    session,
                    at=now,
                    actor=actor,
                    action="sla.warning",
                    entity_type="case",
                    entity_id=case.id,
                    clock=clock,
                    due_at=due.isoformat(),
                )
                publish(session, SlaWarning(case.id, case.assignee_id, clock, due))
                warnings += 1
                break
    return warnings, breaches


def save_queue(
    session: Session,
    *,
    name: str,
    now: datetime,
    actor: Actor,
    team_id: int | None = None,
    categories: Sequence[str] = (),
    channels: Sequence[str] = (),
    skill: str | None = None,
    strategy: str = "least_loaded",
    rank: int = 100,
    is_default: bool = False,
) -> SupportQueue:
    """Create or update the queue called ``name``."""
    problems = []
    if not 0 < len(name.strip()) <= 100:
        problems.append(FieldError("name", "1 to 100 characters"))
    if strategy not in routing.STRATEGIES:
        problems.append(FieldError("strategy", f"one of {', '.join(routing.STRATEGIES)}"))
    unknown = sorted(set(channels) - set(CHANNELS))
    if unknown:
        problems.append(FieldError("channels", f"unknown {', '.join(unknown)}"))
    if problems:
        raise ValidationFailed("invalid queue", problems)
    queue = session.scalars(select(SupportQueue).where(SupportQueue.name == name.strip())).first()
    if queue is None:
        queue = SupportQueue(name=name.strip(), created_at=now)
        session.add(queue)
    queue.team_id = team_id
    queue.categories = ",".join(c.strip() for c in categories if c.strip())
    queue.channels = ",".join(channels)
    queue.skill = skill or None
    queue.strategy = strategy
    queue.rank = rank
    queue.is_default = is_default
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="queue.saved",
        entity_type="queue",
        entity_id=queue.id,
        name=queue.name,
    )
    return queue


def set_agent_profile(
    session: Session,
    staff_user_id: int,
    *,
    now: datetime,
    actor: Actor,
    skills: Sequence[str] | None = None,
    capacity: int | None = None,
    available: bool | None = None,
) -> AgentProfile:
    """An agent's routing facts; only the given fields change."""
    if capacity is not None and not 0 <= capacity <= 200:
        raise ValidationFailed("invalid profile", [FieldError("capacity", "0 to 200 cases")])
    if session.get(StaffUser, staff_user_id) is None:
        raise NotFound(f"no staff user {staff_user_id}")
    profile = session.get(AgentProfile, staff_user_id)
    if profile is None:
        profile = AgentProfile(staff_user_id=staff_user_id, skills="", capacity=8, available=True)
        session.add(profile)
    if skills is not None:
        profile.skills = ",".join(sorted({s.strip().lower() for s in skills if s.strip()}))
    if capacity is not None:
        profile.capacity = capacity
    if available is not None:
        profile.available = available
    profile.updated_at = now
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="agent.profile",
        entity_type="staff_user",
        entity_id=staff_user_id,
        skills=profile.skills,
        capacity=profile.capacity,
        available=profile.available,
    )
    return profile


def save_sla_policy(
    session: Session,
    *,
    name: str,
    priority: str,
    first_response_s: int,
    resolution_s: int,
    now: datetime,
    actor: Actor,
    plan_id: int | None = None,
    business_hours: str = "24x7",
    timezone: str = "UTC",
    warn_fraction: float = 0.8,
) -> SlaPolicy:
    """Create or update the policy of (priority, plan)."""
    problems = []
    if priority not in PRIORITIES:
        problems.append(FieldError("priority", f"one of {', '.join(PRIORITIES)}"))
    if first_response_s <= 0:
        problems.append(FieldError("first_response_s", "more than 0 seconds"))
    if resolution_s < first_response_s:
        problems.append(FieldError("resolution_s", "at least the first-response target"))
    if not 0 < warn_fraction < 1:
        problems.append(FieldError("warn_fraction", "between 0 and 1"))
    try:
        BusinessHours.parse(business_hours, timezone)
    except (ValueError, KeyError) as exc:
        problems.append(FieldError("business_hours", str(exc)))
    if problems:
        raise ValidationFailed("invalid SLA policy", problems)
    policy = session.scalars(
        select(SlaPolicy).where(
            SlaPolicy.priority == priority,
            SlaPolicy.plan_id.is_(None) if plan_id is None else SlaPolicy.plan_id == plan_id,
        )
    ).first()
    if policy is None:
        policy = SlaPolicy(priority=priority, plan_id=plan_id)
        session.add(policy)
    policy.name = name
    policy.first_response_s = first_response_s
    policy.resolution_s = resolution_s
    policy.business_hours = business_hours
    policy.timezone = timezone
    policy.warn_fraction = warn_fraction
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="sla_policy.saved",
        entity_type="sla_policy",
        entity_id=policy.id,
        priority=priority,
        plan_id=plan_id,
    )
    return policy


VISIT_ACTOR = Actor.system("dispatch")


def case_for_visit_booked(session: Session, event: WorkOrderCreated) -> Case | None:
    """A technician visit booked on a live case puts the case on ``pending_field``."""
    if event.case_id is None:
        return None
    case = _get_case(session, event.case_id, lock=True)
    if case.status in ("new", "open", "pending_subscriber"):
        _set_status(
            session,
            case,
            "pending_field",
            now=event.at,
            actor=VISIT_ACTOR,
            reason=f"work order {event.work_order_id} booked",
        )
    return case


def case_for_visit_done(session: Session, event: WorkOrderCompleted) -> Case | None:
    """A finished visit on a case: a fix (or no fault found) solves the case with the visit's
    outcome; a visit that did not fix it sends the case back to the agents (``open``)."""
    if event.case_id is None:
        return None
    case = _get_case(session, event.case_id, lock=True)
    if case.status == "closed" or case.merged_into_id is not None:
        return case
    visit = f"Technician visit {event.work_order_id} ({event.kind}): {event.outcome}"
    if event.quality_passed is False:
        visit += "; the install-quality check did not pass"
    if event.outcome == "not_fixed":
        add_note(
            session,
            case.id,
            visit + ".",
            now=event.at,
            actor=VISIT_ACTOR,
            author_id=event.technician_id,
        )
        _set_status(session, case, "open", now=event.at, actor=VISIT_ACTOR, reason=visit)
        return case
    if case.status == "solved":
        return case
    _set_status(
        session,
        case,
        "solved",
        now=event.at,
        actor=VISIT_ACTOR,
        outcome=event.case_outcome,
        notes=(case.resolution_notes + "\n" if case.resolution_notes else "") + visit + ".",
        reason=visit,
    )
    return case


def register(db: Database) -> None:
    """Subscribe the support domain's handlers to ``db.bus``, each in its own transaction: an
    escalated finding becomes a proactive case; a technician visit booked on a case puts it on
    ``pending_field``, and the visit's end solves the case or sends it back to the agents."""

    def on_escalated(event: FindingEscalated) -> None:
        with db.transaction() as session:
            case_for_escalation(session, event)

    def on_booked(event: WorkOrderCreated) -> None:
        with db.transaction() as session:
            case_for_visit_booked(session, event)

    def on_done(event: WorkOrderCompleted) -> None:
        with db.transaction() as session:
            case_for_visit_done(session, event)

    db.bus.subscribe(FindingEscalated, on_escalated)
    db.bus.subscribe(WorkOrderCreated, on_booked)
    db.bus.subscribe(WorkOrderCompleted, on_done)
