"""Tables of the maturity domain: self-assessments to compare with the measured stage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column

from homeport.core.db import Base, UTCDateTime


class SelfAssessment(Base):
    """A leader's answers to the maturity questionnaire and the stage they give."""

    __tablename__ = "maturity_self_assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stage: Mapped[int] = mapped_column(SmallInteger)
    #: The measured stage at the time, for the comparison.
    measured_stage: Mapped[int | None] = mapped_column(SmallInteger)
