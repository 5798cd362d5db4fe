"""Periodic health work for ``homeport worker`` (the report-driven work is ``actions.py``).

Detection runs when reports are committed (``handlers.py``); what no report triggers runs
here, each function inside the caller's transaction:

- :func:`homeport.health.actions.check_offline` (in ``actions.py``): silent gateways;
- :func:`sweep_findings`: the auto-remediation check and the escalation of open findings that
  no report touches any more (the home went silent, or the condition is steady and only time
  has passed): a fix whose verification time ran out counts as failed, a warning open longer
  than ``case_after_s`` becomes a proactive case;
- :func:`expire_actions`: remote actions the device never collected are cancelled, and sent
  actions that never got a result are failed, so that they stop blocking a new action of the
  same kind (one live action per kind and device).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from homeport.core.health_settings import HealthSettings
from homeport.health import remediation, remote
from homeport.health.homes import load_homes
from homeport.health.models import DeviceAction, Finding


@dataclass(frozen=True)
class SweepResult:
    checked: int
    remediation_failed: int
    escalated: int


def sweep_findings(session: Session, *, now: datetime, health: HealthSettings) -> SweepResult:
    """Run the remediation check and escalation (``remediation.process``) over the open findings
    whose next step is due by time alone: a remediation attempt waiting for its verification,
    and findings open for ``case_after_s`` that were not escalated yet."""
    persistent = now - timedelta(seconds=health.case_after_s)
    rows = session.scalars(
        select(Finding)
        .where(
            Finding.status == "open",
            or_(
                Finding.remediation == "attempted",
                and_(
                    Finding.opened_at <= persistent,
                    Finding.outage_id.is_(None),
                    Finding.severity != "info",
                ),
            ),
        )
        .order_by(Finding.id)
    ).all()
    todo = [
        f
        for f in rows
        if f.remediation == "attempted" or not (f.evidence or {}).get("escalated_at")
    ]
    if not todo:
        return SweepResult(0, 0, 0)
    before = {f.id: (f.remediation, bool((f.evidence or {}).get("escalated_at"))) for f in todo}
    homes = load_homes(session, {f.home_id for f in todo})
    remediation.process(session, todo, homes, now, health)
    failed = sum(1 for f in todo if f.remediation == "failed" and before[f.id][0] != "failed")
    escalated = sum(
        1 for f in todo if (f.evidence or {}).get("escalated_at") and not before[f.id][1]
    )
    return SweepResult(len(todo), failed, escalated)


def expire_actions(
    session: Session,
    *,
    now: datetime,
    older_than: timedelta,
    sent_older_than: timedelta | None = None,
) -> int:
    """Cancel remote actions still ``queued`` after ``older_than``, and fail those ``sent``
    more than ``sent_older_than`` ago without a result (audited, with the reason); returns how
    many. A ``sent`` action may never get a result: HTTP and MQTT mark it sent when the answer
    or the command is committed, and a connection lost then means the device never saw it (a
    device that rebooted may also forget to answer). Without this it would stay live forever and
    block every new action of its kind."""
    n = _end_stale(
        session,
        "queued",
        DeviceAction.created_at <= now - older_than,
        status="cancelled",
        reason="expired: the device did not collect it in time",
        now=now,
    )
    if sent_older_than is not None:
        n += _end_stale(
            session,
            "sent",
            DeviceAction.sent_at <= now - sent_older_than,
            status="failed",
            reason="no result from the device in time",
            now=now,
        )
    return n


def _end_stale(
    session: Session,
    live: str,
    too_old: ColumnElement[bool],
    *,
    status: str,
    reason: str,
    now: datetime,
) -> int:
    """Move the ``live`` actions matching ``too_old`` to ``status`` with ``reason``, oldest
    first (audited by :func:`remote.mark_action`); returns how many."""
    ids = session.scalars(
        select(DeviceAction.id)
        .where(DeviceAction.status == live, too_old)
        .order_by(DeviceAction.id)
    ).all()
    for action_id in ids:
        remote.mark_action(session, action_id, status=status, result={"reason": reason}, now=now)
    return len(ids)
