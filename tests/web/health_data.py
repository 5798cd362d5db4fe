"""Real health data for the web tests: reports stored through the telemetry ingest action, so
that the health handlers (detectors, findings with hysteresis, scores, outage correlation,
auto-remediation) produce everything the pages show. Nothing here writes a health table.

The story, ending at ``START`` (10:00 UTC):

- Alice Smith (ACC-1001): six days of hourly reports, healthy for three days, then two of her
  three devices fall below −80 dBm (weak signal, coverage gap: her score drops); in the last
  hour her 2.4 GHz channel is 85 % busy too (a congested channel, which the remediation policy
  answers with a ``set_channel`` action).
- Bob Jones (ACC-1002): latency of 300 ms for the first four reports of the last hour, then
  healthy: a ``high_latency`` finding that opens and resolves.
- Dev Patel (BRI-2001, South, ADSL): latency of 200 ms all hour, an open ``high_latency``.
- Carol Smithers (ACC-1003, suspended) and ten filler homes on port 1/1/2: healthy until the
  last three reports, when six fillers lose their WAN: an outage of that port.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.telemetry.actions import store_reports
from homeport.telemetry.schemas import Report
from homeport.wiring import connect
from tests.conftest import START
from tests.factories import STANDARD, Fleet, SubscriberSpec, build_fleet, filler
from tests.health.reports import INTERVAL, LAPTOP, PHONE, report

HOUR = timedelta(hours=1)
#: The last hour is reported every five minutes: 09:00 … 10:00.
RECENT = [START - HOUR + i * INTERVAL for i in range(13)]
#: Alice's history: hourly from six days before START up to the last hour.
HISTORY = [START - timedelta(days=6) + i * HOUR for i in range(6 * 24 - 1)]
TROUBLE_FROM = START - timedelta(days=3)
DOWN_FILLERS = 6
ALICE_GW = "GW-000101"

WEAK = {PHONE: {"rssi_dbm": -80}, LAPTOP: {"rssi_dbm": -82}}
ALICE_WAN = {"down_mbps": 950.0, "up_mbps": 110.0}
BOB_WAN = {"down_mbps": 480.0, "up_mbps": 72.0}


@dataclass
class HealthStory:
    fleet: Fleet
    alice: int
    bob: int
    dev: int
    carol: int


def alice_report(ts: datetime, recent: bool) -> Report:
    troubled = ts >= TROUBLE_FROM
    radio: dict[str, dict[str, Any]] = {}
    if recent:
        radio = {"2.4GHz": {"utilization_pct": 85}}
    return report(ALICE_GW, ts, wan=ALICE_WAN, client=WEAK if troubled else {}, radio=radio)


def _batch(ts: datetime, down_devices: tuple[str, ...]) -> list[Report]:
    n = RECENT.index(ts)
    last_three = n >= len(RECENT) - 3
    out = [
        alice_report(ts, recent=True),
        report("GW-000102", ts, wan={**BOB_WAN, **({"latency_ms": 300.0} if n < 4 else {})}),
        report("GW-000103", ts, wan=BOB_WAN),
        report("DSL-7F3A2C", ts, wan={"latency_ms": 200.0, "optical_rx_dbm": None}),
    ]
    for i in range(1, 11):
        down = i <= DOWN_FILLERS and last_three
        out.append(report(f"GW-F{i:05d}", ts, wan={"status": "down"} if down else {}))
    for device_id in down_devices:
        out.append(report(device_id, ts, wan={"status": "down"} if last_three else {}))
    return out


def store(db: Database, settings: Settings, reports: list[Report], now: datetime) -> None:
    with db.transaction() as session:
        result = store_reports(
            session, reports, source="http", now=now, settings=settings.telemetry
        )
    assert not result.rejected, result.rejected


def extra_subscribers(*specs: SubscriberSpec) -> tuple[SubscriberSpec, ...]:
    return (*STANDARD, *filler(10, start=1, port="north-olt1-p2"), *specs)


def build_story(
    db: Database,
    settings: Settings,
    *specs: SubscriberSpec,
    history: bool = True,
    down_devices: tuple[str, ...] = (),
) -> HealthStory:
    """The fleet and the reports above, stored batch by batch as they would arrive; ``specs``
    are more subscribers, and their gateways in ``down_devices`` lose WAN with the fillers."""
    connect(db, settings)
    fleet = build_fleet(db, START - timedelta(days=7), extra_subscribers(*specs))
    if history:
        store(db, settings, [alice_report(ts, recent=False) for ts in HISTORY], HISTORY[-1])
    for ts in RECENT:
        store(db, settings, _batch(ts, down_devices), ts)
    return HealthStory(
        fleet=fleet,
        alice=fleet.subscribers["ACC-1001"],
        bob=fleet.subscribers["ACC-1002"],
        dev=fleet.subscribers["BRI-2001"],
        carol=fleet.subscribers["ACC-1003"],
    )
