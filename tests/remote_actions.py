"""Shared helpers for the remote-action tests of every transport (HTTP, MQTT, the simulator):
queue an action, read it back, read its audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from homeport.audit.models import AuditEntry
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.health import remote
from homeport.health.models import DeviceAction
from tests.factories import Fleet


def queue(
    db: Database,
    fleet: Fleet,
    clock: ManualClock,
    *,
    account: str,
    device_id: str,
    kind: str = "reboot",
    params: dict[str, Any] | None = None,
    requested_by: str = "system",
) -> int:
    """Queue one action for ``account``'s gateway ``device_id`` now; its id."""
    with db.transaction() as session:
        return remote.queue_action(
            session,
            home_id=fleet.homes[account],
            device_id=device_id,
            kind=kind,
            params=params or {},
            requested_by=requested_by,
            finding_id=None,
            now=clock.now(),
        ).id


def load(db: Database, action_id: int) -> DeviceAction:
    """The action as stored now (detached from its session)."""
    with db.session() as session:
        action = session.get(DeviceAction, action_id)
        assert action is not None
        session.expunge(action)
        return action


def audit_trail(db: Database, action_id: int) -> list[str]:
    """The action's audit entries, oldest first ("device_action.queued", …)."""
    with db.session() as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(
                    AuditEntry.entity_type == "device_action",
                    AuditEntry.entity_id == str(action_id),
                )
                .order_by(AuditEntry.id)
            )
        )
