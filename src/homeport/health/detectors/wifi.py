"""Home Wi-Fi detectors (thresholds: REFERENCE.md 4a)."""

from __future__ import annotations

from homeport.core.health_settings import HealthSettings
from homeport.health.detectors.base import Condition, HomeContext, Result
from homeport.telemetry.schemas import Report


def weak_client_signal(report: Report, ctx: HomeContext, s: HealthSettings) -> Result:
    """One finding per client below −75 dBm [T1] (subject: the client's MAC)."""
    return [
        Condition(
            "weak_client_signal",
            "warning",
            f"{c.kind or 'Client'} {c.mac} has a weak signal ({c.rssi_dbm:g} dBm)",
            subject=c.mac,
            evidence={"rssi_dbm": c.rssi_dbm, "band": c.band},
        )
        for c in report.clients
        if c.rssi_dbm < s.weak_rssi_dbm
    ]


def coverage_gap(report: Report, ctx: HomeContext, s: HealthSettings) -> Result:
    """At least half of the home's clients (two or more) below −67 dBm [T1]: the home needs
    better coverage (a mesh node, a better placed gateway), not a fix for one device."""
    if len(report.clients) < s.coverage_min_clients:
        return None
    poor = [c for c in report.clients if c.rssi_dbm < s.good_rssi_dbm]
    share = len(poor) / len(report.clients)
    if len(poor) < s.coverage_min_clients or share < s.coverage_gap_share:
        return []
    return [
        Condition(
            "coverage_gap",
            "warning",
            f"{len(poor)} of {len(report.clients)} devices are below {s.good_rssi_dbm:g} dBm",
            evidence={"poor": len(poor), "clients": len(report.clients), "share": share},
        )
    ]


def congested_channel(report: Report, ctx: HomeContext, s: HealthSettings) -> Result:
    """A radio whose channel is busier than 75 % [T5] or with more than 50 % of its airtime
    taken by other networks [T6] (subject: the band)."""
    if not report.radios:
        return None
    found: list[Condition] = []
    for r in report.radios:
        reasons = []
        if r.utilization_pct is not None and r.utilization_pct > s.utilization_warn_pct:
            reasons.append(f"{r.utilization_pct:g} % busy")
        if r.interference_pct is not None and r.interference_pct > s.interference_warn_pct:
            reasons.append(f"{r.interference_pct:g} % interference")
        if reasons:
            found.append(
                Condition(
                    "congested_channel",
                    "warning",
                    f"{r.band} channel {r.channel} is " + " and ".join(reasons),
                    subject=r.band,
                    evidence={
                        "band": r.band,
                        "channel": r.channel,
                        "utilization_pct": r.utilization_pct,
                        "interference_pct": r.interference_pct,
                    },
                )
            )
    return found


def high_retransmissions(report: Report, ctx: HomeContext, s: HealthSettings) -> Result:
    """A client retransmitting more than 12 % of its packets (grade F) [T12]."""
    return [
        Condition(
            "high_retransmissions",
            "warning",
            f"{c.kind or 'Client'} {c.mac} retransmits {c.retrans_pct:g} % of packets",
            subject=c.mac,
            evidence={"retrans_pct": c.retrans_pct, "band": c.band, "rssi_dbm": c.rssi_dbm},
        )
        for c in report.clients
        if c.retrans_pct is not None and c.retrans_pct > s.retrans_warn_pct
    ]


def poor_mesh_backhaul(report: Report, ctx: HomeContext, s: HealthSettings) -> Result:
    """A wireless mesh node whose backhaul is below −75 dBm [T1] or 100 Mbps [P6]."""
    if not report.mesh:
        return None
    found: list[Condition] = []
    for m in report.mesh:
        if m.backhaul != "wireless":
            continue
        reasons = []
        if m.backhaul_rssi_dbm is not None and m.backhaul_rssi_dbm < s.backhaul_weak_rssi_dbm:
            reasons.append(f"signal {m.backhaul_rssi_dbm:g} dBm")
        if m.backhaul_mbps is not None and m.backhaul_mbps < s.backhaul_min_mbps:
            reasons.append(f"{m.backhaul_mbps:g} Mbps")
        if reasons:
            found.append(
                Condition(
                    "poor_mesh_backhaul",
                    "warning",
                    f"Mesh node {m.node_id} has a poor backhaul (" + ", ".join(reasons) + ")",
                    subject=m.node_id,
                    evidence={"rssi_dbm": m.backhaul_rssi_dbm, "mbps": m.backhaul_mbps},
                )
            )
    return found


def legacy_client(report: Report, ctx: HomeContext, s: HealthSettings) -> Result:
    """A 2.4 GHz-only client at 802.11b/g rates (≤ 54 Mbps) on a 2.4 GHz radio that is at
    least 50 % busy [T6]: its slow frames take airtime from every other device on the radio."""
    radio = next((r for r in report.radios if r.band == "2.4GHz"), None)
    if radio is None or radio.utilization_pct is None:
        return None
    if radio.utilization_pct < s.legacy_radio_busy_pct:
        return []
    return [
        Condition(
            "legacy_client",
            "info",
            f"2.4 GHz-only {c.kind or 'device'} {c.mac} at {c.phy_rate_mbps:g} Mbps slows a "
            f"{radio.utilization_pct:g} % busy radio",
            subject=c.mac,
            evidence={"phy_rate_mbps": c.phy_rate_mbps, "utilization_pct": radio.utilization_pct},
        )
        for c in report.clients
        if c.legacy_2g_only
        and c.band == "2.4GHz"
        and c.phy_rate_mbps is not None
        and c.phy_rate_mbps <= s.legacy_max_phy_mbps
    ]
