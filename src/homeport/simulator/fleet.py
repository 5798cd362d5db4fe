"""Generate a BSP's fleet: plans, bundles, topology, subscribers, homes, home networks and the
simulator's ground truth (``sim_homes``), seeded and fully deterministic.

Everything is drawn with numpy from named random streams derived from the seed (one per
subject, so adding a device kind does not reshuffle names) and every time derives from ``now``:
the same seed, size, days and ``now`` give identical rows. Telemetry and fault injection build
on the stored fleet and ``sim_homes`` (later modules beside this one).

Writing is a bulk load for fresh fleets (:mod:`homeport.simulator.writer`), like a fixture
loader: one transaction, explicit ids, Core executemany in large batches, plus one audit entry
and a :class:`FleetGenerated` event after commit. It refuses a database that already has a
fleet rather than mixing two.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.clock import utc
from homeport.core.db import Base, Database
from homeport.core.errors import Conflict, FieldError, ValidationFailed
from homeport.core.events import Event, publish
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
from homeport.simulator import behaviour, homenet, households, people, profiles, topology
from homeport.simulator.hardware import ACCESS
from homeport.simulator.households import Households
from homeport.simulator.lines import load_profiles
from homeport.simulator.models import SimHome
from homeport.simulator.writer import BulkWriter, to_datetime64
from homeport.subscribers.models import (
    LIFESTYLES,
    Bundle,
    Plan,
    Subscriber,
    subscriber_bundles,
)

MAX_SUBSCRIBERS = 2_000_000
MAX_DAYS = 3650
DEVICE_CHUNK_HOMES = 5000
ACTOR = Actor.system("simulator")
#: Line speed at most this share of the plan's headline. The panel's top tail (FTTP and cable
#: packages of 2013-2015 were over-provisioned, a few rows carry the wrong package) would give a
#: 500 Mbps plan 700 Mbps; today's tiers are provisioned just above their headline.
MAX_SPEED_FRACTION = 1.1


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


PLANS, BUNDLES, REGIONS, NODES, PORTS = (
    _table(m) for m in (Plan, Bundle, Region, AccessNode, Port)
)
SUBSCRIBERS, HOMES, GATEWAYS, MESH, DEVICES, SIM_HOMES = (
    _table(m) for m in (Subscriber, Home, Gateway, MeshNode, ClientDevice, SimHome)
)
#: Every table the simulator fills, parents first.
FLEET_TABLES: tuple[Table, ...] = (
    PLANS,
    BUNDLES,
    REGIONS,
    NODES,
    PORTS,
    SUBSCRIBERS,
    subscriber_bundles,
    HOMES,
    GATEWAYS,
    MESH,
    DEVICES,
    SIM_HOMES,
)


@dataclass(frozen=True)
class FleetGenerated(Event):
    seed: int
    subscribers: int
    signups: int
    churned: int


@dataclass(frozen=True)
class FleetSummary:
    seed: int
    #: The base built at ``started_at``; ``signups`` joined during the simulated days.
    subscribers: int
    signups: int
    #: Subscribers whose status is churned at ``now`` (before or during the simulated days).
    churned: int
    days: int
    started_at: datetime
    now: datetime
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total_subscribers(self) -> int:
        return self.subscribers + self.signups

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


def stream(seed: int, name: str, *extra: int) -> np.random.Generator:
    """An independent random stream for one subject of the simulation."""
    return np.random.default_rng([seed, zlib.crc32(name.encode()), *extra])


def validate_parameters(subscribers: int, seed: int, days: int) -> None:
    errors: list[FieldError] = []
    if not 1 <= subscribers <= MAX_SUBSCRIBERS:
        errors.append(FieldError("subscribers", f"must be between 1 and {MAX_SUBSCRIBERS:,}"))
    if not 0 <= seed < 2**63:
        errors.append(FieldError("seed", "must be a whole number from 0 to 2^63 - 1"))
    if not 0 <= days <= MAX_DAYS:
        errors.append(FieldError("days", f"must be between 0 and {MAX_DAYS}"))
    if errors:
        raise ValidationFailed("invalid simulation parameters", errors)


def existing_fleet(session: Session) -> dict[str, int]:
    """Rows already in the tables the simulator fills (only the non-empty ones)."""
    found: dict[str, int] = {}
    for table in FLEET_TABLES:
        count = session.execute(select(func.count()).select_from(table)).scalar_one()
        if count:
            found[table.name] = int(count)
    return found


def generate_fleet(
    db: Database,
    *,
    subscribers: int,
    seed: int,
    now: datetime,
    days: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> FleetSummary:
    """Generate a fleet of ``subscribers`` homes as of ``now - days``, then ``days`` of sign-ups
    and churn; write it in one transaction. ``progress(stage, done, total)`` follows along."""
    validate_parameters(subscribers, seed, days)
    try:
        now = utc(now)
    except ValueError as exc:
        raise ValidationFailed(str(exc), [FieldError("now", str(exc))]) from exc
    try:
        with db.transaction() as session:
            writer = BulkWriter(session.connection(), progress)
            writer.ensure_transaction()
            found = existing_fleet(session)
            if found:
                what = (
                    f"{found['subscribers']:,} subscribers"
                    if "subscribers" in found
                    else ", ".join(f"{n:,} rows in {t}" for t, n in found.items())
                )
                raise Conflict(
                    f"the database already has {what}: the simulator generates a "
                    "fleet only into an empty database, so as not to mix fleets; "
                    "use a fresh database"
                )
            with writer.bulk_load(FLEET_TABLES):
                summary = _generate(writer, subscribers=subscribers, seed=seed, now=now, days=days)
            writer.reset_sequences(FLEET_TABLES)
            record(
                session,
                at=now,
                actor=ACTOR,
                action="simulator.fleet_generated",
                entity_type="fleet",
                seed=seed,
                subscribers=summary.subscribers,
                signups=summary.signups,
                churned=summary.churned,
                days=days,
            )
            publish(
                session, FleetGenerated(seed, summary.subscribers, summary.signups, summary.churned)
            )
    except IntegrityError as exc:  # e.g. another fleet written at the same time
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise Conflict(f"the fleet could not be written, nothing was saved: {reason}") from exc
    return summary


def _generate(
    writer: BulkWriter, *, subscribers: int, seed: int, now: datetime, days: int
) -> FleetSummary:
    now64 = to_datetime64(now)
    regions = people.regions_for(subscribers)
    signups = behaviour.signup_count(stream(seed, "signups"), subscribers, days)
    n = subscribers + signups
    homes = households.draw(stream(seed, "homes"), n, regions)
    tech_names = np.array(TECHNOLOGIES)[homes.tech]

    rng = stream(seed, "lifecycle")
    lead = np.zeros(n)
    for t, tname in enumerate(TECHNOLOGIES):
        sel = homes.tech == t
        lead[sel] = rng.uniform(*ACCESS[tname].install_days, size=int(sel.sum()))
    life = behaviour.simulate(
        rng, base=subscribers, signups=signups, lead_days=lead, now=now64, days=days
    )

    _write_catalogue(writer)
    who = _write_subscribers(writer, stream(seed, "people"), homes, life)
    mesh = _write_bundles(writer, stream(seed, "bundles"), homes)
    topo = topology.build(
        stream(seed, "topology"),
        regions=regions,
        home_region=homes.region,
        home_tech=homes.tech,
        technologies=TECHNOLOGIES,
        postcode=who.postcode,
        city=homes.city,
    )
    done = 0
    total = sum(len(part["id"]) for part in (topo.regions, topo.nodes, topo.ports))
    for table, part in ((REGIONS, topo.regions), (NODES, topo.nodes), (PORTS, topo.ports)):
        done += writer.insert(table, part, stage="topology", done_before=done, total=total)

    ids = np.arange(1, n + 1)
    writer.insert(
        HOMES,
        {
            "id": ids,
            "subscriber_id": ids,
            "port_id": topo.home_port,
            "technology": tech_names.tolist(),
            "installed_at": life.activated_at,
        },
        stage="homes",
    )
    active = life.installed & ~life.churned
    rng = stream(seed, "gateways")
    reported = now64 - homenet.seconds(rng.uniform(0, 300, size=n))
    last_seen = np.where(
        life.churned,
        life.churned_at,
        np.where(life.installed, reported, np.datetime64("NaT", "us")),
    )
    gws = homenet.gateways(
        rng, technology=tech_names.tolist(), installed_at=life.activated_at, last_seen_at=last_seen
    )
    writer.insert(GATEWAYS, gws.columns, stage="gateways")

    rng = stream(seed, "mesh")
    counts = homenet.mesh_count(rng, homes.size, mesh & life.installed)
    writer.insert(
        MESH, homenet.mesh_nodes(rng, counts=counts, mesh_model=gws.mesh_model), stage="mesh"
    )

    _write_devices(
        writer,
        seed,
        homes,
        life,
        gws.wifi_6ghz,
        mesh & life.installed,
        who.first_name,
        active,
        now64,
    )
    _write_ground_truth(writer, seed, homes, tech_names)
    return FleetSummary(
        seed=seed,
        subscribers=subscribers,
        signups=signups,
        churned=int(life.churned.sum()),
        days=days,
        started_at=now - timedelta(days=days),
        now=now,
        counts=dict(writer.counts),
    )


def _write_catalogue(writer: BulkWriter) -> None:
    total = len(profiles.PLANS) + len(profiles.BUNDLES)
    writer.insert_rows(
        PLANS,
        [
            {
                "id": i + 1,
                "code": p.code,
                "name": p.name,
                "down_mbps": p.down_mbps,
                "up_mbps": p.up_mbps,
                "monthly_price": p.monthly_price,
                "currency": "GBP",
                "is_active": True,
            }
            for i, p in enumerate(profiles.PLANS)
        ],
        stage="catalogue",
        total=total,
    )
    writer.insert_rows(
        BUNDLES,
        [
            {
                "id": i + 1,
                "code": b.code,
                "name": b.name,
                "lifestyle": b.lifestyle,
                "description": b.description,
                "monthly_price": b.monthly_price,
            }
            for i, b in enumerate(profiles.BUNDLES)
        ],
        stage="catalogue",
        done_before=len(profiles.PLANS),
        total=total,
    )


def _write_subscribers(
    writer: BulkWriter, rng: np.random.Generator, homes: Households, life: behaviour.Lifecycle
) -> households.Contacts:
    contacts = households.contacts(rng, homes)
    n = len(homes.region)
    writer.insert(
        SUBSCRIBERS,
        {
            "id": np.arange(1, n + 1),
            "account_number": contacts.account_number,
            "name": contacts.name,
            "email": contacts.email,
            "phone": contacts.phone,
            "address": contacts.address,
            "city": homes.city,
            "postcode": contacts.postcode,
            "status": life.status.tolist(),
            "journey_stage": life.journey_stage.tolist(),
            "plan_id": homes.plan + 1,
            "preferred_channel": contacts.preferred_channel,
            "consent_email": contacts.consent_email,
            "consent_sms": contacts.consent_sms,
            "consent_marketing": contacts.consent_marketing,
            "consent_updated_at": life.signup_at,
            "activated_at": life.activated_at,
            "churned_at": life.churned_at,
            "created_at": life.signup_at,
            "updated_at": life.updated_at,
        },
        stage="subscribers",
    )
    return contacts


def _write_bundles(writer: BulkWriter, rng: np.random.Generator, homes: Households) -> np.ndarray:
    """Bundles per lifestyle; returns which homes took mesh Wi-Fi (they get satellites)."""
    takes = households.bundles(rng, homes)
    sub, bun = np.nonzero(takes)
    writer.insert(
        subscriber_bundles, {"subscriber_id": sub + 1, "bundle_id": bun + 1}, stage="bundles"
    )
    mesh_column = [b.code for b in profiles.BUNDLES].index(profiles.MESH_BUNDLE)
    return np.asarray(takes[:, mesh_column], dtype=bool)


def _write_devices(
    writer: BulkWriter,
    seed: int,
    homes: Households,
    life: behaviour.Lifecycle,
    wifi_6ghz: np.ndarray,
    mesh: np.ndarray,
    first: list[str],
    active: np.ndarray,
    now64: np.datetime64,
) -> None:
    n = len(homes.region)
    rng = stream(seed, "devices")
    counts = homenet.device_counts(
        rng, lifestyle=homes.lifestyle, people=homes.people, installed=life.installed
    )
    ctx = homenet.HomeContext(
        wifi_6ghz=wifi_6ghz,
        size=homes.size,
        mesh=mesh,
        coverage_db=rng.normal(0.0, 5.0, size=n),
        first_name=first,
        installed_at=life.activated_at,
        until=np.where(life.churned, life.churned_at, now64),
        active=active,
    )
    nic_a = int(rng.integers(0, 1 << 22)) * 2 + 1
    nic_b = int(rng.integers(0, 1 << 24))
    total = int(counts.sum())
    done = 0
    for chunk, start in enumerate(range(0, n, DEVICE_CHUNK_HOMES)):
        stop = min(n, start + DEVICE_CHUNK_HOMES)
        cols = homenet.devices(
            stream(seed, "devices", chunk),
            home_ids=np.arange(start + 1, stop + 1),
            counts=counts[start:stop],
            ctx=ctx,
            first_id=done + 1,
            nic_a=nic_a,
            nic_b=nic_b,
            now=now64,
        )
        done += writer.insert(DEVICES, cols, stage="devices", done_before=done, total=total)


def _write_ground_truth(
    writer: BulkWriter, seed: int, homes: Households, tech_names: np.ndarray
) -> None:
    n = len(homes.region)
    rng = stream(seed, "lines")
    lines = load_profiles()
    metrics = {
        m: np.zeros(n) for m in ("down_frac", "up_frac", "latency_ms", "jitter_ms", "loss_pct")
    }
    for tname in TECHNOLOGIES:
        idx = np.flatnonzero(tech_names == tname)
        drawn = lines.sample(rng, tname, len(idx))
        for m in metrics:
            metrics[m][idx] = drawn[m]
    down = np.array([p.down_mbps for p in profiles.PLANS])[homes.plan]
    up = np.array([p.up_mbps for p in profiles.PLANS])[homes.plan]
    writer.insert(
        SIM_HOMES,
        {
            "subscriber_id": np.arange(1, n + 1),
            # Each home's own seed, so later telemetry for one home is reproducible alone.
            "seed": rng.integers(0, 2**31 - 1, size=n),
            "lifestyle": np.array(LIFESTYLES, dtype=object)[homes.lifestyle].tolist(),
            "people": homes.people,
            "line_down_mbps": np.round(
                np.minimum(metrics["down_frac"], MAX_SPEED_FRACTION) * down, 1
            ),
            "line_up_mbps": np.round(np.minimum(metrics["up_frac"], MAX_SPEED_FRACTION) * up, 2),
            "line_latency_ms": np.round(metrics["latency_ms"], 1),
            "line_jitter_ms": np.round(metrics["jitter_ms"], 2),
            "line_loss_pct": np.round(metrics["loss_pct"], 3),
        },
        stage="ground truth",
    )
