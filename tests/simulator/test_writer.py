"""The bulk loader: constraints still hold, and a failed load leaves nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from homeport.core.db import Database
from homeport.network.models import Region
from homeport.simulator.fleet import PLANS, REGIONS, SUBSCRIBERS
from homeport.simulator.writer import BulkWriter, as_aware, to_datetime64
from homeport.subscribers.models import Subscriber


def _indexes(db: Database) -> set[str]:
    if db.dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'index'"
    else:
        sql = "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
    with db.engine.connect() as conn:
        return set(conn.execute(text(sql)).scalars())


def _plan(down: int) -> dict[str, list[Any]]:
    return {
        "id": [1],
        "code": ["P"],
        "name": ["Plan"],
        "down_mbps": [down],
        "up_mbps": [1],
        "monthly_price": [10.0],
        "currency": ["GBP"],
        "is_active": [True],
    }


def test_a_violated_check_rolls_everything_back(db: Database) -> None:
    before = _indexes(db)
    with pytest.raises(IntegrityError), db.transaction() as session:
        writer = BulkWriter(session.connection())
        with writer.bulk_load([REGIONS, PLANS, SUBSCRIBERS]):  # subscribers: indexes
            writer.insert(REGIONS, {"id": [1], "code": ["R"], "name": ["Region"]}, stage="x")
            writer.insert(PLANS, _plan(0), stage="x")  # down_mbps > 0 is violated
    assert _indexes(db) == before
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(Region)).scalar_one() == 0
    if db.dialect == "sqlite":
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA ignore_check_constraints").scalar() == 0


def test_loaded_rows_read_back_through_the_models(db: Database) -> None:
    when = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=UTC)
    stamps = np.array([to_datetime64(when), np.datetime64("NaT", "us")])
    seen: list[tuple[str, int, int]] = []
    with db.transaction() as session:
        writer = BulkWriter(session.connection(), lambda *a: seen.append(a), batch_rows=1)
        with writer.bulk_load([PLANS, SUBSCRIBERS]):
            writer.insert(PLANS, _plan(100), stage="plans")
            writer.insert(
                SUBSCRIBERS,
                {
                    "id": np.array([1, 2]),
                    "account_number": ["A1", "A2"],
                    "name": ["A", "B"],
                    "email": ["a@example.com", ""],
                    "phone": ["", ""],
                    "address": ["", ""],
                    "city": ["", ""],
                    "postcode": ["", ""],
                    "status": ["active", "onboarding"],
                    "journey_stage": ["established", "signup"],
                    "plan_id": [1, 1],
                    "preferred_channel": ["email", "app"],
                    "consent_email": np.array([True, False]),
                    "consent_sms": [False, False],
                    "consent_marketing": [False, True],
                    "consent_updated_at": stamps,
                    "activated_at": stamps,
                    "churned_at": np.array([np.datetime64("NaT", "us")] * 2),
                    "created_at": np.array([to_datetime64(when)] * 2),
                    "updated_at": np.array([to_datetime64(when)] * 2),
                },
                stage="subscribers",
            )
        writer.reset_sequences([PLANS, SUBSCRIBERS])
    assert [x for x in seen if x[0] == "subscribers"] == [
        ("subscribers", 1, 2),
        ("subscribers", 2, 2),
    ]
    with db.session() as s:
        a, b = s.execute(select(Subscriber).order_by(Subscriber.id)).scalars().all()
    assert a.activated_at == when and a.activated_at.tzinfo is not None
    assert b.activated_at is None and b.churned_at is None
    assert a.consent_email is True and b.consent_marketing is True
    assert as_aware(stamps[0]) == when and as_aware(stamps[1]) is None
    with db.transaction() as s:  # ids continue after the explicit ones
        s.add(Subscriber(account_number="A3", name="C", created_at=when, updated_at=when))
        s.flush()
        assert s.execute(select(func.max(Subscriber.id))).scalar_one() == 3


def test_insert_refuses_incomplete_or_ragged_columns(db: Database) -> None:
    with db.transaction() as session:
        writer = BulkWriter(session.connection())
        with pytest.raises(ValueError, match="NOT NULL"):
            writer.insert(REGIONS, {"id": [1], "code": ["R"]}, stage="x")
        with pytest.raises(ValueError, match="different lengths"):
            writer.insert(REGIONS, {"id": [1, 2], "code": ["R"], "name": ["N"]}, stage="x")
        with pytest.raises(ValueError, match="no column"):
            writer.insert(REGIONS, {"id": [1], "code": ["R"], "name": ["N"], "x": [1]}, stage="x")
        with pytest.raises(TypeError, match="datetime64"):
            writer.insert(
                SUBSCRIBERS,
                {**{c.name: [None] for c in SUBSCRIBERS.c}, "created_at": [datetime.now(UTC)]},
                stage="x",
            )
