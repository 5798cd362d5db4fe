"""JSON API of the health domain (reads): the fleet summary, findings, outages and a
subscriber's experience score with its history. Any staff role; API tokens need ``read``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from homeport.health import service
from homeport.health.detectors import KINDS
from homeport.health.models import SEVERITIES
from homeport.health.read_schemas import (
    ExperienceOut,
    FindingPageOut,
    FleetSummaryOut,
    OutageDetailOut,
    OutagePageOut,
)
from homeport.identity.api import Access

router = APIRouter(prefix="/api/v1", tags=["health"])

Page = Annotated[int, Query(ge=1, le=service.MAX_PAGE)]
PerPage = Annotated[int, Query(ge=1, le=service.MAX_PER_PAGE)]


def _enum(values: tuple[str, ...], description: str) -> Any:
    return Query(description=description, json_schema_extra={"enum": list(values)})


def silent_after(request: Request) -> timedelta:
    """How long a gateway may be silent and still count as reporting."""
    settings = request.app.state.settings
    return timedelta(
        seconds=settings.health.offline_after_intervals * settings.telemetry.report_interval_s
    )


@router.get("/health/summary", dependencies=[Depends(Access.staff())])
def fleet_summary(request: Request) -> FleetSummaryOut:
    """The fleet at a glance: homes reporting and offline, open findings by detector and
    severity, open outages, the distribution of current experience scores, the worst homes
    and the fleet's mean score per hour over the last day."""
    with request.app.state.db.session() as session:
        summary = service.fleet_summary(
            session, now=request.app.state.clock.now(), silent_after=silent_after(request)
        )
        return FleetSummaryOut.of(summary)


@router.get("/findings", dependencies=[Depends(Access.staff())])
def list_findings(
    request: Request,
    kind: Annotated[str | None, _enum(KINDS, "Only findings of this detector")] = None,
    status: Annotated[str, _enum(service.FINDING_STATUSES, "open or resolved")] = "open",
    severity: Annotated[str | None, _enum(SEVERITIES, "Only this severity")] = None,
    region_id: Annotated[
        int | None, Query(ge=1, le=service.MAX_ID, description="Only homes in this region")
    ] = None,
    page: Page = 1,
    per_page: PerPage = service.DEFAULT_PER_PAGE,
) -> FindingPageOut:
    """Findings with their subscriber and region. Open: critical first, then newest; resolved:
    newest resolved first."""
    f = service.FindingFilter(
        kind=kind,
        status=status,
        severity=severity,
        region_id=region_id,
        page=page,
        per_page=per_page,
    )
    with request.app.state.db.session() as session:
        return FindingPageOut.of_page(service.list_findings(session, f))


@router.get("/outages", dependencies=[Depends(Access.staff())])
def list_outages(
    request: Request,
    status: Annotated[
        str | None, _enum(service.OUTAGE_STATUSES, "open or closed (default: both)")
    ] = None,
    page: Page = 1,
    per_page: PerPage = service.DEFAULT_PER_PAGE,
) -> OutagePageOut:
    """Area outages, open ones first, newest first."""
    with request.app.state.db.session() as session:
        return OutagePageOut.of_page(
            service.list_outages(session, status=status, page=page, per_page=per_page)
        )


@router.get("/outages/{outage_id}", dependencies=[Depends(Access.staff())])
def get_outage(request: Request, outage_id: int) -> OutageDetailOut:
    """One outage with its affected subscribers (404 if unknown)."""
    with request.app.state.db.session() as session:
        return OutageDetailOut.of_detail(service.get_outage(session, outage_id))


@router.get("/subscribers/{subscriber_id}/experience", dependencies=[Depends(Access.staff())])
def subscriber_experience(
    request: Request,
    subscriber_id: int,
    days: Annotated[
        int, Query(ge=1, le=service.MAX_HISTORY_DAYS, description="History window in days")
    ] = service.DEFAULT_HISTORY_DAYS,
) -> ExperienceOut:
    """The home's current experience score with sub-scores and explanation, its hourly history,
    open findings and recent remote actions (404 for an unknown subscriber)."""
    now = request.app.state.clock.now()
    with request.app.state.db.session() as session:
        home_id = service.subscriber_home(session, subscriber_id)
        if home_id is None:
            return ExperienceOut.of(subscriber_id, None, now - timedelta(days=days), [])
        experience, history = service.explained_experience(session, home_id, now=now, days=days)
        return ExperienceOut.of(subscriber_id, experience, experience.since, history)
