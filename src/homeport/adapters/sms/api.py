"""``POST /api/v1/sms/inbound``: an SMS from a subscriber, as a Twilio-compatible provider posts
it (``docs/support.md``, "SMS").

The body is a form (Twilio's default: ``MessageSid``, ``From``, ``To``, ``Body`` …) or JSON with
the same names. It must carry Twilio's ``X-Twilio-Signature`` made with ``HOMEPORT_SMS_AUTH_TOKEN``
(:mod:`homeport.adapters.sms.signature`) over the URL the provider called: configure the webhook
as ``<HOMEPORT_PUBLIC_URL>/api/v1/sms/inbound``. A bad or missing signature is 403.

The answer comes after the commit: an empty TwiML ``<Response/>`` for a form post (no automatic
reply), ``{"case_id", "interaction_id", "duplicate", "keyword"}`` for JSON. A provider that
retries a message gets the same answer and nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError

from homeport.adapters.sms import inbound, signature
from homeport.core.errors import FieldError, HomeportError, PermissionDenied, ValidationFailed
from homeport.identity.api import Access

router = APIRouter(prefix="/api/v1/sms", tags=["sms"])

SIGNATURE_HEADER = "x-twilio-signature"
MAX_BODY = 64 * 1024
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class NotConfigured(HomeportError):
    status = 503


def signed_urls(request: Request) -> list[str]:
    """The URLs the provider may have signed: the public one, and the one received."""
    settings = request.app.state.settings
    query = request.url.query
    public = settings.public_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")
    return list(dict.fromkeys([public, str(request.url)]))


def _field(data: dict[str, Any], *names: str) -> str:
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


@router.post("/inbound", dependencies=[Depends(Access.public())])
async def sms_inbound(request: Request) -> Response:
    """One inbound SMS (Twilio-signed; see docs/support.md)."""
    state = request.app.state
    token = state.settings.sms_auth_token
    if not token:
        raise NotConfigured("the SMS webhook is not configured (HOMEPORT_SMS_AUTH_TOKEN)")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ValidationFailed("body too large")
    sent = request.headers.get(SIGNATURE_HEADER, "")
    is_json = request.headers.get("content-type", "").startswith("application/json")
    urls = signed_urls(request)
    data: dict[str, Any]
    if is_json:
        if not signature.valid_json(token, urls, body, sent):
            raise PermissionDenied("bad X-Twilio-Signature")
        try:
            parsed = json.loads(body)
        except ValueError:
            raise ValidationFailed("body is not JSON") from None
        if not isinstance(parsed, dict):
            raise ValidationFailed("expected a JSON object")
        data = parsed
    else:
        params = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        if not signature.valid_form(token, urls, params, sent):
            raise PermissionDenied("bad X-Twilio-Signature")
        data = dict(params)
    message_id = _field(data, "MessageSid", "SmsSid", "SmsMessageSid", "message_id", "id")
    sender = _field(data, "From", "from")
    problems = []
    if not message_id or len(message_id) > 300:
        problems.append(FieldError("MessageSid", "required, at most 300 characters"))
    if not sender:
        problems.append(FieldError("From", "required"))
    if problems:
        raise ValidationFailed("invalid SMS", problems)
    sms = inbound.InboundSms(
        message_id=message_id,
        sender=sender[:64],
        to=_field(data, "To", "to")[:64],
        body=_field(data, "Body", "body", "text")[:5000],
        at=state.clock.now(),
    )
    thread_days = state.settings.sms_thread_days

    def store() -> inbound.SmsResult:
        for attempt in range(2):  # a concurrent retry of the same message loses the race once
            try:
                with state.db.transaction() as session:
                    return inbound.receive(session, sms, thread_days=thread_days)
            except IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    result = await asyncio.to_thread(store)
    # Committed: only now does the provider hear that the message is accepted.
    if is_json:
        return JSONResponse(
            {
                "case_id": result.case_id,
                "interaction_id": result.interaction_id,
                "subscriber_id": result.subscriber_id,
                "duplicate": result.duplicate,
                "keyword": result.keyword,
            }
        )
    return Response(TWIML_EMPTY, media_type="text/xml")
