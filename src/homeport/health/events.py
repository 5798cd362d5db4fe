"""Events the health domain publishes (delivered after commit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from homeport.core.events import Event


@dataclass(frozen=True)
class FindingOpened(Event):
    finding_id: int
    home_id: int
    kind: str
    severity: str


@dataclass(frozen=True)
class FindingResolved(Event):
    finding_id: int
    home_id: int
    kind: str


@dataclass(frozen=True)
class FindingEscalated(Event):
    """A finding that needs people: the support domain opens (or updates) a proactive case."""

    finding_id: int
    home_id: int
    subscriber_id: int
    kind: str
    severity: str
    summary: str
    #: 'critical', 'remediation_failed', 'remediation_refused' or 'persistent'.
    reason: str
    #: When it was escalated (the time of the report or check that decided it).
    at: datetime


@dataclass(frozen=True)
class OutageOpened(Event):
    outage_id: int
    scope: str
    port_id: int | None
    access_node_id: int | None


@dataclass(frozen=True)
class OutageClosed(Event):
    outage_id: int
