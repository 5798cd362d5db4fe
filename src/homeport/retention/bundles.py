"""Which value-based bundle fits a home, and why: the rules, in words an agent can read out.

Each rule looks at one home's facts (:class:`HomeFacts`: its segments, client devices and their
signal, its findings and outages, its plan and usage) and proposes a :class:`Candidate` with the
reason ("3 devices below −75 dBm: Whole Home Wi-Fi would fix coverage"). Thresholds and their
sources (``REFERENCE.md`` section 4):

- **Mesh Wi-Fi** — at least :data:`MESH_MIN_WEAK` devices below the weak-signal threshold
  (−75 dBm: "weak" from −75 to −85 [T1]; ``health.weak_rssi_dbm``), or an open
  ``coverage_gap`` finding (half of the clients below −67 dBm [T1]). Not for a home that
  already has mesh satellites.
- **Gaming priority** — a gamer home with a latency finding (``bufferbloat``: grade C or worse,
  60 ms or more under load [T12]; ``high_latency`` above 120 ms [T13]; ``high_jitter``;
  ``packet_loss`` above 1 % [T14]) open or opened in the last :data:`LATENCY_DAYS` days.
- **Security** — a smart home: six or more IoT devices, cameras and speakers (the segment rule,
  ``segments.SMART_MIN``; Homeport default).
- **Parental controls** — a family home (segment rule, Homeport default).
- **Backup connection** — a work-from-home home that lost its line in the last
  :data:`BACKUP_DAYS` days (a ``wan_down`` finding or an area outage); Homeport default.
- **Speed upgrade** — the estimated evening demand (devices online in the evening times a
  nominal demand per device group, :data:`DEMAND_MBPS`, Homeport defaults) reaches
  :data:`UPGRADE_DEMAND_SHARE` of the plan, while the line delivers at least
  :data:`UPGRADE_LINE_SHARE` of the plan (FCC MBA's 80 % band [T16]: the plan, not the line,
  is the limit); subscribers who max out their plan are upsell targets [R7]. The upgrade is the
  next faster active plan of the same family (plan code before the first ``-``).

A rule whose bundle the BSP does not sell (no such code in ``bundles``) proposes nothing; a
bundle the subscriber already has is never proposed. Bundle codes per rule are
:data:`BUNDLE_CODES` (the demo's catalogue), which callers may replace.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Rule → bundle code in the catalogue.
BUNDLE_CODES: dict[str, str] = {
    "mesh_wifi": "MESH-WIFI",
    "gaming_priority": "GAMING-PRIORITY",
    "security": "SMART-SECURE",
    "parental_controls": "FAMILY-CONTROLS",
    "backup": "BACKUP-4G",
}
#: The pseudo bundle code of a speed upgrade (the plan is in the evidence).
UPGRADE = "UPGRADE"
MESH_MIN_WEAK = 2
LATENCY_KINDS = ("bufferbloat", "high_latency", "high_jitter", "packet_loss")
LATENCY_DAYS = 30
BACKUP_DAYS = 90
#: Nominal downstream demand per device online (Mbps), by device group: a 4K stream on a TV or
#: stick, a console game or download, a video call on a computer, video on a phone or tablet.
DEMAND_MBPS: dict[str, float] = {"screen": 25.0, "console": 15.0, "computer": 5.0, "personal": 3.0}
UPGRADE_DEMAND_SHARE = 0.8
UPGRADE_LINE_SHARE = 0.8
#: Words for a few numbers, for reasons read aloud.
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


def number(n: int) -> str:
    return NUMBER_WORDS.get(n, str(n))


@dataclass(frozen=True)
class WeakDevice:
    name: str
    kind: str
    rssi_dbm: int


@dataclass(frozen=True)
class Event:
    """A finding or an outage that a rule cites."""

    kind: str
    at: datetime
    summary: str


@dataclass(frozen=True)
class PlanInfo:
    code: str
    name: str
    down_mbps: int


@dataclass
class HomeFacts:
    """Everything the rules read about one subscriber's home."""

    subscriber_id: int
    owned: set[str] = field(default_factory=set)
    catalogue: dict[str, str] = field(default_factory=dict)  # code -> name
    #: segment -> (confidence, facts)
    segments: dict[str, tuple[float, list[str]]] = field(default_factory=dict)
    weak: list[WeakDevice] = field(default_factory=list)
    mesh_nodes: int = 0
    coverage_gap: Event | None = None
    latency: list[Event] = field(default_factory=list)
    wan_losses: list[Event] = field(default_factory=list)
    plan: PlanInfo | None = None
    upgrade_to: PlanInfo | None = None
    #: Estimated evening demand (Mbps) and how it was estimated.
    demand_mbps: float | None = None
    demand_basis: str = ""
    #: Median measured downstream speed over the last days (Mbps).
    measured_down_mbps: float | None = None


