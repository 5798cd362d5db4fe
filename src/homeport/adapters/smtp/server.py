"""Homeport's own SMTP listener (aiosmtpd): the BSP's MX, or a forwarding rule, hands support
mail to it and each message becomes an interaction or a case (:mod:`.inbound`).

No message is acknowledged before it is committed: ``250`` is answered after the transaction
commits; a database error answers ``451`` so that the sending MTA keeps the message and tries
again (the Message-ID dedup makes the retry harmless). Messages over
``smtp_max_message_bytes`` are refused with ``552`` (early, on ``MAIL FROM … SIZE=``, or after
DATA), a message that cannot be stored at all with ``550``. Every outcome is counted.

The listener runs its asyncio loop in a thread of its own; database work runs in the loop's
thread pool, so a slow commit does not hold up the other SMTP sessions.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from prometheus_client import Counter
from sqlalchemy.exc import IntegrityError

from homeport.adapters.smtp.inbound import OUTCOMES, SenderLimit, deliver
from homeport.adapters.smtp.message import parse
from homeport.core.clock import Clock
from homeport.core.db import Database
from homeport.core.errors import ValidationFailed
from homeport.core.settings import Settings
from homeport.support.outbound import domain_of

log = logging.getLogger("homeport.email")

RECEIVED = Counter(
    "homeport_email_received",
    "Inbound emails accepted (250), by outcome: new_case, threaded, duplicate, auto_recorded, "
    "auto_dropped, loop_dropped, rate_limited.",
    ["outcome"],
)
REJECTED = Counter(
    "homeport_email_rejected",
    "Inbound emails refused, by SMTP code (552 too large, 550 unreadable, 451 not stored: "
    "the sender retries).",
    ["code"],
)
for _outcome in OUTCOMES:
    RECEIVED.labels(_outcome)
for _code in ("451", "550", "552"):
    REJECTED.labels(_code)


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:2525`` for IPv6) → (host, port)."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"HOMEPORT_SMTP_LISTEN: expected host:port, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class InboundHandler:
    """The aiosmtpd handler: parse, store in one transaction, answer."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.limit = SenderLimit()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content
        if raw is None:
            content = envelope.content
            raw = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else b""
        mail_from = envelope.mail_from or ""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.receive, bytes(raw), mail_from)

    def receive(self, raw: bytes, mail_from: str) -> str:
        """Store one message; returns the SMTP reply."""
        try:
            mail = parse(raw, return_path=mail_from, support_email=self.settings.support_email)
        except Exception:
            log.exception("unreadable inbound email from %s", mail_from)
            REJECTED.labels("550").inc()
            return "550 5.6.0 Message could not be read"
        for attempt in (1, 2):
            try:
                with self.db.transaction() as session:
                    result = deliver(session, mail, now=self.clock.now(), limit=self.limit)
            except IntegrityError:
                # The same Message-ID committed by a concurrent delivery: the retry finds it.
                if attempt == 1:
                    continue
                log.exception("inbound email %s not stored", mail.message_id)
                REJECTED.labels("451").inc()
                return "451 4.3.0 Temporary failure, please try again later"
            except ValidationFailed as exc:
                log.warning("inbound email %s refused: %s", mail.message_id, exc.message)
                REJECTED.labels("550").inc()
                return "550 5.6.0 Message could not be stored"
            except Exception:
                log.exception("inbound email %s not stored", mail.message_id)
                REJECTED.labels("451").inc()
                return "451 4.3.0 Temporary failure, please try again later"
            RECEIVED.labels(result.outcome).inc()
            log.info(
                "inbound email %s from %s: %s%s",
                mail.message_id,
                mail.sender or mail_from or "<>",
                result.outcome,
                f" (case {result.case_id})" if result.case_id else "",
                extra={"outcome": result.outcome, "case_id": result.case_id},
            )
            return f"250 2.0.0 OK {result.outcome}"
        raise AssertionError("unreachable")  # pragma: no cover


class _CountingSMTP(SMTP):
    """Counts the size refusals aiosmtpd answers itself (552), before the handler is called."""

    async def push(self, status: Any) -> None:
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else str(status)
        if text.startswith("552"):
            REJECTED.labels("552").inc()
        await super().push(status)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # Port 0 picks a free port: read which before the first connection.
        if self.port == 0 and isinstance(self.server, asyncio.Server):
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpListener:
    """The listener on ``host:port`` (port 0: a free one, see :attr:`port` once started)."""

    def __init__(
        self, db: Database, settings: Settings, clock: Clock, *, host: str, port: int
    ) -> None:
        self.handler = InboundHandler(db, settings, clock)
        self._controller = _Controller(
            self.handler,
            hostname=host,
            port=port,
            server_hostname=domain_of(settings.support_email) or "homeport",
            data_size_limit=settings.smtp_max_message_bytes,
            enable_SMTPUTF8=True,
            ident="Homeport ESMTP",
        )

    @property
    def host(self) -> str:
        return str(self._controller.hostname)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def start(self) -> SmtpListener:
        self._controller.start()
        log.info("SMTP listener on %s:%s", self.host, self.port)
        return self

    def stop(self) -> None:
        self._controller.stop()


def start_listener(db: Database, settings: Settings, clock: Clock) -> SmtpListener | None:
    """Start the listener when ``HOMEPORT_SMTP_LISTEN`` is set (None otherwise)."""
    if not settings.smtp_listen:
        return None
    host, port = parse_listen(settings.smtp_listen)
    return SmtpListener(db, settings, clock, host=host, port=port).start()
