"""Fixtures for the web tests: a small fleet and a SQL statement counter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from tests.factories import Fleet, build_fleet


@pytest.fixture
def fleet(db: Database, clock: ManualClock) -> Fleet:
    return build_fleet(db, clock.now())


class StatementLog:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def __str__(self) -> str:
        return "\n".join(f"{i}: {s[:160]}" for i, s in enumerate(self.statements, 1))


@contextmanager
def count_statements(db: Database) -> Iterator[StatementLog]:
    """Record every SQL statement sent to ``db`` while the block runs."""
    log = StatementLog()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        log.statements.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield log
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
