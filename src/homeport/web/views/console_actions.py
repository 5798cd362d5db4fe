"""The agent console's changes to a case (every POST of the case page): take, assign, reply,
note, status and solve, category and priority, tags, merge, remote actions and guided steps.
Each runs one action of the support or health domain in a transaction, then goes back to the
case with a message; a refused change (a rate limit, a closed case, a missing outcome) comes
back as a warning on the page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from homeport.audit.actions import Actor
from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.health import remote
from homeport.health import service as health_service
from homeport.health.api import silent_after
from homeport.identity.schemas import Principal
from homeport.subscribers.models import Subscriber
from homeport.support import actions, guided, outbound, service
from homeport.support.models import Case, GuidedStep
from homeport.web.templating import flash
from homeport.web.views.console import (
    ACT,
    MAX_ID,
    PAGE,
    REMOTE_ACTIONS,
    REPLY_CHANNELS,
    STATUS_NAMES,
    _words,
    actor_of,
)

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=200_000)]
Short = Annotated[str, Form(max_length=200)]


def _check_id(case_id: int) -> None:
    if not 1 <= case_id <= MAX_ID:
        raise NotFound(f"no case {case_id}")


async def _write(
    request: Request,
    case_id: int,
    work: Any,
    done: str,
    *,
    anchor: str = "",
) -> Response:
    """Run ``work(session, now, actor, principal)`` in a transaction, then back to the case with
    a message; a refused change comes back as a warning instead of an error page."""
    _check_id(case_id)
    principal: Principal = request.state.principal
    back = f"/console/cases/{case_id}" + (f"#{anchor}" if anchor else "")

    def run() -> Any:
        with request.app.state.db.transaction() as session:
            return work(session, request.app.state.clock.now(), actor_of(principal), principal)

    try:
        result = await run_in_threadpool(run)
    except (Conflict, ValidationFailed) as exc:
        detail = "; ".join(str(e) for e in getattr(exc, "errors", [])) or exc.message
        flash(request, "warn", f"Not done: {detail}.")
        return RedirectResponse(back, status_code=303)
    flash(request, "ok", done)
    if isinstance(result, str) and result.startswith("/"):
        return RedirectResponse(result, status_code=303)
    return RedirectResponse(back, status_code=303)


@router.post("/console/cases/{case_id:int}/take", dependencies=[Depends(PAGE)])
async def take_case(request: Request, case_id: int) -> Response:
    def work(session: Any, now: Any, actor: Actor, p: Principal) -> None:
        actions.assign(session, case_id, p.id, now=now, actor=actor)

    return await _write(request, case_id, work, "The case is yours.")


@router.post("/console/cases/{case_id:int}/assign", dependencies=[Depends(PAGE)])
async def assign_case(request: Request, case_id: int, assignee: Short = "") -> Response:
    """Give the case to a colleague (``assignee`` = staff id) or back to the queue (empty)."""
    target: int | None = None
    if assignee.strip():
        if not assignee.strip().isdigit():
            raise ValidationFailed("invalid assignee", [FieldError("assignee", "a staff id")])
        target = int(assignee)

    def work(session: Any, now: Any, actor: Actor, p: Principal) -> None:
        actions.assign(session, case_id, target, now=now, actor=actor)

    return await _write(
        request, case_id, work, "Assigned." if target else "Back in the queue, unassigned."
    )


@router.post("/console/cases/{case_id:int}/reply", dependencies=[Depends(PAGE)])
async def reply(
    request: Request,
    case_id: int,
    body: Text = "",
    channel: Short = "email",
    macro_id: Short = "",
) -> Response:
    """Answer the subscriber: by e-mail or SMS (queued for the worker to send, threaded), or log
    a phone call. With a macro and no text, the macro's rendered text is sent and its status
    applied."""
    settings = request.app.state.settings
    if channel not in REPLY_CHANNELS:
        raise ValidationFailed("invalid reply", [FieldError("channel", "email, sms or phone")])

    def work(session: Any, now: Any, actor: Actor, p: Principal) -> None:
        text = body
        macro = None
        if macro_id.strip().isdigit():
            macro = next((m for m in service.macros(session) if m.id == int(macro_id)), None)
        if macro is not None and not text.strip():
            case = session.get(Case, case_id)
            if case is None:
                raise NotFound(f"no case {case_id}")
            sub = session.get(Subscriber, case.subscriber_id) if case.subscriber_id else None
            text = actions.render_macro(
                macro.body, subscriber=sub, case=case, agent_name=p.name or p.email
            )
        if channel in ("email", "sms"):
            outbound.reply(
                session,
                case_id,
                text,
                agent_id=p.id,
                now=now,
                actor=actor,
                channel=channel,
                support_email=settings.support_email,
            )
        else:
            if not text.strip():
                raise ValidationFailed("empty", [FieldError("body", "what was said on the call")])
            actions.add_interaction(
                session,
                case_id,
                actions.NewInteraction(
                    channel="phone",
                    direction="outbound",
                    author_kind="agent",
                    author_id=p.id,
                    body=text,
                ),
                now=now,
                actor=actor,
            )
        if macro is not None and macro.set_status:
            actions.set_status(session, case_id, macro.set_status, now=now, actor=actor)

    sent = {"email": "E-mail queued for sending.", "sms": "SMS queued for sending."}
    return await _write(request, case_id, work, sent.get(channel, "Call logged."))


@router.post("/console/cases/{case_id:int}/note", dependencies=[Depends(PAGE)])
async def note(request: Request, case_id: int, body: Text = "") -> Response:
    def work(session: Any, now: Any, actor: Actor, p: Principal) -> None:
        actions.add_note(session, case_id, body, now=now, actor=actor, author_id=p.id)

    return await _write(request, case_id, work, "Note added.")


@router.post("/console/cases/{case_id:int}/status", dependencies=[Depends(PAGE)])
async def change_status(
    request: Request,
    case_id: int,
    status: Short,
    outcome: Short = "",
    notes: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """Change the status; solving needs an outcome code and resolution notes."""
    if status == "solved" and not notes.strip():
        flash(request, "warn", "Not solved: write the resolution notes.")
        return RedirectResponse(f"/console/cases/{case_id}#solve", status_code=303)

    def work(session: Any, now: Any, actor: Actor, p: Principal) -> None:
        actions.set_status(
            session,
            case_id,
            status,
            now=now,
            actor=actor,
            outcome=outcome or None,
            notes=notes if status == "solved" else None,
        )

    return await _write(request, case_id, work, f"Status: {STATUS_NAMES.get(status, status)}.")


@router.post("/console/cases/{case_id:int}/category", dependencies=[Depends(PAGE)])
async def recategorise(
    request: Request, case_id: int, category: Short = "", priority: Short = ""
) -> Response:
    def work(session: Any, now: Any, actor: Actor, p: Principal) -> None:
        actions.set_category(
            session,
            case_id,
            now=now,
            actor=actor,
            category=category.strip() or None,
            priority=priority or None,
        )

    return await _write(request, case_id, work, "Category and priority saved.")


@router.post("/console/cases/{case_id:int}/tags", dependencies=[Depends(PAGE)])
async def tags(
    request: Request, case_id: int, tags: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    words = [t for t in tags.replace(",", " ").split() if t]

    def work(session: Any, now: Any, actor: Actor, p: Principal) -> None:
        actions.set_tags(session, case_id, words, now=now, actor=actor)

    return await _write(request, case_id, work, "Tags saved.")


@router.post("/console/cases/{case_id:int}/merge", dependencies=[Depends(PAGE)])
async def merge(request: Request, case_id: int, into: Short) -> Response:
    """Merge this case into another case of the same subscriber, then show that case."""
    target = into.strip().lstrip("#")
    if not target.isdigit() or not 1 <= int(target) <= MAX_ID:
        raise ValidationFailed("invalid merge", [FieldError("into", "a case number")])

    def work(session: Any, now: Any, actor: Actor, p: Principal) -> str:
        survivor = actions.merge(session, case_id, int(target), now=now, actor=actor)
        return f"/console/cases/{survivor.id}"

    return await _write(request, case_id, work, f"Merged into case #{target}.")


def _remote_params(kind: str, form: dict[str, str]) -> dict[str, Any]:
    if kind == "set_channel":
        band = form.get("band", "")
        channel = form.get("wifi_channel", "").strip()
        if not channel.isdigit():
            raise ValidationFailed("invalid channel", [FieldError("wifi_channel", "a number")])
        return {"band": band, "channel": int(channel)}
    if kind == "band_steer":
        return {"mac": form.get("mac", "").strip().lower(), "band": "5GHz"}
    return {}


@router.post("/console/cases/{case_id:int}/remote", dependencies=[Depends(ACT)])
async def remote_action(
    request: Request,
    case_id: int,
    kind: Short,
    band: Short = "",
    wifi_channel: Short = "",
    mac: Short = "",
) -> Response:
    """Queue a remote action for the case's home gateway through the action queue (its rate
    limits apply) and record it on the case as an internal note that follows its status."""
    if kind not in REMOTE_ACTIONS:
        raise ValidationFailed(
            "unknown action", [FieldError("kind", f"one of {', '.join(REMOTE_ACTIONS)}")]
        )
    params = _remote_params(kind, {"band": band, "wifi_channel": wifi_channel, "mac": mac})

    def work(session: Any, now: Any, actor: Actor, p: Principal) -> None:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFound(f"no case {case_id}")
        if case.subscriber_id is None:
            raise Conflict("the case has no known subscriber")
        home_id, device_id = health_service.subscriber_gateway(session, case.subscriber_id)
        action = remote.queue_action(
            session,
            home_id=home_id,
            device_id=device_id,
            kind=kind,
            params=params,
            requested_by=f"staff:{p.id}",
            finding_id=case.finding_id,
            now=now,
        )
        detail = ", ".join(f"{k} {v}" for k, v in sorted(params.items()))
        actions.add_note(
            session,
            case_id,
            f"Remote action: {REMOTE_ACTIONS[kind]} ({device_id})"
            + (f" — {detail}" if detail else "")
            + ".",
            now=now,
            actor=actor,
            author_id=p.id,
            meta={"device_action_id": action.id, "device_action_kind": kind},
        )

    return await _write(
        request,
        case_id,
        work,
        f"{REMOTE_ACTIONS[kind]}: queued. The gateway receives it at its next contact.",
        anchor="remote",
    )


@router.post("/console/cases/{case_id:int}/guided", dependencies=[Depends(PAGE)])
async def guided_step(request: Request, case_id: int, flow: Short) -> Response:
    """Run the flow's next step on the case (its first step when it has not started): the step
    reads the home's live facts and its result is recorded on the case."""
    settings = request.app.state.settings
    quiet = silent_after(request)

    def work(session: Session, now: Any, actor: Actor, p: Principal) -> None:
        run = guided.run_step(
            session,
            case_id=case_id,
            flow_name=flow,
            actor=actor,
            now=now,
            health=settings.health,
            silent_after=quiet,
        )
        actions.add_note(
            session,
            case_id,
            f"Guided step ({flow}, {run.outcome.step}): {run.outcome.result}. {run.outcome.text}",
            now=now,
            actor=actor,
            author_id=p.id,
            meta={"guided_step_id": run.guided_step_id},
        )

    return await _write(request, case_id, work, "Step run and recorded.", anchor="guided")


