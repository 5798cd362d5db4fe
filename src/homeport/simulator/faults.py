"""Injected faults: a seeded schedule, its effect on the generated reports, and the ground truth
(``sim_faults``) that detection is scored against (DESIGN.md section 8).

Each fault class says what it does to a report and which finding (or outage) Homeport is expected
to raise for it: :data:`EXPECTED` is the one place that mapping lives.

- ``fibre_cut`` (a port): every home on the port loses WAN at once, optical signal lost; the
  expected answer is one area outage for the port.
- ``optical_degradation`` (an FTTP home): ONT receive power falls below the G.984.2 class B+
  sensitivity (−27 dBm, REFERENCE.md 4b [T9]) and keeps sliding.
- ``wifi_interference`` (a home's radio): non-Wi-Fi energy on the channel: noise floor +15 dB,
  interference 55–70 % of airtime, retransmissions +15–25 % for the band's clients.
- ``weak_coverage`` (a client): the device sits where the signal is weak (−80…−86 dBm).
- ``crowded_24ghz`` (the 2.4 GHz radio): neighbouring networks take the channel: utilisation
  85–95 %, other-BSS airtime 40–60 %.
- ``reboot_loop`` (a home): the gateway restarts every few minutes (uptime below one interval,
  a disconnect in each report).
- ``evening_congestion`` (a port, 19:00–23:00 UTC): the access network saturates: latency
  +130…200 ms, jitter +20…40 ms, loss 1.5–4 %, capacity 30–50 % of normal.
- ``dns_failure`` is in DESIGN.md's list but the report contract has no DNS field, so it cannot
  be observed from telemetry: it is not injected (see :data:`UNOBSERVABLE`).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.network.models import BANDS
from homeport.simulator.models import SimFault
from homeport.simulator.telemetry import Fleet, Frame

OUTAGE = "outage"
#: Fault class → finding kinds that count as detecting it ("outage": an area outage on the port).
EXPECTED: dict[str, frozenset[str]] = {
    "fibre_cut": frozenset({OUTAGE}),
    "optical_degradation": frozenset({"optical_out_of_range", "optical_degrading"}),
    "wifi_interference": frozenset({"congested_channel"}),
    "weak_coverage": frozenset({"weak_client_signal"}),
    "crowded_24ghz": frozenset({"congested_channel"}),
    "reboot_loop": frozenset({"reboot_loop"}),
    "evening_congestion": frozenset({"high_latency", "high_jitter", "packet_loss", "bufferbloat"}),
}
UNOBSERVABLE = {"dns_failure": "the report contract has no DNS field"}
PORT_KINDS = frozenset({"fibre_cut", "evening_congestion"})
#: Home faults per 1,000 home-days.
RATES = {
    "optical_degradation": 0.3,
    "wifi_interference": 1.0,
    "weak_coverage": 1.5,
    "crowded_24ghz": 1.0,
    "reboot_loop": 0.3,
}
#: Duration range (hours) of each home fault.
DURATION_H = {
    "optical_degradation": (6.0, 36.0),
    "wifi_interference": (1.0, 6.0),
    "weak_coverage": (1.0, 8.0),
    "crowded_24ghz": (2.0, 8.0),
    "reboot_loop": (1.0, 3.0),
}
MIN_INTERVALS = 6
EVENING = (19 * 3600, 23 * 3600)
ACTOR = Actor.system("simulator")


@dataclass(frozen=True)
class Fault:
    kind: str
    start_s: int
    end_s: int
    #: Home indices (into the fleet) the fault touches.
    homes: np.ndarray
    home_id: int | None = None
    port_id: int | None = None
    subject: str = ""
    client: int | None = None
    band: int | None = None
    params: dict[str, float] = field(default_factory=dict)

    def active(self, t: int) -> bool:
        return self.start_s <= t < self.end_s


def _stream(seed: int, name: str, start_s: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode()), start_s])


def schedule(
    fleet: Fleet,
    *,
    start: datetime,
    end: datetime,
    interval_s: int,
    seed: int,
    min_port_homes: int,
    rate_scale: float = 1.0,
) -> list[Fault]:
    """A seeded fault schedule over [start, end) for the fleet. Port faults go to ports with at
    least ``min_port_homes`` reporting homes; every home fault to a different home off those.
    ``rate_scale`` multiplies the home-fault :data:`RATES` (a denser sample for evaluation)."""
    if rate_scale <= 0:
        raise ValueError("the fault rate scale must be positive")
    s0, s1 = int(start.timestamp()), int(end.timestamp())
    days = (s1 - s0) / 86_400
    if days <= 0 or fleet.size == 0:
        return []
    faults: list[Fault] = []
    ports, counts = np.unique(fleet.port_id[fleet.port_id > 0], return_counts=True)
    eligible = ports[counts >= min_port_homes]
    rng = _stream(seed, "ports", s0)
    rng.shuffle(eligible)
    fttp_first = sorted(
        eligible.tolist(), key=lambda p: not (fleet.technology[fleet.port_id == p] == "fttp").all()
    )
    # Port faults take about a third of the eligible ports (one cut and one congestion at least),
    # so that a small sample still keeps homes for the home faults.
    budget = max(1, len(eligible) // 3)
    n_cuts = min(len(fttp_first), max(1, round(days * 0.5)), budget)
    cut_ports, rest = fttp_first[:n_cuts], fttp_first[n_cuts:]
    for p in cut_ports:
        dur = int(rng.uniform(1, 4) * 3600)
        if s1 - s0 < dur + 2 * 3600:
            dur = max((s1 - s0) // 3, MIN_INTERVALS * interval_s)
        earliest = s0 + min(3600, (s1 - s0) // 4)
        t0 = int(rng.uniform(earliest, max(earliest, s1 - dur)))
        faults.append(_port_fault(fleet, "fibre_cut", p, t0, min(s1, t0 + dur), {}))
    # Evening congestion goes to shared-medium ports first (cable, DSL, wireless: the classic
    # contention cases), which also leaves FTTP homes free for optical degradation.
    rest = sorted(rest, key=lambda p: bool((fleet.technology[fleet.port_id == p] == "fttp").all()))
    n_cong = min(len(rest), max(1, round(len(eligible) * 0.05)), budget - n_cuts + 1)
    day0 = s0 // 86_400
    evenings = [
        d
        for d in range(day0, s1 // 86_400 + 1)
        if d * 86_400 + EVENING[0] >= s0 and d * 86_400 + EVENING[1] <= s1
    ]
    for p in rest[:n_cong]:
        for d in sorted(rng.choice(evenings, size=min(2, len(evenings)), replace=False).tolist()):
            params = {
                "latency_ms": round(float(rng.uniform(130, 200)), 1),
                "jitter_ms": round(float(rng.uniform(20, 40)), 1),
                "loss_pct": round(float(rng.uniform(1.5, 4.0)), 2),
                "capacity": round(float(rng.uniform(0.3, 0.5)), 2),
            }
            t0 = d * 86_400 + EVENING[0]
            faults.append(
                _port_fault(fleet, "evening_congestion", p, t0, t0 + 4 * 3600 - 0, params)
            )
    busy = np.isin(fleet.port_id, [f.port_id or 0 for f in faults])
    free = np.flatnonzero(~busy)
    rng = _stream(seed, "homes", s0)
    free = free[rng.permutation(len(free))]
    for kind, rate in RATES.items():
        pool = free
        if kind == "optical_degradation":
            pool = pool[fleet.technology[pool] == "fttp"]
        if kind == "weak_coverage":
            pool = pool[np.diff(fleet.client_start)[pool] > 0]
        want = min(len(pool), max(1, round(rate * rate_scale * fleet.size * days / 1000)))
        chosen = pool[:want]
        free = np.setdiff1d(free, chosen, assume_unique=True)
        free = free[np.argsort(_stream(seed, kind, s0).random(len(free)))]
        for i in chosen.tolist():
            lo, hi = DURATION_H[kind]
            dur = max(int(rng.uniform(lo, hi) * 3600), MIN_INTERVALS * interval_s)
            dur = min(dur, s1 - s0)
            t0 = int(rng.uniform(s0, s1 - dur + 1))
            faults.append(_home_fault(fleet, kind, i, t0, t0 + dur, rng, interval_s))
    return sorted(faults, key=lambda f: (f.start_s, f.kind, f.home_id or 0, f.port_id or 0))


def _port_fault(
    fleet: Fleet, kind: str, port: int, t0: int, t1: int, params: dict[str, float]
) -> Fault:
    homes = np.flatnonzero(fleet.port_id == port)
    return Fault(kind, t0, t1, homes, port_id=int(port), params=params)


def _home_fault(
    fleet: Fleet, kind: str, i: int, t0: int, t1: int, rng: np.random.Generator, interval_s: int
) -> Fault:
    home_id = int(fleet.home_id[i])
    homes = np.array([i])
    if kind == "weak_coverage":
        c0, c1 = int(fleet.client_start[i]), int(fleet.client_start[i + 1])
        c = int(rng.integers(c0, c1))
        rssi = round(float(rng.uniform(-86, -80)), 1)
        return Fault(
            kind,
            t0,
            t1,
            homes,
            home_id,
            subject=fleet.client_mac[c],
            client=c,
            params={"rssi_dbm": rssi},
        )
    if kind == "wifi_interference":
        band = 0 if rng.uniform() < 0.5 else 1
        params = {
            "interference_pct": round(float(rng.uniform(55, 70)), 1),
            "retrans_pct": round(float(rng.uniform(15, 25)), 1),
        }
        return Fault(kind, t0, t1, homes, home_id, subject=BANDS[band], band=band, params=params)
    if kind == "crowded_24ghz":
        params = {
            "utilization_pct": round(float(rng.uniform(85, 95)), 1),
            "interference_pct": round(float(rng.uniform(40, 60)), 1),
        }
        return Fault(kind, t0, t1, homes, home_id, subject=BANDS[0], band=0, params=params)
    if kind == "optical_degradation":
        params = {"rx_dbm": round(float(rng.uniform(-30.5, -28.5)), 1), "slope_db_per_h": 0.2}
        return Fault(kind, t0, t1, homes, home_id, params=params)
    if kind == "reboot_loop":
        return Fault(kind, t0, t1, homes, home_id, params={"period_s": 0.8 * interval_s})
    raise ValueError(f"unknown fault kind {kind!r}")


def apply(fleet: Fleet, f: Frame, faults: Sequence[Fault]) -> None:
    """Modify the frame in place by every fault active at its time."""
    t = f.t
    for fault in faults:
        if not fault.active(t):
            continue
        h, p = fault.homes, fault.params
        if fault.kind == "fibre_cut":
            f.wan_up[h] = False
            f.optical_rx[h] = np.nan  # loss of signal: the ONT reports no receive power
        elif fault.kind == "evening_congestion":
            f.latency[h] += p["latency_ms"]
            f.jitter[h] += p["jitter_ms"]
            f.loss[h] = np.minimum(f.loss[h] + p["loss_pct"], 100)
            f.loaded[h] += p["latency_ms"] + 200
            f.down[h] *= p["capacity"]
            f.up[h] *= min(1.0, p["capacity"] * 1.5)
        elif fault.kind == "optical_degradation":
            hours = (t - fault.start_s) / 3600
            f.optical_rx[h] = np.maximum(
                p["rx_dbm"] - p["slope_db_per_h"] * hours + (f.optical_rx[h] - fleet.optical_rx[h]),
                -45.0,
            )
        elif fault.kind == "reboot_loop":
            f.uptime[h] = int(t - fault.start_s) % int(p["period_s"]) + 20
            f.disconnects[h] = 1
        elif fault.kind == "weak_coverage":
            c = fault.client
            assert c is not None
            f.client_present[c] = True
            f.rssi[c] = p["rssi_dbm"] + (f.rssi[c] - fleet.client_rssi[c])
            f.retrans[c] = min(100.0, f.retrans[c] + 10.0)
        elif fault.kind in ("wifi_interference", "crowded_24ghz"):
            b = fault.band
            assert b is not None
            f.interf[h, b] = p["interference_pct"]
            if fault.kind == "crowded_24ghz":
                f.util[h, b] = p["utilization_pct"]
            else:
                f.noise[h, b] += 15.0
                f.util[h, b] = np.minimum(f.util[h, b] + 20.0, 98.0)
                i = int(h[0])
                sel = np.arange(int(fleet.client_start[i]), int(fleet.client_start[i + 1]))
                sel = sel[fleet.client_band[sel] == b]
                f.retrans[sel] = np.minimum(f.retrans[sel] + p["retrans_pct"], 100.0)


def _dt(s: int) -> datetime:
    return datetime.fromtimestamp(s, UTC)


def record_faults(session: Session, faults: Sequence[Fault], *, now: datetime) -> list[SimFault]:
    """Write the ground truth (one ``sim_faults`` row per fault) and one audit entry."""
    rows = [
        SimFault(
            kind=f.kind,
            home_id=f.home_id,
            port_id=f.port_id,
            subject=f.subject,
            started_at=_dt(f.start_s),
            ended_at=_dt(f.end_s),
            params=dict(f.params),
        )
        for f in faults
    ]
    session.add_all(rows)
    session.flush()
    counts: dict[str, Any] = {}
    for f in faults:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    record(
        session,
        at=now,
        actor=ACTOR,
        action="simulator.faults_injected",
        entity_type="sim_faults",
        faults=len(rows),
        kinds=counts,
    )
    return rows
