"""The journey's periodic task (``surveys`` in ``homeport worker``): record the first-week checks
that came due, then send the survey invitations that are due, in one batch."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from homeport.core.settings import Settings
from homeport.journey import actions, surveys


def run(session: Session, *, now: datetime, settings: Settings) -> str:
    j = settings.journey
    checks = actions.record_first_week_checks(
        session, now=now, after=timedelta(days=j.first_week_days)
    )
    result = surveys.send_due(
        session, now=now, s=j, public_url=settings.public_url, bsp_name=settings.bsp_name
    )
    return f"{checks} first-week checks; {result}"
