"""Reads of the agent console: the queue page's rows and counters, the case page and the
subscriber 360 panel, each in a fixed number of statements (no query per row), and "take
next". Framework-free; the pages are :mod:`homeport.web.views.console`.

Written for the benchmark of 1,000,000 cases and 5,000,000 interactions: every list has a
limit, every filter an index (``ix_cases_queue_status``, ``ix_cases_assignee_status``,
``ix_cases_team_id``, ``ix_cases_status_opened``, ``ix_interactions_case_at``), and the
counters count live cases only (solved and closed ones grow without end).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Row, func, select
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor
from homeport.audit.models import AuditEntry
from homeport.core.errors import NotFound
from homeport.health import service as health_service
from homeport.health.models import DeviceAction, Outage
from homeport.identity.models import StaffUser
from homeport.network import service as network_service
from homeport.subscribers.models import Subscriber
from homeport.support import actions, routing, service
from homeport.support.models import (
    LIVE_STATUSES,
    PRIORITIES,
    Attachment,
    Case,
    Interaction,
    Macro,
    SlaPolicy,
    SupportQueue,
)
from homeport.support.service import REPEAT_WINDOW, CaseFilter
from homeport.telemetry.models import TelemetryReport

SlaTone = Literal["none", "ok", "warning", "breached", "paused", "met"]
#: Rows on one queue page.
PAGE_SIZE = 50
#: Past cases and interactions shown in the subscriber 360.
PAST_CASES = 20
PAST_INTERACTIONS = 30
#: The 360 shows the start of each past interaction (the template cuts it to 120 characters).
PAST_BODY_CHARS = 200
RECENT_REPORTS = 6


@dataclass(frozen=True)
class SlaState:
    """The clock that matters now: first response until an agent answered, then resolution."""

    clock: str | None  # "first_response" | "resolution" | None
    due_at: datetime | None
    tone: SlaTone

    @property
    def label(self) -> str:
        return {
            "none": "No SLA",
            "ok": "On time",
            "warning": "Due soon",
            "breached": "Breached",
            "paused": "Paused",
            "met": "Met",
        }[self.tone]


def sla_state(case: Case, policy: SlaPolicy | None, now: datetime) -> SlaState:
    if case.first_response_at is None and case.first_response_due_at is not None:
        clock, due, target = "first_response", case.first_response_due_at, "first_response_s"
    elif case.resolution_due_at is not None:
        clock, due, target = "resolution", case.resolution_due_at, "resolution_s"
    else:
        return SlaState(None, None, "none")
    if case.status not in LIVE_STATUSES:
        met = case.sla_breached_at is None and (case.solved_at or now) <= due
        return SlaState(clock, due, "met" if met else "breached")
    if case.sla_breached_at is not None or now >= due:
        return SlaState(clock, due, "breached")
    if case.sla_paused_at is not None:
        return SlaState(clock, due, "paused")
    warn = case.sla_warned_at is not None
    if policy is not None and not warn:
        seconds = getattr(policy, target)
        warn = now >= due - timedelta(seconds=seconds * (1 - policy.warn_fraction))
    return SlaState(clock, due, "warning" if warn else "ok")


@dataclass(frozen=True)
class QueueRow:
    case: Case
    subscriber_name: str | None
    account_number: str | None
    queue_name: str | None
    assignee_name: str | None
    sla: SlaState


def _policies(session: Session) -> dict[int, SlaPolicy]:
    return {p.id: p for p in session.scalars(select(SlaPolicy))}


def staff_names(session: Session, ids: Sequence[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(
        select(StaffUser.id, StaffUser.name, StaffUser.email).where(StaffUser.id.in_(wanted))
    )
    return {r.id: r.name or r.email for r in rows}


def queue_rows(
    session: Session,
    cases: Sequence[Case],
    now: datetime,
    queue_names: dict[int, str] | None = None,
) -> list[QueueRow]:
    """The cases with their subscriber, queue and assignee names and SLA state: four
    statements whatever the number of rows (three when the caller has the queue names)."""
    sub_ids = sorted({c.subscriber_id for c in cases if c.subscriber_id is not None})
    subs = (
        {
            r.id: (r.name, r.account_number)
            for r in session.execute(
                select(Subscriber.id, Subscriber.name, Subscriber.account_number).where(
                    Subscriber.id.in_(sub_ids)
                )
            )
        }
        if sub_ids
        else {}
    )
    queues = (
        queue_names
        if queue_names is not None
        else {q.id: q.name for q in session.scalars(select(SupportQueue))}
    )
    names = staff_names(session, [c.assignee_id for c in cases])
    policies = _policies(session) if cases else {}
    rows = []
    for c in cases:
        name, account = subs.get(c.subscriber_id or 0, (None, None))
        rows.append(
            QueueRow(
                case=c,
                subscriber_name=name,
                account_number=account,
                queue_name=queues.get(c.queue_id or 0),
                assignee_name=names.get(c.assignee_id or 0),
                sla=sla_state(c, policies.get(c.sla_policy_id or 0), now),
            )
        )
    return rows


def live_counts(session: Session, f: CaseFilter) -> dict[str, int]:
    """Cases matching ``f`` in each live status, and how many of them breached an SLA (key
    ``breached``). It never counts solved or closed cases, so the query stays on the live part
    of the table (the whole history of a queue is a million rows at a large BSP)."""
    base = replace(f, status=LIVE_STATUSES)
    counts = dict.fromkeys(LIVE_STATUSES, 0)
    breached = 0
    stmt = service.filtered(
        select(Case.status, Case.sla_breached_at.is_not(None), func.count()), base
    ).group_by(Case.status, Case.sla_breached_at.is_not(None))
    for status, is_breached, n in session.execute(stmt):
        counts[status] += n
        if is_breached:
            breached += n
    counts["breached"] = breached
    return counts


def page_stamp(
    session: Session, f: CaseFilter, *, before_id: int | None = None, limit: int = PAGE_SIZE
) -> list[tuple[int, datetime, str, int | None]]:
    """(id, updated_at, status, assignee) of the cases :func:`service.list_cases` would list:
    what the queue's poll compares, without loading whole cases."""
    stmt = service.filtered(select(Case.id, Case.updated_at, Case.status, Case.assignee_id), f)
    if before_id is not None:
        stmt = stmt.where(Case.id < before_id)
    rows = session.execute(stmt.order_by(Case.id.desc()).limit(limit))
    return [(r.id, r.updated_at, r.status, r.assignee_id) for r in rows]


