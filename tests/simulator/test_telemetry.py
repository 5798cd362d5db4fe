"""Simulated telemetry: deterministic, valid, healthy at baseline, shaped by the time of day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from homeport.core.db import Database
from homeport.network.models import Gateway, Home
from homeport.simulator import telemetry
from homeport.simulator.fleet import generate_fleet
from homeport.subscribers.models import Subscriber
from homeport.telemetry.schemas import Report

from .conftest import NOW

EVENING = int(datetime(2026, 11, 23, 20, 0, tzinfo=UTC).timestamp())
NIGHT = int(datetime(2026, 11, 24, 3, 0, tzinfo=UTC).timestamp())


@pytest.fixture
def fleet_db(db: Database) -> Database:
    generate_fleet(db, subscribers=150, seed=3, now=NOW, days=20)
    return db


def _load(db: Database, **kw: int) -> telemetry.Fleet:
    with db.session() as session:
        return telemetry.load_fleet(session, at=NOW, **kw)


def test_only_active_installed_homes_report(fleet_db: Database) -> None:
    fleet = _load(fleet_db)
    with fleet_db.session() as session:
        active = set(
            session.scalars(
                select(Home.id)
                .join(Subscriber, Subscriber.id == Home.subscriber_id)
                .where(Subscriber.status == "active", Home.installed_at <= NOW)
            )
        )
        rows = session.execute(select(Gateway.home_id, Gateway.device_id)).all()
        devices = {row[0]: row[1] for row in rows}
    assert 0 < fleet.size == len(active) < 150 + 40
    assert set(fleet.home_id.tolist()) == active
    assert fleet.device_id == [devices[h] for h in fleet.home_id.tolist()]
    # Clients are grouped by home and only the wireless ones are listed.
    assert fleet.client_start[-1] == len(fleet.client_mac) > fleet.size
    assert (np.diff(fleet.client_home) >= 0).all()


def test_reports_are_valid_deterministic_and_per_home(fleet_db: Database) -> None:
    fleet = _load(fleet_db)
    first = telemetry.reports(fleet, telemetry.frame(fleet, EVENING))
    again = telemetry.reports(_load(fleet_db), telemetry.frame(fleet, EVENING))
    assert [r.model_dump() for r in first] == [r.model_dump() for r in again]
    assert len(first) == fleet.size
    assert all(isinstance(r, Report) for r in first)
    for r in first:
        Report.model_validate_json(r.model_dump_json())  # round-trips through the contract
        assert r.ts == datetime.fromtimestamp(EVENING, UTC)
    later = telemetry.reports(fleet, telemetry.frame(fleet, EVENING + 300))
    assert [r.wan.latency_ms for r in later] != [r.wan.latency_ms for r in first]
    # A home's report does not depend on which other homes are generated with it.
    sample = _load(fleet_db, homes_sample=30, seed=1)
    assert 30 <= sample.size < fleet.size
    by_device = {r.device_id: r for r in first}
    for r in telemetry.reports(sample, telemetry.frame(sample, EVENING)):
        assert r.model_dump() == by_device[r.device_id].model_dump()


def test_home_sample_keeps_whole_ports(fleet_db: Database) -> None:
    fleet = _load(fleet_db)
    sample = _load(fleet_db, homes_sample=40, seed=5)
    assert sample.size >= 40
    for port in set(sample.port_id.tolist()):
        assert (sample.port_id == port).sum() == (fleet.port_id == port).sum()
    assert sample.home_id.tolist() != _load(fleet_db, homes_sample=40, seed=6).home_id.tolist()


def test_healthy_baseline_stays_inside_the_envelope(fleet_db: Database) -> None:
    fleet = _load(fleet_db)
    h = telemetry.HEALTHY
    for t in range(EVENING, EVENING + 86_400, 3 * 3600):
        for r in telemetry.reports(fleet, telemetry.frame(fleet, t)):
            assert r.wan.status == "up"
            assert r.wan.latency_ms is not None and r.wan.latency_ms <= h["latency_ms"]
            assert r.wan.jitter_ms is not None and r.wan.jitter_ms <= h["jitter_ms"]
            assert r.wan.loss_pct is not None and r.wan.loss_pct <= h["loss_pct"]
            assert r.wan.loaded_latency_ms is not None
            assert r.wan.loaded_latency_ms - r.wan.latency_ms <= h["bloat_ms"] + 0.02
            assert r.uptime_s is not None and r.uptime_s > 86_400
            if r.wan.optical_rx_dbm is not None:
                assert -27 < r.wan.optical_rx_dbm < -8
            for c in r.clients:
                assert c.rssi_dbm > telemetry.WEAK_RSSI_DBM
                assert c.retrans_pct is not None and c.retrans_pct <= h["retrans_pct"]
            for radio in r.radios:
                assert radio.utilization_pct is not None
                assert radio.utilization_pct <= h["utilization_pct"]
                assert radio.interference_pct is not None
                assert radio.interference_pct <= h["interference_pct"]


def test_evening_is_busier_than_night(fleet_db: Database) -> None:
    fleet = _load(fleet_db)
    evening, night = telemetry.frame(fleet, EVENING), telemetry.frame(fleet, NIGHT)
    assert evening.util[:, 0].mean() > night.util[:, 0].mean() + 10
    assert evening.latency.mean() > night.latency.mean()
    assert telemetry.diurnal(EVENING) == 1.0
    assert telemetry.diurnal(NIGHT) < 0.2
    # Mobile devices come and go; fixed ones always report.
    assert evening.client_present[~fleet.client_mobile].all()
    day = telemetry.frame(fleet, EVENING - 9 * 3600)
    assert day.client_present.sum() < evening.client_present.sum()


def test_technology_specific_fields(fleet_db: Database) -> None:
    fleet = _load(fleet_db)
    reports = telemetry.reports(fleet, telemetry.frame(fleet, EVENING))
    for tech, r in zip(fleet.technology.tolist(), reports, strict=True):
        assert (r.wan.optical_rx_dbm is not None) == (tech == "fttp")
        assert (r.wan.dsl_snr_margin_db is not None) == (tech in ("adsl", "fttc"))
        assert {radio.band for radio in r.radios} >= {"2.4GHz", "5GHz"}
        assert {c.band for c in r.clients} <= {radio.band for radio in r.radios}


def test_ticks_are_aligned_to_the_interval() -> None:
    start = datetime(2026, 11, 23, 10, 2, 30, tzinfo=UTC)
    got = telemetry.ticks(start, start + timedelta(hours=1), 300)
    assert len(got) == 12
    assert all(t % 300 == 0 for t in got)
    assert got[0] == int(datetime(2026, 11, 23, 10, 5, tzinfo=UTC).timestamp())
    with pytest.raises(ValueError, match="positive"):
        telemetry.ticks(start, start, 0)


def test_hashed_noise_is_standard_and_repeatable() -> None:
    keys = np.arange(20_000, dtype=np.uint64)
    z = telemetry.normal(keys, 1000, 3)
    assert abs(z.mean()) < 0.05
    assert abs(z.std() - 1) < 0.05
    assert (z == telemetry.normal(keys, 1000, 3)).all()
    assert not (z == telemetry.normal(keys, 1000, 4)).any()
    u = telemetry.uniform(keys, 7, 1)
    assert ((u > 0) & (u < 1)).all()
