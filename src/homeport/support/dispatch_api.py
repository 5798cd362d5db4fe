"""JSON API of dispatch: ``/api/v1/work-orders`` (create, list, get, transition, quality
check, complete).

Who may do what: agents, supervisors and admins book visits; every role that works on visits
(technician, agent, supervisor, admin, noc) reads them, but a **technician sees and acts on
only the orders assigned to them** (another's answers 404, as if it did not exist);
technicians, supervisors and admins move a visit on, run the quality check and complete it
(agents may cancel). Integration tokens read with ``read`` and write with ``cases:write``
(or ``admin``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from homeport.audit.actions import Actor
from homeport.core.errors import NotFound, PermissionDenied
from homeport.identity.api import Access
from homeport.identity.schemas import Principal
from homeport.support import dispatch
from homeport.support.models import (
    WORK_ORDER_KINDS,
    WORK_ORDER_OUTCOMES,
    WORK_ORDER_STATUSES,
    WorkOrder,
)

router = APIRouter(prefix="/api/v1/work-orders", tags=["dispatch"])

WRITE_SCOPE = "cases:write"
BOOKERS = ("agent", "supervisor", "admin")
READERS = ("technician", "agent", "supervisor", "admin", "noc")
FIELD = ("technician", "supervisor", "admin")
MOVERS = ("technician", "agent", "supervisor", "admin")


def actor_of(principal: Principal) -> Actor:
    if principal.token_id is not None:
        return Actor("token", principal.token_id, principal.email)
    return Actor("staff", principal.id, principal.email)


class WorkOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscriber_id: int
    kind: str = Field(json_schema_extra={"enum": list(WORK_ORDER_KINDS)})
    window_start: AwareDatetime
    window_end: AwareDatetime
    technician_id: int | None = None
    case_id: int | None = None
    notes: str = Field(default="", max_length=dispatch.MAX_NOTES)


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str = Field(json_schema_extra={"enum": ["en_route", "on_site", "cancelled"]})
    reason: str = Field(default="", max_length=500)


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: str = Field(json_schema_extra={"enum": list(WORK_ORDER_OUTCOMES)})
    notes: str = Field(default="", max_length=dispatch.MAX_NOTES)


class WorkOrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    subscriber_id: int
    case_id: int | None
    kind: str
    status: str
    window_start: datetime
    window_end: datetime
    technician_id: int | None
    notes: str
    repeat_of_id: int | None
    outcome: str | None
    quality_check: dict[str, Any]
    quality_passed: bool | None
    created_at: datetime
    completed_at: datetime | None


class WorkOrderPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[WorkOrderOut]


def _visible(order: WorkOrder, principal: Principal) -> WorkOrder:
    if not dispatch.visible_to(order, staff_id=principal.id, role=principal.role):
        raise NotFound(f"no work order {order.id}")
    return order


def _out(order: WorkOrder) -> WorkOrderOut:
    return WorkOrderOut.model_validate(order)


@router.post("", status_code=201)
async def create_work_order(
    request: Request,
    body: WorkOrderIn,
    principal: Annotated[Principal, Depends(Access.staff(*BOOKERS, scope=WRITE_SCOPE))],
) -> WorkOrderOut:
    """Book a visit (install, repair or upgrade) in a time window, optionally with a technician
    and a case of the same subscriber. 422 lists every problem by field; ``repeat_of_id`` names
    the same home's earlier visit within 30 days."""

    def create() -> WorkOrderOut:
        with request.app.state.db.transaction() as session:
            order = dispatch.create_work_order(
                session,
                subscriber_id=body.subscriber_id,
                kind=body.kind,
                window_start=body.window_start,
                window_end=body.window_end,
                technician_id=body.technician_id,
                case_id=body.case_id,
                notes=body.notes,
                actor=actor_of(principal),
                now=request.app.state.clock.now(),
            )
            return _out(order)

    return await run_in_threadpool(create)


