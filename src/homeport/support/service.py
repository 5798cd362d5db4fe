"""Reads of the support domain."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.health.models import Outage, OutageMember
from homeport.support.models import LIVE_STATUSES, Case


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
