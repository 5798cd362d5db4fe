"""Agent replies by email: the thread headers, sending through a relay (a second aiosmtpd
server) with login, retries while the relay is down, permanent refusals, and the subscriber's
answer threading back into the case."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from homeport.adapters.smtp.sender import RelayConfig, SmtpSender
from homeport.adapters.smtp.server import SmtpListener
from homeport.audit.actions import Actor
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import Conflict, ValidationFailed
from homeport.identity.models import StaffUser
from homeport.support import actions, outbound
from homeport.support.models import Case, Interaction, OutboundMessage
from tests.adapters.smtp.conftest import ALICE, SUPPORT, Relay, mail, send
from tests.conftest import START, TEST_ACTOR, make_staff

AGENT = Actor("staff", None, "tests")


def relay_config(relay: Relay, **kw: object) -> RelayConfig:
    args: dict[str, object] = {
        "host": relay.host,
        "port": relay.port,
        "user": "homeport",
        "password": "relay-secret",
        "sender": SUPPORT,
        "sender_name": "BSP Support",
        "timeout_s": 5.0,
    }
    args.update(kw)
    return RelayConfig(**args)  # type: ignore[arg-type]


def reply(db: Database, clock: ManualClock, case_id: int, body: str, **kw: object) -> int:
    with db.session() as s:
        agent_id = s.scalar(select(StaffUser.id).where(StaffUser.email == "agent@bsp.example"))
    if agent_id is None:
        agent_id = make_staff(db, clock, email="agent@bsp.example").id
    with db.transaction() as s:
        _, message = outbound.reply(
            s,
            case_id,
            body,
            agent_id=agent_id,
            now=clock.now(),
            actor=TEST_ACTOR,
            support_email=SUPPORT,
            **kw,  # type: ignore[arg-type]
        )
        return message.id


def send_due(db: Database, sender: SmtpSender, clock: ManualClock) -> str:
    with db.transaction() as s:
        return sender.run(s, clock.now(), None)


def received(relay: Relay, n: int) -> EmailMessage:
    envelope = relay.received[n]
    assert envelope.original_content is not None
    msg = message_from_bytes(envelope.original_content, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def queued(db: Database, message_id: int) -> OutboundMessage:
    with db.session() as s:
        return s.get_one(OutboundMessage, message_id)


def test_a_reply_is_threaded_sent_and_answered_back_into_the_case(
    db: Database, listener: SmtpListener, relay: Relay, clock: ManualClock
) -> None:
    send(listener, mail(message_id="<q1@example.test>"))
    with db.session() as s:
        case = s.scalars(select(Case)).one()
    clock.advance(timedelta(minutes=5))
    message_id = reply(db, clock, case.id, "Hello, we reset your line. Is it better?")

    with db.session() as s:
        out = s.get_one(OutboundMessage, message_id)
        item = s.get_one(Interaction, out.interaction_id)
        assert (item.direction, item.author_kind, item.address) == ("outbound", "agent", ALICE)
        assert item.external_id == out.headers["Message-ID"]
        assert item.external_id.endswith("@bsp.example>") and "homeport-case" in item.external_id
        assert out.headers["In-Reply-To"] == "<q1@example.test>"
        assert out.headers["References"] == "<q1@example.test>"
        assert out.subject == f"Re: Internet drops [Case #{case.id}]"
        assert (out.status, out.recipient) == ("queued", ALICE)
        assert s.get_one(Case, case.id).first_response_at == clock.now()

    relay.start(auth=True)
    sender = SmtpSender(relay_config(relay))
    assert send_due(db, sender, clock) == "1 sent, 0 to retry, 0 failed"
    assert relay.logins == ["homeport"]
    [envelope] = relay.received
    assert (envelope.mail_from, envelope.rcpt_tos) == (SUPPORT, [ALICE])
    sent = received(relay, 0)
    # (A Message-ID this long is folded onto its own line, hence the strip.)
    assert sent["Message-ID"].strip() == item.external_id
    assert sent["In-Reply-To"] == "<q1@example.test>"
    assert sent["References"] == "<q1@example.test>"
    assert sent["Subject"] == f"Re: Internet drops [Case #{case.id}]"
    assert sent["From"] == f"BSP Support <{SUPPORT}>" and sent["To"] == ALICE
    assert sent["Auto-Submitted"] is None
    assert sent.get_content().strip() == "Hello, we reset your line. Is it better?"
    done = queued(db, message_id)
    assert (done.status, done.attempts, done.sent_at) == ("sent", 1, clock.now())
    assert send_due(db, sender, clock) == "0 sent, 0 to retry, 0 failed"  # sent once

    # The subscriber's mail client answers the reply: it threads into the same case, and the
    # next reply names the whole thread.
    answer = mail(
        "Yes, thank you!",
        subject=f"Re: {sent['Subject']}",
        message_id="<q2@example.test>",
        In_Reply_To=item.external_id,
        References=f"<q1@example.test> {item.external_id}",
    )
    send(listener, answer)
    with db.session() as s:
        assert (
            s.scalar(
                select(Interaction.case_id).where(Interaction.external_id == "<q2@example.test>")
            )
            == case.id
        )
    second = reply(db, clock, case.id, "Great, closing the case.")
    headers = queued(db, second).headers
    assert headers["In-Reply-To"] == "<q2@example.test>"
    assert headers["References"].split() == [
        "<q1@example.test>",
        item.external_id,
        "<q2@example.test>",
    ]
    assert queued(db, second).subject == f"Re: Internet drops [Case #{case.id}]"


def test_the_relay_down_means_a_retry_later(
    db: Database, listener: SmtpListener, relay: Relay, clock: ManualClock
) -> None:
    send(listener, mail(message_id="<d1@example.test>"))
    with db.session() as s:
        case_id = s.scalars(select(Case.id)).one()
    message_id = reply(db, clock, case_id, "We are on it.")
    sender = SmtpSender(relay_config(relay, user=""))

    assert send_due(db, sender, clock) == "0 sent, 1 to retry, 0 failed"  # nothing listens
    waiting = queued(db, message_id)
    assert (waiting.status, waiting.attempts) == ("queued", 1)
    assert f"{relay.host}:{relay.port}" in waiting.last_error
    assert waiting.next_attempt_at == clock.now() + timedelta(minutes=1)
    assert send_due(db, sender, clock) == "0 sent, 0 to retry, 0 failed"  # not due yet

    relay.start()
    clock.advance(timedelta(seconds=61))
    assert send_due(db, sender, clock) == "1 sent, 0 to retry, 0 failed"
    done = queued(db, message_id)
    assert (done.status, done.attempts, done.last_error) == ("sent", 2, "")
    assert received(relay, 0)["Message-ID"].strip() == done.headers["Message-ID"]


def test_backoff_doubles_up_to_an_hour(relay: Relay) -> None:
    sender = SmtpSender(relay_config(relay))
    assert [sender.retry_at(n, START) - START for n in (1, 2, 3, 7, 8)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(hours=1),
        timedelta(hours=1),
    ]


def test_a_refused_recipient_fails_at_once_and_automatic_mail_says_so(
    db: Database, listener: SmtpListener, relay: Relay, clock: ManualClock
) -> None:
    send(listener, mail(message_id="<r1@example.test>"))
    send(listener, mail(sender="filler2@example.test", message_id="<r2@example.test>"))
    with db.session() as s:
        alice_case, bob_case = s.scalars(select(Case.id).order_by(Case.id)).all()
    refused = reply(db, clock, alice_case, "Hello")
    automatic = reply(db, clock, bob_case, "We received your message.", automatic=True)
    relay.refuse.add(ALICE)
    relay.start()
    assert send_due(db, SmtpSender(relay_config(relay, user="")), clock) == (
        "1 sent, 0 to retry, 1 failed"
    )
    failed = queued(db, refused)
    assert failed.status == "failed" and failed.last_error.startswith("recipient refused: 550")
    assert queued(db, automatic).status == "sent"
    assert received(relay, 0)["Auto-Submitted"] == "auto-replied"
    with db.session() as s:
        bot = s.get_one(Interaction, queued(db, automatic).interaction_id)
        assert bot.author_kind == "bot"


def test_a_reply_needs_a_body_an_address_and_a_live_case(
    db: Database, clock: ManualClock, fleet: object
) -> None:
    with db.transaction() as s:
        phone_only = actions.open_case(
            s,
            now=clock.now(),
            actor=AGENT,
            channel="phone",
            subject="Call about billing",
            contact="0161 496 0000",
        )
        closed = actions.open_case(
            s, now=clock.now(), actor=AGENT, channel="email", subject="Old", contact="x@y.test"
        )
        actions.set_status(
            s, closed.id, "solved", now=clock.now(), actor=AGENT, outcome="remote_fix"
        )
        actions.set_status(s, closed.id, "closed", now=clock.now(), actor=AGENT)
    with pytest.raises(ValidationFailed, match="no recipient"):
        reply(db, clock, phone_only.id, "Hello")
    with pytest.raises(ValidationFailed):
        reply(db, clock, phone_only.id, "   ")
    with pytest.raises(Conflict):
        reply(db, clock, closed.id, "Hello")
    with db.session() as s:
        assert s.scalars(select(OutboundMessage)).all() == []


def test_homeport_worker_sends_queued_email_through_the_relay(
    db: Database,
    listener: SmtpListener,
    relay: Relay,
    clock: ManualClock,
    database_url: str,
    tmp_path: Path,
) -> None:
    send(listener, mail(message_id="<w1@example.test>"))
    with db.session() as s:
        case_id = s.scalars(select(Case.id)).one()
    message_id = reply(db, clock, case_id, "Sent by the worker process.")
    relay.start()
    env = dict(os.environ)
    env.update(
        HOMEPORT_DATABASE_URL=database_url,
        HOMEPORT_DATA_DIR=str(tmp_path / "data"),
        HOMEPORT_SMTP_HOST=relay.host,
        HOMEPORT_SMTP_PORT=str(relay.port),
        HOMEPORT_SUPPORT_EMAIL=SUPPORT,
    )
    done = subprocess.run(
        [sys.executable, "-m", "homeport.cli", "worker", "--once", "--task", "email"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("email: 1 sent, 0 to retry, 0 failed")
    assert queued(db, message_id).status == "sent"
    assert received(relay, 0)["Subject"] == f"Re: Internet drops [Case #{case_id}]"


def test_a_message_fails_after_its_last_attempt(
    db: Database, listener: SmtpListener, relay: Relay, clock: ManualClock
) -> None:
    send(listener, mail(message_id="<f1@example.test>"))
    with db.session() as s:
        case_id = s.scalars(select(Case.id)).one()
    message_id = reply(db, clock, case_id, "Hello")
    sender = SmtpSender(relay_config(relay, user=""), max_attempts=2)  # the relay never starts
    assert send_due(db, sender, clock) == "0 sent, 1 to retry, 0 failed"
    clock.advance(timedelta(minutes=1))
    assert send_due(db, sender, clock) == "0 sent, 0 to retry, 1 failed"
    gone = queued(db, message_id)
    assert (gone.status, gone.attempts) == ("failed", 2) and "refused" in gone.last_error.lower()
