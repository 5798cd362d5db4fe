from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class StaffUserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    role: str
    is_active: bool
    team_id: int | None
    created_at: datetime
    last_login_at: datetime | None


class Principal(BaseModel):
    """Who is making a request: a staff user (by session or token) or a subscriber."""

    kind: str  # "staff" | "subscriber"
    id: int
    email: str
    #: The staff user's display name (None: none set, or a subscriber).
    name: str | None = None
    role: str | None = None  # staff role
    subscriber_id: int | None = None
    token_id: int | None = None
    scopes: frozenset[str] | None = None  # None: a browser session, not limited by scopes

    def allows_scope(self, scope: str) -> bool:
        if self.scopes is None:
            return True
        return scope in self.scopes or "admin" in self.scopes
