"""Lifestyle segments inferred from the home network (``subscriber_segments``).

What Homeport sees of a home, and what it makes of it:

- **Device mix** (``client_devices`` seen in the last :data:`DEVICE_WINDOW`): computers
  (laptop, desktop), screens (TV, streamer), consoles, smart devices (IoT, camera, speaker) and
  personal devices (phone, tablet, wearable).
- **When the connection is used**: the raw telemetry reports of the last :data:`USAGE_WINDOW`
  list the clients on the Wi-Fi at each report, with their kind. Each report is placed in a part
  of the *local* day (the BSP's time zone): weekday working hours (09:00–17:00) or the evening
  (18:00–23:00, every day). Per home and part, the number of reports and how many of them had a
  computer, a screen, a console or a personal device on the network (and how many of each, on
  average). The telemetry contract has no per-client traffic counters, so presence on the
  network stands in for use: a laptop on the Wi-Fi through the working day, day after day,
  is the work-from-home signal; consoles online most evenings the gamer's.

Rules (Homeport defaults, not published thresholds; each segment keeps the facts it rests on,
in words an agent can read out):

- ``work_from_home``: a computer on the network for at least half of a weekday's working hours
  on :data:`WFH_MIN_DAYS` or more weekdays (or, without telemetry, three computers and a
  printer);
- ``gamer``: two consoles, or one with a desktop PC or with consoles online most evenings;
- ``streamer``: three screens, or two with an evening peak (more clients in the evening than
  during the working day);
- ``smart_home``: :data:`SMART_MIN` smart devices (IoT, cameras, speakers) or more;
- ``family``: :data:`FAMILY_MIN` personal devices or more (phones, tablets, wearables), or two
  tablets among at least four;
- ``light_user``: none of the above, one to :data:`LIGHT_MAX_DEVICES` devices and (with
  telemetry) at most :data:`LIGHT_MAX_ONLINE` of them online on average.

:func:`compute_segments` reads all of that in a few grouped queries per chunk of homes (set-based,
no query per home) and replaces each computed subscriber's rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from homeport.core.writes import chunks
from homeport.network.models import ClientDevice, Home
from homeport.retention.models import SEGMENTS, SubscriberSegment
from homeport.subscribers.models import Subscriber
from homeport.telemetry.models import TelemetryReport

#: Devices count when seen this recently (a phone with a private MAC shows up under a new
#: address now and then; older addresses drop out of the mix).
DEVICE_WINDOW = timedelta(days=30)
#: Raw reports read for the usage pattern (within the raw-retention window, 14 days by default).
USAGE_WINDOW = timedelta(days=7)
#: Local working hours on weekdays, and the evening, as [start, end) hours.
WORK_HOURS = (9, 17)
EVENING_HOURS = (18, 23)
#: A part of a day counts as "in use" by a group when the group was on the network in at least
#: this share of that part's reports.
ACTIVE_SHARE = 0.5
WFH_MIN_DAYS = 3
SMART_MIN = 6
FAMILY_MIN = 6
LIGHT_MAX_DEVICES = 6
LIGHT_MAX_ONLINE = 3.0
#: Evening clients this many times the working-day clients: an evening peak.
EVENING_PEAK_RATIO = 1.15
#: Device kinds by group.
GROUPS: dict[str, tuple[str, ...]] = {
    "computer": ("laptop", "desktop"),
    "screen": ("tv", "streamer"),
    "console": ("console",),
    "smart": ("iot", "camera", "speaker"),
    "personal": ("phone", "tablet", "wearable"),
}
#: Homes per chunk of ``IN (...)`` lookups (well under SQLite's bound-parameter limit).
CHUNK = 2000


@dataclass(frozen=True)
class Part:
    """One part of one local day: weekday working hours or the evening."""

    kind: str  # "work" | "evening"
    day: date
    start: datetime  # UTC
    end: datetime

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.day.isoformat()}"


def day_parts(now: datetime, zone: ZoneInfo, window: timedelta = USAGE_WINDOW) -> list[Part]:
    """The working-hour and evening parts of the local days in ``[now - window, now)``, as UTC
    intervals (exact across a daylight-saving change)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    since = now - window
    first = since.astimezone(zone).date()
    last = now.astimezone(zone).date()
    parts: list[Part] = []
    day = first
    while day <= last:
        spans = [("evening", EVENING_HOURS)]
        if day.weekday() < 5:
            spans.insert(0, ("work", WORK_HOURS))
        for kind, (h0, h1) in spans:
            start = datetime.combine(day, time(h0), zone).astimezone(UTC)
            end = datetime.combine(day, time(h1), zone).astimezone(UTC)
            start, end = max(start, since), min(end, now)
            if start < end:
                parts.append(Part(kind, day, start, end))
        day += timedelta(days=1)
    return parts


