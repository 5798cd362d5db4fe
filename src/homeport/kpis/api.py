"""JSON and CSV API of the KPIs (reads): every KPI with target, previous period and status, and
one KPI's trend. Any staff role (read-only); API tokens need ``read``."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from homeport.identity.api import Access
from homeport.kpis import service
from homeport.kpis.models import PERIODS
from homeport.kpis.service import Cut
from homeport.subscribers.models import JOURNEY_STAGES
from homeport.support.models import CHANNELS, ORIGINS

router = APIRouter(prefix="/api/v1", tags=["kpis"])

Id = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


def _enum(values: tuple[str, ...], description: str) -> Any:
    return Query(description=description, json_schema_extra={"enum": list(values)})


def _cut(
    channel: Annotated[str | None, _enum(CHANNELS, "Cases of this channel")] = None,
    team_id: Id = None,
    agent_id: Id = None,
    region_id: Id = None,
    plan_id: Id = None,
    journey_stage: Annotated[str | None, _enum(JOURNEY_STAGES, "Subscribers at this stage")] = None,
    origin: Annotated[str | None, _enum(ORIGINS, "reactive or proactive")] = None,
) -> Cut:
    return Cut(
        channel=channel,
        team_id=team_id,
        agent_id=agent_id,
        region_id=region_id,
        plan_id=plan_id,
        journey_stage=journey_stage,
        origin=origin,
    )


Period = Annotated[str, _enum(PERIODS, "day, week or month (the current one so far)")]


def _overview(
    request: Request,
    period: str,
    since: datetime | None,
    until: datetime | None,
    complete: bool,
    cut: Cut,
) -> service.Overview:
    state = request.app.state
    with state.db.session() as session:
        return service.overview(
            session,
            period,
            state.clock.now(),
            zone=state.settings.timezone,
            cut=cut,
            since=since,
            until=until,
            complete=complete,
        )


@router.get("/kpis", dependencies=[Depends(Access.staff())])
def kpis(
    request: Request,
    cut: Annotated[Cut, Depends(_cut)],
    period: Period = "week",
    since: datetime | None = None,
    until: datetime | None = None,
    complete: bool = False,
) -> dict[str, Any]:
    """Every KPI that can take the cut, keyed by its snake_case name: value, unit, direction,
    target, previous period, delta and status (green, red or none). Definitions:
    docs/kpis.md."""
    return _overview(request, period, since, until, complete, cut).to_json()


CSV_COLUMNS = (
    "kpi",
    "title",
    "family",
    "unit",
    "direction",
    "value",
    "target",
    "previous",
    "delta",
    "status",
    "since",
    "until",
)


@router.get("/kpis.csv", dependencies=[Depends(Access.staff())])
def kpis_csv(
    request: Request,
    cut: Annotated[Cut, Depends(_cut)],
    period: Period = "week",
    since: datetime | None = None,
    until: datetime | None = None,
    complete: bool = False,
) -> Response:
    """The same figures as ``/api/v1/kpis``, one KPI per CSV line."""
    o = _overview(request, period, since, until, complete, cut)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for name, row in o.rows.items():
        j = row.to_json()
        writer.writerow(
            [
                name,
                j["title"],
                j["family"],
                j["unit"],
                j["direction"],
                "" if j["value"] is None else j["value"],
                "" if j["target"] is None else j["target"],
                "" if j["previous"] is None else j["previous"],
                "" if j["delta"] is None else j["delta"],
                j["status"],
                o.window.since.isoformat(),
                o.window.until.isoformat(),
            ]
        )
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="kpis.csv"'},
    )


@router.get("/kpis/{name}/series", dependencies=[Depends(Access.staff())])
def kpi_series(
    request: Request,
    name: str,
    cut: Annotated[Cut, Depends(_cut)],
    period: Period = "week",
    count: Annotated[int | None, Query(ge=1, le=service.MAX_SERIES)] = None,
    weeks: Annotated[
        int | None, Query(ge=1, le=service.MAX_SERIES, description="Same as count")
    ] = None,
) -> dict[str, Any]:
    """The KPI's trend: the last ``count`` (default 12) periods up to the current one, oldest
    first, each from stored snapshots where they hold the final figure."""
    state = request.app.state
    k = service.kpi(name)
    with state.db.session() as session:
        points = service.series(
            session,
            name,
            period,
            count or weeks or 12,
            state.clock.now(),
            zone=state.settings.timezone,
            cut=cut,
        )
        target = service.targets(session).get(name)
    return {
        "kpi": name,
        "title": k.title,
        "unit": k.unit,
        "direction": k.direction,
        "target": target,
        "period": period,
        "points": [p.to_json() for p in points],
    }
