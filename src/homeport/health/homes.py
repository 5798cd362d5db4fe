"""What the health domain needs to know about the homes of a batch, read in one query."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.core.db import among_ids
from homeport.network.models import Gateway, Home, Port
from homeport.subscribers.models import Plan, Subscriber


@dataclass(frozen=True)
class HomeInfo:
    home_id: int
    subscriber_id: int
    technology: str
    port_id: int | None
    access_node_id: int | None
    device_id: str | None
    plan_down_mbps: float | None
    plan_up_mbps: float | None


def load_homes(session: Session, home_ids: Iterable[int]) -> dict[int, HomeInfo]:
    ids = sorted(set(home_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(
            Home.id,
            Home.subscriber_id,
            Home.technology,
            Home.port_id,
            Port.access_node_id,
            Gateway.device_id,
            Plan.down_mbps,
            Plan.up_mbps,
        )
        .select_from(Home)
        .join(Subscriber, Subscriber.id == Home.subscriber_id)
        .outerjoin(Plan, Plan.id == Subscriber.plan_id)
        .outerjoin(Port, Port.id == Home.port_id)
        .outerjoin(Gateway, Gateway.home_id == Home.id)
        .where(among_ids(session, Home.id, ids))
    )
    return {
        r[0]: HomeInfo(
            home_id=r[0],
            subscriber_id=r[1],
            technology=r[2],
            port_id=r[3],
            access_node_id=r[4],
            device_id=r[5],
            plan_down_mbps=float(r[6]) if r[6] is not None else None,
            plan_up_mbps=float(r[7]) if r[7] is not None else None,
        )
        for r in rows
    }
