"""``POST /api/v1/cti/events``: call events from a PBX (Asterisk/FreePBX) or a telephony
provider (``docs/support.md``, "Phone (CTI)").

Authenticated by an HMAC-SHA256 signature over the timestamp and the raw body with the shared
secret ``HOMEPORT_CTI_SECRET``::

    X-Homeport-Timestamp: 1795428000
    X-Homeport-Signature: sha256=<hex of HMAC-SHA256(secret, "1795428000." + body)>

A timestamp more than ``cti_max_skew_s`` (300 s) away from Homeport's clock is refused, so a
captured request cannot be replayed later; within that window a replay is harmless because
every event is idempotent on the call id. The answer (200 with the case) comes after the
commit; then a ``screen_pop`` goes to the agent's console (``/ws/agent/queue``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import IntegrityError

from homeport.adapters.chat.runtime import AGENTS, agent_topic, runtime_for
from homeport.adapters.cti import calls
from homeport.core.errors import HomeportError, PermissionDenied, ValidationFailed
from homeport.identity.api import Access

router = APIRouter(prefix="/api/v1/cti", tags=["phone"])

TIMESTAMP_HEADER = "x-homeport-timestamp"
SIGNATURE_HEADER = "x-homeport-signature"
MAX_BODY = 64 * 1024


class NotConfigured(HomeportError):
    status = 503


class CallEventIn(BaseModel):
    event: str = Field(description="call.started, call.answered or call.ended")
    call_id: str = Field(min_length=1, max_length=300)
    at: datetime | None = Field(None, description="When it happened (default: on receipt)")
    caller: str = Field("", max_length=64, description="Caller ID (the subscriber's number)")
    direction: str = Field("inbound", pattern="^(inbound|outbound)$")
    staff_id: int | None = None
    agent_email: str = Field("", max_length=254)
    extension: str = Field("", max_length=32)
    case_id: int | None = None
    started_at: datetime | None = None


class CallEventOut(BaseModel):
    case_id: int
    interaction_id: int
    subscriber_id: int | None
    state: str
    duplicate: bool


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, signature: str, body: bytes, now: datetime, skew: int
) -> None:
    if not secret:
        raise NotConfigured("the CTI webhook is not configured (HOMEPORT_CTI_SECRET)")
    try:
        sent = int(timestamp)
    except ValueError:
        raise PermissionDenied("missing or malformed X-Homeport-Timestamp") from None
    if abs(now.timestamp() - sent) > skew:
        raise PermissionDenied("stale or future X-Homeport-Timestamp: refused as a replay")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        raise PermissionDenied("bad X-Homeport-Signature")


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@router.post("/events", dependencies=[Depends(Access.public())])
async def call_event(request: Request) -> CallEventOut:
    """One call event (signed; see the module documentation and docs/support.md)."""
    state = request.app.state
    settings = state.settings
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ValidationFailed("body too large")
    now: datetime = state.clock.now()
    verify(
        settings.cti_secret,
        request.headers.get(TIMESTAMP_HEADER, ""),
        request.headers.get(SIGNATURE_HEADER, ""),
        body,
        now,
        settings.cti_max_skew_s,
    )
    try:
        data = CallEventIn.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        raise ValidationFailed(f"invalid call event: {exc}") from None
    event = calls.CallEvent(
        event=data.event,
        call_id=data.call_id,
        at=_aware(data.at) or now,
        caller=data.caller,
        direction=data.direction,
        staff_id=data.staff_id,
        agent_email=data.agent_email,
        extension=data.extension,
        case_id=data.case_id,
        started_at=_aware(data.started_at),
    )

    def apply() -> calls.CallResult:
        # Two deliveries of a new call at once: the loser's insert breaks the unique call id;
        # its second try finds the winner's row.
        for attempt in range(2):
            try:
                with state.db.transaction() as session:
                    return calls.handle(session, event, extensions=settings.cti_extensions)
            except IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    result = await asyncio.to_thread(apply)
    # Committed: now tell the console.
    if not result.duplicate and event.event in ("call.started", "call.answered"):
        runtime = await runtime_for(state)
        pop: dict[str, Any] = {
            "type": "screen_pop",
            "event": event.event,
            "call_id": event.call_id,
            "caller": event.caller,
            "case_id": result.case_id,
            "interaction_id": result.interaction_id,
            "subscriber_id": result.subscriber_id,
            "subscriber_name": result.subscriber_name,
            "account_number": result.account_number,
            "agent_id": result.agent_id,
            "state": result.state,
        }
        topic = agent_topic(result.agent_id) if result.agent_id else AGENTS
        runtime.hub.publish(topic, pop)
    return CallEventOut(
        case_id=result.case_id,
        interaction_id=result.interaction_id,
        subscriber_id=result.subscriber_id,
        state=result.state,
        duplicate=result.duplicate,
    )
