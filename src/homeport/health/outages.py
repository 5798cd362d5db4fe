"""Outage correlation (DESIGN.md 5a): when, within ``outage_window_s``, at least
``outage_min_homes`` homes and at least ``outage_port_share`` of the active homes on one port
(or ``outage_node_share`` of one access node) lose their WAN, one area outage is opened with
those homes as members, instead of one case per home. Homes on the same port or node that lose
WAN while it is open join it; it closes when ``outage_recovered_share`` of its members are back.

"Lost WAN" is a live ``wan_down`` finding (the gateway reports its WAN down, e.g. over a backup
link) or ``device_offline`` (a cut fibre usually silences the gateway altogether).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.db import among_ids
from homeport.core.events import publish
from homeport.core.health_settings import HealthSettings
from homeport.health.events import OutageClosed, OutageOpened
from homeport.health.models import Finding, Outage, OutageMember
from homeport.network.models import Gateway, Home, Port
from homeport.subscribers.models import Subscriber

LOST_WAN = ("wan_down", "device_offline")
ACTOR = Actor.system("health")


@dataclass(frozen=True)
class _Lost:
    home_id: int
    subscriber_id: int
    port_id: int
    node_id: int
    since: datetime


def correlate(
    session: Session,
    *,
    down: Iterable[int],
    up: Iterable[int],
    node_of: dict[int, int | None],
    now: datetime,
    s: HealthSettings,
) -> None:
    """Update outages after a batch: ``down`` homes lost WAN, ``up`` homes have it now;
    ``node_of`` maps each home to its access node (None without a port)."""
    session.flush()
    _recover(session, set(up), now, s)
    nodes = sorted({n for h in down if (n := node_of.get(h)) is not None})
    if nodes:
        _open_or_join(session, nodes, now, s)


def _recover(session: Session, up: set[int], now: datetime, s: HealthSettings) -> None:
    if not up:
        return
    rows = session.execute(
        select(OutageMember, Outage)
        .join(Outage, Outage.id == OutageMember.outage_id)
        .where(
            among_ids(session, OutageMember.home_id, sorted(up)),
            OutageMember.recovered_at.is_(None),
            Outage.status == "open",
        )
    ).all()
    changed: dict[int, Outage] = {}
    for member, outage in rows:
        member.recovered_at = now
        outage.homes_recovered += 1
        changed[outage.id] = outage
    for outage in changed.values():
        if outage.homes_recovered >= s.outage_recovered_share * outage.homes_affected:
            outage.status = "closed"
            outage.closed_at = now
            record(
                session,
                at=now,
                actor=ACTOR,
                action="outage.closed",
                entity_type="outage",
                entity_id=outage.id,
                homes_affected=outage.homes_affected,
                homes_recovered=outage.homes_recovered,
            )
            publish(session, OutageClosed(outage.id))


def _open_or_join(session: Session, nodes: list[int], now: datetime, s: HealthSettings) -> None:
    window_start = now - timedelta(seconds=s.outage_window_s)
    lost: dict[int, _Lost] = {}
    finding_ids: dict[int, list[int]] = defaultdict(list)
    for fid, home_id, first_seen, port_id, node_id, sub_id in session.execute(
        select(
            Finding.id,
            Finding.home_id,
            Finding.first_seen_at,
            Home.port_id,
            Port.access_node_id,
            Home.subscriber_id,
        )
        .join(Home, Home.id == Finding.home_id)
        .join(Port, Port.id == Home.port_id)
        .where(
            Port.access_node_id.in_(nodes),
            Finding.kind.in_(LOST_WAN),
            Finding.status != "resolved",
        )
    ):
        if port_id is None:
            continue
        finding_ids[home_id].append(fid)
        prev = lost.get(home_id)
        if prev is None or first_seen < prev.since:
            lost[home_id] = _Lost(home_id, sub_id, port_id, node_id, first_seen)
    active_port: dict[int, int] = {}
    port_node: dict[int, int] = {}
    for port_id, node_id, count in session.execute(
        select(Home.port_id, Port.access_node_id, func.count(Home.id))
        .join(Port, Port.id == Home.port_id)
        .join(Subscriber, Subscriber.id == Home.subscriber_id)
        .join(Gateway, Gateway.home_id == Home.id)
        .where(Port.access_node_id.in_(nodes), Subscriber.status == "active")
        .group_by(Home.port_id, Port.access_node_id)
    ):
        if port_id is not None:
            active_port[port_id] = count
            port_node[port_id] = node_id
    open_outages = list(
        session.scalars(
            select(Outage)
            .where(Outage.status == "open", Outage.access_node_id.in_(nodes))
            .order_by(Outage.opened_at, Outage.id)
        )
    )
    node_outage = {o.access_node_id: o for o in open_outages if o.scope == "access_node"}
    port_outage = {
        o.port_id: o for o in open_outages if o.scope == "port" and o.port_id is not None
    }

    recent = [x for x in lost.values() if x.since >= window_start]
    for node in nodes:
        on_node = [x for x in recent if x.node_id == node]
        by_port: dict[int, list[_Lost]] = defaultdict(list)
        for x in on_node:
            by_port[x.port_id].append(x)
        crossing = {
            p
            for p, xs in by_port.items()
            if _crosses(len(xs), active_port.get(p, 0), s.outage_port_share, s)
        }
        unexplained = sum(len(xs) for p, xs in by_port.items() if p not in crossing)
        active = sum(c for p, c in active_port.items() if port_node[p] == node)
        # Node-wide only when one port does not explain it: two or more ports fail, or enough
        # homes fail outside the failing ports. A single cut port stays a port outage.
        if (
            node not in node_outage
            and _crosses(len(on_node), active, s.outage_node_share, s)
            and (len(crossing) >= 2 or unexplained >= s.outage_min_homes)
        ):
            node_outage[node] = _node_outage(session, node, port_outage, on_node, now)
        if node in node_outage:
            continue
        for port in sorted(crossing - set(port_outage)):
            port_outage[port] = _new_outage(session, "port", port, node, by_port[port], now)

    targets = {
        x.home_id: node_outage.get(x.node_id) or port_outage.get(x.port_id) for x in lost.values()
    }
    _join(session, lost, finding_ids, targets, now, s)


def _crosses(lost: int, active: int, share: float, s: HealthSettings) -> bool:
    return lost >= s.outage_min_homes and active > 0 and lost / active >= share


def _new_outage(
    session: Session, scope: str, port: int | None, node: int, xs: list[_Lost], now: datetime
) -> Outage:
    outage = Outage(
        scope=scope,
        port_id=port,
        access_node_id=node,
        status="open",
        opened_at=now,
        homes_affected=0,
        homes_recovered=0,
        evidence={"homes_at_open": len(xs), "first_loss_at": min(x.since for x in xs).isoformat()},
    )
    session.add(outage)
    session.flush()
    record(
        session,
        at=now,
        actor=ACTOR,
        action="outage.opened",
        entity_type="outage",
        entity_id=outage.id,
        scope=scope,
        port_id=port,
        access_node_id=node,
        homes=len(xs),
    )
    publish(session, OutageOpened(outage.id, scope, port, node))
    return outage


def _node_outage(
    session: Session, node: int, port_outage: dict[int, Outage], xs: list[_Lost], now: datetime
) -> Outage:
    """A node-wide outage; port outages already open on the node are folded into it (one
    outage per fault, even when the first port crossed its threshold a report earlier)."""
    on_node = [o for o in port_outage.values() if o.access_node_id == node]
    if not on_node:
        return _new_outage(session, "access_node", None, node, xs, now)
    keep, *rest = on_node
    for o in on_node:
        if o.port_id is not None:
            port_outage.pop(o.port_id, None)
    keep.scope = "access_node"
    keep.evidence = {**keep.evidence, "widened_at": now.isoformat()}
    session.flush()
    for other in rest:
        moved = session.scalars(
            select(OutageMember.home_id).where(OutageMember.outage_id == other.id)
        ).all()
        session.execute(
            update(OutageMember).where(OutageMember.outage_id == other.id).values(outage_id=keep.id)
        )
        session.execute(
            update(Finding).where(Finding.outage_id == other.id).values(outage_id=keep.id)
        )
        keep.homes_affected += other.homes_affected
        keep.homes_recovered += other.homes_recovered
        record(
            session,
            at=now,
            actor=ACTOR,
            action="outage.merged",
            entity_type="outage",
            entity_id=other.id,
            into=keep.id,
            homes=len(moved),
        )
        session.delete(other)
    session.flush()
    session.expire_all()
    record(
        session,
        at=now,
        actor=ACTOR,
        action="outage.widened",
        entity_type="outage",
        entity_id=keep.id,
        access_node_id=node,
    )
    return keep


def _join(
    session: Session,
    lost: dict[int, _Lost],
    finding_ids: dict[int, list[int]],
    targets: dict[int, Outage | None],
    now: datetime,
    s: HealthSettings,
) -> None:
    outage_ids = sorted({o.id for o in targets.values() if o is not None})
    if not outage_ids:
        return
    members = {
        (m.outage_id, m.home_id): m
        for m in session.scalars(select(OutageMember).where(OutageMember.outage_id.in_(outage_ids)))
    }
    linked: dict[int, list[int]] = defaultdict(list)
    for home_id, outage in targets.items():
        if outage is None:
            continue
        x = lost[home_id]
        if x.since < outage.opened_at - timedelta(seconds=s.outage_window_s):
            continue  # down long before the outage began: a separate problem
        m = members.get((outage.id, home_id))
        if m is None:
            session.add(
                OutageMember(
                    outage_id=outage.id,
                    home_id=home_id,
                    subscriber_id=x.subscriber_id,
                    lost_at=x.since,
                )
            )
            outage.homes_affected += 1
        elif m.recovered_at is not None and x.since > m.recovered_at:
            m.recovered_at = None
            outage.homes_recovered -= 1
        linked[outage.id].extend(finding_ids[home_id])
    for outage_id, ids in linked.items():
        session.execute(
            update(Finding)
            .where(Finding.id.in_(ids), Finding.outage_id.is_distinct_from(outage_id))
            .values(outage_id=outage_id)
            .execution_options(synchronize_session="fetch")
        )
