"""Email tests drive Homeport's SMTP listener over loopback with smtplib, and send replies to a
second aiosmtpd server playing the BSP's relay."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from homeport import wiring
from homeport.adapters.smtp.server import SmtpListener
from homeport.core.clock import ManualClock
from homeport.core.db import Base, Database
from homeport.core.settings import Settings
from tests.cli.serving import free_port
from tests.conftest import START
from tests.factories import Fleet, build_fleet, filler

SUPPORT = "support@bsp.example"
ALICE = "filler1@example.test"  # FIL-0001
LIMIT = 300_000


@pytest.fixture
def mail_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"support_email": SUPPORT, "smtp_max_message_bytes": LIMIT})


@pytest.fixture
def fleet(db: Database) -> Fleet:
    return build_fleet(db, START, filler(2))


@pytest.fixture
def listener(
    db: Database, mail_settings: Settings, clock: ManualClock, fleet: Fleet
) -> Iterator[SmtpListener]:
    wiring.connect(db, mail_settings)
    server = SmtpListener(db, mail_settings, clock, host="127.0.0.1", port=0).start()
    try:
        yield server
    finally:
        server.stop()


def mail(
    body: str = "My internet keeps dropping every evening.",
    *,
    sender: str = ALICE,
    subject: str = "Internet drops",
    message_id: str | None = None,
    **headers: str,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Filler One <{sender}>"
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or make_msgid(domain="example.test")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def send(server: SmtpListener, msg: EmailMessage, *, mail_from: str | None = None) -> None:
    """Deliver over SMTP; raises smtplib's error when the listener refuses."""
    with smtplib.SMTP(server.host, server.port, timeout=15) as client:
        client.send_message(msg, from_addr=mail_from, to_addrs=[SUPPORT])


def count(db: Database, model: type[Base], *where: Any) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@dataclass
class Relay:
    """The BSP's relay: records what it is given; refuses recipients in ``refuse``."""

    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    received: list[Envelope] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    logins: list[str] = field(default_factory=list)
    controller: Controller | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        with self.lock:
            self.received.append(envelope)
        return "250 2.0.0 queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"homeport",
            b"relay-secret",
        )
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)

    def start(self, *, auth: bool = False) -> None:
        kwargs: dict[str, Any] = {}
        if auth:
            kwargs = {"authenticator": self.authenticate, "auth_require_tls": False}
        self.controller = Controller(
            self, hostname=self.host, port=self.port, server_hostname="relay.bsp.example", **kwargs
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def relay() -> Iterator[Relay]:
    server = Relay()
    try:
        yield server
    finally:
        server.stop()
