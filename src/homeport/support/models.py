"""Tables of the support domain: cases, their interactions in every channel, routing queues,
SLA policies, macros, guided-troubleshooting steps, work orders and the outbound message queue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
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
DIRECTIONS = ("inbound", "outbound", "internal")
AUTHORS = ("subscriber", "agent", "bot", "system")
STRATEGIES = ("round_robin", "least_loaded")
WORK_ORDER_KINDS = ("install", "repair", "upgrade")
WORK_ORDER_STATUSES = ("scheduled", "en_route", "on_site", "completed", "cancelled")
WORK_ORDER_OUTCOMES = ("installed", "fixed", "not_fixed", "no_fault_found")
OUTBOUND_STATUSES = ("queued", "sent", "failed")


def _in(column: str, values: tuple[str, ...], name: str, *, nullable: bool = False) -> Any:
    check = f"{column} IN {values!r}"
    return CheckConstraint(f"{column} IS NULL OR {check}" if nullable else check, name=name)


class SupportQueue(Base):
    """A queue of one team: the cases whose category (or channel) it takes, the skill an agent
    needs to be routed its cases, and how it picks the agent."""

    __tablename__ = "support_queues"
    __table_args__ = (_in("strategy", STRATEGIES, "strategy"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    #: Comma-separated case categories this queue takes ("" = none by category).
    categories: Mapped[str] = mapped_column(Text, default="")
    #: Comma-separated channels this queue takes ("" = any channel).
    channels: Mapped[str] = mapped_column(Text, default="")
    skill: Mapped[str | None] = mapped_column(String(40))
    strategy: Mapped[str] = mapped_column(String(16), default="least_loaded")
    #: Lower is tried first when several queues match; the default queue has the highest.
    rank: Mapped[int] = mapped_column(Integer, default=100)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Round-robin cursor: the staff user who was given the last case.
    last_assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AgentProfile(Base):
    """Routing facts about one staff user: skills, how many live cases they can hold, and
    whether they take new work now."""

    __tablename__ = "agent_profiles"

    staff_user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True
    )
    #: Comma-separated skills ("billing,fibre,spanish").
    skills: Mapped[str] = mapped_column(Text, default="")
    capacity: Mapped[int] = mapped_column(Integer, default=8)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SlaPolicy(Base):
    """Targets for one priority (optionally one plan): first response and resolution within
    so many business seconds. ``business_hours`` is a spec such as ``"24x7"`` or
    ``"mon-fri 08:00-20:00; sat 09:00-13:00"`` read in ``timezone``."""

    __tablename__ = "sla_policies"
    __table_args__ = (
        _in("priority", PRIORITIES, "priority"),
        CheckConstraint("first_response_s > 0 AND resolution_s > 0", name="positive"),
        CheckConstraint("warn_fraction > 0 AND warn_fraction < 1", name="warn_fraction"),
        UniqueConstraint("priority", "plan_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    priority: Mapped[str] = mapped_column(String(8))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    first_response_s: Mapped[int] = mapped_column(Integer)
    resolution_s: Mapped[int] = mapped_column(Integer)
    business_hours: Mapped[str] = mapped_column(String(200), default="24x7")
    #: IANA zone the business hours are read in (the BSP's zone when the policy was made).
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    warn_fraction: Mapped[float] = mapped_column(Float, default=0.8)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        _in("origin", ORIGINS, "origin"),
        _in("status", CASE_STATUSES, "status"),
        _in("priority", PRIORITIES, "priority"),
        _in("channel", CHANNELS, "channel"),
        _in("outcome", OUTCOMES, "outcome", nullable=True),
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
        Index("ix_cases_queue_status", "queue_id", "status"),
        Index("ix_cases_assignee_status", "assignee_id", "status"),
        Index("ix_cases_team_status", "team_id", "status"),
        # The KPIs of a period read cases by when they were solved and when they were due.
        Index("ix_cases_solved_at", "solved_at"),
        Index("ix_cases_resolution_due_at", "resolution_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: None while the sender is not known (an email from an address no subscriber has).
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    #: How to reach an unknown sender (email address or phone number), kept from first contact.
    contact: Mapped[str] = mapped_column(String(254), default="")
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
    queue_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_queues.id", ondelete="SET NULL")
    )
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    outcome: Mapped[str | None] = mapped_column(String(16))
    resolution_notes: Mapped[str] = mapped_column(Text, default="")
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    # SLA clocks (DESIGN.md 4). Due times move forward while the clock is paused.
    sla_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("sla_policies.id", ondelete="SET NULL")
    )
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    solved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CaseTag(Base):
    __tablename__ = "case_tags"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class Interaction(Base):
    """One contact on a case in one channel: an email, a call, a chat or SMS message, an app or
    chatbot exchange, or an agent's internal note (direction ``internal``)."""

    __tablename__ = "interactions"
    __table_args__ = (
        _in("channel", CHANNELS, "channel"),
        _in("direction", DIRECTIONS, "direction"),
        _in("author_kind", AUTHORS, "author_kind"),
        CheckConstraint("handle_time_s IS NULL OR handle_time_s >= 0", name="handle_time"),
        # A message the channel already delivered once (same Message-ID, call id, SMS id) is
        # recognised instead of stored twice.
        UniqueConstraint("channel", "external_id"),
        Index("ix_interactions_case_at", "case_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(12))
    direction: Mapped[str] = mapped_column(String(8))
    author_kind: Mapped[str] = mapped_column(String(10))
    #: The staff user for ``agent`` authors.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    #: Display address: an email address, a phone number, the bot's name.
    address: Mapped[str] = mapped_column(String(254), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    #: Plain text. For email, HTML bodies are also kept sanitised in ``body_html``.
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    external_id: Mapped[str | None] = mapped_column(String(300))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handle_time_s: Mapped[int | None] = mapped_column(Integer)


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    interaction_id: Mapped[int] = mapped_column(
        ForeignKey("interactions.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Macro(Base):
    """A canned reply. ``body`` may hold placeholders such as ``{subscriber.first_name}``."""

    __tablename__ = "macros"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    category: Mapped[str | None] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    #: Status to set after sending ("" = leave it), e.g. ``pending_subscriber``.
    set_status: Mapped[str] = mapped_column(String(20), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GuidedStep(Base):
    """One step of a guided-troubleshooting flow as run on a case, with what it observed."""

    __tablename__ = "guided_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    flow: Mapped[str] = mapped_column(String(60))
    step: Mapped[str] = mapped_column(String(60))
    result: Mapped[str] = mapped_column(String(60))
    observation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class WorkOrder(Base):
    """A truck roll: an install, repair or upgrade visit in a time window by a technician."""

    __tablename__ = "work_orders"
    __table_args__ = (
        _in("kind", WORK_ORDER_KINDS, "kind"),
        _in("status", WORK_ORDER_STATUSES, "status"),
        _in("outcome", WORK_ORDER_OUTCOMES, "outcome", nullable=True),
        CheckConstraint("window_end > window_start", name="window"),
        Index("ix_work_orders_technician_window", "technician_id", "window_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="scheduled")
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    technician_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    notes: Mapped[str] = mapped_column(Text, default="")
    #: The earlier visit to the same home within 30 days that this one repeats.
    repeat_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_orders.id", ondelete="SET NULL")
    )
    outcome: Mapped[str | None] = mapped_column(String(16))
    quality_check: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    quality_passed: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboundMessage(Base):
    """A message to send (email or SMS), committed with the change that caused it and sent by
    the worker, so nothing is lost if the mail server is down."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        _in("channel", ("email", "sms"), "channel"),
        _in("status", OUTBOUND_STATUSES, "status"),
        Index("ix_outbound_messages_status", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    interaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("interactions.id", ondelete="SET NULL")
    )
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    #: Extra headers (email: Message-ID, In-Reply-To, References, Auto-Submitted).
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(8), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
