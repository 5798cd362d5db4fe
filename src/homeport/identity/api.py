"""Who may use a route. Every page and API route declares one :class:`Access` dependency.

- ``Access.public()``: anyone (sign-in page, health probes, metrics).
- ``Access.staff("admin", "supervisor")``: staff with one of those roles (no roles: any staff).
- ``Access.subscriber()``: a signed-in subscriber (the self-service portal).

Browser sessions use a signed cookie; unsafe methods then need the CSRF token (form field
``csrf_token`` or header ``X-CSRF-Token``). Integrations send ``Authorization: Bearer <token>``
and are limited by the token's scopes (``read`` for GETs unless the route names another).
Pages send an anonymous visitor to the sign-in page; API routes answer 401.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from homeport.core.db import Database
from homeport.core.errors import AuthenticationFailed, PermissionDenied
from homeport.identity import actions, service
from homeport.identity.models import ROLES, StaffUser, SubscriberAccount
from homeport.identity.schemas import Principal

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_KIND = "kind"
SESSION_ID = "uid"
SESSION_CSRF = "csrf"


class LoginRequired(AuthenticationFailed):
    """Raised for an anonymous request; pages redirect to sign-in, the API answers 401."""

    def __init__(self, message: str, *, page: bool, realm: str = "staff") -> None:
        super().__init__(message)
        self.page = page
        self.realm = realm


class CsrfFailed(PermissionDenied):
    pass


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use (templates put it in every form)."""
    token = request.session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return str(token)


async def verify_csrf(request: Request) -> None:
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get(SESSION_CSRF)
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        raise CsrfFailed("missing or wrong CSRF token: reload the page and try again")


@dataclass(frozen=True)
class Access:
    audience: str  # "public" | "staff" | "subscriber"
    roles: tuple[str, ...] = ()
    scope: str | None = None
    page: bool = False

    @classmethod
    def public(cls, *, page: bool = False) -> Access:
        return cls("public", page=page)

    @classmethod
    def staff(cls, *roles: str, scope: str | None = None, page: bool = False) -> Access:
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)}")
        return cls("staff", tuple(roles), scope, page)

    @classmethod
    def subscriber(cls, *, page: bool = True) -> Access:
        return cls("subscriber", page=page)

    def describe(self) -> str:
        if self.audience == "public":
            return "anyone"
        if self.audience == "subscriber":
            return "signed-in subscriber"
        who = ", ".join(self.roles) if self.roles else "any staff role"
        return f"staff ({who})" + (f"; token scope {self.scope}" if self.scope else "")

    async def __call__(self, request: Request) -> Principal | None:
        if self.audience == "public":
            return None
        auth = request.headers.get("authorization", "")
        principal: Principal | None
        if auth.lower().startswith("bearer "):
            principal = await run_in_threadpool(self._from_token, request, auth[7:].strip())
        else:
            principal = await run_in_threadpool(self._from_session, request)
            if principal is not None:
                await verify_csrf(request)
        if principal is None:
            raise LoginRequired("sign-in required", page=self.page, realm=self.audience)
        self._authorise(principal, request.method)
        request.state.principal = principal
        return principal

    def _authorise(self, principal: Principal, method: str) -> None:
        if principal.kind != self.audience:
            raise PermissionDenied(f"this is for {self.describe()}")
        if self.roles and principal.role not in self.roles:
            raise PermissionDenied(
                f"your role ({principal.role}) may not do this; needs {', '.join(self.roles)}"
            )
        needed = self.scope or ("read" if method in SAFE_METHODS else None)
        if principal.scopes is not None and (needed is None or not principal.allows_scope(needed)):
            raise PermissionDenied(f"this token lacks the scope {needed or 'for this action'}")

    @staticmethod
    def _db(request: Request) -> Database:
        db: Database = request.app.state.db
        return db

    def _from_token(self, request: Request, token: str) -> Principal:
        now = request.app.state.clock.now()
        with self._db(request).transaction() as session:
            row = service.token_by_secret(session, token, now)
            if row is None:
                raise AuthenticationFailed("invalid, expired or revoked API token")
            actions.touch_api_token(session, row, now)
            user = row.user
            return Principal(
                kind="staff",
                id=user.id,
                email=user.email,
                name=user.name,
                role=user.role,
                token_id=row.id,
                scopes=row.scope_set,
            )

    def _from_session(self, request: Request) -> Principal | None:
        principal = session_principal(self._db(request), request.session)
        if principal is None and _signed_in(request.session):
            request.session.clear()  # the user is gone or deactivated: sign the browser out
        return principal


def _signed_in(data: Mapping[str, Any]) -> bool:
    return data.get(SESSION_KIND) in ("staff", "subscriber") and isinstance(
        data.get(SESSION_ID), int
    )


def session_principal(db: Database, data: Mapping[str, Any]) -> Principal | None:
    """Who a signed session cookie's data (``request.session``, or a WebSocket's
    ``scope["session"]``) names, if that staff user or subscriber account is still active."""
    if not _signed_in(data):
        return None
    kind, uid = data[SESSION_KIND], data[SESSION_ID]
    with db.session() as session:
        if kind == "staff":
            user = session.get(StaffUser, uid)
            if user is None or not user.is_active:
                return None
            return Principal(
                kind="staff", id=user.id, email=user.email, name=user.name, role=user.role
            )
        account = session.get(SubscriberAccount, uid)
        if account is None or not account.is_active:
            return None
        return Principal(
            kind="subscriber",
            id=account.id,
            email=account.email,
            subscriber_id=account.subscriber_id,
        )


def start_session(request: Request, *, kind: str, user_id: int) -> None:
    """Begin a signed-in session: a fresh session (no fixation) with a fresh CSRF token."""
    request.session.clear()
    request.session[SESSION_KIND] = kind
    request.session[SESSION_ID] = user_id
    csrf_token(request)


def end_session(request: Request) -> None:
    request.session.clear()


def access_of(dependencies: Iterable[Any]) -> list[Access]:
    """The :class:`Access` declarations among a route's (nested) dependencies."""
    found: list[Access] = []
    for dep in dependencies:
        if isinstance(dep.call, Access):
            found.append(dep.call)
        found.extend(access_of(dep.dependencies))
    return found


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
