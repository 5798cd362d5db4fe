"""Proactive cases: one live case per (subscriber, category), a repeat updates it, bad input is
refused without writing anything."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from homeport.audit.models import AuditEntry
from homeport.core.db import Database
from homeport.core.errors import NotFound, ValidationFailed
from homeport.support import actions, service
from homeport.support.models import Case
from tests.conftest import START
from tests.factories import Fleet, build_fleet, filler


@pytest.fixture
def fleet(db: Database) -> Fleet:
    return build_fleet(db, START, filler(2))


def open_case(db: Database, sub: int, **kw: object) -> tuple[int, bool]:
    args: dict[str, object] = {
        "subscriber_id": sub,
        "category": "wan_down",
        "subject": "Internet connection is down",
        "description": "Opened by Homeport health.",
        "priority": "normal",
        "now": START,
    }
    args.update(kw)
    with db.transaction() as s:
        case, created = actions.open_proactive_case(s, **args)  # type: ignore[arg-type]
        return case.id, created


def test_one_live_case_per_subscriber_and_category(db: Database, fleet: Fleet) -> None:
    alice, bob = fleet.subscribers["FIL-0001"], fleet.subscribers["FIL-0002"]
    first, created = open_case(db, alice)
    assert created
    again, created = open_case(
        db, alice, priority="high", subject="Still down", now=START + timedelta(hours=1)
    )
    assert (again, created) == (first, False)
    other_kind, created = open_case(db, alice, category="reboot_loop")
    other_home, created2 = open_case(db, bob)
    assert created and created2 and len({first, other_kind, other_home}) == 3
    with db.session() as s:
        case = s.get_one(Case, first)
        assert (case.priority, case.status, case.channel) == ("high", "new", "system")
        assert case.updated_at == START + timedelta(hours=1)
        assert "Still down" in case.description
        assert [c.id for c in service.live_proactive_cases(s, alice)] == sorted(
            [first, other_kind], reverse=True
        )
        logged = s.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "case"))
        assert sorted(logged) == ["case.opened", "case.opened", "case.opened", "case.updated"]


def test_a_solved_case_lets_a_new_one_open(db: Database, fleet: Fleet) -> None:
    alice = fleet.subscribers["FIL-0001"]
    first, _ = open_case(db, alice)
    with db.transaction() as s:
        s.get_one(Case, first).status = "solved"
    second, created = open_case(db, alice)
    assert created and second != first


def test_bad_input_writes_nothing(db: Database, fleet: Fleet) -> None:
    alice = fleet.subscribers["FIL-0001"]
    with pytest.raises(ValidationFailed) as err:
        open_case(db, alice, priority="whenever", subject="  ")
    assert {e.field for e in err.value.errors} == {"priority", "subject"}
    with pytest.raises(NotFound):
        open_case(db, 999_999)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
