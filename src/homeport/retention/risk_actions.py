"""Writes of churn risk: at-risk subscribers to the Retention queue, and saves and losses.

**Flag.** A subscriber whose latest churn score is at or above the high-risk threshold, who is
still a customer and who was not flagged in the last 30 days gets a case in the Retention queue
(category ``at_risk``, channel ``system``, the reasons in the description; routed by the desk's
queues, :mod:`homeport.support.defaults`) and a ``retention_outcomes`` row, highest scores
first and at most ``limit`` per run (a retention team calls people; it cannot take 50,000 at
once).

**Outcome.** An agent records ``saved`` or ``lost`` (:func:`record_outcome`); otherwise
:func:`settle` decides: ``lost`` when the subscriber churns after being flagged, ``saved`` when
they are still a customer 90 days after the case was solved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.core.events import Event, publish
from homeport.retention import churn
from homeport.retention.models import ChurnScore, RetentionOutcome
from homeport.subscribers.models import Subscriber
from homeport.support import actions as support_actions
from homeport.support.models import Case

CATEGORY = "at_risk"
COOLDOWN_DAYS = 30
KEEP_DAYS = 90
LIMIT = 100
ACTOR = Actor("system", None, "churn risk")


@dataclass(frozen=True)
class SubscriberFlaggedAtRisk(Event):
    subscriber_id: int
    outcome_id: int
    case_id: int
    score: float


@dataclass(frozen=True)
class RetentionOutcomeDecided(Event):
    outcome_id: int
    subscriber_id: int
    outcome: str


def _description(score: float, reasons: list[str]) -> str:
    lines = [
        f"The churn model puts this subscriber's risk of leaving within 90 days at "
        f"{score:.0%}. Call them, listen, and put right what can be put right.",
        "",
        "Why:",
        *(f"- {r}" for r in reasons or ["(no single strong reason: several small ones)"]),
        "",
        "Record the outcome (saved or lost) when it is known; Homeport marks it lost if they "
        "leave, and saved if they are still with us 90 days after this case is solved.",
    ]
    return "\n".join(lines)


def flag_at_risk(
    session: Session,
    now: datetime,
    *,
    threshold: float = churn.HIGH,
    cooldown_days: int = COOLDOWN_DAYS,
    limit: int = LIMIT,
    actor: Actor = ACTOR,
) -> list[RetentionOutcome]:
    """Open a Retention case for each high-risk subscriber not flagged in ``cooldown_days``."""
    problems = []
    if not 0 < threshold <= 1:
        problems.append(FieldError("threshold", "between 0 and 1"))
    if cooldown_days < 1:
        problems.append(FieldError("cooldown_days", "at least 1"))
    if limit < 0:
        problems.append(FieldError("limit", "0 or more"))
    if problems:
        raise ValidationFailed("invalid at-risk run", problems)
    recently = exists().where(
        RetentionOutcome.subscriber_id == ChurnScore.subscriber_id,
        RetentionOutcome.flagged_at > now - timedelta(days=cooldown_days),
    )
    candidates = session.execute(
        select(ChurnScore.subscriber_id, ChurnScore.score, ChurnScore.reasons)
        .join(Subscriber, Subscriber.id == ChurnScore.subscriber_id)
        .where(
            ChurnScore.score >= threshold,
            Subscriber.status.in_(("active", "suspended")),
            ~recently,
        )
        .order_by(ChurnScore.score.desc(), ChurnScore.subscriber_id)
        .limit(limit)
    ).all()
    flagged = []
    for subscriber_id, score, reasons in candidates:
        said = [str(r) for r in reasons or []]
        case = support_actions.open_case(
            session,
            now=now,
            actor=actor,
            channel="system",
            subject=f"Churn risk {score:.0%}: " + (said[0] if said else "several small signs"),
            subscriber_id=subscriber_id,
            category=CATEGORY,
            priority="high" if score >= 0.75 else "normal",
            description=_description(score, said),
        )
        outcome = RetentionOutcome(
            subscriber_id=subscriber_id,
            case_id=case.id,
            flagged_at=now,
            score=score,
            reasons=said,
            outcome="open",
            note="",
        )
        session.add(outcome)
        session.flush()
        record(
            session,
            at=now,
            actor=actor,
            action="retention.flagged",
            entity_type="subscriber",
            entity_id=subscriber_id,
            case_id=case.id,
            score=score,
            reasons=said,
        )
        publish(session, SubscriberFlaggedAtRisk(subscriber_id, outcome.id, case.id, score))
        flagged.append(outcome)
    return flagged


def _decide(
    session: Session, row: RetentionOutcome, outcome: str, *, now: datetime, actor: Actor, note: str
) -> None:
    row.outcome = outcome
    row.decided_at = now
    row.note = note
    record(
        session,
        at=now,
        actor=actor,
        action=f"retention.{outcome}",
        entity_type="subscriber",
        entity_id=row.subscriber_id,
        outcome_id=row.id,
        case_id=row.case_id,
        note=note,
    )
    publish(session, RetentionOutcomeDecided(row.id, row.subscriber_id, outcome))


def record_outcome(
    session: Session,
    outcome_id: int,
    outcome: str,
    *,
    now: datetime,
    actor: Actor,
    note: str = "",
) -> RetentionOutcome:
    """An agent's verdict on an at-risk subscriber: ``saved`` or ``lost``."""
    if outcome not in ("saved", "lost"):
        raise ValidationFailed("invalid outcome", [FieldError("outcome", "saved or lost")])
    row = session.get(RetentionOutcome, outcome_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no retention outcome {outcome_id}")
    if row.outcome != "open":
        raise Conflict(f"retention outcome {outcome_id} is already {row.outcome}")
    _decide(session, row, outcome, now=now, actor=actor, note=note.strip()[:2000])
    return row


@dataclass(frozen=True)
class Settled:
    saved: int
    lost: int


def settle(
    session: Session, now: datetime, *, keep_days: int = KEEP_DAYS, actor: Actor = ACTOR
) -> Settled:
    """Decide the open outcomes the facts have decided: lost when the subscriber churned after
    being flagged; saved when still a customer ``keep_days`` after the case was solved."""
    lost_rows = session.scalars(
        select(RetentionOutcome)
        .join(Subscriber, Subscriber.id == RetentionOutcome.subscriber_id)
        .where(
            RetentionOutcome.outcome == "open",
            Subscriber.churned_at.is_not(None),
            Subscriber.churned_at >= RetentionOutcome.flagged_at,
            Subscriber.churned_at <= now,
        )
        .order_by(RetentionOutcome.id)
    ).all()
    for row in lost_rows:
        _decide(session, row, "lost", now=now, actor=actor, note="the subscriber left")
    saved_rows = session.scalars(
        select(RetentionOutcome)
        .join(Subscriber, Subscriber.id == RetentionOutcome.subscriber_id)
        .join(Case, Case.id == RetentionOutcome.case_id)
        .where(
            RetentionOutcome.outcome == "open",
            Case.solved_at.is_not(None),
            Case.solved_at <= now - timedelta(days=keep_days),
            Subscriber.status.in_(("active", "suspended")),
            or_(Subscriber.churned_at.is_(None), Subscriber.churned_at > now),
        )
        .order_by(RetentionOutcome.id)
    ).all()
    for row in saved_rows:
        _decide(
            session,
            row,
            "saved",
            now=now,
            actor=actor,
            note=f"still a customer {keep_days} days after the case was solved",
        )
    return Settled(saved=len(saved_rows), lost=len(lost_rows))


def daily(
    session: Session,
    now: datetime,
    *,
    threshold: float = churn.HIGH,
    limit: int = LIMIT,
) -> str:
    """The worker's churn task: score everyone, settle outcomes, flag the new high risks."""
    if churn.latest_model(session) is None:
        return "no churn model yet (homeport retention train)"
    scored = churn.score_all(session, now, high=threshold, medium=min(churn.MEDIUM, threshold))
    settled = settle(session, now)
    flagged = flag_at_risk(session, now, threshold=threshold, limit=limit)
    return (
        f"{scored.scored} subscribers scored ({scored.bands.get('high', 0)} high), "
        f"{len(flagged)} flagged, {settled.saved} saved, {settled.lost} lost"
    )
