"""Reads for the KPI dashboards (the ``/kpis`` pages): which KPIs each dashboard shows, its
filters (period and cut) read from query parameters and checked, the options those filters
offer, one KPI's trend per KPI, a KPI per team, agent, channel, region or plan, and survey
results per journey moment. Framework-free: every figure comes from
:mod:`homeport.kpis.service`, so a dashboard shows what the API and the CLI say."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from homeport.core.errors import FieldError, ValidationFailed
from homeport.identity.models import StaffUser, Team
from homeport.journey import service as journey
from homeport.kpis import service
from homeport.kpis.definitions import DIMENSIONS, HEADLINE, KPIS, Kpi
from homeport.kpis.models import PERIODS
from homeport.kpis.service import Cut, Overview, Point
from homeport.network.models import Region
from homeport.subscribers.models import JOURNEY_STAGES, Plan
from homeport.support.models import CHANNELS, ORIGINS, Case

#: Periods in a trend.
TREND_COUNT = 12
#: Staff roles that handle cases (the agent filter and breakdown list them).
HANDLING_ROLES = ("agent", "supervisor")
DIMENSION_WORDS = {
    "channel": "Channel",
    "team_id": "Team",
    "agent_id": "Agent",
    "region_id": "Region",
    "plan_id": "Plan",
    "journey_stage": "Journey stage",
    "origin": "Origin",
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def words(value: str) -> str:
    """A code as words: "live_chat" → "Live chat"."""
    text = value.replace("_", " ")
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Dashboard:
    """One dashboard page: its KPIs (tiles, in order), the KPIs of its breakdown table and the
    dimensions that table can be cut by (the first is the default)."""

    slug: str
    title: str
    intro: str
    names: tuple[str, ...]
    breakdown_names: tuple[str, ...] = ()
    breakdowns: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return "/kpis" if self.slug == "overview" else f"/kpis/{self.slug}"

    @property
    def kpis(self) -> list[Kpi]:
        return [KPIS[n] for n in self.names]

    def cuts(self) -> tuple[str, ...]:
        """The dimensions at least one of its KPIs can be cut by, in the usual order."""
        accepted = set().union(*(k.cuts for k in self.kpis))
        return tuple(d for d in DIMENSIONS if d in accepted)


_SUPPORT_TABLE = (
    "first_contact_resolution",
    "repeat_contact_rate",
    "truck_roll_rate",
    "first_response_time",
    "time_to_resolve",
    "sla_compliance",
    "average_handle_time",
    "backlog",
)
DASHBOARDS: dict[str, Dashboard] = {
    d.slug: d
    for d in (
        Dashboard(
            "overview",
            "Leadership overview",
            "The headline KPIs against their targets, with the last twelve periods.",
            HEADLINE,
        ),
        Dashboard(
            "support",
            "Support operations",
            "How the desk resolves: first contact, repeats, visits, speed, SLA, handle time "
            "and backlog.",
            (
                *_SUPPORT_TABLE,
                "cases_per_1000_subscribers",
                "time_to_resolve_p90",
                "truck_rolls_per_1000_subscribers",
                "repeat_dispatch_rate",
                "no_fault_found_rate",
            ),
            _SUPPORT_TABLE,
            ("team_id", "agent_id", "channel"),
        ),
        Dashboard(
            "proactive",
            "Proactive operations",
            "Problems found and fixed before the subscriber calls, and the experience homes get.",
            (
                "proactive_share",
                "proactive_resolution_without_contact",
                "auto_remediation_success",
                "experience_score_mean",
                "experience_score_good_share",
                "availability",
            ),
            (
                "proactive_share",
                "proactive_resolution_without_contact",
                "auto_remediation_success",
                "experience_score_mean",
                "experience_score_good_share",
                "availability",
            ),
            ("region_id", "plan_id"),
        ),
        Dashboard(
            "digital",
            "Digital adoption and engagement",
            "Subscribers who help themselves: the chatbot's containment, the portal and app.",
            ("self_service_containment", "digital_adoption", "app_engagement"),
            ("digital_adoption", "app_engagement"),
            ("region_id", "plan_id"),
        ),
        Dashboard(
            "satisfaction",
            "Satisfaction: NPS, CSAT, CES",
            "What subscribers say when asked, over time and per journey moment.",
            ("nps", "csat", "ces"),
            ("nps", "csat", "ces"),
            ("channel", "team_id", "region_id", "plan_id"),
        ),
    )
}


# ---------------------------------------------------------------------------------------------
# Filters


@dataclass(frozen=True)
class Filters:
    """What a dashboard shows: the period (the current one so far, or the last complete one),
    a cut, and the dimension of the breakdown table."""

    period: str = "week"
    complete: bool = False
    cut: Cut = field(default_factory=Cut)
    by: str | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str], dashboard: Dashboard) -> Filters:
        """Read query parameters (the names of ``/api/v1/kpis``: period, complete, channel,
        team_id, agent_id, region_id, plan_id, journey_stage, origin; and ``by``). Empty
        values mean "not set". Every problem is reported at once (``ValidationFailed``)."""
        problems: list[FieldError] = []
        period = (params.get("period") or "").strip() or "week"
        if period not in PERIODS:
            problems.append(FieldError("period", " or ".join(PERIODS)))
        raw_complete = (params.get("complete") or "").strip().lower()
        if raw_complete not in _TRUE + _FALSE:
            problems.append(FieldError("complete", "1 or 0"))
        values: dict[str, Any] = {}
        for name in DIMENSIONS:
            raw = (params.get(name) or "").strip()
            if not raw:
                continue
            if name.endswith("_id"):
                if not raw.isdigit() or not 1 <= int(raw) <= 2**31 - 1:
                    problems.append(FieldError(name, "a positive id"))
                    continue
                values[name] = int(raw)
            else:
                values[name] = raw
        cut = Cut(**values)
        try:
            cut.check()
        except ValidationFailed as exc:
            problems += exc.errors
        offered = dashboard.cuts()
        for name in cut.dimensions():
            if name not in offered:
                problems.append(
                    FieldError(name, f"none of the KPIs of {dashboard.title} can be cut by it")
                )
        by = (params.get("by") or "").strip() or None
        if by is not None and by not in dashboard.breakdowns:
            allowed = ", ".join(dashboard.breakdowns) or "nothing on this page"
            problems.append(FieldError("by", f"one of {allowed}"))
        if by is None and dashboard.breakdowns:
            by = dashboard.breakdowns[0]
        if problems:
            raise ValidationFailed("invalid filter", problems)
        return cls(period, raw_complete in _TRUE, cut, by)

    def params(self, dashboard: Dashboard, **changes: Any) -> dict[str, str]:
        """The short query string of these filters (defaults left out), with ``changes``."""
        values: dict[str, Any] = {
            "period": self.period,
            "complete": self.complete,
            **{f.name: getattr(self.cut, f.name) for f in fields(self.cut)},
            "by": self.by,
        }
        values.update(changes)
        out: dict[str, str] = {}
        if values["period"] != "week":
            out["period"] = str(values["period"])
        if values["complete"]:
            out["complete"] = "1"
        for name in DIMENSIONS:
            if values.get(name) not in (None, ""):
                out[name] = str(values[name])
        default_by = dashboard.breakdowns[0] if dashboard.breakdowns else None
        if values.get("by") not in (None, "", default_by):
            out["by"] = str(values["by"])
        return out

    def export_params(self) -> dict[str, str]:
        """The parameters ``/api/v1/kpis`` and ``/api/v1/kpis.csv`` take for the same figures."""
        out = {"period": self.period}
        if self.complete:
            out["complete"] = "true"
        for name in self.cut.dimensions():
            out[name] = str(getattr(self.cut, name))
        return out


# ---------------------------------------------------------------------------------------------
# Filter options and names


@dataclass(frozen=True)
class Options:
    """The values each filter offers, as (value, label) pairs."""

    channel: list[tuple[str, str]]
    team_id: list[tuple[int, str]]
    agent_id: list[tuple[int, str]]
    region_id: list[tuple[int, str]]
    plan_id: list[tuple[int, str]]
    journey_stage: list[tuple[str, str]]
    origin: list[tuple[str, str]]

    def of(self, dimension: str) -> Sequence[tuple[Any, str]]:
        values: Sequence[tuple[Any, str]] = getattr(self, dimension)
        return values

    def label(self, dimension: str, value: Any) -> str:
        for v, text in self.of(dimension):
            if v == value:
                return text
        return f"#{value}" if dimension.endswith("_id") else words(str(value))

    def describe(self, cut: Cut) -> str:
        """A cut in words ("Team: Broadband support, Channel: Email"); "" for no cut."""
        return ", ".join(
            f"{DIMENSION_WORDS[d]}: {self.label(d, getattr(cut, d))}" for d in cut.dimensions()
        )


def options(session: Session, *, since: datetime | None = None) -> Options:
    """Every channel, origin and journey stage; teams, regions and plans by name; agents: the
    active staff who handle cases, and anyone else assigned a case opened since ``since``."""
    agents_q = select(StaffUser.id, StaffUser.name, StaffUser.email).where(
        or_(
            (StaffUser.role.in_(HANDLING_ROLES)) & StaffUser.is_active.is_(True),
            StaffUser.id.in_(
                select(Case.assignee_id).where(
                    Case.assignee_id.is_not(None),
                    *([Case.opened_at >= since] if since is not None else []),
                )
            ),
        )
    )
    agents = [(i, name or email) for i, name, email in session.execute(agents_q)]

    def named(model: Any) -> list[tuple[int, str]]:
        return [
            (i, n) for i, n in session.execute(select(model.id, model.name).order_by(model.name))
        ]

    return Options(
        channel=[(c, words(c)) for c in CHANNELS],
        team_id=named(Team),
        agent_id=sorted(agents, key=lambda a: a[1].lower()),
        region_id=named(Region),
        plan_id=named(Plan),
        journey_stage=[(s, words(s)) for s in JOURNEY_STAGES],
        origin=[(o, words(o)) for o in ORIGINS],
    )


def check_known(filters: Filters, opts: Options) -> None:
    """Refuse an id that names no team, agent, region or plan (a typo would show nothing)."""
    problems = [
        FieldError(d, f"no {DIMENSION_WORDS[d].lower()} with id {getattr(filters.cut, d)}")
        for d in ("team_id", "agent_id", "region_id", "plan_id")
        if getattr(filters.cut, d) is not None
        and getattr(filters.cut, d) not in {v for v, _ in opts.of(d)}
    ]
    if problems:
        raise ValidationFailed("invalid filter", problems)


# ---------------------------------------------------------------------------------------------
# Figures


def bucket_label(period: str, start: datetime, zone: str, *, short: bool = False) -> str:
    """A period's name in the BSP's zone: "Mon 16 Nov" (day), "16 Nov" (the Monday of a week),
    "Nov 2026" (month); ``short`` drops the weekday and the year."""
    local = start.astimezone(service.zone_of(zone))
    if period == "month":
        return f"{local:%b}" if short else f"{local:%b %Y}"
    if period == "day" and not short:
        return f"{local:%a} {local.day} {local:%b}"
    return f"{local.day} {local:%b}"


def range_label(since: datetime, until: datetime, zone: str) -> str:
    """A stretch of time in words, in the BSP's zone: "Mon 16 Nov 00:00 to Mon 23 Nov 00:00"."""
    tz = service.zone_of(zone)
    a, b = since.astimezone(tz), until.astimezone(tz)
    return f"{a:%a} {a.day} {a:%b %H:%M} to {b:%a} {b.day} {b:%b %H:%M}"


