from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from homeport.core.db import Base, UTCDateTime

ORIGINS = ("reactive", "proactive")
CASE_STATUSES = ("new", "open", "pending_subscriber", "pending_field", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
OUTCOMES = (
    "self_service",
    "remote_fix",
    "truck_roll",
    "no_fault_found",
    "duplicate",
    "auto_resolved",
)
CHANNELS = ("email", "phone", "live_chat", "async_chat", "chatbot", "app", "sms", "system")
LIVE_STATUSES = ("new", "open", "pending_subscriber", "pending_field")


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(f"origin IN {ORIGINS!r}", name="origin"),
        CheckConstraint(f"status IN {CASE_STATUSES!r}", name="status"),
        CheckConstraint(f"priority IN {PRIORITIES!r}", name="priority"),
        CheckConstraint(f"channel IN {CHANNELS!r}", name="channel"),
        CheckConstraint(f"outcome IS NULL OR outcome IN {OUTCOMES!r}", name="outcome"),
        # One live proactive case per (subscriber, category): a repeat finding updates it.
        Index(
            "uq_cases_live_proactive",
            "subscriber_id",
            "category",
            unique=True,
            sqlite_where=text(f"origin = 'proactive' AND status IN {LIVE_STATUSES!r}"),
            postgresql_where=text(f"origin = 'proactive' AND status IN {LIVE_STATUSES!r}"),
        ),
        Index("ix_cases_status_opened", "status", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    origin: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(12))
    category: Mapped[str] = mapped_column(String(40))
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    status: Mapped[str] = mapped_column(String(20), default="new")
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    finding_id: Mapped[int | None] = mapped_column(
        ForeignKey("findings.id", ondelete="SET NULL"), index=True
    )
    outage_id: Mapped[int | None] = mapped_column(
        ForeignKey("outages.id", ondelete="SET NULL"), index=True
    )
    outcome: Mapped[str | None] = mapped_column(String(16))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    solved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
