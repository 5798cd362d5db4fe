"""Storing reports: good ones land while bad ones are refused with reasons, duplicates are
counted and never stored twice, the home network is refreshed, the event follows the commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.telemetry_settings import TelemetrySettings
from homeport.network.models import ClientDevice, Gateway
from homeport.telemetry.actions import ReportsStored, StoreResult, store_reports
from homeport.telemetry.ingest import parse_one
from homeport.telemetry.models import TelemetryReport
from homeport.telemetry.schemas import Report
from tests.factories import Fleet
from tests.telemetry.conftest import report

SETTINGS = TelemetrySettings()


def _store(
    db: Database, clock: ManualClock, reports: list[Report], source: str = "http"
) -> StoreResult:
    with db.transaction() as session:
        return store_reports(session, reports, source=source, now=clock.now(), settings=SETTINGS)


def _count(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(TelemetryReport)) or 0)


def _metric(source: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "homeport_telemetry_reports_total", {"source": source, "outcome": outcome}
    )
    return value or 0.0


def test_good_reports_land_with_their_summary_and_detail(
    db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    result = _store(db, clock, [parse_one(report("GW-000101")), parse_one(report("GW-000102"))])
    assert (result.accepted, result.duplicates, result.rejected) == (2, 0, [])
    assert sorted((s.home_id, s.report.device_id) for s in result.stored) == [
        (fleet.homes["ACC-1001"], "GW-000101"),
        (fleet.homes["ACC-1002"], "GW-000102"),
    ]
    with db.session() as session:
        row = session.scalars(
            select(TelemetryReport).where(TelemetryReport.device_id == "GW-000101")
        ).one()
    assert row.home_id == fleet.homes["ACC-1001"]
    assert row.ts == datetime(2026, 11, 23, 9, 55, tzinfo=UTC)
    assert row.received_at == clock.now()
    assert (row.source, row.wan_status, row.down_mbps, row.latency_ms) == ("http", "up", 912.4, 8.2)
    assert (row.optical_rx_dbm, row.uptime_s, row.cpu_pct, row.disconnects) == (-19.4, 86400, 12, 0)
    assert (row.clients, row.clients_weak) == (2, 1)  # one client at -81 dBm
    assert row.detail["optical_tx_dbm"] == 2.1
    assert row.detail["temperature_c"] == 51
    assert row.detail["radios"] == [
        {"band": "5GHz", "channel": 36, "width_mhz": 80, "utilization_pct": 41.0}
    ]
    assert [c["mac"] for c in row.detail["clients"]] == ["a4:5e:60:00:00:01", "a4:5e:60:00:00:09"]
    assert row.detail["mesh"][0]["node_id"] == "SAT-1"


def test_duplicates_are_counted_never_stored_twice(
    db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    first = parse_one(report("GW-000101"))
    before = _metric("mqtt", "duplicate")
    assert _store(db, clock, [first], "mqtt").accepted == 1
    again = _store(db, clock, [first, first, parse_one(report("GW-000102"))], "mqtt")
    assert (again.accepted, again.duplicates, again.rejected) == (1, 2, [])
    assert [s.report.device_id for s in again.stored] == ["GW-000102"]
    # The same instant written with another offset is the same sample.
    shifted = parse_one(report("GW-000101", ts="2026-11-23T10:55:00+01:00"))
    assert _store(db, clock, [shifted], "mqtt").duplicates == 1
    assert _count(db) == 2
    assert _metric("mqtt", "duplicate") - before == 3


def test_unknown_devices_and_implausible_times_are_refused_while_others_land(
    db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    now = clock.now()
    reports = [
        parse_one(report("GW-000101", ts=now - timedelta(minutes=5))),
        parse_one(report("GW-NOBODY", ts=now - timedelta(minutes=5))),
        parse_one(report("GW-000102", ts=now + timedelta(days=2))),
        parse_one(report("GW-000103", ts=now - timedelta(days=15))),
        parse_one(report("GW-000103", ts=now + timedelta(seconds=290))),  # a fast clock: fine
        parse_one(report("DSL-7F3A2C", ts=now - timedelta(days=13))),
    ]
    before = _metric("http", "rejected")
    result = _store(db, clock, reports)
    assert result.accepted == 3
    assert [(r.index, r.device_id) for r in result.rejected] == [
        (1, "GW-NOBODY"),
        (2, "GW-000102"),
        (3, "GW-000103"),
    ]
    assert result.rejected[0].reason == "unknown device"
    assert "172800 s in the future" in result.rejected[1].reason
    assert "older than the 14-day window" in result.rejected[2].reason
    assert _count(db) == 3
    assert _metric("http", "rejected") - before == 3


def test_gateways_and_client_devices_are_refreshed(
    db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    now = clock.now()
    newer = parse_one(
        report(
            "GW-000101",
            ts=now - timedelta(minutes=1),
            clients=[
                {"mac": "a4:5e:60:00:00:02", "band": "2.4GHz", "rssi_dbm": -79.6},
                {"mac": "de:ad:be:ef:00:01", "band": "6GHz", "rssi_dbm": -55, "kind": "phone"},
                {
                    "mac": "de:ad:be:ef:00:02",
                    "band": "2.4GHz",
                    "rssi_dbm": -70,
                    "legacy_2g_only": True,
                    "kind": "fridge",
                },
            ],
        )
    )
    older = parse_one(report("GW-000101", ts=now - timedelta(minutes=6)))
    _store(db, clock, [newer, older])
    # A late report (older than what we know) moves nothing backwards.
    _store(db, clock, [parse_one(report("GW-000101", ts=now - timedelta(minutes=11)))])
    with db.session() as session:
        gateway = session.scalars(select(Gateway).where(Gateway.device_id == "GW-000101")).one()
        clients = {
            c.mac: c
            for c in session.scalars(
                select(ClientDevice).where(ClientDevice.home_id == fleet.homes["ACC-1001"])
            )
        }
    assert gateway.last_seen_at == now - timedelta(minutes=1)
    tv = clients["a4:5e:60:00:00:02"]  # known: band and RSSI updated, name kept
    assert (tv.name, tv.last_band, tv.last_rssi_dbm) == ("Living room TV", "2.4GHz", -80)
    assert tv.last_seen_at == now - timedelta(minutes=1)
    phone = clients["de:ad:be:ef:00:01"]  # new
    assert (phone.kind, phone.band_capability, phone.last_rssi_dbm) == ("phone", "2.4+5+6", -55)
    assert phone.first_seen_at == now - timedelta(minutes=1)
    fridge = clients["de:ad:be:ef:00:02"]
    assert (fridge.kind, fridge.band_capability) == ("other", "2.4")
    laptop = clients["a4:5e:60:00:00:01"]  # not in the newest report: untouched
    assert laptop.last_rssi_dbm == -45
    # A MAC first seen in the late report is still a new device, seen then.
    assert clients["a4:5e:60:00:00:09"].last_seen_at == now - timedelta(minutes=11)
    assert len(clients) == 6


def test_detail_keeps_the_non_empty_lists_without_nulls_and_the_extra_levels(
    db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    now = clock.now()
    lists = parse_one(report("GW-000101", ts=now - timedelta(minutes=2), radios=[], mesh=[]))
    bare = parse_one(
        report(
            "GW-000102",
            ts=now - timedelta(minutes=2),
            wan={"status": "down"},
            radios=[],
            clients=[],
            mesh=[],
            resources=None,
        )
    )
    _store(db, clock, [lists, bare])
    with db.session() as session:
        rows = session.execute(select(TelemetryReport.device_id, TelemetryReport.detail)).all()
    detail = {str(device): value for device, value in rows}
    assert detail["GW-000101"] == {
        "clients": [
            {"mac": "a4:5e:60:00:00:01", "band": "5GHz", "rssi_dbm": -48.0, "kind": "laptop"},
            {"mac": "a4:5e:60:00:00:09", "band": "2.4GHz", "rssi_dbm": -81.0, "kind": "toaster"},
        ],
        "optical_tx_dbm": 2.1,
        "temperature_c": 51.0,
    }
    assert detail["GW-000102"] == {}


def _client_row(db: Database, home_id: int, mac: str) -> tuple[str | None, int | None, object]:
    with db.session() as session:
        c = session.scalars(
            select(ClientDevice).where(ClientDevice.home_id == home_id, ClientDevice.mac == mac)
        ).one()
        return c.last_band, c.last_rssi_dbm, c.last_seen_at


@pytest.mark.parametrize(
    ("minutes", "band", "rssi", "written"),
    [
        (5, "5GHz", -63, False),  # nothing new: the row keeps the first report's values
        (14, "5GHz", -61.6, False),  # 3 dB away once rounded, still good, 14 minutes later
        (5, "2.4GHz", -65, True),  # another band
        (5, "5GHz", -68, True),  # only 3 dB away, but from good to fair
        (5, "5GHz", -60, True),  # 5 dB away (the step), still good
        (5, "5GHz", -55, True),  # 10 dB away
        (15, "5GHz", -65, True),  # the stored last-seen time is a whole resolution old
    ],
)
def test_a_known_client_is_rewritten_only_when_its_report_says_something_new(
    db: Database,
    clock: ManualClock,
    fleet: Fleet,
    minutes: int,
    band: str,
    rssi: float,
    written: bool,
) -> None:
    home = fleet.homes["ACC-1001"]
    mac = "de:ad:be:ef:00:07"
    first = clock.now() - timedelta(minutes=30)
    later = first + timedelta(minutes=minutes)

    def one(ts: datetime, band: str, rssi: float) -> Report:
        return parse_one(
            report("GW-000101", ts=ts, clients=[{"mac": mac, "band": band, "rssi_dbm": rssi}])
        )

    _store(db, clock, [one(first, "5GHz", -65)])
    assert _client_row(db, home, mac) == ("5GHz", -65, first)
    _store(db, clock, [one(later, band, rssi)])
    expected = (band, round(rssi), later) if written else ("5GHz", -65, first)
    assert _client_row(db, home, mac) == expected


def test_the_event_follows_the_commit_and_a_rollback_stores_nothing(
    db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    seen: list[ReportsStored] = []
    db.bus.subscribe(ReportsStored, seen.append)
    accepted_before = _metric("cwmp", "accepted")
    with pytest.raises(RuntimeError), db.transaction() as session:
        store_reports(
            session, [parse_one(report())], source="cwmp", now=clock.now(), settings=SETTINGS
        )
        raise RuntimeError("crash before commit")
    assert seen == []
    assert _count(db) == 0
    assert _metric("cwmp", "accepted") == accepted_before

    result = _store(db, clock, [parse_one(report()), parse_one(report("GW-NOBODY"))], "cwmp")
    assert len(seen) == 1
    assert seen[0].source == "cwmp"
    assert seen[0].items == tuple(result.stored)
    assert _metric("cwmp", "accepted") == accepted_before + 1
    # Nothing new: no event.
    _store(db, clock, [parse_one(report())], "cwmp")
    assert len(seen) == 1


def test_an_unknown_source_is_a_programming_error(db: Database, clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="unknown telemetry source"), db.transaction() as s:
        store_reports(s, [], source="fax", now=clock.now(), settings=SETTINGS)


def test_a_large_batch_is_stored_in_one_go(db: Database, clock: ManualClock, fleet: Fleet) -> None:
    now = clock.now()
    reports = [
        parse_one(report(device, ts=now - timedelta(minutes=5 * i)))
        for i in range(300)
        for device in ("GW-000101", "GW-000102")
    ]
    result = _store(db, clock, reports)
    assert (result.accepted, result.duplicates) == (600, 0)
    assert _count(db) == 600
    result = _store(db, clock, reports)
    assert (result.accepted, result.duplicates) == (0, 600)


def test_a_sample_written_by_the_orm_is_a_duplicate_of_the_same_report(
    db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    """The bulk paths write timestamps exactly as SQLAlchemy does, so the unique key matches."""
    sample = parse_one(report("GW-000101", ts="2026-11-23T09:55:00.250000+00:00"))
    with db.transaction() as session:
        session.add(
            TelemetryReport(
                device_id="GW-000101",
                home_id=fleet.homes["ACC-1001"],
                ts=sample.ts,
                received_at=clock.now(),
                source="sim",
                wan_status="up",
                detail={},
            )
        )
    result = _store(db, clock, [sample])
    assert (result.accepted, result.duplicates) == (0, 1)
    assert _count(db) == 1
