from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from homeport.core.clock import ManualClock, SystemClock, utc


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is UTC


def test_manual_clock_moves_only_forward() -> None:
    start = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    clock = ManualClock(start)
    assert clock.now() == start and clock.now().tzinfo is UTC
    assert clock.advance(timedelta(hours=1)) == start + timedelta(hours=1)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 1, 1))  # noqa: DTZ001


def test_utc_rejects_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        utc(datetime(2026, 1, 1))  # noqa: DTZ001
