"""Simulated subscribers contact support when a problem they notice lasts."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.health.models import Finding
from homeport.simulator.contacts import (
    Contact,
    ContactSimulator,
    DirectTransport,
    SmtpTransport,
    WebhookTransport,
)
from homeport.subscribers.models import Subscriber
from homeport.support import service
from homeport.support.models import Case
from tests.cli.serving import ServerThread
from tests.conftest import START
from tests.factories import Fleet, build_fleet, filler


@pytest.fixture
def fleet(db: Database) -> Fleet:
    return build_fleet(db, START, filler(3))


def finding(db: Database, home: int, kind: str, at: datetime = START) -> None:
    with db.transaction() as s:
        s.add(
            Finding(
                home_id=home,
                kind=kind,
                subject="",
                severity="critical",
                status="open",
                consecutive_bad=3,
                consecutive_clear=0,
                first_seen_at=at,
                opened_at=at,
                last_seen_at=at,
                summary=kind,
                evidence={},
                remediation="",
            )
        )


def prefer(db: Database, sub: int, channel: str) -> None:
    with db.transaction() as s:
        s.get_one(Subscriber, sub).preferred_channel = channel


def hours(n: int, step_minutes: int = 10) -> list[datetime]:
    return [START + timedelta(minutes=m) for m in range(0, n * 60 + 1, step_minutes)]


def test_a_dead_line_brings_a_contact_through_the_preferred_channel(
    db: Database, fleet: Fleet
) -> None:
    down, fine = fleet.subscribers["FIL-0001"], fleet.subscribers["FIL-0002"]
    finding(db, fleet.homes["FIL-0001"], "wan_down")
    finding(db, fleet.homes["FIL-0003"], "legacy_client")  # nobody notices this one
    prefer(db, down, "phone")
    sim = ContactSimulator(db, DirectTransport(db), seed=1)
    for at in hours(6):
        sim.check(at)
    with db.session() as s:
        cases = s.scalars(select(Case)).all()
        assert [(c.subscriber_id, c.channel, c.category) for c in cases] == [
            (down, "phone", "no_internet")
        ]
        [call] = service.interactions(s, cases[0].id)
        assert (call.direction, call.author_kind, call.channel) == (
            "inbound",
            "subscriber",
            "phone",
        )
    assert sim.stats.contacts == 1 and fine not in {c.subscriber_id for c in cases}


def test_a_quiet_live_case_gets_a_follow_up_not_a_second_case(db: Database, fleet: Fleet) -> None:
    finding(db, fleet.homes["FIL-0001"], "wan_down")
    sim = ContactSimulator(db, DirectTransport(db), seed=2, follow_up_hours=4)
    for at in hours(48, step_minutes=30):
        sim.check(at)
    with db.session() as s:
        [case] = s.scalars(select(Case)).all()
        thread = service.interactions(s, case.id)
    assert len(thread) == 1 + sim.stats.follow_ups and sim.stats.follow_ups >= 2
    assert all(i.author_kind == "subscriber" for i in thread)


def test_the_chance_follows_how_noticeable_the_problem_is(db: Database) -> None:
    fleet = build_fleet(db, START, filler(40))
    for n in range(1, 21):
        finding(db, fleet.homes[f"FIL-{n:04d}"], "wan_down")
    for n in range(21, 41):
        finding(db, fleet.homes[f"FIL-{n:04d}"], "coverage_gap")
    sim = ContactSimulator(db, DirectTransport(db), seed=3)
    for at in hours(3):
        sim.check(at)
    with db.session() as s:
        categories = [c.category for c in s.scalars(select(Case))]
    # Mean 45 minutes for a dead line, four days for a coverage gap: after 3 hours almost
    # every dead line has called and almost no coverage gap has.
    assert categories.count("no_internet") >= 16
    assert categories.count("wifi") <= 3


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(envelope.content)  # type: ignore[attr-defined]
        return "250 OK"


def test_email_contacts_go_out_as_real_mail(db: Database, fleet: Fleet) -> None:
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        transport = SmtpTransport("127.0.0.1", port, "support@bsp.example", DirectTransport(db))
        contact = Contact(
            subscriber_id=fleet.subscribers["FIL-0001"],
            name="Filler 0001",
            email="filler1@example.test",
            phone="",
            channel="email",
            category="no_internet",
            subject="No internet",
            body="Nothing works",
            at=START,
        )
        assert transport.deliver(contact)
        sms = Contact(**{**contact.__dict__, "channel": "sms", "phone": "07700 900001"})
        assert transport.deliver(sms)  # no SMS listener: recorded directly
    finally:
        controller.stop()
    [raw] = inbox.messages
    assert b"Subject: No internet" in raw and b"From: Filler 0001 <filler1@example.test>" in raw
    with db.session() as s:
        assert [c.channel for c in s.scalars(select(Case))] == ["sms"]


def test_calls_and_texts_arrive_through_the_signed_webhooks(
    db: Database, fleet: Fleet, settings: Settings, clock: ManualClock
) -> None:
    from homeport.web.app import create_app

    configured = settings.model_copy(
        update={"cti_secret": "cti-test-secret", "sms_auth_token": "sms-test-token"}
    )
    app = create_app(configured, db=db, clock=clock)
    sub = fleet.subscribers["FIL-0001"]
    base = Contact(
        subscriber_id=sub,
        name="Filler 0001",
        email="filler1@example.test",
        phone="0161 496 0001",
        channel="phone",
        category="no_internet",
        subject="No internet",
        body="Nothing works",
        at=START,
    )
    with ServerThread(app) as server:
        configured.public_url = server.url
        webhooks = WebhookTransport(
            server.url,
            DirectTransport(db),
            cti_secret="cti-test-secret",
            sms_token="sms-test-token",
            public_url=server.url,
            seed=4,
        )
        assert webhooks.deliver(base)
        assert webhooks.deliver(Contact(**{**base.__dict__, "channel": "sms"}))
        wrong = WebhookTransport(server.url, DirectTransport(db), cti_secret="not-the-secret")
        assert not wrong.deliver(base)  # refused: bad signature
    with db.session() as s:
        cases = sorted(s.scalars(select(Case)), key=lambda c: c.id)
        assert [(c.channel, c.subscriber_id) for c in cases] == [("phone", sub), ("sms", sub)]
        [call] = service.interactions(s, cases[0].id)
        assert call.channel == "phone" and call.ended_at is not None
        assert call.handle_time_s is not None and call.handle_time_s > 0
        [text] = service.interactions(s, cases[1].id)
        assert text.body == "Nothing works"


def test_a_simulated_chat_meets_the_chatbot_first(db: Database, fleet: Fleet) -> None:
    from homeport.selfservice.models import BotConversation
    from homeport.simulator.contacts import Contact

    sub = fleet.subscribers["FIL-0001"]
    finding(db, fleet.homes["FIL-0001"], "coverage_gap")  # nothing the bot can fix remotely
    contact = Contact(
        subscriber_id=sub,
        name="Filler One",
        email="f1@example.org",
        phone="",
        channel="live_chat",
        category="wifi",
        subject="Wi-Fi",
        body="The Wi-Fi doesn't reach the bedroom upstairs at all.",
        at=START,
    )
    assert DirectTransport(db).deliver(contact)
    with db.session() as s:
        conv = s.scalars(select(BotConversation)).one()
        # The bot explains, offers a person; the simulated subscriber takes one.
        assert (conv.intent, conv.outcome) == ("wifi_coverage", "handed_over")
        case = s.get_one(Case, conv.case_id)
        assert (case.channel, case.category, case.subscriber_id) == ("chatbot", "wifi", sub)
    # Without the chatbot the chat opens a live-chat case directly, as before.
    other = fleet.subscribers["FIL-0002"]
    DirectTransport(db, chatbot=False).deliver(
        Contact(**{**contact.__dict__, "subscriber_id": other, "at": START})
    )
    with db.session() as s:
        channels = {c.subscriber_id: c.channel for c in s.scalars(select(Case))}
    assert channels == {sub: "chatbot", other: "live_chat"}
