"""The one write of the audit domain; every other domain's actions call it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from homeport.audit.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff user, a subscriber, an API token, or the system itself."""

    kind: str
    id: int | None = None
    label: str = ""

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls("system", None, label)


def record(
    session: Session,
    *,
    at: datetime,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: object = None,
    **detail: Any,
) -> None:
    session.add(
        AuditEntry(
            at=at,
            actor_kind=actor.kind,
            actor_id=actor.id,
            action=action,
            entity_type=entity_type,
            entity_id=None if entity_id is None else str(entity_id),
            detail=detail,
        )
    )
