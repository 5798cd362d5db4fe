"""Pages of the journey domain: the journey dashboard for leaders (``/journey``: funnel, time
between moments, NPS and CSAT per moment, installation experience, comment themes, stage
owners), the public survey page (``/survey/{token}``), the portal's survey answer, and the
frontline feedback board in the console (``/console/feedback``).

Thin: reads from :mod:`homeport.journey.service`, writes through :mod:`homeport.journey.actions`
and :mod:`homeport.journey.surveys`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

import pygal
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from homeport.audit.actions import Actor
from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.identity.api import Access, verify_csrf
from homeport.identity.models import Team
from homeport.identity.schemas import Principal
from homeport.journey import actions, service, surveys, themes
from homeport.journey.models import DEPARTMENTS, FEEDBACK_KINDS, FEEDBACK_STATUSES
from homeport.web import charts
from homeport.web.templating import flash, render

router = APIRouter(include_in_schema=False)

READ = Access.staff("admin", "supervisor", "agent", page=True)
LEAD = Access.staff(*actions.LEADER_ROLES, page=True)
STAFF = Access.staff(page=True)
Short = Annotated[str, Form(max_length=200)]
Long = Annotated[str, Form(max_length=5000)]
DEFAULT_DAYS = 90
PERIODS = (30, 90, 180, 365)
MOMENT_WORDS = {**surveys.MOMENT_LABELS}
KIND_WORDS = {"nps": "NPS", "csat": "CSAT", "ces": "CES"}


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


def _actor(principal: Principal) -> Actor:
    return Actor("staff", principal.id, principal.email)


def _days(request: Request) -> int:
    raw = (request.query_params.get("days") or str(DEFAULT_DAYS)).strip()
    if not raw.isdigit() or not 1 <= int(raw) <= 3660:
        raise ValidationFailed("invalid period", [FieldError("days", "1 to 3660 days")])
    return int(raw)


def _fmt(value: float | None, kind: str = "") -> str:
    if value is None:
        return "—"
    if kind == "nps":
        return f"{value:+.0f}"
    if kind == "ces":
        return f"{value:.1f}"
    return f"{value:.0f}%"


# --- Charts -----------------------------------------------------------------------------------


def funnel_chart(f: service.Funnel) -> Markup:
    label = "Journey funnel: " + "; ".join(
        f"{s.label} {s.subscribers}"
        + (f" ({s.from_previous:.0f}% of the step before)" if s.from_previous is not None else "")
        for s in f.steps
    )
    chart = pygal.HorizontalBar(
        **charts._common(
            height=max(120, 30 * len(f.steps) + 20),
            show_legend=False,
            print_values=True,
            print_zeroes=True,
            show_x_labels=False,
            show_y_guides=False,
            show_x_guides=False,
        )
    )
    ordered = list(reversed(f.steps))
    chart.x_labels = [s.label for s in ordered]
    chart.add("Subscribers", [s.subscribers for s in ordered])
    return charts._render(chart, label)


def moment_chart(rows: list[service.SurveyResult], kind: str) -> Markup | None:
    """One bar per journey moment: its NPS (−100…100) or CSAT (0…100 %)."""
    mine = [r for r in rows if r.kind == kind and r.score is not None]
    if not mine:
        return None
    name = KIND_WORDS[kind]
    label = f"{name} per journey moment: " + "; ".join(
        f"{MOMENT_WORDS.get(r.moment, r.moment)} {_fmt(r.score, kind)} ({r.answered} answers)"
        for r in mine
    )
    chart = pygal.HorizontalBar(
        **charts._common(
            height=max(110, 30 * len(mine) + 30),
            show_legend=False,
            print_values=True,
            show_y_guides=False,
            range=(-100, 100) if kind == "nps" else (0, 100),
            value_formatter=lambda v: _fmt(v, kind),
        )
    )
    ordered = list(reversed(mine))
    chart.x_labels = [MOMENT_WORDS.get(r.moment, r.moment) for r in ordered]
    chart.add(
        name,
        [
            {
                "value": r.score,
                "color": charts.OK
                if (r.score or 0) >= (30 if kind == "nps" else 80)
                else (charts.BAD if (r.score or 0) < (0 if kind == "nps" else 60) else charts.WARN),
            }
            for r in ordered
        ],
    )
    return charts._render(chart, label)


# --- The journey page -------------------------------------------------------------------------


@router.get("/journey", dependencies=[Depends(READ)])
def journey_page(request: Request) -> Response:
    days = _days(request)
    now = _now(request)
    since = now - timedelta(days=days)
    s = request.app.state.settings.journey
    with request.app.state.db.session() as session:
        f = service.funnel(session, since=since, until=now, now=now, s=s)
        results = service.survey_results(session, since=since, until=now)
        installs = service.install_experience(session, since=since, until=now)
        theme_rows = service.theme_summary(session, since=since, until=now)
        owners = service.owners(session)
        counts = service.event_counts(session, since=since, until=now)
        teams = list(session.execute(select(Team.id, Team.name).order_by(Team.name)).all())
    principal: Principal = request.state.principal
    return render(
        request,
        "journey/journey.html",
        nav="journey",
        days=days,
        periods=PERIODS,
        f=f,
        results=results,
        installs=installs,
        theme_rows=theme_rows,
        owners=owners,
        counts=counts,
        teams=teams,
        departments=DEPARTMENTS,
        can_lead=principal.role in actions.LEADER_ROLES,
        funnel_svg=funnel_chart(f),
        nps_svg=moment_chart(results, "nps"),
        csat_svg=moment_chart(results, "csat"),
        fmt=_fmt,
        moment_words=MOMENT_WORDS,
        kind_words=KIND_WORDS,
        kind_labels=service.KIND_LABELS,
        theme_count=len(themes.NAMES),
    )


@router.post("/journey/owners", dependencies=[Depends(LEAD)])
def save_owner(
    request: Request,
    stage: Short,
    department: Short,
    owner: Short = "",
    team_id: Short = "",
) -> Response:
    principal: Principal = request.state.principal
    team = int(team_id) if team_id.strip().isdigit() else None
    try:
        with request.app.state.db.transaction() as session:
            actions.set_owner(
                session,
                stage,
                department,
                owner,
                team,
                now=_now(request),
                actor=_actor(principal),
            )
    except ValidationFailed as exc:
        flash(request, "warn", "Not saved: " + "; ".join(e.message for e in exc.errors) + ".")
        return RedirectResponse("/journey#owners", status_code=303)
    flash(request, "ok", f"Owner of {service.KIND_LABELS.get(stage, stage)} saved.")
    return RedirectResponse("/journey#owners", status_code=303)


# --- Surveys: the public page and the portal's answer -----------------------------------------


def _scores(form: Any, invitation: surveys.Invitation) -> dict[int, int | None]:
    answers: dict[int, int | None] = {}
    for q in invitation.questions:
        raw = form.get(f"score_{q.survey_id}")
        if raw is None or str(raw).strip() == "":
            answers[q.survey_id] = None
            continue
        text = str(raw).strip()
        if not text.lstrip("-").isdigit() or len(text) > 3:
            raise ValidationFailed(
                "invalid answer", [FieldError(f"score_{q.survey_id}", "choose a score")]
            )
        answers[q.survey_id] = int(text)
    return answers


def _comment(form: Any) -> str:
    raw = form.get("comment")
    return str(raw) if isinstance(raw, str) else ""


@router.get("/survey/{token}", dependencies=[Depends(Access.public(page=True))])
def survey_page(request: Request, token: str) -> Response:
    """The question(s) with a button per score and a comment box; no sign-in."""
    bsp = request.app.state.settings.bsp_name
    try:
        with request.app.state.db.session() as session:
            inv = surveys.by_token(session, token, now=_now(request), bsp_name=bsp)
    except NotFound:
        return render(request, "journey/survey_done.html", status_code=404, state="unknown")
    if inv.answered:
        return render(request, "journey/survey_done.html", state="answered")
    if inv.expired:
        return render(request, "journey/survey_done.html", status_code=410, state="expired")
    return render(
        request,
        "journey/survey.html",
        inv=inv,
        action=f"/survey/{token}",
        errors={},
        comment="",
        chosen={},
    )


@router.post(
    "/survey/{token}", dependencies=[Depends(Access.public(page=True)), Depends(verify_csrf)]
)
async def survey_answer(request: Request, token: str) -> Response:
    form = await request.form()
    bsp = request.app.state.settings.bsp_name
    now = _now(request)
    db = request.app.state.db

    def work() -> tuple[str, surveys.Invitation | None, dict[str, str], dict[int, int | None]]:
        try:
            with db.session() as session:
                inv = surveys.by_token(session, token, now=now, bsp_name=bsp)
        except NotFound:
            return "unknown", None, {}, {}
        try:
            answers = _scores(form, inv)
            with db.transaction() as session:
                surveys.answer_by_token(session, token, answers, _comment(form), now=now)
        except ValidationFailed as exc:
            return "invalid", inv, {e.field: e.message for e in exc.errors}, {}
        except Conflict:
            with db.session() as session:
                inv = surveys.by_token(session, token, now=now, bsp_name=bsp)
            return ("answered" if inv.answered else "expired"), inv, {}, {}
        return "thanks", inv, {}, answers

    state, inv, errors, _ = await run_in_threadpool(work)
    if state == "invalid" and inv is not None:
        return render(
            request,
            "journey/survey.html",
            status_code=422,
            inv=inv,
            action=f"/survey/{token}",
            errors=errors,
            comment=_comment(form)[: surveys.MAX_COMMENT],
            chosen={
                q.survey_id: str(form.get(f"score_{q.survey_id}") or "") for q in inv.questions
            },
        )
    status = {"unknown": 404, "expired": 410, "answered": 409}.get(state, 200)
    return render(request, "journey/survey_done.html", status_code=status, state=state)


@router.post("/portal/survey/{survey_id:int}", dependencies=[Depends(Access.subscriber())])
async def portal_survey_answer(request: Request, survey_id: int) -> Response:
    """The portal's survey card (``journey/_survey_form.html``) posts here."""
    principal: Principal = request.state.principal
    sid = principal.subscriber_id
    form = await request.form()
    bsp = request.app.state.settings.bsp_name
    now = _now(request)
    db = request.app.state.db

    def work() -> str:
        if sid is None:
            raise NotFound("no subscriber")
        with db.session() as session:
            inv = surveys.pending_survey(session, sid, now=now, bsp_name=bsp)
        if inv is None or inv.survey_id != survey_id:
            raise NotFound(f"no survey {survey_id}")
        with db.transaction() as session:
            surveys.answer_for_subscriber(
                session, sid, survey_id, _scores(form, inv), _comment(form), now=now
            )
        return "Thank you for your answer: we read every comment."

    try:
        message = await run_in_threadpool(work)
    except (ValidationFailed, Conflict) as exc:
        detail = "; ".join(e.message for e in getattr(exc, "errors", [])) or exc.message
        flash(request, "warn", f"Not sent: {detail}.")
        return RedirectResponse("/portal/#survey", status_code=303)
    flash(request, "ok", message)
    return RedirectResponse("/portal/", status_code=303)


