"""Reads of the health domain, for the staff pages and the JSON API: the fleet summary, the
findings and outage lists, one outage with its members, and one home's experience (current score
with sub-scores and explanation, score history, open findings, recent remote actions).

No writes and no web framework here. Every function costs a fixed number of statements whatever
the size of the fleet (the tests hold the pages to that):

- :func:`fleet_summary`: seven (gateways, homes offline, open findings by kind and severity, open
  outages, the score histogram, the worst homes, the fleet trend);
- :func:`list_findings` and :func:`list_outages`: the page, plus a count when the page does not
  prove the total;
- :func:`get_outage`: two; :func:`home_experience`: at most four; :func:`explained_experience`:
  three.

A home's **current score** is its latest hourly score no older than :data:`CURRENT_SCORE_AGE`
(an hour still filling counts: it is the freshest figure there is).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Row, Select, and_, case, func, select
from sqlalchemy.orm import Session

from homeport.core.errors import FieldError, NotFound, ValidationFailed
from homeport.health import score as scoring
from homeport.health.detectors import KINDS, TITLES
from homeport.health.findings import KEEP
from homeport.health.models import (
    SEVERITIES,
    DeviceAction,
    ExperienceScore,
    Finding,
    Outage,
    OutageMember,
)
from homeport.network.models import AccessNode, Gateway, Home, Port, Region
from homeport.subscribers.models import Subscriber

MAX_ID = 2**31 - 1
DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
MAX_PAGE = 10_000
#: A home's latest hourly score counts as its current score while it is this recent.
CURRENT_SCORE_AGE = timedelta(hours=2)
#: The fleet trend covers this much time, one point per hour.
TREND_WINDOW = timedelta(hours=24)
DEFAULT_HISTORY_DAYS = 7
MAX_HISTORY_DAYS = 90
#: Findings that mean the home has lost its Internet connection.
LOST_WAN = ("wan_down", "device_offline")
#: Severity order, worst first (critical findings lead an open list).
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
FINDING_STATUSES = ("open", "resolved")
OUTAGE_STATUSES = ("open", "closed")
#: Histogram of current scores: ten bands of ten points, upper bound included (0–10, 10–20 …).
BUCKET_WIDTH = 10
BUCKETS = tuple(range(0, 100, BUCKET_WIDTH))


def finding_title(kind: str) -> str:
    return TITLES.get(kind, kind.replace("_", " ").capitalize())


def _page_errors(page: int, per_page: int) -> list[FieldError]:
    errors: list[FieldError] = []
    if not 1 <= page <= MAX_PAGE:
        errors.append(FieldError("page", f"must be between 1 and {MAX_PAGE}"))
    if not 1 <= per_page <= MAX_PER_PAGE:
        errors.append(FieldError("per_page", f"must be between 1 and {MAX_PER_PAGE}"))
    return errors


def _ints(params: Mapping[str, str], names: tuple[str, ...]) -> dict[str, int | None]:
    errors: list[FieldError] = []
    out: dict[str, int | None] = {}
    for name in names:
        raw = (params.get(name) or "").strip()
        try:
            out[name] = int(raw) if raw else None
        except ValueError:
            errors.append(FieldError(name, f"{raw!r} is not a whole number"))
    if errors:
        raise ValidationFailed("invalid filter", errors)
    return out


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int
    total: int
    shown: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first(self) -> int:
        """1-based position of the first row shown (0 when there is none)."""
        return (self.page - 1) * self.per_page + 1 if self.shown else 0

    @property
    def last(self) -> int:
        return self.first + self.shown - 1 if self.shown else 0


def _total(session: Session, count_stmt: Any, offset: int, shown: int, per_page: int) -> int:
    """The number of matching rows; skipped when the page proves it (a partly filled page is
    the last one)."""
    if 0 < shown < per_page or (shown == 0 and offset == 0):
        return offset + shown
    return int(session.scalar(count_stmt) or 0)


# --- Scores ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubScore:
    key: str
    label: str
    value: float
    weight: float


@dataclass(frozen=True)
class ScoreView:
    """One stored hourly score with its sub-scores and explanation."""

    period_start: datetime
    score: float
    subscores: list[SubScore]
    text: str
    weakest: str
    capped: bool
    samples: int
    #: The most frequent reasons why the weakest sub-score lost points, with their counts.
    reasons: list[tuple[str, int]]

    @property
    def band(self) -> str:
        return scoring.band(self.score)

    @property
    def stars(self) -> int:
        return scoring.stars(self.score)

    @classmethod
    def of(cls, row: ExperienceScore | Row[Any]) -> ScoreView:
        """From a score row, or a row of :data:`SCORE_COLUMNS`."""
        expl: dict[str, Any] = row.explanation or {}
        values = {k: float(getattr(row, k)) for k in scoring.SUBSCORES}
        weakest = str(expl.get("weakest") or min(scoring.SUBSCORES, key=lambda k: values[k]))
        raw_reasons = (expl.get("reasons") or {}).get(weakest) or {}
        reasons = sorted(
            ((str(r), int(n)) for r, n in raw_reasons.items()), key=lambda rn: (-rn[1], rn[0])
        )
        return cls(
            period_start=row.period_start,
            score=float(row.score),
            subscores=[
                SubScore(k, scoring.LABELS[k], round(values[k], 1), scoring.WEIGHTS[k])
                for k in scoring.SUBSCORES
            ],
            text=str(expl.get("text") or ""),
            weakest=weakest,
            capped=bool(expl.get("capped", False)),
            samples=int(expl.get("samples", 0) or 0),
            reasons=reasons[:3],
        )


#: The columns :meth:`ScoreView.of` reads.
SCORE_COLUMNS = ("period_start", "score", *scoring.SUBSCORES, "explanation")


def _current_scores(now: datetime) -> Any:
    """Subquery: each home's latest score period within :data:`CURRENT_SCORE_AGE`."""
    return (
        select(
            ExperienceScore.home_id.label("home_id"),
            func.max(ExperienceScore.period_start).label("period_start"),
        )
        .where(ExperienceScore.period_start > now - CURRENT_SCORE_AGE)
        .group_by(ExperienceScore.home_id)
        .subquery("current_scores")
    )


