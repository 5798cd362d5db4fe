"""Tables of the experiments domain: campaigns and their deliveries, experiments, assignments
of subscribers to variants, and observations of the compared metric."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from homeport.core.db import Base, UTCDateTime

CAMPAIGN_STATUSES = ("draft", "running", "done", "cancelled")
DELIVERY_STATUSES = ("queued", "sent", "shown", "skipped_consent", "opted_out", "failed")
DELIVERY_CHANNELS = ("email", "portal")
EXPERIMENT_STATUSES = ("draft", "running", "stopped")


def _in(column: str, values: tuple[str, ...], name: str) -> Any:
    return CheckConstraint(f"{column} IN {values!r}", name=name)


class Campaign(Base):
    """A message (and optional offer) to one segment through email and/or the portal."""

    __tablename__ = "campaigns"
    __table_args__ = (_in("status", CAMPAIGN_STATUSES, "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    segment: Mapped[str] = mapped_column(String(20))
    channels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    offer_bundle_code: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), default="draft")
    experiment_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiments.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CampaignDelivery(Base):
    """One subscriber's copy of a campaign in one channel. The opt-out link's token is kept as
    a SHA-256 only."""

    __tablename__ = "campaign_deliveries"
    __table_args__ = (
        _in("status", DELIVERY_STATUSES, "status"),
        _in("channel", DELIVERY_CHANNELS, "channel"),
        UniqueConstraint("campaign_id", "subscriber_id", "channel", name="uq_campaign_deliveries"),
        Index("ix_campaign_deliveries_subscriber", "subscriber_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))
    variant: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    optout_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response: Mapped[str] = mapped_column(String(20), default="")


class Experiment(Base):
    """Subscribers assigned at random (stable: a hash of the experiment's salt and the
    subscriber) to variants, and the metric to compare."""

    __tablename__ = "experiments"
    __table_args__ = (_in("status", EXPERIMENT_STATUSES, "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    hypothesis: Mapped[str] = mapped_column(Text, default="")
    #: [{"name": "control", "weight": 50}, {"name": "friendly", "weight": 50}]
    variants: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: What is compared (a metric name the experiments domain knows, e.g. "contacted_7d").
    metric: Mapped[str] = mapped_column(String(60))
    salt: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(10), default="draft")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ExperimentAssignment(Base):
    __tablename__ = "experiment_assignments"
    __table_args__ = (
        UniqueConstraint("experiment_id", "subscriber_id", name="uq_experiment_assignments"),
        Index("ix_experiment_assignments_variant", "experiment_id", "variant"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    variant: Mapped[str] = mapped_column(String(40))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ExperimentObservation(Base):
    """One measured value of the experiment's metric for one assigned subscriber."""

    __tablename__ = "experiment_observations"
    __table_args__ = (
        UniqueConstraint("experiment_id", "subscriber_id", name="uq_experiment_observations"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    value: Mapped[float] = mapped_column(Float)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
