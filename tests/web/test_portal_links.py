"""Sign-in by a one-time email link: the email really goes out through the SMTP relay, the link
works once for 15 minutes, opening it does not spend it (mail scanners), requests are limited
per address, and the answer never tells whether an address has an account."""

from __future__ import annotations

import email
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from homeport.adapters.smtp.sender import RelayConfig, SmtpSender
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.identity.models import SubscriberAccount
from homeport.selfservice import links
from homeport.selfservice.models import EngagementEvent, LoginLink
from homeport.support.models import OutboundMessage
from tests.adapters.smtp.conftest import Relay
from tests.conftest import START, csrf_from
from tests.selfservice.portal import ALICE_EMAIL, People, setup_portal

LINK = re.compile(r"http://127\.0\.0\.1:8000(/portal/link/[A-Za-z0-9_-]+)")


@pytest.fixture
def people(db: Database, settings: Settings, clock: ManualClock) -> People:
    return setup_portal(db, settings, clock)


def ask(client: TestClient, address: str) -> str:
    page = client.get("/portal/login")
    response = client.post(
        "/portal/login/link", data={"email": address, "csrf_token": csrf_from(page.text)}
    )
    assert response.status_code == 200, response.text
    return response.text


def outbound(db: Database) -> list[OutboundMessage]:
    with db.session() as s:
        return list(s.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))


def test_the_link_email_goes_out_through_the_relay_and_signs_in_once(
    client: TestClient, db: Database, clock: ManualClock, people: People
) -> None:
    answer = ask(client, " Alice@Portal.example ")
    assert "Check your email" in answer
    (queued,) = outbound(db)
    assert queued.recipient == ALICE_EMAIL and queued.channel == "email"
    relay = Relay()
    relay.start()
    try:
        sender = SmtpSender(
            RelayConfig(host=relay.host, port=relay.port, sender="support@bsp.example")
        )
        with db.transaction() as s:
            assert str(sender.send_due(s, clock.now())) == "1 sent, 0 to retry, 0 failed"
    finally:
        relay.stop()
    (envelope,) = relay.received
    assert envelope.rcpt_tos == [ALICE_EMAIL]
    mail = email.message_from_bytes(envelope.content)  # type: ignore[arg-type]
    assert mail["Subject"].startswith("Your sign-in link")
    assert mail["Auto-Submitted"] == "auto-generated"
    body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    match = LINK.search(body)
    assert match, body
    path = match.group(1)
    token = path.rsplit("/", 1)[1]
    with db.session() as s:  # only the hash is stored
        stored = s.scalars(select(LoginLink)).one()
        assert stored.token_hash == links.hash_token(token) and token not in stored.token_hash
        assert stored.expires_at == START + timedelta(minutes=15)

    # Opening the link (a mail scanner, a preview) signs nobody in and does not spend it.
    client.cookies.clear()
    for _ in range(2):
        confirm = client.get(path)
        assert confirm.status_code == 200 and "Sign me in" in confirm.text
    assert client.get("/portal/", headers={"accept": "text/html"}).status_code == 303
    done = client.post(path, data={"csrf_token": csrf_from(confirm.text)})
    assert done.status_code == 303 and done.headers["location"] == "/portal/"
    assert client.get("/portal/").status_code == 200
    with db.session() as s:
        assert s.scalars(select(LoginLink)).one().used_at == START
        assert s.get_one(SubscriberAccount, people.alice_account).last_login_at == START
        kinds = s.execute(
            select(EngagementEvent.kind, EngagementEvent.detail).where(
                EngagementEvent.subscriber_id == people.story.alice
            )
        ).all()
    assert ("sign_in", {"method": "link"}) in [(k, d) for k, d in kinds]

    # Once only.
    client.cookies.clear()
    page = client.get("/portal/login")
    assert client.get(path).status_code == 404
    again = client.post(path, data={"csrf_token": csrf_from(page.text)})
    assert again.status_code == 404 and "no longer works" in again.text


def test_a_link_expires_after_15_minutes(
    client: TestClient, db: Database, clock: ManualClock, people: People
) -> None:
    ask(client, ALICE_EMAIL)
    path = LINK.search(outbound(db)[0].body).group(1)  # type: ignore[union-attr]
    clock.advance(timedelta(minutes=15))
    assert client.get(path).status_code == 404
    page = client.get("/portal/login")
    assert client.post(path, data={"csrf_token": csrf_from(page.text)}).status_code == 404
    assert client.get("/portal/", headers={"accept": "text/html"}).status_code == 303


def test_the_answer_never_tells_who_has_an_account(
    client: TestClient, db: Database, people: People
) -> None:
    known = ask(client, ALICE_EMAIL)
    unknown = ask(client, "nobody@nowhere.example")
    assert known.replace(ALICE_EMAIL, "X") == unknown.replace("nobody@nowhere.example", "X")
    assert [m.recipient for m in outbound(db)] == [ALICE_EMAIL]


def test_requests_are_limited_per_address(
    client: TestClient, db: Database, clock: ManualClock, people: People
) -> None:
    answers = [ask(client, ALICE_EMAIL) for _ in range(links.MAX_PER_ADDRESS + 2)]
    assert len(set(answers)) == 1  # the same answer, throttled or not
    assert len(outbound(db)) == links.MAX_PER_ADDRESS
    clock.advance(links.REQUEST_WINDOW + timedelta(seconds=1))
    ask(client, ALICE_EMAIL)
    assert len(outbound(db)) == links.MAX_PER_ADDRESS + 1


def test_an_inactive_account_gets_no_link_and_cannot_use_one(
    client: TestClient, db: Database, clock: ManualClock, people: People
) -> None:
    ask(client, ALICE_EMAIL)
    path = LINK.search(outbound(db)[0].body).group(1)  # type: ignore[union-attr]
    with db.transaction() as s:
        s.get_one(SubscriberAccount, people.alice_account).is_active = False
    assert client.get(path).status_code == 404
    ask(client, ALICE_EMAIL)
    assert len(outbound(db)) == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(LoginLink)) == 1


def test_a_malformed_address_is_refused(client: TestClient, people: People) -> None:
    page = client.get("/portal/login")
    r = client.post(
        "/portal/login/link", data={"email": "not-an-address", "csrf_token": csrf_from(page.text)}
    )
    assert r.status_code == 422 and "Enter the email address" in r.text
