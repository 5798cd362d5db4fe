"""Reads of the telemetry domain: device secrets, stored reports and rollups."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.telemetry.actions import hash_secret
from homeport.telemetry.models import (
    DeviceCredential,
    TelemetryDaily,
    TelemetryHourly,
    TelemetryReport,
)


def device_secret_valid(session: Session, device_id: str, secret: str) -> bool:
    """True when ``secret`` is the live (not revoked) bearer secret of ``device_id``."""
    row = session.scalar(select(DeviceCredential).where(DeviceCredential.device_id == device_id))
    if row is None or row.secret_hash is None or row.revoked_at is not None:
        # Compare anyway, so an unknown device costs the same time as a wrong secret.
        hmac.compare_digest(hash_secret(secret), "0" * 64)
        return False
    return hmac.compare_digest(row.secret_hash, hash_secret(secret))


def reports_for_home(
    session: Session, home_id: int, *, since: datetime, until: datetime
) -> Sequence[TelemetryReport]:
    """A home's raw reports in ``[since, until)``, oldest first."""
    return session.scalars(
        select(TelemetryReport)
        .where(
            TelemetryReport.home_id == home_id,
            TelemetryReport.ts >= since,
            TelemetryReport.ts < until,
        )
        .order_by(TelemetryReport.ts)
    ).all()


def latest_report(session: Session, device_id: str) -> TelemetryReport | None:
    return session.scalar(
        select(TelemetryReport)
        .where(TelemetryReport.device_id == device_id)
        .order_by(TelemetryReport.ts.desc())
        .limit(1)
    )


def hourly_for_home(
    session: Session, home_id: int, *, since: datetime, until: datetime
) -> Sequence[TelemetryHourly]:
    return session.scalars(
        select(TelemetryHourly)
        .where(
            TelemetryHourly.home_id == home_id,
            TelemetryHourly.period_start >= since,
            TelemetryHourly.period_start < until,
        )
        .order_by(TelemetryHourly.period_start)
    ).all()


def daily_for_home(
    session: Session, home_id: int, *, since: datetime, until: datetime
) -> Sequence[TelemetryDaily]:
    return session.scalars(
        select(TelemetryDaily)
        .where(
            TelemetryDaily.home_id == home_id,
            TelemetryDaily.period_start >= since,
            TelemetryDaily.period_start < until,
        )
        .order_by(TelemetryDaily.period_start)
    ).all()
