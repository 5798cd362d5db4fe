"""Tables of the retention domain: churn models and scores, retention outcomes, lifestyle
segments and bundle recommendations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from homeport.core.db import Base, UTCDateTime

RETENTION_OUTCOMES = ("open", "saved", "lost")
RECOMMENDATION_STATUSES = ("open", "accepted", "declined", "expired")
#: Who showed or decided a recommendation.
RECOMMENDATION_CHANNELS = ("agent", "technician", "portal", "campaign")
SEGMENTS = ("work_from_home", "gamer", "streamer", "smart_home", "family", "light_user")


def _in(column: str, values: tuple[str, ...], name: str, *, nullable: bool = False) -> Any:
    check = f"{column} IN {values!r}"
    return CheckConstraint(f"{column} IS NULL OR {check}" if nullable else check, name=name)


class ChurnModel(Base):
    """A trained churn-risk model: what it was trained on, its held-out metrics and the fitted
    pipeline (joblib bytes, written and read only by Homeport)."""

    __tablename__ = "churn_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: Features are computed as of this time; labels come from the period after it.
    trained_until: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(40))
    features: Mapped[list[Any]] = mapped_column(JSON, default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    blob: Mapped[bytes] = mapped_column(LargeBinary)


class ChurnScore(Base):
    """A subscriber's latest churn-risk score and its top reasons in words an agent can use."""

    __tablename__ = "churn_scores"
    __table_args__ = (Index("ix_churn_scores_score", "score"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), unique=True
    )
    model_id: Mapped[int | None] = mapped_column(ForeignKey("churn_models.id", ondelete="SET NULL"))
    score: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RetentionOutcome(Base):
    """An at-risk subscriber sent to the retention queue, and whether they were kept."""

    __tablename__ = "retention_outcomes"
    __table_args__ = (
        _in("outcome", RETENTION_OUTCOMES, "outcome"),
        Index("ix_retention_outcomes_subscriber", "subscriber_id", "flagged_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    outcome: Mapped[str] = mapped_column(String(8), default="open")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")


class SubscriberSegment(Base):
    """A lifestyle segment inferred from the home network, with the evidence."""

    __tablename__ = "subscriber_segments"
    __table_args__ = (
        _in("segment", SEGMENTS, "segment"),
        UniqueConstraint("subscriber_id", "segment", name="uq_subscriber_segments"),
        Index("ix_subscriber_segments_segment", "segment"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    segment: Mapped[str] = mapped_column(String(20))
    confidence: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Recommendation(Base):
    """A bundle recommended for a home with the reason ("three rooms below −75 dBm: mesh would
    fix coverage"), where it was shown, and the subscriber's decision."""

    __tablename__ = "bundle_recommendations"
    __table_args__ = (
        _in("status", RECOMMENDATION_STATUSES, "status"),
        _in("decided_via", RECOMMENDATION_CHANNELS, "decided_via", nullable=True),
        Index("ix_bundle_recommendations_subscriber", "subscriber_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    bundle_code: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Channels it was shown through, with when: {"agent": "…", "portal": "…"}.
    shown: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_via: Mapped[str | None] = mapped_column(String(10))
    decided_by: Mapped[str] = mapped_column(String(80), default="")