@dataclass
class PartUsage:
    """One home's reports in one part of a day, and who was on the network."""

    reports: int = 0
    clients_avg: float = 0.0
    #: Reports with at least one device of the group online.
    with_group: dict[str, int] = field(default_factory=dict)
    #: Devices of the group online, summed over the reports.
    group_sum: dict[str, int] = field(default_factory=dict)

    def share(self, group: str) -> float:
        return self.with_group.get(group, 0) / self.reports if self.reports else 0.0


@dataclass
class HomeUsage:
    """What one home's devices and telemetry say (input of the rules)."""

    subscriber_id: int
    home_id: int
    devices: dict[str, int] = field(default_factory=dict)  # kind -> count
    parts: dict[str, PartUsage] = field(default_factory=dict)  # Part.label -> usage
    part_kinds: dict[str, str] = field(default_factory=dict)  # Part.label -> "work"|"evening"

    def count(self, group: str) -> int:
        return sum(self.devices.get(k, 0) for k in GROUPS[group])

    @property
    def total_devices(self) -> int:
        return sum(self.devices.values())

    @property
    def has_telemetry(self) -> bool:
        return any(p.reports for p in self.parts.values())

    def _of(self, kind: str) -> list[PartUsage]:
        return [
            p for label, p in self.parts.items() if self.part_kinds[label] == kind and p.reports
        ]

    def active_days(self, kind: str, group: str) -> tuple[int, int]:
        """(days with ``group`` online for most of that part, days with reports in it)."""
        parts = self._of(kind)
        return sum(p.share(group) >= ACTIVE_SHARE for p in parts), len(parts)

    def clients_avg(self, kind: str) -> float | None:
        parts = self._of(kind)
        n = sum(p.reports for p in parts)
        return sum(p.clients_avg * p.reports for p in parts) / n if n else None

    def online_avg(self, kind: str, group: str) -> float | None:
        """Devices of ``group`` online on average in the ``kind`` parts (None without reports)."""
        parts = self._of(kind)
        n = sum(p.reports for p in parts)
        return sum(p.group_sum.get(group, 0) for p in parts) / n if n else None

    @property
    def evening_peak(self) -> bool:
        evening, work = self.clients_avg("evening"), self.clients_avg("work")
        if evening is None or work is None or work <= 0:
            return False
        return evening >= EVENING_PEAK_RATIO * work


@dataclass(frozen=True)
class Segment:
    segment: str
    confidence: float
    facts: tuple[str, ...]
    signals: dict[str, Any]

    @property
    def evidence(self) -> dict[str, Any]:
        return {"facts": list(self.facts), "signals": self.signals}


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _clamp(x: float) -> float:
    return round(max(0.05, min(0.95, x)), 2)


def _hours(span: tuple[int, int]) -> str:
    return f"{span[0]:02d}:00–{span[1]:02d}:00"