def _join_current(now: datetime) -> tuple[Any, ColumnElement[bool]]:
    latest = _current_scores(now)
    on = and_(
        ExperienceScore.home_id == latest.c.home_id,
        ExperienceScore.period_start == latest.c.period_start,
    )
    return latest, on


# --- Fleet summary --------------------------------------------------------------------------


@dataclass(frozen=True)
class KindCount:
    kind: str
    title: str
    by_severity: dict[str, int]
    homes: int

    @property
    def total(self) -> int:
        return sum(self.by_severity.values())


@dataclass(frozen=True)
class Bucket:
    low: int
    high: int
    homes: int

    @property
    def label(self) -> str:
        return f"{self.low}–{self.high}"

    @property
    def band(self) -> str:
        """The band of most of the bucket (the bands split at 50 and 81)."""
        return scoring.band(self.high if self.high <= 50 else self.low + 1)


@dataclass(frozen=True)
class WorstHome:
    subscriber_id: int
    name: str
    account_number: str
    home_id: int
    score: float
    period_start: datetime
    text: str
    weakest: str

    @property
    def band(self) -> str:
        return scoring.band(self.score)


@dataclass(frozen=True)
class TrendPoint:
    period_start: datetime
    mean: float
    homes: int


@dataclass(frozen=True)
class OutageRow:
    """An outage with where it is: port (for a port outage), access node, region."""

    outage: Outage
    port_name: str | None
    node_code: str | None
    node_name: str | None
    region_id: int | None
    region_name: str | None

    @property
    def place(self) -> str:
        parts = [p for p in (self.region_name, self.node_code, self.port_name) if p]
        if self.outage.scope == "access_node" and self.port_name:
            parts = parts[:-1]
        return " / ".join(parts) or "unknown place"

    @property
    def still_down(self) -> int:
        return max(0, self.outage.homes_affected - self.outage.homes_recovered)