@dataclass(frozen=True)
class Candidate:
    bundle_code: str
    rule: str
    reason: str
    score: float
    evidence: dict[str, Any]


def _segment(f: HomeFacts, name: str) -> tuple[float, list[str]] | None:
    return f.segments.get(name)


def _facts(seg: tuple[float, list[str]]) -> str:
    return ", ".join(seg[1])


def mesh_wifi(f: HomeFacts, code: str, weak_dbm: float) -> Candidate | None:
    if f.mesh_nodes:
        return None
    name = f.catalogue[code]
    if len(f.weak) >= MESH_MIN_WEAK:
        n = len(f.weak)
        worst = sorted(f.weak, key=lambda d: d.rssi_dbm)[:3]
        which = ", ".join(f"{d.name} {d.rssi_dbm} dBm" for d in worst)
        reason = (
            f"{number(n).capitalize()} devices below {weak_dbm:g} dBm ({which}): "
            f"{name} would fix coverage."
        )
        score = min(1.0, 0.5 + 0.1 * n + (0.1 if f.coverage_gap else 0))
        return Candidate(
            code,
            "mesh_wifi",
            reason,
            round(score, 2),
            {
                "weak_devices": [
                    {"name": d.name, "kind": d.kind, "rssi_dbm": d.rssi_dbm} for d in f.weak
                ],
                "threshold_dbm": weak_dbm,
                "source": "REFERENCE.md 4a [T1]",
                "coverage_gap": f.coverage_gap.summary if f.coverage_gap else None,
            },
        )
    if f.coverage_gap is not None:
        reason = f"Wi-Fi coverage gap: {f.coverage_gap.summary}. {name} would fix coverage."
        return Candidate(
            code,
            "mesh_wifi",
            reason,
            0.6,
            {"coverage_gap": f.coverage_gap.summary, "source": "REFERENCE.md 4a [T1]"},
        )
    return None


def gaming_priority(f: HomeFacts, code: str) -> Candidate | None:
    seg = _segment(f, "gamer")
    if seg is None or not f.latency:
        return None
    latest = max(f.latency, key=lambda e: e.at)
    reason = (
        f"Gamer home ({_facts(seg)}) with {latest.summary[:1].lower() + latest.summary[1:]}: "
        f"{f.catalogue[code]} keeps game traffic ahead of downloads."
    )
    return Candidate(
        code,
        "gaming_priority",
        reason,
        round(min(1.0, 0.4 + 0.5 * seg[0] + 0.05 * len(f.latency)), 2),
        {
            "segment": seg[1],
            "findings": [e.summary for e in f.latency],
            "source": "REFERENCE.md 4b [T12] [T13] [T14]",
        },
    )


def security(f: HomeFacts, code: str) -> Candidate | None:
    seg = _segment(f, "smart_home")
    if seg is None:
        return None
    reason = (
        f"Smart home ({_facts(seg)}): {f.catalogue[code]} puts them on a network of their "
        "own and blocks threats."
    )
    return Candidate(code, "security", reason, round(0.3 + 0.6 * seg[0], 2), {"segment": seg[1]})


