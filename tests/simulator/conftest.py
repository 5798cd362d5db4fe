"""Helpers for the simulator tests: a fixed present, content digests, extra fresh databases."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from homeport import migrations
from homeport.core.db import Database
from homeport.simulator.fleet import FLEET_TABLES

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def fleet_digest(db: Database) -> str:
    """SHA-256 over every row of every fleet table, read back through the column types."""
    h = hashlib.sha256()
    with db.engine.connect() as conn:
        for table in FLEET_TABLES:
            h.update(table.name.encode())
            for row in conn.execute(select(table).order_by(*table.primary_key.columns)):
                h.update(repr(tuple(row)).encode())
    return h.hexdigest()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Callable[[], Database]]:
    """Makes migrated, empty SQLite databases in the test's temporary folder."""
    made: list[Database] = []

    def make() -> Database:
        url = f"sqlite:///{tmp_path / f'extra{len(made)}.db'}"
        migrations.upgrade(url)
        made.append(Database(url))
        return made[-1]

    yield make
    for database in made:
        database.dispose()
