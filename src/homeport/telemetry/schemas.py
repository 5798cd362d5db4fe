"""The telemetry report contract (DESIGN.md section 5), validated with physical bounds.

One report is one timestamped sample of one gateway. Field names map to the Broadband Forum
TR-181 data model (``docs/telemetry.md`` has the table; ``REFERENCE.md`` section 4 the paths).
A value outside its bound is not a "bad reading" to clamp but a broken or forged report: it is
rejected with a reason and counted, and never stops the other reports of the same batch.

Bounds, and why:

- RSSI, noise: −120…0 dBm. Received Wi-Fi power is always negative in dBm; −120 is below any
  radio's noise floor (``Device.WiFi.AccessPoint.{i}.AssociatedDevice.{i}.SignalStrength``).
- Optical receive power: −50…+10 dBm, wider than G.984.2 class B+ (−27…−8 dBm, [T9]) so that a
  failing ONT (below sensitivity or overloaded) is still *reported* and can be detected.
- Loss and utilisation and retransmissions: 0…100 %. Latency and jitter: 0…60,000 ms.
- Speeds: 0…100,000 Mbps (a 100G port; no home line exceeds it).
- Timestamps: timezone-aware; at most ``max_future_s`` ahead of the receiver's clock (a device
  clock a little fast is tolerated) and no older than the raw-retention window.
- Channels: valid for the band (2.4 GHz 1–14; 5 GHz 32–177; 6 GHz 1–233 [T8]).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
CHANNELS = {"2.4GHz": range(1, 15), "5GHz": range(32, 178), "6GHz": range(1, 234)}

Band = Literal["2.4GHz", "5GHz", "6GHz"]
Dbm = Annotated[float, Field(ge=-120, le=0)]
Pct = Annotated[float, Field(ge=0, le=100)]
Ms = Annotated[float, Field(ge=0, le=60_000)]
Mbps = Annotated[float, Field(ge=0, le=100_000)]


def _mac(value: str) -> str:
    if MAC.fullmatch(value):  # the usual case: already canonical
        return value
    value = value.strip().lower().replace("-", ":")
    if not MAC.match(value):
        raise ValueError("not a MAC address (aa:bb:cc:dd:ee:ff)")
    return value


Mac = Annotated[str, AfterValidator(_mac)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Wan(_Strict):
    status: Literal["up", "down", "unknown"]
    down_mbps: Mbps | None = None
    up_mbps: Mbps | None = None
    latency_ms: Ms | None = None
    jitter_ms: Ms | None = None
    loss_pct: Pct | None = None
    #: Latency while the line is loaded (speed test / bufferbloat probe).
    loaded_latency_ms: Ms | None = None
    optical_rx_dbm: Annotated[float, Field(ge=-50, le=10)] | None = None
    optical_tx_dbm: Annotated[float, Field(ge=-20, le=15)] | None = None
    dsl_snr_margin_db: Annotated[float, Field(ge=-10, le=70)] | None = None
    #: Link drops since the previous report.
    disconnects: Annotated[int, Field(ge=0, le=100_000)] | None = None


class Radio(_Strict):
    band: Band
    channel: Annotated[int, Field(ge=1, le=233)]
    width_mhz: Literal[20, 40, 80, 160, 320] = 20
    utilization_pct: Pct | None = None
    #: Share of airtime taken by other networks (interference), when the radio reports it.
    interference_pct: Pct | None = None
    noise_dbm: Dbm | None = None

    @model_validator(mode="after")
    def _channel_fits_band(self) -> Radio:
        if self.channel not in CHANNELS[self.band]:
            raise ValueError(f"channel {self.channel} does not exist in the {self.band} band")
        return self


class Client(_Strict):
    mac: Mac
    band: Band
    rssi_dbm: Dbm
    phy_rate_mbps: Mbps | None = None
    retrans_pct: Pct | None = None
    kind: str | None = Field(default=None, max_length=20)
    #: The client can use 2.4 GHz only (a legacy device that slows the radio for everyone).
    legacy_2g_only: bool | None = None


class Mesh(_Strict):
    node_id: Annotated[str, Field(min_length=1, max_length=64)]
    backhaul: Literal["wireless", "ethernet"] = "wireless"
    backhaul_rssi_dbm: Dbm | None = None
    backhaul_mbps: Mbps | None = None


class Resources(_Strict):
    cpu_pct: Pct | None = None
    mem_pct: Pct | None = None
    temperature_c: Annotated[float, Field(ge=-40, le=150)] | None = None


class Report(_Strict):
    device_id: Annotated[str, Field(pattern=DEVICE_ID.pattern)]
    ts: AwareDatetime
    uptime_s: Annotated[int, Field(ge=0, le=20 * 365 * 86_400)] | None = None
    wan: Wan
    radios: Annotated[list[Radio], Field(max_length=8)] = []
    clients: Annotated[list[Client], Field(max_length=256)] = []
    mesh: Annotated[list[Mesh], Field(max_length=32)] = []
    resources: Resources | None = None

    @model_validator(mode="after")
    def _unique_clients(self) -> Report:
        macs = [c.mac for c in self.clients]
        if len(macs) != len(set(macs)):
            raise ValueError("a client MAC appears twice in one report")
        return self


class Rejection(BaseModel):
    """Why one report of a batch was refused."""

    index: int
    device_id: str | None = None
    reason: str


class ActionCommand(BaseModel):
    """A remote action as a gateway receives it (in the HTTP answer, or on its MQTT command
    topic): the id to report its result under, what to do, and the parameters. The queue and
    its rules are ``homeport.health.remote``; this is only the wire shape."""

    id: int
    kind: str
    params: dict[str, Any] = {}


#: The statuses a device may report for an action it received.
ResultStatus = Literal["done", "failed", "unsupported"]
RESULT_STATUSES: tuple[str, ...] = get_args(ResultStatus)
#: Longest ``detail`` a device may send with a result.
MAX_RESULT_DETAIL = 500


class ActionResultIn(BaseModel):
    """A device's result for an action it received (HTTP body, or MQTT payload with ``id``)."""

    model_config = ConfigDict(extra="forbid")

    status: ResultStatus
    detail: str = Field(default="", max_length=MAX_RESULT_DETAIL)


class BatchResult(BaseModel):
    accepted: int
    duplicates: int = 0
    rejected: list[Rejection] = []
    #: A gateway's queued actions, now ``sent`` (always empty for an integration token).
    actions: list[ActionCommand] = []


def check_time(report: Report, now: datetime, *, max_future_s: int, max_age_s: int) -> str | None:
    """A reason to refuse the report's timestamp, or None when it is plausible."""
    delta = (report.ts - now).total_seconds()
    if delta > max_future_s:
        return f"timestamp {report.ts.isoformat()} is {delta:.0f} s in the future"
    if -delta > max_age_s:
        return (
            f"timestamp {report.ts.isoformat()} is older than the {max_age_s // 86400}-day window"
        )
    return None
