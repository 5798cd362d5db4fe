"""Small, explicit fleets for tests: plans, topology, subscribers with homes and home networks.

Built with the ORM models inside ``db.transaction()`` (the domain write actions for these
tables are not there yet). Every value a test may assert on is fixed here, not random.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from homeport.core.db import Database
from homeport.network.models import (
    AccessNode,
    ClientDevice,
    Gateway,
    Home,
    MeshNode,
    Port,
    Region,
)
from homeport.subscribers.models import Bundle, Plan, Subscriber


@dataclass(frozen=True)
class DeviceSpec:
    mac: str
    name: str
    kind: str = "phone"
    rssi: int | None = -60
    band: str | None = "5GHz"
    capability: str = "2.4+5"
    vendor: str = ""


@dataclass(frozen=True)
class MeshSpec:
    node_id: str
    location: str = ""
    backhaul: str = "wireless"
    rssi: int | None = -60
    model: str = "Beacon 2"


@dataclass(frozen=True)
class SubscriberSpec:
    account: str
    name: str
    email: str = ""
    phone: str = ""
    postcode: str = ""
    city: str = "Leeds"
    address: str = "1 High Street"
    status: str = "active"
    stage: str = "established"
    plan: str | None = "fibre-500"
    bundles: tuple[str, ...] = ()
    port: str | None = "north-olt1-p1"
    technology: str = "fttp"
    device_id: str | None = None
    firmware: str = "4.2.1"
    mesh: tuple[MeshSpec, ...] = ()
    clients: tuple[DeviceSpec, ...] = ()
    consent_sms: bool = False


@dataclass
class Fleet:
    """Ids of what was built, by the readable keys used in the specs."""

    plans: dict[str, int] = field(default_factory=dict)
    bundles: dict[str, int] = field(default_factory=dict)
    regions: dict[str, int] = field(default_factory=dict)
    nodes: dict[str, int] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    subscribers: dict[str, int] = field(default_factory=dict)  # by account number
    homes: dict[str, int] = field(default_factory=dict)  # by account number


def build_catalogue(db: Database, fleet: Fleet) -> None:
    """Three plans, two bundles."""
    with db.transaction() as s:
        plans = [
            Plan(
                code="fibre-100",
                name="Fibre 100",
                down_mbps=100,
                up_mbps=20,
                monthly_price=Decimal("25.00"),
            ),
            Plan(
                code="fibre-500",
                name="Fibre 500",
                down_mbps=500,
                up_mbps=75,
                monthly_price=Decimal("35.00"),
            ),
            Plan(
                code="fibre-1000",
                name="Full Fibre Gigabit",
                down_mbps=1000,
                up_mbps=115,
                monthly_price=Decimal("49.99"),
            ),
        ]
        bundles = [
            Bundle(
                code="mesh",
                name="Whole-home Wi-Fi",
                lifestyle="work_from_home",
                description="Two mesh satellites",
                monthly_price=Decimal("5.00"),
            ),
            Bundle(
                code="gaming",
                name="Gaming priority",
                lifestyle="gaming",
                monthly_price=Decimal("3.50"),
            ),
        ]
        s.add_all([*plans, *bundles])
        s.flush()
        fleet.plans.update({p.code: p.id for p in plans})
        fleet.bundles.update({b.code: b.id for b in bundles})


def build_topology(db: Database, fleet: Fleet) -> None:
    """Two regions; North has an OLT with two PON ports, South a DSLAM with one port."""
    with db.transaction() as s:
        north = Region(code="north", name="North")
        south = Region(code="south", name="South")
        s.add_all([north, south])
        s.flush()
        olt = AccessNode(
            region_id=north.id,
            code="LDS-OLT-01",
            name="Leeds exchange OLT",
            kind="olt",
            vendor="Nokia",
            model="ISAM FX-8",
        )
        dslam = AccessNode(
            region_id=south.id,
            code="BRI-DSL-01",
            name="Bristol DSLAM",
            kind="dslam",
            vendor="Huawei",
            model="MA5600T",
        )
        s.add_all([olt, dslam])
        s.flush()
        ports = {
            "north-olt1-p1": Port(access_node_id=olt.id, name="1/1/1", capacity=64),
            "north-olt1-p2": Port(access_node_id=olt.id, name="1/1/2", capacity=64),
            "south-dsl1-p1": Port(access_node_id=dslam.id, name="0/3/7", capacity=48),
        }
        s.add_all(ports.values())
        s.flush()
        fleet.regions.update({"north": north.id, "south": south.id})
        fleet.nodes.update({"olt": olt.id, "dslam": dslam.id})
        fleet.ports.update({k: p.id for k, p in ports.items()})


def add_subscriber(db: Database, fleet: Fleet, spec: SubscriberSpec, now: datetime) -> int:
    """One subscriber with (unless ``port`` and ``device_id`` are None) a home network."""
    with db.transaction() as s:
        sub = Subscriber(
            account_number=spec.account,
            name=spec.name,
            email=spec.email.lower(),
            phone=spec.phone,
            address=spec.address,
            city=spec.city,
            postcode=spec.postcode,
            status=spec.status,
            journey_stage=spec.stage,
            plan_id=fleet.plans[spec.plan] if spec.plan else None,
            consent_email=True,
            consent_sms=spec.consent_sms,
            consent_updated_at=now - timedelta(days=30),
            activated_at=now - timedelta(days=400),
            created_at=now - timedelta(days=410),
            updated_at=now,
        )
        if spec.bundles:
            sub.bundles = [s.get_one(Bundle, fleet.bundles[code]) for code in spec.bundles]
        s.add(sub)
        s.flush()
        fleet.subscribers[spec.account] = sub.id
        if spec.port is None and spec.device_id is None:
            return sub.id
        home = Home(
            subscriber_id=sub.id,
            technology=spec.technology,
            port_id=fleet.ports[spec.port] if spec.port else None,
            installed_at=now - timedelta(days=399),
        )
        s.add(home)
        s.flush()
        fleet.homes[spec.account] = home.id
        if spec.device_id:
            s.add(
                Gateway(
                    home_id=home.id,
                    device_id=spec.device_id,
                    serial=f"SN{spec.device_id}",
                    mac="00:11:22:33:44:55",
                    kind="ont_router",
                    vendor="Sagemcom",
                    model="F@st 5670",
                    firmware=spec.firmware,
                    installed_at=now - timedelta(days=399),
                    last_seen_at=now - timedelta(minutes=4),
                )
            )
        for m in spec.mesh:
            s.add(
                MeshNode(
                    home_id=home.id,
                    node_id=m.node_id,
                    model=m.model,
                    location=m.location,
                    backhaul=m.backhaul,
                    backhaul_rssi_dbm=m.rssi,
                )
            )
        for d in spec.clients:
            s.add(
                ClientDevice(
                    home_id=home.id,
                    mac=d.mac,
                    name=d.name,
                    kind=d.kind,
                    vendor=d.vendor,
                    band_capability=d.capability,
                    last_band=d.band,
                    last_rssi_dbm=d.rssi,
                    first_seen_at=now - timedelta(days=90),
                    last_seen_at=now - timedelta(minutes=5),
                )
            )
        return sub.id


#: The standard small fleet. Each subscriber differs from the others in the fields a test
#: searches or filters on, so every search has one exact expected answer.
STANDARD = (
    SubscriberSpec(
        account="ACC-1001",
        name="Alice Smith",
        email="alice.smith@example.org",
        phone="+44 20 7946 0001",
        postcode="LS1 4AP",
        plan="fibre-1000",
        bundles=("mesh", "gaming"),
        port="north-olt1-p1",
        technology="fttp",
        device_id="GW-000101",
        consent_sms=True,
        mesh=(
            MeshSpec("SAT-1", location="Upstairs landing", rssi=-63),
            MeshSpec("SAT-2", location="Garden office", backhaul="ethernet", rssi=None),
        ),
        clients=(
            DeviceSpec(
                "a4:5e:60:00:00:01", "Alice's laptop", "laptop", -45, "5GHz", "2.4+5+6", "Apple"
            ),
            DeviceSpec("a4:5e:60:00:00:02", "Living room TV", "tv", -72, "5GHz", "2.4+5"),
            DeviceSpec("a4:5e:60:00:00:03", "Doorbell camera", "camera", -88, "2.4GHz", "2.4"),
        ),
    ),
    SubscriberSpec(
        account="ACC-1002",
        name="Bob Jones",
        email="bob@jones.example",
        phone="0113 496 0002",
        postcode="LS6 2QT",
        plan="fibre-500",
        port="north-olt1-p1",
        technology="fttp",
        device_id="GW-000102",
        clients=(DeviceSpec("b0:00:00:00:00:01", "Bob's phone", "phone", -58),),
    ),
    SubscriberSpec(
        account="ACC-1003",
        name="Carol Smithers",
        email="carol@example.net",
        phone="07700 900003",
        postcode="LS2 7EW",
        status="suspended",
        stage="at_risk",
        plan="fibre-500",
        port="north-olt1-p2",
        technology="fttp",
        device_id="GW-000103",
    ),
    SubscriberSpec(
        account="BRI-2001",
        name="Dev Patel",
        email="dev.patel@example.com",
        phone="0117 496 0004",
        postcode="BS1 5TR",
        city="Bristol",
        status="onboarding",
        stage="installation",
        plan="fibre-100",
        port="south-dsl1-p1",
        technology="adsl",
        device_id="DSL-7F3A2C",
    ),
    SubscriberSpec(
        account="ACC-1005",
        name="Erin O'Neill",
        email="erin@example.org",
        phone="+44 7700 900005",
        postcode="SW1A 1AA",
        city="London",
        status="prospect",
        stage="signup",
        plan=None,
        port=None,
        device_id=None,
    ),
)


def build_fleet(
    db: Database, now: datetime, subscribers: tuple[SubscriberSpec, ...] = STANDARD
) -> Fleet:
    """Catalogue, topology and ``subscribers`` (by default :data:`STANDARD`)."""
    fleet = Fleet()
    build_catalogue(db, fleet)
    build_topology(db, fleet)
    for spec in subscribers:
        add_subscriber(db, fleet, spec, now)
    return fleet


def filler(
    n: int, *, start: int = 1, port: str = "north-olt1-p2", clients: int = 2
) -> tuple[SubscriberSpec, ...]:
    """``n`` more subscribers named "Filler NNNN", each with a gateway and ``clients`` devices,
    to show that a page's statement count does not grow with the data."""
    return tuple(
        SubscriberSpec(
            account=f"FIL-{i:04d}",
            name=f"Filler {i:04d}",
            email=f"filler{i}@example.test",
            phone=f"0161 496 {i:04d}",
            postcode="M1 1AA",
            plan="fibre-100",
            port=port,
            device_id=f"GW-F{i:05d}",
            bundles=("mesh",),
            mesh=(MeshSpec(f"SAT-F{i}"),),
            clients=tuple(
                DeviceSpec(
                    f"f0:00:00:{i // 256:02x}:{i % 256:02x}:{j:02x}", f"Device {j}", rssi=-50 - j
                )
                for j in range(clients)
            ),
        )
        for i in range(start, start + n)
    )
