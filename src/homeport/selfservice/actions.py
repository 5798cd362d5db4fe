"""Writes of the self-service domain (the only place in it that persists)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from homeport.core.errors import FieldError, ValidationFailed
from homeport.selfservice.models import ENGAGEMENT_CHANNELS, EngagementEvent

#: Longest engagement kind (the column's width).
MAX_KIND = 40


def record_engagement(
    session: Session,
    subscriber_id: int,
    kind: str,
    *,
    at: datetime,
    channel: str = "portal",
    detail: dict[str, Any] | None = None,
) -> EngagementEvent:
    """Record one use of self-service (a page, a fix, a speed test, a bot message) in the
    caller's transaction. Digital adoption and app engagement count these events."""
    if channel not in ENGAGEMENT_CHANNELS:
        raise ValidationFailed(
            "bad engagement event", [FieldError("channel", f"must be one of {ENGAGEMENT_CHANNELS}")]
        )
    if not kind or len(kind) > MAX_KIND:
        raise ValidationFailed(
            "bad engagement event", [FieldError("kind", f"must be 1-{MAX_KIND} characters")]
        )
    event = EngagementEvent(
        subscriber_id=subscriber_id, at=at, channel=channel, kind=kind, detail=detail or {}
    )
    session.add(event)
    return event
