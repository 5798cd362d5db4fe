"""JSON API for reading subscribers with their home network and topology, and the topology.

``/api/v1/subscribers`` lives here rather than in :mod:`homeport.subscribers.api` because its
filters and its 360 view join homes, gateways and ports (the network domain may import the
subscribers domain, not the reverse).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from homeport.identity.api import Access
from homeport.network import service
from homeport.network.models import TECHNOLOGIES
from homeport.network.read_schemas import RegionOut, Subscriber360Out, SubscriberPageOut
from homeport.subscribers.models import JOURNEY_STAGES, STATUSES
from homeport.subscribers.service import MAX_QUERY_LENGTH

router = APIRouter(prefix="/api/v1")

Id = Annotated[int | None, Query(ge=1, le=service.MAX_ID)]


def _choice(values: tuple[str, ...], what: str) -> Any:
    return Query(
        description=f"Only subscribers with this {what}", json_schema_extra={"enum": list(values)}
    )


@router.get("/subscribers", tags=["subscribers"], dependencies=[Depends(Access.staff())])
def list_subscribers(
    request: Request,
    q: Annotated[
        str,
        Query(
            max_length=MAX_QUERY_LENGTH,
            description=(
                "Part of the name (every word), account number, e-mail, postcode, phone number or "
                "gateway device id; case-insensitive"
            ),
        ),
    ] = "",
    status: Annotated[str | None, _choice(STATUSES, "status")] = None,
    journey_stage: Annotated[str | None, _choice(JOURNEY_STAGES, "journey stage")] = None,
    plan_id: Id = None,
    region_id: Id = None,
    access_node_id: Id = None,
    port_id: Id = None,
    technology: Annotated[str | None, _choice(TECHNOLOGIES, "access technology")] = None,
    page: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=service.MAX_PER_PAGE)] = service.DEFAULT_PER_PAGE,
    sort: Annotated[str, Query(json_schema_extra={"enum": list(service.SORTS)})] = "name",
) -> SubscriberPageOut:
    """Search subscribers; one page of results with the total that match."""
    with request.app.state.db.session() as session:
        result = service.search_subscribers(
            session,
            q=q,
            status=status,
            journey_stage=journey_stage,
            plan_id=plan_id,
            region_id=region_id,
            access_node_id=access_node_id,
            port_id=port_id,
            technology=technology,
            page=page,
            per_page=per_page,
            sort=sort,
        )
        return SubscriberPageOut.of(result)


@router.get(
    "/subscribers/{subscriber_id}", tags=["subscribers"], dependencies=[Depends(Access.staff())]
)
def get_subscriber(request: Request, subscriber_id: int) -> Subscriber360Out:
    """One subscriber with plan, bundles, topology position and home network (404 if none)."""
    with request.app.state.db.session() as session:
        return Subscriber360Out.of(service.subscriber_360(session, subscriber_id))


@router.get("/regions", tags=["network"], dependencies=[Depends(Access.staff())])
def list_regions(request: Request) -> list[RegionOut]:
    """Regions with their access nodes, port counts and connected homes."""
    with request.app.state.db.session() as session:
        return [RegionOut.of_row(r) for r in service.list_regions(session)]
