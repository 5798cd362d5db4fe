"""Chat conversations on support cases: the database side of the chat channel (no web code).

A subscriber's first chat message opens a reactive case in channel ``live_chat``
(:func:`homeport.support.actions.open_case`); every later message of the conversation is an
interaction on that case. Every message carries ``meta.conversation`` (one id per case), so all
of them count as one contact (:func:`homeport.support.service.contacts`), and an external id
``chat:<conversation>:<client id>`` that makes a message resent after a dropped connection
harmless.

**Async fallback.** When a subscriber's message waits longer than ``chat_answer_timeout_s`` for
an agent (:func:`sweep`), or the subscriber leaves with a message unanswered
(:func:`fall_back`), the conversation turns asynchronous: a system message (channel
``async_chat``, ``meta.event = "async_fallback"``) tells the subscriber so, every later message
is in channel ``async_chat``, and each agent reply is also queued as an email to the subscriber
(:func:`homeport.support.actions.queue_outbound`) with a link back to the chat page. The case
keeps ``live_chat`` as its channel of origin.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from homeport.audit.actions import Actor
from homeport.core.errors import Conflict, NotFound
from homeport.identity.models import StaffUser
from homeport.subscribers.models import Subscriber
from homeport.support import actions
from homeport.support.models import LIVE_STATUSES, Case, Interaction

LIVE = "live_chat"
ASYNC = "async_chat"
CHAT_CHANNELS = (LIVE, ASYNC)
BOT = "chatbot"
#: Channels of the cases a subscriber chats on: started in the chat, or handed over by the bot.
CASE_CHANNELS = (LIVE, BOT)
FALLBACK_EVENT = "async_fallback"
FALLBACK_TEXT = (
    "No agent is free right now. Your message is saved: an agent will answer here, and we "
    "will also send the answer to you by email. You can close this page."
)


@dataclass(frozen=True)
class ChatMessage:
    """One message as both sides of the chat see it."""

    id: int
    case_id: int
    conversation: str
    author: str  # subscriber | agent | bot | system
    author_name: str
    body: str
    at: datetime
    channel: str
    internal: bool = False
    event: str = ""
    external_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case_id": self.case_id,
            "conversation": self.conversation,
            "author": self.author,
            "author_name": self.author_name,
            "body": self.body,
            "at": self.at.isoformat(),
            "channel": self.channel,
            "internal": self.internal,
            "event": self.event,
        }


def _name(session: Session, item: Interaction) -> str:
    if item.author_kind == "agent" and item.author_id is not None:
        staff = session.get(StaffUser, item.author_id)
        if staff is not None:
            return staff.name.split()[0] if staff.name else "Agent"
        return "Agent"
    if item.author_kind == "subscriber":
        return "You"
    return {"bot": "Assistant", "system": "Homeport"}.get(item.author_kind, "")


def _message(session: Session, item: Interaction, case: Case) -> ChatMessage:
    meta = item.meta or {}
    return ChatMessage(
        id=item.id,
        case_id=item.case_id,
        conversation=str(meta.get("conversation") or conversation_of(session, case)),
        author=item.author_kind,
        author_name=_name(session, item),
        body=item.body,
        at=item.started_at,
        channel=item.channel,
        internal=item.direction == "internal",
        event=str(meta.get("event") or ""),
        external_id=item.external_id or "",
    )


def conversation_of(session: Session, case: Case) -> str:
    """The conversation id of a chat case (from its first chat message)."""
    found = session.scalars(
        select(Interaction.meta)
        .where(Interaction.case_id == case.id, Interaction.channel.in_((*CHAT_CHANNELS, BOT)))
        .order_by(Interaction.started_at, Interaction.id)
        .limit(1)
    ).first()
    if found and found.get("conversation"):
        return str(found["conversation"])
    return f"case-{case.id}"


def current_case(session: Session, subscriber_id: int, *, lock: bool = False) -> Case | None:
    """The subscriber's live chat case (the newest one), if any: opened in the chat, or a
    chatbot conversation handed over to a person."""
    stmt = (
        select(Case)
        .where(
            Case.subscriber_id == subscriber_id,
            Case.channel.in_(CASE_CHANNELS),
            Case.status.in_(LIVE_STATUSES),
            Case.merged_into_id.is_(None),
        )
        .order_by(Case.opened_at.desc(), Case.id.desc())
        .limit(1)
    )
    if lock:
        stmt = stmt.with_for_update(of=Case)
    return session.scalars(stmt).first()


def is_async(session: Session, case_id: int) -> bool:
    """Whether the conversation on the case has turned asynchronous."""
    return bool(
        session.scalar(
            select(exists().where(Interaction.case_id == case_id, Interaction.channel == ASYNC))
        )
    )


def history(session: Session, case: Case, *, staff: bool) -> list[ChatMessage]:
    """The case's messages oldest first; internal notes only for staff."""
    stmt = select(Interaction).where(Interaction.case_id == case.id)
    if not staff:
        stmt = stmt.where(Interaction.direction != "internal")
    rows = session.scalars(stmt.order_by(Interaction.started_at, Interaction.id)).all()
    return [_message(session, r, case) for r in rows]


