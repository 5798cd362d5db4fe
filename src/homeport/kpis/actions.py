"""Writes of the KPI domain: targets (audited), snapshots of every KPI stored idempotently so
that history outlives data retention, report subscriptions and the scheduled email report
(queued through the support domain's outbound queue, sent by the worker's email task)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.errors import FieldError, NotFound, ValidationFailed
from homeport.identity.models import Team
from homeport.kpis import service
from homeport.kpis.definitions import KPIS
from homeport.kpis.models import (
    PERIODS,
    REPORT_FREQUENCIES,
    KpiReportSubscription,
    KpiSnapshot,
    KpiTarget,
)
from homeport.kpis.service import Cut, Overview
from homeport.support.actions import queue_outbound
from homeport.support.models import CHANNELS

#: The weekly report goes out on Monday (weekday 0) at this local hour; the monthly one on the
#: 1st at the same hour; both cover the last complete period.
REPORT_WEEKDAY = 0
REPORT_HOUR = 7
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def set_target(
    session: Session,
    actor: Actor,
    kpi: str,
    value: float | None,
    cut: str = "",
    *,
    now: datetime | None = None,
) -> KpiTarget | None:
    """Set (or, with ``value`` None, remove) the target of ``kpi`` overall (``cut`` "") or for
    one cut ("team:3", "channel:email"); audited."""
    k = service.kpi(kpi)
    parsed = Cut.parse(cut)
    if parsed != service.OVERALL and not service.supports(k, parsed):
        raise ValidationFailed(
            "invalid target", [FieldError("cut", f"{kpi} cannot be cut by {cut}")]
        )
    if value is not None:
        problems = []
        if not math.isfinite(value):
            problems.append(FieldError("value", "a finite number"))
        elif k.unit == "%" and not 0 <= value <= 100:
            problems.append(FieldError("value", "0 to 100 (a percentage)"))
        elif k.name == "nps" and not -100 <= value <= 100:
            problems.append(FieldError("value", "-100 to 100"))
        elif k.unit != "score" and value < 0:
            problems.append(FieldError("value", "0 or more"))
        if problems:
            raise ValidationFailed("invalid target", problems)
    now = now or datetime.now(UTC)
    key = parsed.key()
    row = session.scalars(
        select(KpiTarget).where(KpiTarget.kpi == kpi, KpiTarget.cut == key).with_for_update()
    ).first()
    previous = None if row is None else row.target
    if value is None:
        if row is not None:
            session.delete(row)
    else:
        if row is None:
            row = KpiTarget(kpi=kpi, cut=key)
            session.add(row)
        row.target = float(value)
        row.updated_at = now
        row.updated_by_id = actor.id if actor.kind == "staff" else None
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="kpi.target_set" if value is not None else "kpi.target_removed",
        entity_type="kpi_target",
        entity_id=f"{kpi}@{key}" if key else kpi,
        kpi=kpi,
        cut=key,
        previous=previous,
        target=value,
    )
    service.forget_dashboards()  # this process shows the new target at once (others: TTL)
    return row if value is not None else None


def seed_default_targets(
    session: Session, actor: Actor, *, now: datetime, overwrite: bool = False
) -> list[str]:
    """Set the documented default targets (``Kpi.default_target``) that are not set yet (all of
    them with ``overwrite``). Returns the names set."""
    existing = service.targets(session)
    done = []
    for k in KPIS.values():
        if k.default_target is None or (k.name in existing and not overwrite):
            continue
        set_target(session, actor, k.name, k.default_target, now=now)
        done.append(k.name)
    return done


def snapshot_cuts(session: Session) -> list[Cut]:
    """The cuts every snapshot stores: overall, each channel and each team."""
    teams = session.scalars(select(Team.id).order_by(Team.id)).all()
    return [
        service.OVERALL,
        *(Cut(channel=c) for c in CHANNELS),
        *(Cut(team_id=t) for t in teams),
    ]


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def snapshot(
    session: Session,
    *,
    period: str,
    period_start: datetime,
    now: datetime,
    zone: str = "UTC",
    cuts: list[Cut] | None = None,
) -> int:
    """Store every KPI over the bucket starting at ``period_start`` (up to ``now`` when it has
    not ended), overall and per channel and team, upserting on (kpi, period, period_start, cut):
    running it again replaces the rows. Cuts with no value are not stored. Returns the rows."""
    if period not in PERIODS:
        raise ValidationFailed("invalid period", [FieldError("period", " or ".join(PERIODS))])
    tz = service.zone_of(zone)
    start = service.bucket_start(period, period_start, tz)
    if start != period_start:
        raise ValidationFailed(
            "invalid period",
            [FieldError("period_start", f"the start of a {period} in {zone}: {start}")],
        )
    end = min(service.shift(period, start, 1, tz), now)
    if end <= start:
        raise ValidationFailed("invalid period", [FieldError("period_start", "in the past")])
    rows = []
    for cut in cuts if cuts is not None else snapshot_cuts(session):
        for k in KPIS.values():
            if not service.supports(k, cut):
                continue
            m = service.COMPUTE[k.name](session, start, end, cut)
            if cut != service.OVERALL and m.value is None:
                continue
            rows.append(
                {
                    "kpi": k.name,
                    "period": period,
                    "period_start": start,
                    "cut": cut.key(),
                    "value": m.value,
                    "numerator": m.numerator,
                    "denominator": m.denominator,
                    "computed_at": now,
                }
            )
    if not rows:
        return 0
    insert = _insert(session)
    for i in range(0, len(rows), 500):
        stmt = insert(KpiSnapshot).values(rows[i : i + 500])
        stmt = stmt.on_conflict_do_update(
            index_elements=["kpi", "period", "period_start", "cut"],
            set_={
                "value": stmt.excluded.value,
                "numerator": stmt.excluded.numerator,
                "denominator": stmt.excluded.denominator,
                "computed_at": stmt.excluded.computed_at,
            },
        )
        session.execute(stmt)
    return len(rows)


@dataclass(frozen=True)
class SnapshotRun:
    rows: int
    buckets: list[tuple[str, datetime]]


def snapshot_due(session: Session, *, now: datetime, zone: str = "UTC") -> SnapshotRun:
    """The worker's daily run: for each of day, week and month, the bucket that ended last
    (final figures) and the current one (so far; replaced by the final figures once it ends)."""
    tz = service.zone_of(zone)
    rows, buckets = 0, []
    for period in PERIODS:
        current = service.bucket_start(period, now, tz)
        for start in (service.shift(period, current, -1, tz), current):
            if start >= now:
                continue
            rows += snapshot(session, period=period, period_start=start, now=now, zone=zone)
            buckets.append((period, start))
    return SnapshotRun(rows, buckets)


# ---------------------------------------------------------------------------------------------
# Scheduled reports


def subscribe(
    session: Session, actor: Actor, email: str, *, frequency: str = "weekly", now: datetime
) -> KpiReportSubscription:
    """Send the KPI report to ``email`` weekly (Monday 07:00 in the BSP's zone) or monthly (the
    1st). Subscribing again turns a stopped subscription back on."""
    email = email.strip().lower()
    problems = []
    if not _EMAIL.match(email) or len(email) > 254:
        problems.append(FieldError("email", "an email address"))
    if frequency not in REPORT_FREQUENCIES:
        problems.append(FieldError("frequency", " or ".join(REPORT_FREQUENCIES)))
    if problems:
        raise ValidationFailed("invalid subscription", problems)
    row = session.scalars(
        select(KpiReportSubscription).where(
            KpiReportSubscription.email == email, KpiReportSubscription.frequency == frequency
        )
    ).first()
    if row is None:
        row = KpiReportSubscription(
            email=email, frequency=frequency, kpis=[], active=True, created_at=now
        )
        session.add(row)
    row.active = True
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="kpi.report_subscribed",
        entity_type="kpi_report_subscription",
        entity_id=row.id,
        email=email,
        frequency=frequency,
    )
    return row


def unsubscribe(session: Session, actor: Actor, email: str, *, now: datetime) -> int:
    """Stop every report to ``email``; returns how many subscriptions were stopped."""
    rows = session.scalars(
        select(KpiReportSubscription)
        .where(
            KpiReportSubscription.email == email.strip().lower(),
            KpiReportSubscription.active.is_(True),
        )
        .order_by(KpiReportSubscription.id)
    ).all()
    if not rows:
        raise NotFound(f"no active KPI report subscription for {email}")
    for row in rows:
        row.active = False
        record(
            session,
            at=now,
            actor=actor,
            action="kpi.report_unsubscribed",
            entity_type="kpi_report_subscription",
            entity_id=row.id,
            email=row.email,
        )
    return len(rows)


def report_due_at(frequency: str, now: datetime, zone: str) -> datetime:
    """The latest scheduled send time at or before ``now`` (UTC)."""
    tz = service.zone_of(zone)
    period = "week" if frequency == "weekly" else "month"
    start = service.bucket_start(period, now, tz)
    due = (start.astimezone(tz) + timedelta(hours=REPORT_HOUR)).astimezone(UTC)
    if due > now:
        previous = service.shift(period, start, -1, tz)
        due = (previous.astimezone(tz) + timedelta(hours=REPORT_HOUR)).astimezone(UTC)
    return due


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    text = f"{value:,.1f}"
    return (
        f"{text} %" if unit == "%" else f"{text} {unit}" if unit not in ("count", "score") else text
    )


def report_text(o: Overview, *, bsp_name: str, zone: str) -> tuple[str, str]:
    """The report's subject and plain-text body: each headline KPI with its value, target,
    previous period and green/red."""
    tz = service.zone_of(zone)
    first = o.window.since.astimezone(tz)
    last = (o.window.until - timedelta(seconds=1)).astimezone(tz)
    what = "week" if o.window.period == "week" else (o.window.period or "period")
    subject = f"{bsp_name} KPIs, {what} of {first:%d %b %Y}"
    lines = [
        f"{bsp_name}: KPIs for {first:%a %d %b %Y} to {last:%a %d %b %Y} ({zone}).",
        "",
        f"{'KPI':<34} {'value':>12} {'target':>12} {'previous':>12}  status",
    ]
    greens = reds = 0
    for row in o.rows.values():
        k, st = row.kpi, row.status
        greens += st == "green"
        reds += st == "red"
        trend = {True: " (better)", False: " (worse)", None: ""}[row.improved]
        lines.append(
            f"{k.title:<34} {_fmt(row.current.value, k.unit):>12} "
            f"{_fmt(row.target, k.unit):>12} {_fmt(row.previous.value, k.unit):>12}  "
            f"{ {'green': 'GREEN', 'red': 'RED', 'none': '-'}[st] }{trend}"
        )
    lines += [
        "",
        f"{greens} on target, {reds} off target.",
        "Definitions: docs/kpis.md. Stop these emails: homeport kpis unsubscribe EMAIL.",
    ]
    return subject, "\n".join(lines) + "\n"


def send_reports(session: Session, *, now: datetime, zone: str = "UTC", bsp_name: str) -> int:
    """Queue the report for every active subscription whose send time has come since its last
    report (or since it was created): one email per subscription per period, never two."""
    sent = 0
    cache: dict[str, tuple[str, str]] = {}
    for sub in session.scalars(
        select(KpiReportSubscription)
        .where(KpiReportSubscription.active.is_(True))
        .order_by(KpiReportSubscription.id)
        .with_for_update()
    ):
        due = report_due_at(sub.frequency, now, zone)
        reference = sub.last_sent_at or sub.created_at
        if reference >= due:
            continue
        if sub.frequency not in cache:
            period = "week" if sub.frequency == "weekly" else "month"
            o = service.headline(session, period, now, zone=zone)
            cache[sub.frequency] = report_text(o, bsp_name=bsp_name, zone=zone)
        subject, body = cache[sub.frequency]
        queue_outbound(
            session,
            channel="email",
            recipient=sub.email,
            subject=subject,
            body=body,
            now=now,
            headers={"Auto-Submitted": "auto-generated"},
        )
        sub.last_sent_at = now
        sent += 1
    return sent
