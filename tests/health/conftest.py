from __future__ import annotations

import pytest

from homeport.core.db import Database
from homeport.core.health_settings import HealthSettings
from tests.conftest import START
from tests.factories import Fleet, build_fleet, filler


@pytest.fixture
def fleet(db: Database) -> Fleet:
    """Ten homes on PON port 1/1/1 and ten on 1/1/2 of one OLT (plan Fibre 100: 100/20 Mbps),
    gateways GW-F00001 … GW-F00020."""
    return build_fleet(
        db,
        START,
        (*filler(10, start=1, port="north-olt1-p1"), *filler(10, start=11, port="north-olt1-p2")),
    )


@pytest.fixture
def health() -> HealthSettings:
    return HealthSettings()
