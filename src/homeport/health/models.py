from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from homeport.core.db import Base, UTCDateTime

SEVERITIES = ("info", "warning", "critical")
#: pending: the condition has been seen, fewer than N consecutive times (not shown to anyone).
FINDING_STATUSES = ("pending", "open", "resolved")
OUTAGE_SCOPES = ("port", "access_node")
OUTAGE_STATUSES = ("open", "closed")


class Finding(Base):
    """A detected problem on a home, one of its devices, or (via its outage) an area.

    One live (pending or open) finding per (home, kind, subject); a repeat updates it.
    ``subject`` names the device within the home ('' for the home itself, a client MAC, a mesh
    node id, a radio band)."""

    __tablename__ = "findings"
    __table_args__ = (
        CheckConstraint(f"status IN {FINDING_STATUSES!r}", name="status"),
        CheckConstraint(f"severity IN {SEVERITIES!r}", name="severity"),
        Index(
            "uq_findings_live",
            "home_id",
            "kind",
            "subject",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        Index("ix_findings_status_kind", "status", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    home_id: Mapped[int] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(64), default="")
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8), default="pending")
    #: Consecutive reports with the condition present / absent (the hysteresis counters).
    consecutive_bad: Mapped[int] = mapped_column(SmallInteger, default=0)
    consecutive_clear: Mapped[int] = mapped_column(SmallInteger, default=0)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    summary: Mapped[str] = mapped_column(String(300), default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outage_id: Mapped[int | None] = mapped_column(
        ForeignKey("outages.id", ondelete="SET NULL"), index=True
    )
    #: Auto-remediation progress: '' (none), 'attempted', 'fixed', 'failed', 'not_allowed'.
    remediation: Mapped[str] = mapped_column(String(12), default="")


class Outage(Base):
    """Many homes on one port or access node losing WAN together: one area outage."""

    __tablename__ = "outages"
    __table_args__ = (
        CheckConstraint(f"scope IN {OUTAGE_SCOPES!r}", name="scope"),
        CheckConstraint(f"status IN {OUTAGE_STATUSES!r}", name="status"),
        Index(
            "uq_outages_open_port",
            "port_id",
            unique=True,
            sqlite_where=text("status = 'open' AND scope = 'port'"),
            postgresql_where=text("status = 'open' AND scope = 'port'"),
        ),
        Index(
            "uq_outages_open_node",
            "access_node_id",
            unique=True,
            sqlite_where=text("status = 'open' AND scope = 'access_node'"),
            postgresql_where=text("status = 'open' AND scope = 'access_node'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(12))
    port_id: Mapped[int | None] = mapped_column(ForeignKey("ports.id", ondelete="SET NULL"))
    access_node_id: Mapped[int | None] = mapped_column(
        ForeignKey("access_nodes.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(8), default="open")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Estimated time of repair, shown to subscribers.
    eta_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    homes_affected: Mapped[int] = mapped_column(default=0)
    homes_recovered: Mapped[int] = mapped_column(default=0)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OutageMember(Base):
    """A home inside an outage; its subscriber's contacts attach to the outage."""

    __tablename__ = "outage_members"

    outage_id: Mapped[int] = mapped_column(
        ForeignKey("outages.id", ondelete="CASCADE"), primary_key=True
    )
    home_id: Mapped[int] = mapped_column(
        ForeignKey("homes.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    lost_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ExperienceScore(Base):
    """The home's experience score over one period (DESIGN.md 5a), with its sub-scores and the
    explanation of what pulled it down."""

    __tablename__ = "experience_scores"

    home_id: Mapped[int] = mapped_column(
        ForeignKey("homes.id", ondelete="CASCADE"), primary_key=True
    )
    period_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    wan_service: Mapped[float] = mapped_column(Float)
    wan_continuity: Mapped[float] = mapped_column(Float)
    wifi_coverage: Mapped[float] = mapped_column(Float)
    wifi_efficiency: Mapped[float] = mapped_column(Float)
    device_health: Mapped[float] = mapped_column(Float)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


ACTION_KINDS = ("reboot", "set_channel", "band_steer", "speed_test", "firmware")
ACTION_STATUSES = ("queued", "sent", "done", "failed", "unsupported", "cancelled")


class DeviceAction(Base):
    """A remote command to a home's gateway: queued → sent → done / failed / unsupported.

    Delivered through the device's own protocol (a TR-069 CPE receives it in its next session).
    ``requested_by`` is 'staff:<id>', 'subscriber:<id>', 'policy:<name>' or 'system'."""

    __tablename__ = "device_actions"
    __table_args__ = (
        CheckConstraint(f"kind IN {ACTION_KINDS!r}", name="kind"),
        CheckConstraint(f"status IN {ACTION_STATUSES!r}", name="status"),
        Index("ix_device_actions_device_status", "device_id", "status"),
        Index("ix_device_actions_home_created", "home_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    home_id: Mapped[int] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"))
    device_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(12))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    requested_by: Mapped[str] = mapped_column(String(64))
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
