"""Writes of the journey domain: journey events, stage owners and frontline feedback.

Journey events are idempotent: one row per (subscriber, kind, ``ref``), ``ref`` naming what
caused it (``wo:12`` a work order, ``case:7`` a case, ``signup`` for a once-in-a-lifetime
moment), so a handler that runs twice, a backfill over events already recorded, or an import of
the same history records each moment once. Surveys and their answers live in
:mod:`homeport.journey.surveys`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.audit.models import AuditEntry
from homeport.core.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from homeport.core.events import Event, publish
from homeport.identity.models import StaffUser, Team
from homeport.journey.models import (
    DEPARTMENTS,
    EVENT_KINDS,
    FEEDBACK_KINDS,
    FEEDBACK_STATUSES,
    FeedbackItem,
    FeedbackVote,
    JourneyEvent,
    StageOwner,
)
from homeport.subscribers.models import Subscriber
from homeport.support.models import LIVE_STATUSES, Case, WorkOrder

#: The journey's stages are its moments: each one has an owning department.
STAGES = EVENT_KINDS


@dataclass(frozen=True)
class DefaultOwner:
    department: str
    owner: str
    #: The ``homeport desk init`` team that works it, by name (None: no team).
    team: str | None


#: Homeport's default owner of each stage (``homeport journey owners --defaults``).
DEFAULT_OWNERS: dict[str, DefaultOwner] = {
    "signup": DefaultOwner("sales", "Head of sales", None),
    "install_scheduled": DefaultOwner("field", "Field operations manager", "Field"),
    "installed": DefaultOwner("field", "Field operations manager", "Field"),
    "first_week_check": DefaultOwner("support", "Customer support manager", "Customer support"),
    "first_case": DefaultOwner("support", "Customer support manager", "Customer support"),
    "case_solved": DefaultOwner("support", "Customer support manager", "Customer support"),
    "plan_change": DefaultOwner("sales", "Head of sales", None),
    "at_risk": DefaultOwner("retention", "Retention lead", "Retention"),
    "churned": DefaultOwner("retention", "Retention lead", "Retention"),
}
#: Roles that lead: they set feedback status and stage owners.
LEADER_ROLES = ("admin", "supervisor")
MAX_REF = 80
#: The category of the retention case a detractor's answer opens (closing the loop).
FOLLOW_UP_CATEGORY = "retention_follow_up"


@dataclass(frozen=True)
class JourneyEventRecorded(Event):
    event_id: int
    subscriber_id: int
    kind: str
    at: datetime


@dataclass(frozen=True)
class FeedbackChanged(Event):
    item_id: int
    status: str


# --- Journey events ---------------------------------------------------------------------------


def departments(session: Session) -> dict[str, str]:
    """The owning department of every stage: the stored owner's, else the default."""
    stored = dict(session.execute(select(StageOwner.stage, StageOwner.department)).all())
    return {s: stored.get(s, DEFAULT_OWNERS[s].department) for s in STAGES}


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _check_event(kind: str, at: datetime, ref: str, department: str | None) -> None:
    problems = []
    if kind not in EVENT_KINDS:
        problems.append(FieldError("kind", f"one of {', '.join(EVENT_KINDS)}"))
    if at.tzinfo is None:
        problems.append(FieldError("at", "needs a time zone"))
    if len(ref) > MAX_REF:
        problems.append(FieldError("ref", f"at most {MAX_REF} characters"))
    if department is not None and department not in DEPARTMENTS:
        problems.append(FieldError("department", f"one of {', '.join(DEPARTMENTS)}"))
    if problems:
        raise ValidationFailed("invalid journey event", problems)


