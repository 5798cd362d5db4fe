"""The periodic offline check: a silent gateway gets a device_offline finding; a silent port
is an outage; the next report resolves it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from homeport.core.db import Database
from homeport.core.health_settings import HealthSettings
from homeport.health.actions import check_offline
from homeport.health.events import FindingEscalated
from homeport.health.models import Outage
from homeport.health.tasks import sweep_findings
from homeport.network.models import Gateway
from homeport.subscribers.models import Subscriber
from tests.conftest import START
from tests.factories import Fleet
from tests.health.pipeline import feed, findings
from tests.health.reports import report


def seen(db: Database, device_ids: list[str], at: datetime) -> None:
    with db.transaction() as s:
        s.execute(update(Gateway).where(Gateway.device_id.in_(device_ids)).values(last_seen_at=at))


def check(db: Database, now: datetime) -> None:
    with db.transaction() as s:
        check_offline(s, now=now, health=HealthSettings(), report_interval_s=300)


def test_a_silent_gateway_is_offline_until_it_reports(db: Database, fleet: Fleet) -> None:
    everyone = [f"GW-F{i:05d}" for i in range(1, 21)]
    seen(db, everyone, START)
    seen(db, ["GW-F00001"], START - timedelta(minutes=14))
    check(db, START)
    assert findings(db, "device_offline") == []
    seen(db, ["GW-F00001"], START - timedelta(minutes=15))
    check(db, START)
    [f] = findings(db, "device_offline")
    assert (f.status, f.severity, f.evidence["silent_s"]) == ("open", "critical", 900.0)
    check(db, START + timedelta(minutes=5))
    assert len(findings(db, "device_offline")) == 1
    feed(db, fleet, [report("GW-F00001", START + timedelta(minutes=6))])
    [f] = findings(db, "device_offline")
    assert f.status == "resolved"


def test_a_silent_port_is_one_outage(db: Database, fleet: Fleet) -> None:
    seen(db, [f"GW-F{i:05d}" for i in range(11, 21)], START)
    seen(db, [f"GW-F{i:05d}" for i in range(1, 11)], START - timedelta(minutes=20))
    check(db, START)
    assert len(findings(db, "device_offline")) == 10
    with db.session() as s:
        [outage] = s.query(Outage).all()
    assert (outage.scope, outage.homes_affected) == ("port", 10)
    assert all(f.outage_id == outage.id for f in findings(db, "device_offline"))


def test_a_silent_port_opens_no_case_per_home(db: Database, fleet: Fleet) -> None:
    """Critical offline findings inside the outage are linked to it in the same transaction, so
    neither the offline check nor the later sweeps escalate them one case per home."""
    escalated: list[FindingEscalated] = []
    db.bus.subscribe(FindingEscalated, escalated.append)
    health = HealthSettings(case_after_s=600)
    up = [f"GW-F{i:05d}" for i in range(11, 21)]
    seen(db, [f"GW-F{i:05d}" for i in range(1, 11)], START - timedelta(minutes=20))
    for n in range(6):
        now = START + timedelta(minutes=5 * n)
        seen(db, up, now)
        with db.transaction() as s:
            check_offline(s, now=now, health=health, report_interval_s=300)
        with db.transaction() as s:
            sweep_findings(s, now=now, health=health)
    assert escalated == []
    offline = findings(db, "device_offline")
    assert len(offline) == 10 and all(f.outage_id is not None for f in offline)


def test_suspended_subscribers_are_not_offline(db: Database, fleet: Fleet) -> None:
    """A suspended (or cancelled) subscriber's gateway going silent is expected, not a fault."""
    seen(db, [f"GW-F{i:05d}" for i in range(2, 21)], START)
    seen(db, ["GW-F00001"], START - timedelta(minutes=30))
    with db.transaction() as s:
        s.execute(
            update(Subscriber)
            .where(Subscriber.id == fleet.subscribers["FIL-0001"])
            .values(status="suspended")
        )
    check(db, START)
    assert findings(db, "device_offline") == []
    with db.transaction() as s:
        s.execute(
            update(Subscriber)
            .where(Subscriber.id == fleet.subscribers["FIL-0001"])
            .values(status="active")
        )
    check(db, START)
    assert len(findings(db, "device_offline")) == 1
