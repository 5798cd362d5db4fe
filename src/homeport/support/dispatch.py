"""Dispatch: work orders (truck rolls) for installs, repairs and upgrades, the technician's day,
and the install-quality check from telemetry before the technician leaves the home.

Rules (``docs/support.md``, "Dispatch and guided troubleshooting"):

- A work order has a time window (end after start, at most :data:`MAX_WINDOW`, not already
  over) and optionally a technician (an active staff user with role ``technician``, not booked
  on another live order in an overlapping window) and a case of the same subscriber. A repair
  or upgrade needs a home on record; an install does not.
- **Repeat dispatch**: an order is flagged (``repeat_of_id``) when the same home had another
  non-cancelled order within :data:`REPEAT_WINDOW` (30 days, DESIGN.md 6) before its window
  starts, timed by its completion (or, not completed yet, by its window start).
- Status: ``scheduled → en_route → on_site → completed``; ``cancelled`` from any live status.
  Completion goes through :func:`complete` only.
- **Quality check** (:func:`run_quality_check`, on site): WAN up in a fresh report, the best
  download of the last hour at least 80 % of the plan (FCC MBA [T16]), at least
  :data:`COVERAGE_MIN_SHARE` of the Wi-Fi clients at −67 dBm or better [T1], and on FTTP the
  ONT receive power within −27…−8 dBm (G.984.2 class B+ [T9]).
- **Completing** an install or repair as ``installed``/``fixed``/``no_fault_found`` needs a
  check run within :data:`CHECK_MAX_AGE` (an hour): the check is the evidence for both a good
  job and a "no fault found". ``installed``/``fixed`` after a failed check needs notes saying
  why the visit is complete anyway. ``not_fixed`` needs no check (the fault is still there).
  Upgrades are not gated (a check may still be run).
- Completion publishes :class:`WorkOrderCompleted` after commit; the support actions set the
  linked case's outcome (``truck_roll`` or ``no_fault_found``) from it. This module never
  writes a case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.core.events import Event, publish
from homeport.core.health_settings import HealthSettings
from homeport.identity.models import StaffUser
from homeport.network.models import Gateway, Home
from homeport.subscribers.models import Plan, Subscriber
from homeport.support.models import (
    WORK_ORDER_KINDS,
    WORK_ORDER_OUTCOMES,
    WORK_ORDER_STATUSES,
    Case,
    WorkOrder,
)
from homeport.telemetry import service as telemetry_service

#: An earlier visit to the same home within this long makes an order a repeat (DESIGN.md 6).
REPEAT_WINDOW = timedelta(days=30)
#: Longest booking window (Homeport default: a full working day).
MAX_WINDOW = timedelta(hours=12)
#: A quality check older than this does not count for completing a visit.
CHECK_MAX_AGE = timedelta(hours=1)
#: The latest report must be this fresh for "WAN up" (3 report intervals, as "offline").
REPORT_MAX_AGE = timedelta(minutes=15)
#: Share of Wi-Fi clients that must be at ``good_rssi_dbm`` (−67 dBm [T1]) or better for the
#: coverage check to pass (Homeport default; the coverage-gap detector fires at half).
COVERAGE_MIN_SHARE = 0.8
LIVE_STATUSES = ("scheduled", "en_route", "on_site")
#: Which status may follow which through :func:`transition` (completion is :func:`complete`).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "scheduled": ("en_route", "cancelled"),
    "en_route": ("on_site", "cancelled"),
    "on_site": ("cancelled",),
}
OUTCOMES_BY_KIND: dict[str, tuple[str, ...]] = {
    "install": ("installed", "not_fixed"),
    "repair": ("fixed", "not_fixed", "no_fault_found"),
    "upgrade": ("installed", "not_fixed"),
}
#: Outcomes of an install or repair that need a recent quality check.
CHECKED_OUTCOMES = ("installed", "fixed", "no_fault_found")
MAX_NOTES = 5000
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class WorkOrderCreated(Event):
    work_order_id: int
    subscriber_id: int
    case_id: int | None
    kind: str
    repeat_of_id: int | None
    at: datetime


@dataclass(frozen=True)
class WorkOrderStatusChanged(Event):
    work_order_id: int
    subscriber_id: int
    case_id: int | None
    status: str
    previous: str


@dataclass(frozen=True)
class WorkOrderCompleted(Event):
    """A visit ended. ``case_outcome`` is what the linked case's outcome should become:
    ``no_fault_found`` for a no-fault-found visit, ``truck_roll`` otherwise."""

    work_order_id: int
    subscriber_id: int
    case_id: int | None
    kind: str
    outcome: str
    case_outcome: str
    quality_passed: bool | None
    repeat_of_id: int | None
    technician_id: int | None
    at: datetime


# --- Creating ---------------------------------------------------------------------------------


def _technician_problem(
    session: Session,
    technician_id: int,
    start: datetime,
    end: datetime,
    exclude: int | None = None,
) -> str:
    # The technician's row is locked until the booking commits, so that two bookings for the
    # same technician at once are checked one after the other (PostgreSQL; SQLite writes one
    # transaction at a time and refuses a writer whose reads went stale).
    user = (
        session.get(StaffUser, technician_id, with_for_update={"of": StaffUser})
        if 1 <= technician_id <= MAX_ID
        else None
    )
    if user is None or not user.is_active:
        return f"no active staff user {technician_id}"
    if user.role != "technician":
        return f"{user.email} is a {user.role}, not a technician"
    clash = session.scalar(
        select(WorkOrder)
        .where(
            WorkOrder.technician_id == technician_id,
            WorkOrder.status.in_(LIVE_STATUSES),
            WorkOrder.window_start < end,
            WorkOrder.window_end > start,
            *([WorkOrder.id != exclude] if exclude is not None else []),
        )
        .limit(1)
    )
    if clash is not None:
        return f"{user.email} is already booked on work order {clash.id} in an overlapping window"
    return ""


def find_repeat_of(
    session: Session, subscriber_id: int, window_start: datetime, exclude: int | None = None
) -> WorkOrder | None:
    """The latest non-cancelled order of the same home within :data:`REPEAT_WINDOW` before
    ``window_start``, timed by its completion (or its window start when not completed)."""
    when = func.coalesce(WorkOrder.completed_at, WorkOrder.window_start)
    return session.scalar(
        select(WorkOrder)
        .where(
            WorkOrder.subscriber_id == subscriber_id,
            WorkOrder.status != "cancelled",
            when >= window_start - REPEAT_WINDOW,
            when <= window_start,
            *([WorkOrder.id != exclude] if exclude is not None else []),
        )
        .order_by(when.desc(), WorkOrder.id.desc())
        .limit(1)
    )


def create_work_order(
    session: Session,
    *,
    subscriber_id: int,
    kind: str,
    window_start: datetime,
    window_end: datetime,
    actor: Actor,
    now: datetime,
    technician_id: int | None = None,
    case_id: int | None = None,
    notes: str = "",
) -> WorkOrder:
    """Book a visit. Every problem with the input is reported at once as
    :class:`ValidationFailed` (422) with one :class:`FieldError` per field; nothing is written."""
    problems: list[FieldError] = []
    if kind not in WORK_ORDER_KINDS:
        problems.append(FieldError("kind", f"one of {', '.join(WORK_ORDER_KINDS)}"))
    window_ok = True
    for name, value in (("window_start", window_start), ("window_end", window_end)):
        if value.tzinfo is None:
            problems.append(FieldError(name, "needs a time zone (e.g. 2026-11-23T09:00:00Z)"))
            window_ok = False
    if window_ok:
        if window_end <= window_start:
            problems.append(FieldError("window_end", "must be after window_start"))
            window_ok = False
        elif window_end - window_start > MAX_WINDOW:
            hours = MAX_WINDOW.total_seconds() / 3600
            problems.append(FieldError("window_end", f"a window is at most {hours:g} hours"))
        if window_end <= now:
            problems.append(FieldError("window_end", "the window is already over"))
            window_ok = False
    if len(notes) > MAX_NOTES:
        problems.append(FieldError("notes", f"at most {MAX_NOTES} characters"))
    subscriber = session.get(Subscriber, subscriber_id) if 1 <= subscriber_id <= MAX_ID else None
    if subscriber is None:
        problems.append(FieldError("subscriber_id", f"no subscriber {subscriber_id}"))
    elif kind in ("repair", "upgrade"):
        has_home = session.scalar(select(Home.id).where(Home.subscriber_id == subscriber_id))
        if has_home is None:
            problems.append(
                FieldError(
                    "kind", f"the subscriber has no home on record: book an install, not {kind}"
                )
            )
    if technician_id is not None and window_ok:
        problem = _technician_problem(session, technician_id, window_start, window_end)
        if problem:
            problems.append(FieldError("technician_id", problem))
    elif technician_id is not None:
        user = session.get(StaffUser, technician_id) if 1 <= technician_id <= MAX_ID else None
        if user is None or user.role != "technician":
            problems.append(FieldError("technician_id", f"{technician_id} is not a technician"))
    if case_id is not None:
        case = session.get(Case, case_id) if 1 <= case_id <= MAX_ID else None
        if case is None:
            problems.append(FieldError("case_id", f"no case {case_id}"))
        elif case.subscriber_id != subscriber_id:
            problems.append(FieldError("case_id", f"case {case_id} is another subscriber's"))
        elif case.status == "closed":
            problems.append(FieldError("case_id", f"case {case_id} is closed"))
    if problems:
        raise ValidationFailed("invalid work order", problems)

    repeat = find_repeat_of(session, subscriber_id, window_start)
    order = WorkOrder(
        subscriber_id=subscriber_id,
        case_id=case_id,
        kind=kind,
        status="scheduled",
        window_start=window_start,
        window_end=window_end,
        technician_id=technician_id,
        notes=notes.strip(),
        repeat_of_id=repeat.id if repeat else None,
        quality_check={},
        created_at=now,
    )
    session.add(order)
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="work_order.created",
        entity_type="work_order",
        entity_id=order.id,
        subscriber_id=subscriber_id,
        case_id=case_id,
        kind=kind,
        technician_id=technician_id,
        window_start=window_start.isoformat(),
        window_end=window_end.isoformat(),
        repeat_of_id=order.repeat_of_id,
    )
    publish(
        session,
        WorkOrderCreated(order.id, subscriber_id, case_id, kind, order.repeat_of_id, now),
    )
    return order


# --- Reads ------------------------------------------------------------------------------------


def get_work_order(session: Session, order_id: int, *, lock: bool = False) -> WorkOrder:
    order = (
        session.get(WorkOrder, order_id, with_for_update=lock) if 1 <= order_id <= MAX_ID else None
    )
    if order is None:
        raise NotFound(f"no work order {order_id}")
    return order


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day ``day`` in ``zone`` as a half-open UTC-aware range (23 or 25 hours long
    on a daylight-saving change)."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def technician_day(
    session: Session, technician_id: int, day: date, zone: ZoneInfo
) -> list[WorkOrder]:
    """The technician's orders whose window overlaps the local day (cancelled ones left out),
    earliest first."""
    start, end = day_bounds(day, zone)
    return list(
        session.scalars(
            select(WorkOrder)
            .where(
                WorkOrder.technician_id == technician_id,
                WorkOrder.status != "cancelled",
                WorkOrder.window_start < end,
                WorkOrder.window_end > start,
            )
            .order_by(WorkOrder.window_start, WorkOrder.id)
        )
    )


@dataclass(frozen=True)
class OrderFilter:
    """A validated filter of the work-order list; every field optional."""

    status: str | None = None
    kind: str | None = None
    technician_id: int | None = None
    subscriber_id: int | None = None
    case_id: int | None = None
    #: Orders whose window overlaps ``[starts_after, starts_before)``.
    window_from: datetime | None = None
    window_to: datetime | None = None
    repeat: bool | None = None
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        problems: list[FieldError] = []
        if self.status is not None and self.status not in WORK_ORDER_STATUSES:
            problems.append(FieldError("status", f"one of {', '.join(WORK_ORDER_STATUSES)}"))
        if self.kind is not None and self.kind not in WORK_ORDER_KINDS:
            problems.append(FieldError("kind", f"one of {', '.join(WORK_ORDER_KINDS)}"))
        for name in ("window_from", "window_to"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                problems.append(FieldError(name, "needs a time zone"))
        if not 1 <= self.limit <= 200:
            problems.append(FieldError("limit", "between 1 and 200"))
        if not 0 <= self.offset <= 100_000:
            problems.append(FieldError("offset", "between 0 and 100000"))
        if problems:
            raise ValidationFailed("invalid filter", problems)


def _filtered(f: OrderFilter) -> Select[WorkOrder]:
    conds: list[Any] = []
    for name in ("status", "kind", "technician_id", "subscriber_id", "case_id"):
        value = getattr(f, name)
        if value is not None:
            conds.append(getattr(WorkOrder, name) == value)
    if f.window_from is not None:
        conds.append(WorkOrder.window_end > f.window_from)
    if f.window_to is not None:
        conds.append(WorkOrder.window_start < f.window_to)
    if f.repeat is True:
        conds.append(WorkOrder.repeat_of_id.is_not(None))
    elif f.repeat is False:
        conds.append(WorkOrder.repeat_of_id.is_(None))
    return select(WorkOrder).where(and_(*conds))


def list_work_orders(session: Session, f: OrderFilter) -> tuple[list[WorkOrder], int]:
    """One page of orders matching ``f`` (earliest window first) and how many match."""
    stmt = _filtered(f)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(WorkOrder.window_start, WorkOrder.id).limit(f.limit).offset(f.offset)
    )
    return list(rows), int(total)


@dataclass(frozen=True)
class OrderDetail:
    """An order with what a technician needs at the door."""

    order: WorkOrder
    subscriber: Subscriber
    plan_name: str | None
    technology: str | None
    device_id: str | None
    technician: StaffUser | None
    case_subject: str | None


def order_detail(session: Session, order_id: int) -> OrderDetail:
    order = get_work_order(session, order_id)
    subscriber = session.get_one(Subscriber, order.subscriber_id)
    row = session.execute(
        select(Home.technology, Gateway.device_id)
        .outerjoin(Gateway, Gateway.home_id == Home.id)
        .where(Home.subscriber_id == order.subscriber_id)
    ).first()
    plan = session.get(Plan, subscriber.plan_id) if subscriber.plan_id else None
    case = session.get(Case, order.case_id) if order.case_id else None
    return OrderDetail(
        order=order,
        subscriber=subscriber,
        plan_name=plan.name if plan else None,
        technology=row[0] if row else None,
        device_id=row[1] if row else None,
        technician=session.get(StaffUser, order.technician_id) if order.technician_id else None,
        case_subject=case.subject if case else None,
    )


# --- Status -----------------------------------------------------------------------------------


def _changed(
    session: Session, order: WorkOrder, previous: str, actor: Actor, now: datetime, **detail: Any
) -> None:
    record(
        session,
        at=now,
        actor=actor,
        action=f"work_order.{order.status}",
        entity_type="work_order",
        entity_id=order.id,
        previous=previous,
        **detail,
    )
    publish(
        session,
        WorkOrderStatusChanged(
            order.id, order.subscriber_id, order.case_id, order.status, previous
        ),
    )


def transition(
    session: Session,
    order_id: int,
    status: str,
    *,
    actor: Actor,
    now: datetime,
    reason: str = "",
) -> WorkOrder:
    """Move a live order on (en route, on site) or cancel it (``reason`` is kept in the
    notes). :class:`Conflict` for a move the order's status does not allow."""
    if status not in WORK_ORDER_STATUSES:
        raise ValidationFailed(
            "invalid status", [FieldError("status", f"one of {', '.join(WORK_ORDER_STATUSES)}")]
        )
    if status == "completed":
        raise ValidationFailed(
            "invalid status",
            [FieldError("status", "complete a visit with its outcome (the complete action)")],
        )
    if len(reason) > 500:
        raise ValidationFailed("invalid reason", [FieldError("reason", "at most 500 characters")])
    order = get_work_order(session, order_id, lock=True)
    allowed = TRANSITIONS.get(order.status, ())
    if status not in allowed:
        raise Conflict(f"work order {order.id} is {order.status}; it cannot become {status}")
    previous = order.status
    order.status = status
    if status == "cancelled" and reason.strip():
        order.notes = (order.notes + f"\n[cancelled {now.isoformat()}] {reason.strip()}").strip()
    _changed(session, order, previous, actor, now, reason=reason.strip())
    return order