def record_event(
    session: Session,
    *,
    subscriber_id: int,
    kind: str,
    at: datetime,
    ref: str = "",
    detail: Mapping[str, Any] | None = None,
    department: str | None = None,
) -> tuple[JourneyEvent, bool]:
    """Record one moment (handlers, the backfill, an import of history). Returns the event and
    whether this call recorded it; the same (subscriber, kind, ref) again returns the stored
    one unchanged. ``department`` defaults to the stage's owner."""
    _check_event(kind, at, ref, department)
    if session.get(Subscriber, subscriber_id) is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    dept = department or departments(session)[kind]
    stmt = (
        _insert(session)(JourneyEvent)
        .values(
            subscriber_id=subscriber_id,
            kind=kind,
            at=at,
            department=dept,
            ref=ref,
            detail=dict(detail or {}),
        )
        .on_conflict_do_nothing(index_elements=["subscriber_id", "kind", "ref"])
        .returning(JourneyEvent.id)
    )
    new_id = session.execute(stmt).scalar()
    if new_id is not None:
        event = session.get_one(JourneyEvent, new_id)
        publish(session, JourneyEventRecorded(new_id, subscriber_id, kind, at))
        return event, True
    existing = session.scalars(
        select(JourneyEvent).where(
            JourneyEvent.subscriber_id == subscriber_id,
            JourneyEvent.kind == kind,
            JourneyEvent.ref == ref,
        )
    ).one()
    return existing, False


def record_events(session: Session, rows: Iterable[Mapping[str, Any]], chunk: int = 1000) -> int:
    """Record many events at once (the backfill): ``rows`` of subscriber_id, kind, at, ref,
    detail and optionally department. Returns how many were new. No events are published: a
    history is not news."""
    depts = departments(session)
    insert = _insert(session)
    added = 0
    batch: list[dict[str, Any]] = []

    def flush() -> int:
        if not batch:
            return 0
        result = session.execute(
            insert(JourneyEvent)
            .on_conflict_do_nothing(index_elements=["subscriber_id", "kind", "ref"])
            .returning(JourneyEvent.id),
            batch,
        )
        n = len(result.all())
        batch.clear()
        return n

    for row in rows:
        _check_event(row["kind"], row["at"], row.get("ref", ""), row.get("department"))
        batch.append(
            {
                "subscriber_id": row["subscriber_id"],
                "kind": row["kind"],
                "at": row["at"],
                "ref": row.get("ref", ""),
                "department": row.get("department") or depts[row["kind"]],
                "detail": dict(row.get("detail") or {}),
            }
        )
        if len(batch) >= chunk:
            added += flush()
    return added + flush()


def record_first_week_checks(
    session: Session, *, now: datetime, after: timedelta, limit: int = 1000
) -> int:
    """Record the first-week check of subscribers installed at least ``after`` ago who have
    none yet (and have not churned): what the week looked like, the cases opened since the
    installation and how many are still open. Returns how many were recorded."""
    done = select(JourneyEvent.subscriber_id).where(
        JourneyEvent.kind.in_(("first_week_check", "churned"))
    )
    rows = session.execute(
        select(JourneyEvent.subscriber_id, func.min(JourneyEvent.at))
        .where(
            JourneyEvent.kind == "installed",
            JourneyEvent.at <= now - after,
            JourneyEvent.subscriber_id.not_in(done),
        )
        .group_by(JourneyEvent.subscriber_id)
        .order_by(func.min(JourneyEvent.at))
        .limit(limit)
    ).all()
    events = []
    for subscriber_id, at in rows:
        total, live = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((Case.status.in_(LIVE_STATUSES), 1), else_=0)), 0),
            ).where(
                Case.subscriber_id == subscriber_id,
                Case.opened_at >= at,
                Case.opened_at <= at + after,
                Case.category != FOLLOW_UP_CATEGORY,
            )
        ).one()
        events.append(
            {
                "subscriber_id": subscriber_id,
                "kind": "first_week_check",
                "at": at + after,
                "ref": "first_week",
                "detail": {"cases": int(total or 0), "open_cases": int(live or 0)},
            }
        )
    return record_events(session, events)


