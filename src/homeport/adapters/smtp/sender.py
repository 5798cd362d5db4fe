"""Sends the queued outbound email (``OutboundMessage`` rows) through the BSP's relay with
smtplib: STARTTLS and login when configured, one connection per run.

A message is marked ``sent`` once the relay accepted it. A temporary failure (relay down, 4xx)
schedules another attempt with exponential backoff; a permanent refusal (5xx) or running out of
attempts marks it ``failed`` with the reason. Delivery is at least once: a run that sent a
message but could not commit sends it again next time, with the same Message-ID, which the
recipient (and Homeport's own inbound dedup) recognises.

The worker does not import adapters: the entry points (``homeport worker``, ``homeport demo``)
add :meth:`SmtpSender.run` to the scheduler's tasks (:func:`homeport.cli.tasks.adapter_tasks`).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from prometheus_client import Counter
from sqlalchemy.orm import Session

from homeport.core.settings import Settings
from homeport.support import actions
from homeport.support.models import OutboundMessage

log = logging.getLogger("homeport.email")

SENT = Counter(
    "homeport_email_sent",
    "Outbound email attempts, by outcome (sent, retry, failed).",
    ["outcome"],
)
for _outcome in ("sent", "retry", "failed"):
    SENT.labels(_outcome)

#: Headers a queued message may carry that are copied onto the email.
PASSED_HEADERS = ("Message-ID", "In-Reply-To", "References", "Auto-Submitted")


@dataclass(frozen=True)
class RelayConfig:
    host: str
    port: int = 25
    user: str = ""
    password: str = ""
    starttls: bool = False
    sender: str = "support@homeport.invalid"
    sender_name: str = ""
    timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RelayConfig:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            user=settings.smtp_user,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            sender=settings.support_email,
            sender_name=settings.bsp_name,
        )


def _text(said: bytes | str) -> str:
    return said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)


def _from_header(address: str, name: str) -> str:
    local, _, domain = address.partition("@")
    try:
        return str(Address(display_name=name, username=local, domain=domain)) if name else address
    except (ValueError, IndexError):
        return address


def build(message: OutboundMessage, config: RelayConfig, now: datetime) -> EmailMessage:
    """The email for one queued message."""
    headers = message.headers or {}
    email = EmailMessage()
    sender = str(headers.get("From") or config.sender)
    email["From"] = _from_header(sender, config.sender_name)
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(now)
    for name in PASSED_HEADERS:
        value = headers.get(name)
        if value:
            email[name] = str(value)
    email.set_content(message.body)
    return email


class SmtpSender:
    """Sends due email in batches; ``run`` has the worker's task signature."""

    def __init__(
        self,
        config: RelayConfig,
        *,
        batch: int = 50,
        max_attempts: int = 10,
        backoff: timedelta = timedelta(minutes=1),
        max_backoff: timedelta = timedelta(hours=1),
    ) -> None:
        self.config = config
        self.batch = batch
        self.retry = actions.Retry(max_attempts, backoff, max_backoff)

    def retry_at(self, attempts: int, now: datetime) -> datetime:
        """When to try again after ``attempts`` failed attempts: 1, 2, 4 … minutes, at most an
        hour."""
        return self.retry.at(attempts, now)

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout_s)
        try:
            if c.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if c.user:
                smtp.login(c.user, c.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _failed(
        self, message: OutboundMessage, error: str, now: datetime, *, permanent: bool
    ) -> str:
        outcome = actions.outbound_failed(
            message, error, now=now, permanent=permanent, retry=self.retry
        )
        SENT.labels(outcome).inc()
        return outcome

    def send_due(self, session: Session, now: datetime) -> actions.SendRun:
        """Send what is due now, marking each message in ``session`` (the caller commits)."""
        run = actions.SendRun()
        due = actions.due_outbound(session, "email", now=now, limit=self.batch)
        if not due:
            return run
        try:
            smtp = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            permanent = isinstance(exc, smtplib.SMTPAuthenticationError)
            error = f"relay {self.config.host}:{self.config.port}: {exc}"
            for message in due:
                run.add(self._failed(message, error, now, permanent=False))
            if permanent:
                log.error("cannot log in to the SMTP relay: %s", exc)
            return run
        try:
            for message in due:
                run.add(self._send_one(smtp, message, now))
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        return run

    def _send_one(self, smtp: smtplib.SMTP, message: OutboundMessage, now: datetime) -> str:
        email = build(message, self.config, now)
        envelope_from = str((message.headers or {}).get("From") or self.config.sender)
        try:
            refused = smtp.send_message(
                email, from_addr=envelope_from, to_addrs=[message.recipient]
            )
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()))
            text = f"{code} {_text(reason)}"
            return self._failed(message, f"recipient refused: {text}", now, permanent=code >= 500)
        except smtplib.SMTPResponseException as exc:
            text = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            return self._failed(message, text, now, permanent=exc.smtp_code >= 500)
        except (OSError, smtplib.SMTPException) as exc:
            return self._failed(message, f"{type(exc).__name__}: {exc}", now, permanent=False)
        if refused:
            return self._failed(message, f"refused: {refused}", now, permanent=True)
        actions.outbound_sent(message, now=now)
        SENT.labels("sent").inc()
        log.info("email %d sent to %s", message.id, message.recipient)
        return "sent"

    def run(self, session: Session, now: datetime, _last_ok: datetime | None) -> str:
        """The worker task: ``Task("email", interval, sender.run)``."""
        return str(self.send_due(session, now))
