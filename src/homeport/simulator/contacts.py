"""Simulated subscribers who get in touch with support when their experience is bad.

Every ``check`` the simulator looks at the homes with an open finding a person would notice
(the internet down, slow, Wi-Fi that does not reach, a router that keeps restarting). Each such
subscriber contacts support with a probability that grows with how long the problem has lasted
(a dead line makes people call within the hour; a slow evening takes a day or two), through
their preferred channel. A subscriber with a live case may follow up on it instead. What they
write comes from a small set of phrasings per problem, so that the agent console reads like a
real queue.

Delivery goes through a :class:`ContactTransport`: :class:`DirectTransport` records the contact
with the support domain's actions in-process (the app and chat channels, and any channel with
no listener configured); the demo layers real protocols over it: email as real mail to
Homeport's own SMTP listener (:class:`SmtpTransport`), calls as signed CTI events and texts as
Twilio-signed webhooks (:class:`WebhookTransport`).
"""

from __future__ import annotations

import json
import logging
import math
import smtplib
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Protocol

import numpy as np
from sqlalchemy import select

from homeport.adapters.cti import api as cti
from homeport.adapters.sms import api as sms_api
from homeport.adapters.sms import signature as sms_signature
from homeport.audit.actions import Actor
from homeport.core.db import Database
from homeport.health.models import Finding
from homeport.network.models import Home
from homeport.selfservice import bot
from homeport.subscribers.models import Subscriber
from homeport.support import actions
from homeport.support.actions import NewInteraction
from homeport.support.models import LIVE_STATUSES, Case

log = logging.getLogger(__name__)
ACTOR = Actor.system("simulator")


@dataclass(frozen=True)
class Problem:
    """How subscribers experience one finding kind and how soon they complain."""

    category: str
    #: Mean hours from the start of the problem to a contact (exponential).
    mean_hours: float
    subjects: tuple[str, ...]
    bodies: tuple[str, ...]


_DOWN = Problem(
    "no_internet",
    0.75,
    ("No internet", "Internet not working", "Broadband down again", "Router lights red"),
    (
        "Hi, our internet has stopped working completely. The router light is red. "
        "We have restarted it but nothing. Can you help?",
        "No connection at all since earlier today. I work from home and need this fixed.",
        "Nothing is loading on any device. Is there a problem in our area?",
    ),
)
_SLOW = Problem(
    "slow_speed",
    72.0,
    ("Slow internet", "Speed much lower than my plan", "Buffering every evening"),
    (
        "The speed is nowhere near what I pay for, especially in the evening. "
        "Speed tests show a fraction of my plan.",
        "Netflix keeps buffering and video calls freeze. It used to be fine.",
        "Why is my connection so slow? Games lag constantly.",
    ),
)
_WIFI = Problem(
    "wifi",
    96.0,
    ("Wi-Fi doesn't reach upstairs", "Wi-Fi keeps dropping", "Weak Wi-Fi in some rooms"),
    (
        "The Wi-Fi is fine next to the router but useless in the bedrooms.",
        "Devices keep disconnecting from the Wi-Fi, several times a day.",
        "My laptop shows one bar of Wi-Fi in the office. Do I need a booster?",
    ),
)
_EQUIPMENT = Problem(
    "equipment",
    6.0,
    ("Router keeps restarting", "Router rebooting on its own"),
    (
        "The router restarts itself every few minutes and we lose the connection each time.",
        "Our hub keeps rebooting. Is it faulty? Can you send a new one?",
    ),
)
#: Finding kinds a subscriber notices, and how.
PROBLEMS: dict[str, Problem] = {
    "wan_down": _DOWN,
    "device_offline": _DOWN,
    "speed_below_plan": _SLOW,
    "bufferbloat": _SLOW,
    "high_latency": _SLOW,
    "packet_loss": _SLOW,
    "coverage_gap": _WIFI,
    "weak_client_signal": _WIFI,
    "congested_channel": _WIFI,
    "poor_mesh_backhaul": _WIFI,
    "reboot_loop": _EQUIPMENT,
}
FOLLOW_UPS = (
    "Any update on this? It's still not working.",
    "Still having the same problem, please call me back.",
    "This is the third day now. When will it be fixed?",
)
#: Subscriber channel (subscribers.CHANNELS) -> support channel of the contact.
CHANNEL_OF = {"email": "email", "phone": "phone", "sms": "sms", "app": "app", "chat": "live_chat"}


