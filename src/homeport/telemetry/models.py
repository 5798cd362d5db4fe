"""Telemetry storage: raw reports (short retention), hourly and daily rollups per home (longer),
and per-device credentials for the transports that authenticate devices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from homeport.core.db import Base, UTCDateTime

SOURCES = ("http", "mqtt", "cwmp", "sim")
WAN_STATUSES = ("up", "down", "unknown")
#: A 64-bit key on PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit and autoincrements.
BigId = BigInteger().with_variant(Integer, "sqlite")


class TelemetryReport(Base):
    """One accepted report. Summary columns for detectors and rollups; the per-radio, per-client
    and per-mesh-node detail as JSON. Idempotent on (device_id, ts)."""

    __tablename__ = "telemetry_reports"
    __table_args__ = (
        UniqueConstraint("device_id", "ts"),
        CheckConstraint(f"source IN {SOURCES!r}", name="source"),
        CheckConstraint(f"wan_status IN {WAN_STATUSES!r}", name="wan_status"),
        Index("ix_telemetry_reports_home_ts", "home_id", "ts"),
        Index("ix_telemetry_reports_ts", "ts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    home_id: Mapped[int | None] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(8))
    wan_status: Mapped[str] = mapped_column(String(8))
    down_mbps: Mapped[float | None] = mapped_column(Float)
    up_mbps: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    jitter_ms: Mapped[float | None] = mapped_column(Float)
    loss_pct: Mapped[float | None] = mapped_column(Float)
    loaded_latency_ms: Mapped[float | None] = mapped_column(Float)
    optical_rx_dbm: Mapped[float | None] = mapped_column(Float)
    dsl_snr_margin_db: Mapped[float | None] = mapped_column(Float)
    uptime_s: Mapped[int | None] = mapped_column(BigInteger)
    disconnects: Mapped[int | None]
    cpu_pct: Mapped[float | None] = mapped_column(Float)
    mem_pct: Mapped[float | None] = mapped_column(Float)
    clients: Mapped[int] = mapped_column(SmallInteger, default=0)
    #: Clients below −75 dBm (weak or unusable, REFERENCE.md 4a [T1]).
    clients_weak: Mapped[int] = mapped_column(SmallInteger, default=0)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class _Rollup:
    """Columns shared by the hourly and daily rollups (per home)."""

    home_id: Mapped[int] = mapped_column(
        ForeignKey("homes.id", ondelete="CASCADE"), primary_key=True
    )
    period_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    reports: Mapped[int]
    wan_down_reports: Mapped[int]
    down_mbps_avg: Mapped[float | None] = mapped_column(Float)
    down_mbps_min: Mapped[float | None] = mapped_column(Float)
    latency_ms_avg: Mapped[float | None] = mapped_column(Float)
    latency_ms_max: Mapped[float | None] = mapped_column(Float)
    jitter_ms_avg: Mapped[float | None] = mapped_column(Float)
    loss_pct_avg: Mapped[float | None] = mapped_column(Float)
    optical_rx_dbm_min: Mapped[float | None] = mapped_column(Float)
    clients_weak_avg: Mapped[float | None] = mapped_column(Float)
    disconnects: Mapped[int] = mapped_column(default=0)


class TelemetryHourly(_Rollup, Base):
    __tablename__ = "telemetry_hourly"


class TelemetryDaily(_Rollup, Base):
    __tablename__ = "telemetry_daily"


class DeviceCredential(Base):
    """How one device authenticates: a bearer secret (HTTP/MQTT, stored as SHA-256) and, for
    TR-069 CPEs, a username with the HTTP digest HA1 (``md5(user:realm:password)``)."""

    __tablename__ = "device_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    username: Mapped[str | None] = mapped_column(String(128), unique=True)
    digest_ha1: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