def parental_controls(f: HomeFacts, code: str) -> Candidate | None:
    seg = _segment(f, "family")
    if seg is None:
        return None
    reason = (
        f"Family home ({_facts(seg)}): {f.catalogue[code]} gives filters and bedtimes per "
        "child's device."
    )
    return Candidate(
        code, "parental_controls", reason, round(0.25 + 0.6 * seg[0], 2), {"segment": seg[1]}
    )


def backup(f: HomeFacts, code: str) -> Candidate | None:
    seg = _segment(f, "work_from_home")
    if seg is None or not f.wan_losses:
        return None
    n = len(f.wan_losses)
    last = max(e.at for e in f.wan_losses)
    times = "once" if n == 1 else ("twice" if n == 2 else f"{n} times")
    reason = (
        f"Works from home ({_facts(seg)}) and lost the line {times} in {BACKUP_DAYS} days "
        f"(last {last:%d %b}): {f.catalogue[code]} takes over when the line is down."
    )
    return Candidate(
        code,
        "backup",
        reason,
        round(min(1.0, 0.4 + 0.4 * seg[0] + 0.1 * n), 2),
        {"segment": seg[1], "losses": [e.summary for e in f.wan_losses], "days": BACKUP_DAYS},
    )


def upgrade(f: HomeFacts) -> Candidate | None:
    if f.plan is None or f.upgrade_to is None or f.demand_mbps is None:
        return None
    plan = f.plan
    if f.demand_mbps < UPGRADE_DEMAND_SHARE * plan.down_mbps:
        return None
    if f.measured_down_mbps is None or f.measured_down_mbps < UPGRADE_LINE_SHARE * plan.down_mbps:
        return None
    reason = (
        f"Evening use of about {f.demand_mbps:.0f} Mbps ({f.demand_basis}) is "
        f"{f.demand_mbps / plan.down_mbps:.0%} of {plan.name} ({plan.down_mbps} Mbps), and the "
        f"line delivers {f.measured_down_mbps:.0f} Mbps: {f.upgrade_to.name} "
        f"({f.upgrade_to.down_mbps} Mbps) gives room to spare."
    )
    return Candidate(
        UPGRADE,
        "upgrade",
        reason,
        round(min(1.0, 0.3 + 0.4 * f.demand_mbps / plan.down_mbps), 2),
        {
            "plan_code": plan.code,
            "upgrade_code": f.upgrade_to.code,
            "upgrade_name": f.upgrade_to.name,
            "upgrade_down_mbps": f.upgrade_to.down_mbps,
            "demand_mbps": round(f.demand_mbps, 1),
            "measured_down_mbps": round(f.measured_down_mbps, 1),
            "source": "REFERENCE.md 4b [T16] [R7]",
        },
    )


def candidates(
    f: HomeFacts,
    *,
    weak_dbm: float = -75.0,
    codes: Mapping[str, str] | None = None,
) -> list[Candidate]:
    """Every bundle the rules propose for this home, best first; never one it already has and
    never one the catalogue does not sell."""
    codes = BUNDLE_CODES if codes is None else codes
    out: list[Candidate] = []

    rules: list[tuple[str, Callable[[str], Candidate | None]]] = [
        ("mesh_wifi", lambda code: mesh_wifi(f, code, weak_dbm)),
        ("gaming_priority", lambda code: gaming_priority(f, code)),
        ("security", lambda code: security(f, code)),
        ("parental_controls", lambda code: parental_controls(f, code)),
        ("backup", lambda code: backup(f, code)),
    ]
    for rule, fn in rules:
        code = codes.get(rule)
        if code and code in f.catalogue and code not in f.owned:
            found = fn(code)
            if found is not None:
                out.append(found)
    if (up := upgrade(f)) is not None:
        out.append(up)
    return sorted(out, key=lambda c: (-c.score, c.bundle_code))
