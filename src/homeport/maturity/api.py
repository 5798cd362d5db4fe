"""The maturity stage through the REST API (thin: reads through maturity.service)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from homeport.identity.api import Access
from homeport.maturity import service

router = APIRouter(prefix="/api/v1", tags=["maturity"])


@router.get("/maturity", dependencies=[Depends(Access.staff())])
def maturity(
    request: Request,
    days: Annotated[int | None, Query(ge=1, le=service.MAX_DAYS)] = None,
) -> dict[str, Any]:
    """The maturity stage 1-5 (0: not even stage 1) measured over the last ``days`` (default
    ``maturity.window_days``, 90): every criterion with its value, threshold, met or not and its
    evidence, and the gaps to the next stage. See docs/maturity.md."""
    state = request.app.state
    with state.db.session() as session:
        result = service.assess(session, state.settings.maturity, now=state.clock.now(), days=days)
    return result.to_json()
