"""RSSI labels follow REFERENCE.md section 4a [T1], boundaries included."""

from __future__ import annotations

import pytest

from homeport.network.quality import classify_rssi


@pytest.mark.parametrize(
    ("dbm", "key", "bars"),
    [
        (-20, "excellent", 4),  # closer than the table's -30: still excellent
        (-30, "excellent", 4),
        (-50, "excellent", 4),  # boundary belongs to the better band
        (-51, "good", 3),
        (-67, "good", 3),  # the usual enterprise minimum still counts as good
        (-68, "fair", 2),
        (-75, "fair", 2),
        (-76, "weak", 1),
        (-85, "weak", 1),
        (-86, "unusable", 0),
        (-120, "unusable", 0),
        (-67.5, "fair", 2),  # averaged readings may be fractional
    ],
)
def test_rssi_bands(dbm: float, key: str, bars: int) -> None:
    quality = classify_rssi(dbm)
    assert (quality.key, quality.bars) == (key, bars)
    assert quality.is_problem == (key in ("weak", "unusable"))


def test_no_reading_is_unknown_not_a_problem() -> None:
    quality = classify_rssi(None)
    assert quality.key == "unknown"
    assert quality.label == "No reading"
    assert not quality.is_problem
