"""The health domain's writes: evaluate a batch of stored reports (detectors → findings with
hysteresis → experience score → outage correlation → remediation and escalation), and the
periodic offline check. Both run inside the caller's transaction; their events (finding opened
or resolved, finding escalated, outage opened or closed) are delivered after it commits.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, func, select, tuple_, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from homeport.core.db import UTCDateTime, among_ids
from homeport.core.health_settings import HealthSettings
from homeport.health import detectors, findings, outages, remediation, score
from homeport.health.detectors.base import HomeContext
from homeport.health.detectors.device import device_offline
from homeport.health.homes import HomeInfo, load_homes
from homeport.health.models import ExperienceScore
from homeport.network.models import Gateway, Home
from homeport.subscribers.models import Subscriber
from homeport.telemetry.models import TelemetryHourly
from homeport.telemetry.schemas import Report

#: How far back the offline check looks at ``gateways.last_seen_at``; a gateway silent longer
#: than this already has its offline finding (opened by an earlier check), which stays open
#: until it reports again.
OFFLINE_LOOKBACK = timedelta(days=1)
#: The optical baseline is the best hourly minimum over this period before the batch.
OPTICAL_BASELINE = timedelta(hours=24)


@dataclass
class Evaluation:
    """What one evaluation did (for logs, the CLI and the benchmark)."""

    reports: int = 0
    skipped: int = 0
    findings_open: int = 0
    opened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)


def context(home: HomeInfo, interval_s: int, baseline: float | None = None) -> HomeContext:
    return HomeContext(
        home_id=home.home_id,
        technology=home.technology,
        plan_down_mbps=home.plan_down_mbps,
        plan_up_mbps=home.plan_up_mbps,
        report_interval_s=interval_s,
        optical_baseline_dbm=baseline,
    )


def evaluate_batch(
    session: Session,
    items: Sequence[tuple[int, Report]],
    *,
    health: HealthSettings,
    report_interval_s: int,
) -> Evaluation:
    """Run the detectors over ``(home_id, report)`` pairs and apply the results.

    Reads the homes, their live findings, optical baselines and the hour's scores in one query
    each, whatever the batch size. Reports of one home are applied oldest first."""
    result = Evaluation()
    if not items:
        return result
    ordered = sorted(items, key=lambda hr: (hr[0], hr[1].ts))
    home_ids = {h for h, _ in ordered}
    homes = load_homes(session, home_ids)
    live = findings.load_live(session, home_ids)
    first_ts = min(r.ts for _, r in ordered)
    baselines = _optical_baselines(
        session, [h for h in home_ids if h in homes and homes[h].technology == "fttp"], first_ts
    )
    scores = _ScoreBatch()
    wan: dict[int, tuple[datetime, str]] = {}
    for home_id, report in ordered:
        home = homes.get(home_id)
        if home is None:
            result.skipped += 1
            continue
        ctx = context(home, report_interval_s, baselines.get(home_id))
        results = detectors.run(report, ctx, health)
        results["device_offline"] = []  # a report is proof of life
        findings.apply(session, live, home_id, results, report.ts, health)
        scores.add(home_id, report.ts, score.subscores(report, ctx, health))
        if report.wan.status != "unknown":
            prev = wan.get(home_id)
            if prev is None or report.ts >= prev[0]:
                wan[home_id] = (report.ts, report.wan.status)
        result.reports += 1
    findings.finish(session, live)
    scores.store(session)
    now = max(r.ts for _, r in ordered)
    outages.correlate(
        session,
        down=[h for h, (_, st) in wan.items() if st == "down"],
        up=[h for h, (_, st) in wan.items() if st == "up"],
        node_of={h: homes[h].access_node_id for h in wan},
        now=now,
        s=health,
    )
    remediation.process(session, live.touched.values(), homes, now, health)
    _count(result, live)
    return result


def check_offline(
    session: Session, *, now: datetime, health: HealthSettings, report_interval_s: int
) -> Evaluation:
    """The periodic check: a gateway silent for ``offline_after_intervals`` intervals gets a
    ``device_offline`` finding (and, with its neighbours, perhaps an outage)."""
    result = Evaluation()
    silent_since = now - timedelta(seconds=health.offline_after_intervals * report_interval_s)
    rows = session.execute(
        select(Gateway.home_id, Gateway.last_seen_at)
        .join(Home, Home.id == Gateway.home_id)
        .join(Subscriber, Subscriber.id == Home.subscriber_id)
        .where(
            Gateway.last_seen_at >= now - OFFLINE_LOOKBACK,
            Gateway.last_seen_at <= silent_since,
            # A suspended or cancelled subscriber's gateway going silent is expected.
            Subscriber.status == "active",
        )
    ).all()
    last_seen = {int(h): ts for h, ts in rows if ts is not None}
    if not last_seen:
        return result
    homes = load_homes(session, last_seen)
    live = findings.load_live(session, last_seen)
    for home_id, last in sorted(last_seen.items()):
        home = homes.get(home_id)
        if home is None:
            continue
        cond = device_offline(last, now, context(home, report_interval_s), health)
        findings.apply(
            session, live, home_id, {"device_offline": [cond] if cond else []}, now, health
        )
        result.reports += 1
    findings.finish(session, live)
    outages.correlate(
        session,
        down=list(last_seen),
        up=[],
        node_of={h: homes[h].access_node_id for h in last_seen if h in homes},
        now=now,
        s=health,
    )
    remediation.process(session, live.touched.values(), homes, now, health)
    _count(result, live)
    return result


def _count(result: Evaluation, live: findings.Live) -> None:
    result.opened = [f.id for f in live.opened]
    result.resolved = [f.id for f in live.resolved]
    result.findings_open = sum(1 for f in live.touched.values() if f.status == "open")


def _optical_baselines(session: Session, home_ids: list[int], before: datetime) -> dict[int, float]:
    if not home_ids:
        return {}
    rows = session.execute(
        select(TelemetryHourly.home_id, func.max(TelemetryHourly.optical_rx_dbm_min))
        .where(
            among_ids(session, TelemetryHourly.home_id, sorted(home_ids)),
            TelemetryHourly.period_start >= before - OPTICAL_BASELINE,
            TelemetryHourly.period_start < before,
            TelemetryHourly.optical_rx_dbm_min.is_not(None),
        )
        .group_by(TelemetryHourly.home_id)
    )
    return {h: float(v) for h, v in rows if v is not None}


def hour_of(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


class _ScoreBatch:
    """Sub-scores of the batch's reports, averaged per (home, hour) into experience_scores."""

    def __init__(self) -> None:
        self.n: Counter[tuple[int, datetime]] = Counter()
        self.sums: dict[tuple[int, datetime], dict[str, float]] = {}
        self.reasons: dict[tuple[int, datetime], dict[str, Counter[str]]] = {}

    def add(self, home_id: int, ts: datetime, sub: score.SubScores) -> None:
        key = (home_id, hour_of(ts))
        self.n[key] += 1
        sums = self.sums.get(key)
        reasons: dict[str, Counter[str]]
        if sums is None:
            sums = self.sums[key] = dict.fromkeys(score.SUBSCORES, 0.0)
            reasons = self.reasons[key] = defaultdict(Counter)
        else:
            reasons = self.reasons[key]
        for name in score.SUBSCORES:
            sums[name] += sub.values[name]
        for name, found in sub.reasons.items():
            reasons[name].update(found)

    def store(self, session: Session) -> None:
        """Merge the batch into the stored hours: one SELECT, then one executemany INSERT for
        new hours and one executemany UPDATE for hours already started (Core, no ORM rows)."""
        if not self.n:
            return
        table: Table = ExperienceScore.__table__  # type: ignore[assignment]
        keys = sorted(self.n)
        postgres = session.get_bind().dialect.name == "postgresql"
        existing: dict[tuple[int, datetime], Sequence[Any]]
        if postgres:
            existing = _read_postgresql(session, keys)
        else:
            cols = [table.c[name] for name in score.SUBSCORES]
            existing = {
                (r[0], r[1]): r
                for r in session.execute(
                    select(table.c.home_id, table.c.period_start, table.c.explanation, *cols).where(
                        tuple_(table.c.home_id, table.c.period_start).in_(keys)
                    )
                )
            }
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for key in keys:
            n = self.n[key]
            row = existing.get(key)
            old_expl: dict[str, Any] = (row[2] or {}) if row is not None else {}
            old_n = int(old_expl.get("samples", 0))
            values: dict[str, float] = {}
            for i, name in enumerate(score.SUBSCORES):
                old = float(row[3 + i]) * old_n if row is not None else 0.0
                values[name] = (old + self.sums[key][name]) / (old_n + n)
            merged: dict[str, dict[str, int]] = {}
            old_reasons = old_expl.get("reasons", {})
            new_reasons = self.reasons[key]
            for name in score.SUBSCORES:
                before, added = old_reasons.get(name), new_reasons.get(name)
                if not before and not added:
                    continue  # nothing to keep for this sub-score
                c = Counter({str(k): int(v) for k, v in before.items()} if before else ())
                if added:
                    c.update(added)
                merged[name] = dict(c.most_common(5))
            params = {
                **values,
                "score": score.combine(values),
                "explanation": {
                    **score.explain(values, merged),
                    "samples": old_n + n,
                    "reasons": merged,
                },
            }
            if row is None:
                inserts.append({"home_id": key[0], "period_start": key[1], **params})
            else:
                updates.append({"b_home": key[0], "b_start": key[1], **params})
        if postgres:
            _store_postgresql(session, inserts, updates)
            return
        if inserts:
            # Another process may have started the same hour a moment ago: its row stays, this
            # batch's samples of that hour are dropped rather than failing the evaluation.
            session.execute(
                sqlite.insert(table).on_conflict_do_nothing(
                    index_elements=["home_id", "period_start"]
                ),
                inserts,
            )
        if updates:
            session.execute(
                update(table)
                .where(
                    table.c.home_id == bindparam("b_home"),
                    table.c.period_start == bindparam("b_start", type_=UTCDateTime()),
                )
                .values(
                    {name: bindparam(name) for name in (*score.SUBSCORES, "score", "explanation")}
                ),
                updates,
            )