@router.post(
    "/console/cases/{case_id:int}/guided/{step_id:int}/action", dependencies=[Depends(ACT)]
)
async def guided_action(request: Request, case_id: int, step_id: int) -> Response:
    """Queue the remote action a recorded step proposed (the action queue's limits apply)."""
    settings = request.app.state.settings

    def work(session: Session, now: Any, actor: Actor, p: Principal) -> None:
        row = session.get(GuidedStep, step_id)
        if row is None or row.case_id != case_id:
            raise NotFound(f"no guided step {step_id} on case {case_id}")
        action = guided.queue_proposed_action(
            session, guided_step_id=step_id, actor=actor, now=now, health=settings.health
        )
        detail = ", ".join(f"{k} {v}" for k, v in sorted(action.params.items()))
        actions.add_note(
            session,
            case_id,
            f"Remote action proposed by the guided step: {_words(action.kind)}"
            f" ({action.device_id})" + (f" — {detail}" if detail else "") + ".",
            now=now,
            actor=actor,
            author_id=p.id,
            meta={"device_action_id": action.id, "device_action_kind": action.kind},
        )

    return await _write(request, case_id, work, "Proposed action queued.", anchor="guided")


@router.post("/console/cases/{case_id:int}/subscriber", dependencies=[Depends(PAGE)])
async def link_subscriber(request: Request, case_id: int, who: Short) -> Response:
    """Attach a case from an unknown sender to the subscriber the agent identified, by account
    number or e-mail address; the subscriber 360 then shows on the case."""
    wanted = who.strip()
    if not wanted:
        raise ValidationFailed("who?", [FieldError("who", "an account number or e-mail")])

    def work(session: Session, now: Any, actor: Actor, p: Principal) -> None:
        found = session.scalars(
            select(Subscriber).where(func.lower(Subscriber.account_number) == wanted.lower())
        ).first()
        if found is None and "@" in wanted:
            found = actions.find_subscriber(session, email=wanted)
        if found is None:
            raise ValidationFailed(
                "no such subscriber", [FieldError("who", f"no subscriber {wanted!r}")]
            )
        actions.link_subscriber(session, case_id, found.id, now=now, actor=actor)

    return await _write(request, case_id, work, "Linked to the subscriber.")
