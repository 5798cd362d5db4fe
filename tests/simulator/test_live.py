"""Live telemetry through the real transports: the simulated fleet's reports, with injected
faults and their ground truth, sent over HTTP into a running server (uvicorn on loopback) while
the worker runs, and the simulation clock."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import ServiceUnavailable
from homeport.core.settings import Settings
from homeport.health.models import Finding, Outage
from homeport.identity import actions as identity_actions
from homeport.simulator import live
from homeport.simulator.faults import EXPECTED
from homeport.simulator.fleet import generate_fleet
from homeport.simulator.models import SimFault
from homeport.telemetry.ingest import parse_batch
from homeport.telemetry.models import TelemetryReport
from homeport.worker import Scheduler, default_tasks
from tests.cli.serving import ServerThread
from tests.conftest import START, TEST_ACTOR, make_staff

HOUR = timedelta(hours=1)


def telemetry_token(db: Database, clock: ManualClock) -> str:
    user = make_staff(db, clock, email="bridge@example.net", role="noc")
    with db.transaction() as session:
        _, secret = identity_actions.create_api_token(
            session, user_id=user.id, scopes=["telemetry:write"], actor=TEST_ACTOR, now=START
        )
    return secret


def small_fleet(db: Database, subscribers: int = 60) -> None:
    """A fleet built a day before START; seed 7 puts 20 FTTP homes on port 1 (a fibre cut
    there is an outage)."""
    generate_fleet(db, subscribers=subscribers, seed=7, now=START - timedelta(days=1))


def count(db: Database, stmt: object) -> int:
    with db.session() as session:
        return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]


# --- The clock ----------------------------------------------------------------------------


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_sim_clock_runs_faster_and_waits_at_its_limit_without_jumping() -> None:
    real = FakeMonotonic()
    limit = [START + timedelta(minutes=10)]
    clock = live.SimClock(START, 60, limits=[lambda: limit[0]], monotonic=real)
    real.t += 5  # five real seconds: five simulated minutes
    assert clock.now() == START + timedelta(minutes=5)
    real.t += 60
    assert clock.now() == START + timedelta(minutes=10)  # held at the limit
    limit[0] = START + HOUR
    assert clock.now() == START + timedelta(minutes=10)  # resumes from there, no jump
    real.t += 1
    assert clock.now() == START + timedelta(minutes=11)
    limit[0] = START  # a limit that moves back never turns the clock back
    assert clock.now() == START + timedelta(minutes=11)


def test_sim_clock_waits_in_real_time_and_stops() -> None:
    clock = live.SimClock(START, 3600)
    stop = threading.Event()
    assert clock.wait_until(START + timedelta(seconds=180), stop)  # 0.05 s of real time
    assert clock.now() >= START + timedelta(seconds=180)
    stop.set()
    assert not clock.wait_until(START + timedelta(days=1), stop)


def test_reports_round_trip_through_the_contract(db: Database) -> None:
    from homeport.simulator import telemetry

    small_fleet(db, 20)
    with db.session() as session:
        fleet = telemetry.load_fleet(session, at=START)
    reports = telemetry.reports(fleet, telemetry.frame(fleet, int(START.timestamp())))
    body = b"[" + b",".join(live.encode(r) for r in reports) + b"]"
    parsed, rejected = parse_batch(body)
    assert rejected == [] and parsed == reports


# --- HTTP into a running server, with the worker ------------------------------------------


def test_live_http_delivers_faults_that_become_findings_and_an_outage(
    db: Database, settings: Settings, clock: ManualClock, app: FastAPI
) -> None:
    small_fleet(db)
    token = telemetry_token(db, clock)
    scheduler = Scheduler(db, default_tasks(settings), clock)
    options = live.LiveOptions(
        interval_s=300, seed=11, min_port_homes=settings.health.outage_min_homes, kickoff_s=600
    )
    with ServerThread(app) as server:
        transport = live.HttpTransport(server.url, token, batch=25)
        live.check_reachable(transport)
        emitter = live.LiveEmitter(db, transport, live.ManualPacer(clock), options)
        stats = emitter.run(
            threading.Event(),
            start=START,
            end=START + 2 * HOUR,
            after_tick=lambda _ts: scheduler.run_due(),
        )
        transport.close()

    d = stats.delivery
    assert stats.ticks == 24 and d.failed == 0 and d.rejected == 0
    assert d.sent == d.accepted > 0 and stats.silent > 0  # the cut gateways said nothing
    http = select(func.count()).select_from(TelemetryReport).where(TelemetryReport.source == "http")
    assert count(db, http) == d.accepted

    with db.session() as session:
        truth = list(session.scalars(select(SimFault).order_by(SimFault.started_at, SimFault.id)))
        found = list(session.scalars(select(Finding).where(Finding.opened_at.is_not(None))))
        outages = list(session.scalars(select(Outage)))
    assert len(truth) == stats.faults_started > 0
    assert all(START <= f.started_at < (f.ended_at or START) <= START + 2 * HOUR for f in truth)
    # A quick fault starts within two intervals; it is found two reports later.
    quick = next(f for f in truth if f.kind in live.QUICK_KINDS)
    assert quick.started_at <= START + timedelta(minutes=10)
    opened = [
        f.opened_at
        for f in found
        if f.home_id == quick.home_id and f.kind in EXPECTED[quick.kind] and f.opened_at
    ]
    assert opened and min(opened) <= quick.started_at + timedelta(minutes=10)
    # The fibre cut silences its port: the worker's offline check opens one outage there, and
    # it closes once the gateways report again.
    [cut] = [f for f in truth if f.kind == "fibre_cut"]
    assert cut.started_at <= START + timedelta(minutes=20)
    [outage] = outages
    assert (outage.scope, outage.port_id) == ("port", cut.port_id)
    assert outage.opened_at <= cut.started_at + timedelta(minutes=20)
    assert outage.status == "closed" and outage.closed_at is not None
    offline = [f for f in found if f.kind == "device_offline"]
    assert offline and all(f.outage_id == outage.id for f in offline)
    assert all(f.status == "resolved" for f in offline)
    # Rollups ran on the worker's schedule.
    assert scheduler.metrics.runs.labels("rollup_hourly", "ok")._value.get() >= 2


def test_stopping_cuts_the_ground_truth_short(
    db: Database, settings: Settings, clock: ManualClock, app: FastAPI
) -> None:
    small_fleet(db, 30)
    token = telemetry_token(db, clock)
    stop = threading.Event()
    with ServerThread(app) as server:
        transport = live.HttpTransport(server.url, token)
        emitter = live.LiveEmitter(
            db, transport, live.ManualPacer(clock), live.LiveOptions(seed=3, kickoff_s=300)
        )

        def after(ts: object) -> None:
            if emitter.stats.ticks == 4:
                stop.set()

        stats = emitter.run(stop, start=START, after_tick=after)
        transport.close()
    assert stats.ticks == 4
    stopped = START + timedelta(minutes=20)
    with db.session() as session:
        truth = list(session.scalars(select(SimFault)))
    assert truth and all(f.started_at < (f.ended_at or START) <= stopped for f in truth)


def test_a_refused_token_or_no_server_is_a_clear_error(
    db: Database, clock: ManualClock, app: FastAPI
) -> None:
    with ServerThread(app) as server:
        bad = live.HttpTransport(server.url, "hp_nope_nope")
        with pytest.raises(ServiceUnavailable, match="answered 401"):
            live.check_reachable(bad)
    gone = live.HttpTransport(server.url, "hp_x_y", retries=1, sleep=lambda _s: None)
    with pytest.raises(ServiceUnavailable, match="cannot reach"):
        live.check_reachable(gone)