def trends(
    session: Session,
    names: Sequence[str],
    period: str,
    now: datetime,
    *,
    zone: str,
    cut: Cut,
    count: int = TREND_COUNT,
    complete: bool = False,
) -> dict[str, list[Point]]:
    """The last ``count`` periods of each KPI up to the current one (:func:`service.series`),
    or, ``complete``, up to the last one that has ended (the period a "last full week" tile
    shows is then the trend's last point)."""
    extra = 1 if complete else 0
    out = {}
    for name in names:
        points = service.series(session, name, period, count + extra, now, zone=zone, cut=cut)
        out[name] = points[: len(points) - extra]
    return out


@dataclass(frozen=True)
class Cell:
    value: float | None
    target: float | None
    status: str


@dataclass(frozen=True)
class BreakdownRow:
    value: Any
    label: str
    cells: dict[str, Cell | None]


@dataclass(frozen=True)
class Breakdown:
    """A KPI per value of one dimension (a team, an agent, a channel…) over the window; a cell
    is None where the KPI cannot be cut by that dimension. Rows with nothing measured are left
    out (``hidden`` counts them)."""

    dimension: str
    names: tuple[str, ...]
    rows: list[BreakdownRow]
    hidden: int


def _has_data(cells: Mapping[str, Cell | None]) -> bool:
    for name, cell in cells.items():
        if cell is None or cell.value is None:
            continue
        if KPIS[name].unit != "count" or cell.value > 0:
            return True
    return False


