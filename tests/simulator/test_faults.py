"""Fault injection: a seeded schedule, its marks on the reports, the ground-truth rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from homeport.audit.models import AuditEntry
from homeport.core.db import Database
from homeport.simulator import faults, telemetry
from homeport.simulator.fleet import generate_fleet
from homeport.simulator.models import SimFault

from .conftest import NOW

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
END = START + timedelta(days=7)


@pytest.fixture
def fleet(db: Database) -> telemetry.Fleet:
    generate_fleet(db, subscribers=400, seed=11, now=NOW)
    with db.session() as session:
        return telemetry.load_fleet(session, at=NOW)


def _schedule(fleet: telemetry.Fleet, seed: int = 1) -> list[faults.Fault]:
    return faults.schedule(fleet, start=START, end=END, interval_s=300, seed=seed, min_port_homes=5)


def _key(f: faults.Fault) -> tuple[object, ...]:
    return (f.kind, f.start_s, f.end_s, f.home_id, f.port_id, f.subject, f.homes.tolist())


def test_schedule_is_seeded_and_covers_every_class(fleet: telemetry.Fleet) -> None:
    got = _schedule(fleet)
    assert [_key(f) for f in got] == [_key(f) for f in _schedule(fleet)]
    assert [_key(f) for f in got] != [_key(f) for f in _schedule(fleet, seed=2)]
    assert {f.kind for f in got} == set(faults.EXPECTED)
    s0, s1 = int(START.timestamp()), int(END.timestamp())
    for f in got:
        assert s0 <= f.start_s < f.end_s <= s1
        assert f.end_s - f.start_s >= faults.MIN_INTERVALS * 300
        if f.kind in faults.PORT_KINDS:
            assert f.port_id is not None and f.home_id is None
            assert len(f.homes) >= 5
            assert (fleet.port_id[f.homes] == f.port_id).all()
        else:
            assert f.home_id == int(fleet.home_id[f.homes[0]])
    home_faults = [f for f in got if f.kind not in faults.PORT_KINDS]
    homes = [f.home_id for f in home_faults]
    assert len(homes) == len(set(homes)), "one home fault per home"
    port_faulted = {f.port_id for f in got if f.kind in faults.PORT_KINDS}
    assert not any(int(fleet.port_id[f.homes[0]]) in port_faulted for f in home_faults)
    for f in got:
        if f.kind == "evening_congestion":
            assert (f.start_s % 86_400, f.end_s % 86_400) == faults.EVENING
        if f.kind == "optical_degradation":
            assert fleet.technology[f.homes[0]] == "fttp"


def _around(fleet: telemetry.Fleet, fault: faults.Fault) -> tuple[list, list, list]:  # type: ignore[type-arg]
    """Reports of the fault's homes before, during and after it."""
    out = []
    for t in (fault.start_s - 600, fault.start_s + 1, fault.end_s + 600):
        t = t - t % 300 + (300 if t % 300 else 0)
        frame = telemetry.frame(fleet, t)
        faults.apply(fleet, frame, [fault])
        reports = telemetry.reports(fleet, frame)
        out.append([reports[i] for i in fault.homes.tolist()])
    return out[0], out[1], out[2]


def _one(got: list[faults.Fault], kind: str) -> faults.Fault:
    return next(f for f in got if f.kind == kind)


def test_each_fault_is_visible_in_the_reports_only_while_it_lasts(
    fleet: telemetry.Fleet,
) -> None:
    got = _schedule(fleet)

    before, during, after = _around(fleet, _one(got, "fibre_cut"))
    assert all(r.wan.status == "up" for r in before + after)
    assert all(r.wan.status == "down" and r.wan.optical_rx_dbm is None for r in during)

    before, during, after = _around(fleet, _one(got, "optical_degradation"))
    assert before[0].wan.optical_rx_dbm is not None and before[0].wan.optical_rx_dbm > -27
    assert during[0].wan.optical_rx_dbm is not None and during[0].wan.optical_rx_dbm < -28
    assert after[0].wan.optical_rx_dbm == pytest.approx(before[0].wan.optical_rx_dbm, abs=1)

    fault = _one(got, "weak_coverage")
    before, during, after = _around(fleet, fault)
    weak = [c for c in during[0].clients if c.mac == fault.subject]
    assert weak and weak[0].rssi_dbm < -78
    for r in before + after:
        assert all(c.rssi_dbm > -75 for c in r.clients)

    for kind in ("wifi_interference", "crowded_24ghz"):
        fault = _one(got, kind)
        before, during, after = _around(fleet, fault)
        radio = next(r for r in during[0].radios if r.band == fault.subject)
        assert radio.interference_pct is not None
        assert radio.interference_pct > telemetry.HEALTHY["interference_pct"]
        if kind == "crowded_24ghz":
            assert radio.utilization_pct is not None and radio.utilization_pct > 75
        else:
            assert radio.interference_pct > 50
            on_band = [c for c in during[0].clients if c.band == fault.subject]
            assert all(c.retrans_pct is not None and c.retrans_pct > 12 for c in on_band)
        for r in before + after:
            assert all(x.interference_pct is not None and x.interference_pct < 50 for x in r.radios)

    before, during, after = _around(fleet, _one(got, "reboot_loop"))
    assert during[0].uptime_s is not None and during[0].uptime_s < 300
    assert during[0].wan.disconnects == 1
    assert all(r.uptime_s is not None and r.uptime_s > 86_400 for r in before + after)

    fault = _one(got, "evening_congestion")
    before, during, after = _around(fleet, fault)
    for r in during:
        assert r.wan.latency_ms is not None and r.wan.latency_ms > 120
        assert r.wan.loss_pct is not None and r.wan.loss_pct > 1
    for r in before + after:
        assert r.wan.latency_ms is not None and r.wan.latency_ms < 120


