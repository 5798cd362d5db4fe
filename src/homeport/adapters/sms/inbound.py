"""An inbound SMS as a support interaction (no web code here).

- **Dedup**: the provider's message id is the interaction's ``external_id`` (channel ``sms``):
  a webhook retried by the provider is recognised and changes nothing.
- **Threading**: the message joins the sender's latest live SMS case updated within
  ``sms_thread_days`` (by subscriber, or by number for an unknown sender), else opens a
  reactive case in channel ``sms``.
- **Keywords**: a message that is only STOP (or STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT) turns
  the subscriber's SMS consent off; START (or YES, UNSTOP) turns it back on, through
  :func:`homeport.subscribers.actions.set_consent`. A keyword joins a live SMS thread if
  there is one, but never opens a case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor
from homeport.subscribers import actions as subscriber_actions
from homeport.subscribers.models import Subscriber
from homeport.support import actions
from homeport.support.models import LIVE_STATUSES, Case

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
ACTOR = Actor.system("sms")
_NOT_WORD = re.compile(r"[^A-Z]")


@dataclass(frozen=True)
class InboundSms:
    message_id: str
    sender: str
    to: str
    body: str
    at: datetime


@dataclass(frozen=True)
class SmsResult:
    case_id: int | None
    interaction_id: int | None
    subscriber_id: int | None
    duplicate: bool
    #: "stop" or "start" when the message was a consent keyword.
    keyword: str = ""


def keyword_of(body: str) -> str:
    word = _NOT_WORD.sub("", body.strip().upper())
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    return ""


def set_sms_consent(session: Session, subscriber: Subscriber, value: bool, now: datetime) -> bool:
    """Turn the subscriber's SMS consent on or off (audited by the subscribers domain)."""
    return subscriber_actions.set_consent(session, subscriber.id, sms=value, actor=ACTOR, now=now)


def thread_case(
    session: Session, subscriber: Subscriber | None, sender: str, since: datetime
) -> Case | None:
    """The live SMS case this message continues, if any."""
    stmt = select(Case).where(
        Case.channel == "sms",
        Case.status.in_(LIVE_STATUSES),
        Case.merged_into_id.is_(None),
        Case.updated_at >= since,
    )
    if subscriber is not None:
        stmt = stmt.where(Case.subscriber_id == subscriber.id)
    else:
        stmt = stmt.where(Case.subscriber_id.is_(None), Case.contact == sender[:254])
    return session.scalars(stmt.order_by(Case.updated_at.desc(), Case.id.desc()).limit(1)).first()


def receive(session: Session, sms: InboundSms, *, thread_days: int) -> SmsResult:
    """Store one inbound SMS in the caller's transaction."""
    existing = actions.find_interaction(session, "sms", sms.message_id)
    if existing is not None:
        case = session.get(Case, existing.case_id)
        return SmsResult(
            existing.case_id, existing.id, case.subscriber_id if case else None, duplicate=True
        )
    subscriber = actions.find_subscriber(session, phone=sms.sender)
    keyword = keyword_of(sms.body)
    if keyword and subscriber is not None:
        set_sms_consent(session, subscriber, keyword == "start", sms.at)
    case = thread_case(session, subscriber, sms.sender, sms.at - timedelta(days=thread_days))
    sub_id = subscriber.id if subscriber else None
    if keyword and case is None:
        return SmsResult(None, None, sub_id, duplicate=False, keyword=keyword)
    item = actions.NewInteraction(
        channel="sms",
        direction="inbound",
        author_kind="subscriber",
        body=sms.body,
        address=sms.sender,
        external_id=sms.message_id,
        meta={"to": sms.to, "keyword": keyword} if keyword else {"to": sms.to},
        started_at=sms.at,
    )
    if case is not None:
        stored, _ = actions.add_interaction(session, case.id, item, now=sms.at, actor=ACTOR)
        return SmsResult(stored.case_id, stored.id, sub_id, duplicate=False, keyword=keyword)
    first_line = sms.body.strip().splitlines()[0] if sms.body.strip() else "message"
    case = actions.open_case(
        session,
        now=sms.at,
        actor=ACTOR,
        channel="sms",
        subject=f"SMS: {first_line[:80]}",
        first=item,
        subscriber_id=sub_id,
        contact="" if subscriber else sms.sender,
    )
    session.flush()
    first = actions.find_interaction(session, "sms", sms.message_id)
    assert first is not None
    return SmsResult(case.id, first.id, sub_id, duplicate=False)