def breakdown(
    session: Session,
    names: Sequence[str],
    dimension: str,
    *,
    base: Cut,
    since: datetime,
    until: datetime,
    opts: Options,
) -> Breakdown:
    """Each KPI of ``names`` that accepts ``dimension`` (with the rest of ``base``), per value
    of the dimension, with its target (the cut's own, else the overall one) and status."""
    if dimension not in DIMENSIONS:
        raise ValidationFailed("invalid breakdown", [FieldError("by", ", ".join(DIMENSIONS))])
    overall = service.targets(session)
    wanted = tuple(
        n
        for n in names
        if set(replace(base, **{dimension: _sample(dimension)}).dimensions()) <= KPIS[n].cuts
    )
    rows: list[BreakdownRow] = []
    hidden = 0
    for value, label in opts.of(dimension):
        cut = replace(base, **{dimension: value})
        goals = {**overall, **service.targets(session, cut.key())}
        cells: dict[str, Cell | None] = {}
        for name in wanted:
            measure = service.compute(session, name, since=since, until=until, cut=cut)
            target = goals.get(name)
            cells[name] = Cell(
                measure.value, target, service.status(KPIS[name], measure.value, target)
            )
        if _has_data(cells):
            rows.append(BreakdownRow(value, label, cells))
        else:
            hidden += 1
    return Breakdown(dimension, wanted, rows, hidden)