def test_apply_leaves_other_homes_untouched(fleet: telemetry.Fleet) -> None:
    got = _schedule(fleet)
    t = next(f for f in got if f.kind == "fibre_cut").start_s + 300
    t -= t % 300
    clean = telemetry.frame(fleet, t)
    dirty = clean.copy()
    faults.apply(fleet, dirty, got)
    touched = set()
    for f in got:
        if f.active(t):
            touched |= set(f.homes.tolist())
    untouched = np.array(sorted(set(range(fleet.size)) - touched))
    assert touched
    for name in ("latency", "loss", "uptime", "down"):
        assert (getattr(clean, name)[untouched] == getattr(dirty, name)[untouched]).all()
    assert not dirty.wan_up.all()


def test_ground_truth_rows_and_audit(db: Database, fleet: telemetry.Fleet) -> None:
    got = _schedule(fleet)
    with db.transaction() as session:
        faults.record_faults(session, got, now=START)
    with db.session() as session:
        rows = session.scalars(select(SimFault).order_by(SimFault.id)).all()
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "simulator.faults_injected")
        ).one()
    assert len(rows) == len(got)
    for row, f in zip(rows, got, strict=True):
        assert (row.kind, row.home_id, row.port_id, row.subject) == (
            f.kind,
            f.home_id,
            f.port_id,
            f.subject,
        )
        assert row.started_at == datetime.fromtimestamp(f.start_s, UTC)
        assert row.ended_at == datetime.fromtimestamp(f.end_s, UTC)
        assert row.params == f.params
    assert entry.detail["faults"] == len(got)


def test_an_empty_fleet_or_range_has_no_faults(fleet: telemetry.Fleet) -> None:
    assert (
        faults.schedule(fleet, start=END, end=END, interval_s=300, seed=1, min_port_homes=5) == []
    )
    # No port large enough: no port faults, the home faults still come.
    got = faults.schedule(
        fleet, start=START, end=END, interval_s=300, seed=1, min_port_homes=10_000
    )
    assert got and not any(f.kind in faults.PORT_KINDS for f in got)


def test_a_short_range_keeps_every_fault_inside_it(fleet: telemetry.Fleet) -> None:
    """Windows down to a few report intervals (the live simulator's last, cut-short window) do
    not crash the schedule, and no fault starts before or ends after the range."""
    for minutes in (15, 40, 90, 180):
        end = START + timedelta(minutes=minutes)
        got = faults.schedule(fleet, start=START, end=end, interval_s=300, seed=3, min_port_homes=5)
        s0, s1 = int(START.timestamp()), int(end.timestamp())
        assert got, minutes
        assert all(s0 <= f.start_s < f.end_s <= s1 for f in got), minutes


def test_evening_congestion_prefers_shared_medium_ports(fleet: telemetry.Fleet) -> None:
    """Congestion goes to cable/DSL/wireless ports while there are any, so that a small sample's
    FTTP homes are not all taken by port faults and optical degradation still gets a home."""
    got = _schedule(fleet)
    ports, counts = np.unique(fleet.port_id[fleet.port_id > 0], return_counts=True)
    eligible = set(ports[counts >= 5].tolist())

    def all_fttp(port: int) -> bool:
        return bool((fleet.technology[fleet.port_id == port] == "fttp").all())

    faulted = {f.port_id for f in got if f.kind in faults.PORT_KINDS}
    shared_left = [p for p in eligible - faulted if not all_fttp(p)]
    congested = [f.port_id for f in got if f.kind == "evening_congestion"]
    assert congested
    if shared_left:  # a shared-medium port stayed free: no congestion may sit on an FTTP port
        assert not any(all_fttp(int(p)) for p in congested if p is not None)
    assert any(f.kind == "optical_degradation" for f in got)
