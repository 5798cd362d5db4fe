"""An agent's reply to the subscriber by email (or SMS): the outbound interaction on the case and
the message queued for the worker to send, in the caller's transaction.

An email reply gets its own Message-ID (in the BSP's support domain), stored as the outbound
interaction's ``external_id``, and ``In-Reply-To``/``References`` naming the thread, so that the
subscriber's answer threads back into the same case (``homeport.adapters.smtp``). The subject
carries ``[Case #id]`` for mail clients that drop those headers.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor
from homeport.core.errors import Conflict, FieldError, ValidationFailed
from homeport.core.settings import load_settings
from homeport.subscribers.models import Subscriber
from homeport.support import actions
from homeport.support.models import Case, Interaction, OutboundMessage

#: Marks the Message-IDs Homeport makes (``<…homeport-case12@bsp.example>``): inbound mail
#: carrying one of them as its own Message-ID is our own mail come back (a loop).
MSGID_MARK = "homeport"
#: Most message ids kept in a reply's References (the first and the latest ones).
MAX_REFERENCES = 20
CASE_TAG = re.compile(r"\s*\[Case #\d+\]", re.IGNORECASE)
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|fwd?)\s*:\s*)+", re.IGNORECASE)


def domain_of(address: str) -> str:
    """The domain of an email address, lower case ("" when there is none)."""
    return address.rpartition("@")[2].strip().strip(">").lower() if "@" in address else ""


def make_message_id(case_id: int, domain: str) -> str:
    return make_msgid(idstring=f"{MSGID_MARK}-case{case_id}", domain=domain or "homeport.invalid")


def reply_subject(case: Case) -> str:
    """``Re: <case subject> [Case #id]``, without stacking prefixes or tags."""
    base = _REPLY_PREFIX.sub("", CASE_TAG.sub("", case.subject)).strip() or "Your support case"
    return f"Re: {base} [Case #{case.id}]"


def thread_ids(session: Session, case_id: int) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References) for a new email on the case: the subscriber's latest email is
    the one answered (else the latest email of the thread); References lists the thread's
    Message-IDs oldest first, the first one and the latest kept when there are many."""
    rows = session.execute(
        select(Interaction.external_id, Interaction.direction)
        .where(
            Interaction.case_id == case_id,
            Interaction.channel == "email",
            Interaction.external_id.is_not(None),
            Interaction.direction.in_(("inbound", "outbound")),
        )
        .order_by(Interaction.started_at, Interaction.id)
    ).all()
    ids = [r.external_id for r in rows if r.external_id and r.external_id.startswith("<")]
    if not ids:
        return None, []
    inbound = [
        r.external_id for r in rows if r.direction == "inbound" and r.external_id in set(ids)
    ]
    answered = inbound[-1] if inbound else ids[-1]
    references = list(dict.fromkeys(ids))
    if len(references) > MAX_REFERENCES:
        references = [references[0], *references[-(MAX_REFERENCES - 1) :]]
    return answered, references


def recipient_of(session: Session, case: Case, channel: str) -> str:
    """Where the subscriber is reached: the subscriber's address or number on record, else the
    contact the unknown sender wrote from."""
    subscriber = session.get(Subscriber, case.subscriber_id) if case.subscriber_id else None
    if channel == "email":
        if subscriber is not None and subscriber.email:
            return subscriber.email
        return case.contact if "@" in case.contact else ""
    if subscriber is not None and subscriber.phone:
        return subscriber.phone
    return case.contact if case.contact and "@" not in case.contact else ""


def reply(
    session: Session,
    case_id: int,
    body: str,
    *,
    agent_id: int | None,
    now: datetime,
    actor: Actor,
    channel: str = "email",
    support_email: str = "",
    automatic: bool = False,
) -> tuple[Interaction, OutboundMessage]:
    """Answer the subscriber on the case: an outbound interaction by ``agent_id`` and the
    message queued for the worker. ``support_email`` is the From address whose domain names the
    Message-ID (default: ``support_email`` from the settings). ``automatic`` marks a message no
    person wrote (``Auto-Submitted: auto-replied``, RFC 3834), so that autoresponders keep
    quiet. Raises ValidationFailed without a body or a recipient, Conflict on a closed case."""
    if channel not in ("email", "sms"):
        raise ValidationFailed("invalid reply", [FieldError("channel", "email or sms")])
    if not body.strip():
        raise ValidationFailed("invalid reply", [FieldError("body", "required")])
    case = actions.live_case(session, case_id)
    if case.status == "closed":
        raise Conflict(f"case {case.id} is closed: open a new case")
    recipient = recipient_of(session, case, channel)
    if not recipient:
        what = "email address" if channel == "email" else "phone number"
        raise ValidationFailed(
            "no recipient", [FieldError("recipient", f"the case has no {what} to answer")]
        )
    headers: dict[str, object] = {}
    external_id = None
    subject = ""
    if channel == "email":
        sender = support_email or load_settings().support_email
        external_id = make_message_id(case.id, domain_of(sender))
        in_reply_to, references = thread_ids(session, case.id)
        subject = reply_subject(case)
        headers["Message-ID"] = external_id
        if in_reply_to:
            headers["In-Reply-To"] = in_reply_to
        if references:
            headers["References"] = " ".join(references)
        if automatic:
            headers["Auto-Submitted"] = "auto-replied"
        headers["From"] = sender
    interaction, _ = actions.add_interaction(
        session,
        case.id,
        actions.NewInteraction(
            channel=channel,
            direction="outbound",
            author_kind="bot" if automatic else "agent",
            author_id=agent_id,
            body=body,
            subject=subject,
            address=recipient,
            external_id=external_id,
            meta={k: v for k, v in headers.items() if k in ("In-Reply-To", "References")},
        ),
        now=now,
        actor=actor,
    )
    message = actions.queue_outbound(
        session,
        channel=channel,
        recipient=recipient,
        body=body,
        now=now,
        subject=subject,
        headers=headers,
        case_id=case.id,
        interaction_id=interaction.id,
    )
    return interaction, message