# --- Stage owners -----------------------------------------------------------------------------


def set_owner(
    session: Session,
    stage: str,
    department: str,
    owner: str,
    team_id: int | None,
    *,
    now: datetime,
    actor: Actor,
) -> StageOwner:
    """Say who owns a journey stage (a department, a person or role, optionally a team)."""
    problems = []
    if stage not in STAGES:
        problems.append(FieldError("stage", f"one of {', '.join(STAGES)}"))
    if department not in DEPARTMENTS:
        problems.append(FieldError("department", f"one of {', '.join(DEPARTMENTS)}"))
    if len(owner.strip()) > 200:
        problems.append(FieldError("owner", "at most 200 characters"))
    if team_id is not None and session.get(Team, team_id) is None:
        problems.append(FieldError("team_id", f"no team {team_id}"))
    if problems:
        raise ValidationFailed("invalid stage owner", problems)
    row = session.scalars(select(StageOwner).where(StageOwner.stage == stage)).first()
    if row is None:
        row = StageOwner(stage=stage)
        session.add(row)
    row.department = department
    row.owner = owner.strip()
    row.team_id = team_id
    row.updated_at = now
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="journey.owner_set",
        entity_type="journey_stage",
        entity_id=stage,
        department=department,
        owner=row.owner,
        team_id=team_id,
    )
    return row


def seed_default_owners(session: Session, *, now: datetime, actor: Actor) -> int:
    """Give every stage without an owner its default (:data:`DEFAULT_OWNERS`); a stage the BSP
    already gave an owner is kept. Returns how many were set."""
    have = set(session.scalars(select(StageOwner.stage)))
    teams = dict(session.execute(select(Team.name, Team.id)).all())
    made = 0
    for stage in STAGES:
        if stage in have:
            continue
        d = DEFAULT_OWNERS[stage]
        set_owner(
            session,
            stage,
            d.department,
            d.owner,
            teams.get(d.team) if d.team else None,
            now=now,
            actor=actor,
        )
        made += 1
    return made


# --- Frontline feedback -----------------------------------------------------------------------


def _staff(session: Session, staff_id: int) -> StaffUser:
    user = session.get(StaffUser, staff_id)
    if user is None or not user.is_active:
        raise NotFound(f"no active staff user {staff_id}")
    return user


def submit_feedback(
    session: Session,
    *,
    author_id: int,
    kind: str,
    title: str,
    body: str = "",
    now: datetime,
    actor: Actor,
) -> FeedbackItem:
    """An agent's or technician's friction or idea."""
    problems = []
    if kind not in FEEDBACK_KINDS:
        problems.append(FieldError("kind", f"one of {', '.join(FEEDBACK_KINDS)}"))
    if not 3 <= len(title.strip()) <= 200:
        problems.append(FieldError("title", "3 to 200 characters"))
    if len(body) > 5000:
        problems.append(FieldError("body", "at most 5,000 characters"))
    if problems:
        raise ValidationFailed("invalid feedback", problems)
    _staff(session, author_id)
    item = FeedbackItem(
        author_id=author_id,
        kind=kind,
        title=title.strip(),
        body=body.strip(),
        status="new",
        response="",
        votes=0,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="feedback.submitted",
        entity_type="feedback",
        entity_id=item.id,
        kind=kind,
    )
    return item


