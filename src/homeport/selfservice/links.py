"""One-time sign-in links for the self-service portal, sent by email.

A subscriber asks for a link with their email address; the answer is the same whether or not
the address has an account (it never tells who is a customer). When it has an active account,
a random token is made, only its SHA-256 is stored (``login_links``), and an email carrying
``/portal/link/<token>`` is queued through the support desk's outbound queue, which the worker
sends through the BSP's SMTP relay (``homeport.adapters.smtp.sender``).

A link works once, for :data:`LINK_TTL`. Requests are limited per address and per client
address within :data:`REQUEST_WINDOW` (counted in ``login_attempts`` under the realm
:data:`REALM`, whether the address is known or not), so nobody can flood an inbox.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session

from homeport.core.errors import FieldError, ValidationFailed
from homeport.identity import service as identity_service
from homeport.identity.models import LoginAttempt, SubscriberAccount
from homeport.identity.service import hash_token
from homeport.selfservice.models import LoginLink
from homeport.support import actions as support_actions

#: How long a link works.
LINK_TTL = timedelta(minutes=15)
#: The window over which link requests are counted.
REQUEST_WINDOW = timedelta(minutes=15)
#: Most link requests for one email address, and from one client address, in the window.
MAX_PER_ADDRESS = 3
MAX_PER_CLIENT = 10
#: ``login_attempts.realm`` of a link request.
REALM = "portal_link"
_TOKEN_BYTES = 32


@dataclass(frozen=True)
class LinkRequest:
    """What happened to one request (the page says the same thing in every case)."""

    #: ``sent``: an email is queued; ``unknown``: no active account has that address;
    #: ``throttled``: too many requests for the address or from the client.
    outcome: str
    outbound_id: int | None = None


def link_email(*, bsp_name: str, url: str, ttl: timedelta = LINK_TTL) -> tuple[str, str]:
    """(subject, body) of the sign-in email."""
    minutes = int(ttl.total_seconds() // 60)
    subject = f"Your sign-in link for {bsp_name}"
    body = (
        f"Hello,\n\nsomeone (we hope you) asked to sign in to your {bsp_name} account.\n"
        f"Open this link within {minutes} minutes to sign in:\n\n{url}\n\n"
        "The link works once. If you did not ask for it, ignore this email: nobody can sign "
        "in without it.\n"
    )
    return subject, body


def request_link(
    session: Session,
    *,
    email: str,
    client: str,
    now: datetime,
    base_url: str,
    bsp_name: str,
    sender: str = "",
) -> LinkRequest:
    """Handle one "email me a sign-in link" request in the caller's transaction: count it, and
    when the address has an active account (and is not over its limit) store a new link and
    queue its email. ``base_url`` is the site's address (``https://my.isp.example``)."""
    address = identity_service.normalise_email(email)
    if not address or "@" not in address or len(address) > 254:
        raise ValidationFailed("invalid address", [FieldError("email", "an email address")])
    by_address, by_client = identity_service.recent_failures(
        session, realm=REALM, email=address, client=client[:64], since=now - REQUEST_WINDOW
    )
    over = by_address >= MAX_PER_ADDRESS or by_client >= MAX_PER_CLIENT
    session.add(LoginAttempt(realm=REALM, email=address, client=client[:64], at=now, success=False))
    if over:
        return LinkRequest("throttled")
    account = identity_service.subscriber_account_by_email(session, address)
    if account is None or not account.is_active:
        return LinkRequest("unknown")
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    session.add(
        LoginLink(
            account_id=account.id,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + LINK_TTL,
        )
    )
    subject, body = link_email(bsp_name=bsp_name, url=f"{base_url.rstrip('/')}/portal/link/{token}")
    headers: dict[str, object] = {"Auto-Submitted": "auto-generated"}
    if sender:
        headers["From"] = sender
    message = support_actions.queue_outbound(
        session,
        channel="email",
        recipient=account.email,
        subject=subject,
        body=body,
        headers=headers,
        now=now,
    )
    return LinkRequest("sent", message.id)


def _live(token: str, now: datetime) -> ColumnElement[bool]:
    return and_(
        LoginLink.token_hash == hash_token(token),
        LoginLink.used_at.is_(None),
        LoginLink.expires_at > now,
    )


def valid_link(session: Session, token: str, now: datetime) -> bool:
    """Whether the token names an unused, unexpired link of an active account (a read: the
    confirmation page, which mail scanners may fetch, does not spend the link)."""
    if not token or len(token) > 200:
        return False
    account = session.scalar(
        select(SubscriberAccount)
        .join(LoginLink, LoginLink.account_id == SubscriberAccount.id)
        .where(_live(token, now))
    )
    return account is not None and account.is_active


def redeem_link(session: Session, token: str, now: datetime) -> SubscriberAccount | None:
    """Spend the link and return its account, or None when the link is unknown, used, expired
    or its account inactive. One conditional UPDATE marks it used, so two requests racing with
    the same link cannot both sign in."""
    if not token or len(token) > 200:
        return None
    link_id = session.scalar(select(LoginLink.id).where(_live(token, now)))
    if link_id is None:
        return None
    spent = session.execute(
        update(LoginLink)
        .where(LoginLink.id == link_id, LoginLink.used_at.is_(None))
        .values(used_at=now)
    )
    if getattr(spent, "rowcount", 0) != 1:
        return None
    link = session.get_one(LoginLink, link_id)
    account = session.get(SubscriberAccount, link.account_id)
    if account is None or not account.is_active:
        return None
    account.last_login_at = now
    session.add(LoginAttempt(realm=REALM, email=account.email, client="link", at=now, success=True))
    return account
