"""Device secrets (issue, rotate, revoke; audited) and the telemetry reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from homeport.audit.models import AuditEntry
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import NotFound
from homeport.core.telemetry_settings import TelemetrySettings
from homeport.telemetry import actions, service
from homeport.telemetry.ingest import parse_one
from homeport.telemetry.models import DeviceCredential
from tests.conftest import TEST_ACTOR
from tests.factories import Fleet
from tests.telemetry.conftest import report


def test_a_secret_is_stored_hashed_rotated_and_revoked(
    db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    with db.transaction() as session:
        first = actions.issue_device_secret(
            session, device_id="GW-000101", actor=TEST_ACTOR, now=clock.now()
        )
    with db.session() as session:
        row = session.scalars(select(DeviceCredential)).one()
        assert row.secret_hash == actions.hash_secret(first) != first
        assert service.device_secret_valid(session, "GW-000101", first)
        assert not service.device_secret_valid(session, "GW-000101", first + "x")
        assert not service.device_secret_valid(session, "GW-000102", first)
    with db.transaction() as session:
        second = actions.issue_device_secret(
            session, device_id="GW-000101", actor=TEST_ACTOR, now=clock.now()
        )
    with db.session() as session:
        assert not service.device_secret_valid(session, "GW-000101", first)
        assert service.device_secret_valid(session, "GW-000101", second)
    with db.transaction() as session:
        actions.revoke_device_secret(
            session, device_id="GW-000101", actor=TEST_ACTOR, now=clock.now()
        )
    with db.session() as session:
        assert not service.device_secret_valid(session, "GW-000101", second)
        audit = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert audit == [
        "device_credential.issued",
        "device_credential.issued",
        "device_credential.revoked",
    ]


def test_only_known_gateways_get_secrets(db: Database, clock: ManualClock, fleet: Fleet) -> None:
    with (
        pytest.raises(NotFound, match="no gateway with device id GW-NOBODY"),
        db.transaction() as s,
    ):
        actions.issue_device_secret(s, device_id="GW-NOBODY", actor=TEST_ACTOR, now=clock.now())
    with pytest.raises(NotFound, match="has no secret"), db.transaction() as s:
        actions.revoke_device_secret(s, device_id="GW-000101", actor=TEST_ACTOR, now=clock.now())


def test_reports_are_read_per_home_and_latest_per_device(
    db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    now = clock.now()
    times = [now - timedelta(minutes=m) for m in (20, 15, 10, 5)]
    with db.transaction() as session:
        actions.store_reports(
            session,
            [parse_one(report("GW-000101", ts=t)) for t in times]
            + [parse_one(report("GW-000102", ts=times[0]))],
            source="sim",
            now=now,
            settings=TelemetrySettings(),
        )
    with db.session() as session:
        rows = service.reports_for_home(
            session, fleet.homes["ACC-1001"], since=times[1], until=times[3]
        )
        assert [r.ts for r in rows] == times[1:3]
        latest = service.latest_report(session, "GW-000101")
        assert latest is not None
        assert latest.ts == times[3]
        assert service.latest_report(session, "GW-NOBODY") is None
