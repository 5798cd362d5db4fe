"""Reads of the KPI domain: each KPI of :mod:`homeport.kpis.definitions` computed over a period
and a cut, set-based (one or a few aggregate queries per KPI, never one query per case), with
time differences worked out in Python so that the same SQL runs on SQLite and PostgreSQL; the
periods (day, week, month buckets in the BSP's time zone), targets, the comparison with the
target and the previous period, and trends that read stored snapshots where they exist."""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from homeport.core.errors import FieldError, ValidationFailed
from homeport.health.detectors import KINDS
from homeport.health.models import ExperienceScore, Finding
from homeport.journey import surveys
from homeport.journey.models import JourneyEvent, Survey
from homeport.kpis.definitions import (
    ADOPTION_DAYS,
    DIMENSIONS,
    ENGAGEMENT_DAYS,
    GOOD_SCORE,
    HEADLINE,
    KPIS,
    MONTH_DAYS,
    TECHNICAL_CATEGORIES,
    Kpi,
)
from homeport.kpis.models import PERIODS, KpiSnapshot, KpiTarget
from homeport.network.models import AccessNode, Home, Port
from homeport.selfservice import bot
from homeport.selfservice.models import EngagementEvent
from homeport.subscribers.models import JOURNEY_STAGES, Subscriber
from homeport.support import service as support
from homeport.support.models import CHANNELS, ORIGINS, Case, Interaction, WorkOrder
from homeport.telemetry.models import TelemetryDaily, TelemetryHourly

#: Largest number of periods a trend may ask for.
MAX_SERIES = 400
T = TypeVar("T")
TECHNICAL = (*TECHNICAL_CATEGORIES, *KINDS)

# ---------------------------------------------------------------------------------------------
# Cuts, measures and periods


@dataclass(frozen=True)
class Cut:
    """A slice of the data; every field is optional (None: not cut on it)."""

    channel: str | None = None
    team_id: int | None = None
    agent_id: int | None = None
    region_id: int | None = None
    plan_id: int | None = None
    journey_stage: str | None = None
    origin: str | None = None

    def dimensions(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self) if getattr(self, f.name) is not None)

    def key(self) -> str:
        """The snapshot and target key: "" overall, else ``dim:value`` joined by ``;``
        ("channel:email", "team:3")."""
        return ";".join(
            f"{_KEY_NAMES[d]}:{getattr(self, d)}"
            for d in DIMENSIONS
            if getattr(self, d) is not None
        )

    @classmethod
    def parse(cls, key: str) -> Cut:
        """The cut a :meth:`key` names (``ValidationFailed`` for anything else)."""
        if not key:
            return cls()
        values: dict[str, Any] = {}
        by_key = {v: k for k, v in _KEY_NAMES.items()}
        for part in key.split(";"):
            name, _, value = part.partition(":")
            dim = by_key.get(name)
            if dim is None or not value:
                raise ValidationFailed("invalid cut", [FieldError("cut", f"unknown part {part!r}")])
            values[dim] = int(value) if dim.endswith("_id") and value.isdigit() else value
        cut = cls(**values)
        cut.check()
        return cut

    def check(self) -> None:
        problems = []
        if self.channel is not None and self.channel not in CHANNELS:
            problems.append(FieldError("channel", f"one of {', '.join(CHANNELS)}"))
        if self.origin is not None and self.origin not in ORIGINS:
            problems.append(FieldError("origin", f"one of {', '.join(ORIGINS)}"))
        if self.journey_stage is not None and self.journey_stage not in JOURNEY_STAGES:
            problems.append(FieldError("journey_stage", f"one of {', '.join(JOURNEY_STAGES)}"))
        for name in ("team_id", "agent_id", "region_id", "plan_id"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                problems.append(FieldError(name, "a positive id"))
        if problems:
            raise ValidationFailed("invalid cut", problems)


_KEY_NAMES = {
    "channel": "channel",
    "team_id": "team",
    "agent_id": "agent",
    "region_id": "region",
    "plan_id": "plan",
    "journey_stage": "stage",
    "origin": "origin",
}
OVERALL = Cut()


@dataclass(frozen=True)
class Measure:
    """One KPI over one period and cut. ``value`` is None when there is nothing to measure."""

    value: float | None
    numerator: float | None = None
    denominator: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "value": _round(self.value),
            "numerator": _round(self.numerator),
            "denominator": _round(self.denominator),
        }


NOTHING = Measure(None)


