"""Hand-built homes for the segment and recommendation tests: device mixes, and a week of
hourly telemetry in which each device is online at the hours a lifestyle uses it.

The week: Sunday 22 to Saturday 28 November 2026 (Europe/London is on UTC then); segments
are computed at :data:`NOW`, so the window holds five weekdays and seven evenings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from homeport.core.db import Database
from homeport.core.telemetry_settings import TelemetrySettings
from homeport.health.models import Finding
from homeport.simulator.profiles import BUNDLES
from homeport.subscribers.models import Bundle
from homeport.telemetry.actions import store_reports
from homeport.telemetry.schemas import Report
from tests.factories import DeviceSpec, Fleet, SubscriberSpec, add_subscriber

WEEK_START = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 28, 23, 30, tzinfo=UTC)

#: When a device is online: (weekday 0=Mon, hour) -> bool.
Online = Callable[[int, int], bool]


def always(_day: int, _hour: int) -> bool:
    return True


def office_hours(day: int, hour: int) -> bool:
    return day < 5 and 8 <= hour < 18


def evenings(_day: int, hour: int) -> bool:
    return 18 <= hour < 23


def nights_and_evenings(day: int, hour: int) -> bool:
    return not office_hours(day, hour)


@dataclass(frozen=True)
class Device:
    mac: str
    name: str
    kind: str
    rssi: int = -55
    online: Online = always


def add_demo_bundles(db: Database, fleet: Fleet) -> None:
    """The demo's bundle catalogue (the codes the rules use by default)."""
    with db.transaction() as s:
        rows = [
            Bundle(
                code=b.code,
                name=b.name,
                lifestyle=b.lifestyle,
                description=b.description,
                monthly_price=b.monthly_price,
            )
            for b in BUNDLES
        ]
        s.add_all(rows)
        s.flush()
        fleet.bundles.update({b.code: b.id for b in rows})


def add_home(
    db: Database,
    fleet: Fleet,
    account: str,
    name: str,
    devices: list[Device],
    *,
    plan: str = "fibre-500",
    bundles: tuple[str, ...] = (),
    down_mbps: float = 450.0,
    email: str = "",
) -> int:
    """A subscriber with a gateway ``GW-<account>`` and ``devices``; returns the subscriber id."""
    spec = SubscriberSpec(
        account=account,
        name=name,
        email=email or f"{account.lower()}@example.test",
        plan=plan,
        bundles=bundles,
        device_id=f"GW-{account}",
        clients=tuple(
            DeviceSpec(d.mac, d.name, d.kind, d.rssi, "5GHz" if d.rssi > -70 else "2.4GHz")
            for d in devices
        ),
    )
    sid = add_subscriber(db, fleet, spec, NOW)
    feed_week(db, f"GW-{account}", devices, down_mbps=down_mbps)
    return sid


def _report(device_id: str, ts: datetime, devices: list[Device], down_mbps: float) -> Report:
    local = ts  # Europe/London is on UTC in November
    clients: list[dict[str, Any]] = [
        {"mac": d.mac, "band": "5GHz", "rssi_dbm": d.rssi, "kind": d.kind}
        for d in devices
        if d.online(local.weekday(), local.hour)
    ]
    return Report.model_validate(
        {
            "device_id": device_id,
            "ts": ts.isoformat(),
            "wan": {
                "status": "up",
                "down_mbps": down_mbps,
                "up_mbps": 50.0,
                "latency_ms": 9.0,
                "jitter_ms": 1.0,
                "loss_pct": 0.0,
            },
            "clients": clients,
        }
    )


def feed_week(
    db: Database, device_id: str, devices: list[Device], *, down_mbps: float = 450.0
) -> None:
    """One report an hour from :data:`WEEK_START` to :data:`NOW`."""
    reports = []
    ts = WEEK_START
    while ts < NOW:
        reports.append(_report(device_id, ts, devices, down_mbps))
        ts += timedelta(hours=1)
    with db.transaction() as s:
        result = store_reports(s, reports, source="sim", now=NOW, settings=TelemetrySettings())
    assert result.accepted == len(reports), result.rejected[:3]


def add_finding(
    db: Database,
    fleet: Fleet,
    account: str,
    kind: str,
    summary: str,
    *,
    opened: datetime,
    status: str = "open",
) -> None:
    with db.transaction() as s:
        s.add(
            Finding(
                home_id=fleet.homes[account],
                kind=kind,
                subject="",
                severity="warning",
                status=status,
                first_seen_at=opened,
                opened_at=opened,
                last_seen_at=opened + timedelta(minutes=10),
                resolved_at=None if status == "open" else opened + timedelta(hours=2),
                summary=summary,
            )
        )


def mac(prefix: int, i: int) -> str:
    return f"02:00:00:{prefix:02x}:00:{i:02x}"


def many(prefix: int, kind: str, n: int, online: Online = always, rssi: int = -55) -> list[Device]:
    return [Device(mac(prefix, i), f"{kind} {i + 1}", kind, rssi, online) for i in range(n)]


PRICE = Decimal("5.00")
