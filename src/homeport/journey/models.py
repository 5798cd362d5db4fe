"""Tables of the journey domain: journey events, surveys and their answers, the owner of each
journey stage, and frontline feedback with votes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from homeport.core.db import Base, UTCDateTime

#: Moments of the subscriber journey (DESIGN.md section 4; issue 6).
EVENT_KINDS = (
    "signup",
    "install_scheduled",
    "installed",
    "first_week_check",
    "first_case",
    "case_solved",
    "plan_change",
    "at_risk",
    "churned",
)
DEPARTMENTS = ("sales", "field", "support", "noc", "retention", "billing", "marketing")
SURVEY_KINDS = ("nps", "csat", "ces")
SURVEY_CHANNELS = ("email", "portal")
FEEDBACK_KINDS = ("friction", "idea")
FEEDBACK_STATUSES = ("new", "under_review", "planned", "done", "declined")


def _in(column: str, values: tuple[str, ...], name: str) -> Any:
    return CheckConstraint(f"{column} IN {values!r}", name=name)


class JourneyEvent(Base):
    """One moment of one subscriber's journey, owned by a department. ``ref`` names what caused
    it (a case, a work order) so that recording it twice is harmless."""

    __tablename__ = "journey_events"
    __table_args__ = (
        _in("kind", EVENT_KINDS, "kind"),
        _in("department", DEPARTMENTS, "department"),
        UniqueConstraint("subscriber_id", "kind", "ref", name="uq_journey_events_ref"),
        Index("ix_journey_events_subscriber_at", "subscriber_id", "at"),
        Index("ix_journey_events_kind_at", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    department: Mapped[str] = mapped_column(String(12))
    ref: Mapped[str] = mapped_column(String(80), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class StageOwner(Base):
    """Who owns a journey stage (DESIGN.md section 7: every stage has an owner at stage 5)."""

    __tablename__ = "journey_stage_owners"

    id: Mapped[int] = mapped_column(primary_key=True)
    stage: Mapped[str] = mapped_column(String(20), unique=True)
    department: Mapped[str] = mapped_column(String(12))
    owner: Mapped[str] = mapped_column(String(200), default="")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Survey(Base):
    """One survey sent to a subscriber at a journey moment, and its answer once given. An email
    survey is answered through a link whose token only a SHA-256 of is kept."""

    __tablename__ = "surveys"
    __table_args__ = (
        _in("kind", SURVEY_KINDS, "kind"),
        _in("channel", SURVEY_CHANNELS, "channel"),
        Index("ix_surveys_subscriber_sent", "subscriber_id", "sent_at"),
        Index("ix_surveys_answered_at", "answered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(4))
    #: The journey moment that triggered it (post_install, case_solved, relationship, …).
    moment: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(8))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    work_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_orders.id", ondelete="SET NULL")
    )
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[int | None] = mapped_column(SmallInteger)
    comment: Mapped[str] = mapped_column(Text, default="")
    #: The comment's theme (grouped so leaders see why, not only how much).
    theme: Mapped[str | None] = mapped_column(String(40))
    #: The retention case a detractor's answer opened (closing the loop).
    follow_up_case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL")
    )


class FeedbackItem(Base):
    """Friction or an idea from an agent or technician; others vote, leaders set the status."""

    __tablename__ = "feedback_items"
    __table_args__ = (
        _in("kind", FEEDBACK_KINDS, "kind"),
        _in("status", FEEDBACK_STATUSES, "status"),
        Index("ix_feedback_items_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="new")
    #: Why the status is what it is (the leader's answer, shown to everyone).
    response: Mapped[str] = mapped_column(Text, default="")
    votes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FeedbackVote(Base):
    __tablename__ = "feedback_votes"
    __table_args__ = (UniqueConstraint("item_id", "staff_id", name="uq_feedback_votes_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("feedback_items.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
