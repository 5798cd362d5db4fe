"""Fixtures for the ACS tests: a fleet, CPE credentials and the app with the CWMP router."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from homeport.adapters.cwmp import api as cwmp_api
from homeport.adapters.cwmp.auth import make_ha1
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.telemetry.models import DeviceCredential
from tests.factories import Fleet, build_fleet

#: The captured CPE's basic credentials: "8KA8WA1151100043" with an empty password.
REPLAY_USER = "8KA8WA1151100043"
GW = "GW-000101"
GW181 = "GW-000102"


def add_credential(
    db: Database,
    device_id: str,
    username: str,
    password: str,
    now: datetime,
    revoked_at: datetime | None = None,
) -> None:
    with db.transaction() as session:
        session.add(
            DeviceCredential(
                device_id=device_id,
                username=username,
                digest_ha1=make_ha1(username, password),
                created_at=now,
                revoked_at=revoked_at,
            )
        )


@pytest.fixture
def fleet(db: Database, clock: ManualClock) -> Fleet:
    fleet = build_fleet(db, clock.now())
    add_credential(db, GW, REPLAY_USER, "", clock.now())
    add_credential(db, GW181, "cpe-181", "s3cret-181", clock.now())
    return fleet


@pytest.fixture
def cwmp_app(app: FastAPI) -> FastAPI:
    if not any(getattr(r, "path", "") == "/cwmp" for r in app.routes):
        app.include_router(cwmp_api.router)
    return app


@pytest.fixture
def cpe_client(cwmp_app: FastAPI, fleet: Fleet) -> Iterator[TestClient]:
    with TestClient(cwmp_app, base_url="http://acs.test") as client:
        yield client
