"""Periodic telemetry work: hourly and daily rollups per home, and retention.

Both are safe to run again and again (a worker, cron or ``homeport`` command calls them): a
rollup recomputes whole periods from the raw reports and upserts them, so running it twice, or
after late reports arrived, leaves the same rows; the purge deletes only what is past its
window. Periods are UTC hours and UTC days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from homeport.core.telemetry_settings import TelemetrySettings
from homeport.telemetry.models import TelemetryDaily, TelemetryHourly, TelemetryReport

_REPORTS: Table = TelemetryReport.__table__  # type: ignore[assignment]
_HOURLY: Table = TelemetryHourly.__table__  # type: ignore[assignment]
_DAILY: Table = TelemetryDaily.__table__  # type: ignore[assignment]
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class RollupResult:
    hourly: int
    daily: int


@dataclass(frozen=True)
class PurgeResult:
    raw: int
    hourly: int
    daily: int


def floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def floor_day(at: datetime) -> datetime:
    return floor_hour(at).replace(hour=0)


def _ceil(at: datetime, floor: datetime, step: timedelta) -> datetime:
    return floor if at.astimezone(UTC) == floor else floor + step


def _bucket(dialect: str, hourly: bool) -> ColumnElement[Any]:
    ts = _REPORTS.c.ts
    if dialect == "postgresql":  # the connection's time zone is UTC (core.db)
        return func.date_trunc("hour" if hourly else "day", ts)
    return func.strftime("%Y-%m-%d %H:00:00" if hourly else "%Y-%m-%d 00:00:00", ts)


def _as_utc(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite's strftime
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _aggregate(
    session: Session, table: Table, start: datetime, end: datetime, *, hourly: bool
) -> int:
    dialect = session.get_bind().dialect.name
    r = _REPORTS.c
    bucket = _bucket(dialect, hourly).label("period_start")
    query = (
        select(
            r.home_id,
            bucket,
            func.count().label("reports"),
            func.sum(case((r.wan_status == "down", 1), else_=0)).label("wan_down_reports"),
            func.avg(r.down_mbps).label("down_mbps_avg"),
            func.min(r.down_mbps).label("down_mbps_min"),
            func.avg(r.latency_ms).label("latency_ms_avg"),
            func.max(r.latency_ms).label("latency_ms_max"),
            func.avg(r.jitter_ms).label("jitter_ms_avg"),
            func.avg(r.loss_pct).label("loss_pct_avg"),
            func.min(r.optical_rx_dbm).label("optical_rx_dbm_min"),
            func.avg(r.clients_weak).label("clients_weak_avg"),
            func.coalesce(func.sum(r.disconnects), 0).label("disconnects"),
        )
        .where(r.home_id.is_not(None), r.ts >= start, r.ts < end)
        .group_by(r.home_id, bucket)
    )
    rows: list[dict[str, Any]] = []
    for row in session.execute(query).mappings():
        values = dict(row)
        values["period_start"] = _as_utc(values["period_start"])
        for key in ("reports", "wan_down_reports", "disconnects"):
            values[key] = int(values[key])
        for key, value in values.items():
            if key not in ("home_id", "period_start", "reports", "wan_down_reports", "disconnects"):
                values[key] = None if value is None else float(value)
        rows.append(values)
    if not rows:
        return 0
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    keys = ("home_id", "period_start")
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys},
    )
    session.connection().execute(stmt, rows)
    return len(rows)


def rollup(
    session: Session,
    since: datetime,
    until: datetime,
    *,
    hourly: bool = True,
    daily: bool = True,
) -> RollupResult:
    """Recompute the hourly and daily rollups of every UTC hour and day that overlaps
    ``[since, until)`` and upsert them (idempotent). ``hourly=False`` or ``daily=False`` leaves
    that table alone (the worker refreshes hours often and days less often)."""
    if until <= since:
        return RollupResult(0, 0)
    h0, d0 = floor_hour(since), floor_day(since)
    h1 = _ceil(until, floor_hour(until), HOUR)
    d1 = _ceil(until, floor_day(until), DAY)
    hours = _aggregate(session, _HOURLY, h0, h1, hourly=True) if hourly else 0
    days = _aggregate(session, _DAILY, d0, d1, hourly=False) if daily else 0
    return RollupResult(hours, days)


def rollup_start(
    session: Session, now: datetime, lookback: timedelta, *, daily: bool = False
) -> datetime:
    """Where a periodic rollup of the hourly (or daily) table should begin: at the latest period
    already stored, and at least ``lookback`` before ``now`` (reports that late are counted);
    with nothing rolled up yet, at the oldest raw report. A worker that was stopped for a while
    thus catches up on the periods it missed. (It reads the whole rollup table: the worker asks
    once when it starts, then remembers its own last run.)"""
    table = _DAILY if daily else _HOURLY
    latest = session.execute(select(func.max(table.c.period_start))).scalar_one_or_none()
    if latest is None:
        latest = session.execute(select(func.min(_REPORTS.c.ts))).scalar_one_or_none()
    floor = now - lookback
    if latest is None:
        return floor
    return min(_as_utc(latest), floor)


def purge(session: Session, now: datetime, settings: TelemetrySettings) -> PurgeResult:
    """Delete raw reports, hourly and daily rollups older than their retention windows."""
    raw_cut = now - timedelta(days=settings.raw_retention_days)
    hourly_cut = now - timedelta(days=settings.hourly_retention_days)
    daily_cut = now - timedelta(days=settings.daily_retention_days)
    conn = session.connection()
    raw = conn.execute(delete(_REPORTS).where(_REPORTS.c.ts < raw_cut)).rowcount
    hourly = conn.execute(delete(_HOURLY).where(_HOURLY.c.period_start < hourly_cut)).rowcount
    daily = conn.execute(delete(_DAILY).where(_DAILY.c.period_start < daily_cut)).rowcount
    return PurgeResult(raw, hourly, daily)