# --- Frontline feedback -----------------------------------------------------------------------


def _feedback_write(
    request: Request, work: Callable[[Session, datetime, Principal], str]
) -> Response:
    principal: Principal = request.state.principal
    try:
        with request.app.state.db.transaction() as session:
            message = work(session, _now(request), principal)
    except (ValidationFailed, Conflict) as exc:
        detail = "; ".join(e.message for e in getattr(exc, "errors", [])) or exc.message
        flash(request, "warn", f"Not done: {detail}.")
        return RedirectResponse("/console/feedback", status_code=303)
    flash(request, "ok", message)
    return RedirectResponse("/console/feedback", status_code=303)


@router.get("/console/feedback", dependencies=[Depends(STAFF)])
def feedback_page(request: Request) -> Response:
    principal: Principal = request.state.principal
    status = (request.query_params.get("status") or "").strip() or None
    if status is not None and status not in FEEDBACK_STATUSES:
        raise ValidationFailed(
            "invalid status", [FieldError("status", f"one of {', '.join(FEEDBACK_STATUSES)}")]
        )
    with request.app.state.db.session() as session:
        rows = service.feedback_board(session, viewer_id=principal.id, status=status)
    return render(
        request,
        "journey/feedback.html",
        nav="feedback",
        rows=rows,
        status=status,
        statuses=FEEDBACK_STATUSES,
        kinds=FEEDBACK_KINDS,
        can_lead=principal.role in actions.LEADER_ROLES,
    )


