from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from homeport.core.db import Base, UTCDateTime
from homeport.subscribers.models import Subscriber

NODE_KINDS = ("olt", "dslam", "cmts", "tower")
#: Access technology of a home's line.
TECHNOLOGIES = ("fttp", "fttc", "adsl", "cable", "fwa")
GATEWAY_KINDS = ("ont_router", "ont", "router", "cable_modem", "fwa_cpe")
BANDS = ("2.4GHz", "5GHz", "6GHz")
DEVICE_KINDS = (
    "phone",
    "laptop",
    "desktop",
    "tablet",
    "tv",
    "streamer",
    "console",
    "camera",
    "speaker",
    "iot",
    "wearable",
    "printer",
    "other",
)
#: Which bands a client device can use.
BAND_CAPABILITIES = ("2.4", "2.4+5", "2.4+5+6")
BACKHAULS = ("wireless", "ethernet")


class Region(Base):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class AccessNode(Base):
    """An OLT, DSLAM, CMTS or fixed-wireless tower."""

    __tablename__ = "access_nodes"
    __table_args__ = (CheckConstraint(f"kind IN {NODE_KINDS!r}", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(
        ForeignKey("regions.id", ondelete="RESTRICT"), index=True
    )
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(8))
    vendor: Mapped[str] = mapped_column(String(60), default="")
    model: Mapped[str] = mapped_column(String(60), default="")

    region: Mapped[Region] = relationship(lazy="joined")


class Port(Base):
    """A PON port, DSL line card port, cable node or sector: what a home hangs off."""

    __tablename__ = "ports"
    __table_args__ = (
        UniqueConstraint("access_node_id", "name"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    access_node_id: Mapped[int] = mapped_column(
        ForeignKey("access_nodes.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(40))
    capacity: Mapped[int] = mapped_column(default=64)

    access_node: Mapped[AccessNode] = relationship(lazy="joined")


class Home(Base):
    """A subscriber's premises: its line (technology, port) and home network."""

    __tablename__ = "homes"
    __table_args__ = (CheckConstraint(f"technology IN {TECHNOLOGIES!r}", name="technology"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), unique=True
    )
    port_id: Mapped[int | None] = mapped_column(
        ForeignKey("ports.id", ondelete="SET NULL"), index=True
    )
    technology: Mapped[str] = mapped_column(String(8))
    installed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    subscriber: Mapped[Subscriber] = relationship(lazy="raise")
    port: Mapped[Port | None] = relationship(lazy="joined")
    gateway: Mapped[Gateway | None] = relationship(back_populates="home", lazy="selectin")
    mesh_nodes: Mapped[list[MeshNode]] = relationship(lazy="selectin", order_by="MeshNode.id")
    clients: Mapped[list[ClientDevice]] = relationship(lazy="selectin", order_by="ClientDevice.id")


class Gateway(Base):
    """The residential gateway / ONT. ``device_id`` is the key telemetry reports carry."""

    __tablename__ = "gateways"
    __table_args__ = (CheckConstraint(f"kind IN {GATEWAY_KINDS!r}", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    home_id: Mapped[int] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"), unique=True)
    device_id: Mapped[str] = mapped_column(String(64), unique=True)
    serial: Mapped[str] = mapped_column(String(64), default="")
    mac: Mapped[str] = mapped_column(String(17), default="")
    kind: Mapped[str] = mapped_column(String(12), default="ont_router")
    vendor: Mapped[str] = mapped_column(String(60), default="")
    model: Mapped[str] = mapped_column(String(60), default="")
    firmware: Mapped[str] = mapped_column(String(60), default="")
    installed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    home: Mapped[Home] = relationship(back_populates="gateway", lazy="raise")


class MeshNode(Base):
    """A mesh satellite / extender in the home."""

    __tablename__ = "mesh_nodes"
    __table_args__ = (
        UniqueConstraint("home_id", "node_id"),
        CheckConstraint(f"backhaul IN {BACKHAULS!r}", name="backhaul"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    home_id: Mapped[int] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(60), default="")
    location: Mapped[str] = mapped_column(String(60), default="")
    backhaul: Mapped[str] = mapped_column(String(10), default="wireless")
    backhaul_rssi_dbm: Mapped[int | None]


class ClientDevice(Base):
    """A phone, laptop, TV, console, camera... seen on the home network."""

    __tablename__ = "client_devices"
    __table_args__ = (
        UniqueConstraint("home_id", "mac"),
        CheckConstraint(f"kind IN {DEVICE_KINDS!r}", name="kind"),
        CheckConstraint(f"band_capability IN {BAND_CAPABILITIES!r}", name="band_capability"),
        CheckConstraint(f"last_band IS NULL OR last_band IN {BANDS!r}", name="last_band"),
        CheckConstraint(
            "last_rssi_dbm IS NULL OR (last_rssi_dbm BETWEEN -120 AND 0)", name="rssi_range"
        ),
        Index("ix_client_devices_mac", "mac"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    home_id: Mapped[int] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"), index=True)
    mac: Mapped[str] = mapped_column(String(17))
    name: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(10), default="other")
    vendor: Mapped[str] = mapped_column(String(60), default="")
    band_capability: Mapped[str] = mapped_column(String(8), default="2.4+5")
    last_band: Mapped[str | None] = mapped_column(String(8))
    last_rssi_dbm: Mapped[int | None]
    first_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