@dataclass(frozen=True)
class FleetSummary:
    at: datetime
    #: Homes with a gateway; of them, those that reported within the silence window, and
    #: those that never reported.
    homes: int
    reporting: int
    never_reported: int
    #: Homes whose Internet connection is lost now (an open wan_down or device_offline finding).
    offline: int
    findings_by_kind: list[KindCount]
    findings_by_severity: dict[str, int]
    outages: list[OutageRow]
    buckets: list[Bucket]
    bands: dict[str, int]
    mean_score: float | None
    worst: list[WorstHome]
    trend: list[TrendPoint]

    @property
    def silent(self) -> int:
        """Homes that reported before but not within the silence window."""
        return self.homes - self.reporting - self.never_reported

    @property
    def open_findings(self) -> int:
        return sum(self.findings_by_severity.values())

    @property
    def scored_homes(self) -> int:
        return sum(b.homes for b in self.buckets)

    @property
    def homes_in_outage(self) -> int:
        return sum(o.still_down for o in self.outages)


def _outage_stmt() -> Any:
    return (
        select(
            Outage,
            Port.name,
            AccessNode.code,
            AccessNode.name,
            Region.id,
            Region.name,
        )
        .outerjoin(Port, Port.id == Outage.port_id)
        .outerjoin(AccessNode, AccessNode.id == Outage.access_node_id)
        .outerjoin(Region, Region.id == AccessNode.region_id)
    )


def _outage_row(row: Any) -> OutageRow:
    return OutageRow(row[0], row[1], row[2], row[3], row[4], row[5])


def fleet_summary(
    session: Session, *, now: datetime, silent_after: timedelta, worst: int = 10
) -> FleetSummary:
    """The fleet at a glance: homes reporting and offline, open findings by detector and
    severity, open outages, the distribution of current scores and the worst homes, and the
    fleet's mean score per hour over :data:`TREND_WINDOW`.

    ``silent_after``: a gateway that has not reported for this long is not "reporting"
    (``offline_after_intervals`` × the report interval)."""
    cutoff = now - silent_after
    homes, reporting, never = session.execute(
        select(
            func.count(Gateway.id),
            func.coalesce(func.sum(case((Gateway.last_seen_at >= cutoff, 1), else_=0)), 0),
            func.coalesce(func.sum(case((Gateway.last_seen_at.is_(None), 1), else_=0)), 0),
        )
    ).one()
    offline = session.scalar(
        select(func.count(func.distinct(Finding.home_id))).where(
            Finding.status == "open", Finding.kind.in_(LOST_WAN)
        )
    )

    by_severity = dict.fromkeys(reversed(SEVERITIES), 0)
    kinds: list[KindCount] = []
    for kind, n_homes, *per_severity in session.execute(
        select(
            Finding.kind,
            func.count(func.distinct(Finding.home_id)),
            *[func.sum(case((Finding.severity == s, 1), else_=0)) for s in by_severity],
        )
        .where(Finding.status == "open")
        .group_by(Finding.kind)
    ):
        counts = {s: int(n or 0) for s, n in zip(by_severity, per_severity, strict=True)}
        for s, n in counts.items():
            by_severity[s] += n
        kinds.append(KindCount(kind, finding_title(kind), counts, int(n_homes)))
    kinds.sort(key=lambda kc: (-kc.by_severity["critical"], -kc.total, kc.kind))

    outages = [
        _outage_row(r)
        for r in session.execute(
            _outage_stmt()
            .where(Outage.status == "open")
            .order_by(Outage.opened_at.desc(), Outage.id.desc())
            .limit(50)
        )
    ]

    latest, on = _join_current(now)
    # The bucket is computed in a subquery and grouped by its column: PostgreSQL does not
    # accept GROUP BY on an expression whose bound parameters differ from the SELECT's.
    current = (
        select(
            case(
                *[
                    (ExperienceScore.score <= low + BUCKET_WIDTH, i)
                    for i, low in enumerate(BUCKETS[:-1])
                ],
                else_=len(BUCKETS) - 1,
            ).label("bucket"),
            ExperienceScore.score.label("score"),
        )
        .select_from(ExperienceScore)
        .join(latest, on)
        .subquery("current")
    )
    hist = dict.fromkeys(range(len(BUCKETS)), 0)
    total = 0.0
    bands = {"poor": 0, "average": 0, "excellent": 0}
    for index, n, sum_score, excellent, average in session.execute(
        select(
            current.c.bucket,
            func.count(),
            func.sum(current.c.score),
            func.sum(case((current.c.score >= 81, 1), else_=0)),
            func.sum(case((and_(current.c.score > 50, current.c.score < 81), 1), else_=0)),
        ).group_by(current.c.bucket)
    ):
        hist[int(index)] = int(n)
        total += float(sum_score or 0)
        bands["excellent"] += int(excellent or 0)
        bands["average"] += int(average or 0)
        bands["poor"] += int(n) - int(excellent or 0) - int(average or 0)
    buckets = [Bucket(low, low + BUCKET_WIDTH, hist[i]) for i, low in enumerate(BUCKETS)]
    scored = sum(hist.values())

    worst_rows = session.execute(
        select(
            Subscriber.id,
            Subscriber.name,
            Subscriber.account_number,
            ExperienceScore.home_id,
            ExperienceScore.score,
            ExperienceScore.period_start,
            ExperienceScore.explanation,
        )
        .select_from(ExperienceScore)
        .join(latest, on)
        .join(Home, Home.id == ExperienceScore.home_id)
        .join(Subscriber, Subscriber.id == Home.subscriber_id)
        .order_by(ExperienceScore.score, ExperienceScore.home_id)
        .limit(worst)
    ).all()
    worst_homes = [
        WorstHome(
            subscriber_id=r[0],
            name=r[1],
            account_number=r[2],
            home_id=r[3],
            score=float(r[4]),
            period_start=r[5],
            text=str((r[6] or {}).get("text", "")),
            weakest=str((r[6] or {}).get("weakest", "")),
        )
        for r in worst_rows
    ]

    trend = [
        TrendPoint(p, round(float(mean), 1), int(n))
        for p, mean, n in session.execute(
            select(ExperienceScore.period_start, func.avg(ExperienceScore.score), func.count())
            .where(ExperienceScore.period_start > now - TREND_WINDOW)
            .group_by(ExperienceScore.period_start)
            .order_by(ExperienceScore.period_start)
        )
    ]

    return FleetSummary(
        at=now,
        homes=int(homes),
        reporting=int(reporting),
        never_reported=int(never),
        offline=int(offline or 0),
        findings_by_kind=kinds,
        findings_by_severity=by_severity,
        outages=outages,
        buckets=buckets,
        bands=bands,
        mean_score=round(total / scored, 1) if scored else None,
        worst=worst_homes,
        trend=trend,
    )


