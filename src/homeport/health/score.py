"""The experience score (DESIGN.md 5a): five sub-scores 0–100 from one report, a weighted mean
capped at the worst sub-score + 20 so that one bad dimension cannot hide, bands and stars.

Pure functions; :mod:`homeport.health.actions` averages the sub-scores of a home's reports over
each hour and stores the result with its explanation.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from homeport.core.health_settings import HealthSettings
from homeport.health.detectors.base import HomeContext
from homeport.telemetry.schemas import Report

SUBSCORES = ("wan_service", "wan_continuity", "wifi_coverage", "wifi_efficiency", "device_health")
WEIGHTS: Mapping[str, float] = {
    "wan_service": 0.30,
    "wan_continuity": 0.25,
    "wifi_coverage": 0.20,
    "wifi_efficiency": 0.15,
    "device_health": 0.10,
}
LABELS: Mapping[str, str] = {
    "wan_service": "Internet speed and quality",
    "wan_continuity": "Connection stability",
    "wifi_coverage": "Wi-Fi coverage",
    "wifi_efficiency": "Wi-Fi congestion",
    "device_health": "Gateway health",
}
#: The home score may exceed its worst sub-score by at most this much.
CAP_ABOVE_WORST = 20.0


def ramp(value: float, points: Sequence[tuple[float, float]]) -> float:
    """Piecewise-linear score of ``value`` through ``(value, score)`` points sorted by value."""
    if value <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if value <= x1:
            return y0 + (y1 - y0) * (value - x0) / (x1 - x0)
    return points[-1][1]


@dataclass
class SubScores:
    values: dict[str, float]
    #: Why each sub-score lost points: sub-score → list of short reasons.
    reasons: dict[str, list[str]] = field(default_factory=dict)

    def lose(self, name: str, score: float, reason: str, *args: object) -> None:
        """Lower ``name`` to ``score``; below 100 with ``reason`` (a ``str.format`` template
        when ``args`` are given: formatted only then, as most figures lose nothing)."""
        if score < 100:
            self.reasons.setdefault(name, []).append(reason.format(*args) if args else reason)
            self.values[name] = min(self.values[name], score)


def subscores(report: Report, ctx: HomeContext, s: HealthSettings) -> SubScores:
    """The five sub-scores of one report, each with the reasons it lost points."""
    out = SubScores(dict.fromkeys(SUBSCORES, 100.0))
    wan = report.wan
    rebooted = report.uptime_s is not None and report.uptime_s < ctx.report_interval_s
    # WAN service: speed against plan [T16], latency [T13][T14], jitter, loss.
    if wan.status == "down":
        out.lose("wan_service", 0, "no Internet connection")
        out.lose("wan_continuity", 0, "Internet connection down")
    else:
        if wan.down_mbps is not None and ctx.plan_down_mbps:
            ratio = wan.down_mbps / ctx.plan_down_mbps
            out.lose(
                "wan_service",
                ramp(ratio, ((0.3, 10), (0.5, 30), (0.8, 60), (0.95, 100))),
                "speed {:.0%} of plan",
                ratio,
            )
        if wan.latency_ms is not None:
            out.lose(
                "wan_service",
                ramp(wan.latency_ms, [(s.latency_warn_ms, 100), (s.latency_crit_ms, 30)]),
                "latency {:g} ms",
                wan.latency_ms,
            )
        if wan.jitter_ms is not None:
            out.lose(
                "wan_service",
                ramp(wan.jitter_ms, [(s.jitter_warn_ms / 2, 100), (s.jitter_crit_ms, 40)]),
                "jitter {:g} ms",
                wan.jitter_ms,
            )
        if wan.loss_pct is not None:
            out.lose(
                "wan_service",
                ramp(wan.loss_pct, [(0.3, 100), (s.loss_warn_pct, 80), (s.loss_crit_pct, 20)]),
                "packet loss {:g} %",
                wan.loss_pct,
            )
        if wan.disconnects:
            out.lose(
                "wan_continuity",
                max(0.0, 100 - 25.0 * wan.disconnects),
                f"{wan.disconnects} disconnection(s)",
            )
    if rebooted:
        out.lose("wan_continuity", 50, "gateway restarted")
    # Wi-Fi coverage: share of clients above −67 dBm [T1]; mesh backhaul [P6].
    if report.clients:
        good = sum(1 for c in report.clients if c.rssi_dbm >= s.good_rssi_dbm)
        share = good / len(report.clients)
        out.lose(
            "wifi_coverage",
            100 * share,
            "{} of {} devices below {:g} dBm",
            len(report.clients) - good,
            len(report.clients),
            s.good_rssi_dbm,
        )
    for m in report.mesh:
        if (
            m.backhaul == "wireless"
            and m.backhaul_rssi_dbm is not None
            and m.backhaul_rssi_dbm < s.backhaul_weak_rssi_dbm
        ):
            out.lose("wifi_coverage", 50, f"mesh node {m.node_id} backhaul weak")
    # Wi-Fi efficiency: channel utilisation [T5][T6], retransmissions [T12].
    for r in report.radios:
        busy = max(r.utilization_pct or 0.0, r.interference_pct or 0.0)
        out.lose(
            "wifi_efficiency",
            ramp(busy, [(50, 100), (s.utilization_warn_pct, 70), (100, 20)]),
            "{} radio {:g} % busy",
            r.band,
            busy,
        )
    retrans = [c.retrans_pct for c in report.clients if c.retrans_pct is not None]
    if retrans:
        mean = sum(retrans) / len(retrans)
        out.lose(
            "wifi_efficiency",
            ramp(mean, [(2.5, 100), (5, 80), (s.retrans_warn_pct, 50), (30, 20)]),
            "retransmissions {:.1f} %",
            mean,
        )
    # Device health: reboots, resources [SM1].
    if rebooted:
        out.lose("device_health", 40, "gateway restarted")
    res = report.resources
    if res is not None:
        if res.cpu_pct is not None and res.cpu_pct > s.cpu_warn_pct:
            out.lose("device_health", 50, f"CPU {res.cpu_pct:g} %")
        if res.mem_pct is not None and res.mem_pct > s.mem_warn_pct:
            out.lose("device_health", 50, f"memory {res.mem_pct:g} %")
        if res.temperature_c is not None and res.temperature_c > s.temperature_warn_c:
            out.lose("device_health", 50, f"temperature {res.temperature_c:g} °C")
    return out


def combine(values: Mapping[str, float]) -> float:
    """The home score: the weighted mean, capped at the worst sub-score + 20."""
    mean = sum(WEIGHTS[k] * values[k] for k in SUBSCORES)
    return round(min(mean, min(values[k] for k in SUBSCORES) + CAP_ABOVE_WORST), 1)


def band(score: float) -> str:
    """Excellent ≥ 81, Average 51–80, Poor ≤ 50 (Adtran's bands)."""
    if score >= 81:
        return "excellent"
    if score > 50:
        return "average"
    return "poor"


def stars(score: float) -> int:
    """1–5 stars (as Calix shows QoE): each star is 20 points, at least one."""
    return max(1, min(5, math.ceil(score / 20)))


def explain(
    values: Mapping[str, float], reasons: Mapping[str, Mapping[str, int]]
) -> dict[str, object]:
    """Which sub-score pulled the score down, and why (its most frequent reasons)."""
    score = combine(values)
    weakest = min(SUBSCORES, key=lambda k: values[k])
    mean = sum(WEIGHTS[k] * values[k] for k in SUBSCORES)
    top = sorted(reasons.get(weakest, {}).items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    if values[weakest] >= 100:
        text = "Every dimension is at its best."
    else:
        why = "; ".join(r for r, _ in top) or "below its best"
        text = f"{LABELS[weakest]} pulled the score down ({values[weakest]:.0f}/100: {why})."
        if mean > score:
            text += f" The score is capped at {score:.0f} (that sub-score + 20)."
    return {
        "weakest": weakest,
        "capped": mean > score,
        "text": text,
        "band": band(score),
        "stars": stars(score),
    }
