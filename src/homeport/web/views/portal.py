"""The subscriber portal (``/portal``): sign-in by password or a one-time email link, home, my
network, fix it myself (remote actions and the agents' guided flows), contact and cases,
preferences, and the pieces that make it an installable web app (manifest, service worker).

Mobile-first pages rendered on the server. Every route acts for the signed-in subscriber only:
the reads and writes (``homeport.selfservice.service`` and ``actions``) filter by the
session's subscriber id, so another subscriber's case, device or action is a 404. Every page
and every use is an engagement event. The chat page (``/portal/chat``) belongs to the chat
channel; the help pages (``/portal/help``) to the knowledge base.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.experiments import campaigns
from homeport.identity import actions
from homeport.identity.api import (
    SESSION_ID,
    Access,
    client_address,
    end_session,
    start_session,
    verify_csrf,
)
from homeport.identity.models import SubscriberAccount
from homeport.identity.schemas import Principal
from homeport.journey import surveys
from homeport.retention import recommendations
from homeport.selfservice import actions as portal_actions
from homeport.selfservice import links
from homeport.selfservice import service as portal_service
from homeport.selfservice.actions import record_engagement
from homeport.subscribers.models import Subscriber
from homeport.support import guided
from homeport.web.redirects import local_target
from homeport.web.templating import flash, render
from homeport.web.views.auth import sign_in
from homeport.web.views.subscribers import money

router = APIRouter(prefix="/portal", include_in_schema=False)

STATIC = Path(__file__).resolve().parent.parent / "static"
HOME = "/portal/"
PAGE = Access.subscriber(page=True)
Me = Annotated[Principal, Depends(PAGE)]
Short = Annotated[str, Form(max_length=200)]
Long = Annotated[str, Form(max_length=20_000)]
#: Remote actions the Fix page offers, with the engagement kind and the page's answer.
QUICK_ACTIONS = {
    "speed-test": ("speed_test", "Speed test started. The result shows here in a minute."),
    "restart": ("reboot", "Your gateway is restarting. Your Internet is back in 2–3 minutes."),
}


def _sub(principal: Principal) -> int:
    if principal.subscriber_id is None:  # pragma: no cover - a subscriber session always has one
        raise NotFound("no subscriber")
    return principal.subscriber_id


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


def _page(
    request: Request,
    principal: Principal,
    name: str,
    template: str,
    build: Callable[[Session, datetime, int], dict[str, Any]],
    status_code: int = 200,
) -> Response:
    """Build a page's context for the signed-in subscriber and count the visit (a
    ``page_view`` engagement event) in one transaction."""
    sid = _sub(principal)
    now = _now(request)
    with request.app.state.db.transaction() as session:
        context = build(session, now, sid)
        record_engagement(session, sid, "page_view", at=now, detail={"page": name})
    return render(
        request, template, status_code=status_code, subscriber=principal, nav=name, **context
    )


def _write(
    request: Request,
    principal: Principal,
    work: Callable[[Session, datetime, int], Any],
    done: str | Callable[[Any], str],
    back: str,
) -> Response:
    """Run one portal write in a transaction, then back to ``back`` with a message; a refused
    change (a rate limit, bad input, a closed case) comes back as a warning."""
    sid = _sub(principal)
    try:
        with request.app.state.db.transaction() as session:
            result = work(session, _now(request), sid)
    except (Conflict, ValidationFailed) as exc:
        detail = "; ".join(e.message for e in getattr(exc, "errors", [])) or exc.message
        flash(request, "warn", f"Not done: {detail}.")
        return RedirectResponse(back, status_code=303)
    flash(request, "ok", done(result) if callable(done) else done)
    if isinstance(result, str) and result.startswith("/portal/"):
        return RedirectResponse(result, status_code=303)
    return RedirectResponse(back, status_code=303)


# --- Sign-in ----------------------------------------------------------------------------------


@router.get("/login", dependencies=[Depends(Access.public(page=True))])
def login_form(request: Request, next: str = HOME) -> Response:
    return render(
        request,
        "portal/login.html",
        next=local_target(next, "/portal/", HOME),
        error=None,
        email="",
    )


@router.post("/login", dependencies=[Depends(Access.public(page=True)), Depends(verify_csrf)])
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form()] = HOME,
) -> Response:
    response = await sign_in(
        request,
        kind="subscriber",
        authenticate=actions.authenticate_subscriber,
        template="portal/login.html",
        email=email,
        password=password,
        next=local_target(next, "/portal/", HOME),
    )
    if response.status_code == 303:
        _signed_in(request, request.session.get(SESSION_ID), "password")
    return response


def _signed_in(request: Request, account_id: object, method: str) -> None:
    if not isinstance(account_id, int):
        return
    with request.app.state.db.transaction() as session:
        account = session.get(SubscriberAccount, account_id)
        if account is not None:
            record_engagement(
                session,
                account.subscriber_id,
                "sign_in",
                at=_now(request),
                detail={"method": method},
            )


@router.post("/login/link", dependencies=[Depends(Access.public(page=True)), Depends(verify_csrf)])
def request_link(
    request: Request,
    email: Annotated[str, Form(max_length=254)],
) -> Response:
    """Email a one-time sign-in link. The answer is the same whether or not the address has
    an account, and whether or not the request was over its limit."""
    settings = request.app.state.settings
    try:
        with request.app.state.db.transaction() as session:
            links.request_link(
                session,
                email=email,
                client=client_address(request),
                now=_now(request),
                base_url=settings.public_url,
                bsp_name=settings.bsp_name,
                sender=settings.support_email,
            )
    except ValidationFailed:
        return render(
            request,
            "portal/login.html",
            status_code=422,
            next=HOME,
            email=email,
            error="Enter the email address of your account.",
        )
    return render(
        request,
        "portal/link_sent.html",
        email=email.strip(),
        minutes=int(links.LINK_TTL.total_seconds() // 60),
    )


@router.get("/link/{token}", dependencies=[Depends(Access.public(page=True))])
def link_confirm(request: Request, token: str) -> Response:
    """The link from the email: a button to press (a GET never signs in, so that mail scanners
    that open links do not spend it)."""
    with request.app.state.db.session() as session:
        ok = links.valid_link(session, token, _now(request))
    if not ok:
        return render(request, "portal/link_invalid.html", status_code=404)
    return render(request, "portal/link_confirm.html", token=token)


@router.post(
    "/link/{token}", dependencies=[Depends(Access.public(page=True)), Depends(verify_csrf)]
)
def link_sign_in(request: Request, token: str) -> Response:
    with request.app.state.db.transaction() as session:
        account = links.redeem_link(session, token, _now(request))
        account_id = account.id if account is not None else None
    if account_id is None:
        return render(request, "portal/link_invalid.html", status_code=404)
    start_session(request, kind="subscriber", user_id=account_id)
    _signed_in(request, account_id, "link")
    return RedirectResponse(HOME, status_code=303)


@router.post("/logout")
def logout(request: Request, _: Me) -> Response:
    end_session(request)
    return RedirectResponse("/portal/login", status_code=303)


# --- Home and my network ----------------------------------------------------------------------


@router.get("/")
def home(request: Request, principal: Me) -> Response:
    health = request.app.state.settings.health

    bsp = request.app.state.settings.bsp_name

    def build(session: Session, now: datetime, sid: int) -> dict[str, Any]:
        return {
            "view": portal_service.home_view(session, sid, now=now, s=health),
            "recs": recommendations.show(session, sid, "portal", now),
            "rec_channel": "portal",
            "rec_money": money,
            "survey": surveys.pending_survey(session, sid, now=now, bsp_name=bsp),
            "campaign_messages": campaigns.portal_messages(session, sid),
        }

    return _page(request, principal, "home", "portal/home.html", build)


@router.get("/network")
def network(request: Request, principal: Me) -> Response:
    health = request.app.state.settings.health

    def build(session: Session, now: datetime, sid: int) -> dict[str, Any]:
        return {"view": portal_service.network_view(session, sid, now=now, s=health)}

    return _page(request, principal, "network", "portal/network.html", build)


# --- Fix it myself ----------------------------------------------------------------------------


@router.get("/fix")
def fix(request: Request, principal: Me) -> Response:
    health = request.app.state.settings.health

    def build(session: Session, now: datetime, sid: int) -> dict[str, Any]:
        net = portal_service.network_view(session, sid, now=now, s=health)
        flows = guided.shipped_flows()
        suggested = [f for f in net.findings if f.flow]
        return {
            "view": net,
            "suggested": suggested,
            "flows": sorted(flows.values(), key=lambda f: (f.name != "wifi_coverage", f.title)),
            "actions": portal_service.recent_actions(session, sid),
        }

    return _page(request, principal, "fix", "portal/fix.html", build)


@router.post("/fix/{what}")
def quick_action(request: Request, what: str, principal: Me) -> Response:
    """Run a speed test or restart the gateway."""
    if what not in QUICK_ACTIONS:
        raise NotFound(f"no action {what!r}")
    kind, done = QUICK_ACTIONS[what]

    def work(session: Session, now: datetime, sid: int) -> None:
        portal_actions.run_remote_action(session, sid, kind, now=now)

    return _write(request, principal, work, done, "/portal/fix#actions")


@router.post("/fix/band/move")
def band_move(request: Request, principal: Me, mac: Short) -> Response:
    """Move one of the subscriber's own devices to 5 GHz (band steering)."""
    health = request.app.state.settings.health

    def work(session: Session, now: datetime, sid: int) -> None:
        own = portal_service.steerable_device(session, sid, mac, health)
        portal_actions.run_remote_action(
            session, sid, "band_steer", now=now, params={"mac": own, "band": "5GHz"}
        )

    return _write(
        request,
        principal,
        work,
        "Moving the device to 5 GHz. It may drop off the Wi-Fi for a few seconds.",
        "/portal/network",
    )


