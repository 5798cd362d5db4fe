"""The maturity page (``/maturity``): the five stages of the service continuum with the BSP's
position, every criterion with its evidence (value against threshold, met or not), the gap to
the next stage in plain words, and the self-assessment questionnaire with its comparison.

Thin: reads through :mod:`homeport.maturity.service`, writes through
:func:`homeport.maturity.actions.save_assessment`. Every staff role reads; supervisors and
admins answer the questionnaire.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from homeport.audit.actions import Actor
from homeport.core.errors import ValidationFailed
from homeport.identity.api import Access
from homeport.identity.schemas import Principal
from homeport.maturity import actions, questionnaire, service
from homeport.maturity.criteria import STAGES, Criterion
from homeport.web.templating import flash, render

router = APIRouter(include_in_schema=False)

#: Who answers the self-assessment.
LEADER_ROLES = ("admin", "supervisor")
READ = Access.staff(page=True)
EDIT = Access.staff(*LEADER_ROLES, page=True)


def shown(c: Criterion, value: float | None) -> str:
    """A criterion's value or threshold in words: "42 %", "3", "12.5 %", "—"."""
    if value is None:
        return "—"
    if c.unit == "share":
        return f"{value * 100:.0f} %"
    if c.unit == "percent":
        return f"{value:.1f} %"
    return f"{value:g}"


@router.get("/maturity", dependencies=[Depends(READ)])
def page(request: Request) -> Response:
    """The continuum, the measured stage with its evidence, and the self-assessment."""
    state = request.app.state
    principal: Principal = request.state.principal
    with state.db.session() as session:
        result = service.assess(session, state.settings.maturity, now=state.clock.now())
        latest = service.latest_self_assessment(session)
    comparison = None
    if latest is not None:
        answers = {k: bool(v) for k, v in (latest.answers or {}).items()}
        comparison = questionnaire.compare(answers, result.criteria, result.stage)
    context: dict[str, Any] = {
        "nav": "maturity",
        "result": result,
        "stages": STAGES,
        "by_stage": result.by_stage(),
        "shown": shown,
        "questions": questionnaire.QUESTIONS,
        "latest": latest,
        "comparison": comparison,
        "can_assess": principal.role in LEADER_ROLES,
        "window_days": (result.until - result.since).days,
    }
    return render(request, "maturity/page.html", **context)


@router.post("/maturity/self-assessment", dependencies=[Depends(EDIT)])
async def self_assess(request: Request) -> Response:
    """Store the questionnaire's answers with the stage they give and the measured stage
    (audited as ``maturity.self_assessed``)."""
    principal: Principal = request.state.principal
    form = await request.form()
    raw = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    state = request.app.state

    def write() -> int:
        with state.db.transaction() as session:
            measured = service.assess(session, state.settings.maturity, now=state.clock.now())
            row = actions.save_assessment(
                session,
                raw,
                measured_stage=measured.stage,
                actor=Actor("staff", principal.id, principal.email),
                now=state.clock.now(),
            )
            return row.stage

    try:
        stage = await run_in_threadpool(write)
    except ValidationFailed as exc:
        missing = ", ".join(e.field for e in exc.errors)
        flash(request, "bad", f"Self-assessment not saved: answer every question ({missing}).")
        return RedirectResponse("/maturity#self-assessment", status_code=303)
    flash(request, "ok", f"Self-assessment saved: your answers give stage {stage}.")
    return RedirectResponse("/maturity#self-assessment", status_code=303)
