"""Writes of the support domain. This version opens and updates the proactive cases that the
health domain asks for (DESIGN.md 5a): one live proactive case per (subscriber, category),
guaranteed by the partial unique index ``uq_cases_live_proactive`` even when two processes
escalate at once; a repeat updates the existing case instead of opening another."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.db import Database
from homeport.core.errors import FieldError, NotFound, ValidationFailed
from homeport.core.events import Event, publish
from homeport.health.detectors import TITLES
from homeport.health.events import FindingEscalated
from homeport.subscribers.models import Subscriber
from homeport.support.models import LIVE_STATUSES, PRIORITIES, Case

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


def register(db: Database) -> None:
    """Subscribe the support domain's handlers to ``db.bus``: an escalated finding becomes a
    proactive case in its own transaction."""

    def on_escalated(event: FindingEscalated) -> None:
        with db.transaction() as session:
            case_for_escalation(session, event)

    db.bus.subscribe(FindingEscalated, on_escalated)
