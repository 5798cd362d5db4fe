"""Ground truth the simulator knows and Homeport must infer (lifestyle, line quality).

Kept in its own tables so that detection and segmentation can be scored against it; nothing
outside the simulator and the evaluation code reads these.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from homeport.core.db import Base, UTCDateTime
from homeport.subscribers.models import LIFESTYLES


class SimHome(Base):
    __tablename__ = "sim_homes"
    __table_args__ = (CheckConstraint(f"lifestyle IN {LIFESTYLES!r}", name="lifestyle"),)

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    seed: Mapped[int]
    lifestyle: Mapped[str] = mapped_column(String(20))
    people: Mapped[int]
    #: Healthy line quality drawn from the Ofcom panel for this technology.
    line_down_mbps: Mapped[float]
    line_up_mbps: Mapped[float]
    line_latency_ms: Mapped[float]
    line_jitter_ms: Mapped[float]
    line_loss_pct: Mapped[float]


class SimFault(Base):
    """A fault the simulator injected: what, where, when. Detection is scored against these."""

    __tablename__ = "sim_faults"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    home_id: Mapped[int | None] = mapped_column(
        ForeignKey("homes.id", ondelete="CASCADE"), index=True
    )
    port_id: Mapped[int | None] = mapped_column(ForeignKey("ports.id", ondelete="CASCADE"))
    #: The client MAC, mesh node or band the fault concerns ('' for the whole home or area).
    subject: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
