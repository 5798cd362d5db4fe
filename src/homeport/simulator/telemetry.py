"""Telemetry of the simulated fleet: one report per gateway per interval (DESIGN.md sections 5, 8).

A :class:`Fleet` is read once from the stored fleet (homes, gateways, mesh nodes, client devices
and the ``sim_homes`` ground truth). :func:`frame` then computes every home's sample at one
instant as numpy arrays (a :class:`Frame`), which fault injection
(:mod:`homeport.simulator.faults`) may modify before :func:`reports` turns it into
:class:`~homeport.telemetry.schemas.Report` objects.

Determinism: static per-home parameters (channels, optical level, boot time...) come from each
home's own seed in ``sim_homes``; per-sample noise is a counter-based hash of (home or device
seed, report time, field), so a home's report at a given time is the same whatever range,
sample or fleet size it is generated in.

Healthy model: WAN capacity, latency, jitter and loss are the home's Ofcom-fitted line quality
with a diurnal load (evening peak) and small noise; radios have a base utilisation that rises
with household activity; client RSSI jitters (sd 1.5 dB, at most ±3 dB) around the device's
stored level. The baseline is *healthy*: devices the fleet placed in a far corner are lifted to
a 4 dB margin above :data:`WEAK_RSSI_DBM`, and WAN and radio metrics stay inside :data:`HEALTHY`
(the Ofcom panel's worst lines are clipped to it), so that every condition a scored detector
should find is an injected fault with ground truth. Lines slower than their plan are kept as
drawn: "speed below plan" is a real condition of the fleet, not a fault class, and is not
scored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, cast

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.network.models import BANDS, ClientDevice, Gateway, Home, MeshNode
from homeport.simulator.hardware import GATEWAYS
from homeport.simulator.models import SimHome
from homeport.subscribers.models import Plan, Subscriber
from homeport.telemetry.schemas import Band, Report

#: Client RSSI below this is weak (REFERENCE.md 4a: −75 to −85 dBm "weak" [T1]).
WEAK_RSSI_DBM = -75.0
HEALTHY_FLOOR_DBM = WEAK_RSSI_DBM + 4.0
#: Kinds that come and go with the household (others are always on).
MOBILE_KINDS = frozenset({"phone", "laptop", "tablet", "wearable"})
CHANNELS = (np.array([1, 6, 11]), np.array([36, 44, 52, 100, 116, 149]), np.array([5, 37, 69]))
WIDTH_VALUES: tuple[Literal[20, 40, 80, 160, 320], ...] = (20, 80, 160)
BAND_NAMES = cast(tuple[Band, ...], BANDS)
#: Household activity by UTC hour (0 = night, 1 = the evening peak; UK homes).
DIURNAL = np.array(
    [
        *(0.25, 0.18, 0.12, 0.1, 0.1, 0.12, 0.22, 0.38, 0.45, 0.45, 0.45, 0.5),
        *(0.55, 0.52, 0.5, 0.55, 0.65, 0.78, 0.9, 1.0, 1.0, 0.95, 0.75, 0.45),
    ]
)
#: The healthy envelope: a healthy sample stays this far inside the detectors' default limits
#: (REFERENCE.md section 4), so that findings on healthy homes are real false positives.
HEALTHY = {
    "latency_ms": 90.0,
    "jitter_ms": 15.0,
    "loss_pct": 0.6,
    "bloat_ms": 45.0,
    "retrans_pct": 8.0,
    "utilization_pct": 65.0,
    "interference_pct": 35.0,
}
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def diurnal(t: int) -> float:
    """Household activity 0…1 at epoch second ``t`` (linear between hours)."""
    hour = (t % 86_400) / 3600.0
    i = int(hour)
    frac = hour - i
    return float(DIURNAL[i] * (1 - frac) + DIURNAL[(i + 1) % 24] * frac)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return x ^ (x >> np.uint64(31))


def uniform(keys: np.ndarray, t: int, field: int) -> np.ndarray:
    """Deterministic uniforms in (0, 1) for each key at time ``t``, one stream per ``field``."""
    with np.errstate(over="ignore"):
        x = _mix(keys.astype(np.uint64) ^ _mix(np.array([t * 1024 + field], dtype=np.uint64)))
    return ((x >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def normal(keys: np.ndarray, t: int, field: int) -> np.ndarray:
    """Deterministic standard normals (Box-Muller over two hashed uniforms)."""
    u1 = uniform(keys, t, 2 * field)
    u2 = uniform(keys, t, 2 * field + 1)
    return np.asarray(np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2))


@dataclass(frozen=True)
class Fleet:
    """The reporting homes (index ``i`` = position) and their devices, with static parameters."""

    home_id: np.ndarray
    device_id: list[str]
    port_id: np.ndarray  # 0: no port
    technology: np.ndarray
    key: np.ndarray  # uint64 per-home seed
    plan_down: np.ndarray
    line_down: np.ndarray
    line_up: np.ndarray
    line_latency: np.ndarray
    line_jitter: np.ndarray
    line_loss: np.ndarray
    radio_present: np.ndarray  # (H, 3) bool
    channel: np.ndarray  # (H, 3)
    util_base: np.ndarray  # (H, 3)
    interf_base: np.ndarray  # (H, 3)
    noise_base: np.ndarray  # (H, 3)
    optical_rx: np.ndarray  # nan unless FTTP
    optical_tx: np.ndarray
    snr: np.ndarray  # nan unless DSL (ADSL, FTTC)
    bloat_ms: np.ndarray
    boot_s: np.ndarray  # epoch second of the last boot before the simulation
    activity: np.ndarray
    cpu_base: np.ndarray
    mem_base: np.ndarray
    temp_base: np.ndarray
    # Wireless clients, grouped by home (client_start[i]:client_start[i + 1]).
    client_start: np.ndarray
    client_home: np.ndarray
    client_key: np.ndarray
    client_mac: list[str]
    client_kind: list[str]
    client_band: np.ndarray  # index into BANDS
    client_rssi: np.ndarray
    client_legacy: np.ndarray
    client_mobile: np.ndarray
    # Mesh satellites, grouped by home.
    mesh_start: np.ndarray
    mesh_home: np.ndarray
    mesh_key: np.ndarray
    mesh_node: list[str]
    mesh_wired: np.ndarray
    mesh_rssi: np.ndarray

    @property
    def size(self) -> int:
        return len(self.home_id)


def _group_starts(owner: np.ndarray, n: int) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n))]).astype(np.int64)


def load_fleet(
    session: Session, *, at: datetime, homes_sample: int | None = None, seed: int = 0
) -> Fleet:
    """The homes reporting at ``at`` (active subscriber, installed, with a gateway and a
    ``sim_homes`` row). ``homes_sample`` keeps whole ports, chosen by ``seed``, until that many
    homes are in (so area outages keep their shape)."""
    rows: list[Any] = session.execute(
        select(
            Home.id,
            Home.port_id,
            Home.technology,
            Gateway.device_id,
            Gateway.vendor,
            Gateway.model,
            SimHome.seed,
            Plan.down_mbps,
            SimHome.line_down_mbps,
            SimHome.line_up_mbps,
            SimHome.line_latency_ms,
            SimHome.line_jitter_ms,
            SimHome.line_loss_pct,
        )
        .join(Gateway, Gateway.home_id == Home.id)
        .join(Subscriber, Subscriber.id == Home.subscriber_id)
        .join(SimHome, SimHome.subscriber_id == Subscriber.id)
        .join(Plan, Plan.id == Subscriber.plan_id)
        .where(Subscriber.status == "active", Home.installed_at <= at)
        .order_by(Home.id)
    ).all()  # type: ignore[assignment]
    if homes_sample is not None and homes_sample < len(rows):
        rows = _sample_ports(rows, homes_sample, seed)
    if not rows:
        return _build(rows, [], [], at)
    ids = [r[0] for r in rows]
    clients: list[Any] = []
    mesh: list[Any] = []
    for chunk in range(0, len(ids), 5000):
        part = ids[chunk : chunk + 5000]
        clients += session.execute(
            select(
                ClientDevice.home_id,
                ClientDevice.id,
                ClientDevice.mac,
                ClientDevice.kind,
                ClientDevice.last_band,
                ClientDevice.last_rssi_dbm,
                ClientDevice.band_capability,
            )
            .where(ClientDevice.home_id.in_(part), ClientDevice.last_band.is_not(None))
            .order_by(ClientDevice.home_id, ClientDevice.id)
        ).all()
        mesh += session.execute(
            select(
                MeshNode.home_id, MeshNode.node_id, MeshNode.backhaul, MeshNode.backhaul_rssi_dbm
            )
            .where(MeshNode.home_id.in_(part))
            .order_by(MeshNode.home_id, MeshNode.id)
        ).all()
    return _build(rows, clients, mesh, at)


def _sample_ports(rows: list[Any], target: int, seed: int) -> list[Any]:
    ports = sorted({r[1] or 0 for r in rows})
    order = np.random.default_rng([seed, 0x5A3]).permutation(len(ports))
    by_port: dict[int, int] = {}
    for r in rows:
        by_port[r[1] or 0] = by_port.get(r[1] or 0, 0) + 1
    keep: set[int] = set()
    total = 0
    for j in order.tolist():
        if total >= target:
            break
        keep.add(ports[j])
        total += by_port[ports[j]]
    return [r for r in rows if (r[1] or 0) in keep]


def _build(rows: list[Any], clients: list[Any], mesh: list[Any], at: datetime) -> Fleet:
    n = len(rows)
    wifi6 = {(g.vendor, g.model): g.wifi_6ghz for opts in GATEWAYS.values() for g in opts}
    home_id = np.array([r[0] for r in rows], dtype=np.int64)
    tech = np.array([r[2] for r in rows], dtype=object)
    key = np.array([r[6] for r in rows], dtype=np.uint64)
    col = {
        name: np.array([float(r[j]) for r in rows])
        for j, name in enumerate(
            ("plan_down", "line_down", "line_up", "latency", "jitter", "loss"), start=7
        )
    }
    # Static per-home parameters from each home's own seed.
    static = np.zeros((n, 16))
    for i, s in enumerate(key.tolist()):
        static[i] = np.random.default_rng([int(s), 0x7E1]).random(16)
    radio_present = np.ones((n, 3), dtype=bool)
    radio_present[:, 2] = [wifi6.get((r[4], r[5]), False) for r in rows]
    channel = np.stack(
        [CHANNELS[b][(static[:, b] * len(CHANNELS[b])).astype(int)] for b in range(3)], axis=1
    )
    util_base = np.stack([12 + 20 * static[:, 3], 4 + 12 * static[:, 4], 2 + 6 * static[:, 5]], 1)
    interf_base = np.stack([3 + 9 * static[:, 6], 1 + 3 * static[:, 7], 0.5 + static[:, 7]], 1)
    noise_base = np.stack(
        [-92 + 4 * static[:, 8], -96 + 4 * static[:, 8], -97 + 4 * static[:, 8]], 1
    )
    is_fttp = tech == "fttp"
    is_dsl = (tech == "adsl") | (tech == "fttc")
    at_s = int(at.timestamp())
    h_index = {int(h): i for i, h in enumerate(home_id.tolist())}
    c_home = np.array([h_index[c[0]] for c in clients], dtype=np.int64)
    c_band = np.array([BANDS.index(c[4]) for c in clients], dtype=np.int64)
    # Bands a home's gateway does not have (6 GHz) fall back to 5 GHz.
    if len(clients):
        c_band = np.where(radio_present[c_home, c_band], c_band, 1)
    c_rssi = np.array([float(c[5] if c[5] is not None else -60) for c in clients])
    m_home = np.array([h_index[m[0]] for m in mesh], dtype=np.int64)
    m_start = _group_starts(m_home, n)
    m_rank = np.arange(len(mesh)) - m_start[m_home]
    return Fleet(
        home_id=home_id,
        device_id=[r[3] for r in rows],
        port_id=np.array([r[1] or 0 for r in rows], dtype=np.int64),
        technology=tech,
        key=key,
        plan_down=col["plan_down"],
        line_down=col["line_down"],
        line_up=col["line_up"],
        line_latency=col["latency"],
        line_jitter=col["jitter"],
        line_loss=col["loss"],
        radio_present=radio_present,
        channel=channel,
        util_base=util_base,
        interf_base=interf_base,
        noise_base=noise_base,
        optical_rx=np.where(is_fttp, -22.0 + 6.0 * static[:, 9], np.nan),
        optical_tx=np.where(is_fttp, 1.5 + 2.0 * static[:, 10], np.nan),
        snr=np.where(is_dsl, 9.0 + 12.0 * static[:, 11], np.nan),
        bloat_ms=np.where(tech == "adsl", 30.0, 12.0) * (0.5 + static[:, 12]),
        boot_s=at_s - (86_400 * (1 + 40 * static[:, 13])).astype(np.int64),
        activity=0.6 + 0.8 * static[:, 14],
        cpu_base=4 + 16 * static[:, 15],
        mem_base=30 + 25 * static[:, 1],
        temp_base=44 + 12 * static[:, 2],
        client_start=_group_starts(c_home, n),
        client_home=c_home,
        client_key=np.array([c[1] for c in clients], dtype=np.uint64) * np.uint64(0x9E37),
        client_mac=[c[2] for c in clients],
        client_kind=[c[3] for c in clients],
        client_band=c_band,
        client_rssi=np.maximum(c_rssi, HEALTHY_FLOOR_DBM),
        client_legacy=np.array([c[6] == "2.4" for c in clients], dtype=bool),
        client_mobile=np.array([c[3] in MOBILE_KINDS for c in clients], dtype=bool),
        mesh_start=m_start,
        mesh_home=m_home,
        mesh_key=key[m_home] * np.uint64(131) + m_rank.astype(np.uint64),
        mesh_node=[m[1] for m in mesh],
        mesh_wired=np.array([m[2] == "ethernet" for m in mesh], dtype=bool),
        mesh_rssi=np.array([float(m[3] if m[3] is not None else -60) for m in mesh]),
    )


@dataclass
class Frame:
    """Every home's sample at one instant ``t`` (epoch seconds), as arrays faults can modify."""

    t: int
    wan_up: np.ndarray
    down: np.ndarray
    up: np.ndarray
    latency: np.ndarray
    jitter: np.ndarray
    loss: np.ndarray
    loaded: np.ndarray
    optical_rx: np.ndarray
    optical_tx: np.ndarray
    snr: np.ndarray
    disconnects: np.ndarray
    uptime: np.ndarray
    util: np.ndarray  # (H, 3)
    interf: np.ndarray
    noise: np.ndarray
    client_present: np.ndarray
    rssi: np.ndarray
    retrans: np.ndarray
    mesh_rssi: np.ndarray
    mesh_mbps: np.ndarray
    cpu: np.ndarray
    mem: np.ndarray
    temp: np.ndarray

    def copy(self) -> Frame:
        return replace(self, **{k: v.copy() for k, v in vars(self).items() if k != "t"})


