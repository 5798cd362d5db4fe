"""What a subscriber's home looks like right now, in words a non-technical person understands,
and which fix the subscriber may run themselves (the chatbot's diagnostics).

Reads only: the gateway's latest report, the home's open findings (health), the open area
outage the home is part of, and the subscriber's plan. A fix is a remote action of
:mod:`homeport.health.remote` with the parameters the auto-remediation policy would use
(:func:`homeport.health.remediation.action_params`), so the subscriber, the agent and the
policy all fix a crowded channel the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.core.health_settings import DEFAULT_REMEDIATION
from homeport.health import remediation
from homeport.health.models import Finding
from homeport.health.service import finding_title, open_findings
from homeport.network.models import Gateway, Home
from homeport.selfservice.service import explain_finding
from homeport.subscribers.models import Plan, Subscriber
from homeport.support import guided
from homeport.support.service import outage_for_subscriber
from homeport.telemetry.service import latest_report

#: A gateway silent for longer than this is "not in touch" (three missed 5-minute reports).
SILENT_AFTER = guided.DEFAULT_SILENT_AFTER

#: Finding kinds that matter for each technical intent, in the order the bot talks about them.
RELEVANT: dict[str, tuple[str, ...]] = {
    "no_connection": (
        "wan_down",
        "reboot_loop",
        "optical_out_of_range",
        "optical_degrading",
        "packet_loss",
    ),
    "slow_internet": (
        "speed_below_plan",
        "congested_channel",
        "high_retransmissions",
        "bufferbloat",
        "high_latency",
        "packet_loss",
        "high_jitter",
        "poor_mesh_backhaul",
        "weak_client_signal",
        "coverage_gap",
        "legacy_client",
    ),
    "wifi_coverage": (
        "coverage_gap",
        "weak_client_signal",
        "poor_mesh_backhaul",
        "congested_channel",
        "high_retransmissions",
    ),
    "device_cannot_connect": (
        "high_retransmissions",
        "weak_client_signal",
        "legacy_client",
        "congested_channel",
        "coverage_gap",
    ),
}

#: What the bot offers for a remote action, and what it says while the action runs.
OFFERS: dict[str, tuple[str, str]] = {
    "set_channel": (
        "I can move your Wi-Fi to a quieter channel now. Your devices will drop off Wi-Fi "
        "for a few seconds and reconnect on their own.",
        "I've asked your gateway to move your Wi-Fi to a quieter channel.",
    ),
    "band_steer": (
        "I can move that device to the faster 5 GHz Wi-Fi band now.",
        "I've asked your gateway to move that device to the 5 GHz band.",
    ),
    "reboot": (
        "I can restart your gateway now. Your internet will be off for about two minutes.",
        "I've asked your gateway to restart. It takes about two minutes.",
    ),
    "speed_test": (
        "I can run a speed test on your gateway now (it measures the line itself, not your Wi-Fi).",
        "I've started a speed test on your gateway.",
    ),
}


@dataclass(frozen=True)
class Fix:
    """A remote action the subscriber may agree to."""

    kind: str
    params: dict[str, Any]
    finding_id: int | None

    @property
    def offer(self) -> str:
        return OFFERS[self.kind][0]

    @property
    def started(self) -> str:
        return OFFERS[self.kind][1]


@dataclass(frozen=True)
class Problem:
    finding_id: int
    kind: str
    title: str
    severity: str
    subject: str
    plain: str
    fix: Fix | None


@dataclass(frozen=True)
class Diagnosis:
    subscriber_id: int
    at: datetime
    home_id: int | None
    device_id: str | None
    last_report_at: datetime | None
    wan_status: str | None
    down_mbps: float | None
    plan_down_mbps: int | None
    latency_ms: float | None
    problems: list[Problem] = field(default_factory=list)
    outage_id: int | None = None
    outage_eta: datetime | None = None

    @property
    def in_touch(self) -> bool:
        """The gateway reported within :data:`SILENT_AFTER`."""
        return self.last_report_at is not None and self.at - self.last_report_at <= SILENT_AFTER

    @property
    def online(self) -> bool:
        return self.in_touch and self.wan_status == "up"

    def for_intent(self, intent: str) -> list[Problem]:
        """The problems that matter for ``intent``, most relevant first."""
        kinds = RELEVANT.get(intent, ())
        ranked = [p for p in self.problems if p.kind in kinds]
        return sorted(ranked, key=lambda p: kinds.index(p.kind))

    def summary(self) -> dict[str, Any]:
        """What the bot saw, as JSON for the transcript and the agent's note."""
        return {
            "at": self.at.isoformat(),
            "device_id": self.device_id,
            "in_touch": self.in_touch,
            "last_report_at": self.last_report_at.isoformat() if self.last_report_at else None,
            "wan_status": self.wan_status,
            "down_mbps": self.down_mbps,
            "plan_down_mbps": self.plan_down_mbps,
            "latency_ms": self.latency_ms,
            "outage_id": self.outage_id,
            "outage_eta": self.outage_eta.isoformat() if self.outage_eta else None,
            "findings": [
                {"id": p.finding_id, "kind": p.kind, "severity": p.severity, "subject": p.subject}
                for p in self.problems
            ],
        }


def _plain(finding: Finding) -> str:
    """The finding in the portal's plain words (one wording for the portal and the bot)."""
    headline, why, _helps = explain_finding(
        finding.kind, finding.subject, finding.evidence or {}, {}
    )
    return f"{headline}. {why}"


#: Finding kinds with a remote fix the subscriber may run (the auto-remediation policy's).
FIXABLE_KINDS = frozenset(DEFAULT_REMEDIATION)


def _fix(finding: Finding) -> Fix | None:
    kind = DEFAULT_REMEDIATION.get(finding.kind)
    if kind is None:
        return None
    params = remediation.action_params(finding)
    if params is None:
        return None
    return Fix(kind, params, finding.id)


def diagnose(session: Session, subscriber_id: int, *, now: datetime) -> Diagnosis:
    """The subscriber's home right now. A subscriber without a home or gateway on record gets
    a diagnosis with no device (the bot then says it cannot see their equipment)."""
    row = session.execute(
        select(Home.id, Gateway.device_id, Plan.down_mbps)
        .select_from(Subscriber)
        .outerjoin(Home, Home.subscriber_id == Subscriber.id)
        .outerjoin(Gateway, Gateway.home_id == Home.id)
        .outerjoin(Plan, Plan.id == Subscriber.plan_id)
        .where(Subscriber.id == subscriber_id)
    ).first()
    home_id, device_id, plan_down = (row[0], row[1], row[2]) if row else (None, None, None)
    report = latest_report(session, device_id) if device_id else None
    problems: list[Problem] = []
    if home_id is not None:
        findings = open_findings(session, home_id)
        problems = [
            Problem(
                finding_id=f.id,
                kind=f.kind,
                title=finding_title(f.kind),
                severity=f.severity,
                subject=f.subject,
                plain=_plain(f),
                fix=_fix(f),
            )
            for f in findings
        ]
    outage = outage_for_subscriber(session, subscriber_id)
    return Diagnosis(
        subscriber_id=subscriber_id,
        at=now,
        home_id=home_id,
        device_id=device_id,
        last_report_at=report.ts if report else None,
        wan_status=report.wan_status if report else None,
        down_mbps=report.down_mbps if report else None,
        plan_down_mbps=plan_down,
        latency_ms=report.latency_ms if report else None,
        problems=problems,
        outage_id=outage.id if outage else None,
        outage_eta=outage.eta_at if outage else None,
    )
