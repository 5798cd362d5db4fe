"""WAN and access detectors (thresholds: REFERENCE.md 4b)."""

from __future__ import annotations

from homeport.core.health_settings import HealthSettings
from homeport.health.detectors.base import Condition, HomeContext, Result, worst
from homeport.telemetry.schemas import Report


def wan_down(report: Report, ctx: HomeContext, s: HealthSettings) -> Result:
    """The gateway reports its WAN link down."""
    if report.wan.status == "unknown":
        return None
    if report.wan.status == "down":
        return [
            Condition(
                "wan_down",
                "critical",
                "Internet connection is down",
                evidence={"status": "down", "uptime_s": report.uptime_s},
            )
        ]
    return []


def speed_below_plan(report: Report, ctx: HomeContext, s: HealthSettings) -> Result:
    """Measured downstream (or upstream) below ``speed_min_ratio`` of the plan [T16]."""
    wan = report.wan
    if wan.status != "up":
        return None
    checks = [
        ("down", wan.down_mbps, ctx.plan_down_mbps),
        ("up", wan.up_mbps, ctx.plan_up_mbps),
    ]
    measured = [(d, got, plan) for d, got, plan in checks if got is not None and plan]
    if not measured:
        return None
    slow = [(d, got, plan) for d, got, plan in measured if got < plan * s.speed_min_ratio]
    if not slow:
        return []
    direction, got, plan = min(slow, key=lambda t: t[1] / t[2])
    ratio = got / plan
    return [
        Condition(
            "speed_below_plan",
            "warning",
            f"{direction}stream speed {got:.0f} Mbps is {ratio:.0%} of the {plan:.0f} Mbps plan",
            evidence={"direction": direction, "mbps": got, "plan_mbps": plan, "ratio": ratio},
        )
    ]


def _metric(
    kind: str, label: str, unit: str, value: float | None, warn: float, crit: float
) -> Result:
    if value is None:
        return None
    severity = worst(value, warn, crit)
    if severity is None:
        return []
    limit = crit if severity == "critical" else warn
    return [
        Condition(
            kind,
            severity,
            f"{label} {value:g} {unit} (limit {limit:g} {unit})",
            evidence={"value": value, "limit": limit},
        )
    ]


def high_latency(report: Report, ctx: HomeContext, s: HealthSettings) -> Result:
    """Idle latency above 120 ms [T13] (critical above 450 ms [T14])."""
    if report.wan.status != "up":
        return None
    return _metric(
        "high_latency", "Latency", "ms", report.wan.latency_ms, s.latency_warn_ms, s.latency_crit_ms
    )


def high_jitter(report: Report, ctx: HomeContext, s: HealthSettings) -> Result:
    """Jitter above 20 ms [T13] (critical above 100 ms [T14])."""
    if report.wan.status != "up":
        return None
    return _metric(
        "high_jitter", "Jitter", "ms", report.wan.jitter_ms, s.jitter_warn_ms, s.jitter_crit_ms
    )


def packet_loss(report: Report, ctx: HomeContext, s: HealthSettings) -> Result:
    """Packet loss above 1 % [T14][T17] (critical above 5 % [T14])."""
    if report.wan.status != "up":
        return None
    return _metric(
        "packet_loss", "Packet loss", "%", report.wan.loss_pct, s.loss_warn_pct, s.loss_crit_pct
    )


def bufferbloat(report: Report, ctx: HomeContext, s: HealthSettings) -> Result:
    """Latency rise under load of 60 ms or more (grade C or worse; F from 400 ms) [T12]."""
    wan = report.wan
    if wan.status != "up" or wan.loaded_latency_ms is None or wan.latency_ms is None:
        return None
    rise = max(0.0, wan.loaded_latency_ms - wan.latency_ms)
    if rise >= s.bufferbloat_crit_ms:
        severity = "critical"
    elif rise >= s.bufferbloat_warn_ms:
        severity = "warning"
    else:
        return []
    return [
        Condition(
            "bufferbloat",
            severity,
            f"Latency rises by {rise:.0f} ms under load",
            evidence={
                "idle_ms": wan.latency_ms,
                "loaded_ms": wan.loaded_latency_ms,
                "rise_ms": rise,
            },
        )
    ]


def optical_out_of_range(report: Report, ctx: HomeContext, s: HealthSettings) -> Result:
    """ONT receive power outside the class B+ window −27…−8 dBm [T9]."""
    rx = report.wan.optical_rx_dbm
    if rx is None:
        return None
    if s.optical_min_dbm <= rx <= s.optical_max_dbm:
        return []
    side = "below the receiver sensitivity" if rx < s.optical_min_dbm else "overloading"
    return [
        Condition(
            "optical_out_of_range",
            "critical",
            f"Optical receive power {rx:g} dBm is {side}",
            evidence={"rx_dbm": rx, "min_dbm": s.optical_min_dbm, "max_dbm": s.optical_max_dbm},
        )
    ]


def optical_degrading(report: Report, ctx: HomeContext, s: HealthSettings) -> Result:
    """Receive power still in range but within ``optical_margin_db`` of the sensitivity limit,
    or ``optical_drop_db`` below the home's own recent best (Homeport defaults on [T9])."""
    rx = report.wan.optical_rx_dbm
    if rx is None:
        return None
    if not s.optical_min_dbm <= rx <= s.optical_max_dbm:
        return []  # out of range is the other detector's (critical) finding
    reasons: list[str] = []
    evidence: dict[str, float] = {"rx_dbm": rx}
    if rx < s.optical_min_dbm + s.optical_margin_db:
        reasons.append(f"within {rx - s.optical_min_dbm:.1f} dB of the sensitivity limit")
    base = ctx.optical_baseline_dbm
    if base is not None and base - rx >= s.optical_drop_db:
        reasons.append(f"{base - rx:.1f} dB below its recent best of {base:g} dBm")
        evidence["baseline_dbm"] = base
    if not reasons:
        return []
    return [
        Condition(
            "optical_degrading",
            "warning",
            f"Optical receive power {rx:g} dBm is " + " and ".join(reasons),
            evidence=evidence,
        )
    ]