def classify(u: HomeUsage) -> list[Segment]:
    """The segments one home falls in, each with its confidence and facts (pure: no I/O)."""
    found: list[Segment] = []
    computers, screens, consoles = u.count("computer"), u.count("screen"), u.count("console")
    smart, personal = u.count("smart"), u.count("personal")
    desktops, tablets = u.devices.get("desktop", 0), u.devices.get("tablet", 0)

    # Work from home.
    wfh_days, work_days = u.active_days("work", "computer")
    printers = u.devices.get("printer", 0)
    if computers and wfh_days >= WFH_MIN_DAYS:
        what = "laptop" if u.devices.get("laptop") else "computer"
        facts = [f"{what} active {_hours(WORK_HOURS)} on {_n(wfh_days, 'weekday')}"]
        facts.append(_n(computers, "computer"))
        if printers:
            facts.append(_n(printers, "printer"))
        conf = 0.45 + 0.1 * wfh_days + 0.05 * min(computers - 1, 2) + (0.05 if printers else 0)
        found.append(
            Segment(
                "work_from_home",
                _clamp(conf),
                tuple(facts),
                {"computers": computers, "days": wfh_days, "weekdays": work_days},
            )
        )
    elif not u.has_telemetry and computers >= 3 and printers:
        found.append(
            Segment(
                "work_from_home",
                0.4,
                (_n(computers, "computer"), _n(printers, "printer"), "no recent telemetry"),
                {"computers": computers, "printers": printers},
            )
        )

    # Gamer: consoles (latency-sensitive), evening play.
    evenings, evening_days = u.active_days("evening", "console")
    console_evenings = evenings >= max(2, (evening_days + 1) // 2)
    if consoles >= 2 or (consoles and (desktops or console_evenings)):
        facts = [_n(consoles, "console")]
        if console_evenings:
            facts.append(f"online most evenings ({evenings} of {evening_days})")
        if u.evening_peak:
            facts.append("evening peak")
        if desktops:
            facts.append(_n(desktops, "desktop PC"))
        conf = 0.45 + 0.15 * min(consoles - 1, 2) + (0.2 if console_evenings else 0)
        conf += 0.05 if u.evening_peak else 0
        conf += 0.05 if desktops else 0
        found.append(
            Segment(
                "gamer",
                _clamp(conf),
                tuple(facts),
                {"consoles": consoles, "evenings": evenings, "desktops": desktops},
            )
        )

    # Streamer: screens, evening peak.
    if screens >= 3 or (screens >= 2 and u.evening_peak):
        facts = [_n(screens, "TV or streaming stick", "TVs and streaming sticks")]
        online = u.online_avg("evening", "screen")
        if online is not None:
            facts.append(f"{online:.1f} screens online on average in the evening")
        if u.evening_peak:
            facts.append("evening peak")
        conf = 0.45 + 0.1 * min(screens - 2, 3) + (0.15 if u.evening_peak else 0)
        found.append(
            Segment(
                "streamer",
                _clamp(conf),
                tuple(facts),
                {"screens": screens, "evening_peak": u.evening_peak},
            )
        )

    # Smart home.
    if smart >= SMART_MIN:
        cameras = u.devices.get("camera", 0)
        facts = [_n(smart, "smart device")]
        if cameras:
            facts.append(_n(cameras, "camera"))
        conf = 0.5 + 0.04 * (smart - SMART_MIN) + 0.05 * min(cameras, 2)
        found.append(
            Segment("smart_home", _clamp(conf), tuple(facts), {"smart": smart, "cameras": cameras})
        )

    # Family: many personal devices.
    if personal >= FAMILY_MIN or (tablets >= 2 and personal >= 4):
        phones = u.devices.get("phone", 0)
        facts = [_n(phones, "phone")]
        if tablets:
            facts.append(_n(tablets, "tablet"))
        if u.devices.get("wearable"):
            facts.append(_n(u.devices["wearable"], "wearable"))
        conf = 0.45 + 0.06 * (personal - 4) + 0.05 * min(tablets, 3)
        found.append(
            Segment(
                "family",
                _clamp(conf),
                tuple(facts),
                {"personal": personal, "phones": phones, "tablets": tablets},
            )
        )

    # Light user: nothing else, few devices, little online.
    online_all = _online_all(u)
    if (
        not found
        and 0 < u.total_devices <= LIGHT_MAX_DEVICES
        and (online_all is None or online_all <= LIGHT_MAX_ONLINE)
    ):
        facts = [_n(u.total_devices, "device")]
        if online_all is not None:
            facts.append(f"{online_all:.1f} online on average")
        conf = 0.5 + 0.05 * (LIGHT_MAX_DEVICES - u.total_devices)
        if online_all is not None:
            conf += 0.1
        found.append(
            Segment(
                "light_user",
                _clamp(conf),
                tuple(facts),
                {"devices": u.total_devices, "online_avg": online_all},
            )
        )
    return found


def _online_all(u: HomeUsage) -> float | None:
    n = sum(p.reports for p in u.parts.values())
    if not n:
        return None
    return round(sum(p.clients_avg * p.reports for p in u.parts.values()) / n, 1)


# --- Reading the home network --------------------------------------------------------------


def _group_of(kind: ColumnElement[Any]) -> ColumnElement[Any]:
    return case(
        *[(kind.in_(kinds), name) for name, kinds in GROUPS.items() if name != "smart"],
        else_=None,
    )


def _part_label(parts: Sequence[Part]) -> ColumnElement[Any]:
    ts = TelemetryReport.ts
    return case(*[(and_(ts >= p.start, ts < p.end), p.label) for p in parts], else_=None)


def _client_kind(session: Session) -> tuple[Any, ColumnElement[Any]]:
    """The clients of each report as a table-valued function, and the client's kind."""
    if session.get_bind().dialect.name == "postgresql":
        elems = func.json_array_elements(TelemetryReport.detail["clients"]).table_valued(
            "value", joins_implicitly=True
        )
        return elems, elems.c.value.op("->>")("kind")
    elems = func.json_each(TelemetryReport.detail, "$.clients").table_valued(
        "value", joins_implicitly=True
    )
    return elems, func.json_extract(elems.c.value, "$.kind")


def read_usage(
    session: Session,
    homes: dict[int, int],
    *,
    now: datetime,
    zone: ZoneInfo,
) -> dict[int, HomeUsage]:
    """Device mix and usage by part of day of ``homes`` (home id → subscriber id): three grouped
    queries per :data:`CHUNK` homes."""
    parts = day_parts(now, zone)
    kinds = {p.label: p.kind for p in parts}
    out = {h: HomeUsage(s, h, part_kinds=dict(kinds)) for h, s in homes.items()}
    ids = sorted(homes)
    seen_since = now - DEVICE_WINDOW
    for chunk in chunks(ids, CHUNK):
        for home_id, kind, n in session.execute(
            select(ClientDevice.home_id, ClientDevice.kind, func.count())
            .where(
                ClientDevice.home_id.in_(chunk),
                or_(ClientDevice.last_seen_at.is_(None), ClientDevice.last_seen_at >= seen_since),
            )
            .group_by(ClientDevice.home_id, ClientDevice.kind)
        ):
            out[home_id].devices[kind] = int(n)
        if not parts:
            continue
        window = and_(
            TelemetryReport.home_id.in_(chunk),
            TelemetryReport.ts >= parts[0].start,
            TelemetryReport.ts < parts[-1].end,
        )
        label = _part_label(parts).label("part")
        for home_id, part, n, clients in session.execute(
            select(TelemetryReport.home_id, label, func.count(), func.avg(TelemetryReport.clients))
            .where(window)
            .group_by(TelemetryReport.home_id, label)
        ):
            if part is not None and home_id is not None:
                out[home_id].parts[part] = PartUsage(int(n), float(clients or 0.0))
        elems, client_kind = _client_kind(session)
        group = _group_of(client_kind).label("grp")
        for home_id, part, grp, reports, devices in session.execute(
            select(
                TelemetryReport.home_id,
                label,
                group,
                func.count(func.distinct(TelemetryReport.id)),
                func.count(),
            )
            .select_from(TelemetryReport, elems)
            .where(window)
            .group_by(TelemetryReport.home_id, label, group)
        ):
            if part is None or grp is None or home_id is None:
                continue
            usage = out[home_id].parts.get(part)
            if usage is not None:
                usage.with_group[grp] = int(reports)
                usage.group_sum[grp] = int(devices)
    return out


def homes_of(session: Session, subscriber_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Home id → subscriber id for active subscribers (all, or those of ``subscriber_ids``)."""
    q = (
        select(Home.id, Home.subscriber_id)
        .join(Subscriber, Subscriber.id == Home.subscriber_id)
        .where(Subscriber.status == "active")
    )
    if subscriber_ids is not None:
        wanted = sorted(set(subscriber_ids))
        found: dict[int, int] = {}
        for chunk in chunks(wanted, CHUNK):
            found.update(_pairs(session.execute(q.where(Home.subscriber_id.in_(chunk)))))
        return found
    return _pairs(session.execute(q))


def _pairs(rows: Iterable[Any]) -> dict[int, int]:
    return {int(h): int(s) for h, s in rows}


@dataclass(frozen=True)
class SegmentRun:
    homes: int
    rows: int
    by_segment: dict[str, int]


def compute_segments(
    session: Session,
    now: datetime,
    *,
    zone: ZoneInfo | None = None,
    subscriber_ids: Iterable[int] | None = None,
) -> SegmentRun:
    """Infer the segments of every active subscriber's home (or of ``subscriber_ids``) and
    replace their ``subscriber_segments`` rows, in the caller's transaction."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = zone or ZoneInfo("UTC")
    homes = homes_of(session, subscriber_ids)
    ids = sorted(homes)
    rows = 0
    by_segment: dict[str, int] = defaultdict(int)
    for part in chunks(ids, CHUNK):
        chunk = {h: homes[h] for h in part}
        usage = read_usage(session, chunk, now=now, zone=zone)
        values: list[dict[str, Any]] = []
        for u in usage.values():
            for seg in classify(u):
                assert seg.segment in SEGMENTS
                by_segment[seg.segment] += 1
                values.append(
                    {
                        "subscriber_id": u.subscriber_id,
                        "segment": seg.segment,
                        "confidence": seg.confidence,
                        "evidence": seg.evidence,
                        "computed_at": now,
                    }
                )
        subs = sorted(chunk.values())
        session.execute(delete(SubscriberSegment).where(SubscriberSegment.subscriber_id.in_(subs)))
        if values:
            session.execute(insert(SubscriberSegment), values)
        rows += len(values)
    return SegmentRun(len(homes), rows, dict(by_segment))


def segments_of(session: Session, subscriber_id: int) -> list[SubscriberSegment]:
    """The stored segments of one subscriber, most confident first."""
    return list(
        session.scalars(
            select(SubscriberSegment)
            .where(SubscriberSegment.subscriber_id == subscriber_id)
            .order_by(SubscriberSegment.confidence.desc(), SubscriberSegment.segment)
        )
    )


def segments_for(
    session: Session, subscriber_ids: Sequence[int]
) -> dict[int, dict[str, SubscriberSegment]]:
    """``subscriber id → {segment: row}`` for many subscribers (one query per chunk)."""
    out: dict[int, dict[str, SubscriberSegment]] = defaultdict(dict)
    ids = sorted(set(subscriber_ids))
    for chunk in chunks(ids, CHUNK):
        for row in session.scalars(
            select(SubscriberSegment).where(SubscriberSegment.subscriber_id.in_(chunk))
        ):
            out[row.subscriber_id][row.segment] = row
    return out


__all__ = [
    "SEGMENTS",
    "HomeUsage",
    "PartUsage",
    "Segment",
    "SegmentRun",
    "classify",
    "compute_segments",
    "day_parts",
    "homes_of",
    "read_usage",
    "segments_for",
    "segments_of",
]