# --- Findings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingFilter:
    """A validated findings filter: detector (kind), status, severity, region and page."""

    kind: str | None = None
    status: str = "open"
    severity: str | None = None
    region_id: int | None = None
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    def __post_init__(self) -> None:
        errors: list[FieldError] = []
        for name, allowed in (("kind", KINDS), ("severity", SEVERITIES)):
            value = getattr(self, name)
            if value == "":
                object.__setattr__(self, name, None)
            elif value is not None and value not in allowed:
                errors.append(FieldError(name, f"one of {', '.join(allowed)}"))
        if self.status not in FINDING_STATUSES:
            errors.append(FieldError("status", f"one of {', '.join(FINDING_STATUSES)}"))
        if self.region_id is not None and not 1 <= self.region_id <= MAX_ID:
            errors.append(FieldError("region_id", f"must be an id between 1 and {MAX_ID}"))
        errors.extend(_page_errors(self.page, self.per_page))
        if errors:
            raise ValidationFailed("invalid filter", errors)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> FindingFilter:
        """Build from raw query-string values (a GET form sends empty strings for "any")."""
        ints = _ints(params, ("region_id", "page", "per_page"))
        return cls(
            kind=(params.get("kind") or "").strip() or None,
            status=(params.get("status") or "").strip() or "open",
            severity=(params.get("severity") or "").strip() or None,
            region_id=ints["region_id"],
            page=ints["page"] or 1,
            per_page=ints["per_page"] or DEFAULT_PER_PAGE,
        )

    @property
    def active_filters(self) -> dict[str, Any]:
        return {
            name: getattr(self, name)
            for name in ("kind", "severity", "region_id")
            if getattr(self, name) is not None
        }

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string of this filter (defaults left out), with ``changes`` applied."""
        f = replace(self, **changes) if changes else self
        out: dict[str, str] = {}
        if f.status != "open":
            out["status"] = f.status
        for name, value in f.active_filters.items():
            out[name] = str(value)
        if f.per_page != DEFAULT_PER_PAGE:
            out["per_page"] = str(f.per_page)
        if f.page != 1:
            out["page"] = str(f.page)
        return out


@dataclass(frozen=True)
class FindingRow:
    finding: Finding
    subscriber_id: int
    subscriber_name: str
    account_number: str
    region_id: int | None
    region_name: str | None

    @property
    def title(self) -> str:
        return finding_title(self.finding.kind)


@dataclass(frozen=True)
class FindingPage:
    filter: FindingFilter
    rows: list[FindingRow]
    paging: Paging


def _finding_conditions(f: FindingFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [Finding.status == f.status]
    if f.kind is not None:
        conds.append(Finding.kind == f.kind)
    if f.severity is not None:
        conds.append(Finding.severity == f.severity)
    if f.region_id is not None:
        conds.append(AccessNode.region_id == f.region_id)
    return conds


def _finding_joins(stmt: Any) -> Any:
    return (
        stmt.join(Home, Home.id == Finding.home_id)
        .join(Subscriber, Subscriber.id == Home.subscriber_id)
        .outerjoin(Port, Port.id == Home.port_id)
        .outerjoin(AccessNode, AccessNode.id == Port.access_node_id)
        .outerjoin(Region, Region.id == AccessNode.region_id)
    )


def severity_order() -> ColumnElement[int]:
    return case(
        *[(Finding.severity == s, rank) for s, rank in SEVERITY_RANK.items()], else_=len(SEVERITIES)
    )


def list_findings(session: Session, f: FindingFilter) -> FindingPage:
    """One page of findings with their subscriber and region. Open findings: critical first,
    then newest opened; resolved findings: newest resolved first."""
    conds = _finding_conditions(f)
    order: list[Any] = (
        [severity_order(), Finding.opened_at.desc(), Finding.id.desc()]
        if f.status == "open"
        else [Finding.resolved_at.desc(), Finding.id.desc()]
    )
    offset = (f.page - 1) * f.per_page
    stmt = _finding_joins(
        select(
            Finding,
            Subscriber.id,
            Subscriber.name,
            Subscriber.account_number,
            Region.id,
            Region.name,
        )
    )
    rows = [
        FindingRow(r[0], r[1], r[2], r[3], r[4], r[5])
        for r in session.execute(
            stmt.where(*conds).order_by(*order).limit(f.per_page).offset(offset)
        )
    ]
    count = _finding_joins(select(func.count(Finding.id))).where(*conds)
    total = _total(session, count, offset, len(rows), f.per_page)
    return FindingPage(f, rows, Paging(f.page, f.per_page, total, len(rows)))


@dataclass(frozen=True)
class FindingFacets:
    kinds: list[tuple[str, str]]
    regions: list[tuple[int, str]]
    severities: tuple[str, ...] = tuple(reversed(SEVERITIES))
    statuses: tuple[str, ...] = FINDING_STATUSES


def finding_facets(session: Session) -> FindingFacets:
    regions = session.execute(select(Region.id, Region.name).order_by(Region.name, Region.id))
    return FindingFacets(
        kinds=sorted(((k, finding_title(k)) for k in KINDS), key=lambda kt: kt[1]),
        regions=[(int(rid), str(name)) for rid, name in regions],
    )


def evidence_items(finding: Finding) -> list[tuple[str, Any]]:
    """The detector's evidence (what it measured), without the lifecycle's bookkeeping."""
    return [(k, v) for k, v in sorted((finding.evidence or {}).items()) if k not in KEEP]


# --- Outages --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutagePage:
    status: str | None
    rows: list[OutageRow]
    paging: Paging


def check_outage_status(status: str | None) -> str | None:
    if status in (None, ""):
        return None
    if status not in OUTAGE_STATUSES:
        raise ValidationFailed(
            "invalid filter", [FieldError("status", f"one of {', '.join(OUTAGE_STATUSES)}")]
        )
    return status


def list_outages(
    session: Session,
    *,
    status: str | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> OutagePage:
    """One page of outages (all, open or closed): open ones first, newest first."""
    status = check_outage_status(status)
    errors = _page_errors(page, per_page)
    if errors:
        raise ValidationFailed("invalid filter", errors)
    conds = [Outage.status == status] if status else []
    offset = (page - 1) * per_page
    rows = [
        _outage_row(r)
        for r in session.execute(
            _outage_stmt()
            .where(*conds)
            .order_by(
                case((Outage.status == "open", 0), else_=1),
                Outage.opened_at.desc(),
                Outage.id.desc(),
            )
            .limit(per_page)
            .offset(offset)
        )
    ]
    count = select(func.count(Outage.id)).where(*conds)
    total = _total(session, count, offset, len(rows), per_page)
    return OutagePage(status, rows, Paging(page, per_page, total, len(rows)))


@dataclass(frozen=True)
class MemberRow:
    subscriber_id: int
    name: str
    account_number: str
    home_id: int
    device_id: str | None
    lost_at: datetime
    recovered_at: datetime | None


@dataclass(frozen=True)
class OutageDetail:
    row: OutageRow
    members: list[MemberRow] = field(default_factory=list)

    @property
    def outage(self) -> Outage:
        return self.row.outage


def get_outage(session: Session, outage_id: int) -> OutageDetail:
    """One outage with its member homes and their subscribers (still down first); 404 if
    unknown."""
    if not 1 <= outage_id <= MAX_ID:
        raise NotFound(f"no outage with id {outage_id}")
    row = session.execute(_outage_stmt().where(Outage.id == outage_id)).first()
    if row is None:
        raise NotFound(f"no outage with id {outage_id}")
    members = [
        MemberRow(*m)
        for m in session.execute(
            select(
                Subscriber.id,
                Subscriber.name,
                Subscriber.account_number,
                OutageMember.home_id,
                Gateway.device_id,
                OutageMember.lost_at,
                OutageMember.recovered_at,
            )
            .join(Subscriber, Subscriber.id == OutageMember.subscriber_id)
            .outerjoin(Gateway, Gateway.home_id == OutageMember.home_id)
            .where(OutageMember.outage_id == outage_id)
            .order_by(
                case((OutageMember.recovered_at.is_(None), 0), else_=1),
                Subscriber.name,
                Subscriber.id,
            )
        )
    ]
    return OutageDetail(_outage_row(row), members)


# --- One home's experience ------------------------------------------------------------------


class ScorePoint(NamedTuple):
    """One hourly score as the history chart and the daily table need it."""

    period_start: datetime
    score: float


@dataclass(frozen=True)
class Experience:
    home_id: int
    since: datetime
    now: datetime
    #: Every hourly score in the window, oldest first, without sub-scores or explanation
    #: (:func:`score_history` has them).
    points: list[ScorePoint]
    #: The latest score in the window (whatever its age), with sub-scores and explanation.
    latest: ScoreView | None
    open_findings: list[Finding]
    #: The latest remote actions, newest first.
    actions: list[DeviceAction]

    @property
    def current(self) -> ScoreView | None:
        """The latest score if it is recent enough to be called current."""
        latest = self.latest
        if latest is None or latest.period_start <= self.now - CURRENT_SCORE_AGE:
            return None
        return latest


def check_days(days: int) -> int:
    if not 1 <= days <= MAX_HISTORY_DAYS:
        raise ValidationFailed(
            "invalid window", [FieldError("days", f"must be between 1 and {MAX_HISTORY_DAYS}")]
        )
    return days


def _in_window(home_id: int, since: datetime, now: datetime) -> ColumnElement[bool]:
    """A home's scores from the hour that ends inside ``since``..``now`` up to ``now``."""
    return and_(
        ExperienceScore.home_id == home_id,
        ExperienceScore.period_start > since - timedelta(hours=1),
        ExperienceScore.period_start <= now,
    )