def vote(session: Session, item_id: int, *, staff_id: int, now: datetime, actor: Actor) -> int:
    """One vote of one staff member for someone else's item (once). Returns the new count."""
    item = session.scalars(
        select(FeedbackItem).where(FeedbackItem.id == item_id).with_for_update()
    ).first()
    if item is None:
        raise NotFound(f"no feedback item {item_id}")
    _staff(session, staff_id)
    if item.author_id == staff_id:
        raise Conflict("you cannot vote for your own item")
    if item.status in ("done", "declined"):
        raise Conflict(f"this item is {item.status}: votes are closed")
    already = session.scalar(
        select(FeedbackVote.id).where(
            and_(FeedbackVote.item_id == item_id, FeedbackVote.staff_id == staff_id)
        )
    )
    if already is not None:
        raise Conflict("you have already voted for this item")
    try:
        with session.begin_nested():
            session.add(FeedbackVote(item_id=item_id, staff_id=staff_id, created_at=now))
    except IntegrityError as exc:  # a second vote at the same moment
        raise Conflict("you have already voted for this item") from exc
    item.votes = int(
        session.scalar(
            select(func.count()).select_from(FeedbackVote).where(FeedbackVote.item_id == item_id)
        )
        or 0
    )
    record(
        session,
        at=now,
        actor=actor,
        action="feedback.voted",
        entity_type="feedback",
        entity_id=item_id,
    )
    return item.votes


def set_feedback_status(
    session: Session,
    item_id: int,
    *,
    status: str,
    response: str,
    role: str,
    now: datetime,
    actor: Actor,
) -> FeedbackItem:
    """A leader (supervisor or admin) sets the status and says why, for everyone to read."""
    if role not in LEADER_ROLES:
        raise PermissionDenied("only supervisors and admins set the status of feedback")
    problems = []
    if status not in FEEDBACK_STATUSES:
        problems.append(FieldError("status", f"one of {', '.join(FEEDBACK_STATUSES)}"))
    if len(response) > 5000:
        problems.append(FieldError("response", "at most 5,000 characters"))
    if status in ("declined", "done") and not response.strip():
        problems.append(FieldError("response", f"say why it is {status}"))
    if problems:
        raise ValidationFailed("invalid status", problems)
    item = session.get(FeedbackItem, item_id)
    if item is None:
        raise NotFound(f"no feedback item {item_id}")
    previous = item.status
    item.status = status
    item.response = response.strip()
    item.updated_at = now
    record(
        session,
        at=now,
        actor=actor,
        action="feedback.status",
        entity_type="feedback",
        entity_id=item_id,
        previous=previous,
        status=status,
    )
    publish(session, FeedbackChanged(item_id, status))
    return item


# --- Backfill ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backfilled:
    considered: int
    recorded: int


