"""Reads of the support domain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Row, Select, exists, func, literal, or_, select
from sqlalchemy.orm import Session, defer

from homeport.audit.models import AuditEntry
from homeport.health.models import Outage, OutageMember
from homeport.support.models import (
    LIVE_STATUSES,
    Attachment,
    Case,
    CaseTag,
    Interaction,
    Macro,
)


def live_proactive_cases(session: Session, subscriber_id: int) -> list[Case]:
    """The subscriber's proactive cases that are not solved or closed, newest first."""
    return list(
        session.scalars(
            select(Case)
            .where(
                Case.subscriber_id == subscriber_id,
                Case.origin == "proactive",
                Case.status.in_(LIVE_STATUSES),
            )
            .order_by(Case.opened_at.desc(), Case.id.desc())
        )
    )


def cases_for_subscriber(session: Session, subscriber_id: int, *, limit: int = 50) -> list[Case]:
    return list(
        session.scalars(
            select(Case)
            .where(Case.subscriber_id == subscriber_id)
            .order_by(Case.opened_at.desc(), Case.id.desc())
            .limit(limit)
        )
    )


def outage_for_subscriber(session: Session, subscriber_id: int) -> Outage | None:
    """The open area outage this subscriber is still affected by (an incoming contact from
    them attaches to it), or None."""
    return session.scalars(
        select(Outage)
        .join(OutageMember, OutageMember.outage_id == Outage.id)
        .where(
            OutageMember.subscriber_id == subscriber_id,
            OutageMember.recovered_at.is_(None),
            Outage.status == "open",
        )
        .order_by(Outage.opened_at.desc())
        .limit(1)
    ).first()


@dataclass(frozen=True)
class CaseFilter:
    """Filters of the case list and queue views; every field is optional."""

    status: tuple[str, ...] = ()
    queue_id: int | None = None
    team_id: int | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    subscriber_id: int | None = None
    channel: str | None = None
    category: str | None = None
    priority: str | None = None
    origin: str | None = None
    tag: str | None = None
    breached: bool | None = None
    q: str = ""


_S = TypeVar("_S", bound=Select[*tuple[Any, ...]])


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filtered(stmt: _S, f: CaseFilter) -> _S:
    """``stmt`` restricted to the cases matching ``f`` (any select over ``cases``)."""
    if f.status:
        stmt = stmt.where(Case.status.in_(f.status))
    if f.queue_id is not None:
        stmt = stmt.where(Case.queue_id == f.queue_id)
    if f.team_id is not None:
        stmt = stmt.where(Case.team_id == f.team_id)
    if f.assignee_id is not None:
        stmt = stmt.where(Case.assignee_id == f.assignee_id)
    if f.unassigned:
        stmt = stmt.where(Case.assignee_id.is_(None))
    if f.subscriber_id is not None:
        stmt = stmt.where(Case.subscriber_id == f.subscriber_id)
    for column, value in (
        (Case.channel, f.channel),
        (Case.category, f.category),
        (Case.priority, f.priority),
        (Case.origin, f.origin),
    ):
        if value:
            stmt = stmt.where(column == value)
    if f.tag:
        stmt = stmt.where(exists().where(CaseTag.case_id == Case.id, CaseTag.tag == f.tag.lower()))
    if f.breached is True:
        stmt = stmt.where(Case.sla_breached_at.is_not(None))
    elif f.breached is False:
        stmt = stmt.where(Case.sla_breached_at.is_(None))
    q = f.q.strip()
    if q:
        pattern = _like(q)
        # OFFSET 0 keeps PostgreSQL from hashing the subquery (reading every matching message
        # of the whole table before looking at a case: 3.4 s at 5M messages); it probes each
        # candidate case's messages through ix_interactions_case_at instead (71 ms).
        in_messages = (
            select(literal(1))
            .where(Interaction.case_id == Case.id, Interaction.body.ilike(pattern, escape="\\"))
            .offset(0)
            .exists()
        )
        stmt = stmt.where(or_(Case.subject.ilike(pattern, escape="\\"), in_messages))
    return stmt


def list_cases(
    session: Session, f: CaseFilter, *, limit: int = 50, before_id: int | None = None
) -> list[Case]:
    """Cases matching ``f``, newest first; ``before_id`` pages on (keyset pagination)."""
    stmt = filtered(select(Case), f)
    if before_id is not None:
        stmt = stmt.where(Case.id < before_id)
    return list(session.scalars(stmt.order_by(Case.id.desc()).limit(limit)))


def interactions(session: Session, case_id: int) -> list[Interaction]:
    return list(
        session.scalars(
            select(Interaction)
            .where(Interaction.case_id == case_id)
            .order_by(Interaction.started_at, Interaction.id)
        )
    )


def attachments_of(session: Session, interaction_ids: list[int]) -> dict[int, list[Attachment]]:
    if not interaction_ids:
        return {}
    out: dict[int, list[Attachment]] = {}
    for a in session.scalars(
        select(Attachment)
        .where(Attachment.interaction_id.in_(interaction_ids))
        .options(defer(Attachment.data))
        .order_by(Attachment.id)
    ):
        out.setdefault(a.interaction_id, []).append(a)
    return out


def tags_of(session: Session, case_id: int) -> list[str]:
    return list(
        session.scalars(select(CaseTag.tag).where(CaseTag.case_id == case_id).order_by(CaseTag.tag))
    )


def macros(session: Session) -> list[Macro]:
    return list(session.scalars(select(Macro).order_by(Macro.name)))


#: A repeat contact on the same category within this window undoes first-contact resolution.
REPEAT_WINDOW = timedelta(days=7)


def contacts(items: Sequence[Interaction | Row[Any]]) -> int:
    """How many times the subscriber got in touch: each inbound email, SMS, call or app
    message is one contact; the messages of one chat conversation (``meta.conversation``)
    are one contact together, even when it went on asynchronously. ``items`` are interactions
    or rows with their ``direction``, ``author_kind`` and ``meta``."""
    conversations = set()
    count = 0
    for i in items:
        if i.direction != "inbound" or i.author_kind != "subscriber":
            continue
        conversation = (i.meta or {}).get("conversation")
        if conversation:
            # One conversation may move from live to async chat: it is still one contact.
            conversations.add(str(conversation))
        else:
            count += 1
    return count + len(conversations)


def first_contact_resolved(session: Session, case: Case) -> bool | None:
    """Derived, never typed (DESIGN.md 6): a reactive case solved on the subscriber's first
    contact, with no repeat contact on the same category within 7 days of solving. ``None``
    while it cannot be known yet (not solved) or does not apply (proactive, duplicate)."""
    if case.origin != "reactive" or case.outcome == "duplicate" or case.solved_at is None:
        return None
    if contacts(interactions(session, case.id)) > 1:
        return False
    if case.subscriber_id is None:
        return True
    repeat = session.scalar(
        select(func.count())
        .select_from(Case)
        .where(
            Case.subscriber_id == case.subscriber_id,
            Case.category == case.category,
            Case.origin == "reactive",
            Case.id != case.id,
            Case.opened_at > case.solved_at,
            Case.opened_at <= case.solved_at + REPEAT_WINDOW,
        )
    )
    return not repeat


def case_history(session: Session, case_id: int, *, limit: int = 300) -> list[AuditEntry]:
    """The case's audit trail, oldest first: who opened, routed, assigned, answered, changed,
    merged and solved it, and when (the latest ``limit`` entries)."""
    rows = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_type == "case", AuditEntry.entity_id == str(case_id))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    ).all()
    return list(reversed(rows))