def _sample(dimension: str) -> Any:
    return 1 if dimension.endswith("_id") else "x"


@dataclass(frozen=True)
class View:
    """Everything one dashboard page shows."""

    dashboard: Dashboard
    filters: Filters
    overview: Overview
    trends: dict[str, list[Point]]
    #: The targets set for exactly this cut (overall ones when there is no cut): what the
    #: target forms edit.
    own_targets: dict[str, float]
    refused: list[str]
    breakdown: Breakdown | None
    moments: list[journey.SurveyResult]


def view(
    session: Session,
    dashboard: Dashboard,
    filters: Filters,
    now: datetime,
    *,
    zone: str,
    opts: Options,
    ttl_s: float = service.DASHBOARD_TTL_S,
) -> View:
    """Read a dashboard: the overview of its KPIs that can take the cut (the others are
    ``refused``), their trends, the breakdown table and, for satisfaction, the moments. From
    this process's cache for ``ttl_s`` seconds per period bucket and filters
    (:func:`homeport.kpis.service.cached`; a target edited here empties it)."""
    w = service.window(filters.period, now, zone=zone, complete=filters.complete)
    key = ("page", dashboard.slug, filters, zone, w.since)
    return service.cached(
        session,
        key,
        lambda: _view(session, dashboard, filters, now, zone=zone, opts=opts),
        ttl_s=ttl_s,
    )


def _view(
    session: Session,
    dashboard: Dashboard,
    filters: Filters,
    now: datetime,
    *,
    zone: str,
    opts: Options,
) -> View:
    o = service.overview(
        session,
        filters.period,
        now,
        zone=zone,
        cut=filters.cut,
        complete=filters.complete,
        names=dashboard.names,
    )
    refused = [n for n in dashboard.names if n not in o.rows]
    shown = [n for n in dashboard.names if n in o.rows]
    table = None
    if filters.by is not None:
        table = breakdown(
            session,
            dashboard.breakdown_names,
            filters.by,
            base=filters.cut,
            since=o.window.since,
            until=o.window.until,
            opts=opts,
        )
    moments: list[journey.SurveyResult] = []
    if dashboard.slug == "satisfaction":
        # NPS, CSAT and CES per journey moment of the surveys sent in the window.
        moments = journey.survey_results(session, since=o.window.since, until=o.window.until)
    return View(
        dashboard,
        filters,
        o,
        trends(
            session,
            shown,
            filters.period,
            now,
            zone=zone,
            cut=filters.cut,
            complete=filters.complete,
        ),
        service.targets(session, filters.cut.key()),
        refused,
        table,
        moments,
    )
