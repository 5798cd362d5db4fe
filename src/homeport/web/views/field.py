"""The technician's pages (mobile first): today's visits, and one visit with its status
buttons, the install-quality check and the completion form.

A technician sees only their own visits; supervisors and admins may open any visit and look
at another technician's day with ``?technician=<id>``. "Today" is the local day in the BSP's
time zone (``settings.timezone``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from homeport.core.errors import Conflict, NotFound, ValidationFailed
from homeport.identity.api import Access
from homeport.identity.models import StaffUser
from homeport.identity.schemas import Principal
from homeport.support import dispatch
from homeport.support.dispatch_api import actor_of
from homeport.web.templating import flash, render
from homeport.web.views import retention as retention_views

router = APIRouter(include_in_schema=False)

FIELD_ROLES = ("technician", "supervisor", "admin")
STATUS_TONES = {
    "scheduled": "",
    "en_route": "warn",
    "on_site": "warn",
    "completed": "ok",
    "cancelled": "bad",
}
NEXT_STEP = {"scheduled": ("en_route", "On my way"), "en_route": ("on_site", "Arrived on site")}
OUTCOME_NAMES = {
    "installed": "Installed",
    "fixed": "Fixed",
    "not_fixed": "Not fixed",
    "no_fault_found": "No fault found",
}
CHECK_NAMES = {
    "wan": "Internet link",
    "speed": "Speed against plan",
    "coverage": "Wi-Fi coverage",
    "optical": "Fibre signal",
}


def _words(value: str | None) -> str:
    if not value:
        return "—"
    text = value.replace("_", " ")
    return text[:1].upper() + text[1:]


HELPERS: dict[str, Any] = {
    "status_tone": lambda s: STATUS_TONES.get(s, ""),
    "hwords": _words,
    "outcome_name": lambda o: OUTCOME_NAMES.get(o, _words(o)),
    "check_name": lambda n: CHECK_NAMES.get(n, _words(n)),
}


def _today(request: Request) -> date:
    now: datetime = request.app.state.clock.now()
    return now.astimezone(request.app.state.settings.zone).date()


@router.get("/field", dependencies=[Depends(Access.staff(*FIELD_ROLES, page=True))])
def field_day(request: Request) -> Response:
    principal: Principal = request.state.principal
    technician_id = principal.id
    raw = (request.query_params.get("technician") or "").strip()
    if raw and principal.role != "technician":
        try:
            technician_id = int(raw)
        except ValueError as exc:
            raise ValidationFailed("invalid technician", []) from exc
    day = _today(request)
    zone = request.app.state.settings.zone
    with request.app.state.db.session() as session:
        technician = session.get(StaffUser, technician_id)
        if technician is None:
            raise NotFound(f"no staff user {technician_id}")
        orders = dispatch.technician_day(session, technician_id, day, zone)
        details = [dispatch.order_detail(session, o.id) for o in orders]
    return render(
        request,
        "field/day.html",
        nav="field",
        day=day,
        technician=technician,
        own=technician_id == principal.id,
        details=details,
        **HELPERS,
    )


def _detail(request: Request, order_id: int) -> dispatch.OrderDetail:
    principal: Principal = request.state.principal
    with request.app.state.db.session() as session:
        detail = dispatch.order_detail(session, order_id)
    if not dispatch.visible_to(detail.order, staff_id=principal.id, role=principal.role):
        raise NotFound(f"no work order {order_id}")
    return detail


@router.get(
    "/field/orders/{order_id:int}", dependencies=[Depends(Access.staff(*FIELD_ROLES, page=True))]
)
def field_order(request: Request, order_id: int) -> Response:
    detail = _detail(request, order_id)
    order = detail.order
    outcomes = dispatch.OUTCOMES_BY_KIND.get(order.kind, ())
    return render(
        request,
        "field/order.html",
        nav="field",
        d=detail,
        o=order,
        checks=order.quality_check.get("checks", []) if order.quality_check else [],
        checked_at=dispatch.check_time(order),
        next_step=NEXT_STEP.get(order.status),
        outcomes=[(o, OUTCOME_NAMES.get(o, o)) for o in outcomes],
        **retention_views.context(request, detail.subscriber.id, "technician"),
        **HELPERS,
    )


async def _act(request: Request, order_id: int, fn: Any, done: str) -> Response:
    """Run ``fn(session, actor, now)`` on a visible order, then back to its page with the
    outcome as a flash message."""
    principal: Principal = request.state.principal
    back = f"/field/orders/{order_id}"

    def work() -> None:
        with request.app.state.db.transaction() as session:
            order = dispatch.get_work_order(session, order_id)
            if not dispatch.visible_to(order, staff_id=principal.id, role=principal.role):
                raise NotFound(f"no work order {order_id}")
            fn(session, actor_of(principal), request.app.state.clock.now())

    try:
        await run_in_threadpool(work)
    except ValidationFailed as exc:
        reasons = "; ".join(e.message for e in exc.errors) or exc.message
        flash(request, "bad", f"Not done: {reasons}.")
        return RedirectResponse(back, status_code=303)
    except Conflict as exc:
        flash(request, "warn", f"Not done: {exc.message}.")
        return RedirectResponse(back, status_code=303)
    flash(request, "ok", done)
    return RedirectResponse(back, status_code=303)


@router.post(
    "/field/orders/{order_id:int}/status",
    dependencies=[Depends(Access.staff(*FIELD_ROLES, page=True))],
)
async def field_status(
    request: Request,
    order_id: int,
    status: Annotated[str, Form(max_length=20)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    def act(session: Any, actor: Any, now: datetime) -> None:
        dispatch.transition(session, order_id, status, actor=actor, now=now, reason=reason)

    return await _act(request, order_id, act, f"Visit is now {_words(status).lower()}.")


@router.post(
    "/field/orders/{order_id:int}/quality-check",
    dependencies=[Depends(Access.staff(*FIELD_ROLES, page=True))],
)
async def field_quality_check(request: Request, order_id: int) -> Response:
    health = request.app.state.settings.health

    def act(session: Any, actor: Any, now: datetime) -> None:
        dispatch.run_quality_check(session, order_id, actor=actor, now=now, health=health)

    return await _act(request, order_id, act, "Quality check done: see the result below.")


@router.post(
    "/field/orders/{order_id:int}/complete",
    dependencies=[Depends(Access.staff(*FIELD_ROLES, page=True))],
)
async def field_complete(
    request: Request,
    order_id: int,
    outcome: Annotated[str, Form(max_length=20)],
    notes: Annotated[str, Form(max_length=dispatch.MAX_NOTES)] = "",
) -> Response:
    def act(session: Any, actor: Any, now: datetime) -> None:
        dispatch.complete(session, order_id, outcome=outcome, actor=actor, now=now, notes=notes)

    return await _act(request, order_id, act, "Visit completed. Thank you.")
