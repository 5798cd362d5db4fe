"""JSON API of the subscribers domain: plans.

The subscriber search and the subscriber 360 join the home network and topology, so they live
in :mod:`homeport.network.api` (the network domain sits above this one).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from homeport.identity.api import Access
from homeport.subscribers import service
from homeport.subscribers.read_schemas import PlanOut, PlanWithCountOut

router = APIRouter(prefix="/api/v1", tags=["subscribers"])


@router.get("/plans", dependencies=[Depends(Access.staff())])
def list_plans(
    request: Request,
    active: Annotated[bool, Query(description="Only plans still on sale")] = False,
) -> list[PlanWithCountOut]:
    """Every plan, cheapest first, with how many subscribers are on it."""
    with request.app.state.db.session() as session:
        rows = service.list_plans(session, active_only=active)
        return [
            PlanWithCountOut(
                **PlanOut.model_validate(r.plan).model_dump(), subscriber_count=r.subscriber_count
            )
            for r in rows
        ]