def _flow(name: str) -> guided.Flow:
    flow = guided.shipped_flows().get(name)
    if flow is None:
        raise NotFound(f"no guide {name!r}")
    return flow


@router.get("/fix/guide/{flow_name}")
def guide(request: Request, flow_name: str, principal: Me) -> Response:
    flow = _flow(flow_name)

    def build(session: Session, now: datetime, sid: int) -> dict[str, Any]:
        trail = portal_service.guide_trail(session, sid, flow, now=now)
        actions = {a.id: a for a in portal_service.recent_actions(session, sid, limit=20)}
        return {"flow": flow, "trail": trail, "actions": actions}

    return _page(request, principal, f"guide:{flow.name}", "portal/guide.html", build)


@router.post("/fix/guide/{flow_name}/step")
def guide_step(request: Request, flow_name: str, principal: Me, step: Short = "") -> Response:
    """Run the flow's start (no step: a new run) or the step the last one led to."""
    flow = _flow(flow_name)
    settings = request.app.state.settings
    if step and step not in flow.steps:
        raise ValidationFailed("unknown step", [FieldError("step", "a step of this guide")])

    def work(session: Session, now: datetime, sid: int) -> None:
        portal_actions.run_guided_step(
            session, sid, flow.name, step or None, now=now, health=settings.health
        )

    return _write(request, principal, work, "Checked.", f"/portal/fix/guide/{flow.name}#latest")


