"""Helpers for the CSV import tests: fixture files, a seeded database and a snapshot of every
table an import may touch (to prove a failed import changed nothing)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from homeport.adapters.csv_import.importer import ImportResult, import_csv
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.subscribers import actions as sub_actions
from homeport.subscribers.schemas import BundleIn
from tests.conftest import TEST_ACTOR

FIXTURES = Path(__file__).parent / "fixtures"
TABLES = (
    "plans",
    "bundles",
    "subscribers",
    "subscriber_bundles",
    "regions",
    "access_nodes",
    "ports",
    "homes",
    "audit_log",
)

Snapshot = dict[str, list[tuple[str, ...]]]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def snapshot(db: Database) -> Snapshot:
    """Every row of every table an import writes to."""
    with db.engine.connect() as conn:
        return {
            t: sorted(tuple(map(str, row)) for row in conn.exec_driver_sql(f"SELECT * FROM {t}"))
            for t in TABLES
        }


def run(
    db: Database,
    clock: ManualClock,
    kind: str,
    data: bytes,
    *,
    dry_run: bool = False,
    name: str = "test.csv",
) -> ImportResult:
    return import_csv(
        db, kind, data, file_name=name, actor=TEST_ACTOR, now=clock.now(), dry_run=dry_run
    )


def make_bundles(db: Database, clock: ManualClock) -> None:
    with db.transaction() as s:
        for code, lifestyle in (
            ("MESH", "smart_home"),
            ("SECURE", "family_safety"),
            ("GAMING", "gaming"),
        ):
            sub_actions.create_bundle(
                s,
                BundleIn(
                    code=code, name=code.title(), lifestyle=lifestyle, monthly_price=Decimal("5.00")
                ),
                actor=TEST_ACTOR,
                now=clock.now(),
            )


@pytest.fixture
def seeded(db: Database, clock: ManualClock) -> Database:
    """The fixture files imported: 5 plans, 5 ports, 6 subscribers, 3 bundles."""
    make_bundles(db, clock)
    for kind in ("plans", "topology", "subscribers"):
        run(db, clock, kind, fixture(f"{kind}.csv"))
    return db