def message(
    session: Session,
    interaction_id: int,
    *,
    case_id: int | None = None,
    subscriber_id: int | None = None,
) -> ChatMessage | None:
    """The interaction as a chat message, only if it is on ``case_id`` (an agent's socket on
    a case), or is a message the subscriber ``subscriber_id`` may see on one of their chat
    cases (no internal notes). A notice naming anything else is ignored."""
    item = session.get(Interaction, interaction_id)
    if item is None:
        return None
    case = session.get(Case, item.case_id)
    if case is None:
        return None
    if case_id is not None and case.id != case_id:
        return None
    if subscriber_id is not None and (
        case.subscriber_id != subscriber_id
        or case.channel not in CASE_CHANNELS
        or item.direction == "internal"
        # The bot's transcript copied onto the case: the subscriber saw it as it happened.
        or item.channel == BOT
    ):
        return None
    return _message(session, item, case)


def _resent(session: Session, external_id: str) -> Interaction | None:
    return session.scalars(
        select(Interaction).where(
            Interaction.channel.in_(CHAT_CHANNELS), Interaction.external_id == external_id
        )
    ).first()


@dataclass(frozen=True)
class Said:
    message: ChatMessage
    #: A new case was opened by this message.
    opened: bool
    #: The message was already stored (a resend): nothing was written.
    duplicate: bool = False


def subscriber_says(
    session: Session,
    *,
    subscriber_id: int,
    account_id: int,
    body: str,
    client_id: str,
    now: datetime,
) -> Said:
    """Store a subscriber's chat message: on their live chat case, or on a new one."""
    text = actions.clean_chat_message(body, client_id)
    subscriber = session.scalars(
        select(Subscriber).where(Subscriber.id == subscriber_id).with_for_update(of=Subscriber)
    ).first()
    if subscriber is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    actor = Actor("subscriber", account_id, "chat")
    case = current_case(session, subscriber_id, lock=True)
    conversation = conversation_of(session, case) if case else uuid.uuid4().hex
    external_id = f"chat:{conversation}:{client_id}"
    again = _resent(session, external_id)
    if again is not None and case is not None:
        return Said(_message(session, again, case), opened=False, duplicate=True)
    item = actions.NewInteraction(
        channel=ASYNC if case is not None and is_async(session, case.id) else LIVE,
        direction="inbound",
        author_kind="subscriber",
        body=text,
        address=subscriber.email,
        external_id=external_id,
        meta={"conversation": conversation},
    )
    if case is None:
        first_line = text.splitlines()[0] if text else "Chat"
        case = actions.open_case(
            session,
            now=now,
            actor=actor,
            channel=LIVE,
            subject=f"Chat: {first_line[:80]}",
            first=item,
            subscriber_id=subscriber_id,
        )
        session.flush()
        stored = session.scalars(
            select(Interaction).where(
                Interaction.channel == LIVE, Interaction.external_id == external_id
            )
        ).one()
        return Said(_message(session, stored, case), opened=True)
    stored, _new = actions.add_interaction(session, case.id, item, now=now, actor=actor)
    return Said(_message(session, stored, case), opened=False)


def _subscriber_email(session: Session, case: Case) -> str:
    subscriber = session.get(Subscriber, case.subscriber_id) if case.subscriber_id else None
    if subscriber is not None and subscriber.email:
        return subscriber.email
    return case.contact if "@" in case.contact else ""