@router.post("/fix/guide/{flow_name}/action")
def guide_action(request: Request, flow_name: str, principal: Me, step: Short) -> Response:
    """Run the fix the step proposed."""
    flow = _flow(flow_name)
    settings = request.app.state.settings

    def work(session: Session, now: datetime, sid: int) -> str:
        action = portal_actions.run_guided_action(
            session, sid, flow.name, step, now=now, health=settings.health
        )
        return portal_service.ACTION_WORDS.get(action.kind, action.kind)

    return _write(
        request,
        principal,
        work,
        lambda words: f"{words}: on its way to your gateway. Check again in a few minutes.",
        f"/portal/fix/guide/{flow.name}#latest",
    )


@router.get("/actions/{action_id:int}", dependencies=[Depends(Access.subscriber(page=False))])
def action_status(request: Request, action_id: int) -> Response:
    """One of the subscriber's own remote actions, for the page to follow (JSON, never
    cached)."""
    principal: Principal = request.state.principal
    with request.app.state.db.session() as session:
        view = portal_service.own_action(session, _sub(principal), action_id)
    return JSONResponse(
        {
            "id": view.id,
            "kind": view.kind,
            "status": view.status,
            "status_words": view.status_words,
            "result_words": view.result_words,
        },
        headers={"Cache-Control": "no-store"},
    )


# --- Contact and cases ------------------------------------------------------------------------


@router.get("/contact")
def contact(request: Request, principal: Me) -> Response:
    def build(session: Session, now: datetime, sid: int) -> dict[str, Any]:
        sub = session.get_one(Subscriber, sid)
        return {
            "cases": portal_service.case_list(session, sid, limit=5),
            "phone": sub.phone or "",
        }

    return _page(request, principal, "contact", "portal/contact.html", build)


@router.post("/contact/message")
def contact_message(request: Request, principal: Me, subject: Short, body: Long) -> Response:
    def work(session: Session, now: datetime, sid: int) -> str:
        case = portal_actions.send_message(session, sid, subject=subject, body=body, now=now)
        return f"/portal/cases/{case.id}"

    return _write(
        request,
        principal,
        work,
        "Thanks: your message is with our team. We answer here and by email.",
        "/portal/contact#message",
    )


@router.post("/contact/callback")
def contact_callback(
    request: Request,
    principal: Me,
    when: Short,
    phone: Short,
    note: Long = "",
) -> Response:
    zone = request.app.state.settings.zone
    try:
        at = datetime.fromisoformat(when).replace(tzinfo=zone)
    except ValueError:
        flash(request, "warn", "Not done: choose a day and time for the call.")
        return RedirectResponse("/portal/contact#callback", status_code=303)

    def work(session: Session, now: datetime, sid: int) -> str:
        case = portal_actions.request_callback(
            session, sid, at=at, phone=phone, note=note, now=now, zone=zone
        )
        return f"/portal/cases/{case.id}"

    return _write(
        request,
        principal,
        work,
        "We'll call you back at the time you chose.",
        "/portal/contact#callback",
    )


