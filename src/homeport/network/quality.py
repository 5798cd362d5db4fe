"""Plain-words quality labels for radio signal levels.

Client RSSI bands follow ``REFERENCE.md`` section 4a, source [T1] (Access Agility, "WiFi
signal strength explained", https://www.accessagility.com/blog/wifi-signal-strength-explained):
-30 to -50 dBm excellent, -50 to -67 good, -67 to -75 fair, -75 to -85 weak, below -85
unusable; -67 dBm is the usual enterprise minimum. A value on a boundary belongs to the better
band (-50 is excellent, -67 is good: -67 is the minimum that still counts as good), and a value
above -30 dBm (a device next to the access point) is excellent too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignalQuality:
    """How a signal level reads to a person: a label, a tone for styling and 0 to 4 bars."""

    key: str  # excellent | good | fair | weak | unusable | unknown
    label: str
    tone: str  # ok | warn | bad | none  (matches the CSS badge classes)
    bars: int  # 0..4

    @property
    def is_problem(self) -> bool:
        return self.key in ("weak", "unusable")


#: (lowest dBm of the band, quality), best band first. Thresholds: REFERENCE.md 4a [T1].
RSSI_BANDS: tuple[tuple[int, SignalQuality], ...] = (
    (-50, SignalQuality("excellent", "Excellent", "ok", 4)),
    (-67, SignalQuality("good", "Good", "ok", 3)),
    (-75, SignalQuality("fair", "Fair", "warn", 2)),
    (-85, SignalQuality("weak", "Weak", "bad", 1)),
)
UNUSABLE = SignalQuality("unusable", "Unusable", "bad", 0)
UNKNOWN = SignalQuality("unknown", "No reading", "none", 0)


def classify_rssi(dbm: float | None) -> SignalQuality:
    """The quality band of a Wi-Fi received signal strength in dBm (``None``: no reading).

    Bands from ``REFERENCE.md`` section 4a [T1]: at least -50 excellent, -67 good, -75 fair,
    -85 weak; below -85 unusable.
    """
    if dbm is None:
        return UNKNOWN
    for lowest, quality in RSSI_BANDS:
        if dbm >= lowest:
            return quality
    return UNUSABLE
