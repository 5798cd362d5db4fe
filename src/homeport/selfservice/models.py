"""Tables of the self-service domain: engagement events (every use of the portal, app or bot),
one-time sign-in links, chatbot conversations and their turns, and knowledge-base articles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from homeport.core.db import Base, UTCDateTime

#: Where a subscriber used self-service.
ENGAGEMENT_CHANNELS = ("portal", "app", "bot")
#: How a chatbot conversation ended. ``open``: still going; ``contained``: the bot solved it (or
#: answered it) and nobody took over; ``handed_over``: a person took over on a case;
#: ``abandoned``: the subscriber left before an answer.
BOT_OUTCOMES = ("open", "contained", "handed_over", "abandoned")
BOT_AUTHORS = ("subscriber", "bot", "system")
ARTICLE_STATUSES = ("draft", "published")


def _in(column: str, values: tuple[str, ...], name: str) -> Any:
    return CheckConstraint(f"{column} IN {values!r}", name=name)


class EngagementEvent(Base):
    """One use of self-service by a subscriber: a page, a fix, a speed test, a bot message.
    Digital adoption and app engagement (DESIGN.md section 6) count these."""

    __tablename__ = "engagement_events"
    __table_args__ = (
        _in("channel", ENGAGEMENT_CHANNELS, "channel"),
        Index("ix_engagement_events_subscriber_at", "subscriber_id", "at"),
        Index("ix_engagement_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(16), default="portal")
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LoginLink(Base):
    """A one-time sign-in link sent by email. Only a SHA-256 of the token is kept."""

    __tablename__ = "login_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber_accounts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BotConversation(Base):
    """One chatbot conversation with a subscriber, from the first message to its outcome."""

    __tablename__ = "bot_conversations"
    __table_args__ = (
        _in("outcome", BOT_OUTCOMES, "outcome"),
        Index("ix_bot_conversations_subscriber_started", "subscriber_id", "started_at"),
        Index("ix_bot_conversations_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    intent: Mapped[str | None] = mapped_column(String(40))
    confidence: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(16), default="open")
    #: Where the conversation stands: the step waiting for an answer, a proposed action.
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )


class BotTurn(Base):
    """One message of a chatbot conversation. ``meta`` keeps what the bot saw and did
    (intent and confidence, diagnostics, actions) so that an agent who takes over reads it."""

    __tablename__ = "bot_turns"
    __table_args__ = (
        _in("author", BOT_AUTHORS, "author"),
        Index("ix_bot_turns_conversation_id", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("bot_conversations.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    author: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Article(Base):
    """A knowledge-base article: how-to answers agents maintain and the bot and portal search."""

    __tablename__ = "kb_articles"
    __table_args__ = (_in("status", ARTICLE_STATUSES, "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[str] = mapped_column(String(400), default="")
    status: Mapped[str] = mapped_column(String(16), default="published")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    views: Mapped[int] = mapped_column(Integer, default=0)