# --- Quality check ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    #: None: not measured or does not apply (not counted).
    passed: bool | None
    detail: str
    value: float | str | None = None
    threshold: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "detail": self.detail,
            "value": self.value,
            "threshold": self.threshold,
        }


def quality_checks(
    session: Session, subscriber_id: int, *, now: datetime, health: HealthSettings
) -> tuple[list[Check], datetime | None]:
    """The install-quality checks of the subscriber's home from its telemetry now, and the time
    of the report they read (None when the gateway never reported)."""
    s = health
    row = session.execute(
        select(Home.id, Home.technology, Gateway.device_id, Plan.down_mbps)
        .select_from(Home)
        .join(Subscriber, Subscriber.id == Home.subscriber_id)
        .outerjoin(Plan, Plan.id == Subscriber.plan_id)
        .outerjoin(Gateway, Gateway.home_id == Home.id)
        .where(Home.subscriber_id == subscriber_id)
    ).first()
    if row is None or row[2] is None:
        return [Check("wan", False, "no gateway on record for this home")], None
    home_id, technology, device_id, plan_down = row
    latest = telemetry_service.latest_report(session, device_id)
    if latest is None:
        return [Check("wan", False, f"gateway {device_id} has never reported")], None
    checks: list[Check] = []
    age = now - latest.ts
    minutes = round(age.total_seconds() / 60, 1)
    if age > REPORT_MAX_AGE:
        checks.append(
            Check("wan", False, f"no report for {minutes:g} min", latest.wan_status, "≤ 15 min")
        )
    else:
        up = latest.wan_status == "up"
        checks.append(
            Check(
                "wan",
                up,
                "Internet link up" if up else f"Internet link {latest.wan_status}",
                latest.wan_status,
                "up",
            )
        )

    hour = telemetry_service.reports_for_home(
        session, home_id, since=now - timedelta(hours=1), until=now + timedelta(seconds=1)
    )
    speeds = [r.down_mbps for r in hour if r.wan_status == "up" and r.down_mbps is not None]
    need = f"≥ {s.speed_min_ratio:.0%} of plan [T16]"
    if not plan_down:
        checks.append(Check("speed", None, "no plan speed to compare with", None, need))
    elif not speeds:
        checks.append(
            Check(
                "speed",
                False,
                "no throughput figure in the last hour: run a speed test",
                None,
                need,
            )
        )
    else:
        best = max(speeds)
        ratio = best / plan_down
        checks.append(
            Check(
                "speed",
                ratio >= s.speed_min_ratio,
                f"best download {best:g} of {plan_down} Mbps ({ratio:.0%} of plan)",
                round(ratio, 3),
                need,
            )
        )

    clients = [c for c in (latest.detail or {}).get("clients", []) if isinstance(c, dict)]
    need = f"≥ {COVERAGE_MIN_SHARE:.0%} of clients at {s.good_rssi_dbm:g} dBm or better [T1]"
    if not clients:
        checks.append(Check("coverage", None, "no Wi-Fi client connected to measure", None, need))
    else:
        good = sum(1 for c in clients if float(c.get("rssi_dbm", -120)) >= s.good_rssi_dbm)
        share = good / len(clients)
        weakest = min(float(c.get("rssi_dbm", -120)) for c in clients)
        checks.append(
            Check(
                "coverage",
                share >= COVERAGE_MIN_SHARE,
                f"{good} of {len(clients)} clients with a good signal (weakest {weakest:g} dBm)",
                round(share, 3),
                need,
            )
        )

    need = f"{s.optical_min_dbm:g} to {s.optical_max_dbm:g} dBm (class B+ [T9])"
    if technology != "fttp":
        checks.append(Check("optical", None, f"not a fibre line ({technology})", None, need))
    elif latest.optical_rx_dbm is None:
        checks.append(Check("optical", False, "the ONT reports no receive power", None, need))
    else:
        rx = float(latest.optical_rx_dbm)
        ok = s.optical_min_dbm <= rx <= s.optical_max_dbm
        checks.append(
            Check(
                "optical",
                ok,
                f"ONT receives {rx:g} dBm" + ("" if ok else ", outside the window"),
                rx,
                need,
            )
        )
    return checks, latest.ts


