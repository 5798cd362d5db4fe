"""JSON API of the journey: the funnel, survey results per moment and comment themes
(``/api/v1/journey/*``), for staff who lead or work cases (admin, supervisor, agent), read-only.
Thin: every figure comes from :mod:`homeport.journey.service`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from homeport.core.errors import FieldError, ValidationFailed
from homeport.identity.api import Access
from homeport.journey import service, surveys

router = APIRouter(prefix="/api/v1/journey", tags=["journey"])

READ_ROLES = ("admin", "supervisor", "agent")
READ = Access.staff(*READ_ROLES)
Days = Annotated[int, Query(ge=1, le=3660, description="The period: the last N days.")]


def period(request: Request, days: int) -> tuple[datetime, datetime]:
    now: datetime = request.app.state.clock.now()
    return now - timedelta(days=days), now


@router.get("/funnel", dependencies=[Depends(READ)])
async def funnel(request: Request, days: Days = 180) -> dict[str, Any]:
    """Sign-up → installed → first-week check → established for the subscribers who signed up
    in the last ``days``, with conversions and the median days between moments."""
    since, now = period(request, days)
    s = request.app.state.settings.journey

    def read() -> dict[str, Any]:
        with request.app.state.db.session() as session:
            return service.funnel(session, since=since, until=now, now=now, s=s).as_json()

    return await run_in_threadpool(read)


@router.get("/surveys", dependencies=[Depends(READ)])
async def survey_results(
    request: Request,
    days: Days = 90,
    moment: Annotated[
        str | None,
        Query(description="One moment.", json_schema_extra={"enum": list(surveys.MOMENTS)}),
    ] = None,
) -> dict[str, Any]:
    """Per journey moment and question: invitations sent in the period, answers, response
    rate, the score (NPS −100…100, CSAT % of 4–5, CES mean 1–7), detractors and follow-ups."""
    if moment is not None and moment not in surveys.MOMENTS:
        raise ValidationFailed(
            "invalid moment", [FieldError("moment", f"one of {', '.join(surveys.MOMENTS)}")]
        )
    since, now = period(request, days)

    def read() -> dict[str, Any]:
        with request.app.state.db.session() as session:
            rows = service.survey_results(session, since=since, until=now, moment=moment)
            installs = service.install_experience(session, since=since, until=now)
        return {
            "since": since.isoformat(),
            "until": now.isoformat(),
            "results": [r.as_json() for r in rows],
            "installation": [g.as_json() for g in installs],
        }

    return await run_in_threadpool(read)


@router.get("/themes", dependencies=[Depends(READ)])
async def themes(request: Request, days: Days = 90) -> dict[str, Any]:
    """Comments answered in the period by theme, with the NPS of each theme and examples."""
    since, now = period(request, days)

    def read() -> dict[str, Any]:
        with request.app.state.db.session() as session:
            rows = service.theme_summary(session, since=since, until=now)
        return {
            "since": since.isoformat(),
            "until": now.isoformat(),
            "themes": [r.as_json() for r in rows],
        }

    return await run_in_threadpool(read)