def _explained_scores() -> Select[Any]:
    """A select of :data:`SCORE_COLUMNS`, the columns :meth:`ScoreView.of` reads."""
    return select(*(getattr(ExperienceScore, name) for name in SCORE_COLUMNS))


def score_history(
    session: Session, home_id: int, *, since: datetime, now: datetime
) -> list[ScoreView]:
    """Every hourly score of the window with its sub-scores and explanation, oldest first."""
    return [
        ScoreView.of(row)
        for row in session.execute(
            _explained_scores()
            .where(_in_window(home_id, since, now))
            .order_by(ExperienceScore.period_start)
        )
    ]


def home_experience(
    session: Session,
    home_id: int,
    *,
    now: datetime,
    days: int = DEFAULT_HISTORY_DAYS,
    actions: int = 10,
) -> Experience:
    """The home's hourly scores over the last ``days`` days (the latest one explained), its
    open findings (critical first) and its latest ``actions`` remote actions. At most four
    statements.

    Only the latest score's sub-scores and explanation are read: the week of points behind the
    chart is 168 rows on every subscriber and case page, and decoding each row's explanation
    cost more than the rest of the read (about 4 ms of CPU a page on the console benchmark)."""
    since = now - timedelta(days=check_days(days))
    window = _in_window(home_id, since, now)
    points = [
        ScorePoint(row.period_start, float(row.score))
        for row in session.execute(
            select(ExperienceScore.period_start, ExperienceScore.score)
            .where(window)
            .order_by(ExperienceScore.period_start)
        )
    ]
    latest = None
    if points:
        row = session.execute(
            _explained_scores().where(
                ExperienceScore.home_id == home_id,
                ExperienceScore.period_start == points[-1].period_start,
            )
        ).first()
        latest = ScoreView.of(row) if row is not None else None
    return Experience(
        home_id, since, now, points, latest, *_findings_actions(session, home_id, actions)
    )


