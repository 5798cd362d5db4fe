"""The smallest self-service portal the chat needs: subscriber sign-in and sign-out, and the
mobile-first chat page (``/portal/chat``). Issue 5 builds the rest of the portal."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from homeport.core.errors import Throttled
from homeport.identity import actions
from homeport.identity.api import Access, client_address, end_session, start_session, verify_csrf
from homeport.identity.schemas import Principal
from homeport.subscribers.models import Subscriber
from homeport.web.templating import render

router = APIRouter(prefix="/portal", include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only portal paths on this site."""
    if not target or not target.startswith("/portal/") or "\\" in target or "//" in target:
        return "/portal/chat"
    return target


@router.get("/login", dependencies=[Depends(Access.public(page=True))])
def login_form(request: Request, next: str = "/portal/chat") -> Response:
    return render(request, "portal/login.html", next=_safe_next(next), error=None, email="")


@router.post("/login", dependencies=[Depends(Access.public(page=True)), Depends(verify_csrf)])
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form()] = "/portal/chat",
) -> Response:
    settings = request.app.state.settings
    throttle = actions.Throttle(
        settings.login_max_failures, timedelta(seconds=settings.login_window_s)
    )
    client = client_address(request)

    def attempt() -> int | None:
        with request.app.state.db.transaction() as session:
            account = actions.authenticate_subscriber(
                session,
                email=email,
                password=password,
                client=client,
                now=request.app.state.clock.now(),
                throttle=throttle,
            )
            return account.id if account else None

    try:
        account_id = await run_in_threadpool(attempt)
    except Throttled as exc:
        error = f"Too many failed sign-ins. Wait {exc.retry_after_s // 60} minutes and try again."
        return render(
            request,
            "portal/login.html",
            status_code=429,
            next=_safe_next(next),
            email=email,
            error=error,
        )
    if account_id is None:
        return render(
            request,
            "portal/login.html",
            status_code=401,
            next=_safe_next(next),
            email=email,
            error="Wrong e-mail address or password.",
        )
    start_session(request, kind="subscriber", user_id=account_id)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(
    request: Request, _: Annotated[Principal, Depends(Access.subscriber(page=True))]
) -> Response:
    end_session(request)
    return RedirectResponse("/portal/login", status_code=303)


@router.get("/chat")
def chat_page(
    request: Request, principal: Annotated[Principal, Depends(Access.subscriber(page=True))]
) -> Response:
    def first_name() -> str:
        with request.app.state.db.session() as session:
            sub = session.get(Subscriber, principal.subscriber_id)
            return sub.name.split()[0] if sub and sub.name else ""

    return render(request, "portal/chat.html", first_name=first_name(), subscriber=principal)