def _round(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(x, digits)


def _ratio(num: float, den: float, scale: float = 100.0) -> Measure:
    return Measure(num / den * scale if den else None, float(num), float(den))


def zone_of(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def bucket_start(period: str, at: datetime, zone: ZoneInfo) -> datetime:
    """The start (UTC) of the day, week (Monday) or month holding ``at`` in ``zone``."""
    _check_period(period)
    local = at.astimezone(zone).date()
    if period == "week":
        local -= timedelta(days=local.weekday())
    elif period == "month":
        local = local.replace(day=1)
    return _local_midnight(local, zone)


def shift(period: str, start: datetime, n: int, zone: ZoneInfo) -> datetime:
    """The start of the bucket ``n`` buckets after (negative: before) the one starting at
    ``start``; days and weeks follow the local calendar across DST changes."""
    _check_period(period)
    local = start.astimezone(zone).date()
    if period == "day":
        return _local_midnight(local + timedelta(days=n), zone)
    if period == "week":
        return _local_midnight(local + timedelta(weeks=n), zone)
    months = local.year * 12 + (local.month - 1) + n
    return _local_midnight(date(months // 12, months % 12 + 1, 1), zone)


def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise ValidationFailed("invalid period", [FieldError("period", " or ".join(PERIODS))])


@dataclass(frozen=True)
class Window:
    """The period measured and the one it is compared with."""

    since: datetime
    until: datetime
    previous_since: datetime
    previous_until: datetime
    period: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "previous_since": self.previous_since.isoformat(),
            "previous_until": self.previous_until.isoformat(),
        }


def window(
    period: str | None,
    now: datetime,
    *,
    zone: str = "UTC",
    since: datetime | None = None,
    until: datetime | None = None,
    complete: bool = False,
) -> Window:
    """What to measure:

    - ``since``/``until`` given: that range, compared with the range of the same length just
      before it.
    - else the current ``period`` bucket up to ``now`` (``complete``: the last bucket that has
      ended), compared with the same stretch of the bucket before (the first 3 days of last week
      for the first 3 days of this one; the whole previous bucket when ``complete``)."""
    if since is not None or until is not None:
        if since is None or until is None:
            raise ValidationFailed(
                "invalid period", [FieldError("since", "give both since and until")]
            )
        for name, value in (("since", since), ("until", until)):
            if value.tzinfo is None:
                raise ValidationFailed("invalid period", [FieldError(name, "needs a time zone")])
        if until <= since:
            raise ValidationFailed("invalid period", [FieldError("until", "after since")])
        length = until - since
        return Window(since, until, since - length, since, period)
    period = period or "week"
    tz = zone_of(zone)
    start = bucket_start(period, now, tz)
    if complete:
        prev = shift(period, start, -1, tz)
        return Window(prev, start, shift(period, prev, -1, tz), prev, period)
    prev = shift(period, start, -1, tz)
    elapsed = now - start
    return Window(start, now, prev, min(prev + elapsed, start), period)


# ---------------------------------------------------------------------------------------------
# Shared pieces of SQL


def _base(at: datetime) -> list[ColumnElement[bool]]:
    """Subscribers at ``at``: activated by then and not churned by then."""
    return [
        Subscriber.activated_at.is_not(None),
        Subscriber.activated_at <= at,
        or_(Subscriber.churned_at.is_(None), Subscriber.churned_at > at),
    ]


def _subscriber_filter(cut: Cut) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if cut.plan_id is not None:
        out.append(Subscriber.plan_id == cut.plan_id)
    if cut.journey_stage is not None:
        out.append(Subscriber.journey_stage == cut.journey_stage)
    if cut.region_id is not None:
        out.append(
            Subscriber.id.in_(
                select(Home.subscriber_id)
                .join(Port, Home.port_id == Port.id)
                .join(AccessNode, Port.access_node_id == AccessNode.id)
                .where(AccessNode.region_id == cut.region_id)
            )
        )
    return out


def _in_subscribers(column: Any, cut: Cut) -> list[ColumnElement[bool]]:
    """``column`` (a subscriber id) restricted to the cut's region, plan and journey stage."""
    conditions = _subscriber_filter(cut)
    if not conditions:
        return []
    return [column.in_(select(Subscriber.id).where(*conditions))]


def _counted_case() -> list[ColumnElement[bool]]:
    """Cases a KPI counts: never a merged duplicate."""
    return [
        Case.merged_into_id.is_(None),
        or_(Case.outcome.is_(None), Case.outcome != "duplicate"),
    ]


def _case_filter(cut: Cut, *, counted: bool = True) -> list[ColumnElement[bool]]:
    out = _counted_case() if counted else []
    if cut.channel is not None:
        out.append(Case.channel == cut.channel)
    if cut.team_id is not None:
        out.append(Case.team_id == cut.team_id)
    if cut.agent_id is not None:
        out.append(Case.assignee_id == cut.agent_id)
    if cut.origin is not None:
        out.append(Case.origin == cut.origin)
    out += _in_subscribers(Case.subscriber_id, cut)
    return out


def _technical() -> ColumnElement[bool]:
    return or_(Case.origin == "proactive", Case.category.in_(TECHNICAL))


def _count(session: Session, stmt: Select[Any]) -> int:
    return int(session.scalar(stmt) or 0)


def _median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def _percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest rank: the smallest value with at least ``q`` of the values at or below it."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def _hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600.0


def _month_scale(since: datetime, until: datetime) -> float:
    return MONTH_DAYS / ((until - since).total_seconds() / 86400.0)


# ---------------------------------------------------------------------------------------------
# The KPIs, one function each (definitions and edge cases: homeport.kpis.definitions)

Compute = Callable[[Session, datetime, datetime, Cut], Measure]


def _first_contact_resolution(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    where = [
        *_case_filter(cut),
        Case.origin == "reactive",
        Case.solved_at >= since,
        Case.solved_at < until,
    ]
    solved = s.execute(
        select(Case.id, Case.subscriber_id, Case.category, Case.solved_at).where(*where)
    ).all()
    if not solved:
        return NOTHING
    # Contacts per case as support.service.contacts counts them, in SQL: each inbound message
    # of the subscriber is one contact, except that the messages of one chat conversation
    # (meta.conversation) are one together.
    conversation = Interaction.meta["conversation"].as_string()
    contacts = func.sum(case((conversation.is_(None), 1), else_=0)) + func.count(
        func.distinct(conversation)
    )
    repeated = set(
        s.scalars(
            select(Interaction.case_id)
            .where(
                Interaction.direction == "inbound",
                Interaction.author_kind == "subscriber",
                Interaction.case_id.in_(select(Case.id).where(*where)),
            )
            .group_by(Interaction.case_id)
            .having(contacts > 1)
        )
    )
    # Repeat reactive cases on the same category within the window after solving.
    later: dict[tuple[int | None, str], list[datetime]] = {}
    for sub, category, opened in s.execute(
        select(Case.subscriber_id, Case.category, Case.opened_at).where(
            Case.origin == "reactive",
            Case.subscriber_id.is_not(None),
            Case.opened_at > since,
            Case.opened_at <= until + support.REPEAT_WINDOW,
        )
    ):
        later.setdefault((sub, category), []).append(opened)
    for times in later.values():
        times.sort()
    resolved = 0
    for row in solved:
        if row.id in repeated:
            continue
        if row.subscriber_id is not None:
            times = later.get((row.subscriber_id, row.category), [])
            i = bisect.bisect_right(times, row.solved_at)
            if i < len(times) and times[i] <= row.solved_at + support.REPEAT_WINDOW:
                continue
        resolved += 1
    return _ratio(resolved, len(solved))


def _repeat_contact_rate(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    opened = s.execute(
        select(Case.id, Case.subscriber_id, Case.category, Case.opened_at).where(
            *_case_filter(cut),
            Case.origin == "reactive",
            Case.opened_at >= since,
            Case.opened_at < until,
        )
    ).all()
    if not opened:
        return NOTHING
    earlier: dict[tuple[int | None, str], list[datetime]] = {}
    for sub, category, at in s.execute(
        select(Case.subscriber_id, Case.category, Case.opened_at).where(
            *_counted_case(),
            Case.origin == "reactive",
            Case.subscriber_id.is_not(None),
            Case.opened_at >= since - support.REPEAT_WINDOW,
            Case.opened_at < until,
        )
    ):
        earlier.setdefault((sub, category), []).append(at)
    for times in earlier.values():
        times.sort()
    repeats = 0
    for row in opened:
        if row.subscriber_id is None:
            continue
        times = earlier.get((row.subscriber_id, row.category), [])
        i = bisect.bisect_left(times, row.opened_at - support.REPEAT_WINDOW)
        if i < len(times) and times[i] < row.opened_at:
            repeats += 1
    return _ratio(repeats, len(opened))


def _technical_opened(since: datetime, until: datetime, cut: Cut) -> list[ColumnElement[bool]]:
    return [*_case_filter(cut), _technical(), Case.opened_at >= since, Case.opened_at < until]


def _truck_roll_rate(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    where = _technical_opened(since, until, cut)
    visited = exists().where(
        WorkOrder.case_id == Case.id,
        WorkOrder.kind == "repair",
        WorkOrder.status != "cancelled",
        WorkOrder.created_at < until,
    )
    row = s.execute(
        select(func.count(), func.sum(case((visited, 1), else_=0))).select_from(Case).where(*where)
    ).one()
    return _ratio(float(row[1] or 0), float(row[0] or 0))


def _subscribers_at(s: Session, at: datetime, cut: Cut) -> int:
    return _count(
        s, select(func.count()).select_from(Subscriber).where(*_base(at), *_subscriber_filter(cut))
    )


def _truck_rolls_per_1000(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    rolls = _count(
        s,
        select(func.count())
        .select_from(WorkOrder)
        .where(
            WorkOrder.kind == "repair",
            WorkOrder.status != "cancelled",
            WorkOrder.created_at >= since,
            WorkOrder.created_at < until,
            *_in_subscribers(WorkOrder.subscriber_id, cut),
        ),
    )
    return _ratio(rolls, _subscribers_at(s, until, cut), 1000.0 * _month_scale(since, until))


def _repeat_dispatch_rate(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    row = s.execute(
        select(func.count(), func.sum(case((WorkOrder.repeat_of_id.is_not(None), 1), else_=0)))
        .select_from(WorkOrder)
        .where(
            WorkOrder.status != "cancelled",
            WorkOrder.created_at >= since,
            WorkOrder.created_at < until,
            *_in_subscribers(WorkOrder.subscriber_id, cut),
        )
    ).one()
    return _ratio(float(row[1] or 0), float(row[0] or 0))


def _no_fault_found_rate(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    row = s.execute(
        select(func.count(), func.sum(case((WorkOrder.outcome == "no_fault_found", 1), else_=0)))
        .select_from(WorkOrder)
        .where(
            WorkOrder.status == "completed",
            WorkOrder.completed_at >= since,
            WorkOrder.completed_at < until,
            *_in_subscribers(WorkOrder.subscriber_id, cut),
        )
    ).one()
    return _ratio(float(row[1] or 0), float(row[0] or 0))


def _first_response_time(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    rows = s.execute(
        select(Case.opened_at, Case.first_response_at).where(
            *_case_filter(cut),
            Case.origin == "reactive",
            Case.first_response_at >= since,
            Case.first_response_at < until,
        )
    ).all()
    values = [max(0.0, _hours(a, b)) for a, b in rows if b is not None]
    return Measure(_median(values), None, float(len(values)))


def _resolve_times(s: Session, since: datetime, until: datetime, cut: Cut) -> list[float]:
    rows = s.execute(
        select(Case.opened_at, Case.solved_at).where(
            *_case_filter(cut), Case.solved_at >= since, Case.solved_at < until
        )
    ).all()
    return [max(0.0, _hours(a, b)) for a, b in rows if b is not None]


def _time_to_resolve(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    values = _resolve_times(s, since, until, cut)
    return Measure(_median(values), None, float(len(values)))


def _time_to_resolve_p90(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    values = _resolve_times(s, since, until, cut)
    return Measure(_percentile(values, 0.9), None, float(len(values)))


def _sla_compliance(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    where = _case_filter(cut)
    solved = s.execute(
        select(func.count(), func.sum(case((Case.solved_at <= Case.resolution_due_at, 1), else_=0)))
        .select_from(Case)
        .where(
            *where,
            Case.resolution_due_at.is_not(None),
            Case.solved_at >= since,
            Case.solved_at < until,
        )
    ).one()
    overdue = _count(
        s,
        select(func.count())
        .select_from(Case)
        .where(
            *where,
            or_(Case.solved_at.is_(None), Case.solved_at >= until),
            Case.opened_at < until,
            Case.resolution_due_at >= since,
            Case.resolution_due_at < until,
        ),
    )
    return _ratio(float(solved[1] or 0), float(solved[0] or 0) + overdue)


def _average_handle_time(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    where: list[ColumnElement[bool]] = [
        Interaction.handle_time_s.is_not(None),
        Interaction.started_at >= since,
        Interaction.started_at < until,
    ]
    if cut.channel is not None:
        where.append(Interaction.channel == cut.channel)
    if cut.agent_id is not None:
        where.append(Interaction.author_id == cut.agent_id)
    rest = Cut(
        team_id=cut.team_id,
        region_id=cut.region_id,
        plan_id=cut.plan_id,
        journey_stage=cut.journey_stage,
        origin=cut.origin,
    )
    if rest != OVERALL:
        where.append(Interaction.case_id.in_(select(Case.id).where(*_case_filter(rest))))
    row = s.execute(
        select(func.count(), func.sum(Interaction.handle_time_s))
        .select_from(Interaction)
        .where(*where)
    ).one()
    return _ratio(float(row[1] or 0), float(row[0] or 0), 1 / 60.0)


def _cases_per_1000(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    cases = _count(
        s,
        select(func.count())
        .select_from(Case)
        .where(
            *_case_filter(cut),
            Case.origin == "reactive",
            Case.opened_at >= since,
            Case.opened_at < until,
        ),
    )
    return _ratio(cases, _subscribers_at(s, until, cut), 1000.0 * _month_scale(since, until))


def _backlog(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    n = _count(
        s,
        select(func.count())
        .select_from(Case)
        .where(
            *_case_filter(cut),
            Case.opened_at < until,
            or_(Case.solved_at.is_(None), Case.solved_at >= until),
        ),
    )
    return Measure(float(n), float(n), None)


def _proactive_share(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    row = s.execute(
        select(func.count(), func.sum(case((Case.origin == "proactive", 1), else_=0)))
        .select_from(Case)
        .where(*_technical_opened(since, until, cut))
    ).one()
    return _ratio(float(row[1] or 0), float(row[0] or 0))


def _findings_opened(since: datetime, until: datetime, cut: Cut) -> list[ColumnElement[bool]]:
    return [
        Finding.opened_at.is_not(None),
        Finding.opened_at >= since,
        Finding.opened_at < until,
        *_in_subscribers(Home.subscriber_id, cut),
    ]


def _proactive_resolution(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    reactive_contact = exists().where(
        Case.subscriber_id == Home.subscriber_id,
        Case.origin == "reactive",
        Case.opened_at >= Finding.opened_at,
        Case.opened_at <= Finding.resolved_at,
    )
    reply_on_case = exists().where(
        Case.finding_id == Finding.id,
        Interaction.case_id == Case.id,
        Interaction.direction == "inbound",
        Interaction.author_kind == "subscriber",
        Interaction.started_at >= Finding.opened_at,
        Interaction.started_at <= Finding.resolved_at,
    )
    without_contact = and_(
        Finding.resolved_at.is_not(None),
        Finding.resolved_at < until,
        not_(reactive_contact),
        not_(reply_on_case),
    )
    row = s.execute(
        select(func.count(), func.sum(case((without_contact, 1), else_=0)))
        .select_from(Finding)
        .join(Home, Home.id == Finding.home_id)
        .where(*_findings_opened(since, until, cut), Finding.severity.in_(("warning", "critical")))
    ).one()
    return _ratio(float(row[1] or 0), float(row[0] or 0))


def _auto_remediation_success(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    row = s.execute(
        select(func.count(), func.sum(case((Finding.remediation == "fixed", 1), else_=0)))
        .select_from(Finding)
        .join(Home, Home.id == Finding.home_id)
        .where(*_findings_opened(since, until, cut), Finding.remediation.in_(("fixed", "failed")))
    ).one()
    return _ratio(float(row[1] or 0), float(row[0] or 0))


def _home_scores(s: Session, since: datetime, until: datetime, cut: Cut) -> Any:
    per_home = (
        select(ExperienceScore.home_id, func.avg(ExperienceScore.score).label("score"))
        .join(Home, Home.id == ExperienceScore.home_id)
        .where(
            ExperienceScore.period_start >= since,
            ExperienceScore.period_start < until,
            *_in_subscribers(Home.subscriber_id, cut),
        )
        .group_by(ExperienceScore.home_id)
        .subquery()
    )
    return s.execute(
        select(
            func.count(),
            func.avg(per_home.c.score),
            func.sum(case((per_home.c.score >= GOOD_SCORE, 1), else_=0)),
        ).select_from(per_home)
    ).one()


def _experience_score_mean(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    homes, mean, _ = _home_scores(s, since, until, cut)
    if not homes:
        return Measure(None, None, 0.0)
    return Measure(float(mean), float(mean) * int(homes), float(homes))


def _experience_good(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    homes, _, good = _home_scores(s, since, until, cut)
    return _ratio(float(good or 0), float(homes or 0))


def _availability(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    for rollup in (TelemetryHourly, TelemetryDaily):
        row = s.execute(
            select(func.sum(rollup.reports), func.sum(rollup.wan_down_reports))
            .join(Home, Home.id == rollup.home_id)
            .where(
                rollup.period_start >= since,
                rollup.period_start < until,
                *_in_subscribers(Home.subscriber_id, cut),
            )
        ).one()
        reports = float(row[0] or 0)
        if reports:
            return _ratio(reports - float(row[1] or 0), reports)
    return Measure(None, 0.0, 0.0)


def _containment(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    c = bot.containment(s, since=since, until=until)
    rate = c.rate
    return Measure(
        None if rate is None else rate * 100.0,
        float(c.contained),
        float(c.contained_raw + c.handed_over),
    )


def _active_share(days: int) -> Compute:
    def compute(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
        used = exists().where(
            EngagementEvent.subscriber_id == Subscriber.id,
            EngagementEvent.at >= until - timedelta(days=days),
            EngagementEvent.at < until,
        )
        row = s.execute(
            select(func.count(), func.sum(case((used, 1), else_=0)))
            .select_from(Subscriber)
            .where(*_base(until), *_subscriber_filter(cut))
        ).one()
        return _ratio(float(row[1] or 0), float(row[0] or 0))

    return compute


def _surveys(kind: str, since: datetime, until: datetime, cut: Cut) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [
        Survey.kind == kind,
        Survey.score.is_not(None),
        Survey.answered_at >= since,
        Survey.answered_at < until,
        *_in_subscribers(Survey.subscriber_id, cut),
    ]
    on_case = Cut(
        channel=cut.channel, team_id=cut.team_id, agent_id=cut.agent_id, origin=cut.origin
    )
    if on_case != OVERALL:
        where.append(Survey.case_id.in_(select(Case.id).where(*_case_filter(on_case))))
    return where


def _nps(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    row = s.execute(
        select(
            func.count(),
            func.sum(case((Survey.score >= surveys.NPS_PROMOTER_MIN, 1), else_=0)),
            func.sum(case((Survey.score <= surveys.NPS_DETRACTOR_MAX, 1), else_=0)),
        ).where(*_surveys("nps", since, until, cut))
    ).one()
    return _ratio(float((row[1] or 0) - (row[2] or 0)), float(row[0] or 0))


def _csat(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    row = s.execute(
        select(
            func.count(), func.sum(case((Survey.score >= surveys.CSAT_SATISFIED_MIN, 1), else_=0))
        ).where(*_surveys("csat", since, until, cut))
    ).one()
    return _ratio(float(row[1] or 0), float(row[0] or 0))


def _ces(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    row = s.execute(
        select(func.count(), func.sum(Survey.score)).where(*_surveys("ces", since, until, cut))
    ).one()
    return _ratio(float(row[1] or 0), float(row[0] or 0), 1.0)


def _install_lead_time(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    who = _in_subscribers(JourneyEvent.subscriber_id, cut)
    installed = (
        select(JourneyEvent.subscriber_id, func.min(JourneyEvent.at).label("at"))
        .where(JourneyEvent.kind == "installed", *who)
        .group_by(JourneyEvent.subscriber_id)
        .subquery()
    )
    signup = (
        select(JourneyEvent.subscriber_id, func.min(JourneyEvent.at).label("at"))
        .where(JourneyEvent.kind == "signup", *who)
        .group_by(JourneyEvent.subscriber_id)
        .subquery()
    )
    rows = s.execute(
        select(signup.c.at, installed.c.at)
        .join(signup, signup.c.subscriber_id == installed.c.subscriber_id)
        .where(installed.c.at >= since, installed.c.at < until)
    ).all()
    days = [(b - a).total_seconds() / 86400.0 for a, b in rows if a <= b]
    return Measure(_median(days), None, float(len(days)))


def _churn_rate(s: Session, since: datetime, until: datetime, cut: Cut) -> Measure:
    row = s.execute(
        select(
            func.count(),
            func.sum(
                case(
                    (and_(Subscriber.churned_at.is_not(None), Subscriber.churned_at < until), 1),
                    else_=0,
                )
            ),
        )
        .select_from(Subscriber)
        .where(*_base(since), *_subscriber_filter(cut))
    ).one()
    return _ratio(float(row[1] or 0), float(row[0] or 0), 100.0 * _month_scale(since, until))


COMPUTE: dict[str, Compute] = {
    "first_contact_resolution": _first_contact_resolution,
    "repeat_contact_rate": _repeat_contact_rate,
    "truck_roll_rate": _truck_roll_rate,
    "truck_rolls_per_1000_subscribers": _truck_rolls_per_1000,
    "repeat_dispatch_rate": _repeat_dispatch_rate,
    "no_fault_found_rate": _no_fault_found_rate,
    "first_response_time": _first_response_time,
    "time_to_resolve": _time_to_resolve,
    "time_to_resolve_p90": _time_to_resolve_p90,
    "sla_compliance": _sla_compliance,
    "average_handle_time": _average_handle_time,
    "cases_per_1000_subscribers": _cases_per_1000,
    "backlog": _backlog,
    "proactive_share": _proactive_share,
    "proactive_resolution_without_contact": _proactive_resolution,
    "auto_remediation_success": _auto_remediation_success,
    "experience_score_mean": _experience_score_mean,
    "experience_score_good_share": _experience_good,
    "availability": _availability,
    "self_service_containment": _containment,
    "digital_adoption": _active_share(ADOPTION_DAYS),
    "app_engagement": _active_share(ENGAGEMENT_DAYS),
    "nps": _nps,
    "csat": _csat,
    "ces": _ces,
    "install_lead_time": _install_lead_time,
    "churn_rate": _churn_rate,
}
if set(COMPUTE) != set(KPIS):  # pragma: no cover - a definition without its computation
    raise RuntimeError(f"KPIs without a computation: {sorted(set(KPIS) ^ set(COMPUTE))}")


def kpi(name: str) -> Kpi:
    """The definition of ``name`` (``ValidationFailed`` naming the known ones otherwise)."""
    found = KPIS.get(name)
    if found is None:
        raise ValidationFailed(
            "unknown KPI", [FieldError("kpi", f"one of {', '.join(sorted(KPIS))}")]
        )
    return found


def supports(k: Kpi, cut: Cut) -> bool:
    return set(cut.dimensions()) <= k.cuts


def compute(
    session: Session, name: str, *, since: datetime, until: datetime, cut: Cut | None = None
) -> Measure:
    """KPI ``name`` over ``[since, until)`` for ``cut``. Refuses (``ValidationFailed``) an
    unknown KPI, a bad period or a cut the KPI cannot take (its definition's ``cuts``)."""
    k = kpi(name)
    cut = cut or OVERALL
    cut.check()
    if since.tzinfo is None or until.tzinfo is None:
        raise ValidationFailed("invalid period", [FieldError("since", "needs a time zone")])
    if until <= since:
        raise ValidationFailed("invalid period", [FieldError("until", "after since")])
    if not supports(k, cut):
        refused = sorted(set(cut.dimensions()) - k.cuts)
        raise ValidationFailed(
            "cut not supported",
            [FieldError(d, f"{name} cannot be cut by {d}") for d in refused],
        )
    return COMPUTE[name](session, since, until, cut)


# ---------------------------------------------------------------------------------------------
# Targets, comparison, overview and trends


def targets(session: Session, cut: str = "") -> dict[str, float]:
    """Targets by KPI name for ``cut`` ("" = the overall targets)."""
    return {
        k: float(t)
        for k, t in session.execute(
            select(KpiTarget.kpi, KpiTarget.target).where(KpiTarget.cut == cut)
        )
        if k in KPIS
    }


def status(k: Kpi, value: float | None, target: float | None) -> str:
    """ "green" when the value meets the target in the KPI's direction, "red" when not,
    "none" without a value or a target."""
    if value is None or target is None:
        return "none"
    ok = value >= target if k.higher_is_better else value <= target
    return "green" if ok else "red"


def improved(k: Kpi, value: float | None, previous: float | None) -> bool | None:
    """Whether the value moved the right way from the previous period (None: no comparison,
    or no change)."""
    if value is None or previous is None or value == previous:
        return None
    return value > previous if k.higher_is_better else value < previous


@dataclass(frozen=True)
class Row:
    """One KPI in a comparison: this period, the previous one and the target."""

    kpi: Kpi
    current: Measure
    previous: Measure
    target: float | None

    @property
    def delta(self) -> float | None:
        if self.current.value is None or self.previous.value is None:
            return None
        return self.current.value - self.previous.value

    @property
    def status(self) -> str:
        return status(self.kpi, self.current.value, self.target)

    @property
    def improved(self) -> bool | None:
        return improved(self.kpi, self.current.value, self.previous.value)

    def to_json(self) -> dict[str, Any]:
        k = self.kpi
        return {
            "title": k.title,
            "family": k.family,
            "unit": k.unit,
            "direction": k.direction,
            "value": _round(self.current.value),
            "numerator": _round(self.current.numerator),
            "denominator": _round(self.current.denominator),
            "target": self.target,
            "previous": _round(self.previous.value),
            "delta": _round(self.delta),
            "improved": self.improved,
            "status": self.status,
        }


@dataclass(frozen=True)
class Overview:
    window: Window
    cut: Cut
    rows: dict[str, Row]

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.window.to_json(),
            "cut": {d: getattr(self.cut, d) for d in self.cut.dimensions()},
            "kpis": {name: row.to_json() for name, row in self.rows.items()},
        }


def overview(
    session: Session,
    period: str | None,
    now: datetime,
    *,
    zone: str = "UTC",
    cut: Cut | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    complete: bool = False,
    names: Sequence[str] | None = None,
) -> Overview:
    """Every KPI (or ``names``) that can take ``cut``, over the :func:`window`, with its target
    (the cut's own target, else the overall one), the previous period, delta and status."""
    cut = cut or OVERALL
    cut.check()
    w = window(period, now, zone=zone, since=since, until=until, complete=complete)
    wanted = [kpi(n) for n in names] if names is not None else list(KPIS.values())
    goals = targets(session)
    if cut != OVERALL:
        goals.update(targets(session, cut.key()))
    rows = {}
    for k in wanted:
        if not supports(k, cut):
            continue
        rows[k.name] = Row(
            k,
            COMPUTE[k.name](session, w.since, w.until, cut),
            COMPUTE[k.name](session, w.previous_since, w.previous_until, cut),
            goals.get(k.name),
        )
    return Overview(w, cut, rows)


def headline(session: Session, period: str, now: datetime, *, zone: str = "UTC") -> Overview:
    """The headline KPIs over the last complete period (the emailed report)."""
    return overview(session, period, now, zone=zone, complete=True, names=HEADLINE)


@dataclass(frozen=True)
class Point:
    """One bucket of a trend. ``source`` is "snapshot" when read from stored history."""

    period_start: datetime
    period_end: datetime
    measure: Measure
    source: str

    def to_json(self) -> dict[str, Any]:
        return {
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            **self.measure.to_json(),
            "source": self.source,
        }


def series(
    session: Session,
    name: str,
    period: str,
    count: int,
    now: datetime,
    *,
    zone: str = "UTC",
    cut: Cut | None = None,
) -> list[Point]:
    """The last ``count`` buckets of KPI ``name`` up to the current (partial) one, oldest first.
    A bucket that has ended reads its stored snapshot when one was taken after its end (history
    that outlives data retention) or when the data is gone; otherwise it is computed."""
    k = kpi(name)
    cut = cut or OVERALL
    cut.check()
    if not supports(k, cut):
        raise ValidationFailed("cut not supported", [FieldError("cut", f"{name}: not by this")])
    if not 1 <= count <= MAX_SERIES:
        raise ValidationFailed("invalid count", [FieldError("count", f"1 to {MAX_SERIES}")])
    tz = zone_of(zone)
    current = bucket_start(period, now, tz)
    starts = [shift(period, current, -i, tz) for i in range(count - 1, -1, -1)]
    stored = {
        snap.period_start: snap
        for snap in session.scalars(
            select(KpiSnapshot).where(
                KpiSnapshot.kpi == name,
                KpiSnapshot.period == period,
                KpiSnapshot.cut == cut.key(),
                KpiSnapshot.period_start >= starts[0],
            )
        )
    }
    points = []
    for start in starts:
        end = shift(period, start, 1, tz)
        snap = stored.get(start)
        if snap is not None and snap.computed_at >= end:
            measure = Measure(snap.value, snap.numerator, snap.denominator)
            points.append(Point(start, min(end, now), measure, "snapshot"))
            continue
        measure = COMPUTE[name](session, start, min(end, now), cut)
        if measure.value is None and snap is not None and snap.value is not None:
            measure = Measure(snap.value, snap.numerator, snap.denominator)
            points.append(Point(start, min(end, now), measure, "snapshot"))
            continue
        points.append(Point(start, min(end, now), measure, "live"))
    return points


# --- The leadership dashboard, cached --------------------------------------------------------

#: Seconds a dashboard stays cached in the process: leaders see figures at most this old, and a
#: page full of KPIs over a million cases is computed once a minute, not on every view.
DASHBOARD_TTL_S = 60.0
#: Cached dashboards kept per process (the oldest go first).
DASHBOARD_CACHE_SIZE = 64
#: Trend buckets shown per headline KPI.
TREND_BUCKETS = 12


@dataclass(frozen=True)
class Dashboard:
    """The headline KPIs with target, previous period and status, and a trend of each."""

    overview: Overview
    trends: dict[str, list[Point]]
    computed_at: datetime


_dashboards: dict[tuple[Any, ...], tuple[float, Any]] = {}
_dashboards_lock = threading.Lock()


def cached(session: Session, key: tuple[Any, ...], compute: Callable[[], T], *, ttl_s: float) -> T:
    """``compute()``, from this process's dashboard cache when it ran less than ``ttl_s``
    seconds ago for the same database and ``key`` (``ttl_s`` 0: always computed). The key must
    name the period bucket, not the current time, so that views within the TTL share it."""
    if ttl_s <= 0:
        return compute()
    full = (session.get_bind().engine.url.render_as_string(hide_password=True), *key)
    clock = time.monotonic()
    with _dashboards_lock:
        hit = _dashboards.get(full)
    if hit is not None and hit[0] > clock:
        return cast(T, hit[1])
    value = compute()
    with _dashboards_lock:
        _dashboards[full] = (clock + ttl_s, value)
        while len(_dashboards) > DASHBOARD_CACHE_SIZE:
            _dashboards.pop(min(_dashboards, key=lambda k: _dashboards[k][0]))
    return value


def dashboard(
    session: Session,
    period: str,
    now: datetime,
    *,
    zone: str = "UTC",
    cut: Cut | None = None,
    names: Sequence[str] = HEADLINE,
    buckets: int = TREND_BUCKETS,
    ttl_s: float = DASHBOARD_TTL_S,
) -> Dashboard:
    """The leadership dashboard (:data:`HEADLINE` KPIs and their trends), from this process's
    cache (:func:`cached`) when it was computed less than ``ttl_s`` seconds ago for the same
    period bucket, cut and KPIs. Trends read stored snapshots for the buckets that have ended
    (:func:`series`)."""
    cut = cut or OVERALL
    w = window(period, now, zone=zone)

    def compute() -> Dashboard:
        return Dashboard(
            overview=overview(session, period, now, zone=zone, cut=cut, names=names),
            trends={
                n: series(session, n, period, buckets, now, zone=zone, cut=cut)
                for n in names
                if supports(kpi(n), cut)
            },
            computed_at=now,
        )

    key = ("leadership", period, zone, w.since, cut.key(), tuple(names), buckets)
    return cached(session, key, compute, ttl_s=ttl_s)


def forget_dashboards() -> None:
    """Empty this process's dashboard cache (after a target changes, and in tests)."""
    with _dashboards_lock:
        _dashboards.clear()