def explained_experience(
    session: Session,
    home_id: int,
    *,
    now: datetime,
    days: int = DEFAULT_HISTORY_DAYS,
    actions: int = 10,
) -> tuple[Experience, list[ScoreView]]:
    """:func:`home_experience` with every score of the window explained (the API's history
    has each hour's sub-scores). At most three statements."""
    since = now - timedelta(days=check_days(days))
    history = score_history(session, home_id, since=since, now=now)
    points = [ScorePoint(h.period_start, h.score) for h in history]
    latest = history[-1] if history else None
    found, recent = _findings_actions(session, home_id, actions)
    return Experience(home_id, since, now, points, latest, found, recent), history


def open_findings(session: Session, home_id: int) -> list[Finding]:
    """The home's open findings, critical first, then the newest: the order every page and the
    chatbot list them in."""
    return list(
        session.scalars(
            select(Finding)
            .where(Finding.home_id == home_id, Finding.status == "open")
            .order_by(severity_order(), Finding.opened_at.desc(), Finding.id.desc())
        )
    )


def _findings_actions(
    session: Session, home_id: int, actions: int
) -> tuple[list[Finding], list[DeviceAction]]:
    """The home's open findings (critical first) and latest ``actions`` remote actions."""
    findings = open_findings(session, home_id)
    recent = (
        list(
            session.scalars(
                select(DeviceAction)
                .where(DeviceAction.home_id == home_id)
                .order_by(DeviceAction.created_at.desc(), DeviceAction.id.desc())
                .limit(actions)
            )
        )
        if actions
        else []
    )
    return findings, recent


