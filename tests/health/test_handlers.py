"""The whole path: telemetry store_reports commits, ReportsStored reaches the health handler
(findings, score), FindingEscalated reaches support (one proactive case)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.health import handlers
from homeport.health.models import ExperienceScore
from homeport.support.models import Case
from homeport.telemetry.actions import store_reports
from homeport.telemetry.models import TelemetryReport
from homeport.telemetry.schemas import Report
from homeport.wiring import connect
from tests.conftest import START
from tests.factories import Fleet
from tests.health.pipeline import findings
from tests.health.reports import INTERVAL, report


def store(db: Database, settings: Settings, reports: list[Report]) -> None:
    with db.transaction() as s:
        store_reports(s, reports, source="http", now=reports[-1].ts, settings=settings.telemetry)


def test_stored_reports_are_evaluated_after_commit(
    db: Database, fleet: Fleet, settings: Settings
) -> None:
    connect(db, settings)
    down: dict[str, Any] = {"wan": {"status": "down"}}
    for n in range(2):
        store(
            db,
            settings,
            [
                report("GW-F00001", START + n * INTERVAL, **down),
                report("GW-F00002", START + n * INTERVAL),
            ],
        )
    [f] = findings(db, "wan_down")
    assert f.status == "open" and f.home_id == fleet.homes["FIL-0001"]
    with db.session() as s:
        [case] = s.scalars(select(Case)).all()
        assert (case.category, case.finding_id, case.origin) == ("wan_down", f.id, "proactive")
        assert s.scalar(select(func.count()).select_from(ExperienceScore)) == 2
    # A duplicate batch (same device and ts) is not stored again, so it is not evaluated again.
    store(db, settings, [report("GW-F00001", START + INTERVAL, **down)])
    assert findings(db, "wan_down")[0].consecutive_bad == 2


def test_a_failing_evaluation_never_loses_the_reports(
    db: Database, fleet: Fleet, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler runs after the ingest committed: if it fails, the reports stay stored."""

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("detector bug")

    monkeypatch.setattr(handlers, "evaluate_batch", broken)
    connect(db, settings)
    store(db, settings, [report("GW-F00001", START, wan={"status": "down"})])
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(TelemetryReport)) == 1
    assert findings(db) == []