def run_quality_check(
    session: Session,
    order_id: int,
    *,
    actor: Actor,
    now: datetime,
    health: HealthSettings | None = None,
) -> WorkOrder:
    """Run the install-quality check for an order whose technician is on site; store the result
    in ``quality_check`` and ``quality_passed`` (passed: every check that applies passed)."""
    order = get_work_order(session, order_id, lock=True)
    if order.status != "on_site":
        raise Conflict(f"work order {order.id} is {order.status}: the quality check is run on site")
    checks, report_at = quality_checks(
        session, order.subscriber_id, now=now, health=health or HealthSettings()
    )
    passed = all(c.passed is not False for c in checks) and any(c.passed for c in checks)
    order.quality_check = {
        "at": now.isoformat(),
        "report_at": report_at.isoformat() if report_at else None,
        "passed": passed,
        "checks": [c.as_json() for c in checks],
    }
    order.quality_passed = passed
    record(
        session,
        at=now,
        actor=actor,
        action="work_order.quality_check",
        entity_type="work_order",
        entity_id=order.id,
        passed=passed,
        failed=[c.name for c in checks if c.passed is False],
    )
    return order


def check_time(order: WorkOrder) -> datetime | None:
    raw = (order.quality_check or {}).get("at")
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


# --- Completion -------------------------------------------------------------------------------


