"""Dispatch: booking with clear refusals, repeat dispatch within 30 days, the status lifecycle,
a technician's day, the install-quality check from telemetry and completion rules."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from homeport.audit.actions import Actor
from homeport.audit.models import AuditEntry
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import Conflict, NotFound, ValidationFailed
from homeport.support import dispatch
from homeport.support.models import WorkOrder
from tests.conftest import START, make_staff
from tests.factories import Fleet, build_fleet, filler
from tests.health.reports import LAPTOP, PHONE
from tests.support.guided_data import HEALTH, feed, last_hour, open_case

ACTOR = Actor("staff", None, "dispatcher")
GW = "GW-F00001"
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def fleet(db: Database) -> Fleet:
    return build_fleet(db, START - timedelta(days=7), filler(2))


@pytest.fixture
def tech(db: Database, clock: ManualClock) -> int:
    return make_staff(db, clock, email="tess@example.net", role="technician").id


@pytest.fixture
def events(db: Database) -> list[Any]:
    seen: list[Any] = []
    db.bus.subscribe(dispatch.WorkOrderCompleted, seen.append)
    db.bus.subscribe(dispatch.WorkOrderCreated, seen.append)
    return seen


def book(db: Database, fleet: Fleet, **kw: Any) -> int:
    args: dict[str, Any] = {
        "subscriber_id": fleet.subscribers.get("FIL-0001"),
        "kind": "repair",
        "window_start": START + timedelta(hours=1),
        "window_end": START + timedelta(hours=3),
        "actor": ACTOR,
        "now": START,
    }
    args.update(kw)
    with db.transaction() as s:
        return dispatch.create_work_order(s, **args).id


def get(db: Database, order_id: int) -> WorkOrder:
    with db.session() as s:
        return s.get_one(WorkOrder, order_id)


def move(db: Database, order_id: int, *statuses: str, now: datetime = START) -> None:
    for status in statuses:
        with db.transaction() as s:
            dispatch.transition(s, order_id, status, actor=ACTOR, now=now)


def check(db: Database, order_id: int, now: datetime = START) -> WorkOrder:
    with db.transaction() as s:
        return dispatch.run_quality_check(s, order_id, actor=ACTOR, now=now, health=HEALTH)


def complete(
    db: Database, order_id: int, outcome: str, now: datetime = START, notes: str = ""
) -> WorkOrder:
    with db.transaction() as s:
        return dispatch.complete(s, order_id, outcome=outcome, actor=ACTOR, now=now, notes=notes)


def test_booking_is_audited_and_announced(
    db: Database, fleet: Fleet, tech: int, events: list[Any]
) -> None:
    case = open_case(db, fleet.subscribers["FIL-0001"])
    order_id = book(db, fleet, technician_id=tech, case_id=case, notes="  Gate code 1234 ")
    order = get(db, order_id)
    assert (order.status, order.kind, order.technician_id, order.case_id) == (
        "scheduled",
        "repair",
        tech,
        case,
    )
    assert order.notes == "Gate code 1234" and order.repeat_of_id is None
    assert events == [
        dispatch.WorkOrderCreated(order_id, order.subscriber_id, case, "repair", None, START)
    ]
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.entity_type == "work_order")).one()
        assert (entry.action, entry.detail["technician_id"]) == ("work_order.created", tech)


def test_bad_bookings_are_refused_field_by_field(
    db: Database, fleet: Fleet, tech: int, clock: ManualClock
) -> None:
    agent = make_staff(db, clock, email="agent@example.net", role="agent").id
    other_case = open_case(db, fleet.subscribers["FIL-0002"])
    with pytest.raises(ValidationFailed) as err:
        book(
            db,
            fleet,
            kind="demolition",
            window_end=START + timedelta(minutes=30),
            technician_id=agent,
            case_id=other_case,
            notes="x" * 6000,
        )
    fields = {e.field: e.message for e in err.value.errors}
    assert fields["kind"].startswith("one of install")
    assert fields["window_end"] == "must be after window_start"
    assert (
        "is a agent, not a technician" in fields["technician_id"]
        or "not a technician" in fields["technician_id"]
    )
    assert fields["case_id"] == f"case {other_case} is another subscriber's"
    assert "notes" in fields

    with pytest.raises(ValidationFailed) as err:
        book(
            db,
            fleet,
            window_start=START - timedelta(hours=3),
            window_end=START - timedelta(hours=1),
        )
    assert [e.field for e in err.value.errors] == ["window_end"]
    assert err.value.errors[0].message == "the window is already over"

    with pytest.raises(ValidationFailed) as err:
        book(db, fleet, window_end=START + timedelta(hours=20))
    assert err.value.errors[0].message == "a window is at most 12 hours"

    with pytest.raises(ValidationFailed) as err:
        book(db, fleet, subscriber_id=999_999, technician_id=888)
    assert {e.field for e in err.value.errors} == {"subscriber_id", "technician_id"}

    with pytest.raises(ValidationFailed) as err:
        book(
            db,
            fleet,
            window_start=datetime(2026, 11, 23, 12, 0),  # noqa: DTZ001
            window_end=START + timedelta(hours=3),
        )
    assert err.value.errors[0].field == "window_start"

    # A technician cannot be in two places at once.
    first = book(db, fleet, technician_id=tech)
    with pytest.raises(ValidationFailed) as err:
        book(
            db,
            fleet,
            subscriber_id=fleet.subscribers["FIL-0002"],
            technician_id=tech,
            window_start=START + timedelta(hours=2),
            window_end=START + timedelta(hours=4),
        )
    assert f"already booked on work order {first}" in err.value.errors[0].message
    with db.session() as s:
        assert len(s.scalars(select(WorkOrder)).all()) == 1


def test_repair_needs_a_home_but_an_install_does_not(db: Database) -> None:
    fleet = build_fleet(db, START - timedelta(days=7))  # ACC-1005 is a prospect with no home
    prospect = fleet.subscribers["ACC-1005"]
    with pytest.raises(ValidationFailed, match="invalid work order") as err:
        book(db, fleet, subscriber_id=prospect)
    assert "book an install" in err.value.errors[0].message
    assert get(db, book(db, fleet, subscriber_id=prospect, kind="install")).kind == "install"


@pytest.mark.parametrize(("days", "repeat"), [(29, True), (31, False)])
def test_repeat_dispatch_within_30_days(
    db: Database, fleet: Fleet, days: int, repeat: bool
) -> None:
    feed(db, fleet, last_hour(GW))
    first = book(db, fleet, kind="repair", window_start=START - timedelta(hours=1))
    move(db, first, "en_route", "on_site")
    check(db, first)
    complete(db, first, "fixed")
    later = START + timedelta(days=days)
    second = book(db, fleet, window_start=later, window_end=later + timedelta(hours=2), now=START)
    assert get(db, second).repeat_of_id == (first if repeat else None)
    # Another home's visits never count.
    third = book(
        db,
        fleet,
        subscriber_id=fleet.subscribers["FIL-0002"],
        window_start=START + timedelta(days=2),
        window_end=START + timedelta(days=2, hours=2),
    )
    assert get(db, third).repeat_of_id is None


def test_a_cancelled_visit_is_not_a_previous_dispatch(db: Database, fleet: Fleet) -> None:
    first = book(db, fleet)
    move(db, first, "cancelled")
    later = START + timedelta(days=3)
    second = book(db, fleet, window_start=later, window_end=later + timedelta(hours=2))
    assert get(db, second).repeat_of_id is None
    # A scheduled (not yet completed) visit counts by its window start.
    third = book(
        db,
        fleet,
        window_start=later + timedelta(days=1),
        window_end=later + timedelta(days=1, hours=2),
    )
    assert get(db, third).repeat_of_id == second


def test_status_lifecycle(db: Database, fleet: Fleet) -> None:
    order = book(db, fleet)
    with pytest.raises(Conflict, match="is scheduled; it cannot become on_site"):
        move(db, order, "on_site")
    with pytest.raises(ValidationFailed, match="invalid status"):
        move(db, order, "completed")
    with pytest.raises(ValidationFailed):
        move(db, order, "teleported")
    move(db, order, "en_route", "on_site")
    with db.transaction() as s:
        dispatch.transition(s, order, "cancelled", actor=ACTOR, now=START, reason="No access")
    cancelled = get(db, order)
    assert cancelled.status == "cancelled" and "No access" in cancelled.notes
    with pytest.raises(Conflict, match="is cancelled"):
        move(db, order, "en_route")
    with pytest.raises(NotFound):
        move(db, 999_999, "en_route")
    with db.session() as s:
        actions = s.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity_type == "work_order")
            .order_by(AuditEntry.id)
        ).all()
    assert actions == [
        "work_order.created",
        "work_order.en_route",
        "work_order.on_site",
        "work_order.cancelled",
    ]


def test_a_technicians_day_in_local_time(
    db: Database, fleet: Fleet, tech: int, clock: ManualClock
) -> None:
    other = make_staff(db, clock, email="otto@example.net", role="technician").id
    # 23 Nov 2026 in London is UTC+0; 00:30 local on the 24th is still "tomorrow".
    today = [
        book(
            db,
            fleet,
            technician_id=tech,
            window_start=START + timedelta(hours=4),
            window_end=START + timedelta(hours=6),
        ),
        book(
            db,
            fleet,
            technician_id=tech,
            window_start=START + timedelta(hours=1),
            window_end=START + timedelta(hours=3),
        ),
    ]
    book(
        db,
        fleet,
        technician_id=tech,
        window_start=datetime(2026, 11, 24, 0, 30, tzinfo=LONDON),
        window_end=datetime(2026, 11, 24, 2, 0, tzinfo=LONDON),
    )
    book(db, fleet, technician_id=other, subscriber_id=fleet.subscribers["FIL-0002"])
    cancelled = book(
        db,
        fleet,
        technician_id=tech,
        window_start=START + timedelta(hours=7),
        window_end=START + timedelta(hours=8),
    )
    move(db, cancelled, "cancelled")
    with db.session() as s:
        day = dispatch.technician_day(s, tech, date(2026, 11, 23), LONDON)
        assert [o.id for o in day] == list(reversed(today))
        start, end = dispatch.day_bounds(date(2026, 3, 29), LONDON)  # clocks go forward
        assert end - start == timedelta(hours=23)


def test_quality_check_passes_on_a_healthy_home(db: Database, fleet: Fleet) -> None:
    feed(db, fleet, last_hour(GW))
    order = book(db, fleet, window_start=START - timedelta(hours=1))
    with pytest.raises(Conflict, match="run on site"):
        check(db, order)
    move(db, order, "en_route", "on_site")
    result = check(db, order)
    assert result.quality_passed is True
    by_name = {c["name"]: c for c in result.quality_check["checks"]}
    assert set(by_name) == {"wan", "speed", "coverage", "optical"}
    assert by_name["speed"]["value"] == 0.95 and by_name["speed"]["passed"] is True
    assert by_name["coverage"]["value"] == 1.0
    assert by_name["optical"]["value"] == -19.0
    assert result.quality_check["at"] == START.isoformat()


@pytest.mark.parametrize(
    ("changes", "failed"),
    [
        ({"wan": {"down_mbps": 60.0}}, {"speed"}),
        ({"client": {PHONE: {"rssi_dbm": -80}, LAPTOP: {"rssi_dbm": -70}}}, {"coverage"}),
        ({"wan": {"optical_rx_dbm": -28.0}}, {"optical"}),
        ({"wan": {"optical_rx_dbm": -7.0}}, {"optical"}),
        ({"wan": {"status": "down"}}, {"wan", "speed"}),
    ],
)
def test_quality_check_fails_on_a_faulty_home(
    db: Database, fleet: Fleet, changes: dict[str, Any], failed: set[str]
) -> None:
    feed(db, fleet, last_hour(GW, **changes))
    order = book(db, fleet, window_start=START - timedelta(hours=1))
    move(db, order, "en_route", "on_site")
    result = check(db, order)
    assert result.quality_passed is False
    assert {c["name"] for c in result.quality_check["checks"] if c["passed"] is False} == failed


def test_silent_gateway_fails_the_check(db: Database, fleet: Fleet) -> None:
    feed(db, fleet, last_hour(GW, end=START - timedelta(minutes=30)))
    order = book(db, fleet, window_start=START - timedelta(hours=1))
    move(db, order, "en_route", "on_site")
    wan = check(db, order).quality_check["checks"][0]
    assert (wan["name"], wan["passed"], wan["detail"]) == ("wan", False, "no report for 30 min")


def test_completion_needs_a_recent_check(db: Database, fleet: Fleet, events: list[Any]) -> None:
    feed(db, fleet, last_hour(GW))
    case = open_case(db, fleet.subscribers["FIL-0001"])
    order = book(db, fleet, window_start=START - timedelta(hours=1), case_id=case)
    move(db, order, "en_route", "on_site")
    with pytest.raises(ValidationFailed) as err:
        complete(db, order, "fixed")
    assert err.value.errors[0].field == "quality_check"
    assert "was never run" in err.value.errors[0].message
    with pytest.raises(ValidationFailed, match="invalid completion"):
        complete(db, order, "installed")  # a repair is fixed, not installed
    check(db, order, now=START - timedelta(minutes=61))
    with pytest.raises(ValidationFailed, match="quality check needed"):
        complete(db, order, "no_fault_found")
    check(db, order)
    done = complete(db, order, "no_fault_found", now=START + timedelta(minutes=5))
    assert (done.status, done.outcome) == ("completed", "no_fault_found")
    assert done.completed_at == START + timedelta(minutes=5)
    completed = [e for e in events if isinstance(e, dispatch.WorkOrderCompleted)]
    assert len(completed) == 1
    assert (completed[0].case_id, completed[0].case_outcome, completed[0].quality_passed) == (
        case,
        "no_fault_found",
        True,
    )
    with pytest.raises(Conflict, match="only a visit on site"):
        complete(db, order, "fixed")


def test_failed_check_needs_notes_and_not_fixed_needs_no_check(
    db: Database, fleet: Fleet, events: list[Any]
) -> None:
    feed(db, fleet, last_hour(GW, wan={"down_mbps": 50.0}))
    order = book(db, fleet, window_start=START - timedelta(hours=1))
    move(db, order, "en_route", "on_site")
    check(db, order)
    with pytest.raises(ValidationFailed) as err:
        complete(db, order, "fixed")
    assert err.value.errors[0].field == "notes" and "(speed)" in err.value.errors[0].message
    done = complete(db, order, "fixed", notes="Line fixed; the ISP core is slow tonight")
    assert done.outcome == "fixed" and done.quality_passed is False
    assert "ISP core" in done.notes

    other = book(
        db,
        fleet,
        subscriber_id=fleet.subscribers["FIL-0002"],
        window_start=START - timedelta(hours=1),
    )
    move(db, other, "en_route", "on_site")
    left = complete(db, other, "not_fixed")
    assert left.outcome == "not_fixed" and left.quality_passed is None
    outcomes = [e.case_outcome for e in events if isinstance(e, dispatch.WorkOrderCompleted)]
    assert outcomes == ["truck_roll", "truck_roll"]


def test_list_filters(db: Database, fleet: Fleet, tech: int) -> None:
    a = book(db, fleet, technician_id=tech)
    b = book(db, fleet, subscriber_id=fleet.subscribers["FIL-0002"], kind="upgrade")
    with db.session() as s:
        rows, total = dispatch.list_work_orders(s, dispatch.OrderFilter(technician_id=tech))
        assert ([r.id for r in rows], total) == ([a], 1)
        rows, total = dispatch.list_work_orders(s, dispatch.OrderFilter(kind="upgrade"))
        assert [r.id for r in rows] == [b]
        rows, total = dispatch.list_work_orders(s, dispatch.OrderFilter(repeat=False, limit=1))
        assert (len(rows), total) == (1, 2)
    with pytest.raises(ValidationFailed) as err:
        dispatch.OrderFilter(status="lost", kind="x", limit=0)
    assert {e.field for e in err.value.errors} == {"status", "kind", "limit"}


def test_two_bookings_at_once_cannot_double_book(
    db: Database, fleet: Fleet, tech: int, database_url: str
) -> None:
    """The second booking waits for the first to commit, then sees the clash."""
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL (SQLite runs one writer at a time)")
    import threading

    first = db.transaction()
    session = first.__enter__()
    dispatch.create_work_order(
        session,
        subscriber_id=fleet.subscribers["FIL-0001"],
        kind="repair",
        window_start=START + timedelta(hours=1),
        window_end=START + timedelta(hours=3),
        technician_id=tech,
        actor=ACTOR,
        now=START,
    )
    outcome: list[BaseException | int] = []

    def second() -> None:
        try:
            outcome.append(
                book(db, fleet, subscriber_id=fleet.subscribers["FIL-0002"], technician_id=tech)
            )
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(timeout=1.0)
    assert thread.is_alive() and not outcome  # waiting on the technician's row
    first.__exit__(None, None, None)  # commit the first booking
    thread.join(timeout=10)
    [result] = outcome
    assert isinstance(result, ValidationFailed)
    assert "already booked" in result.errors[0].message
