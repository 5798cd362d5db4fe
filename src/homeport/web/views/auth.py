"""Staff sign-in and sign-out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from homeport.core.errors import Throttled
from homeport.identity import actions
from homeport.identity.api import Access, client_address, end_session, start_session, verify_csrf
from homeport.identity.models import StaffUser
from homeport.identity.schemas import Principal, StaffUserOut
from homeport.web.redirects import local_target
from homeport.web.templating import render

router = APIRouter()


async def sign_in(
    request: Request,
    *,
    kind: str,
    authenticate: Callable[..., Any],
    template: str,
    email: str,
    password: str,
    next: str,
) -> Response:
    """The sign-in form's POST for staff (``/login``) and subscribers (``/portal/login``):
    check the password with sign-in throttling, then start a fresh session and go to ``next``
    (already made safe by the caller), or show the form again with the reason."""
    settings = request.app.state.settings
    throttle = actions.Throttle(
        settings.login_max_failures, timedelta(seconds=settings.login_window_s)
    )
    client = client_address(request)

    def attempt() -> int | None:
        with request.app.state.db.transaction() as session:
            who = authenticate(
                session,
                email=email,
                password=password,
                client=client,
                now=request.app.state.clock.now(),
                throttle=throttle,
            )
            return int(who.id) if who else None

    try:
        user_id = await run_in_threadpool(attempt)
    except Throttled as exc:
        return render(
            request,
            template,
            status_code=429,
            next=next,
            email=email,
            error="Too many failed sign-ins. Wait "
            f"{exc.retry_after_s // 60} minutes and try again.",
        )
    if user_id is None:
        return render(
            request,
            template,
            status_code=401,
            next=next,
            email=email,
            error="Wrong e-mail address or password.",
        )
    start_session(request, kind=kind, user_id=user_id)
    return RedirectResponse(next, status_code=303)


@router.get("/login", dependencies=[Depends(Access.public(page=True))], include_in_schema=False)
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", next=local_target(next), error=None, email="")


@router.post(
    "/login",
    dependencies=[Depends(Access.public(page=True)), Depends(verify_csrf)],
    include_in_schema=False,
)
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    return await sign_in(
        request,
        kind="staff",
        authenticate=actions.authenticate_staff,
        template="login.html",
        email=email,
        password=password,
        next=local_target(next),
    )


@router.post("/logout", include_in_schema=False)
def logout(request: Request, _: Annotated[Principal, Depends(Access.staff(page=True))]) -> Response:
    end_session(request)
    return RedirectResponse("/login", status_code=303)


@router.get("/api/v1/me", tags=["identity"])
def me(request: Request, principal: Annotated[Principal, Depends(Access.staff())]) -> StaffUserOut:
    """The signed-in staff user (or the user a token acts for)."""
    with request.app.state.db.session() as session:
        user = session.get(StaffUser, principal.id)
        return StaffUserOut.model_validate(user)
