"""A small fleet with gateways and a report builder shared by the telemetry tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from tests.factories import Fleet, build_fleet


def report(
    device_id: str = "GW-000101", ts: datetime | str | None = None, **fields: Any
) -> dict[str, Any]:
    """A valid report as a JSON-ready dict; ``fields`` replace top-level keys."""
    when = ts if ts is not None else datetime(2026, 11, 23, 9, 55, tzinfo=UTC)
    data: dict[str, Any] = {
        "device_id": device_id,
        "ts": when.isoformat() if isinstance(when, datetime) else when,
        "uptime_s": 86_400,
        "wan": {
            "status": "up",
            "down_mbps": 912.4,
            "up_mbps": 110.0,
            "latency_ms": 8.2,
            "jitter_ms": 1.1,
            "loss_pct": 0.0,
            "optical_rx_dbm": -19.4,
            "optical_tx_dbm": 2.1,
            "disconnects": 0,
        },
        "radios": [{"band": "5GHz", "channel": 36, "width_mhz": 80, "utilization_pct": 41}],
        "clients": [
            {"mac": "a4:5e:60:00:00:01", "band": "5GHz", "rssi_dbm": -48, "kind": "laptop"},
            {"mac": "A4-5E-60-00-00-09", "band": "2.4GHz", "rssi_dbm": -81, "kind": "toaster"},
        ],
        "mesh": [{"node_id": "SAT-1", "backhaul_rssi_dbm": -63, "backhaul_mbps": 600}],
        "resources": {"cpu_pct": 12, "mem_pct": 40, "temperature_c": 51},
    }
    data.update(fields)
    return data


def every(minutes: int, start: datetime, n: int) -> list[datetime]:
    return [start + timedelta(minutes=minutes * i) for i in range(n)]


@pytest.fixture
def fleet(db: Database, clock: ManualClock) -> Fleet:
    return build_fleet(db, clock.now())