def complete(
    session: Session,
    order_id: int,
    *,
    outcome: str,
    actor: Actor,
    now: datetime,
    notes: str = "",
) -> WorkOrder:
    """End an on-site visit with its outcome (see the module's rules on the quality check) and
    publish :class:`WorkOrderCompleted` after commit."""
    order = get_work_order(session, order_id, lock=True)
    allowed = OUTCOMES_BY_KIND.get(order.kind, WORK_ORDER_OUTCOMES)
    problems: list[FieldError] = []
    if outcome not in allowed:
        problems.append(FieldError("outcome", f"a {order.kind} ends {', '.join(allowed)}"))
    if len(notes) > MAX_NOTES:
        problems.append(FieldError("notes", f"at most {MAX_NOTES} characters"))
    if problems:
        raise ValidationFailed("invalid completion", problems)
    if order.status != "on_site":
        raise Conflict(
            f"work order {order.id} is {order.status}: only a visit on site can be completed"
        )
    if order.kind in ("install", "repair") and outcome in CHECKED_OUTCOMES:
        ran = check_time(order)
        if ran is None or now - ran > CHECK_MAX_AGE:
            when = "was never run" if ran is None else f"is from {ran:%H:%M} UTC"
            raise ValidationFailed(
                "quality check needed",
                [
                    FieldError(
                        "quality_check",
                        f"the install-quality check {when}: run it (at most an hour before) "
                        f"to complete a {order.kind} as {outcome.replace('_', ' ')}",
                    )
                ],
            )
        if order.quality_passed is False and outcome != "no_fault_found" and not notes.strip():
            failed = [
                c.get("name")
                for c in order.quality_check.get("checks", [])
                if isinstance(c, dict) and c.get("passed") is False
            ]
            raise ValidationFailed(
                "quality check failed",
                [
                    FieldError(
                        "notes",
                        f"the quality check failed ({', '.join(map(str, failed))}): fix it and "
                        "check again, complete as not fixed, or say in the notes why the "
                        "visit is complete anyway",
                    )
                ],
            )
    previous = order.status
    order.status = "completed"
    order.outcome = outcome
    order.completed_at = now
    if notes.strip():
        order.notes = (order.notes + f"\n[completed {now.isoformat()}] {notes.strip()}").strip()
    _changed(session, order, previous, actor, now, outcome=outcome)
    publish(
        session,
        WorkOrderCompleted(
            work_order_id=order.id,
            subscriber_id=order.subscriber_id,
            case_id=order.case_id,
            kind=order.kind,
            outcome=outcome,
            case_outcome="no_fault_found" if outcome == "no_fault_found" else "truck_roll",
            quality_passed=order.quality_passed,
            repeat_of_id=order.repeat_of_id,
            technician_id=order.technician_id,
            at=now,
        ),
    )
    return order


def visible_to(order: WorkOrder, *, staff_id: int, role: str | None) -> bool:
    """Technicians see only their own orders; every other staff role sees all."""
    return role != "technician" or order.technician_id == staff_id
