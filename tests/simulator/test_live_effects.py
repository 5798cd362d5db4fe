"""The live emitter models the effect of the remote actions its gateways carry out: a channel
change on the interfered band ends a Wi-Fi interference or crowded-channel fault, in the reports
from the next tick and in the ground truth; other actions change nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.simulator import faults, live, telemetry
from homeport.simulator.fleet import generate_fleet
from homeport.simulator.models import SimFault
from homeport.telemetry.schemas import Report

from .conftest import NOW

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Nowhere:
    """A transport that is never used: the tests call the emitter's own step directly."""

    def check(self) -> None:
        pass

    def send(self, reports: Sequence[Report]) -> live.Delivery:
        raise AssertionError("not sent in this test")

    def close(self) -> None:
        pass


@pytest.fixture
def fleet(db: Database) -> telemetry.Fleet:
    generate_fleet(db, subscribers=400, seed=11, now=NOW)
    with db.session() as session:
        return telemetry.load_fleet(session, at=NOW)


def _wifi_fault(fleet: telemetry.Fleet) -> faults.Fault:
    got = faults.schedule(
        fleet,
        start=START,
        end=START + timedelta(days=7),
        interval_s=300,
        seed=1,
        min_port_homes=5,
    )
    return next(f for f in got if f.kind in live.FIXES["set_channel"])


def _device(fleet: telemetry.Fleet, fault: faults.Fault) -> str:
    return fleet.device_id[int(fault.homes[0])]


def test_only_a_channel_change_on_the_faulty_band_fixes_it(fleet: telemetry.Fleet) -> None:
    fault = _wifi_fault(fleet)
    device = _device(fleet, fault)
    other_band = "5GHz" if fault.subject == "2.4GHz" else "2.4GHz"
    assert live.fixed_by(fleet, [fault], [(device, "set_channel", {"band": fault.subject})]) == [
        fault
    ]
    assert live.fixed_by(fleet, [fault], [(device, "set_channel", {"band": other_band})]) == []
    assert live.fixed_by(fleet, [fault], [(device, "reboot", {})]) == []
    someone_else = next(d for d in fleet.device_id if d != device)
    assert (
        live.fixed_by(fleet, [fault], [(someone_else, "set_channel", {"band": fault.subject})])
        == []
    )


def test_a_fixed_fault_ends_in_the_reports_and_the_ground_truth(
    db: Database, fleet: telemetry.Fleet
) -> None:
    fault = _wifi_fault(fleet)
    t = fault.start_s + 2 * 300
    emitter = live.LiveEmitter(db, Nowhere(), live.ManualPacer(ManualClock(START)))
    emitter._record([fault], fault.start_s)
    device = _device(fleet, fault)

    def interference(at: int, active: list[faults.Fault]) -> float:
        frame = telemetry.frame(fleet, at)
        faults.apply(fleet, frame, active)
        assert fault.band is not None
        return float(frame.interf[int(fault.homes[0]), fault.band])

    before = interference(t, [fault])
    active = emitter._carry_out(
        fleet, [fault], [(device, "set_channel", {"band": fault.subject})], t
    )
    assert [f.end_s for f in active] == [t]
    assert interference(t + 300, active) < before
    assert interference(t + 300, active) == interference(t + 300, [])
    with db.session() as session:
        row = session.scalars(select(SimFault).where(SimFault.kind == fault.kind)).one()
        assert row.ended_at == datetime.fromtimestamp(t, UTC)
