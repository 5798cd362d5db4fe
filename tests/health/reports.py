"""Crafted reports for the health tests: a healthy home, changed only where a test says."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from homeport.telemetry.schemas import Report
from tests.conftest import START

INTERVAL = timedelta(seconds=300)
PHONE = "a4:5e:60:00:00:01"
LAPTOP = "a4:5e:60:00:00:02"
PLUG = "a4:5e:60:00:00:03"


def healthy(device_id: str = "GW-F00001", ts: datetime = START) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "ts": ts.isoformat(),
        "uptime_s": 864_000,
        "wan": {
            "status": "up",
            "down_mbps": 95.0,
            "up_mbps": 19.0,
            "latency_ms": 9.0,
            "jitter_ms": 1.5,
            "loss_pct": 0.0,
            "loaded_latency_ms": 21.0,
            "optical_rx_dbm": -19.0,
            "disconnects": 0,
        },
        "radios": [
            {"band": "2.4GHz", "channel": 6, "width_mhz": 20, "utilization_pct": 30},
            {"band": "5GHz", "channel": 36, "width_mhz": 80, "utilization_pct": 20},
        ],
        "clients": [
            {
                "mac": PHONE,
                "band": "5GHz",
                "rssi_dbm": -55,
                "phy_rate_mbps": 866,
                "retrans_pct": 1.0,
                "kind": "phone",
            },
            {
                "mac": LAPTOP,
                "band": "5GHz",
                "rssi_dbm": -60,
                "phy_rate_mbps": 600,
                "retrans_pct": 2.0,
                "kind": "laptop",
            },
            {
                "mac": PLUG,
                "band": "2.4GHz",
                "rssi_dbm": -58,
                "phy_rate_mbps": 72,
                "retrans_pct": 1.5,
                "kind": "iot",
                "legacy_2g_only": True,
            },
        ],
        "mesh": [{"node_id": "SAT-F1", "backhaul_rssi_dbm": -60, "backhaul_mbps": 600}],
        "resources": {"cpu_pct": 20, "mem_pct": 40, "temperature_c": 50},
    }


def report(
    device_id: str = "GW-F00001",
    ts: datetime = START,
    *,
    wan: dict[str, Any] | None = None,
    client: dict[str, dict[str, Any]] | None = None,
    radio: dict[str, dict[str, Any]] | None = None,
    node: dict[str, Any] | None = None,
    **top: Any,
) -> Report:
    """A healthy report with ``wan`` fields, one client (by MAC), one radio (by band) or the
    mesh node (``node``) changed, and top-level fields replaced."""
    data = healthy(device_id, ts)
    data["wan"].update(wan or {})
    for mac, changes in (client or {}).items():
        for c in data["clients"]:
            if c["mac"] == mac:
                c.update(changes)
    for band, changes in (radio or {}).items():
        for r in data["radios"]:
            if r["band"] == band:
                r.update(changes)
    if node:
        data["mesh"][0].update(node)
    data.update(top)
    return Report.model_validate(data)


def series(n: int, start: datetime = START, **kwargs: Any) -> list[Report]:
    """``n`` consecutive reports, one interval apart, all with the same changes."""
    return [report(ts=start + i * INTERVAL, **kwargs) for i in range(n)]
