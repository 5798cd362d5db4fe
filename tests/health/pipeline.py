"""Run the health evaluation the way the ReportsStored handler does, for crafted reports."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from homeport.core.db import Database
from homeport.core.health_settings import HealthSettings
from homeport.health.actions import Evaluation, evaluate_batch
from homeport.health.models import Finding
from homeport.telemetry.schemas import Report
from tests.factories import Fleet


def home_of(fleet: Fleet, device_id: str) -> int:
    """Filler gateways GW-F0000n belong to account FIL-000n."""
    return fleet.homes[f"FIL-{int(device_id.removeprefix('GW-F')):04d}"]


def evaluate(
    db: Database, fleet: Fleet, reports: Sequence[Report], health: HealthSettings | None = None
) -> Evaluation:
    with db.transaction() as session:
        return evaluate_batch(
            session,
            [(home_of(fleet, r.device_id), r) for r in reports],
            health=health or HealthSettings(),
            report_interval_s=300,
        )


def feed(
    db: Database, fleet: Fleet, reports: Sequence[Report], health: HealthSettings | None = None
) -> None:
    """One batch per report, in order (as reports arrive every interval)."""
    for r in reports:
        evaluate(db, fleet, [r], health)


def findings(db: Database, kind: str | None = None) -> list[Finding]:
    with db.session() as session:
        stmt = select(Finding).order_by(Finding.id)
        if kind is not None:
            stmt = stmt.where(Finding.kind == kind)
        return list(session.scalars(stmt))