def agent_says(
    session: Session,
    *,
    case_id: int,
    staff_id: int,
    body: str,
    client_id: str,
    now: datetime,
    public_url: str,
    internal: bool = False,
) -> Said:
    """Store an agent's message on a chat case (``internal``: a note the subscriber never
    sees). In an async conversation the reply is also queued as an email to the subscriber."""
    text = actions.clean_chat_message(body, client_id)
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    if case.channel not in CASE_CHANNELS:
        raise Conflict(f"case {case_id} is not a chat (channel {case.channel})")
    staff = session.get(StaffUser, staff_id)
    actor = Actor("staff", staff_id, staff.email if staff else "")
    conversation = conversation_of(session, case)
    external_id = f"chat:{conversation}:agent{staff_id}:{client_id}"
    again = _resent(session, external_id)
    if again is not None:
        return Said(_message(session, again, case), opened=False, duplicate=True)
    if internal:
        note = actions.add_note(session, case.id, text, now=now, actor=actor, author_id=staff_id)
        return Said(_message(session, note, case), opened=False)
    asynchronous = is_async(session, case.id)
    item = actions.NewInteraction(
        channel=ASYNC if asynchronous else LIVE,
        direction="outbound",
        author_kind="agent",
        author_id=staff_id,
        body=text,
        external_id=external_id,
        meta={"conversation": conversation},
    )
    stored, _new = actions.add_interaction(session, case.id, item, now=now, actor=actor)
    if asynchronous:
        recipient = _subscriber_email(session, case)
        if recipient:
            who = staff.name if staff and staff.name else "Our support team"
            actions.queue_outbound(
                session,
                channel="email",
                recipient=recipient,
                subject=f"Re: {case.subject} [Case #{case.id}]",
                body=(
                    f"{who} answered your chat:\n\n{text}\n\n"
                    f"Continue the conversation: {public_url.rstrip('/')}/portal/chat\n"
                ),
                now=now,
                case_id=stored.case_id,
                interaction_id=stored.id,
            )
    return Said(_message(session, stored, case), opened=False)


def fall_back(session: Session, case_id: int, *, now: datetime, reason: str) -> bool:
    """Turn the conversation on the case asynchronous (once). Returns whether it changed."""
    case = session.scalars(select(Case).where(Case.id == case_id).with_for_update()).first()
    if case is None or case.channel not in CASE_CHANNELS or case.status not in LIVE_STATUSES:
        return False
    if is_async(session, case.id):
        return False
    conversation = conversation_of(session, case)
    actions.add_interaction(
        session,
        case.id,
        actions.NewInteraction(
            channel=ASYNC,
            direction="outbound",
            author_kind="system",
            body=FALLBACK_TEXT,
            external_id=f"chat:{conversation}:fallback",
            meta={"conversation": conversation, "event": FALLBACK_EVENT, "reason": reason},
        ),
        now=now,
        actor=Actor.system("chat"),
    )
    return True


def unanswered(session: Session, case_id: int) -> bool:
    """Whether the subscriber's latest live chat message has no agent answer after it."""
    last_in = session.scalar(
        select(func.max(Interaction.id)).where(
            Interaction.case_id == case_id,
            Interaction.channel.in_((LIVE, BOT)),
            Interaction.direction == "inbound",
        )
    )
    if last_in is None:
        return False
    answered = session.scalar(
        select(
            exists().where(
                Interaction.case_id == case_id,
                Interaction.direction == "outbound",
                # A person's answer: the bot saying it hands over is no answer.
                Interaction.author_kind == "agent",
                Interaction.id > last_in,
            )
        )
    )
    return not answered


def sweep(session: Session, *, now: datetime, wait_s: int) -> list[int]:
    """Turn asynchronous every live chat whose latest subscriber message has waited more than
    ``wait_s`` seconds for an agent. Returns the cases changed."""
    inbound = aliased(Interaction)
    answer = aliased(Interaction)
    marker = aliased(Interaction)
    last_in = (
        select(inbound.case_id, func.max(inbound.started_at).label("at"))
        .where(inbound.channel.in_((LIVE, BOT)), inbound.direction == "inbound")
        .group_by(inbound.case_id)
        .subquery()
    )
    rows = session.execute(
        select(Case.id)
        .join(last_in, last_in.c.case_id == Case.id)
        .where(
            Case.channel.in_(CASE_CHANNELS),
            Case.status.in_(LIVE_STATUSES),
            Case.merged_into_id.is_(None),
            last_in.c.at <= now - timedelta(seconds=wait_s),
            ~exists().where(
                and_(
                    answer.case_id == Case.id,
                    answer.direction == "outbound",
                    answer.author_kind == "agent",
                    answer.started_at >= last_in.c.at,
                )
            ),
            ~exists().where(and_(marker.case_id == Case.id, marker.channel == ASYNC)),
        )
        .order_by(Case.id)
        .limit(500)
    ).all()
    changed = []
    for (case_id,) in rows:
        if fall_back(session, case_id, now=now, reason="no agent answered"):
            changed.append(case_id)
    return changed
