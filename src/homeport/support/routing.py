"""Routing: which queue a case belongs to and which agent of that queue's team gets it.

A queue takes the categories it lists, from the channels it lists (none listed: any channel);
a queue that lists channels and no categories takes every case of those channels (the NOC's
queue of proactive, channel ``system`` cases). The lowest ``rank`` wins when several match;
the default queue takes the rest. Within the queue's team, an agent is eligible when
active, marked available, holding the queue's skill (if it names one) and below their capacity
of live cases. ``least_loaded`` gives the case to the eligible agent with the fewest live
cases; ``round_robin`` to the next eligible agent after the one who had the last case. When no
agent is eligible the case waits in the queue, and :func:`fill_capacity` hands waiting cases
out as capacity frees up (the worker runs it each minute).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from homeport.identity.models import StaffUser
from homeport.support.models import LIVE_STATUSES, STRATEGIES, AgentProfile, Case, SupportQueue

__all__ = ["STRATEGIES", "eligible_agents", "live_load", "pick_agent", "queue_for"]

#: Roles that work cases from a queue.
AGENT_ROLES = ("agent", "supervisor", "noc")


def _listed(text: str) -> set[str]:
    return {part.strip() for part in text.split(",") if part.strip()}


def queue_for(session: Session, *, category: str, channel: str) -> SupportQueue | None:
    queues = session.scalars(select(SupportQueue).order_by(SupportQueue.rank, SupportQueue.id))
    default = None
    for queue in queues:
        channels = _listed(queue.channels)
        if channels and channel not in channels:
            continue
        categories = _listed(queue.categories)
        # A queue that names channels and no categories takes everything of its channels.
        if category in categories or (channels and not categories and not queue.is_default):
            return queue
        if queue.is_default and default is None:
            default = queue
    return default


def live_load(session: Session, staff_ids: Sequence[int]) -> dict[int, int]:
    """Live cases held by each of ``staff_ids``."""
    if not staff_ids:
        return {}
    rows = session.execute(
        select(Case.assignee_id, func.count())
        .where(Case.assignee_id.in_(staff_ids), Case.status.in_(LIVE_STATUSES))
        .group_by(Case.assignee_id)
    )
    load = dict.fromkeys(staff_ids, 0)
    for staff_id, count in rows:
        if staff_id is not None:
            load[staff_id] = count
    return load


def eligible_agents(session: Session, queue: SupportQueue) -> list[tuple[int, int]]:
    """(staff id, live cases held) of the agents who may take a case of ``queue`` now."""
    if queue.team_id is None:
        return []
    rows = session.execute(
        select(StaffUser.id, AgentProfile.skills, AgentProfile.capacity)
        .join(AgentProfile, AgentProfile.staff_user_id == StaffUser.id)
        .where(
            StaffUser.team_id == queue.team_id,
            StaffUser.is_active.is_(True),
            StaffUser.role.in_(AGENT_ROLES),
            AgentProfile.available.is_(True),
        )
        .order_by(StaffUser.id)
    ).all()
    if queue.skill:
        rows = [r for r in rows if queue.skill in _listed(r.skills)]
    load = live_load(session, [r.id for r in rows])
    return [(r.id, load[r.id]) for r in rows if load[r.id] < r.capacity]


def pick_agent(session: Session, queue: SupportQueue) -> int | None:
    agents = eligible_agents(session, queue)
    if not agents:
        return None
    if queue.strategy == "round_robin":
        ids = [staff_id for staff_id, _ in agents]
        after = [i for i in ids if queue.last_assignee_id is None or i > queue.last_assignee_id]
        chosen = after[0] if after else ids[0]
    else:
        # Fewest live cases first, then the lowest id for a stable order.
        chosen = min(agents, key=lambda a: (a[1], a[0]))[0]
    queue.last_assignee_id = chosen
    return chosen
