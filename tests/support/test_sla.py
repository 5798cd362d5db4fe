"""Business-hours arithmetic of SLA clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from homeport.support.sla import BadHours, BusinessHours

LONDON = ZoneInfo("Europe/London")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


def test_24x7_is_plain_time() -> None:
    hours = BusinessHours.parse("24x7")
    start = datetime(2026, 12, 4, 19, 0, tzinfo=UTC)
    assert hours.add(start, 4 * 3600) == start + timedelta(hours=4)
    assert hours.between(start, start + timedelta(days=2)) == 2 * 86400


def test_friday_evening_case_is_due_on_monday() -> None:
    hours = BusinessHours.parse("mon-fri 08:00-20:00", LONDON)
    # Friday 4 December 2026, 19:00 London: one business hour left that day.
    due = hours.add(local(2026, 12, 4, 19, 0), 4 * 3600)
    assert due == local(2026, 12, 7, 11, 0)
    assert hours.between(local(2026, 12, 4, 19, 0), due) == 4 * 3600


def test_opened_before_opening_time_starts_at_opening() -> None:
    hours = BusinessHours.parse(
        "mon-fri 08:00-12:00, 13:00-17:00; sat 09:00-13:00", "Europe/London"
    )
    assert hours.add(local(2026, 12, 7, 6, 30), 30 * 60) == local(2026, 12, 7, 8, 30)
    # Lunch is not counted: 11:30 + 1 h = 13:30.
    assert hours.add(local(2026, 12, 7, 11, 30), 3600) == local(2026, 12, 7, 13, 30)
    # Saturday morning counts, Sunday does not.
    assert hours.add(local(2026, 12, 11, 16, 0), 2 * 3600) == local(2026, 12, 12, 10, 0)
    assert hours.add(local(2026, 12, 12, 12, 0), 2 * 3600) == local(2026, 12, 14, 9, 0)


def test_daylight_saving_change_keeps_local_opening_hours() -> None:
    hours = BusinessHours.parse("mon-sun 09:00-17:00", LONDON)
    # Clocks go forward on Sunday 29 March 2026: 09:00 London is 08:00 UTC that day.
    due = hours.add(local(2026, 3, 28, 16, 0), 2 * 3600)
    assert due == local(2026, 3, 29, 10, 0)
    assert due.astimezone(UTC).hour == 9


def test_wrapping_day_range() -> None:
    hours = BusinessHours.parse("sat-mon 10:00-11:00", "UTC")
    friday = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert hours.add(friday, 3 * 3600) == datetime(2026, 12, 7, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "no opening hours"),
        ("mon-fri", "no opening hours"),
        ("funday 09:00-17:00", "unknown day"),
        ("mon 9-17", "bad hours"),
        ("mon 17:00-09:00", "within one day"),
        ("mon 09:00-12:00, 11:00-13:00", "overlapping"),
    ],
)
def test_bad_specs_are_refused_with_a_reason(spec: str, message: str) -> None:
    with pytest.raises(BadHours, match=message):
        BusinessHours.parse(spec)