@router.get("/cases")
def cases(request: Request, principal: Me) -> Response:
    def build(session: Session, now: datetime, sid: int) -> dict[str, Any]:
        return {"cases": portal_service.case_list(session, sid)}

    return _page(request, principal, "cases", "portal/cases.html", build)


@router.get("/cases/{case_id:int}")
def case_detail(request: Request, case_id: int, principal: Me) -> Response:
    bsp_name = request.app.state.settings.bsp_name

    def build(session: Session, now: datetime, sid: int) -> dict[str, Any]:
        case = portal_service.own_case(session, sid, case_id)
        if case.id != case_id:
            return {"moved_to": case.id}
        return {
            "case": case,
            "status_words": portal_service.CASE_STATUS_WORDS.get(case.status, case.status),
            "messages": portal_service.case_messages(session, case, bsp_name=bsp_name),
            "tags": portal_service.case_tags(session, case.id),
        }

    sid = _sub(principal)
    with request.app.state.db.session() as session:
        survivor = portal_service.own_case(session, sid, case_id)
    if survivor.id != case_id:
        return RedirectResponse(f"/portal/cases/{survivor.id}", status_code=303)
    return _page(request, principal, "case", "portal/case.html", build)


@router.post("/cases/{case_id:int}/reply")
def case_reply(request: Request, case_id: int, principal: Me, body: Long) -> Response:
    def work(session: Session, now: datetime, sid: int) -> None:
        portal_actions.reply_to_case(session, sid, case_id, body=body, now=now)

    return _write(request, principal, work, "Sent.", f"/portal/cases/{case_id}#reply")


# --- Preferences ------------------------------------------------------------------------------


@router.get("/settings")
def settings_page(request: Request, principal: Me) -> Response:
    def build(session: Session, now: datetime, sid: int) -> dict[str, Any]:
        return {"sub": session.get_one(Subscriber, sid)}

    return _page(request, principal, "settings", "portal/settings.html", build)


@router.post("/settings")
def save_settings(
    request: Request,
    principal: Me,
    email: Short = "",
    sms: Short = "",
    marketing: Short = "",
) -> Response:
    def work(session: Session, now: datetime, sid: int) -> bool:
        return portal_actions.set_preferences(
            session, sid, email=bool(email), sms=bool(sms), marketing=bool(marketing), now=now
        )

    return _write(
        request,
        principal,
        work,
        lambda changed: "Preferences saved." if changed else "Nothing changed.",
        "/portal/settings",
    )


# --- Chat (the chat channel's page) -----------------------------------------------------------


@router.get("/chat")
def chat_page(
    request: Request, principal: Annotated[Principal, Depends(Access.subscriber(page=True))]
) -> Response:
    def first_name() -> str:
        with request.app.state.db.session() as session:
            sub = session.get(Subscriber, principal.subscriber_id)
            return sub.name.split()[0] if sub and sub.name else ""

    return render(request, "portal/chat.html", first_name=first_name(), subscriber=principal)


# --- Installable web app ----------------------------------------------------------------------


@router.get("/manifest.webmanifest", dependencies=[Depends(Access.public())])
def manifest(request: Request) -> Response:
    name = request.app.state.settings.bsp_name
    return JSONResponse(
        {
            "name": f"{name} — my connection",
            "short_name": name[:12],
            "start_url": HOME,
            "scope": "/portal/",
            "display": "standalone",
            "background_color": "#ffffff",
            "theme_color": "#0b5cad",
            "icons": [
                {
                    "src": "/static/portal-icon.svg",
                    "sizes": "any",
                    "type": "image/svg+xml",
                    "purpose": "any",
                },
                {
                    "src": "/static/portal-icon-maskable.svg",
                    "sizes": "any",
                    "type": "image/svg+xml",
                    "purpose": "maskable",
                },
            ],
        },
        media_type="application/manifest+json",
    )


@router.get("/sw.js", dependencies=[Depends(Access.public())])
def service_worker() -> Response:
    """The service worker, served from ``/portal/`` so that its scope is the portal."""
    return FileResponse(
        STATIC / "portal-sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/portal/"},
    )


@router.get("/offline", dependencies=[Depends(Access.public(page=True))])
def offline(request: Request) -> Response:
    """The page the service worker shows when the phone is offline (no account data)."""
    return render(request, "portal/offline.html", subscriber=None)
