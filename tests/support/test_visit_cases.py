"""A technician visit moves its case: booked -> pending on field; fixed -> solved as a truck
roll; not fixed -> back to the agents with a note."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from homeport.core.db import Database
from homeport.core.health_settings import HealthSettings
from homeport.support import actions, dispatch, service
from homeport.support.actions import NewInteraction
from homeport.support.models import Case
from tests.conftest import START, TEST_ACTOR
from tests.factories import build_fleet, filler


def test_visits_move_their_case(db: Database) -> None:
    actions.register(db)
    fleet = build_fleet(db, START - timedelta(days=1), filler(1))
    sub = fleet.subscribers["FIL-0001"]
    with db.transaction() as s:
        case_id = actions.open_case(
            s,
            now=START,
            actor=TEST_ACTOR,
            channel="phone",
            subject="No internet",
            subscriber_id=sub,
            category="no_internet",
            first=NewInteraction(channel="phone", direction="inbound", author_kind="subscriber"),
        ).id

    def book() -> int:
        with db.transaction() as s:
            return dispatch.create_work_order(
                s,
                subscriber_id=sub,
                case_id=case_id,
                kind="repair",
                window_start=START + timedelta(hours=1),
                window_end=START + timedelta(hours=3),
                actor=TEST_ACTOR,
                now=START,
            ).id

    def visit(order: int, outcome: str, *, checked: bool) -> None:
        at = START + timedelta(hours=2)
        for status in ("en_route", "on_site"):
            with db.transaction() as s:
                dispatch.transition(s, order, status, actor=TEST_ACTOR, now=at)
        if checked:
            with db.transaction() as s:
                dispatch.run_quality_check(
                    s, order, actor=TEST_ACTOR, now=at, health=HealthSettings()
                )
        with db.transaction() as s:
            dispatch.complete(
                s,
                order,
                outcome=outcome,
                actor=TEST_ACTOR,
                now=at,
                notes="Replaced the ONT patch lead",
            )

    first = book()
    with db.session() as s:
        assert s.get_one(Case, case_id).status == "pending_field"
    visit(first, "not_fixed", checked=False)
    with db.session() as s:
        case = s.get_one(Case, case_id)
        assert case.status == "open"
        notes = [i.body for i in service.interactions(s, case_id) if i.direction == "internal"]
        assert notes == [f"Technician visit {first} (repair): not_fixed."]
    second = book()
    visit(second, "fixed", checked=True)
    with db.session() as s:
        case = s.scalars(select(Case)).one()
        assert (case.status, case.outcome) == ("solved", "truck_roll")
        assert f"Technician visit {second} (repair): fixed" in case.resolution_notes