#: On PostgreSQL the hours are read and written with the rows as arrays, one statement each, in
#: binary format: the server runs one UPDATE instead of one per row (as an executemany does,
#: even pipelined), no SQL is compiled per batch (as a multi-row VALUES or a long IN list is),
#: and the parameters go in binary (``%b``: a text-format array of JSON strings would be
#: escaped character by character on the client).
_SCORE_VALUES = ("score", *score.SUBSCORES)
_SCORE_COLUMNS = ", ".join(("home_id", "period_start", *_SCORE_VALUES, "explanation"))
_SCORE_KEYS = (
    "unnest(%b::integer[], %b::timestamptz[]) AS k(home_id, period_start) "
    "ON e.home_id = k.home_id AND e.period_start = k.period_start"
)
_SCORE_READ = (
    "SELECT e.home_id, e.period_start, e.explanation, "  # noqa: S608 (names from the model)
    + ", ".join(f"e.{name}" for name in score.SUBSCORES)
    + f" FROM experience_scores AS e JOIN {_SCORE_KEYS}"
)
#: Home ids, hours, the six scores, the explanations as JSON text (serialised as SQLAlchemy's
#: JSON type does, so the stored text is the same).
_SCORE_ROWS = (
    "unnest(%b::integer[], %b::timestamptz[], "
    + ", ".join("%b::float8[]" for _ in _SCORE_VALUES)
    + f", %b::text[]) AS v({_SCORE_COLUMNS})"
)
_SCORE_INSERT = (
    f"INSERT INTO experience_scores ({_SCORE_COLUMNS}) "  # noqa: S608 (names from the model)
    f"SELECT home_id, period_start, {', '.join(_SCORE_VALUES)}, explanation::json "
    f"FROM {_SCORE_ROWS} ON CONFLICT (home_id, period_start) DO NOTHING"
)
_SCORE_UPDATE = (
    "UPDATE experience_scores AS e SET "  # noqa: S608 (names from the model)
    + ", ".join(f"{name} = v.{name}" for name in _SCORE_VALUES)
    + f", explanation = v.explanation::json FROM {_SCORE_ROWS} "
    "WHERE e.home_id = v.home_id AND e.period_start = v.period_start"
)


def _cursor(session: Session) -> Any:
    return session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]


def _read_postgresql(
    session: Session, keys: list[tuple[int, datetime]]
) -> dict[tuple[int, datetime], Sequence[Any]]:
    with _cursor(session) as cur:
        cur.execute(
            _SCORE_READ,
            ([h for h, _ in keys], [start.astimezone(UTC) for _, start in keys]),
            binary=True,
        )
        return {(r[0], r[1]): r for r in cur.fetchall()}


def _store_postgresql(
    session: Session, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]
) -> None:
    with _cursor(session) as cur:
        for sql, rows, home, start in (
            (_SCORE_INSERT, inserts, "home_id", "period_start"),
            (_SCORE_UPDATE, updates, "b_home", "b_start"),
        ):
            if rows:
                cur.execute(
                    sql,
                    (
                        [r[home] for r in rows],
                        [r[start].astimezone(UTC) for r in rows],
                        *([float(r[name]) for r in rows] for name in _SCORE_VALUES),
                        [json.dumps(r["explanation"]) for r in rows],
                    ),
                    binary=True,
                )
