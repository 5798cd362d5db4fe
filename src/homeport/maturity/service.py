"""Reads of the maturity domain: the stage assessment (DESIGN.md section 7).

:func:`assess` measures the BSP's own data over the window (``window_days``, 90 by default)
and judges every criterion; a stage counts only when all its criteria and all lower stages'
criteria hold. The gaps to the next stage are the unmet criteria of the stage above the one
reached, in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.core.errors import FieldError, ValidationFailed
from homeport.core.maturity_settings import MaturitySettings
from homeport.maturity import criteria as crit
from homeport.maturity.criteria import STAGES, Criterion
from homeport.maturity.evidence import Facts, measure
from homeport.maturity.models import SelfAssessment

MAX_DAYS = 3650


@dataclass(frozen=True)
class Gap:
    id: str
    stage: int
    gap: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "stage": self.stage, "gap": self.gap}


@dataclass(frozen=True)
class Assessment:
    stage: int
    criteria: list[Criterion]
    next_stage_gaps: list[Gap]
    since: datetime
    until: datetime
    facts: Facts | None = field(default=None, compare=False, repr=False)

    @property
    def next_stage(self) -> int | None:
        return self.stage + 1 if self.stage < max(STAGES) else None

    def by_stage(self) -> dict[int, list[Criterion]]:
        out: dict[int, list[Criterion]] = {s: [] for s in STAGES}
        for c in self.criteria:
            out[c.stage].append(c)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "stage_name": STAGES[self.stage][0] if self.stage else "Below stage 1",
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "criteria": [c.to_json() for c in self.criteria],
            "next_stage_gaps": [g.to_json() for g in self.next_stage_gaps],
        }


def check_days(days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(
            "invalid window", [FieldError("days", f"a whole number from 1 to {MAX_DAYS}")]
        )
    return days


def evaluate(facts: Facts, s: MaturitySettings) -> Assessment:
    """Judge measured facts (tests build them by hand)."""
    judged = crit.judge(facts, s)
    stage = crit.stage_of(judged)
    gaps = [
        Gap(c.id, c.stage, crit.gap_text(c)) for c in judged if c.stage == stage + 1 and not c.met
    ]
    return Assessment(stage, judged, gaps, facts.since, facts.until, facts)


def assess(
    session: Session, s: MaturitySettings, *, now: datetime, days: int | None = None
) -> Assessment:
    """The stage over the last ``days`` (default ``s.window_days``) up to ``now``."""
    window = check_days(s.window_days if days is None else days)
    facts = measure(session, s, since=now - timedelta(days=window), until=now)
    return evaluate(facts, s)


def latest_self_assessment(session: Session) -> SelfAssessment | None:
    """The most recent self-assessment, if any."""
    return session.scalars(
        select(SelfAssessment).order_by(SelfAssessment.created_at.desc(), SelfAssessment.id.desc())
    ).first()