@dataclass(frozen=True)
class Contact:
    subscriber_id: int
    name: str
    email: str
    phone: str
    channel: str
    category: str
    subject: str
    body: str
    at: datetime
    #: The live case this follows up, if any.
    case_id: int | None = None


class ContactTransport(Protocol):
    def deliver(self, contact: Contact) -> bool: ...


class DirectTransport:
    """Records contacts through the support domain's actions (no network). A new chat goes to
    the chatbot first (``chatbot``, as in the portal): the simulated subscriber agrees to the
    fix it proposes, says "no" when asked whether advice alone fixed it (the problem is real)
    and, when it offers a person, takes one. The bot writes times in ``zone`` (the demo passes
    the BSP's)."""

    def __init__(self, db: Database, *, chatbot: bool = True, zone: tzinfo = UTC) -> None:
        self.db = db
        self.chatbot = chatbot
        self.zone = zone

    def _chat_with_bot(self, contact: Contact) -> None:
        replies = {"consent": "yes", "handover_offer": "yes", "confirm_fixed": "no, still broken"}
        text = contact.body
        with self.db.transaction() as session:
            for _turn in range(5):  # every answer moves the bot on; five is plenty
                exchange = bot.converse(
                    session,
                    subscriber_id=contact.subscriber_id,
                    body=text,
                    client_id=uuid.uuid4().hex,
                    now=contact.at,
                    zone=self.zone,
                )
                waiting = bot.awaiting(session, exchange.conversation_id)
                if exchange.case_id is not None or waiting not in replies:
                    return  # handed over, or waiting for a fix to show its effect
                text = replies[waiting]

    def deliver(self, contact: Contact) -> bool:
        if self.chatbot and contact.channel == "live_chat" and contact.case_id is None:
            self._chat_with_bot(contact)
            return True
        item = NewInteraction(
            channel=contact.channel,
            direction="inbound",
            author_kind="subscriber",
            body=contact.body,
            subject=contact.subject,
            address=contact.email if contact.channel == "email" else contact.phone,
            started_at=contact.at,
            ended_at=contact.at if contact.channel == "phone" else None,
            handle_time_s=None,
            meta={"simulated": True},
        )
        with self.db.transaction() as session:
            if contact.case_id is not None:
                actions.add_interaction(session, contact.case_id, item, now=contact.at, actor=ACTOR)
            else:
                actions.open_case(
                    session,
                    now=contact.at,
                    actor=ACTOR,
                    channel=contact.channel,
                    subject=contact.subject,
                    category=contact.category,
                    subscriber_id=contact.subscriber_id,
                    first=item,
                )
        return True


