"""Pages of campaigns and experiments.

- Staff: ``/campaigns`` (list, create, a campaign's deliveries by status, launch, finish) and
  ``/experiments`` (list, create, start, stop, measure, the result with its confidence interval
  drawn). Admins and supervisors write; agents read; technicians and the NOC have no use for
  them (403).
- Public: ``/campaigns/optout/<token>``, the link in every campaign email: a page with a
  button (a GET changes nothing, so mail scanners that open links opt nobody out), whose POST
  clears the subscriber's marketing consent; the token works once.
- Subscriber: ``/portal/campaigns/<id>/shown`` (the card's image beacon: marks it shown) and
  ``/portal/campaigns/<id>/respond`` (*Interested* / *Not now*), for the signed-in
  subscriber's own cards only. The card itself is the partial
  ``experiments/_portal_card.html``, given ``campaign_messages`` from
  :func:`homeport.experiments.campaigns.portal_messages`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import pygal
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from homeport.audit.actions import Actor
from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.experiments import actions, campaigns, metrics, service, stats
from homeport.experiments.api import READ_ROLES, WRITE_ROLES
from homeport.experiments.assignment import parse_variants
from homeport.experiments.models import DELIVERY_CHANNELS, DELIVERY_STATUSES
from homeport.identity.api import Access, verify_csrf
from homeport.identity.schemas import Principal
from homeport.retention.models import SEGMENTS
from homeport.subscribers.models import Bundle
from homeport.web import charts
from homeport.web.templating import flash, render

router = APIRouter(include_in_schema=False)

READ = Access.staff(*READ_ROLES, page=True)
WRITE = Access.staff(*WRITE_ROLES, page=True)
PUBLIC = Access.public(page=True)
SUBSCRIBER = Access.subscriber(page=True)
Me = Annotated[Principal, Depends(SUBSCRIBER)]

Short = Annotated[str, Form(max_length=400)]
Long = Annotated[str, Form(max_length=campaigns.MAX_BODY * 2)]
#: A transparent 1×1 GIF: the portal card's "shown" beacon.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


def _actor(principal: Principal) -> Actor:
    return Actor("staff", principal.id, principal.email)


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


def _can_write(request: Request) -> bool:
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal is not None and principal.role in WRITE_ROLES


def _problems(exc: ValidationFailed | Conflict | NotFound) -> dict[str, str]:
    errors: list[FieldError] = getattr(exc, "errors", None) or [FieldError("name", exc.message)]
    return {e.field: e.message for e in errors}


# --- Campaigns (staff) ------------------------------------------------------------------------


def _campaigns_page(
    request: Request,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with request.app.state.db.session() as session:
        rows = [
            (c, campaigns.delivery_counts(session, c.id)) for c in campaigns.list_campaigns(session)
        ]
        bundles = list(session.query(Bundle).order_by(Bundle.name))
        return render(
            request,
            "experiments/campaigns.html",
            status_code=status_code,
            nav="campaigns",
            rows=[(c, {s: sum(by.values()) for s, by in counts.items()}) for c, counts in rows],
            segments=SEGMENTS,
            channels=DELIVERY_CHANNELS,
            bundles=bundles,
            can_write=_can_write(request),
            values=values
            or {"channels": list(DELIVERY_CHANNELS), "subject": "", "body": "", "name": ""},
            errors=errors or {},
            placeholders=campaigns.PLACEHOLDERS,
        )


@router.get("/campaigns", dependencies=[Depends(READ)])
def campaign_list(request: Request) -> Response:
    return _campaigns_page(request)


@router.post("/campaigns", dependencies=[Depends(WRITE)])
async def campaign_create(
    request: Request,
    name: Short = "",
    segment: Short = "",
    subject: Short = "",
    body: Long = "",
    offer_bundle_code: Short = "",
) -> Response:
    form = await request.form()
    channels = [str(c) for c in form.getlist("channels")]
    principal: Principal = request.state.principal
    values = {
        "name": name,
        "segment": segment,
        "channels": channels,
        "subject": subject,
        "body": body,
        "offer_bundle_code": offer_bundle_code,
    }
    try:
        with request.app.state.db.transaction() as session:
            campaign = campaigns.create_campaign(
                session,
                name=name,
                segment=segment,
                channels=channels,
                subject=subject,
                body=body,
                offer_bundle_code=offer_bundle_code or None,
                actor=_actor(principal),
                now=_now(request),
            )
            campaign_id = campaign.id
    except (ValidationFailed, Conflict) as exc:
        return _campaigns_page(
            request, values=values, errors=_problems(exc), status_code=exc.status
        )
    flash(request, "ok", "Campaign created as a draft: check it, then launch it.")
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.get("/campaigns/{campaign_id:int}", dependencies=[Depends(READ)])
def campaign_detail(request: Request, campaign_id: int) -> Response:
    with request.app.state.db.transaction() as session:
        campaign = campaigns.get_campaign(session, campaign_id)
        campaigns.refresh_email_statuses(session, campaign)
        counts = campaigns.delivery_counts(session, campaign_id)
        targets = len(campaigns.targets(session, campaign.segment))
        return render(
            request,
            "experiments/campaign.html",
            nav="campaigns",
            campaign=campaign,
            counts=counts,
            statuses=DELIVERY_STATUSES,
            channels=campaign.channels,
            targets=targets,
            can_write=_can_write(request),
        )


def _campaign_write(request: Request, campaign_id: int, what: str) -> Response:
    principal: Principal = request.state.principal
    settings = request.app.state.settings
    try:
        with request.app.state.db.transaction() as session:
            if what == "launch":
                run = campaigns.launch(
                    session,
                    campaign_id,
                    actor=_actor(principal),
                    now=_now(request),
                    base_url=settings.public_url,
                    bsp_name=settings.bsp_name,
                    sender=settings.support_email,
                )
                queued = sum(by.get("queued", 0) for by in run.counts.values())
                skipped = sum(by.get("skipped_consent", 0) for by in run.counts.values())
                message = (
                    f"Launched: {queued} messages on their way, {skipped} held back (no consent)."
                )
            else:
                campaign = campaigns.finish(
                    session, campaign_id, actor=_actor(principal), now=_now(request)
                )
                message = f"Campaign {campaign.status}."
    except Conflict as exc:
        flash(request, "warn", f"Not done: {exc.message}.")
        return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)
    flash(request, "ok", message)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id:int}/launch", dependencies=[Depends(WRITE)])
def campaign_launch(request: Request, campaign_id: int) -> Response:
    return _campaign_write(request, campaign_id, "launch")


@router.post("/campaigns/{campaign_id:int}/finish", dependencies=[Depends(WRITE)])
def campaign_finish(request: Request, campaign_id: int) -> Response:
    return _campaign_write(request, campaign_id, "finish")


# --- Opt-out (public) -------------------------------------------------------------------------


@router.get("/campaigns/optout/{token}", dependencies=[Depends(PUBLIC)])
def optout_confirm(request: Request, token: str) -> Response:
    with request.app.state.db.session() as session:
        ok = campaigns.optout_delivery(session, token) is not None
    if not ok:
        return render(request, "experiments/optout_invalid.html", status_code=404)
    return render(request, "experiments/optout.html", token=token)


@router.post("/campaigns/optout/{token}", dependencies=[Depends(PUBLIC), Depends(verify_csrf)])
def optout(request: Request, token: str) -> Response:
    with request.app.state.db.transaction() as session:
        subscriber_id = campaigns.redeem_optout(session, token, _now(request))
    if subscriber_id is None:
        return render(request, "experiments/optout_invalid.html", status_code=404)
    return render(request, "experiments/optout_done.html")


# --- The portal card (subscriber) -------------------------------------------------------------


@router.get("/portal/campaigns/{delivery_id:int}/shown")
def card_shown(request: Request, delivery_id: int, principal: Me) -> Response:
    """The card's image beacon: the card reached the subscriber's screen."""
    if principal.subscriber_id is None:  # pragma: no cover - a subscriber session has one
        raise NotFound("no subscriber")
    with request.app.state.db.transaction() as session:
        campaigns.mark_shown(session, principal.subscriber_id, delivery_id, _now(request))
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


@router.post("/portal/campaigns/{delivery_id:int}/respond")
def card_respond(
    request: Request, delivery_id: int, principal: Me, response: Short = ""
) -> Response:
    if principal.subscriber_id is None:  # pragma: no cover - a subscriber session has one
        raise NotFound("no subscriber")
    try:
        with request.app.state.db.transaction() as session:
            campaigns.respond(
                session, principal.subscriber_id, delivery_id, response, _now(request)
            )
    except (Conflict, ValidationFailed) as exc:
        flash(request, "warn", f"Not done: {exc.message}.")
        return RedirectResponse("/portal/", status_code=303)
    flash(
        request,
        "ok",
        "Thank you: we will be in touch about it."
        if response == "interested"
        else "Thank you: we will not show this again.",
    )
    return RedirectResponse("/portal/", status_code=303)


# --- Experiments (staff) ----------------------------------------------------------------------


def _experiments_page(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with request.app.state.db.session() as session:
        rows = [
            (e, service.assigned_counts(session, e.id)) for e in service.list_experiments(session)
        ]
        return render(
            request,
            "experiments/experiments.html",
            status_code=status_code,
            nav="experiments",
            rows=rows,
            metrics=metrics.METRICS,
            can_write=_can_write(request),
            values=values
            or {"key": "", "name": "", "hypothesis": "", "variants": "control:50, treatment:50"},
            errors=errors or {},
        )


@router.get("/experiments", dependencies=[Depends(READ)])
def experiment_list(request: Request) -> Response:
    return _experiments_page(request)


@router.post("/experiments", dependencies=[Depends(WRITE)])
def experiment_create(
    request: Request,
    key: Short = "",
    name: Short = "",
    hypothesis: Annotated[str, Form(max_length=actions.MAX_HYPOTHESIS * 2)] = "",
    variants: Short = "",
    metric: Short = "",
) -> Response:
    principal: Principal = request.state.principal
    values = {
        "key": key,
        "name": name,
        "hypothesis": hypothesis,
        "variants": variants,
        "metric": metric,
    }
    try:
        with request.app.state.db.transaction() as session:
            experiment = actions.create_experiment(
                session,
                key=key,
                name=name,
                hypothesis=hypothesis,
                variants=parse_variants(variants),
                metric=metric,
                actor=_actor(principal),
                now=_now(request),
            )
            saved = experiment.key
    except (ValidationFailed, Conflict) as exc:
        errors: dict[str, str] = {}
        if isinstance(exc, Conflict):
            errors = {"key": exc.message}
        else:
            for e in exc.errors:
                where = "variants" if e.field.startswith("variants") else e.field
                errors[where] = "; ".join(filter(None, (errors.get(where), e.message)))
        return _experiments_page(request, values=values, errors=errors, status_code=exc.status)
    flash(request, "ok", "Experiment created as a draft: start it when the callers are ready.")
    return RedirectResponse(f"/experiments/{saved}", status_code=303)


def ci_chart(result: service.ExperimentResult) -> Markup | None:
    """Each treatment's difference from the control as a dot with its confidence interval as
    a line, and a vertical line at zero (no difference): an interval that does not cross it
    is unlikely to be chance. A share is drawn in points."""
    drawn = [o for o in result.outcomes if o.comparison is not None]
    if not drawn:
        return None
    scale = 100.0 if result.metric.kind == stats.BINARY else 1.0
    unit = " points" if scale == 100 else ""
    rows = len(drawn)
    chart = pygal.XY(
        **charts._common(
            [charts.ACCENT, charts.ACCENT, "#5b6675"],
            height=70 + 44 * rows,
            show_legend=False,
            stroke=True,
            show_y_guides=False,
            range=(-0.5, rows - 0.5),
            y_labels=[{"label": o.treatment, "value": i} for i, o in enumerate(drawn)],
            x_title=f"{result.metric.name}: difference from {result.control}{unit}",
            dots_size=5,
            stroke_style={"width": 4},
        )
    )
    for i, o in enumerate(drawn):
        c = o.comparison
        assert c is not None
        chart.add(
            f"{o.treatment} {c.confidence * 100:g} % CI",
            [(c.ci_low * scale, i), (c.ci_high * scale, i)],
            show_dots=False,
        )
        chart.add(
            f"{o.treatment} difference",
            [(c.difference * scale, i)],
            stroke=False,
            dots_size=6,
        )
    chart.add("no difference", [(0, -0.5), (0, rows - 0.5)], show_dots=False)
    words = "; ".join(
        f"{o.treatment}: {o.comparison.difference * scale:+.2f}{unit} "
        f"({o.comparison.ci_low * scale:.2f} to {o.comparison.ci_high * scale:.2f})"
        for o in drawn
        if o.comparison is not None
    )
    return charts._render(chart, f"Difference from {result.control} with its interval: {words}")


@router.get("/experiments/{key}", dependencies=[Depends(READ)])
def experiment_detail(request: Request, key: str) -> Response:
    with request.app.state.db.session() as session:
        result = service.result(session, key)
        return render(
            request,
            "experiments/experiment.html",
            nav="experiments",
            result=result,
            e=result.experiment,
            chart=ci_chart(result),
            can_write=_can_write(request),
            binary=result.metric.kind == stats.BINARY,
        )


def _experiment_write(request: Request, key: str, what: str) -> Response:
    principal: Principal = request.state.principal
    now = _now(request)
    try:
        with request.app.state.db.transaction() as session:
            if what == "start":
                actions.start(session, key, actor=_actor(principal), now=now)
                message = "Experiment started: subscribers are assigned as they are exposed."
            elif what == "stop":
                actions.stop(session, key, actor=_actor(principal), now=now)
                message = "Experiment stopped: no more assignments."
            else:
                run = actions.observe(session, key, now=now)
                message = (
                    f"Measured {run.observed} subscribers; {run.waiting} still inside their window."
                )
    except Conflict as exc:
        flash(request, "warn", f"Not done: {exc.message}.")
        return RedirectResponse(f"/experiments/{key}", status_code=303)
    flash(request, "ok", message)
    return RedirectResponse(f"/experiments/{key}", status_code=303)


@router.post("/experiments/{key}/start", dependencies=[Depends(WRITE)])
def experiment_start(request: Request, key: str) -> Response:
    return _experiment_write(request, key, "start")


@router.post("/experiments/{key}/stop", dependencies=[Depends(WRITE)])
def experiment_stop(request: Request, key: str) -> Response:
    return _experiment_write(request, key, "stop")


@router.post("/experiments/{key}/observe", dependencies=[Depends(WRITE)])
def experiment_observe(request: Request, key: str) -> Response:
    return _experiment_write(request, key, "observe")