def queues_of_team(session: Session, team_id: int | None) -> list[SupportQueue]:
    stmt = select(SupportQueue).order_by(SupportQueue.rank, SupportQueue.name)
    if team_id is not None:
        stmt = stmt.where(SupportQueue.team_id == team_id)
    return list(session.scalars(stmt))


def urgency() -> Any:
    """Most urgent first: urgent, high, normal, low."""
    return sql_case(
        {p: i for i, p in enumerate(reversed(PRIORITIES))},
        value=Case.priority,
        else_=len(PRIORITIES),
    )


def take_next(
    session: Session, *, staff_id: int, queue_ids: Sequence[int], now: datetime, actor: Actor
) -> Case | None:
    """Assign to ``staff_id`` the most urgent, oldest unassigned live case of ``queue_ids``.
    Two agents pressing "Take next" at once get different cases on PostgreSQL (``SKIP
    LOCKED``); on SQLite writes are serialised anyway."""
    if not queue_ids:
        return None
    stmt = (
        select(Case.id)
        .where(
            Case.queue_id.in_(queue_ids),
            Case.assignee_id.is_(None),
            Case.status.in_(LIVE_STATUSES),
            Case.merged_into_id.is_(None),
        )
        .order_by(urgency(), Case.opened_at, Case.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    case_id = session.scalar(stmt)
    if case_id is None:
        return None
    return actions.assign(session, case_id, staff_id, now=now, actor=actor)


# --- The case page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CasePage:
    case: Case
    sla: SlaState
    policy: SlaPolicy | None
    interactions: list[Interaction]
    attachments: dict[int, list[Attachment]]
    authors: dict[int, str]
    tags: list[str]
    queue: SupportQueue | None
    assignee_name: str | None
    #: Staff who may be given the case: active agents of its team (everyone when no team).
    agents: list[tuple[int, str]]
    macros: list[Macro]
    #: Remote actions recorded on the case's notes (``meta.device_action_id``), by id.
    device_actions: dict[int, DeviceAction]
    merged_into: int | None
    #: The case's audit trail, oldest first, and the names of the staff in it.
    history: list[AuditEntry]
    history_actors: dict[int, str]


def case_page(session: Session, case_id: int, now: datetime) -> CasePage:
    """Everything the case page shows except the subscriber 360. Ten statements: the case with
    its SLA policy and queue, the thread, its attachments and remote actions, the team's agents,
    the audit trail, tags, macros, and the names of every member of staff in them."""
    row = session.execute(
        select(Case, SlaPolicy, SupportQueue)
        .outerjoin(SlaPolicy, SlaPolicy.id == Case.sla_policy_id)
        .outerjoin(SupportQueue, SupportQueue.id == Case.queue_id)
        .where(Case.id == case_id)
    ).first()
    if row is None:
        raise NotFound(f"no case {case_id}")
    case, policy, queue = row
    items = service.interactions(session, case.id)
    files = service.attachments_of(session, [i.id for i in items])
    action_ids = [
        int(i.meta["device_action_id"])
        for i in items
        if isinstance(i.meta, dict) and isinstance(i.meta.get("device_action_id"), int)
    ]
    device_actions = (
        {
            a.id: a
            for a in session.scalars(select(DeviceAction).where(DeviceAction.id.in_(action_ids)))
        }
        if action_ids
        else {}
    )
    agent_stmt = (
        select(StaffUser.id, StaffUser.name, StaffUser.email)
        .where(StaffUser.is_active.is_(True), StaffUser.role.in_((*routing.AGENT_ROLES, "admin")))
        .order_by(StaffUser.name, StaffUser.email)
        .limit(200)
    )
    if case.team_id is not None:
        agent_stmt = agent_stmt.where(StaffUser.team_id == case.team_id)
    agents = [(r.id, r.name or r.email) for r in session.execute(agent_stmt)]
    history = service.case_history(session, case.id)
    # One lookup for the thread's authors, the assignee and the staff in the audit trail.
    names = staff_names(
        session,
        [
            *(i.author_id for i in items),
            case.assignee_id,
            *(e.actor_id for e in history if e.actor_kind == "staff"),
        ],
    )
    return CasePage(
        case=case,
        sla=sla_state(case, policy, now),
        policy=policy,
        interactions=items,
        attachments=files,
        authors=names,
        tags=service.tags_of(session, case.id),
        queue=queue,
        assignee_name=names.get(case.assignee_id or 0),
        agents=agents,
        macros=service.macros(session),
        device_actions=device_actions,
        merged_into=case.merged_into_id,
        history=history,
        history_actors=names,
    )


def attachment(session: Session, attachment_id: int) -> Attachment | None:
    return session.get(Attachment, attachment_id)


# --- The subscriber 360 panel ----------------------------------------------------------------


@dataclass(frozen=True)
class PastInteraction:
    #: ``id``, ``case_id``, ``channel``, ``direction``, ``started_at`` and the first
    #: :data:`PAST_BODY_CHARS` characters of ``body``.
    interaction: Row[Any]
    case_subject: str


@dataclass(frozen=True)
class Panel:
    view: network_service.HomeCard
    experience: health_service.Experience | None
    outage: Outage | None
    #: ``ts``, ``wan_status``, ``down_mbps``, ``latency_ms``, ``loss_pct``, ``clients``,
    #: ``clients_weak``: newest first.
    latest_reports: list[Row[Any]]
    past_cases: list[Case]
    #: First-contact resolution of each past case (None: not known yet or not applicable).
    fcr: dict[int, bool | None]
    past_interactions: list[PastInteraction]


def first_contact_resolutions(
    session: Session, cases: Sequence[Case], siblings: Sequence[Case]
) -> dict[int, bool | None]:
    """:func:`service.first_contact_resolved` for many cases of one subscriber at once (one
    statement): the contacts of every solved reactive case are loaded together, and repeat
    contacts are looked for among ``siblings`` (the subscriber's cases already loaded, which
    must include every case opened since the oldest solved one)."""
    out: dict[int, bool | None] = {}
    solved = [
        c
        for c in cases
        if c.origin == "reactive" and c.outcome != "duplicate" and c.solved_at is not None
    ]
    for c in cases:
        out[c.id] = None
    if not solved:
        return out
    by_case: dict[int, list[Any]] = {c.id: [] for c in solved}
    for i in session.execute(
        select(
            Interaction.case_id,
            Interaction.direction,
            Interaction.author_kind,
            Interaction.meta,
        ).where(
            Interaction.case_id.in_(list(by_case)),
            Interaction.direction == "inbound",
            Interaction.author_kind == "subscriber",
        )
    ):
        by_case[i.case_id].append(i)
    for c in solved:
        if service.contacts(by_case[c.id]) > 1:
            out[c.id] = False
            continue
        if c.subscriber_id is None or c.solved_at is None:
            out[c.id] = True
            continue
        solved_at = c.solved_at
        out[c.id] = not any(
            o.id != c.id
            and o.category == c.category
            and o.origin == "reactive"
            and solved_at < o.opened_at <= solved_at + REPEAT_WINDOW
            for o in siblings
        )
    return out


def subscriber_panel(
    session: Session, subscriber_id: int, *, now: datetime, history_days: int = 7
) -> Panel:
    """The subscriber 360 of the case page: plan, bundles, line and home network (three
    statements, plain rows), experience score history, findings and remote actions (three),
    the open outage, the latest reports, past cases with their first-contact resolution and
    past interactions."""
    view = network_service.home_card(session, subscriber_id)
    experience = (
        health_service.home_experience(session, view.home.id, now=now, days=history_days)
        if view.home
        else None
    )
    # The reports and past interactions as plain columns: no ORM object is built for them.
    reports: list[Row[Any]] = []
    if view.home is not None:
        reports = list(
            session.execute(
                select(
                    TelemetryReport.ts,
                    TelemetryReport.wan_status,
                    TelemetryReport.down_mbps,
                    TelemetryReport.latency_ms,
                    TelemetryReport.loss_pct,
                    TelemetryReport.clients,
                    TelemetryReport.clients_weak,
                )
                .where(TelemetryReport.home_id == view.home.id, TelemetryReport.ts <= now)
                .order_by(TelemetryReport.ts.desc())
                .limit(RECENT_REPORTS)
            )
        )
    past = service.cases_for_subscriber(session, subscriber_id, limit=PAST_CASES)
    past_ids = [c.id for c in past]
    subjects = {c.id: c.subject for c in past}
    recent: list[PastInteraction] = []
    if past_ids:
        stmt = (
            select(
                Interaction.id,
                Interaction.case_id,
                Interaction.channel,
                Interaction.direction,
                Interaction.started_at,
                func.substr(Interaction.body, 1, PAST_BODY_CHARS).label("body"),
            )
            .where(Interaction.case_id.in_(past_ids), Interaction.direction != "internal")
            .order_by(Interaction.started_at.desc(), Interaction.id.desc())
            .limit(PAST_INTERACTIONS)
        )
        recent = [PastInteraction(i, subjects.get(i.case_id, "")) for i in session.execute(stmt)]
    return Panel(
        view=view,
        experience=experience,
        outage=service.outage_for_subscriber(session, subscriber_id),
        latest_reports=reports,
        past_cases=past,
        fcr=first_contact_resolutions(session, past, past),
        past_interactions=recent,
    )
