"""The worker's scheduler and its tasks, driven by a ManualClock (no sleeping): a gateway that
stops reporting gets an offline finding, rollups are produced, retention deletes only old raw
reports, findings no report touches are checked and escalated, and a failing task neither
stops the others nor leaves anything behind."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.health.models import DeviceAction, Finding
from homeport.health.remote import queue_action
from homeport.network.models import Gateway
from homeport.support.models import Case
from homeport.telemetry.actions import store_reports
from homeport.telemetry.models import TelemetryDaily, TelemetryHourly, TelemetryReport
from homeport.telemetry.schemas import Report
from homeport.wiring import connect
from homeport.worker import Scheduler, Task, default_tasks
from tests.conftest import START
from tests.factories import Fleet, build_fleet, filler
from tests.health.reports import report

DEVICES = [f"GW-F{i:05d}" for i in range(1, 21)]
FIVE = timedelta(minutes=5)


@pytest.fixture
def fleet(db: Database) -> Fleet:
    """Twenty homes on two PON ports of one OLT, gateways GW-F00001 … GW-F00020."""
    return build_fleet(
        db,
        START - timedelta(days=30),
        (*filler(10, start=1, port="north-olt1-p1"), *filler(10, start=11, port="north-olt1-p2")),
    )


@pytest.fixture
def wired(db: Database, settings: Settings) -> Database:
    connect(db, settings)  # detection on every stored batch, cases from escalations
    return db


def send(db: Database, settings: Settings, reports: Sequence[Report], now: datetime) -> None:
    with db.transaction() as session:
        result = store_reports(session, reports, source="sim", now=now, settings=settings.telemetry)
    assert result.accepted == len(reports), result.rejected


def count(db: Database, model: type, *where: object) -> int:
    with db.session() as session:
        stmt = select(func.count()).select_from(model)
        for clause in where:
            stmt = stmt.where(clause)  # type: ignore[arg-type]
        return int(session.scalar(stmt) or 0)


def findings(db: Database, kind: str) -> list[Finding]:
    with db.session() as session:
        return list(session.scalars(select(Finding).where(Finding.kind == kind)))


def test_a_gateway_that_stops_reporting_goes_offline_when_the_worker_runs(
    wired: Database, settings: Settings, clock: ManualClock, fleet: Fleet
) -> None:
    scheduler = Scheduler(wired, default_tasks(settings), clock)
    for tick in range(6):  # GW-F00001 is silent after the first report
        at = START + tick * FIVE
        clock.set(at + timedelta(seconds=5))
        senders = DEVICES if tick == 0 else DEVICES[1:]
        send(wired, settings, [report(d, at) for d in senders], clock.now())
        runs = scheduler.run_due()
        assert all(r.ok for r in runs), runs
        silent_for = at - START
        offline = findings(wired, "device_offline")
        if silent_for < 3 * FIVE:  # three report intervals
            assert offline == [], silent_for
    [f] = findings(wired, "device_offline")
    assert (f.status, f.severity) == ("open", "critical")
    with wired.session() as session:
        gateway = session.scalar(select(Gateway).where(Gateway.device_id == "GW-F00001"))
    assert gateway is not None and f.home_id == gateway.home_id
    # The offline check ran once a minute of clock time: at each of the six ticks.
    assert scheduler.metrics.runs.labels("offline", "ok")._value.get() == 6
    # A critical finding outside an outage becomes a proactive case.
    assert count(wired, Case, Case.finding_id == f.id) == 1
    # Its next report brings it back.
    at = START + 6 * FIVE
    send(wired, settings, [report("GW-F00001", at)], at)
    [f] = findings(wired, "device_offline")
    assert f.status == "resolved"


def test_rollups_are_produced_and_catch_up(
    db: Database, settings: Settings, clock: ManualClock, fleet: Fleet
) -> None:
    # Three hours of reports from two gateways, no worker running meanwhile.
    reports = [report(d, START + i * FIVE) for i in range(36) for d in DEVICES[:2]]
    clock.set(START + timedelta(hours=3))
    send(db, settings, reports, clock.now())
    scheduler = Scheduler(db, default_tasks(settings), clock)
    assert all(r.ok for r in scheduler.run_all())
    assert count(db, TelemetryHourly) == 2 * 3  # every hour, not only the lookback window
    assert count(db, TelemetryDaily) == 2
    with db.session() as session:
        rows = session.scalars(select(TelemetryHourly.reports)).all()
        daily = session.scalars(select(TelemetryDaily.reports)).all()
    assert set(rows) == {12} and set(daily) == {36}
    # Late reports for an hour already rolled up are counted on the next run.
    late = [report("GW-F00003", START + timedelta(hours=2, minutes=5))]
    send(db, settings, late, clock.now())
    clock.advance(timedelta(minutes=5))
    [hourly] = [r for r in scheduler.run_due() if r.task == "rollup_hourly"]
    assert hourly.ok
    assert count(db, TelemetryHourly) == 7


def test_retention_deletes_only_old_raw_reports(
    db: Database, settings: Settings, clock: ManualClock, fleet: Fleet
) -> None:
    keep_days = settings.telemetry.raw_retention_days
    old = START - timedelta(days=keep_days - 1)
    send(db, settings, [report(d, old) for d in DEVICES[:3]], START)
    send(db, settings, [report(d, START) for d in DEVICES[:3]], START)
    scheduler = Scheduler(db, [t for t in default_tasks(settings) if t.name == "purge"], clock)
    [run] = scheduler.run_all()
    assert run.ok and "deleted 0 reports" in run.summary
    clock.set(START + timedelta(days=2))  # the old ones are now past the window
    [run] = scheduler.run_all()
    assert run.ok and "deleted 3 reports" in run.summary
    with db.session() as session:
        left = session.scalars(select(TelemetryReport.ts)).all()
    assert sorted(left) == [START] * 3


def test_a_failing_task_does_not_stop_the_others(
    db: Database,
    settings: Settings,
    clock: ManualClock,
    fleet: Fleet,
    caplog: pytest.LogCaptureFixture,
) -> None:
    send(db, settings, [report(d, START - FIVE) for d in DEVICES[:2]], START)

    def boom(session: Session, now: datetime, _last: datetime | None) -> str:
        session.execute(delete(TelemetryReport))  # written, then rolled back
        raise RuntimeError("disk on fire")

    tasks = [Task("boom", 60, boom), *default_tasks(settings)]
    scheduler = Scheduler(db, tasks, clock)
    with caplog.at_level(logging.ERROR, logger="homeport.worker"):
        runs = scheduler.run_all()
    assert [r.task for r in runs if not r.ok] == ["boom"]
    assert runs[0].error == "RuntimeError: disk on fire"
    assert all(r.ok for r in runs[1:]) and len(runs) == 1 + len(default_tasks(settings))
    assert count(db, TelemetryReport) == 2  # the failed run's transaction was rolled back
    assert count(db, TelemetryHourly) == 2  # the rollup after it ran
    [record] = [r for r in caplog.records if "boom" in r.getMessage()]
    assert record.task == "boom" and record.outcome == "failed"  # type: ignore[attr-defined]
    assert record.exc_info is not None
    assert scheduler.metrics.failures.labels("boom")._value.get() == 1

    # The loop keeps going too: it runs what is due and stops when asked.
    clock.advance(timedelta(minutes=1))
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run_forever, args=(stop,), kwargs={"poll_s": 0.01})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while scheduler.metrics.runs.labels("offline", "ok")._value.get() < 2:
            assert time.monotonic() < deadline, "the loop did not run the due tasks"
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert scheduler.metrics.failures.labels("boom")._value.get() == 2


def test_intervals_come_from_the_settings_and_zero_turns_a_task_off(
    db: Database, clock: ManualClock, settings: Settings
) -> None:
    tuned = settings.model_copy(
        update={
            "worker": settings.worker.model_copy(
                update={"offline_check_s": 120, "sla_s": 180, "routing_s": 180, "purge_s": 0}
            )
        }
    )
    scheduler = Scheduler(db, default_tasks(tuned), clock)
    first = {r.task for r in scheduler.run_due()}
    assert "purge" not in first and "offline" in first
    clock.advance(timedelta(seconds=60))
    assert scheduler.due() == []
    clock.advance(timedelta(seconds=60))
    assert [t.name for t in scheduler.due()] == ["offline"]
    clock.advance(timedelta(days=3))  # a jump runs each task once, not once per interval
    assert sorted(t.name for t in scheduler.due()) == sorted(first)
    assert "purge" in {r.task for r in scheduler.run_all()}  # --once runs it anyway


def test_an_old_fix_is_checked_and_a_persistent_finding_escalated(
    wired: Database, settings: Settings, clock: ManualClock, fleet: Fleet
) -> None:
    home = fleet.homes["FIL-0001"]
    with wired.transaction() as session:
        action = queue_action(
            session,
            home_id=home,
            device_id="GW-F00001",
            kind="set_channel",
            params={"band": "2.4GHz", "channel": 6},
            requested_by="policy:congested_channel",
            finding_id=None,
            now=START,
        )
        tried = Finding(
            home_id=home,
            kind="congested_channel",
            subject="2.4GHz",
            severity="warning",
            status="open",
            consecutive_bad=3,
            consecutive_clear=0,
            first_seen_at=START,
            opened_at=START,
            last_seen_at=START,
            summary="busy",
            evidence={"action_id": action.id, "remediation_at": START.isoformat()},
            remediation="attempted",
            outage_id=None,
        )
        old = Finding(
            home_id=fleet.homes["FIL-0002"],
            kind="coverage_gap",
            subject="",
            severity="warning",
            status="open",
            consecutive_bad=3,
            consecutive_clear=0,
            first_seen_at=START,
            opened_at=START,
            last_seen_at=START,
            summary="gap",
            evidence={},
            remediation="",
            outage_id=None,
        )
        session.add_all([tried, old])
    names = ("findings", "actions")
    scheduler = Scheduler(wired, [t for t in default_tasks(settings) if t.name in names], clock)
    clock.set(START + timedelta(minutes=30))
    [sweep, expire] = scheduler.run_all()
    assert sweep.summary == "1 checked, 0 fixes failed, 0 escalated" and expire.ok
    clock.set(START + timedelta(hours=25))  # past remediation_verify_s and case_after_s
    [sweep, expire] = scheduler.run_all()
    assert sweep.summary == "2 checked, 1 fixes failed, 2 escalated", sweep
    assert expire.summary == "1 remote actions expired"
    with wired.session() as session:
        rows = {f.kind: f for f in session.scalars(select(Finding))}
        status = session.scalar(select(DeviceAction.status))
    assert rows["congested_channel"].remediation == "failed"
    assert rows["coverage_gap"].evidence["escalation"] == "persistent"
    assert status == "cancelled"
    assert count(wired, Case) == 2
    [sweep, _] = scheduler.run_all()
    assert sweep.summary.startswith("0 checked")  # escalated once only
