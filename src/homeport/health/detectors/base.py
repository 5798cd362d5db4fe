"""What a detector is: a pure function over one report and the home's context.

A detector returns the conditions it found (possibly none: the home is healthy on that
dimension) or ``None`` when the report does not carry the data it needs (no speed test in this
report, no optical reading on a DSL line): "not measured" must never count as "clear", or a
finding would resolve just because a metric went missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from homeport.core.health_settings import HealthSettings
from homeport.telemetry.schemas import Report


@dataclass(frozen=True)
class HomeContext:
    """What a detector may know about the home besides the report."""

    home_id: int
    technology: str = "fttp"
    plan_down_mbps: float | None = None
    plan_up_mbps: float | None = None
    report_interval_s: int = 300
    #: The home's best recent optical receive power (for "degrading"), when known.
    optical_baseline_dbm: float | None = None


@dataclass(frozen=True)
class Condition:
    """One problem seen in one report: ``kind`` is the detector's name, ``subject`` the device
    within the home ('' for the home itself, a client MAC, a mesh node id, a radio band)."""

    kind: str
    severity: str
    summary: str
    subject: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


Result = list[Condition] | None
DetectorFn = Callable[[Report, HomeContext, HealthSettings], Result]


@dataclass(frozen=True)
class Detector:
    kind: str
    fn: DetectorFn
    #: One-line description (shown in docs and the UI).
    title: str


def worst(value: float, warn: float, crit: float) -> str | None:
    """'critical', 'warning' or None for a value where higher is worse."""
    if value > crit:
        return "critical"
    if value > warn:
        return "warning"
    return None
