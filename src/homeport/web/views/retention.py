"""Bundle recommendations on the staff and portal pages, and the subscriber's answer.

The pages that show recommendations (the console's subscriber 360, the subscriber page, a
technician's visit, the portal's home) include ``retention/_recommendations.html`` with the
context :func:`context` builds, which also records that they were shown through that channel.
Answers come back here:

- ``POST /recommendations/{id}/decision`` — staff: agents, supervisors and admins answer for
  the agent channel, technicians for the technician channel (supervisors and admins may use
  either, as they open field pages too);
- ``POST /portal/recommendations/{id}/decision`` — the signed-in subscriber, for their own
  recommendation only (another subscriber's id is a 404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from homeport.audit.actions import Actor
from homeport.core.errors import Conflict, NotFound, ValidationFailed
from homeport.identity.api import Access
from homeport.identity.schemas import Principal
from homeport.retention import recommendations
from homeport.selfservice.actions import record_engagement
from homeport.web.redirects import local_target
from homeport.web.templating import flash
from homeport.web.views.subscribers import money

router = APIRouter(include_in_schema=False)

#: Staff roles per channel they may answer for.
CHANNEL_ROLES = {
    "agent": ("agent", "supervisor", "admin"),
    "technician": ("technician", "supervisor", "admin"),
}
STAFF_ROLES = ("agent", "technician", "supervisor", "admin")
STAFF = Access.staff(*STAFF_ROLES, page=True)
SUBSCRIBER = Access.subscriber(page=True)
MAX_ID = 2**31 - 1
Answer = Annotated[str, Form(max_length=10)]
Back = Annotated[str, Form(max_length=300)]


def context(request: Request, subscriber_id: int, channel: str) -> dict[str, Any]:
    """The partial's context for a staff page, recording the recommendations as shown."""
    now = request.app.state.clock.now()
    with request.app.state.db.transaction() as session:
        recs = recommendations.show(session, subscriber_id, channel, now)
    return {"recs": recs, "rec_channel": channel, "rec_back": request.url.path, "rec_money": money}


def _accepted(answer: str) -> bool:
    if answer not in ("accept", "decline"):
        raise ValidationFailed("answer is accept or decline")
    return answer == "accept"


def _decide(
    request: Request,
    rec_id: int,
    answer: str,
    *,
    via: str,
    by: str,
    actor: Actor,
    subscriber_id: int | None,
) -> str:
    if not 1 <= rec_id <= MAX_ID:
        raise NotFound(f"no recommendation {rec_id}")
    accepted = _accepted(answer)
    now = request.app.state.clock.now()
    with request.app.state.db.transaction() as session:
        rec = recommendations.decide(
            session,
            rec_id,
            accepted,
            via,
            by,
            actor=actor,
            now=now,
            subscriber_id=subscriber_id,
        )
        title = recommendations.title_of(session, rec)
        if via == "portal" and subscriber_id is not None:  # a use of self-service
            record_engagement(
                session,
                subscriber_id,
                "recommendation",
                at=now,
                detail={"recommendation": rec.id, "bundle": rec.bundle_code, "accepted": accepted},
            )
    return f"{title}: {'accepted' if accepted else 'declined'}."


async def _answer(request: Request, back: str, work: Any) -> Response:
    try:
        done = await run_in_threadpool(work)
    except (Conflict, ValidationFailed) as exc:
        flash(request, "warn", f"Not done: {exc.message}.")
        return RedirectResponse(back, status_code=303)
    flash(request, "ok", done)
    return RedirectResponse(back, status_code=303)


@router.post("/recommendations/{rec_id:int}/decision", dependencies=[Depends(STAFF)])
async def staff_decision(
    request: Request,
    rec_id: int,
    answer: Answer,
    via: Annotated[str, Form(max_length=12)] = "agent",
    back: Back = "/",
) -> Response:
    principal: Principal = request.state.principal
    if via not in CHANNEL_ROLES or principal.role not in CHANNEL_ROLES[via]:
        raise NotFound(f"no recommendation {rec_id} for the {via} channel")
    actor = Actor("staff", principal.id, principal.email)
    target = local_target(back)

    def work() -> str:
        return _decide(
            request,
            rec_id,
            answer,
            via=via,
            by=principal.email,
            actor=actor,
            subscriber_id=None,
        )

    return await _answer(request, target + "#recommendations", work)


@router.post("/portal/recommendations/{rec_id:int}/decision", dependencies=[Depends(SUBSCRIBER)])
async def portal_decision(request: Request, rec_id: int, answer: Answer) -> Response:
    principal: Principal = request.state.principal
    sid = principal.subscriber_id
    if sid is None:  # pragma: no cover - a subscriber session always has one
        raise NotFound("no subscriber")
    actor = Actor("subscriber", sid, principal.email)

    def work() -> str:
        return _decide(
            request,
            rec_id,
            answer,
            via="portal",
            by=principal.email,
            actor=actor,
            subscriber_id=sid,
        )

    return await _answer(request, "/portal/#recommendations", work)
