"""Writes of the maturity domain (the only place in it that persists): self-assessments."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.maturity import questionnaire
from homeport.maturity.models import SelfAssessment


def save_assessment(
    session: Session,
    raw_answers: Mapping[str, Any],
    *,
    measured_stage: int | None,
    actor: Actor,
    now: datetime,
) -> SelfAssessment:
    """Store a leader's answers, the stage they give and the stage measured at the time, in the
    caller's transaction (audited). Raises :class:`ValidationFailed` when a question is not
    answered yes or no, or an unknown question is answered; nothing is written then."""
    answers = questionnaire.parse_answers(raw_answers)
    row = SelfAssessment(
        created_at=now,
        staff_id=actor.id if actor.kind == "staff" else None,
        answers=answers,
        stage=questionnaire.stage_of(answers),
        measured_stage=measured_stage,
    )
    session.add(row)
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="maturity.self_assessed",
        entity_type="maturity_self_assessment",
        entity_id=row.id,
        stage=row.stage,
        measured_stage=measured_stage,
    )
    return row
