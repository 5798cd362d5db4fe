"""The health domain's event handlers: every committed batch of reports is evaluated in its own
transaction (detectors, findings, score, outages, remediation), after the ingest committed, so a
failure here never loses a report."""

from __future__ import annotations

import logging

from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.health.actions import evaluate_batch
from homeport.telemetry.actions import ReportsStored

log = logging.getLogger(__name__)


def register(db: Database, settings: Settings) -> None:
    """Subscribe the health handlers to ``db.bus``."""
    health = settings.health
    interval = settings.telemetry.report_interval_s

    def on_reports_stored(event: ReportsStored) -> None:
        items = [(item.home_id, item.report) for item in event.items]
        with db.transaction() as session:
            result = evaluate_batch(session, items, health=health, report_interval_s=interval)
        log.debug(
            "health evaluated %d reports: %d findings opened, %d resolved",
            result.reports,
            len(result.opened),
            len(result.resolved),
        )

    db.bus.subscribe(ReportsStored, on_reports_stored)
