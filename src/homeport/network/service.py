"""Reads of the network domain: the subscriber search (which filters on the home and its place
in the topology), the subscriber 360 (plan, topology position, home network) and the topology.

Query shapes are fixed so a page costs the same number of statements whatever the data: the
list is one row query (plan, home, gateway, port, access node and region joined) and at most
one count; the 360 is five statements, and the console's card of it (:func:`home_card`) three.
Tests hold each to a budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, select, union
from sqlalchemy.orm import Bundle as Columns
from sqlalchemy.orm import Session, joinedload, raiseload

from homeport.core.errors import FieldError, ValidationFailed
from homeport.network.models import (
    TECHNOLOGIES,
    AccessNode,
    ClientDevice,
    Gateway,
    Home,
    MeshNode,
    Port,
    Region,
)
from homeport.subscribers import service as subscribers_service
from homeport.subscribers.models import JOURNEY_STAGES, STATUSES, Bundle, Plan, Subscriber

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
#: A page number beyond this is refused: deep OFFSETs are slow and nobody pages that far.
MAX_PAGE = 10_000
#: Sort keys: name A to Z, account number, newest first (by id, the primary key index).
SORTS = ("name", "account", "newest")
MAX_ID = subscribers_service.MAX_ID


@dataclass(frozen=True)
class SubscriberSearch:
    """A validated subscriber search: text, filters, page and sort. Empty values mean "any"."""

    q: str = ""
    status: str | None = None
    journey_stage: str | None = None
    plan_id: int | None = None
    region_id: int | None = None
    access_node_id: int | None = None
    port_id: int | None = None
    technology: str | None = None
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    sort: str = "name"

    FILTERS = (
        "status",
        "journey_stage",
        "plan_id",
        "region_id",
        "access_node_id",
        "port_id",
        "technology",
    )

    def __post_init__(self) -> None:
        errors: list[FieldError] = []
        checks: list[tuple[str, tuple[str, ...]]] = [
            ("status", STATUSES),
            ("journey_stage", JOURNEY_STAGES),
            ("technology", TECHNOLOGIES),
            ("sort", SORTS),
        ]
        for name, allowed in checks:
            try:
                subscribers_service.check_choice(name, getattr(self, name), allowed)
            except ValidationFailed as exc:
                errors.extend(exc.errors)
        try:
            object.__setattr__(self, "q", subscribers_service.clean_query(self.q))
        except ValidationFailed as exc:
            errors.extend(exc.errors)
        for name in ("plan_id", "region_id", "access_node_id", "port_id"):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= MAX_ID:
                errors.append(FieldError(name, f"must be an id between 1 and {MAX_ID}"))
        if not 1 <= self.page <= MAX_PAGE:
            errors.append(FieldError("page", f"must be between 1 and {MAX_PAGE}"))
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            errors.append(FieldError("per_page", f"must be between 1 and {MAX_PER_PAGE}"))
        if errors:
            raise ValidationFailed("invalid search", errors)
        for name in ("status", "journey_stage", "technology"):
            if getattr(self, name) == "":
                object.__setattr__(self, name, None)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> SubscriberSearch:
        """Build from raw query-string values (a GET form sends empty strings for "any")."""
        errors: list[FieldError] = []
        ints: dict[str, int | None] = {}
        for name in ("plan_id", "region_id", "access_node_id", "port_id", "page", "per_page"):
            raw = (params.get(name) or "").strip()
            try:
                ints[name] = int(raw) if raw else None
            except ValueError:
                errors.append(FieldError(name, f"{raw!r} is not a whole number"))
        if errors:
            raise ValidationFailed("invalid search", errors)
        text = {
            name: (params.get(name) or "").strip() or None
            for name in ("status", "journey_stage", "technology")
        }
        return cls(
            q=params.get("q") or "",
            plan_id=ints["plan_id"],
            region_id=ints["region_id"],
            access_node_id=ints["access_node_id"],
            port_id=ints["port_id"],
            page=1 if ints["page"] is None else ints["page"],
            per_page=DEFAULT_PER_PAGE if ints["per_page"] is None else ints["per_page"],
            sort=(params.get("sort") or "").strip() or "name",
            **text,
        )

    @property
    def active_filters(self) -> dict[str, Any]:
        return {
            name: getattr(self, name) for name in self.FILTERS if getattr(self, name) is not None
        }

    def params(self, **changes: Any) -> dict[str, str]:
        """The query-string of this search (defaults left out), with ``changes`` applied."""
        search = replace(self, **changes) if changes else self
        out: dict[str, str] = {}
        if search.q:
            out["q"] = search.q
        for name, value in search.active_filters.items():
            out[name] = str(value)
        if search.sort != "name":
            out["sort"] = search.sort
        if search.per_page != DEFAULT_PER_PAGE:
            out["per_page"] = str(search.per_page)
        if search.page != 1:
            out["page"] = str(search.page)
        return out


@dataclass(frozen=True)
class SubscriberRow:
    """One search result: the subscriber (plan loaded) and its home (port chain and gateway
    loaded; mesh nodes, clients and bundles are not loaded and raise if touched)."""

    subscriber: Subscriber
    home: Home | None


@dataclass(frozen=True)
class SearchResult:
    search: SubscriberSearch
    rows: list[SubscriberRow]
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.search.per_page))

    @property
    def first(self) -> int:
        """1-based position of the first row shown (0 when there is none)."""
        return (self.search.page - 1) * self.search.per_page + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def _matching_ids(q: str) -> Select[tuple[int]] | None:
    """Ids of subscribers whose own fields or gateway device id match ``q``.

    A UNION of one select per table, so each can use its own indexes (on PostgreSQL with
    trigram indexes every branch is indexable); ``None`` for an empty query.
    """
    own = subscribers_service.text_match(q)
    if own is None:
        return None
    by_gateway = (
        select(Home.subscriber_id)
        .join(Gateway, Gateway.home_id == Home.id)
        .where(Gateway.device_id.icontains(q, autoescape=True))
    )
    ids = union(select(Subscriber.id).where(own), by_gateway).subquery()
    return select(ids.c[0])


def _conditions(search: SubscriberSearch) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    ids = _matching_ids(search.q)
    if ids is not None:
        conds.append(Subscriber.id.in_(ids))
    if search.status:
        conds.append(Subscriber.status == search.status)
    if search.journey_stage:
        conds.append(Subscriber.journey_stage == search.journey_stage)
    if search.plan_id is not None:
        conds.append(Subscriber.plan_id == search.plan_id)
    if search.technology:
        conds.append(Home.technology == search.technology)
    if search.port_id is not None:
        conds.append(Home.port_id == search.port_id)
    if search.access_node_id is not None:
        conds.append(
            Home.port_id.in_(select(Port.id).where(Port.access_node_id == search.access_node_id))
        )
    if search.region_id is not None:
        conds.append(
            Home.port_id.in_(
                select(Port.id)
                .join(AccessNode, AccessNode.id == Port.access_node_id)
                .where(AccessNode.region_id == search.region_id)
            )
        )
    return conds


_ORDER = {
    "name": (Subscriber.name, Subscriber.id),
    "account": (Subscriber.account_number,),
    "newest": (Subscriber.id.desc(),),
}


def search_subscribers(
    session: Session,
    *,
    q: str = "",
    status: str | None = None,
    journey_stage: str | None = None,
    plan_id: int | None = None,
    region_id: int | None = None,
    access_node_id: int | None = None,
    port_id: int | None = None,
    technology: str | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
    sort: str = "name",
) -> SearchResult:
    """One page of subscribers matching the text and filters, and how many match in all.

    Raises :class:`ValidationFailed` (422) for an unknown status, stage, technology or sort,
    a non-positive id, or a page / page size out of range.
    """
    search = SubscriberSearch(
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
    return run_search(session, search)


def run_search(session: Session, search: SubscriberSearch) -> SearchResult:
    """The page with everything the list shows joined in, then the count of all matches.

    The count is skipped when the page itself proves it (a partly filled page is the last
    one), which halves the work of the usual narrow search.
    """
    conds = _conditions(search)
    offset = (search.page - 1) * search.per_page
    stmt = (
        select(Subscriber, Home)
        .outerjoin(Home, Home.subscriber_id == Subscriber.id)
        .where(*conds)
        .options(
            raiseload(Subscriber.bundles),
            joinedload(Home.gateway),
            raiseload(Home.mesh_nodes),
            raiseload(Home.clients),
        )
        .order_by(*_ORDER[search.sort])
        .limit(search.per_page)
        .offset(offset)
    )
    rows = [SubscriberRow(sub, home) for sub, home in session.execute(stmt).unique().all()]
    if 0 < len(rows) < search.per_page or (not rows and offset == 0):
        return SearchResult(search, rows, offset + len(rows))
    total = (
        session.scalar(
            select(func.count())
            .select_from(Subscriber)
            .outerjoin(Home, Home.subscriber_id == Subscriber.id)
            .where(*conds)
        )
        or 0
    )
    return SearchResult(search, rows, int(total))


@dataclass(frozen=True)
class Facets:
    """Choices for the search filters."""

    plans: list[tuple[int, str]]
    regions: list[tuple[int, str]]
    statuses: tuple[str, ...] = STATUSES
    journey_stages: tuple[str, ...] = JOURNEY_STAGES
    technologies: tuple[str, ...] = TECHNOLOGIES
    sorts: tuple[str, ...] = SORTS


def search_facets(session: Session) -> Facets:
    regions = session.execute(select(Region.id, Region.name).order_by(Region.name, Region.id))
    return Facets(
        plans=subscribers_service.plan_choices(session),
        regions=[(int(rid), str(name)) for rid, name in regions.all()],
    )


def topology_label(
    session: Session, *, port_id: int | None = None, access_node_id: int | None = None
) -> str | None:
    """A readable name for a port or access node filter ("North / OLT-1 / pon 1/1/1")."""
    if port_id is not None:
        port = session.get(Port, port_id)
        if port is None:
            return None
        node = port.access_node
        return f"{node.region.name} / {node.code} / {port.name}"
    if access_node_id is not None:
        found = session.get(AccessNode, access_node_id)
        return f"{found.region.name} / {found.code}" if found else None
    return None


@dataclass(frozen=True)
class _OfSubscriber:
    """A view of one subscriber, loaded with its plan (joined) and bundles."""

    subscriber: Subscriber

    @property
    def plan(self) -> Plan | None:
        return self.subscriber.plan

    @property
    def bundles(self) -> list[Bundle]:
        return list(self.subscriber.bundles)


@dataclass(frozen=True)
class Subscriber360(_OfSubscriber):
    """Everything the subscriber page shows, loaded in a fixed number of statements."""

    home: Home | None
    #: Homes on the same port, this one included (0 when the home has no port).
    homes_on_port: int

    @property
    def port(self) -> Port | None:
        return self.home.port if self.home else None

    @property
    def access_node(self) -> AccessNode | None:
        return self.port.access_node if self.port else None

    @property
    def region(self) -> Region | None:
        return self.access_node.region if self.access_node else None

    @property
    def gateway(self) -> Gateway | None:
        return self.home.gateway if self.home else None

    @property
    def mesh_nodes(self) -> list[MeshNode]:
        return list(self.home.mesh_nodes) if self.home else []

    @property
    def clients(self) -> list[ClientDevice]:
        return list(self.home.clients) if self.home else []


def subscriber_360(session: Session, subscriber_id: int) -> Subscriber360:
    """The subscriber, plan, bundles, home, topology position and home network; 404 if unknown.

    Five statements: subscriber + plan, bundles, home + gateway + port + access node + region
    (with the port's home count as a scalar subquery), mesh nodes, client devices.
    """
    subscriber = subscribers_service.get_subscriber(session, subscriber_id)
    other = Home.__table__.alias("same_port")
    count_on_port = (
        select(func.count())
        .select_from(other)
        .where(other.c.port_id == Home.port_id)
        .correlate(Home)
        .scalar_subquery()
    )
    row = (
        session.execute(
            select(Home, count_on_port)
            .where(Home.subscriber_id == subscriber.id)
            .options(joinedload(Home.gateway))
        )
        .unique()
        .first()
    )
    if row is None:
        return Subscriber360(subscriber, None, 0)
    home, on_port = row
    return Subscriber360(subscriber, home, int(on_port) if home.port_id is not None else 0)


@dataclass(frozen=True)
class HomeCard(_OfSubscriber):
    """The subscriber 360 as the agent console's case page shows it, on every page an agent
    opens: the subscriber (with plan and bundles) as ORM objects, the home's line, gateway and
    client devices as plain rows. Three statements, and about a third of the client CPU of
    :func:`subscriber_360`, whose joined and select-in loads build an object per row."""

    #: ``id``, ``technology``.
    home: Row[Any] | None
    #: ``id``, ``name``.
    port: Row[Any] | None
    #: ``id``, ``code``.
    access_node: Row[Any] | None
    #: ``id``, ``device_id``, ``vendor``, ``model``, ``firmware``, ``last_seen_at``.
    gateway: Row[Any] | None
    #: ``id``, ``mac``, ``name``, ``kind``, ``last_band``, ``last_rssi_dbm``, oldest first.
    clients: list[Row[Any]]


def home_card(session: Session, subscriber_id: int) -> HomeCard:
    """:class:`HomeCard` of a subscriber; 404 if unknown."""
    subscriber = subscribers_service.get_subscriber(session, subscriber_id)
    row: Row[Any] | None = session.execute(  # type: ignore[assignment]
        select(
            Columns("home", Home.id, Home.technology),
            Columns("port", Port.id, Port.name),
            Columns("access_node", AccessNode.id, AccessNode.code),
            Columns(
                "gateway",
                Gateway.id,
                Gateway.device_id,
                Gateway.vendor,
                Gateway.model,
                Gateway.firmware,
                Gateway.last_seen_at,
            ),
        )
        .select_from(Home)
        .outerjoin(Port, Port.id == Home.port_id)
        .outerjoin(AccessNode, AccessNode.id == Port.access_node_id)
        .outerjoin(Gateway, Gateway.home_id == Home.id)
        .where(Home.subscriber_id == subscriber.id)
    ).first()
    if row is None:
        return HomeCard(subscriber, None, None, None, None, [])
    clients: list[Row[Any]] = list(
        session.execute(
            select(
                ClientDevice.id,
                ClientDevice.mac,
                ClientDevice.name,
                ClientDevice.kind,
                ClientDevice.last_band,
                ClientDevice.last_rssi_dbm,
            )
            .where(ClientDevice.home_id == row.home.id)
            .order_by(ClientDevice.id)
        )
    )

    def present(part: Row[Any]) -> Row[Any] | None:  # an outer join's missing side: all None
        return part if part.id is not None else None

    return HomeCard(
        subscriber,
        row.home,
        present(row.port),
        present(row.access_node),
        present(row.gateway),
        clients,
    )


@dataclass(frozen=True)
class NodeRow:
    node: AccessNode
    port_count: int
    home_count: int


@dataclass(frozen=True)
class RegionRow:
    region: Region
    nodes: list[NodeRow] = field(default_factory=list)


def list_regions(session: Session) -> list[RegionRow]:
    """Regions with their access nodes, each with its port and connected-home counts.

    Two statements: regions, then access nodes with both counts as scalar subqueries.
    """
    regions = session.scalars(select(Region).order_by(Region.name, Region.id)).all()
    ports = (
        select(func.count(Port.id))
        .where(Port.access_node_id == AccessNode.id)
        .correlate(AccessNode)
        .scalar_subquery()
    )
    homes = (
        select(func.count(Home.id))
        .join(Port, Port.id == Home.port_id)
        .where(Port.access_node_id == AccessNode.id)
        .correlate(AccessNode)
        .scalar_subquery()
    )
    by_region: dict[int, RegionRow] = {r.id: RegionRow(r) for r in regions}
    nodes = session.execute(
        select(AccessNode, ports, homes).order_by(AccessNode.code, AccessNode.id)
    )
    for node, n_ports, n_homes in nodes.unique().all():
        row = by_region.get(node.region_id)
        if row is not None:
            row.nodes.append(NodeRow(node, int(n_ports), int(n_homes)))
    return list(by_region.values())
