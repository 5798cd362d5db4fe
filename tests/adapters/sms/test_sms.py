"""The SMS channel: Twilio-signed inbound webhooks (form and JSON), dedup on the provider's id,
threading into the sender's live SMS case, STOP/START consent, and outbound SMS through a local
HTTP server playing the provider (with a retry)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select

from homeport.adapters.sms import signature
from homeport.adapters.sms.outbound import ProviderConfig, SmsSender
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.subscribers.models import Subscriber
from homeport.support import actions
from homeport.support.models import Case, Interaction, OutboundMessage
from tests.adapters.channels import count
from tests.factories import Fleet, build_fleet

TOKEN = "twilio-test-auth-token"
PUBLIC = "https://support.example.net"
URL = PUBLIC + "/api/v1/sms/inbound"
ALICE_NUMBER = "+442079460001"  # +44 20 7946 0001


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"sms_auth_token": TOKEN, "public_url": PUBLIC, "sms_thread_days": 7}
    )


@pytest.fixture
def fleet(db: Database, clock: ManualClock) -> Fleet:
    return build_fleet(db, clock.now())


def form(client: TestClient, params: dict[str, str], *, token: str = TOKEN) -> Response:
    sig = signature.compute(token, URL, params.items())
    return client.post(
        "/api/v1/sms/inbound",
        content=urlencode(params),
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": sig,
        },
    )


def sms(sid: str, body: str, sender: str = ALICE_NUMBER) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": "AC123",
        "From": sender,
        "To": "+447700900999",
        "Body": body,
        "NumMedia": "0",
    }


def test_signature_matches_twilios_published_example() -> None:
    # The vector of Twilio's documentation and helper-library tests (auth token 12345): an
    # independent reference, so a self-consistent but wrong scheme cannot pass.
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    expected = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert signature.compute("12345", url, params.items()) == expected
    assert signature.valid_form("12345", [url], list(params.items()), expected)
    assert not signature.valid_form("12345", [url + "&x=1"], list(params.items()), expected)


def test_signature_is_checked(client: TestClient, db: Database, fleet: Fleet) -> None:
    assert form(client, sms("SM1", "Hi"), token="not-the-token").status_code == 403
    unsigned = client.post("/api/v1/sms/inbound", data=sms("SM1", "Hi"))
    assert unsigned.status_code == 403
    params = sms("SM1", "Hi")
    tampered = client.post(
        "/api/v1/sms/inbound",
        content=urlencode({**params, "Body": "Hi there"}),
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": signature.compute(TOKEN, URL, params.items()),
        },
    )
    assert tampered.status_code == 403
    assert count(db, Interaction) == 0
    ok = form(client, params)
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("text/xml")
    assert ok.text.endswith("<Response></Response>")


def test_json_webhook_signed_over_the_url_with_the_body_digest(
    client: TestClient, db: Database, fleet: Fleet
) -> None:
    body = json.dumps(sms("SMJ1", "Internet down since 8am")).encode()
    digest = hashlib.sha256(body).hexdigest()
    query = f"bodySHA256={digest}"
    sig = signature.compute(TOKEN, f"{URL}?{query}")
    headers = {"content-type": "application/json", "x-twilio-signature": sig}
    response = client.post(f"/api/v1/sms/inbound?{query}", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["subscriber_id"] == fleet.subscribers["ACC-1001"]
    other = json.dumps(sms("SMJ2", "changed")).encode()
    refused = client.post(f"/api/v1/sms/inbound?{query}", content=other, headers=headers)
    assert refused.status_code == 403


def test_dedup_and_threading(
    client: TestClient, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    alice = fleet.subscribers["ACC-1001"]
    assert form(client, sms("SM1", "My broadband is down")).status_code == 200
    assert form(client, sms("SM1", "My broadband is down")).status_code == 200  # provider retry
    clock.advance(timedelta(days=2))
    form(client, sms("SM2", "Still down"))
    form(client, sms("SM3", "Who is this?", sender="+1 555 0100"))
    clock.advance(timedelta(days=8))
    form(client, sms("SM4", "Down again"))
    with db.session() as s:
        rows = s.scalars(select(Interaction).order_by(Interaction.id)).all()
        assert [r.external_id for r in rows] == ["SM1", "SM2", "SM3", "SM4"]
        cases = {r.external_id: s.get_one(Case, r.case_id) for r in rows}
        assert cases["SM1"].id == cases["SM2"].id  # joins the live SMS case
        assert cases["SM4"].id != cases["SM1"].id  # quiet for more than 7 days: a new case
        assert (cases["SM1"].channel, cases["SM1"].subscriber_id) == ("sms", alice)
        stranger = cases["SM3"]
        assert (stranger.subscriber_id, stranger.contact) == (None, "+1 555 0100")


def test_stop_and_start_change_sms_consent(
    client: TestClient, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    alice = fleet.subscribers["ACC-1001"]

    def consent() -> bool:
        with db.session() as s:
            return s.get_one(Subscriber, alice).consent_sms

    assert consent() is True
    form(client, sms("SM1", "  stop "))
    assert consent() is False
    assert count(db, Interaction) == 0  # a keyword alone opens no case
    clock.advance(timedelta(minutes=5))
    form(client, sms("SM2", "START"))
    assert consent() is True
    form(client, sms("SM3", "Please stop the engineer visit"))  # not a keyword
    assert consent() is True and count(db, Interaction) == 1


class Provider:
    """A local HTTP server playing the SMS provider's Messages endpoint."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: list[int] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                form_data = dict(parse_qsl(self.rfile.read(length).decode()))
                provider.requests.append(
                    {"auth": self.headers.get("authorization", ""), "form": form_data}
                )
                status = provider.answers.pop(0) if provider.answers else 201
                payload = {"sid": f"SMOUT{len(provider.requests)}", "status": "queued"}
                if status >= 400:
                    payload = {"code": 20500, "message": "boom"}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = (
            f"http://127.0.0.1:{self.server.server_port}/2010-04-01/Accounts/AC123/Messages.json"
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider()
    yield p
    p.close()


def queue(db: Database, clock: ManualClock, recipient: str, body: str) -> int:
    with db.transaction() as s:
        return actions.queue_outbound(
            s, channel="sms", recipient=recipient, body=body, now=clock.now()
        ).id


def test_outbound_sms_is_sent_and_retried(
    db: Database, clock: ManualClock, fleet: Fleet, provider: Provider
) -> None:
    sender = SmsSender(ProviderConfig(provider.url, "AC123", TOKEN, "+447700900999"))
    first = queue(db, clock, ALICE_NUMBER, "Your engineer arrives at 10:00")
    provider.answers = [503]
    with db.transaction() as s:
        run = sender.send_due(s, clock.now())
    assert (run.sent, run.retried, run.failed) == (0, 1, 0)
    with db.session() as s:
        message = s.get_one(OutboundMessage, first)
        assert (message.status, message.attempts) == ("queued", 1)
        assert "503" in message.last_error
        assert message.next_attempt_at == clock.now() + timedelta(minutes=1)
    with db.transaction() as s:  # not due yet
        assert sender.send_due(s, clock.now()).retried == 0
    clock.advance(timedelta(minutes=1))
    with db.transaction() as s:
        assert sender.send_due(s, clock.now()).sent == 1
    with db.session() as s:
        message = s.get_one(OutboundMessage, first)
        assert (message.status, message.attempts, message.sent_at) == ("sent", 2, clock.now())
        assert message.headers["provider_id"] == "SMOUT2"
    assert len(provider.requests) == 2
    sent = provider.requests[-1]
    assert sent["form"] == {
        "To": ALICE_NUMBER,
        "From": "+447700900999",
        "Body": "Your engineer arrives at 10:00",
    }
    assert sent["auth"] == "Basic " + base64.b64encode(f"AC123:{TOKEN}".encode()).decode()


def test_outbound_sms_fails_on_a_refusal_or_without_consent(
    db: Database, clock: ManualClock, fleet: Fleet, provider: Provider
) -> None:
    sender = SmsSender(ProviderConfig(provider.url, "AC123", TOKEN, "+447700900999"))
    refused = queue(db, clock, "+15550100", "Hello")
    provider.answers = [400]
    # Bob (0113 496 0002) never gave SMS consent: nothing is sent to him.
    no_consent = queue(db, clock, "01134960002", "Hello Bob")
    with db.transaction() as s:
        run = sender.send_due(s, clock.now())
    assert (run.sent, run.retried, run.failed) == (0, 0, 2)
    assert len(provider.requests) == 1
    with db.session() as s:
        assert s.get_one(OutboundMessage, refused).status == "failed"
        assert "opted out" in s.get_one(OutboundMessage, no_consent).last_error


def test_outbound_sms_retries_when_the_provider_is_unreachable(
    db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    gone = Provider()
    url = gone.url
    gone.close()  # nothing listens on its port any more
    sender = SmsSender(ProviderConfig(url, "AC123", TOKEN, "+447700900999"))
    queue(db, clock, ALICE_NUMBER, "Hello")
    with db.transaction() as s:
        run = sender.send_due(s, clock.now())
    assert (run.sent, run.retried) == (0, 1)
    with db.session() as s:
        (message,) = s.scalars(select(OutboundMessage)).all()
        assert "unreachable" in message.last_error and message.status == "queued"


def test_the_worker_entry_point_runs_the_sms_sender(
    settings: Settings, db: Database, clock: ManualClock, fleet: Fleet, provider: Provider
) -> None:
    from homeport.cli.tasks import scheduler_tasks
    from homeport.worker import Scheduler

    assert "sms" not in {t.name for t in scheduler_tasks(settings)}  # no provider configured
    configured = settings.model_copy(
        update={"sms_provider_url": provider.url, "sms_account_sid": "AC123", "sms_from": "+44"}
    )
    (task,) = [t for t in scheduler_tasks(configured) if t.name == "sms"]
    queue(db, clock, ALICE_NUMBER, "Your case is solved")
    run = Scheduler(db, [task], clock).run_task(task)
    assert run.ok and run.summary == "1 SMS sent, 0 to retry, 0 failed"
    assert provider.requests[0]["form"]["Body"] == "Your case is solved"


def test_an_sms_webhook_over_a_real_socket(
    app: FastAPI, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    import urllib.request

    from tests.adapters.channels import running_server

    params = sms("SMREAL", "Hello from the network")
    with running_server(app) as port:
        # Behind no proxy: the provider signed the URL it called on this server.
        url = f"http://127.0.0.1:{port}/api/v1/sms/inbound"
        request = urllib.request.Request(
            url,
            data=urlencode(params).encode(),
            method="POST",
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "x-twilio-signature": signature.compute(TOKEN, url, params.items()),
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            assert response.status == 200
            assert response.read().endswith(b"<Response></Response>")
    with db.session() as s:
        stored = s.scalars(select(Interaction).where(Interaction.external_id == "SMREAL")).one()
        assert stored.body == "Hello from the network"
