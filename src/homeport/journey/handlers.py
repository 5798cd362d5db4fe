"""The journey's event handlers: every moment the lower domains announce becomes a journey event,
each in its own transaction after theirs committed (a failure here never undoes their work).

| moment | from | ref |
|---|---|---|
| signup | ``SubscriberCreated`` | ``signup`` |
| install_scheduled | ``WorkOrderCreated`` of an install | ``wo:<id>`` |
| installed (onsite) | ``WorkOrderCompleted`` of an install, outcome ``installed`` | ``install`` |
| installed (self) | activation (to ``active``) with no install visit booked | ``install`` |
| first_case | ``CaseOpened`` (not a retention follow-up) | ``first_case`` |
| case_solved | ``CaseStatusChanged`` to ``solved`` (not a merged duplicate) | ``case:<id>`` |
| plan_change | ``SubscriberPlanChanged`` from one plan to another | ``plan:<time>:<plan>`` |
| at_risk | stage to ``at_risk`` | ``stage:<time>`` |
| at_risk | a ``cancel_service`` case; a detractor's answer | ``case:<id>``, ``survey:<id>`` |
| churned | ``SubscriberStatusChanged`` to ``churned`` | ``churn:<date>`` |

``installed`` is once per subscriber (``ref`` ``install``): whichever comes first stands.
The first-week check is not an event of another domain: the ``surveys`` worker task records it
(:func:`homeport.journey.actions.record_first_week_checks`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.core.db import Database
from homeport.core.events import Event
from homeport.journey import actions
from homeport.subscribers.actions import (
    SubscriberCreated,
    SubscriberPlanChanged,
    SubscriberStatusChanged,
)
from homeport.subscribers.models import Subscriber
from homeport.support.actions import CaseOpened, CaseStatusChanged
from homeport.support.dispatch import WorkOrderCompleted, WorkOrderCreated
from homeport.support.models import Case, WorkOrder

log = logging.getLogger(__name__)
E = TypeVar("E", bound=Event)


def on_subscriber_created(session: Session, event: SubscriberCreated) -> None:
    sub = session.get(Subscriber, event.subscriber_id)
    if sub is None:
        return
    actions.record_event(
        session,
        subscriber_id=sub.id,
        kind="signup",
        at=sub.created_at,
        ref="signup",
        detail={"status": sub.status, "plan_id": sub.plan_id},
    )
    if sub.status == "churned":
        on_status_changed(
            session,
            SubscriberStatusChanged(sub.id, "prospect", sub.status, "signup", sub.journey_stage),
        )


def _install_booked(session: Session, subscriber_id: int) -> bool:
    return (
        session.scalar(
            select(WorkOrder.id)
            .where(
                WorkOrder.subscriber_id == subscriber_id,
                WorkOrder.kind == "install",
                WorkOrder.status != "cancelled",
            )
            .limit(1)
        )
        is not None
    )


def on_status_changed(session: Session, event: SubscriberStatusChanged) -> None:
    sub = session.get(Subscriber, event.subscriber_id)
    if sub is None:
        return
    at = sub.updated_at
    activated = event.new_status == "active" and event.old_status in ("prospect", "onboarding")
    if activated and not _install_booked(session, sub.id):
        actions.record_event(
            session,
            subscriber_id=sub.id,
            kind="installed",
            at=sub.activated_at or at,
            ref="install",
            detail={"install": "self"},
        )
    if event.new_stage == "at_risk" and event.old_stage != "at_risk":
        actions.record_event(
            session,
            subscriber_id=sub.id,
            kind="at_risk",
            at=at,
            ref=f"stage:{at:%Y%m%dT%H%M%S}",
            detail={"from_stage": event.old_stage},
        )
    if event.new_status == "churned" and event.old_status != "churned":
        when = sub.churned_at or at
        actions.record_event(
            session,
            subscriber_id=sub.id,
            kind="churned",
            at=when,
            ref=f"churn:{when:%Y-%m-%d}",
            detail={"from_status": event.old_status, "from_stage": event.old_stage},
        )


def on_plan_changed(session: Session, event: SubscriberPlanChanged) -> None:
    if event.old_plan_id is None or event.new_plan_id is None:
        return  # a first plan is part of the sign-up, and losing the plan part of churn
    sub = session.get(Subscriber, event.subscriber_id)
    if sub is None:
        return
    at = sub.updated_at
    actions.record_event(
        session,
        subscriber_id=sub.id,
        kind="plan_change",
        at=at,
        ref=f"plan:{at:%Y%m%dT%H%M%S}:{event.new_plan_id}",
        detail={"from_plan_id": event.old_plan_id, "to_plan_id": event.new_plan_id},
    )


def on_work_order_created(session: Session, event: WorkOrderCreated) -> None:
    if event.kind != "install":
        return
    order = session.get(WorkOrder, event.work_order_id)
    actions.record_event(
        session,
        subscriber_id=event.subscriber_id,
        kind="install_scheduled",
        at=event.at,
        ref=f"wo:{event.work_order_id}",
        detail={
            "work_order_id": event.work_order_id,
            "window_start": order.window_start.isoformat() if order else None,
        },
    )


def on_work_order_completed(session: Session, event: WorkOrderCompleted) -> None:
    if event.kind != "install" or event.outcome != "installed":
        return
    actions.record_event(
        session,
        subscriber_id=event.subscriber_id,
        kind="installed",
        at=event.at,
        ref="install",
        detail={
            "install": "onsite",
            "work_order_id": event.work_order_id,
            "quality_passed": event.quality_passed,
            "technician_id": event.technician_id,
        },
    )


def on_case_opened(session: Session, event: CaseOpened) -> None:
    if not event.subscriber_id or event.category == actions.FOLLOW_UP_CATEGORY:
        return
    case = session.get(Case, event.case_id)
    if case is None:
        return
    detail = {
        "case_id": case.id,
        "origin": case.origin,
        "channel": case.channel,
        "category": case.category,
    }
    actions.record_event(
        session,
        subscriber_id=event.subscriber_id,
        kind="first_case",
        at=case.opened_at,
        ref="first_case",
        detail=detail,
    )
    if event.category == "cancel_service":
        actions.record_event(
            session,
            subscriber_id=event.subscriber_id,
            kind="at_risk",
            at=case.opened_at,
            ref=f"case:{case.id}",
            detail=detail,
        )


def on_case_status(session: Session, event: CaseStatusChanged) -> None:
    if event.status != "solved" or not event.subscriber_id:
        return
    case = session.get(Case, event.case_id)
    if case is None or case.merged_into_id is not None or case.outcome == "duplicate":
        return
    actions.record_event(
        session,
        subscriber_id=event.subscriber_id,
        kind="case_solved",
        at=case.solved_at or case.updated_at,
        ref=f"case:{case.id}",
        detail={
            "case_id": case.id,
            "origin": case.origin,
            "channel": case.channel,
            "category": case.category,
            "outcome": case.outcome,
        },
    )


def _in_transaction(db: Database, handler: Callable[[Session, E], None]) -> Callable[[E], None]:
    def run(event: E) -> None:
        with db.transaction() as session:
            handler(session, event)

    return run


def register(db: Database) -> None:
    """Subscribe the journey handlers to ``db.bus``, each in its own transaction."""
    bus = db.bus
    bus.subscribe(SubscriberCreated, _in_transaction(db, on_subscriber_created))
    bus.subscribe(SubscriberStatusChanged, _in_transaction(db, on_status_changed))
    bus.subscribe(SubscriberPlanChanged, _in_transaction(db, on_plan_changed))
    bus.subscribe(WorkOrderCreated, _in_transaction(db, on_work_order_created))
    bus.subscribe(WorkOrderCompleted, _in_transaction(db, on_work_order_completed))
    bus.subscribe(CaseOpened, _in_transaction(db, on_case_opened))
    bus.subscribe(CaseStatusChanged, _in_transaction(db, on_case_status))
