"""Writes of the identity domain. Each persists, audits and publishes in the caller's session;
the caller's transaction decides whether it all happens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.errors import Conflict, FieldError, NotFound, Throttled, ValidationFailed
from homeport.core.events import Event, publish
from homeport.identity import service
from homeport.identity.models import (
    ROLES,
    SCOPES,
    ApiToken,
    LoginAttempt,
    StaffUser,
    SubscriberAccount,
    Team,
)
from homeport.identity.passwords import hash_password, needs_rehash, verify_password


@dataclass(frozen=True)
class StaffUserCreated(Event):
    user_id: int
    role: str


@dataclass(frozen=True)
class ApiTokenCreated(Event):
    token_id: int
    user_id: int


def _valid_email(email: str) -> str:
    email = service.normalise_email(email)
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or len(email) > 254:
        raise ValidationFailed(
            "invalid e-mail address", [FieldError("email", f"not an e-mail address: {email!r}")]
        )
    return email


def create_team(session: Session, *, name: str, kind: str, actor: Actor, now: datetime) -> Team:
    team = Team(name=name, kind=kind, created_at=now)
    session.add(team)
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="team.created",
        entity_type="team",
        entity_id=team.id,
        name=name,
    )
    return team


def create_staff_user(
    session: Session,
    *,
    email: str,
    role: str,
    password: str | None,
    actor: Actor,
    now: datetime,
    name: str = "",
    team_id: int | None = None,
) -> StaffUser:
    email = _valid_email(email)
    if role not in ROLES:
        raise ValidationFailed(
            "unknown role", [FieldError("role", f"{role!r} is not one of {', '.join(ROLES)}")]
        )
    if service.staff_by_email(session, email) is not None:
        raise Conflict(f"a staff user with e-mail {email} already exists")
    try:
        pw_hash = hash_password(password) if password is not None else None
    except ValueError as exc:
        raise ValidationFailed(str(exc), [FieldError("password", str(exc))]) from exc
    user = StaffUser(
        email=email,
        name=name,
        role=role,
        password_hash=pw_hash,
        team_id=team_id,
        created_at=now,
        is_active=True,
    )
    session.add(user)
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="staff_user.created",
        entity_type="staff_user",
        entity_id=user.id,
        email=email,
        role=role,
    )
    publish(session, StaffUserCreated(user.id, role))
    return user


def set_staff_password(
    session: Session, *, user_id: int, password: str, actor: Actor, now: datetime
) -> None:
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFound(f"no staff user {user_id}")
    try:
        user.password_hash = hash_password(password)
    except ValueError as exc:
        raise ValidationFailed(str(exc), [FieldError("password", str(exc))]) from exc
    record(
        session,
        at=now,
        actor=actor,
        action="staff_user.password_set",
        entity_type="staff_user",
        entity_id=user.id,
    )


def create_api_token(
    session: Session,
    *,
    user_id: int,
    scopes: list[str],
    actor: Actor,
    now: datetime,
    name: str = "",
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the secret, which is never stored or shown again."""
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFound(f"no staff user {user_id}")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValidationFailed(
            "unknown scope",
            [
                FieldError(
                    "scope",
                    f"{', '.join(unknown) or 'none given'}; choose from {', '.join(SCOPES)}",
                )
            ],
        )
    prefix = secrets.token_hex(6)
    secret = f"{service.TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        user_id=user.id,
        name=name,
        prefix=prefix,
        token_hash=service.hash_token(secret),
        scopes=" ".join(sorted(set(scopes))),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="api_token.created",
        entity_type="api_token",
        entity_id=token.id,
        user_id=user.id,
        scopes=token.scopes,
    )
    publish(session, ApiTokenCreated(token.id, user.id))
    return token, secret


def revoke_api_token(session: Session, *, token_id: int, actor: Actor, now: datetime) -> None:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no API token {token_id}")
    token.revoked_at = now
    record(
        session,
        at=now,
        actor=actor,
        action="api_token.revoked",
        entity_type="api_token",
        entity_id=token.id,
    )


def touch_api_token(session: Session, token: ApiToken, now: datetime) -> None:
    """Note the use of a token (at most once a minute, to spare the database)."""
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now


@dataclass(frozen=True)
class Throttle:
    max_failures: int
    window: timedelta


def _check_throttle(
    session: Session, *, realm: str, email: str, client: str, now: datetime, throttle: Throttle
) -> None:
    by_email, by_client = service.recent_failures(
        session, realm=realm, email=email, client=client, since=now - throttle.window
    )
    if by_email >= throttle.max_failures or by_client >= 4 * throttle.max_failures:
        raise Throttled(
            "too many failed sign-ins; try again later",
            retry_after_s=int(throttle.window.total_seconds()),
        )


def authenticate_staff(
    session: Session, *, email: str, password: str, client: str, now: datetime, throttle: Throttle
) -> StaffUser | None:
    """The active user with that e-mail and password, else None.

    Every attempt is recorded for throttling, so the caller must commit even on failure.
    Raises :class:`Throttled` (recording nothing) once the failures in the window reach the
    limit for the e-mail address or the client address.
    """
    email = service.normalise_email(email)
    _check_throttle(session, realm="staff", email=email, client=client, now=now, throttle=throttle)
    user = service.staff_by_email(session, email)
    ok = verify_password(user.password_hash if user else None, password)
    ok = ok and user is not None and user.is_active
    session.add(LoginAttempt(realm="staff", email=email, client=client, at=now, success=ok))
    if not ok or user is None:
        return None
    user.last_login_at = now
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def create_subscriber_account(
    session: Session,
    *,
    subscriber_id: int,
    email: str,
    password: str | None,
    actor: Actor,
    now: datetime,
) -> SubscriberAccount:
    email = _valid_email(email)
    if service.subscriber_account_by_email(session, email) is not None:
        raise Conflict(f"a subscriber account with e-mail {email} already exists")
    try:
        pw_hash = hash_password(password) if password is not None else None
    except ValueError as exc:
        raise ValidationFailed(str(exc), [FieldError("password", str(exc))]) from exc
    account = SubscriberAccount(
        subscriber_id=subscriber_id,
        email=email,
        password_hash=pw_hash,
        created_at=now,
        is_active=True,
    )
    session.add(account)
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="subscriber_account.created",
        entity_type="subscriber",
        entity_id=subscriber_id,
    )
    return account


def authenticate_subscriber(
    session: Session, *, email: str, password: str, client: str, now: datetime, throttle: Throttle
) -> SubscriberAccount | None:
    """As :func:`authenticate_staff`, for the self-service portal."""
    email = service.normalise_email(email)
    _check_throttle(
        session, realm="subscriber", email=email, client=client, now=now, throttle=throttle
    )
    account = service.subscriber_account_by_email(session, email)
    ok = verify_password(account.password_hash if account else None, password)
    ok = ok and account is not None and account.is_active
    session.add(LoginAttempt(realm="subscriber", email=email, client=client, at=now, success=ok))
    if not ok or account is None:
        return None
    account.last_login_at = now
    return account
