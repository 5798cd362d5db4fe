"""Tables of the KPI domain: targets, stored snapshots and scheduled email reports."""

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
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from homeport.core.db import Base, UTCDateTime

PERIODS = ("day", "week", "month")
REPORT_FREQUENCIES = ("weekly", "monthly")


class KpiTarget(Base):
    """The target of one KPI, overall (``cut`` "") or for one cut ("team:3", "channel:email")."""

    __tablename__ = "kpi_targets"
    __table_args__ = (UniqueConstraint("kpi", "cut", name="uq_kpi_targets_kpi_cut"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kpi: Mapped[str] = mapped_column(String(60))
    cut: Mapped[str] = mapped_column(String(100), default="")
    target: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )


class KpiSnapshot(Base):
    """A KPI's value for one period (and cut) as computed at ``computed_at``: history that
    survives the retention of the data it was computed from."""

    __tablename__ = "kpi_snapshots"
    __table_args__ = (
        CheckConstraint(f"period IN {PERIODS!r}", name="period"),
        UniqueConstraint("kpi", "period", "period_start", "cut", name="uq_kpi_snapshots_key"),
        Index("ix_kpi_snapshots_period_start", "period", "period_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kpi: Mapped[str] = mapped_column(String(60))
    period: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    cut: Mapped[str] = mapped_column(String(100), default="")
    value: Mapped[float | None] = mapped_column(Float)
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KpiReportSubscription(Base):
    """Someone who gets the KPI report by email, weekly (default) or monthly."""

    __tablename__ = "kpi_report_subscriptions"
    __table_args__ = (
        CheckConstraint(f"frequency IN {REPORT_FREQUENCIES!r}", name="frequency"),
        UniqueConstraint("email", "frequency", name="uq_kpi_report_subscriptions_email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    frequency: Mapped[str] = mapped_column(String(8), default="weekly")
    #: KPI names in the report (empty: every KPI with a target, then the headline ones).
    kpis: Mapped[list[Any]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
