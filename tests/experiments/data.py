"""Hand-built subscribers and segments for the experiments tests (the segment engineer's rows
are inserted directly, as the segment inference would)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from homeport.core.db import Database
from homeport.retention.models import SubscriberSegment
from homeport.subscribers.models import Bundle, Plan, Subscriber


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    email: str = ""
    marketing: bool = True
    consent_email: bool = True
    status: str = "active"
    segment: str | None = "gamer"


def build_people(db: Database, now: datetime, people: list[Person]) -> dict[str, int]:
    """A plan, a gaming bundle and the people (by key), each in their segment."""
    ids: dict[str, int] = {}
    with db.transaction() as s:
        plan = Plan(
            code="fibre-500",
            name="Fibre 500",
            down_mbps=500,
            up_mbps=75,
            monthly_price=Decimal("35.00"),
        )
        s.add(plan)
        s.add(
            Bundle(
                code="gaming",
                name="Gaming priority",
                lifestyle="gaming",
                monthly_price=Decimal("3.50"),
            )
        )
        s.flush()
        for i, p in enumerate(people):
            sub = Subscriber(
                account_number=f"ACC{i:05d}",
                name=p.name,
                email=p.email,
                status=p.status,
                plan_id=plan.id,
                consent_marketing=p.marketing,
                consent_email=p.consent_email,
                churned_at=None,
                created_at=now,
                updated_at=now,
            )
            s.add(sub)
            s.flush()
            ids[p.key] = sub.id
            if p.segment:
                s.add(
                    SubscriberSegment(
                        subscriber_id=sub.id,
                        segment=p.segment,
                        confidence=0.9,
                        evidence={"consoles": 2},
                        computed_at=now,
                    )
                )
    return ids


def plain_subscribers(db: Database, now: datetime, n: int, *, start: int = 0) -> list[int]:
    """``n`` bare subscribers (no plan, no segment)."""
    with db.transaction() as s:
        subs = [
            Subscriber(
                account_number=f"BULK{start + i:06d}",
                name=f"Subscriber {start + i}",
                created_at=now,
                updated_at=now,
            )
            for i in range(n)
        ]
        s.add_all(subs)
        s.flush()
        return [sub.id for sub in subs]