def _history(session: Session, *, now: datetime, first_week: timedelta) -> Iterable[dict[str, Any]]:
    """Journey events derived from what is stored (see :func:`backfill`)."""
    mark = {"backfilled": True}
    onsite: dict[int, tuple[datetime, int]] = {}
    booked: set[int] = set()
    for order in session.scalars(
        select(WorkOrder).where(WorkOrder.kind == "install").order_by(WorkOrder.id)
    ):
        yield {
            "subscriber_id": order.subscriber_id,
            "kind": "install_scheduled",
            "at": order.created_at,
            "ref": f"wo:{order.id}",
            "detail": {**mark, "work_order_id": order.id},
        }
        if order.status != "cancelled":
            booked.add(order.subscriber_id)
        if order.outcome == "installed" and order.completed_at is not None:
            onsite.setdefault(order.subscriber_id, (order.completed_at, order.id))
    installed: dict[int, datetime] = {}
    rows = session.execute(
        select(
            Subscriber.id,
            Subscriber.created_at,
            Subscriber.activated_at,
            Subscriber.churned_at,
            Subscriber.status,
            Subscriber.journey_stage,
            Subscriber.updated_at,
        ).order_by(Subscriber.id)
    )
    for sid, created, activated, churned, status, stage, updated in rows:
        yield {
            "subscriber_id": sid,
            "kind": "signup",
            "at": created,
            "ref": "signup",
            "detail": mark,
        }
        if sid in onsite:
            at, wo = onsite[sid]
            installed[sid] = at
            yield {
                "subscriber_id": sid,
                "kind": "installed",
                "at": at,
                "ref": "install",
                "detail": {**mark, "install": "onsite", "work_order_id": wo},
            }
        elif (
            activated is not None and sid not in booked and status not in ("prospect", "onboarding")
        ):
            installed[sid] = activated
            yield {
                "subscriber_id": sid,
                "kind": "installed",
                "at": activated,
                "ref": "install",
                "detail": {**mark, "install": "self"},
            }
        done = installed.get(sid)
        if (
            done is not None
            and done + first_week <= now
            and (churned is None or churned > done + first_week)
        ):
            yield {
                "subscriber_id": sid,
                "kind": "first_week_check",
                "at": done + first_week,
                "ref": "first_week",
                "detail": mark,
            }
        if stage == "at_risk":
            yield {
                "subscriber_id": sid,
                "kind": "at_risk",
                "at": updated,
                "ref": "stage:backfill",
                "detail": mark,
            }
        if status == "churned" and churned is not None:
            yield {
                "subscriber_id": sid,
                "kind": "churned",
                "at": churned,
                "ref": f"churn:{churned:%Y-%m-%d}",
                "detail": mark,
            }
    first_case: set[int] = set()
    for row in session.execute(
        select(
            Case.id,
            Case.subscriber_id,
            Case.opened_at,
            Case.solved_at,
            Case.origin,
            Case.channel,
            Case.category,
            Case.outcome,
            Case.merged_into_id,
        )
        .where(Case.subscriber_id.is_not(None), Case.category != FOLLOW_UP_CATEGORY)
        .order_by(Case.opened_at, Case.id)
    ):
        sid = int(row.subscriber_id)
        detail = {
            **mark,
            "case_id": row.id,
            "origin": row.origin,
            "channel": row.channel,
            "category": row.category,
        }
        if sid not in first_case:
            first_case.add(sid)
            yield {
                "subscriber_id": sid,
                "kind": "first_case",
                "at": row.opened_at,
                "ref": "first_case",
                "detail": detail,
            }
        if row.category == "cancel_service":
            yield {
                "subscriber_id": sid,
                "kind": "at_risk",
                "at": row.opened_at,
                "ref": f"case:{row.id}",
                "detail": detail,
            }
        if row.solved_at is not None and row.merged_into_id is None and row.outcome != "duplicate":
            yield {
                "subscriber_id": sid,
                "kind": "case_solved",
                "at": row.solved_at,
                "ref": f"case:{row.id}",
                "detail": {**detail, "outcome": row.outcome},
            }
    for entry in session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "subscriber.updated", AuditEntry.entity_type == "subscriber")
        .order_by(AuditEntry.id)
    ):
        change = (entry.detail or {}).get("changed", {}).get("plan_id")
        if not (isinstance(change, list) and len(change) == 2 and all(change)):
            continue
        if entry.entity_id is None or not entry.entity_id.isdigit():
            continue
        yield {
            "subscriber_id": int(entry.entity_id),
            "kind": "plan_change",
            "at": entry.at,
            "ref": f"plan:{entry.at:%Y%m%dT%H%M%S}:{change[1]}",
            "detail": {**mark, "from_plan_id": change[0], "to_plan_id": change[1]},
        }


def backfill(session: Session, *, now: datetime, first_week: timedelta) -> Backfilled:
    """Derive the journey of a BSP that starts using Homeport with history, from what is
    stored: sign-ups (subscribers' created dates), installation visits booked and completed
    (work orders; an activation without a visit is a self-install), the first-week check of
    those installed long enough ago, first cases, solved cases, cancellation cases and the
    at-risk stage, churn dates, and plan changes found in the audit trail. Events already
    recorded are kept (the same moment twice is recorded once); every new one says
    ``detail.backfilled``. Returns how many moments were considered and how many were new."""
    considered = 0

    def counted() -> Iterable[dict[str, Any]]:
        nonlocal considered
        for row in _history(session, now=now, first_week=first_week):
            considered += 1
            yield row

    recorded = record_events(session, counted())
    return Backfilled(considered, recorded)
