"""Auto-remediation policies and escalation to proactive cases (DESIGN.md 5a).

A policy (``settings.health.remediation_policies``) says which finding kinds may be fixed
automatically and with which remote action. When such a finding opens, the action is queued
through :func:`homeport.health.remote.queue_action` (whose rate limits apply: a refusal is
recorded, never retried in a loop). The fix is checked: the finding resolving marks it
``fixed``; the action failing, or the finding still open ``remediation_verify_s`` after the
attempt, marks it ``failed``.

A finding that survives its remediation (failed or refused), is critical, or stays open longer
than ``case_after_s`` is escalated once: :class:`FindingEscalated` asks the support domain for a
proactive case. Findings inside an area outage are never escalated one by one, and ``info``
findings (a legacy client) are advice, not faults.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.audit.actions import record
from homeport.core.errors import HomeportError
from homeport.core.events import publish
from homeport.core.health_settings import HealthSettings
from homeport.health import remote
from homeport.health.events import FindingEscalated
from homeport.health.findings import ACTOR
from homeport.health.homes import HomeInfo
from homeport.health.models import DeviceAction, Finding
from homeport.telemetry.schemas import CHANNELS

#: The non-overlapping 2.4 GHz channels [T8]; common non-DFS 5 GHz channels; 6 GHz PSCs.
PREFERRED_CHANNELS = {
    "2.4GHz": (1, 6, 11),
    "5GHz": (36, 44, 149, 157),
    "6GHz": (5, 37, 69, 101),
}
ACTION_FAILED = ("failed", "unsupported", "cancelled")


def action_params(f: Finding) -> dict[str, Any] | None:
    """The parameters of the policy's action for this finding (None: nothing sensible)."""
    ev = f.evidence or {}
    if f.kind == "congested_channel":
        band, current = ev.get("band"), ev.get("channel")
        if band not in CHANNELS:
            return None
        choices = [c for c in PREFERRED_CHANNELS[band] if c != current]
        # Move away from the current channel, to the next preferred one round-robin.
        after = [c for c in choices if isinstance(current, int) and c > current]
        return {"band": band, "channel": (after or choices)[0]}
    if f.kind == "high_retransmissions":
        if ev.get("band") != "2.4GHz":
            return None  # steering helps a client stuck on 2.4 GHz; nowhere better otherwise
        return {"mac": f.subject, "band": "5GHz"}
    return {}


def process(
    session: Session,
    findings: Iterable[Finding],
    homes: dict[int, HomeInfo],
    now: datetime,
    s: HealthSettings,
) -> None:
    """Remediate, verify and escalate the open findings touched by this evaluation."""
    todo = [f for f in findings if f.status == "open"]
    action_ids = [
        int(f.evidence["action_id"])
        for f in todo
        if f.remediation == "attempted" and f.evidence.get("action_id")
    ]
    status: dict[int, str] = {}
    if action_ids:
        rows = session.execute(
            select(DeviceAction.id, DeviceAction.status).where(DeviceAction.id.in_(action_ids))
        )
        status = {row.id: row.status for row in rows}
    for f in todo:
        home = homes.get(f.home_id)
        if home is None:
            continue
        if f.remediation == "" and f.outage_id is None:
            _remediate(session, f, home, now, s)
        elif f.remediation == "attempted":
            _verify(session, f, status.get(int(f.evidence.get("action_id") or 0)), now, s)
        _escalate(session, f, home, now, s)


def _note(f: Finding, **extra: Any) -> None:
    f.evidence = {**(f.evidence or {}), **extra}


def _remediate(
    session: Session, f: Finding, home: HomeInfo, now: datetime, s: HealthSettings
) -> None:
    kind = s.remediation_policies.get(f.kind)
    if not s.auto_remediation or kind is None or home.device_id is None:
        return
    params = action_params(f)
    if params is None:
        return
    try:
        # queue_action checks everything before it writes: a refusal leaves nothing behind.
        action = remote.queue_action(
            session,
            home_id=f.home_id,
            device_id=home.device_id,
            kind=kind,
            params=params,
            requested_by=f"policy:{f.kind}",
            finding_id=f.id,
            now=now,
        )
    except HomeportError as exc:
        f.remediation = "not_allowed"
        _note(f, remediation_at=now.isoformat(), remediation_note=exc.message)
        return
    f.remediation = "attempted"
    _note(f, action_id=action.id, remediation_at=now.isoformat())
    record(
        session,
        at=now,
        actor=ACTOR,
        action="finding.remediation_attempted",
        entity_type="finding",
        entity_id=f.id,
        action_id=action.id,
        kind=kind,
    )


def _verify(
    session: Session, f: Finding, action_status: str | None, now: datetime, s: HealthSettings
) -> None:
    at = f.evidence.get("remediation_at")
    started = datetime.fromisoformat(at) if isinstance(at, str) else now
    if action_status in ACTION_FAILED:
        note = f"the {action_status} remote action did not fix it"
    elif now - started >= timedelta(seconds=s.remediation_verify_s):
        note = "still present after the remote action"
    else:
        return
    f.remediation = "failed"
    _note(f, remediation_note=note)
    record(
        session,
        at=now,
        actor=ACTOR,
        action="finding.remediation_failed",
        entity_type="finding",
        entity_id=f.id,
        note=note,
    )


def _escalate(
    session: Session, f: Finding, home: HomeInfo, now: datetime, s: HealthSettings
) -> None:
    if f.evidence.get("escalated_at") or f.outage_id is not None or f.severity == "info":
        return
    if f.remediation == "attempted":
        return  # give the fix its chance first
    if f.remediation == "failed":
        reason = "remediation_failed"
    elif f.remediation == "not_allowed":
        reason = "remediation_refused"
    elif f.severity == "critical":
        reason = "critical"
    elif f.opened_at is not None and now - f.opened_at >= timedelta(seconds=s.case_after_s):
        reason = "persistent"
    else:
        return
    _note(f, escalated_at=now.isoformat(), escalation=reason)
    session.flush()
    publish(
        session,
        FindingEscalated(
            f.id, f.home_id, home.subscriber_id, f.kind, f.severity, f.summary, reason, now
        ),
    )
