"""Outbound SMS: queued :class:`~homeport.support.models.OutboundMessage` rows of channel
``sms`` sent through a Twilio-compatible REST API.

One request per message: ``POST <sms_provider_url>`` (Twilio:
``https://api.twilio.com/2010-04-01/Accounts/<AccountSid>/Messages.json``) with the form fields
``To``, ``From`` and ``Body``, HTTP basic auth with the account SID and auth token. A 2xx answer
is sent (the provider's ``sid`` is kept in the row's headers as ``provider_id``); 429, 5xx and
network errors are retried with back-off (1, 2, 4 … minutes, at most an hour, 10 attempts);
any other 4xx fails the message at once. A subscriber who has turned SMS consent off
(``STOP``) is not sent anything: the message fails with that reason.

The worker does not import adapters: the entry points add :meth:`SmsSender.run` to the
scheduler as the task ``sms`` (``homeport.cli.tasks``).
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from prometheus_client import Counter
from sqlalchemy.orm import Session

from homeport.core.settings import Settings
from homeport.subscribers.models import Subscriber
from homeport.support import actions
from homeport.support.models import Case, OutboundMessage

log = logging.getLogger(__name__)

SENT = Counter(
    "homeport_sms_outbound",
    "Outbound SMS send attempts, by outcome (sent, retry, failed).",
    ["outcome"],
)
for _outcome in ("sent", "retry", "failed"):
    SENT.labels(_outcome)


@dataclass(frozen=True)
class ProviderConfig:
    url: str
    account_sid: str
    auth_token: str
    sender: str
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderConfig:
        return cls(
            url=settings.sms_provider_url,
            account_sid=settings.sms_account_sid,
            auth_token=settings.sms_auth_token,
            sender=settings.sms_from,
        )


class SendError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def post(config: ProviderConfig, to: str, body: str) -> str:
    """Send one SMS; returns the provider's message id. Raises :class:`SendError`."""
    data = urlencode({"To": to, "From": config.sender, "Body": body}).encode()
    request = urllib.request.Request(config.url, data=data, method="POST")  # noqa: S310
    auth = base64.b64encode(f"{config.account_sid}:{config.auth_token}".encode()).decode()
    request.add_header("Authorization", f"Basic {auth}")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    request.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=config.timeout_s) as response:  # noqa: S310
            raw = response.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        detail = exc.read(2000).decode("utf-8", "replace")
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
        raise SendError(f"provider answered {exc.code}: {detail}", permanent=permanent) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise SendError(f"provider unreachable: {exc}", permanent=False) from None
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        answer = {}
    return str(answer.get("sid", "")) if isinstance(answer, dict) else ""


class SmsSender:
    """Sends due SMS in batches; ``run`` has the worker's task signature."""

    def __init__(
        self,
        config: ProviderConfig,
        *,
        batch: int = 50,
        max_attempts: int = 10,
        backoff: timedelta = timedelta(minutes=1),
        max_backoff: timedelta = timedelta(hours=1),
    ) -> None:
        if not config.url.startswith(("http://", "https://")):
            raise ValueError(f"sms_provider_url must be an http(s) URL, not {config.url!r}")
        self.config = config
        self.batch = batch
        self.retry = actions.Retry(max_attempts, backoff, max_backoff)

    def retry_at(self, attempts: int, now: datetime) -> datetime:
        return self.retry.at(attempts, now)

    @staticmethod
    def opted_out(session: Session, message: OutboundMessage) -> bool:
        subscriber = None
        if message.case_id is not None:
            case = session.get(Case, message.case_id)
            if case is not None and case.subscriber_id is not None:
                subscriber = session.get(Subscriber, case.subscriber_id)
        if subscriber is None:
            subscriber = actions.find_subscriber(session, phone=message.recipient)
        return subscriber is not None and not subscriber.consent_sms

    def _failed(self, message: OutboundMessage, error: str, now: datetime, permanent: bool) -> str:
        outcome = actions.outbound_failed(
            message, error, now=now, permanent=permanent, retry=self.retry
        )
        SENT.labels(outcome).inc()
        return outcome

    def send_one(self, session: Session, message: OutboundMessage, now: datetime) -> str:
        if self.opted_out(session, message):
            return self._failed(message, "the subscriber opted out of SMS (STOP)", now, True)
        try:
            provider_id = post(self.config, message.recipient, message.body)
        except SendError as exc:
            return self._failed(message, str(exc), now, exc.permanent)
        actions.outbound_sent(message, now=now, headers={"provider_id": provider_id})
        SENT.labels("sent").inc()
        log.info("SMS %d sent to %s (%s)", message.id, message.recipient, provider_id)
        return "sent"

    def send_due(self, session: Session, now: datetime) -> actions.SendRun:
        """Send what is due now, marking each message in ``session`` (the caller commits)."""
        run = actions.SendRun("SMS")
        for message in actions.due_outbound(session, "sms", now=now, limit=self.batch):
            run.add(self.send_one(session, message, now))
        return run

    def run(self, session: Session, now: datetime, _last_ok: datetime | None) -> str:
        """The worker task: ``Task("sms", interval, sender.run)``."""
        return str(self.send_due(session, now))
