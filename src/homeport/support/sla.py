"""Business hours and SLA arithmetic, free of the database.

A business-hours spec is ``"24x7"`` or day ranges with opening hours separated by ``;``, in the
BSP's time zone: ``"mon-fri 08:00-20:00; sat 09:00-13:00"``. A day may have several ranges
(``"mon-fri 08:00-12:00, 13:00-17:00"``). SLA targets count business seconds only: a case opened
on Friday at 19:00 with a 4-hour first-response target under ``mon-fri 08:00-20:00`` is due on
Monday at 11:00. Local times follow daylight-saving changes (zoneinfo).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
#: Far enough to cross any holiday-free calendar; a spec always has some open time.
_MAX_DAYS = 800


class BadHours(ValueError):
    pass


@dataclass(frozen=True)
class BusinessHours:
    """Opening intervals per weekday (0 = Monday), as minutes since local midnight."""

    week: tuple[tuple[tuple[int, int], ...], ...]
    tz: ZoneInfo

    @classmethod
    def parse(cls, spec: str, tz: ZoneInfo | str = "UTC") -> BusinessHours:
        zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        text = spec.strip().lower()
        if text in ("24x7", "24/7", "always"):
            return cls(tuple(((0, 1440),) for _ in DAYS), zone)
        week: list[list[tuple[int, int]]] = [[] for _ in DAYS]
        for part in filter(None, (p.strip() for p in text.split(";"))):
            days, _, ranges = part.partition(" ")
            for day in _days(days):
                for r in filter(None, (x.strip() for x in ranges.split(","))):
                    week[day].append(_minutes(r))
        if not any(week):
            raise BadHours(f"no opening hours in {spec!r}: write e.g. 'mon-fri 08:00-20:00'")
        for intervals in week:
            intervals.sort()
            for (_, end), (start, _) in itertools.pairwise(intervals):
                if start < end:
                    raise BadHours(f"overlapping hours in {spec!r}")
        return cls(tuple(tuple(i) for i in week), zone)

    def _intervals_from(self, moment: datetime) -> list[tuple[datetime, datetime]]:
        """Open intervals (UTC) of the local day of ``moment``, clipped to start at it."""
        local = moment.astimezone(self.tz)
        day = local.date()
        out = []
        for start, end in self.week[day.weekday()]:
            a = _at(day, start, self.tz)
            b = _at(day, end, self.tz)
            if b > moment:
                out.append((max(a, moment), b))
        return out

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` business seconds after ``start``."""
        if seconds <= 0:
            return start
        left = timedelta(seconds=seconds)
        cursor = start.astimezone(UTC)
        for _ in range(_MAX_DAYS):
            for a, b in self._intervals_from(cursor):
                if b - a >= left:
                    return a + left
                left -= b - a
            cursor = _next_local_midnight(cursor, self.tz)
        raise BadHours("business hours too sparse to reach the target")

    def between(self, start: datetime, end: datetime) -> float:
        """Business seconds from ``start`` to ``end`` (0 if ``end`` is not later)."""
        total = 0.0
        cursor = start.astimezone(UTC)
        end = end.astimezone(UTC)
        while cursor < end:
            for a, b in self._intervals_from(cursor):
                if a >= end:
                    break
                total += (min(b, end) - a).total_seconds()
            cursor = _next_local_midnight(cursor, self.tz)
        return total


def _days(spec: str) -> list[int]:
    out: list[int] = []
    for piece in spec.split(","):
        first, _, last = piece.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise BadHours(f"unknown day in {spec!r}: use {', '.join(DAYS)}")
        a = DAYS.index(first)
        b = DAYS.index(last) if last else a
        out.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return out


def _minutes(text: str) -> tuple[int, int]:
    m = _RANGE.match(text)
    if not m:
        raise BadHours(f"bad hours {text!r}: write HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if not (0 <= start < end <= 1440) or m1 > 59 or m2 > 59:
        raise BadHours(f"bad hours {text!r}: the range must lie within one day")
    return start, end


def _at(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    if minutes >= 1440:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=tz).astimezone(UTC)


def _next_local_midnight(moment: datetime, tz: ZoneInfo) -> datetime:
    day = moment.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
