"""Ground truth the simulator knows and Homeport must infer (lifestyle, line quality).

Kept in its own tables so that detection and segmentation can be scored against it; nothing
outside the simulator and the evaluation code reads these.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from homeport.core.db import Base
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