@router.get("")
def list_work_orders(
    request: Request,
    principal: Annotated[Principal, Depends(Access.staff(*READERS))],
    status: Annotated[
        str | None, Query(json_schema_extra={"enum": list(WORK_ORDER_STATUSES)})
    ] = None,
    kind: Annotated[str | None, Query(json_schema_extra={"enum": list(WORK_ORDER_KINDS)})] = None,
    technician_id: Annotated[int | None, Query(ge=1, le=dispatch.MAX_ID)] = None,
    subscriber_id: Annotated[int | None, Query(ge=1, le=dispatch.MAX_ID)] = None,
    case_id: Annotated[int | None, Query(ge=1, le=dispatch.MAX_ID)] = None,
    window_from: Annotated[
        AwareDatetime | None, Query(description="Only windows ending after this time")
    ] = None,
    window_to: Annotated[
        AwareDatetime | None, Query(description="Only windows starting before this time")
    ] = None,
    repeat: Annotated[bool | None, Query(description="Only repeat (or first) visits")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> WorkOrderPage:
    """Work orders, earliest window first. A technician gets only their own."""
    if principal.role == "technician":
        if technician_id not in (None, principal.id):
            raise PermissionDenied("a technician sees only their own work orders")
        technician_id = principal.id
    f = dispatch.OrderFilter(
        status=status,
        kind=kind,
        technician_id=technician_id,
        subscriber_id=subscriber_id,
        case_id=case_id,
        window_from=window_from,
        window_to=window_to,
        repeat=repeat,
        limit=limit,
        offset=offset,
    )
    with request.app.state.db.session() as session:
        rows, total = dispatch.list_work_orders(session, f)
        return WorkOrderPage(total=total, limit=limit, offset=offset, items=[_out(r) for r in rows])


@router.get("/{order_id}")
def get_work_order(
    request: Request,
    order_id: int,
    principal: Annotated[Principal, Depends(Access.staff(*READERS))],
) -> WorkOrderOut:
    with request.app.state.db.session() as session:
        return _out(_visible(dispatch.get_work_order(session, order_id), principal))


def _act(request: Request, order_id: int, principal: Principal, fn: Any) -> WorkOrderOut:
    with request.app.state.db.transaction() as session:
        _visible(dispatch.get_work_order(session, order_id), principal)
        order = fn(session, actor_of(principal), request.app.state.clock.now())
        return _out(order)


@router.post("/{order_id}/transition")
async def transition(
    request: Request,
    order_id: int,
    body: TransitionIn,
    principal: Annotated[Principal, Depends(Access.staff(*MOVERS, scope=WRITE_SCOPE))],
) -> WorkOrderOut:
    """Move a visit on: ``en_route``, ``on_site``, or ``cancelled`` (with a reason). Agents may
    only cancel. 409 when the visit's status does not allow it."""
    if principal.role == "agent" and body.status != "cancelled":
        raise PermissionDenied("agents may cancel a visit; the technician moves it on")

    def act(session: Any, actor: Actor, now: datetime) -> WorkOrder:
        return dispatch.transition(
            session, order_id, body.status, actor=actor, now=now, reason=body.reason
        )

    return await run_in_threadpool(_act, request, order_id, principal, act)


@router.post("/{order_id}/quality-check")
async def quality_check(
    request: Request,
    order_id: int,
    principal: Annotated[Principal, Depends(Access.staff(*FIELD, scope=WRITE_SCOPE))],
) -> WorkOrderOut:
    """Run the install-quality check from the home's telemetry (the visit must be on site)."""
    health = request.app.state.settings.health

    def act(session: Any, actor: Actor, now: datetime) -> WorkOrder:
        return dispatch.run_quality_check(session, order_id, actor=actor, now=now, health=health)

    return await run_in_threadpool(_act, request, order_id, principal, act)


@router.post("/{order_id}/complete")
async def complete(
    request: Request,
    order_id: int,
    body: CompleteIn,
    principal: Annotated[Principal, Depends(Access.staff(*FIELD, scope=WRITE_SCOPE))],
) -> WorkOrderOut:
    """Complete an on-site visit with its outcome. An install or repair needs a quality check
    from the last hour (422 otherwise); a failed check needs notes."""

    def act(session: Any, actor: Actor, now: datetime) -> WorkOrder:
        return dispatch.complete(
            session, order_id, outcome=body.outcome, actor=actor, now=now, notes=body.notes
        )

    return await run_in_threadpool(_act, request, order_id, principal, act)