class SmtpTransport:
    """Sends email contacts as real mail to an SMTP listener (Homeport's own, in the demo);
    other channels go to ``fallback``."""

    def __init__(self, host: str, port: int, to: str, fallback: ContactTransport) -> None:
        self.host, self.port, self.to, self.fallback = host, port, to, fallback

    def deliver(self, contact: Contact) -> bool:
        if contact.channel != "email" or not contact.email:
            return self.fallback.deliver(contact)
        message = EmailMessage()
        message["From"] = f"{contact.name} <{contact.email}>"
        message["To"] = self.to
        message["Subject"] = contact.subject
        message["Date"] = format_datetime(contact.at)
        message["Message-ID"] = make_msgid(domain="subscriber.example")
        message.set_content(contact.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("simulated email from %s not delivered: %s", contact.email, exc)
            return False
        return True


class WebhookTransport:
    """Calls and texts as a telephony platform and an SMS provider would send them: signed
    CTI events (a call started, then ended with its duration) to ``/api/v1/cti/events`` and
    Twilio-signed form posts to ``/api/v1/sms/inbound``. Other channels go to ``fallback``;
    a channel without its secret goes there too."""

    def __init__(
        self,
        base_url: str,
        fallback: ContactTransport,
        *,
        cti_secret: str = "",
        sms_token: str = "",
        public_url: str = "",
        seed: int = 0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.public_url = (public_url or base_url).rstrip("/")
        self.fallback = fallback
        self.cti_secret = cti_secret
        self.sms_token = sms_token
        self.rng = np.random.default_rng(seed)
        self._sent = 0

    def deliver(self, contact: Contact) -> bool:
        if contact.channel == "phone" and self.cti_secret and contact.phone:
            return self._call(contact)
        if contact.channel == "sms" and self.sms_token and contact.phone:
            return self._text(contact)
        return self.fallback.deliver(contact)

    def _post(self, path: str, body: bytes, headers: dict[str, str]) -> bool:
        request = urllib.request.Request(  # noqa: S310 - our own http(s) base URL
            self.base_url + path, data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                return bool(200 <= answer.status < 300)
        except (OSError, urllib.error.HTTPError) as exc:
            log.warning("simulated %s not delivered: %s", path, exc)
            return False

    def _call(self, contact: Contact) -> bool:
        self._sent += 1
        call_id = f"sim-call-{contact.subscriber_id}-{int(contact.at.timestamp())}-{self._sent}"
        # Half a minute to a minute and a half in the queue, then about 6 minutes of talk
        # (a gamma with a long tail), as the PBX reports them.
        answered = contact.at + timedelta(seconds=float(self.rng.uniform(30, 90)))
        ended = answered + timedelta(minutes=float(self.rng.gamma(2.0, 3.0)))
        for event, at in (
            ("call.started", contact.at),
            ("call.answered", answered),
            ("call.ended", ended),
        ):
            payload = {
                "event": event,
                "call_id": call_id,
                "caller": contact.phone,
                "at": at.isoformat(),
                "started_at": contact.at.isoformat(),
            }
            body = json.dumps(payload).encode()
            stamp = str(int(contact.at.timestamp()))
            headers = {
                "content-type": "application/json",
                cti.TIMESTAMP_HEADER: stamp,
                cti.SIGNATURE_HEADER: cti.sign(self.cti_secret, stamp, body),
            }
            if not self._post("/api/v1/cti/events", body, headers):
                return False
        return True

    def _text(self, contact: Contact) -> bool:
        self._sent += 1
        params = [
            (
                "MessageSid",
                f"SMsim{contact.subscriber_id}x{int(contact.at.timestamp())}x{self._sent}",
            ),
            ("From", contact.phone),
            ("To", "+440000000000"),
            ("Body", contact.body[:1500]),
        ]
        url = self.public_url + "/api/v1/sms/inbound"
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            sms_api.SIGNATURE_HEADER: sms_signature.compute(self.sms_token, url, params),
        }
        return self._post("/api/v1/sms/inbound", urllib.parse.urlencode(params).encode(), headers)


@dataclass
class ContactStats:
    checked: int = 0
    contacts: int = 0
    follow_ups: int = 0
    failed: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)


class ContactSimulator:
    """Decides who gets in touch, when and how (see the module doc)."""

    def __init__(
        self,
        db: Database,
        transport: ContactTransport,
        *,
        seed: int = 0,
        follow_up_hours: float = 24.0,
        max_per_check: int = 50,
    ) -> None:
        self.db = db
        self.transport = transport
        self.rng = np.random.default_rng(seed)
        self.follow_up_hours = follow_up_hours
        self.max_per_check = max_per_check
        self.stats = ContactStats()
        self._last: datetime | None = None

    def check(self, now: datetime) -> list[Contact]:
        """Deliver the contacts due since the previous check; returns them."""
        hours = 0.0 if self._last is None else (now - self._last).total_seconds() / 3600
        self._last = now
        if hours <= 0:
            return []
        contacts = self._choose(now, hours)
        for contact in contacts:
            try:
                ok = self.transport.deliver(contact)
            except Exception:  # a refused contact must not stop the simulation
                log.exception("simulated contact from subscriber %d failed", contact.subscriber_id)
                ok = False
            if not ok:
                self.stats.failed += 1
                continue
            if contact.case_id is None:
                self.stats.contacts += 1
            else:
                self.stats.follow_ups += 1
            self.stats.by_channel[contact.channel] = (
                self.stats.by_channel.get(contact.channel, 0) + 1
            )
        return contacts

    def _choose(self, now: datetime, hours: float) -> list[Contact]:
        with self.db.session() as session:
            rows = session.execute(
                select(Finding.kind, Finding.opened_at, Subscriber)
                .join(Home, Home.id == Finding.home_id)
                .join(Subscriber, Subscriber.id == Home.subscriber_id)
                .where(
                    Finding.status == "open",
                    Finding.kind.in_(PROBLEMS),
                    Subscriber.status == "active",
                )
                .order_by(Finding.opened_at)
            ).all()
            live = {
                sub: (case_id, updated)
                for case_id, sub, updated in session.execute(
                    select(Case.id, Case.subscriber_id, Case.updated_at).where(
                        Case.origin == "reactive",
                        Case.status.in_(LIVE_STATUSES),
                        Case.merged_into_id.is_(None),
                    )
                )
                if sub is not None
            }
        seen: set[int] = set()
        chosen: list[Contact] = []
        self.stats.checked += len(rows)
        for kind, opened_at, subscriber in rows:
            if subscriber.id in seen or len(chosen) >= self.max_per_check:
                continue
            seen.add(subscriber.id)
            problem = PROBLEMS[kind]
            case = live.get(subscriber.id)
            if case is not None:
                case_id, updated = case
                quiet = (now - updated).total_seconds() / 3600
                if quiet < self.follow_up_hours or not self._happens(hours, self.follow_up_hours):
                    continue
                body = str(self.rng.choice(FOLLOW_UPS))
                chosen.append(self._contact(subscriber, problem, now, body, case_id))
                continue
            if opened_at is None or not self._happens(hours, problem.mean_hours):
                continue
            chosen.append(
                self._contact(subscriber, problem, now, str(self.rng.choice(problem.bodies)))
            )
        return chosen

    def _happens(self, hours: float, mean_hours: float) -> bool:
        return bool(self.rng.random() < 1 - math.exp(-hours / mean_hours))

    def _contact(
        self,
        subscriber: Subscriber,
        problem: Problem,
        now: datetime,
        body: str,
        case_id: int | None = None,
    ) -> Contact:
        channel = CHANNEL_OF.get(subscriber.preferred_channel, "email")
        if channel == "email" and not subscriber.email:
            channel = "phone"
        subject = str(self.rng.choice(problem.subjects))
        return Contact(
            subscriber_id=subscriber.id,
            name=subscriber.name,
            email=subscriber.email,
            phone=subscriber.phone,
            channel=channel,
            category=problem.category,
            subject=subject if case_id is None else f"Re: {subject}",
            body=body,
            at=now,
            case_id=case_id,
        )


def simulate(
    db: Database, transport: ContactTransport, times: Sequence[datetime], *, seed: int = 0
) -> ContactStats:
    """Run checks at each of ``times`` (tests and batch runs)."""
    sim = ContactSimulator(db, transport, seed=seed)
    for at in times:
        sim.check(at)
    return sim.stats
