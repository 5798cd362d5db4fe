from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from homeport.core.db import Base, UTCDateTime

STATUSES = ("prospect", "onboarding", "active", "suspended", "churned")
#: Where the subscriber is in the journey (DESIGN.md section 4; journey events come later).
JOURNEY_STAGES = ("signup", "installation", "onboarding", "established", "at_risk", "churned")
CHANNELS = ("email", "phone", "sms", "app", "chat")
LIFESTYLES = ("work_from_home", "gaming", "streaming", "smart_home", "family_safety", "general")


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint("down_mbps > 0", name="down_positive"),
        CheckConstraint("up_mbps > 0", name="up_positive"),
        CheckConstraint("monthly_price >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    down_mbps: Mapped[int]
    up_mbps: Mapped[int]
    monthly_price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Bundle(Base):
    """A value-based add-on for a lifestyle: mesh Wi-Fi, gaming priority, security, ..."""

    __tablename__ = "bundles"
    __table_args__ = (
        CheckConstraint(f"lifestyle IN {LIFESTYLES!r}", name="lifestyle"),
        CheckConstraint("monthly_price >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    lifestyle: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text, default="")
    monthly_price: Mapped[Decimal] = mapped_column(Numeric(10, 2))


subscriber_bundles = Table(
    "subscriber_bundles",
    Base.metadata,
    Column("subscriber_id", ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "bundle_id", ForeignKey("bundles.id", ondelete="RESTRICT"), primary_key=True, index=True
    ),
)


class Subscriber(Base):
    __tablename__ = "subscribers"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint(f"journey_stage IN {JOURNEY_STAGES!r}", name="journey_stage"),
        CheckConstraint(f"preferred_channel IN {CHANNELS!r}", name="preferred_channel"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        Index("ix_subscribers_status_stage", "status", "journey_stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The billing system's account number: the key that imports match on.
    account_number: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True, default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    postcode: Mapped[str] = mapped_column(String(16), index=True, default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    journey_stage: Mapped[str] = mapped_column(String(16), default="established")
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("plans.id", ondelete="RESTRICT"), index=True
    )
    preferred_channel: Mapped[str] = mapped_column(String(8), default="email")
    consent_email: Mapped[bool] = mapped_column(Boolean, default=True)
    consent_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_marketing: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    churned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    plan: Mapped[Plan | None] = relationship(lazy="joined")
    bundles: Mapped[list[Bundle]] = relationship(
        secondary=subscriber_bundles, lazy="selectin", order_by=Bundle.name
    )
