"""The production parser and store of the MQTT ingest: the telemetry domain's own functions,
one committed transaction per batch."""

from __future__ import annotations

from collections.abc import Sequence

from homeport.adapters.mqtt.batch import Parse, Store
from homeport.core.clock import Clock
from homeport.core.db import Database
from homeport.core.telemetry_settings import TelemetrySettings
from homeport.telemetry import actions
from homeport.telemetry.ingest import parse_one
from homeport.telemetry.schemas import Report

parse: Parse = parse_one


def telemetry_store(db: Database, settings: TelemetrySettings, clock: Clock) -> Store:
    """Store a batch with ``telemetry.actions.store_reports`` and commit before returning."""

    def store(reports: Sequence[Report]) -> actions.StoreResult:
        with db.transaction() as session:
            return actions.store_reports(
                session, reports, source="mqtt", now=clock.now(), settings=settings
            )

    return store
