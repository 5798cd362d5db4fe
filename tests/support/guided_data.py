"""Homes with crafted telemetry for the guided-troubleshooting and dispatch tests: reports are
stored through the telemetry ingest action and evaluated by the health pipeline (scores,
findings), with auto-remediation off so that no remote action is queued behind a test's back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from homeport.core.db import Database
from homeport.core.health_settings import HealthSettings
from homeport.core.telemetry_settings import TelemetrySettings
from homeport.health.actions import evaluate_batch
from homeport.support.models import Case
from homeport.telemetry.actions import store_reports
from homeport.telemetry.schemas import Report
from tests.conftest import START
from tests.factories import Fleet
from tests.health.reports import INTERVAL, report

HEALTH = HealthSettings(auto_remediation=False)


def feed(db: Database, fleet: Fleet, reports: Sequence[Report]) -> None:
    """Store each report as it would arrive, then evaluate it (one batch per report)."""
    for r in reports:
        with db.transaction() as s:
            result = store_reports(s, [r], source="http", now=r.ts, settings=TelemetrySettings())
            assert not result.rejected, result.rejected
            evaluate_batch(
                s,
                [(item.home_id, item.report) for item in result.stored],
                health=HEALTH,
                report_interval_s=300,
            )


def last_hour(device_id: str, end: datetime = START, **changes: object) -> list[Report]:
    """Twelve reports over the hour before ``end`` (the last one at ``end``), all changed the
    same way (see :func:`tests.health.reports.report`)."""
    return [
        report(device_id, end - (11 - i) * INTERVAL, **changes)  # type: ignore[arg-type]
        for i in range(12)
    ]


def open_case(db: Database, subscriber_id: int | None, category: str = "no_internet") -> int:
    with db.transaction() as s:
        case = Case(
            subscriber_id=subscriber_id,
            origin="reactive",
            channel="phone",
            category=category,
            priority="normal",
            status="open",
            subject="Subscriber called",
            opened_at=START - timedelta(minutes=5),
            updated_at=START - timedelta(minutes=5),
        )
        s.add(case)
        s.flush()
        return case.id
