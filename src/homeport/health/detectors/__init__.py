"""Detectors: one small named unit per problem (``docs/detectors.md`` lists them with their
thresholds and sources). :func:`run` applies every per-report detector to one report."""

from __future__ import annotations

from homeport.core.health_settings import HealthSettings
from homeport.health.detectors import device, wan, wifi
from homeport.health.detectors.base import Condition, Detector, HomeContext, Result
from homeport.telemetry.schemas import Report

DETECTORS: tuple[Detector, ...] = (
    Detector("wan_down", wan.wan_down, "WAN down"),
    Detector("speed_below_plan", wan.speed_below_plan, "Speed persistently below plan"),
    Detector("high_latency", wan.high_latency, "High latency"),
    Detector("high_jitter", wan.high_jitter, "High jitter"),
    Detector("packet_loss", wan.packet_loss, "Packet loss"),
    Detector("bufferbloat", wan.bufferbloat, "Bufferbloat under load"),
    Detector("optical_out_of_range", wan.optical_out_of_range, "ONT optical power out of range"),
    Detector("optical_degrading", wan.optical_degrading, "ONT optical power degrading"),
    Detector("reboot_loop", device.reboot_loop, "Reboot loop"),
    Detector("weak_client_signal", wifi.weak_client_signal, "Weak client signal"),
    Detector("coverage_gap", wifi.coverage_gap, "Wi-Fi coverage gap"),
    Detector("congested_channel", wifi.congested_channel, "Crowded or interfered channel"),
    Detector("high_retransmissions", wifi.high_retransmissions, "High retransmissions"),
    Detector("poor_mesh_backhaul", wifi.poor_mesh_backhaul, "Poor mesh backhaul"),
    Detector("legacy_client", wifi.legacy_client, "Legacy 2.4 GHz-only client"),
)
#: Every finding kind, including the periodic ``device_offline`` check.
KINDS: tuple[str, ...] = (*(d.kind for d in DETECTORS), "device_offline")
TITLES: dict[str, str] = {
    **{d.kind: d.title for d in DETECTORS},
    "device_offline": "Device offline",
}


def run(report: Report, ctx: HomeContext, settings: HealthSettings) -> dict[str, Result]:
    """Each detector's result for this report, by kind (``None``: not measured)."""
    return {d.kind: d.fn(report, ctx, settings) for d in DETECTORS}


__all__ = ["DETECTORS", "KINDS", "TITLES", "Condition", "Detector", "HomeContext", "run"]