def subscriber_home(session: Session, subscriber_id: int) -> int | None:
    """The id of the subscriber's home (None when there is none); 404 for an unknown
    subscriber."""
    if not 1 <= subscriber_id <= MAX_ID:
        raise NotFound(f"no subscriber with id {subscriber_id}")
    row = session.execute(
        select(Subscriber.id, Home.id)
        .outerjoin(Home, Home.subscriber_id == Subscriber.id)
        .where(Subscriber.id == subscriber_id)
    ).first()
    if row is None:
        raise NotFound(f"no subscriber with id {subscriber_id}")
    return int(row[1]) if row[1] is not None else None


def subscriber_gateway(session: Session, subscriber_id: int) -> tuple[int, str]:
    """``(home id, gateway device id)`` of the subscriber's home; 404 when the subscriber is
    unknown or has no gateway on record."""
    if not 1 <= subscriber_id <= MAX_ID:
        raise NotFound(f"no subscriber with id {subscriber_id}")
    row = session.execute(
        select(Home.id, Gateway.device_id)
        .join(Gateway, Gateway.home_id == Home.id)
        .where(Home.subscriber_id == subscriber_id)
    ).first()
    if row is None:
        raise NotFound(f"subscriber {subscriber_id} has no gateway on record")
    return int(row[0]), str(row[1])
