"""Churn-risk features per subscriber as of a cut-off time T, from Homeport's own signals.

Every feature reads only what was recorded at or before T (a case opened after T, a score of a
later hour, a survey answered later: none of them count), so that the same function gives the
training snapshots of the past and today's scoring. The queries are set-based (one aggregate
per source table, grouped by subscriber) and portable between SQLite and PostgreSQL; the
results land in numpy arrays aligned on the subscriber ids, in the order of :data:`FEATURES`.

Who is scored at T: subscribers activated at or before T and not churned at T
(``activated_at <= T`` and ``churned_at`` empty or after T; never a prospect).

Plan, price, bundles and access technology have no history in Homeport (only the current
value is stored), so they are read as they are now; everything else is time-stamped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Float, and_, case, cast, func, literal, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from homeport.core.db import UTCDateTime
from homeport.health.models import ExperienceScore, Finding, OutageMember
from homeport.journey.models import Survey
from homeport.network.models import Home
from homeport.selfservice.models import EngagementEvent
from homeport.subscribers.models import Plan, Subscriber, subscriber_bundles
from homeport.support.models import Case, Interaction, WorkOrder

#: Case categories that are Homeport's own retention work, not the subscriber's contacts.
RETENTION_CATEGORIES = ("at_risk", "retention_follow_up")
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}

#: Numeric features, in matrix order. Counts are log-scaled by the model (:data:`COUNTS`).
FEATURES: tuple[str, ...] = (
    "tenure_months",
    "monthly_price",
    "down_mbps",
    "bundles",
    "score_recent",
    "score_previous",
    "score_change",
    "findings_open",
    "findings_severe",
    "contacts_30d",
    "cases_30d",
    "cases_90d",
    "cancel_requests_90d",
    "truck_rolls_90d",
    "nps",
    "csat",
    "app_events_30d",
    "days_since_app",
    "outages_90d",
)
#: Categorical features (one-hot in the model).
CATEGORICAL: tuple[str, ...] = ("technology",)
COUNTS: tuple[str, ...] = (
    "bundles",
    "findings_open",
    "findings_severe",
    "contacts_30d",
    "cases_30d",
    "cases_90d",
    "cancel_requests_90d",
    "truck_rolls_90d",
    "app_events_30d",
    "outages_90d",
)
#: When the subscriber never used self-service, "days since" counts from activation.
APP_NEVER = "days_since_app"


@dataclass
class FeatureFrame:
    """Features of many subscribers at one cut-off: ``numeric`` is (n, len(FEATURES)) float64
    with NaN where there is nothing to measure (no score, no survey answer); ``categorical`` is
    (n, len(CATEGORICAL)) of str; ``top_category`` is each subscriber's most frequent case
    category in the last 30 days ('' when none), for the reasons."""

    at: datetime
    subscriber_ids: np.ndarray
    numeric: np.ndarray
    categorical: np.ndarray
    top_category: np.ndarray

    def __len__(self) -> int:
        return len(self.subscriber_ids)

    def column(self, name: str) -> np.ndarray:
        return self.numeric[:, FEATURES.index(name)]

    def take(self, rows: np.ndarray) -> FeatureFrame:
        return FeatureFrame(
            self.at,
            self.subscriber_ids[rows],
            self.numeric[rows],
            self.categorical[rows],
            self.top_category[rows],
        )


def _at(value: datetime) -> ColumnElement[Any]:
    return literal(value, UTCDateTime())


def days_between(session: Session, later: datetime, earlier: Any) -> ColumnElement[Any]:
    """``later - earlier`` in days (fractional), computed by the database."""
    if session.get_bind().dialect.name == "sqlite":
        return func.julianday(_at(later)) - func.julianday(earlier)
    return func.extract("epoch", _at(later) - earlier) / 86400.0


def in_force(at: datetime) -> list[ColumnElement[bool]]:
    """Subscribers who were customers at ``at``: activated by then and not churned by then."""
    return [
        Subscriber.status != "prospect",  # never a customer (whatever the dates say)
        Subscriber.activated_at.is_not(None),
        Subscriber.activated_at <= at,
        or_(Subscriber.churned_at.is_(None), Subscriber.churned_at > at),
    ]


def _fill(
    ids: np.ndarray, out: np.ndarray, rows: Sequence[Any], *columns: int, default: float = 0.0
) -> None:
    """Put grouped rows (subscriber id first) into ``out[:, columns]`` by subscriber; a NULL
    becomes ``default``. Rows of subscribers not in ``ids`` are dropped."""
    if not rows or not len(ids):
        return
    data = np.array([tuple(r) for r in rows], dtype=np.float64)  # None -> NaN
    keys = data[:, 0].astype(np.int64)
    pos = np.searchsorted(ids, keys).clip(0, len(ids) - 1)
    hit = ids[pos] == keys
    for i, col in enumerate(columns, start=1):
        values = data[hit, i]
        out[pos[hit], col] = np.where(np.isnan(values), default, values)


def _fetch(conn: Connection, statement: Executable) -> list[Any]:
    """The rows as the driver returns them: plain tuples of numbers and text, without a Row
    object per row (a million rows of SQLAlchemy's rows cost seconds)."""
    result = conn.execute(statement)
    rows = list(result.cursor.fetchall()) if result.cursor is not None else []
    result.close()
    return rows


def compute(
    session: Session,
    at: datetime,
    *,
    subscriber_ids: Sequence[int] | np.ndarray | None = None,
) -> FeatureFrame:
    """The features of every subscriber in force at ``at`` (or of ``subscriber_ids`` among
    them), reading nothing recorded after ``at``."""
    #: Only these subscribers (a short list is filtered in SQL; a long one after the read).
    few = (
        sorted({int(i) for i in subscriber_ids})
        if subscriber_ids is not None and len(subscriber_ids) <= 10_000
        else None
    )

    def restrict(column: Any) -> list[ColumnElement[bool]]:
        return [column.in_(few)] if few is not None else []

    # Core rows (not ORM) and plain floats: the per-row cost is what matters at 1M rows.
    conn = session.connection()
    base = _fetch(
        conn,
        select(
            Subscriber.id,
            days_between(session, at, Subscriber.activated_at),
            cast(Plan.monthly_price, Float),
            Plan.down_mbps,
        )
        .outerjoin(Plan, Plan.id == Subscriber.plan_id)
        .where(*in_force(at), *restrict(Subscriber.id))
        .order_by(Subscriber.id),
    )
    ids = np.array([r[0] for r in base], dtype=np.int64)
    if subscriber_ids is not None:
        keep = np.isin(ids, np.asarray(list(subscriber_ids), dtype=np.int64))
        base = [r for r, k in zip(base, keep.tolist(), strict=True) if k]
        ids = ids[keep]
    n = len(ids)
    x = np.zeros((n, len(FEATURES)), dtype=np.float64)
    col = {name: i for i, name in enumerate(FEATURES)}
    if n:
        arr = np.array([tuple(r[1:]) for r in base], dtype=np.float64)
        x[:, col["tenure_months"]] = np.nan_to_num(arr[:, 0]) / (365.25 / 12)
        x[:, col["monthly_price"]] = arr[:, 1]
        x[:, col["down_mbps"]] = arr[:, 2]
    tech = np.full((n, len(CATEGORICAL)), "none", dtype=object)
    top = np.full(n, "", dtype=object)
    frame = FeatureFrame(at, ids, x, tech, top)
    if not n:
        return frame
    d7, d30, d90 = at - timedelta(days=7), at - timedelta(days=30), at - timedelta(days=90)
    d28 = at - timedelta(days=28)

    rows = _fetch(
        conn,
        select(subscriber_bundles.c.subscriber_id, func.count())
        .where(*restrict(subscriber_bundles.c.subscriber_id))
        .group_by(subscriber_bundles.c.subscriber_id),
    )
    _fill(ids, x, rows, col["bundles"])

    rows = _fetch(
        conn, select(Home.subscriber_id, Home.technology).where(*restrict(Home.subscriber_id))
    )
    if rows:
        keys = np.array([r[0] for r in rows], dtype=np.int64)
        pos = np.searchsorted(ids, keys).clip(0, n - 1)
        hit = ids[pos] == keys
        tech[pos[hit], 0] = np.array([r[1] for r in rows], dtype=object)[hit]

    # Experience score: mean of the hourly scores of the last 7 days and of the 21 before.
    recent = ExperienceScore.period_start > d7
    score_rows = _fetch(
        conn,
        select(
            Home.subscriber_id,
            func.avg(case((recent, ExperienceScore.score))),
            func.avg(case((~recent, ExperienceScore.score))),
        )
        .join(ExperienceScore, ExperienceScore.home_id == Home.id)
        .where(
            ExperienceScore.period_start > d28,
            ExperienceScore.period_start <= at - timedelta(hours=1),
            *restrict(Home.subscriber_id),
        )
        .group_by(Home.subscriber_id),
    )
    x[:, col["score_recent"]] = np.nan
    x[:, col["score_previous"]] = np.nan
    _fill(ids, x, score_rows, col["score_recent"], col["score_previous"], default=np.nan)
    x[:, col["score_change"]] = x[:, col["score_recent"]] - x[:, col["score_previous"]]

    # Findings open at T (opened by then, not resolved by then), and the warning/critical ones.
    severe = Finding.severity.in_(("warning", "critical"))
    rows = _fetch(
        conn,
        select(Home.subscriber_id, func.count(), func.sum(case((severe, 1), else_=0)))
        .join(Finding, Finding.home_id == Home.id)
        .where(
            Finding.opened_at.is_not(None),
            Finding.opened_at <= at,
            or_(Finding.resolved_at.is_(None), Finding.resolved_at > at),
            *restrict(Home.subscriber_id),
        )
        .group_by(Home.subscriber_id),
    )
    _fill(ids, x, rows, col["findings_open"], col["findings_severe"])

    # Cases the subscriber raised (not Homeport's own retention cases).
    own = Case.category.not_in(RETENTION_CATEGORIES)
    in30 = Case.opened_at > d30
    rows = _fetch(
        conn,
        select(
            Case.subscriber_id,
            func.sum(case((in30, 1), else_=0)),
            func.count(),
            func.sum(case((Case.category == "cancel_service", 1), else_=0)),
        )
        .where(
            Case.subscriber_id.is_not(None),
            Case.opened_at > d90,
            Case.opened_at <= at,
            Case.merged_into_id.is_(None),
            own,
            *restrict(Case.subscriber_id),
        )
        .group_by(Case.subscriber_id),
    )
    _fill(ids, x, rows, col["cases_30d"], col["cases_90d"], col["cancel_requests_90d"])

    rows = _fetch(
        conn,
        select(Case.subscriber_id, func.count())
        .join(Interaction, Interaction.case_id == Case.id)
        .where(
            Case.subscriber_id.is_not(None),
            Interaction.direction == "inbound",
            Interaction.started_at > d30,
            Interaction.started_at <= at,
            own,
            *restrict(Case.subscriber_id),
        )
        .group_by(Case.subscriber_id),
    )
    _fill(ids, x, rows, col["contacts_30d"])

    rows = _fetch(
        conn,
        select(Case.subscriber_id, Case.category, func.count())
        .where(
            Case.subscriber_id.is_not(None),
            Case.opened_at > d30,
            Case.opened_at <= at,
            own,
            *restrict(Case.subscriber_id),
        )
        .group_by(Case.subscriber_id, Case.category)
        .order_by(Case.subscriber_id, func.count().desc(), Case.category),
    )
    last = None
    for sid, category, _count in rows:
        if sid != last:
            last = sid
            p = int(np.searchsorted(ids, int(sid or 0)))
            if p < n and ids[p] == sid:
                top[p] = category

    rows = _fetch(
        conn,
        select(WorkOrder.subscriber_id, func.count())
        .where(
            WorkOrder.kind == "repair",
            WorkOrder.status != "cancelled",
            WorkOrder.created_at > d90,
            WorkOrder.created_at <= at,
            *restrict(WorkOrder.subscriber_id),
        )
        .group_by(WorkOrder.subscriber_id),
    )
    _fill(ids, x, rows, col["truck_rolls_90d"])

    # The latest answered NPS and CSAT at T.
    for kind, name in (("nps", "nps"), ("csat", "csat")):
        latest = (
            select(Survey.subscriber_id, func.max(Survey.answered_at).label("last"))
            .where(
                Survey.kind == kind,
                Survey.answered_at.is_not(None),
                Survey.answered_at <= at,
                Survey.score.is_not(None),
                *restrict(Survey.subscriber_id),
            )
            .group_by(Survey.subscriber_id)
            .subquery()
        )
        rows = _fetch(
            conn,
            select(Survey.subscriber_id, func.max(Survey.score))
            .join(
                latest,
                and_(
                    latest.c.subscriber_id == Survey.subscriber_id,
                    latest.c.last == Survey.answered_at,
                ),
            )
            .where(Survey.kind == kind)
            .group_by(Survey.subscriber_id),
        )
        x[:, col[name]] = np.nan
        _fill(ids, x, rows, col[name], default=np.nan)

    # Self-service use: events in 30 days, days since the last one (ever, up to T).
    rows = _fetch(
        conn,
        select(
            EngagementEvent.subscriber_id,
            func.sum(case((EngagementEvent.at > d30, 1), else_=0)),
            days_between(session, at, func.max(EngagementEvent.at)),
        )
        .where(EngagementEvent.at <= at, *restrict(EngagementEvent.subscriber_id))
        .group_by(EngagementEvent.subscriber_id),
    )
    x[:, col["days_since_app"]] = -1.0
    _fill(ids, x, rows, col["app_events_30d"], col["days_since_app"], default=-1.0)
    unused = x[:, col["days_since_app"]] < 0
    # Never used: as long ago as the subscriber has been a customer.
    x[unused, col["days_since_app"]] = x[unused, col["tenure_months"]] * (365.25 / 12)

    rows = _fetch(
        conn,
        select(OutageMember.subscriber_id, func.count())
        .where(
            OutageMember.lost_at > d90,
            OutageMember.lost_at <= at,
            *restrict(OutageMember.subscriber_id),
        )
        .group_by(OutageMember.subscriber_id),
    )
    _fill(ids, x, rows, col["outages_90d"])
    return frame


def labels(session: Session, frame: FeatureFrame, horizon: timedelta) -> np.ndarray:
    """1 for each subscriber of ``frame`` who churned in (T, T + horizon], else 0.

    Churn is the subscriber's ``churned_at``: the subscribers domain stamps it when the status
    becomes ``churned`` (and clears it if they come back), the simulator writes it too."""
    end = frame.at + horizon
    rows = session.execute(
        select(Subscriber.id).where(
            Subscriber.churned_at > frame.at,
            Subscriber.churned_at <= end,
        )
    )
    churned = np.array(sorted(r[0] for r in rows), dtype=np.int64)
    return np.isin(frame.subscriber_ids, churned).astype(np.int8)
