"""What an inbound email does to the support desk, in the caller's one transaction.

1. A Message-ID already stored (inbound, or one of our own replies) is a redelivery: nothing
   is written.
2. Our own mail come back (a loop) and a sender over its rate limit are dropped.
3. The thread: In-Reply-To, then References (latest first), matched against the Message-IDs
   of every stored email interaction of either direction; else a ``[Case #123]`` tag in the
   subject, only when the sender is that case's subscriber or contact.
4. Mail a machine sent (auto-reply, bounce, list) is recorded on its live thread as an
   inbound ``system`` interaction (seen by the agent; it neither reopens the case nor resumes
   its SLA) and otherwise dropped: it never opens a case and is never answered.
5. A person's mail joins its live thread, or opens a new reactive case (subscriber found by
   the From address, else the address is kept as the case's contact). A reply to a closed case
   opens a new case that names the old one.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.adapters.smtp.message import InboundMail
from homeport.audit.actions import Actor
from homeport.subscribers.models import Subscriber
from homeport.support import actions
from homeport.support.models import Case, Interaction

ACTOR = Actor.system("email")
_TAG = re.compile(r"\[Case #(\d{1,12})\]", re.IGNORECASE)
#: Outcomes of :func:`deliver` (the ``outcome`` label of the inbound counter).
OUTCOMES = (
    "new_case",
    "threaded",
    "duplicate",
    "auto_recorded",
    "auto_dropped",
    "loop_dropped",
    "rate_limited",
)


@dataclass(frozen=True)
class Delivery:
    outcome: str
    case_id: int | None = None
    interaction_id: int | None = None


class SenderLimit:
    """At most ``limit`` messages from one sender address per ``window``, in this process:
    what passes that is a loop with an autoresponder that sets none of the usual headers."""

    def __init__(self, limit: int = 30, window: timedelta = timedelta(hours=1)) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def allow(self, sender: str, now: datetime) -> bool:
        with self._lock:
            times = self._seen.setdefault(sender, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return False
            times.append(now)
            if len(self._seen) > 10_000:  # forget idle senders
                for key in [k for k, v in self._seen.items() if not v]:
                    del self._seen[key]
            return True


def _by_headers(session: Session, mail: InboundMail) -> Case | None:
    ids = mail.thread_ids[:50]
    if not ids:
        return None
    rows = session.execute(
        select(Interaction.external_id, Interaction.case_id).where(
            Interaction.channel == "email", Interaction.external_id.in_(ids)
        )
    ).all()
    found = {r.external_id: r.case_id for r in rows}
    for message_id in ids:
        if message_id in found:
            return session.get(Case, found[message_id])
    return None


def _by_tag(session: Session, mail: InboundMail) -> Case | None:
    match = _TAG.search(mail.subject)
    if not match or not mail.sender:
        return None
    case = session.get(Case, int(match.group(1)))
    if case is None:
        return None
    known = {case.contact.strip().lower()}
    if case.subscriber_id is not None:
        subscriber = session.get(Subscriber, case.subscriber_id)
        if subscriber is not None:
            known.add(subscriber.email.strip().lower())
    return case if mail.sender in known else None


def thread_of(session: Session, mail: InboundMail) -> Case | None:
    """The case this message belongs to (following merges), if any."""
    case = _by_headers(session, mail) or _by_tag(session, mail)
    return actions.live_case(session, case.id) if case is not None else None


def _interaction(mail: InboundMail, author_kind: str) -> actions.NewInteraction:
    body = mail.text if (mail.text.strip() or mail.attachments) else "(empty message)"
    return actions.NewInteraction(
        channel="email",
        direction="inbound",
        author_kind=author_kind,
        body=body,
        subject=mail.subject,
        address=mail.sender or mail.return_path,
        body_html=mail.html,
        external_id=mail.message_id,
        meta=mail.meta,
        attachments=mail.attachments,
    )


def deliver(
    session: Session, mail: InboundMail, *, now: datetime, limit: SenderLimit | None = None
) -> Delivery:
    """Store ``mail`` (see the module's docstring); the caller commits."""
    existing = actions.find_interaction(session, "email", mail.message_id)
    if existing is not None:
        return Delivery("duplicate", existing.case_id, existing.id)
    if mail.kind == "loop":
        return Delivery("loop_dropped")
    if limit is not None and not limit.allow(mail.sender or mail.return_path, now):
        return Delivery("rate_limited")
    case = thread_of(session, mail)
    if mail.kind == "auto":
        if case is None or case.status == "closed":
            return Delivery("auto_dropped")
        item, _ = actions.add_interaction(
            session, case.id, _interaction(mail, "system"), now=now, actor=ACTOR
        )
        return Delivery("auto_recorded", case.id, item.id)
    if case is not None and case.status != "closed":
        item, _ = actions.add_interaction(
            session, case.id, _interaction(mail, "subscriber"), now=now, actor=ACTOR
        )
        return Delivery("threaded", case.id, item.id)

    subscriber = actions.find_subscriber(session, email=mail.sender) if mail.sender else None
    subscriber_id = subscriber.id if subscriber else None
    description = ""
    if case is not None:  # a reply to a closed case
        description = f"Follow-up to closed case #{case.id} ({case.subject})."
        if subscriber_id is None:
            subscriber_id = case.subscriber_id
    opened = actions.open_case(
        session,
        now=now,
        actor=ACTOR,
        channel="email",
        subject=mail.subject.strip() or "(no subject)",
        first=_interaction(mail, "subscriber"),
        subscriber_id=subscriber_id,
        contact="" if subscriber_id is not None else (mail.sender or mail.return_path),
        description=description,
    )
    item_id = session.scalars(
        select(Interaction.id).where(
            Interaction.channel == "email", Interaction.external_id == mail.message_id
        )
    ).one()
    return Delivery("new_case", opened.id, item_id)