@router.post("/console/feedback", dependencies=[Depends(STAFF)])
def feedback_submit(request: Request, kind: Short, title: Short, body: Long = "") -> Response:
    def work(session: Session, now: datetime, p: Principal) -> str:
        actions.submit_feedback(
            session, author_id=p.id, kind=kind, title=title, body=body, now=now, actor=_actor(p)
        )
        return "Thank you: your feedback is on the board for others to vote on."

    return _feedback_write(request, work)


@router.post("/console/feedback/{item_id:int}/vote", dependencies=[Depends(STAFF)])
def feedback_vote(request: Request, item_id: int) -> Response:
    def work(session: Session, now: datetime, p: Principal) -> str:
        votes = actions.vote(session, item_id, staff_id=p.id, now=now, actor=_actor(p))
        return f"Vote counted ({votes} in all)."

    return _feedback_write(request, work)


@router.post("/console/feedback/{item_id:int}/status", dependencies=[Depends(LEAD)])
def feedback_status(request: Request, item_id: int, status: Short, response: Long = "") -> Response:
    def work(session: Session, now: datetime, p: Principal) -> str:
        actions.set_feedback_status(
            session,
            item_id,
            status=status,
            response=response,
            role=p.role or "",
            now=now,
            actor=_actor(p),
        )
        return f"Status set to {status.replace('_', ' ')}."

    return _feedback_write(request, work)
