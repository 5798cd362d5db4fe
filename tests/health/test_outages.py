"""Outage correlation: many homes on one port or access node losing WAN together open one area
outage (with its members) instead of one case per home; it closes when 90 % are back."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from homeport.core.db import Database
from homeport.core.health_settings import HealthSettings
from homeport.health.events import FindingEscalated, OutageClosed, OutageOpened
from homeport.health.models import Outage, OutageMember
from homeport.support import service as support_service
from tests.conftest import START
from tests.factories import Fleet
from tests.health.pipeline import feed, findings
from tests.health.reports import INTERVAL, report

DOWN: dict[str, Any] = {"status": "down", "down_mbps": None, "up_mbps": None}


def devices(numbers: range) -> list[str]:
    return [f"GW-F{i:05d}" for i in numbers]


def cycle(
    db: Database,
    fleet: Fleet,
    down: list[str],
    up: list[str],
    start: datetime,
    health: HealthSettings | None = None,
) -> None:
    """One report interval: each gateway reports once, 20 s apart, one batch per report."""
    reports = [
        report(d, start + timedelta(seconds=20 * k), wan=DOWN if d in down else None)
        for k, d in enumerate(sorted({*down, *up}))
    ]
    feed(db, fleet, reports, health)


def outages(db: Database) -> list[Outage]:
    with db.session() as s:
        return list(s.scalars(select(Outage).order_by(Outage.id)))


def members(db: Database, outage_id: int) -> list[OutageMember]:
    with db.session() as s:
        return list(s.scalars(select(OutageMember).where(OutageMember.outage_id == outage_id)))


def events(db: Database) -> list[object]:
    seen: list[object] = []
    for kind in (FindingEscalated, OutageOpened, OutageClosed):
        db.bus.subscribe(kind, seen.append)
    return seen


def test_a_cut_port_opens_one_outage_and_no_cases(db: Database, fleet: Fleet) -> None:
    seen = events(db)
    p1, p2 = devices(range(1, 11)), devices(range(11, 21))
    for n in range(3):
        cycle(db, fleet, down=p1, up=p2, start=START + n * INTERVAL)
    [outage] = outages(db)
    assert (outage.scope, outage.port_id, outage.status) == (
        "port",
        fleet.ports["north-olt1-p1"],
        "open",
    )
    assert outage.homes_affected == 10
    mem = members(db, outage.id)
    assert sorted(m.subscriber_id for m in mem) == sorted(
        fleet.subscribers[f"FIL-{i:04d}"] for i in range(1, 11)
    )
    wan = findings(db, "wan_down")
    assert len(wan) == 10 and all(f.outage_id == outage.id and f.status == "open" for f in wan)
    assert [type(e) for e in seen] == [OutageOpened]  # no case per home
    # The members' incoming contacts attach to the outage.
    with db.session() as s:
        found = support_service.outage_for_subscriber(s, fleet.subscribers["FIL-0003"])
        assert found is not None and found.id == outage.id
        assert support_service.outage_for_subscriber(s, fleet.subscribers["FIL-0013"]) is None


def test_the_outage_closes_when_ninety_percent_are_back(db: Database, fleet: Fleet) -> None:
    seen = events(db)
    p1 = devices(range(1, 11))
    for n in range(2):
        cycle(db, fleet, down=p1, up=[], start=START + n * INTERVAL)
    cycle(db, fleet, down=p1[8:], up=p1[:8], start=START + 2 * INTERVAL)
    [outage] = outages(db)
    assert (outage.status, outage.homes_recovered) == ("open", 8)
    cycle(db, fleet, down=p1[9:], up=p1[:9], start=START + 3 * INTERVAL)
    [outage] = outages(db)
    assert (outage.status, outage.homes_recovered) == ("closed", 9)
    assert outage.closed_at is not None
    assert [type(e) for e in seen] == [OutageOpened, OutageClosed]
    rec = {m.home_id: m.recovered_at for m in members(db, outage.id)}
    assert sum(1 for r in rec.values() if r is not None) == 9


def test_a_few_homes_down_are_not_an_outage(db: Database, fleet: Fleet) -> None:
    """Four homes (fewer than five) on a port: each is its own critical finding and case."""
    seen = events(db)
    for n in range(2):
        cycle(
            db,
            fleet,
            down=devices(range(1, 5)),
            up=devices(range(5, 21)),
            start=START + n * INTERVAL,
        )
    assert outages(db) == []
    escalated = [e for e in seen if isinstance(e, FindingEscalated)]
    assert sorted(e.kind for e in escalated) == ["wan_down"] * 4


def test_a_node_wide_failure_is_one_node_outage(db: Database, fleet: Fleet) -> None:
    """4 homes on each port: under five per port, but 8 of 20 (40 %) of the OLT."""
    down = devices(range(1, 5)) + devices(range(11, 15))
    for n in range(2):
        cycle(db, fleet, down=down, up=[], start=START + n * INTERVAL)
    [outage] = outages(db)
    assert (outage.scope, outage.access_node_id) == ("access_node", fleet.nodes["olt"])
    assert outage.homes_affected == 8


def test_a_port_outage_widens_to_its_node(db: Database, fleet: Fleet) -> None:
    """Port 1 fails first (its own outage), then port 2: still one outage, now node-wide."""
    health = HealthSettings(outage_node_share=0.5)
    p1, p2 = devices(range(1, 7)), devices(range(11, 17))
    cycle(db, fleet, down=p1, up=[], start=START, health=health)
    [first] = outages(db)
    assert first.scope == "port"
    cycle(db, fleet, down=p1 + p2, up=[], start=START + INTERVAL, health=health)
    [outage] = outages(db)
    assert (outage.id, outage.scope, outage.homes_affected) == (first.id, "access_node", 12)
    assert len(members(db, outage.id)) == 12
    assert all(f.outage_id == outage.id for f in findings(db, "wan_down"))


def test_homes_down_long_before_do_not_join(db: Database, fleet: Fleet) -> None:
    old = devices(range(1, 2))
    cycle(db, fleet, down=old, up=[], start=START - timedelta(hours=2))
    cycle(db, fleet, down=old, up=[], start=START - timedelta(hours=2) + INTERVAL)
    for n in range(2):
        cycle(db, fleet, down=devices(range(1, 9)), up=[], start=START + n * INTERVAL)
    [outage] = outages(db)
    assert outage.homes_affected == 7
    home1 = fleet.homes["FIL-0001"]
    assert home1 not in {m.home_id for m in members(db, outage.id)}
