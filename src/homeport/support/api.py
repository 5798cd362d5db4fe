"""JSON API of the support domain: cases and their interactions, for integrations (a CRM, a
telephony platform, a chatbot) and scripts.

Staff who work cases (admin, supervisor, agent, noc) may read; technicians and subscribers may
not. Writes need a browser session with CSRF or a token with the ``cases:write`` scope. Thin:
every write is an action of :mod:`homeport.support.actions`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from homeport.audit.actions import Actor
from homeport.core.errors import FieldError, NotFound, ValidationFailed
from homeport.identity.api import Access
from homeport.identity.schemas import Principal
from homeport.support import actions, service
from homeport.support.models import (
    CASE_STATUSES,
    CHANNELS,
    ORIGINS,
    PRIORITIES,
    Case,
)
from homeport.support.schemas import (
    AttachmentOut,
    CaseDetailOut,
    CaseIn,
    CaseOut,
    CasePageOut,
    HistoryEntryOut,
    InteractionAddedOut,
    InteractionIn,
    InteractionOut,
    StatusIn,
)

router = APIRouter(prefix="/api/v1", tags=["support"])

#: Roles that work cases. Technicians see their work orders, not the case list.
CASE_ROLES = ("admin", "supervisor", "agent", "noc")
READ = Access.staff(*CASE_ROLES)
WRITE = Access.staff(*CASE_ROLES, scope="cases:write")
MAX_ID = 2**31 - 1
MAX_LIMIT = 200


def _enum(values: tuple[str, ...], description: str) -> Any:
    return Query(description=description, json_schema_extra={"enum": list(values)})


def actor_of(principal: Principal) -> Actor:
    if principal.token_id is not None:
        return Actor("token", principal.token_id, principal.email)
    return Actor("staff", principal.id, principal.email)


def _new_interaction(item: InteractionIn, principal: Principal) -> actions.NewInteraction:
    return actions.NewInteraction(
        channel=item.channel,
        direction=item.direction,
        author_kind=item.author_kind,
        body=item.body,
        subject=item.subject,
        address=item.address,
        external_id=item.external_id,
        author_id=principal.id if item.author_kind == "agent" else None,
        started_at=item.started_at,
        ended_at=item.ended_at,
        handle_time_s=item.handle_time_s,
    )


def _detail(request: Request, case_id: int) -> CaseDetailOut:
    with request.app.state.db.session() as session:
        case = session.get(Case, case_id) if 1 <= case_id <= MAX_ID else None
        if case is None:
            raise NotFound(f"no case {case_id}")
        items = service.interactions(session, case.id)
        files = service.attachments_of(session, [i.id for i in items])
        return CaseDetailOut.of(
            case,
            service.tags_of(session, case.id),
            [
                InteractionOut.of(i, [AttachmentOut.model_validate(a) for a in files.get(i.id, [])])
                for i in items
            ],
        )


@router.get("/cases", dependencies=[Depends(READ)])
def list_cases(
    request: Request,
    status: Annotated[
        list[str] | None, _enum(CASE_STATUSES, "Only these statuses (repeatable)")
    ] = None,
    queue_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    team_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    assignee_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    unassigned: Annotated[bool, Query(description="Only cases nobody holds")] = False,
    subscriber_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    channel: Annotated[str | None, _enum(CHANNELS, "Channel of origin")] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    priority: Annotated[str | None, _enum(PRIORITIES, "Priority")] = None,
    origin: Annotated[str | None, _enum(ORIGINS, "reactive or proactive")] = None,
    tag: Annotated[str | None, Query(max_length=40)] = None,
    breached: Annotated[bool | None, Query(description="SLA breached (true) or not")] = None,
    q: Annotated[
        str, Query(max_length=200, description="Words in the subject or any message")
    ] = "",
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Next page: the previous next_before_id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> CasePageOut:
    """Cases matching every filter given, newest first, ``limit`` at a time (keyset pages:
    pass ``next_before_id`` back as ``before_id``)."""
    problems = []
    for field, value, allowed in (
        ("channel", channel, CHANNELS),
        ("priority", priority, PRIORITIES),
        ("origin", origin, ORIGINS),
    ):
        if value is not None and value not in allowed:
            problems.append(FieldError(field, f"one of {', '.join(allowed)}"))
    for s in status or ():
        if s not in CASE_STATUSES:
            problems.append(FieldError("status", f"{s!r}: one of {', '.join(CASE_STATUSES)}"))
    if problems:
        raise ValidationFailed("invalid filter", problems)
    f = service.CaseFilter(
        status=tuple(status or ()),
        queue_id=queue_id,
        team_id=team_id,
        assignee_id=assignee_id,
        unassigned=unassigned,
        subscriber_id=subscriber_id,
        channel=channel,
        category=category,
        priority=priority,
        origin=origin,
        tag=tag,
        breached=breached,
        q=q,
    )
    with request.app.state.db.session() as session:
        rows = service.list_cases(session, f, limit=limit + 1, before_id=before_id)
        more = len(rows) > limit
        rows = rows[:limit]
        return CasePageOut(
            items=[CaseOut.model_validate(c) for c in rows],
            next_before_id=rows[-1].id if more and rows else None,
        )


@router.get("/cases/{case_id}", dependencies=[Depends(READ)])
def get_case(request: Request, case_id: int) -> CaseDetailOut:
    """One case with its tags and every interaction (internal notes included), oldest first;
    attachments are listed, not inlined."""
    return _detail(request, case_id)


@router.get("/cases/{case_id}/history", dependencies=[Depends(READ)])
def case_history(request: Request, case_id: int) -> list[HistoryEntryOut]:
    """The case's audit trail, oldest first: who opened, routed, assigned, answered, changed,
    merged and solved it, and when (UTC)."""
    with request.app.state.db.session() as session:
        if not (1 <= case_id <= MAX_ID) or session.get(Case, case_id) is None:
            raise NotFound(f"no case {case_id}")
        return [
            HistoryEntryOut(
                at=e.at,
                actor_kind=e.actor_kind,
                actor_id=e.actor_id,
                action=e.action,
                detail=e.detail or {},
            )
            for e in service.case_history(session, case_id)
        ]


@router.post("/cases", status_code=201, dependencies=[Depends(WRITE)])
async def open_case(request: Request, body: CaseIn) -> CaseDetailOut:
    """Open a reactive case from an integration, with its first interaction. The case is
    committed (routed, SLA clocks started) before this answers."""
    principal: Principal = request.state.principal
    now = request.app.state.clock.now()

    def write() -> int:
        with request.app.state.db.transaction() as session:
            case = actions.open_case(
                session,
                now=now,
                actor=actor_of(principal),
                channel=body.channel,
                subject=body.subject,
                first=_new_interaction(body.first, principal) if body.first else None,
                subscriber_id=body.subscriber_id,
                contact=body.contact,
                category=body.category,
                priority=body.priority,
                description=body.description,
            )
            return case.id

    case_id = await run_in_threadpool(write)
    return await run_in_threadpool(_detail, request, case_id)


@router.post("/cases/{case_id}/interactions", status_code=201, dependencies=[Depends(WRITE)])
async def add_interaction(
    request: Request, case_id: int, body: InteractionIn
) -> InteractionAddedOut:
    """Add a contact to a case (a merged case passes it to the case it was merged into). A
    message sent again with the same ``external_id`` is answered with the stored one and
    ``created: false``. A closed case answers 409: open a new case."""
    principal: Principal = request.state.principal
    now = request.app.state.clock.now()

    def write() -> InteractionAddedOut:
        if not 1 <= case_id <= MAX_ID:
            raise NotFound(f"no case {case_id}")
        with request.app.state.db.transaction() as session:
            interaction, created = actions.add_interaction(
                session,
                case_id,
                _new_interaction(body, principal),
                now=now,
                actor=actor_of(principal),
            )
            return InteractionAddedOut(interaction=InteractionOut.of(interaction), created=created)

    return await run_in_threadpool(write)


@router.post("/cases/{case_id}/status", dependencies=[Depends(WRITE)])
async def set_status(request: Request, case_id: int, body: StatusIn) -> CaseOut:
    """Move a case to a status. Solving needs an ``outcome``; only a solved case can be
    closed."""
    principal: Principal = request.state.principal
    now = request.app.state.clock.now()

    def write() -> CaseOut:
        if not 1 <= case_id <= MAX_ID:
            raise NotFound(f"no case {case_id}")
        with request.app.state.db.transaction() as session:
            case = actions.set_status(
                session,
                case_id,
                body.status,
                now=now,
                actor=actor_of(principal),
                outcome=body.outcome,
                notes=body.notes,
            )
            return CaseOut.model_validate(case)

    return await run_in_threadpool(write)
