"""The smallest self-service portal the chat needs: subscriber sign-in and sign-out, and the
mobile-first chat page (``/portal/chat``). Issue 5 builds the rest of the portal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from homeport.identity import actions
from homeport.identity.api import Access, end_session, verify_csrf
from homeport.identity.schemas import Principal
from homeport.subscribers.models import Subscriber
from homeport.web.templating import render
from homeport.web.views.auth import sign_in

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
    return await sign_in(
        request,
        kind="subscriber",
        authenticate=actions.authenticate_subscriber,
        template="portal/login.html",
        email=email,
        password=password,
        next=_safe_next(next),
    )


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