def frame(fleet: Fleet, t: int) -> Frame:
    """The healthy sample of every home at epoch second ``t``."""
    d = diurnal(t)
    k = fleet.key
    load = np.clip(d * fleet.activity, 0.0, 1.2)
    z = [normal(k, t, f) for f in range(12)]
    lat = fleet.line_latency * (1 + 0.15 * load) + np.abs(z[2]) * fleet.line_jitter * 0.5
    lat = np.clip(lat, 0.5, HEALTHY["latency_ms"])
    util = np.clip(
        fleet.util_base + np.stack([25 * load, 30 * load, 15 * load], 1) + 3 * z[9][:, None],
        1,
        HEALTHY["utilization_pct"],
    )
    ck = fleet.client_key
    present = fleet.client_mobile.copy()
    if len(ck):
        away = 0.55 if 8 <= (t % 86_400) // 3600 < 17 else 0.1
        present = ~fleet.client_mobile | (uniform(ck, t // 3600, 40) >= away)
    rssi = fleet.client_rssi + np.clip(1.5 * normal(ck, t, 41), -3, 3)
    retrans = np.clip(
        1.0 + 0.08 * np.maximum(0.0, -55 - rssi) + np.abs(normal(ck, t, 42)),
        0,
        HEALTHY["retrans_pct"],
    )
    mrssi = fleet.mesh_rssi + 1.5 * normal(fleet.mesh_key, t, 43)
    mbps = np.where(fleet.mesh_wired, 940.0, np.clip(900 + 25 * (mrssi + 60), 60, 1200)) * (
        1 - 0.25 * d
    )
    return Frame(
        t=t,
        wan_up=np.ones(fleet.size, dtype=bool),
        down=fleet.line_down * np.clip(1 - 0.08 * load + 0.03 * z[0], 0.6, 1.1),
        up=fleet.line_up * np.clip(1 - 0.04 * load + 0.03 * z[1], 0.6, 1.1),
        latency=lat,
        jitter=np.minimum(
            fleet.line_jitter * np.exp(0.25 * z[3]) * (1 + 0.3 * load), HEALTHY["jitter_ms"]
        ),
        loss=np.clip(fleet.line_loss * np.exp(0.5 * z[4]), 0, HEALTHY["loss_pct"]),
        loaded=lat
        + np.minimum(fleet.bloat_ms * (0.5 + load) * np.exp(0.2 * z[5]), HEALTHY["bloat_ms"]),
        optical_rx=fleet.optical_rx + 0.15 * z[6],
        optical_tx=fleet.optical_tx + 0.05 * z[7],
        snr=fleet.snr + 0.5 * z[8] - 1.0 * load,
        disconnects=np.zeros(fleet.size, dtype=np.int64),
        uptime=np.maximum(t - fleet.boot_s, 0),
        util=util,
        interf=np.clip(
            fleet.interf_base * np.exp(0.3 * z[10])[:, None], 0, HEALTHY["interference_pct"]
        ),
        noise=fleet.noise_base + z[11][:, None],
        client_present=present,
        rssi=rssi,
        retrans=retrans,
        mesh_rssi=mrssi,
        mesh_mbps=mbps,
        cpu=np.clip(fleet.cpu_base + 25 * load + 4 * z[0] ** 2, 1, 100),
        mem=np.clip(fleet.mem_base + 5 * load, 1, 100),
        temp=fleet.temp_base + 4 * load,
    )


def _phy(band: np.ndarray, rssi: np.ndarray) -> np.ndarray:
    top = np.array([144.0, 1201.0, 2402.0])[band]
    return np.asarray(np.round(top * np.clip((rssi + 90) / 35, 0.05, 1.0), 0))


def _opt(x: float) -> float | None:
    return None if x != x else x  # NaN → None


def reports(fleet: Fleet, f: Frame) -> list[Report]:
    """The frame as report objects, each validated against the contract (pydantic-core builds
    them from plain dicts faster than an unvalidated ``model_construct``)."""
    ts = datetime.fromtimestamp(f.t, UTC)
    r2 = {
        name: np.round(getattr(f, name), 2).tolist()
        for name in ("down", "up", "latency", "jitter", "loss", "loaded", "optical_rx")
    }
    r2["optical_tx"] = np.round(f.optical_tx, 2).tolist()
    r2["snr"] = np.round(np.clip(f.snr, -10, 70), 1).tolist()
    wan_up = f.wan_up.tolist()
    disc = f.disconnects.tolist()
    uptime = f.uptime.tolist()
    util = np.round(f.util, 1).tolist()
    interf = np.round(f.interf, 1).tolist()
    noise = np.round(np.clip(f.noise, -120, 0), 0).tolist()
    present = fleet.radio_present.tolist()
    channel = fleet.channel.tolist()
    crssi = np.round(np.clip(f.rssi, -120, 0), 0).tolist()
    cphy = _phy(fleet.client_band, f.rssi).tolist()
    cret = np.round(f.retrans, 1).tolist()
    cband = fleet.client_band.tolist()
    cpresent = f.client_present.tolist()
    mrssi = np.round(np.clip(f.mesh_rssi, -120, 0), 0).tolist()
    mmbps = np.round(f.mesh_mbps, 0).tolist()
    cpu, mem, temp = (np.round(a, 1).tolist() for a in (f.cpu, f.mem, f.temp))
    cs, ms = fleet.client_start.tolist(), fleet.mesh_start.tolist()
    out: list[Report] = []
    for i in range(fleet.size):
        if wan_up[i]:
            wan = {
                "status": "up",
                "down_mbps": r2["down"][i],
                "up_mbps": r2["up"][i],
                "latency_ms": r2["latency"][i],
                "jitter_ms": r2["jitter"][i],
                "loss_pct": r2["loss"][i],
                "loaded_latency_ms": r2["loaded"][i],
                "optical_rx_dbm": _opt(r2["optical_rx"][i]),
                "optical_tx_dbm": _opt(r2["optical_tx"][i]),
                "dsl_snr_margin_db": _opt(r2["snr"][i]),
                "disconnects": disc[i],
            }
        else:
            wan = {
                "status": "down",
                "down_mbps": None,
                "up_mbps": None,
                "latency_ms": None,
                "jitter_ms": None,
                "loss_pct": None,
                "loaded_latency_ms": None,
                "optical_rx_dbm": _opt(r2["optical_rx"][i]),
                "optical_tx_dbm": _opt(r2["optical_tx"][i]),
                "dsl_snr_margin_db": None,
                "disconnects": disc[i],
            }
        radios = [
            {
                "band": BAND_NAMES[b],
                "channel": channel[i][b],
                "width_mhz": WIDTH_VALUES[b],
                "utilization_pct": util[i][b],
                "interference_pct": interf[i][b],
                "noise_dbm": noise[i][b],
            }
            for b in range(3)
            if present[i][b]
        ]
        clients = [
            {
                "mac": fleet.client_mac[c],
                "band": BAND_NAMES[cband[c]],
                "rssi_dbm": crssi[c],
                "phy_rate_mbps": cphy[c],
                "retrans_pct": cret[c],
                "kind": fleet.client_kind[c],
                "legacy_2g_only": bool(fleet.client_legacy[c]),
            }
            for c in range(cs[i], cs[i + 1])
            if cpresent[c]
        ]
        mesh = [
            {
                "node_id": fleet.mesh_node[m],
                "backhaul": "ethernet" if fleet.mesh_wired[m] else "wireless",
                "backhaul_rssi_dbm": None if fleet.mesh_wired[m] else mrssi[m],
                "backhaul_mbps": mmbps[m],
            }
            for m in range(ms[i], ms[i + 1])
        ]
        out.append(
            Report.model_validate(
                {
                    "device_id": fleet.device_id[i],
                    "ts": ts,
                    "uptime_s": uptime[i],
                    "wan": wan,
                    "radios": radios,
                    "clients": clients,
                    "mesh": mesh,
                    "resources": {"cpu_pct": cpu[i], "mem_pct": mem[i], "temperature_c": temp[i]},
                }
            )
        )
    return out


def ticks(start: datetime, end: datetime, interval_s: int) -> list[int]:
    """Report times in [start, end): multiples of the interval (epoch seconds)."""
    if interval_s <= 0:
        raise ValueError("the report interval must be positive")
    first = -(-int(start.timestamp()) // interval_s) * interval_s
    return list(range(first, int(end.timestamp()), interval_s))
