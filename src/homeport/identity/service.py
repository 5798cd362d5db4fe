"""Reads: look up users, verify tokens."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from homeport.identity.models import ApiToken, LoginAttempt, StaffUser, SubscriberAccount

TOKEN_PREFIX = "hp"  # noqa: S105 - a marker, not a secret


def normalise_email(email: str) -> str:
    return email.strip().lower()


def staff_by_email(session: Session, email: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))


def subscriber_account_by_email(session: Session, email: str) -> SubscriberAccount | None:
    return session.scalar(
        select(SubscriberAccount).where(SubscriberAccount.email == normalise_email(email))
    )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def split_token(token: str) -> str | None:
    """The lookup prefix of a well-formed token ``hp_<prefix>_<secret>``, else None."""
    parts = token.split("_", 2)  # the secret itself may contain "_"
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def token_by_secret(session: Session, token: str, now: datetime) -> ApiToken | None:
    """The live token matching ``token`` (not revoked, not expired, user active), else None."""
    prefix = split_token(token)
    if prefix is None:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    if row is None or not hmac.compare_digest(row.token_hash, hash_token(token)):
        return None
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if not row.user.is_active:
        return None
    return row


def recent_failures(
    session: Session, *, realm: str, email: str | None, client: str | None, since: datetime
) -> tuple[int, int]:
    """Failed sign-ins since ``since``: (for this e-mail, from this client address)."""
    base = (
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.realm == realm, LoginAttempt.success.is_(False), LoginAttempt.at >= since
        )
    )
    by_email = session.scalar(base.where(LoginAttempt.email == email)) if email else 0
    by_client = session.scalar(base.where(LoginAttempt.client == client)) if client else 0
    return int(by_email or 0), int(by_client or 0)
