"""Hourly and daily rollups per home (idempotent) and retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.telemetry_settings import TelemetrySettings
from homeport.telemetry import service
from homeport.telemetry.actions import store_reports
from homeport.telemetry.ingest import parse_one
from homeport.telemetry.models import TelemetryDaily, TelemetryHourly, TelemetryReport
from homeport.telemetry.tasks import floor_day, floor_hour, purge, rollup
from tests.factories import Fleet
from tests.telemetry.conftest import report

T0 = datetime(
    2026, 11, 22, 22, 0, tzinfo=UTC
)  # reports from 22:00 on the 22nd to 00:55 on the 23rd
SETTINGS = TelemetrySettings(raw_retention_days=30)


def _series(db: Database, clock: ManualClock) -> None:
    reports = []
    for i in range(36):  # 3 hours at 5-minute intervals
        ts = T0 + timedelta(minutes=5 * i)
        down = i >= 24 and i < 27  # three reports down in the last hour
        wan = {
            "status": "down" if down else "up",
            "down_mbps": None if down else 400.0 + i,
            "latency_ms": None if down else 10.0 + (i % 12),
            "jitter_ms": None if down else 2.0,
            "loss_pct": None if down else 0.5,
            "optical_rx_dbm": -20.0 - i / 10,
            "disconnects": 1 if i == 27 else 0,
        }
        reports.append(parse_one(report("GW-000101", ts=ts, wan=wan)))
    reports.append(parse_one(report("GW-000102", ts=T0 + timedelta(minutes=30))))
    with db.transaction() as session:
        store_reports(session, reports, source="sim", now=clock.now(), settings=SETTINGS)


def test_periods_are_utc_hours_and_days() -> None:
    at = datetime(2026, 11, 23, 1, 30, 12, tzinfo=UTC)
    assert floor_hour(at) == datetime(2026, 11, 23, 1, tzinfo=UTC)
    assert floor_day(at) == datetime(2026, 11, 23, tzinfo=UTC)


def test_hourly_and_daily_rollups_per_home(db: Database, clock: ManualClock, fleet: Fleet) -> None:
    _series(db, clock)
    alice = fleet.homes["ACC-1001"]
    with db.transaction() as session:
        result = rollup(session, T0, T0 + timedelta(hours=3))
    assert result.hourly == 4  # Alice 22:00, 23:00, 00:00; Bob 22:00
    assert result.daily == 3  # Alice on the 22nd and the 23rd; Bob on the 22nd
    with db.session() as session:
        hours = service.hourly_for_home(session, alice, since=T0, until=T0 + timedelta(hours=3))
        days = service.daily_for_home(
            session, alice, since=T0 - timedelta(days=1), until=T0 + timedelta(days=1)
        )
    assert [h.period_start for h in hours] == [T0 + timedelta(hours=h) for h in range(3)]
    first, _, last = hours
    assert (first.reports, first.wan_down_reports, first.disconnects) == (12, 0, 0)
    assert first.down_mbps_avg == pytest.approx(405.5)
    assert first.down_mbps_min == 400.0
    assert first.latency_ms_avg == pytest.approx(15.5)
    assert first.latency_ms_max == 21.0
    assert first.optical_rx_dbm_min == pytest.approx(-21.1)
    assert first.clients_weak_avg == 1.0
    assert (last.reports, last.wan_down_reports, last.disconnects) == (12, 3, 1)
    assert last.down_mbps_avg == pytest.approx(sum(400.0 + i for i in range(27, 36)) / 9)
    assert [(d.period_start, d.reports) for d in days] == [
        (datetime(2026, 11, 22, tzinfo=UTC), 24),
        (datetime(2026, 11, 23, tzinfo=UTC), 12),
    ]
    assert days[1].wan_down_reports == 3
    assert days[0].latency_ms_max == 21.0


def test_a_rollup_is_idempotent_and_takes_late_reports_in(
    db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    _series(db, clock)
    with db.transaction() as session:
        rollup(session, T0, T0 + timedelta(hours=3))
    with db.transaction() as session:  # same window again: same rows
        rollup(session, T0 + timedelta(minutes=20), T0 + timedelta(minutes=21))
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(TelemetryHourly)) == 4
        first = session.get_one(TelemetryHourly, (fleet.homes["ACC-1001"], T0))
        assert first.reports == 12
    late = parse_one(report("GW-000101", ts=T0 + timedelta(minutes=2)))
    with db.transaction() as session:
        store_reports(session, [late], source="http", now=clock.now(), settings=SETTINGS)
        rollup(session, late.ts, late.ts + timedelta(seconds=1))
    with db.session() as session:
        first = session.get_one(TelemetryHourly, (fleet.homes["ACC-1001"], T0))
        day = session.get_one(TelemetryDaily, (fleet.homes["ACC-1001"], floor_day(T0)))
        assert first.reports == 13
        assert day.reports == 25
        assert session.scalar(select(func.count()).select_from(TelemetryHourly)) == 4


def test_an_empty_window_writes_nothing(db: Database, fleet: Fleet) -> None:
    with db.transaction() as session:
        assert rollup(session, T0, T0).hourly == 0
        assert rollup(session, T0, T0 + timedelta(hours=1)).hourly == 0


def test_purge_keeps_each_table_for_its_window(
    db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    _series(db, clock)
    with db.transaction() as session:
        rollup(session, T0, T0 + timedelta(hours=3))
    settings = TelemetrySettings(
        raw_retention_days=1, hourly_retention_days=2, daily_retention_days=3
    )
    # 25 hours after the first report: the 22:00 hour of raw reports is gone, the rest stays.
    with db.transaction() as session:
        result = purge(session, T0 + timedelta(hours=25), settings)
    assert (result.raw, result.hourly, result.daily) == (13, 0, 0)
    with db.session() as session:
        oldest = session.scalar(select(func.min(TelemetryReport.ts)))
        assert oldest == T0 + timedelta(hours=1)
    with db.transaction() as session:
        result = purge(session, T0 + timedelta(days=2, hours=1, minutes=1), settings)
    # Raw: the rest of Alice's reports; hourly: Alice's 22:00 and 23:00, Bob's 22:00.
    assert (result.raw, result.hourly, result.daily) == (24, 3, 0)
    with db.transaction() as session:
        result = purge(session, datetime(2026, 11, 25, 12, tzinfo=UTC), settings)
    # Hourly: Alice's 00:00 on the 23rd; daily: both homes' 22nd, Alice's 23rd stays.
    assert (result.raw, result.hourly, result.daily) == (0, 1, 2)
    with db.session() as session:
        assert session.scalars(select(TelemetryDaily.period_start)).all() == [
            datetime(2026, 11, 23, tzinfo=UTC)
        ]
