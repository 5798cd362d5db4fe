"""Pydantic output models for the subscriber search, the subscriber 360 and the topology."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from homeport.network.models import ClientDevice, Home, MeshNode
from homeport.network.quality import classify_rssi
from homeport.network.service import NodeRow, RegionRow, SearchResult, Subscriber360, SubscriberRow
from homeport.subscribers.read_schemas import BundleOut, PlanRefOut, SubscriberOut


class SignalOut(BaseModel):
    dbm: int | None = Field(description="Received signal strength, dBm")
    quality: str = Field(
        description="excellent, good, fair, weak, unusable or unknown (REFERENCE.md 4a thresholds)"
    )
    label: str

    @classmethod
    def of(cls, dbm: int | None) -> SignalOut:
        q = classify_rssi(dbm)
        return cls(dbm=dbm, quality=q.key, label=q.label)


class RegionRefOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str


class AccessNodeRefOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: str
    vendor: str
    model: str


class PortRefOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    capacity: int


class TopologyOut(BaseModel):
    """Where the home hangs off the network: region → access node → port."""

    region: RegionRefOut | None
    access_node: AccessNodeRefOut | None
    port: PortRefOut | None
    homes_on_port: int = Field(description="Homes on this port, this one included")


class GatewayOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    device_id: str
    serial: str
    mac: str
    kind: str
    vendor: str
    model: str
    firmware: str
    installed_at: datetime | None
    last_seen_at: datetime | None


class MeshNodeOut(BaseModel):
    id: int
    node_id: str
    model: str
    location: str
    backhaul: str
    backhaul_signal: SignalOut | None = Field(description="Wireless backhaul only")

    @classmethod
    def of(cls, node: MeshNode) -> MeshNodeOut:
        wireless = node.backhaul == "wireless"
        return cls(
            id=node.id,
            node_id=node.node_id,
            model=node.model,
            location=node.location,
            backhaul=node.backhaul,
            backhaul_signal=SignalOut.of(node.backhaul_rssi_dbm) if wireless else None,
        )


class ClientDeviceOut(BaseModel):
    id: int
    mac: str
    name: str
    kind: str
    vendor: str
    band_capability: str
    last_band: str | None
    signal: SignalOut
    first_seen_at: datetime | None
    last_seen_at: datetime | None

    @classmethod
    def of(cls, dev: ClientDevice) -> ClientDeviceOut:
        return cls(
            id=dev.id,
            mac=dev.mac,
            name=dev.name,
            kind=dev.kind,
            vendor=dev.vendor,
            band_capability=dev.band_capability,
            last_band=dev.last_band,
            signal=SignalOut.of(dev.last_rssi_dbm),
            first_seen_at=dev.first_seen_at,
            last_seen_at=dev.last_seen_at,
        )


class HomeOut(BaseModel):
    id: int
    technology: str
    installed_at: datetime | None
    gateway: GatewayOut | None
    mesh_nodes: list[MeshNodeOut]
    clients: list[ClientDeviceOut]

    @classmethod
    def of(cls, home: Home) -> HomeOut:
        return cls(
            id=home.id,
            technology=home.technology,
            installed_at=home.installed_at,
            gateway=GatewayOut.model_validate(home.gateway) if home.gateway else None,
            mesh_nodes=[MeshNodeOut.of(n) for n in home.mesh_nodes],
            clients=[ClientDeviceOut.of(c) for c in home.clients],
        )


class Subscriber360Out(BaseModel):
    """The subscriber, plan, bundles, topology position and home network."""

    subscriber: SubscriberOut
    bundles: list[BundleOut]
    topology: TopologyOut
    home: HomeOut | None

    @classmethod
    def of(cls, view: Subscriber360) -> Subscriber360Out:
        return cls(
            subscriber=SubscriberOut.of(view.subscriber),
            bundles=[BundleOut.model_validate(b) for b in view.bundles],
            topology=TopologyOut(
                region=RegionRefOut.model_validate(view.region) if view.region else None,
                access_node=(
                    AccessNodeRefOut.model_validate(view.access_node) if view.access_node else None
                ),
                port=PortRefOut.model_validate(view.port) if view.port else None,
                homes_on_port=view.homes_on_port,
            ),
            home=HomeOut.of(view.home) if view.home else None,
        )


class SubscriberListItemOut(BaseModel):
    id: int
    account_number: str
    name: str
    email: str
    phone: str
    postcode: str
    city: str
    status: str
    journey_stage: str
    plan: PlanRefOut | None
    technology: str | None
    region: RegionRefOut | None
    access_node: AccessNodeRefOut | None
    port: PortRefOut | None
    gateway_device_id: str | None

    @classmethod
    def of(cls, row: SubscriberRow) -> SubscriberListItemOut:
        sub, home = row.subscriber, row.home
        port = home.port if home else None
        node = port.access_node if port else None
        return cls(
            id=sub.id,
            account_number=sub.account_number,
            name=sub.name,
            email=sub.email,
            phone=sub.phone,
            postcode=sub.postcode,
            city=sub.city,
            status=sub.status,
            journey_stage=sub.journey_stage,
            plan=PlanRefOut.model_validate(sub.plan) if sub.plan else None,
            technology=home.technology if home else None,
            region=RegionRefOut.model_validate(node.region) if node else None,
            access_node=AccessNodeRefOut.model_validate(node) if node else None,
            port=PortRefOut.model_validate(port) if port else None,
            gateway_device_id=home.gateway.device_id if home and home.gateway else None,
        )


class SubscriberPageOut(BaseModel):
    items: list[SubscriberListItemOut]
    total: int = Field(description="Subscribers matching the search, on all pages")
    page: int
    per_page: int
    pages: int

    @classmethod
    def of(cls, result: SearchResult) -> SubscriberPageOut:
        return cls(
            items=[SubscriberListItemOut.of(r) for r in result.rows],
            total=result.total,
            page=result.search.page,
            per_page=result.search.per_page,
            pages=result.pages,
        )


class AccessNodeOut(AccessNodeRefOut):
    port_count: int
    home_count: int = Field(description="Homes connected to this node's ports")

    @classmethod
    def of_row(cls, row: NodeRow) -> AccessNodeOut:
        n = row.node
        return cls(
            id=n.id,
            code=n.code,
            name=n.name,
            kind=n.kind,
            vendor=n.vendor,
            model=n.model,
            port_count=row.port_count,
            home_count=row.home_count,
        )


class RegionOut(RegionRefOut):
    access_nodes: list[AccessNodeOut]

    @classmethod
    def of_row(cls, row: RegionRow) -> RegionOut:
        r = row.region
        return cls(
            id=r.id,
            code=r.code,
            name=r.name,
            access_nodes=[AccessNodeOut.of_row(n) for n in row.nodes],
        )
