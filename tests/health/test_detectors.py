"""Every detector on crafted reports: healthy, borderline (at the threshold, still healthy),
faulty, and not measured. Recovery through the finding lifecycle is in test_findings.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from homeport.core.health_settings import HealthSettings
from homeport.health import detectors
from homeport.health.detectors.base import HomeContext
from homeport.health.detectors.device import device_offline
from tests.conftest import START
from tests.health.reports import LAPTOP, PHONE, PLUG, report

CTX = HomeContext(home_id=1, technology="fttp", plan_down_mbps=100, plan_up_mbps=20)
S = HealthSettings()

#: kind → (borderline changes, faulty changes, severity, subject)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], str, str]] = {
    "wan_down": (
        {"wan": {"status": "up", "down_mbps": 0.5}},
        {"wan": {"status": "down"}},
        "critical",
        "",
    ),
    "speed_below_plan": (
        {"wan": {"down_mbps": 80.0, "up_mbps": 16.0}},
        {"wan": {"down_mbps": 60.0}},
        "warning",
        "",
    ),
    "high_latency": ({"wan": {"latency_ms": 120.0}}, {"wan": {"latency_ms": 200.0}}, "warning", ""),
    "high_jitter": ({"wan": {"jitter_ms": 20.0}}, {"wan": {"jitter_ms": 30.0}}, "warning", ""),
    "packet_loss": ({"wan": {"loss_pct": 1.0}}, {"wan": {"loss_pct": 2.5}}, "warning", ""),
    "bufferbloat": (
        {"wan": {"latency_ms": 9.0, "loaded_latency_ms": 68.0}},
        {"wan": {"loaded_latency_ms": 150.0}},
        "warning",
        "",
    ),
    "optical_out_of_range": (
        {"wan": {"optical_rx_dbm": -27.0}},
        {"wan": {"optical_rx_dbm": -28.5}},
        "critical",
        "",
    ),
    "optical_degrading": (
        {"wan": {"optical_rx_dbm": -24.9}},
        {"wan": {"optical_rx_dbm": -25.5}},
        "warning",
        "",
    ),
    "reboot_loop": ({"uptime_s": 300}, {"uptime_s": 120}, "critical", ""),
    "weak_client_signal": (
        {"client": {PHONE: {"rssi_dbm": -75}}},
        {"client": {PHONE: {"rssi_dbm": -80}}},
        "warning",
        PHONE,
    ),
    "coverage_gap": (
        {"client": {PHONE: {"rssi_dbm": -70}}},
        {"client": {PHONE: {"rssi_dbm": -70}, LAPTOP: {"rssi_dbm": -72}}},
        "warning",
        "",
    ),
    "congested_channel": (
        {"radio": {"5GHz": {"utilization_pct": 75}}},
        {"radio": {"5GHz": {"utilization_pct": 85}}},
        "warning",
        "5GHz",
    ),
    "high_retransmissions": (
        {"client": {LAPTOP: {"retrans_pct": 12.0}}},
        {"client": {LAPTOP: {"retrans_pct": 20.0}}},
        "warning",
        LAPTOP,
    ),
    "poor_mesh_backhaul": (
        {"node": {"backhaul_rssi_dbm": -75, "backhaul_mbps": 100}},
        {"node": {"backhaul_rssi_dbm": -80}},
        "warning",
        "SAT-F1",
    ),
    "legacy_client": (
        {"client": {PLUG: {"phy_rate_mbps": 54}}, "radio": {"2.4GHz": {"utilization_pct": 49}}},
        {"client": {PLUG: {"phy_rate_mbps": 24}}, "radio": {"2.4GHz": {"utilization_pct": 60}}},
        "info",
        PLUG,
    ),
}


def test_every_detector_has_a_case() -> None:
    assert set(CASES) == {d.kind for d in detectors.DETECTORS}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_healthy_report_is_clear(kind: str) -> None:
    assert detectors.run(report(), CTX, S)[kind] == []


@pytest.mark.parametrize("kind", sorted(CASES))
def test_borderline_report_is_clear(kind: str) -> None:
    borderline, _, _, _ = CASES[kind]
    assert detectors.run(report(**borderline), CTX, S)[kind] == []


@pytest.mark.parametrize("kind", sorted(CASES))
def test_faulty_report_raises_one_condition(kind: str) -> None:
    _, faulty, severity, subject = CASES[kind]
    results = detectors.run(report(**faulty), CTX, S)
    found = results[kind]
    assert found is not None and len(found) == 1
    cond = found[0]
    assert (cond.kind, cond.severity, cond.subject) == (kind, severity, subject)
    assert cond.summary and cond.evidence
    # A fault of one kind does not show up as an unrelated finding.
    assert results["wan_down"] == ([] if kind != "wan_down" else found)


@pytest.mark.parametrize(
    ("kind", "changes", "severity"),
    [
        ("high_latency", {"wan": {"latency_ms": 451.0}}, "critical"),
        ("high_jitter", {"wan": {"jitter_ms": 101.0}}, "critical"),
        ("packet_loss", {"wan": {"loss_pct": 5.5}}, "critical"),
        ("bufferbloat", {"wan": {"loaded_latency_ms": 409.0}}, "critical"),
        ("optical_out_of_range", {"wan": {"optical_rx_dbm": -7.5}}, "critical"),
        ("congested_channel", {"radio": {"2.4GHz": {"interference_pct": 60}}}, "warning"),
        ("speed_below_plan", {"wan": {"up_mbps": 10.0}}, "warning"),
        ("poor_mesh_backhaul", {"node": {"backhaul_mbps": 40}}, "warning"),
    ],
)
def test_other_faults(kind: str, changes: dict[str, Any], severity: str) -> None:
    found = detectors.run(report(**changes), CTX, S)[kind]
    assert found is not None and [c.severity for c in found] == [severity]


@pytest.mark.parametrize(
    ("kind", "changes"),
    [
        ("wan_down", {"wan": {"status": "unknown"}}),
        ("speed_below_plan", {"wan": {"down_mbps": None, "up_mbps": None}}),
        ("speed_below_plan", {"wan": {"status": "down"}}),
        ("high_latency", {"wan": {"latency_ms": None}}),
        ("high_jitter", {"wan": {"status": "down", "jitter_ms": 500.0}}),
        ("packet_loss", {"wan": {"loss_pct": None}}),
        ("bufferbloat", {"wan": {"loaded_latency_ms": None}}),
        ("optical_out_of_range", {"wan": {"optical_rx_dbm": None}}),
        ("optical_degrading", {"wan": {"optical_rx_dbm": None}}),
        ("reboot_loop", {"uptime_s": None}),
        ("coverage_gap", {"clients": []}),
        ("congested_channel", {"radios": []}),
        ("poor_mesh_backhaul", {"mesh": []}),
        ("legacy_client", {"radios": []}),
    ],
)
def test_not_measured_is_none_not_clear(kind: str, changes: dict[str, Any]) -> None:
    """Missing data must not count as a clear report, or findings would resolve on gaps."""
    assert detectors.run(report(**changes), CTX, S)[kind] is None


def test_speed_uses_the_plan() -> None:
    gigabit = HomeContext(home_id=1, plan_down_mbps=1000, plan_up_mbps=115)
    assert detectors.run(report(), gigabit, S)["speed_below_plan"] != []
    no_plan = HomeContext(home_id=1)
    assert detectors.run(report(wan={"down_mbps": 1.0}), no_plan, S)["speed_below_plan"] is None


def test_optical_drop_against_the_homes_own_baseline() -> None:
    ctx = HomeContext(home_id=1, optical_baseline_dbm=-18.0)
    assert detectors.run(report(wan={"optical_rx_dbm": -20.9}), ctx, S)["optical_degrading"] == []
    found = detectors.run(report(wan={"optical_rx_dbm": -21.2}), ctx, S)["optical_degrading"]
    assert found is not None and found[0].evidence["baseline_dbm"] == -18.0
    # Out of range is the other (critical) detector's finding, not also a degradation.
    gone = detectors.run(report(wan={"optical_rx_dbm": -30.0}), ctx, S)
    assert gone["optical_degrading"] == [] and gone["optical_out_of_range"]


def test_several_subjects_at_once() -> None:
    r = report(client={PHONE: {"rssi_dbm": -82}, LAPTOP: {"rssi_dbm": -79}})
    found = detectors.run(r, CTX, S)["weak_client_signal"]
    assert found is not None and sorted(c.subject for c in found) == [PHONE, LAPTOP]


def test_thresholds_are_configuration() -> None:
    strict = HealthSettings(latency_warn_ms=5, latency_crit_ms=50)
    assert detectors.run(report(), CTX, strict)["high_latency"] != []
    with pytest.raises(ValueError, match="latency"):
        HealthSettings(latency_warn_ms=500, latency_crit_ms=50)


def test_device_offline() -> None:
    last = START
    assert device_offline(last, START + timedelta(seconds=899), CTX, S) is None
    cond = device_offline(last, START + timedelta(seconds=900), CTX, S)
    assert cond is not None and cond.kind == "device_offline" and cond.severity == "critical"
