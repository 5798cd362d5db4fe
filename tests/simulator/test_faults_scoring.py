"""Scoring findings and outages against ground truth, on hand-made cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from homeport.simulator.evaluation import Seen, Truth, score
from homeport.simulator.faults import EXPECTED, OUTAGE

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
GRACE = 600.0


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def truth(kind: str, home: int | None = None, port: int | None = None, subject: str = "") -> Truth:
    return Truth(kind, home, port, subject, at(0), at(120))


def finding(kind: str, home: int, minutes: float, subject: str = "") -> Seen:
    return Seen(kind, home, None, subject, at(minutes))


def outage(port: int, minutes: float) -> Seen:
    return Seen(OUTAGE, None, port, "", at(minutes))


def test_every_class_maps_to_a_kind() -> None:
    assert set(EXPECTED) == {
        "fibre_cut",
        "optical_degradation",
        "wifi_interference",
        "weak_coverage",
        "crowded_24ghz",
        "reboot_loop",
        "evening_congestion",
    }
    assert all(EXPECTED.values())


def test_perfect_detection() -> None:
    faults = [
        truth("reboot_loop", home=1),
        truth("reboot_loop", home=2),
        truth("weak_coverage", home=3, subject="aa:bb:cc:dd:ee:01"),
        truth("fibre_cut", port=9),
    ]
    seen = [
        finding("reboot_loop", 1, 5),
        finding("reboot_loop", 2, 10),
        finding("weak_client_signal", 3, 7, "aa:bb:cc:dd:ee:01"),
        outage(9, 4),
        finding("wan_down", 20, 3),  # a member of the outage: not a scored kind
    ]
    result = score(faults, seen, port_homes={9: [20, 21]}, grace_s=GRACE)
    reboot = result.classes["reboot_loop"]
    assert (reboot.units, reboot.detected, reboot.precision, reboot.recall) == (2, 2, 1.0, 1.0)
    assert reboot.median_delay_s == 450.0
    assert result.classes["weak_coverage"].median_delay_s == 420.0
    cut = result.classes["fibre_cut"]
    assert (cut.precision, cut.recall, cut.median_delay_s) == (1.0, 1.0, 240.0)
    assert result.outages_per_cut == [1]
    assert result.other_findings == {"wan_down": 1}
    assert result.classes["crowded_24ghz"].recall is None  # no such fault: nothing to score
    assert result.as_dict()["classes"]["reboot_loop"] == {
        "precision": 1.0,
        "recall": 1.0,
        "median_delay_s": 450.0,
        "faults": 2,
        "detected": 2,
        "true_positives": 2,
        "false_positives": 0,
    }


def test_misses_false_alarms_and_windows() -> None:
    faults = [
        truth("reboot_loop", home=1),
        truth("reboot_loop", home=2),
        truth("weak_coverage", home=3, subject="aa:bb:cc:dd:ee:01"),
    ]
    seen = [
        finding("reboot_loop", 1, 120 + 11),  # after the end plus the grace: too late
        finding("reboot_loop", 2, -5),  # before the fault started
        finding("reboot_loop", 7, 30),  # a home without the fault
        finding("weak_client_signal", 3, 10, "aa:bb:cc:dd:ee:02"),  # another client
        finding("optical_degrading", 3, 10),  # a kind of another class, no fault: its FP
    ]
    result = score(faults, seen, port_homes={}, grace_s=GRACE)
    reboot = result.classes["reboot_loop"]
    assert (reboot.detected, reboot.recall, reboot.true_positives, reboot.false_positives) == (
        0,
        0.0,
        0,
        3,
    )
    assert reboot.precision == 0.0 and reboot.median_delay_s is None
    weak = result.classes["weak_coverage"]
    assert (weak.recall, weak.precision) == (0.0, 0.0)
    optical = result.classes["optical_degradation"]
    assert (optical.units, optical.recall, optical.precision) == (0, None, 0.0)


def test_within_grace_after_the_end_counts() -> None:
    result = score(
        [truth("reboot_loop", home=1)],
        [finding("reboot_loop", 1, 129)],
        port_homes={},
        grace_s=GRACE,
    )
    assert result.classes["reboot_loop"].recall == 1.0


def test_a_shared_kind_is_not_a_false_positive_of_the_other_class() -> None:
    faults = [
        truth("crowded_24ghz", home=1, subject="2.4GHz"),
        truth("wifi_interference", home=2, subject="5GHz"),
    ]
    seen = [
        finding("congested_channel", 1, 5, "2.4GHz"),
        finding("congested_channel", 2, 5, "5GHz"),
        finding("congested_channel", 2, 5, "2.4GHz"),  # wrong band: matches nothing
    ]
    result = score(faults, seen, port_homes={}, grace_s=GRACE)
    crowded, interference = result.classes["crowded_24ghz"], result.classes["wifi_interference"]
    assert (crowded.true_positives, crowded.false_positives) == (1, 1)
    assert (interference.true_positives, interference.false_positives) == (1, 1)
    assert crowded.precision == interference.precision == 0.5
    assert crowded.recall == interference.recall == 1.0


def test_evening_congestion_is_scored_per_home_on_the_port() -> None:
    faults = [truth("evening_congestion", port=4)]
    seen = [
        finding("high_latency", 10, 5),
        finding("packet_loss", 10, 6),  # a second kind for the same home: still a hit
        finding("bufferbloat", 11, 15),
        finding("high_latency", 99, 5),  # a home on another port
    ]
    result = score(faults, seen, port_homes={4: [10, 11, 12]}, grace_s=GRACE)
    cong = result.classes["evening_congestion"]
    assert (cong.units, cong.detected) == (3, 2)
    assert cong.recall == pytest.approx(2 / 3)
    assert (cong.true_positives, cong.false_positives) == (3, 1)
    assert cong.median_delay_s == 600.0


def test_outages_per_fibre_cut() -> None:
    faults = [truth("fibre_cut", port=1), truth("fibre_cut", port=2), truth("fibre_cut", port=3)]
    seen = [outage(1, 5), outage(1, 30), outage(2, 10), outage(8, 10)]
    result = score(faults, seen, port_homes={}, grace_s=GRACE)
    cut = result.classes["fibre_cut"]
    assert result.outages_per_cut == [2, 1, 0]
    assert (cut.detected, cut.true_positives, cut.false_positives) == (2, 2, 2)
    assert cut.recall == pytest.approx(2 / 3)
    assert cut.precision == 0.5
