"""Fleet generation: determinism, referential sanity, lifestyles, refusal and bad input."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from homeport.core.db import Database
from homeport.core.errors import Conflict, ValidationFailed
from homeport.network.models import AccessNode, ClientDevice, Gateway, Home, MeshNode, Port
from homeport.simulator.fleet import FLEET_TABLES, FleetGenerated, generate_fleet
from homeport.simulator.hardware import GATEWAYS
from homeport.simulator.models import SimHome
from homeport.simulator.people import luhn_digit
from homeport.subscribers.models import Bundle, Plan, Subscriber, subscriber_bundles

from .conftest import NOW, fleet_digest

NODE_KIND = {"fttp": "olt", "fttc": "dslam", "adsl": "dslam", "cable": "cmts", "fwa": "tower"}


def test_same_seed_gives_the_same_fleet_on_any_backend(
    db: Database, sqlite_db: Callable[[], Database]
) -> None:
    generate_fleet(db, subscribers=300, seed=11, now=NOW, days=20)
    other = sqlite_db()
    generate_fleet(other, subscribers=300, seed=11, now=NOW, days=20)
    assert fleet_digest(db) == fleet_digest(other)

    different = sqlite_db()
    generate_fleet(different, subscribers=300, seed=12, now=NOW, days=20)
    assert fleet_digest(different) != fleet_digest(other)


def test_summary_counts_match_the_tables(db: Database) -> None:
    events: list[FleetGenerated] = []
    db.bus.subscribe(FleetGenerated, events.append)
    stages: dict[str, tuple[int, int]] = {}
    summary = generate_fleet(
        db, subscribers=250, seed=5, now=NOW, progress=lambda s, d, t: stages.__setitem__(s, (d, t))
    )
    with db.session() as s:
        for table in FLEET_TABLES:
            rows = s.execute(select(func.count()).select_from(table)).scalar_one()
            assert summary.counts[table.name] == rows, table.name
        audit = s.execute(text("SELECT action, detail FROM audit_log")).all()
    assert summary.total_subscribers == summary.counts["subscribers"] == 250
    assert all(done == total for done, total in stages.values()), stages
    assert {"subscribers", "devices", "ground truth"} <= set(stages)
    assert events == [FleetGenerated(5, 250, 0, summary.churned)]
    assert len(audit) == 1 and audit[0][0] == "simulator.fleet_generated"


def test_references_topology_and_home_networks_are_consistent(db: Database) -> None:
    generate_fleet(db, subscribers=400, seed=3, now=NOW)
    with db.session() as s:
        homes = s.execute(
            select(
                Home.id,
                Home.technology,
                Home.installed_at,
                AccessNode.kind,
                Plan.code,
                Subscriber.activated_at,
            )
            .join(Port, Home.port_id == Port.id)
            .join(AccessNode, Port.access_node_id == AccessNode.id)
            .join(Subscriber, Home.subscriber_id == Subscriber.id)
            .join(Plan, Subscriber.plan_id == Plan.id)
        ).all()
        assert len(homes) == 400
        for _, tech, installed_at, kind, plan, activated_at in homes:
            assert kind == NODE_KIND[tech]
            assert plan.split("-")[0].lower() == tech
            assert installed_at == activated_at

        gateway_homes = s.execute(select(Gateway.home_id)).scalars().all()
        assert sorted(gateway_homes) == sorted(h[0] for h in homes)
        ids = s.execute(select(Gateway.device_id).order_by(Gateway.id)).scalars().all()
        assert ids[:2] == ["GW-000001", "GW-000002"]

        load = s.execute(
            select(Port.id, Port.capacity, func.count(Home.id))
            .join(Home, Home.port_id == Port.id)
            .group_by(Port.id)
        ).all()
        assert all(0 < used <= capacity for _, capacity, used in load)
        assert s.execute(select(func.count()).select_from(Port)).scalar_one() == len(load)

        devices = s.execute(
            select(ClientDevice, Home.installed_at, Gateway.model)
            .join(Home, ClientDevice.home_id == Home.id)
            .join(Gateway, Gateway.home_id == Home.id)
        ).all()
        six_ghz_models = {g.model for models in GATEWAYS.values() for g in models if g.wifi_6ghz}
        assert len(devices) > 400 * 5
        for dev, installed_at, gw_model in devices:
            assert installed_at and dev.first_seen_at and dev.last_seen_at
            assert installed_at <= dev.first_seen_at <= dev.last_seen_at <= NOW
            assert (dev.last_band is None) == (dev.last_rssi_dbm is None)
            if dev.last_rssi_dbm is not None:
                assert -95 <= dev.last_rssi_dbm <= -20
            if dev.last_band == "6GHz":
                assert dev.band_capability == "2.4+5+6" and gw_model in six_ghz_models
            if dev.last_band == "5GHz":
                assert dev.band_capability != "2.4"
        rssi = [d.last_rssi_dbm for d, _, _ in devices if d.last_rssi_dbm is not None]
        good = sum(r >= -67 for r in rssi) / len(rssi)
        assert 0.7 < good < 0.97  # most good, a tail of weak ones

        with_mesh = set(s.execute(select(MeshNode.home_id)).scalars())
        mesh_bundle = set(
            s.execute(
                select(subscriber_bundles.c.subscriber_id)
                .join(Bundle, Bundle.id == subscriber_bundles.c.bundle_id)
                .where(Bundle.code == "MESH-WIFI")
            ).scalars()
        )
        assert with_mesh and with_mesh <= mesh_bundle

        subs = s.execute(select(Subscriber)).scalars().all()
        emails = [x.email for x in subs if x.email]
        assert len(set(emails)) == len(emails)
        assert all(
            e == e.lower() and e.split("@")[1].endswith(("example", ".com", ".net", ".org"))
            for e in emails
        )
        for x in subs:
            digits = x.account_number[2:]
            assert x.account_number.startswith("HP") and len(digits) == 9
            assert luhn_digit(digits[:8]) == int(digits[8])
        truth = s.execute(
            select(SimHome, Plan.down_mbps)
            .join(Subscriber, SimHome.subscriber_id == Subscriber.id)
            .join(Plan, Subscriber.plan_id == Plan.id)
        ).all()
        assert len(truth) == 400
        for row, down in truth:
            assert 0 < row.line_down_mbps <= down * 1.1
            assert row.line_up_mbps > 0 and row.line_latency_ms > 0
            assert row.line_jitter_ms >= 0 and row.line_loss_pct >= 0


def test_ids_continue_after_the_fleet(db: Database) -> None:
    """Explicit ids must not leave PostgreSQL's sequences behind."""
    generate_fleet(db, subscribers=50, seed=1, now=NOW)
    with db.transaction() as s:
        plan = Plan(
            code="EXTRA", name="Extra", down_mbps=10, up_mbps=1, monthly_price=Decimal("1.00")
        )
        s.add(plan)
        s.flush()
        assert plan.id == 13


def _share_with(db: Database, lifestyle: str, kind: str) -> float:
    with db.session() as s:
        homes = s.execute(
            select(func.count())
            .select_from(SimHome)
            .join(Home, Home.subscriber_id == SimHome.subscriber_id)
            .where(SimHome.lifestyle == lifestyle, Home.installed_at.is_not(None))
        ).scalar_one()
        having = s.execute(
            select(func.count(func.distinct(ClientDevice.home_id)))
            .join(SimHome, SimHome.subscriber_id == ClientDevice.home_id)
            .where(SimHome.lifestyle == lifestyle, ClientDevice.kind == kind)
        ).scalar_one()
    return int(having) / int(homes)


def _mean_of_kind(db: Database, lifestyle: str, kind: str) -> float:
    with db.session() as s:
        homes = s.execute(
            select(func.count()).select_from(SimHome).where(SimHome.lifestyle == lifestyle)
        ).scalar_one()
        devices = s.execute(
            select(func.count())
            .select_from(ClientDevice)
            .join(SimHome, SimHome.subscriber_id == ClientDevice.home_id)
            .where(SimHome.lifestyle == lifestyle, ClientDevice.kind == kind)
        ).scalar_one()
    return int(devices) / int(homes)


def test_lifestyles_shape_the_device_mix(db: Database) -> None:
    generate_fleet(db, subscribers=500, seed=21, now=NOW)
    assert _share_with(db, "gaming", "console") > _share_with(db, "general", "console") + 0.4
    assert _mean_of_kind(db, "smart_home", "iot") > 4 * _mean_of_kind(db, "general", "iot")
    assert _mean_of_kind(db, "smart_home", "camera") > 3 * _mean_of_kind(db, "general", "camera")
    assert _mean_of_kind(db, "streaming", "streamer") > 2 * _mean_of_kind(db, "general", "streamer")
    assert (
        _mean_of_kind(db, "work_from_home", "laptop") > _mean_of_kind(db, "general", "laptop") + 0.8
    )
    with db.session() as s:
        iot_bands = s.execute(
            select(ClientDevice.band_capability, func.count())
            .where(ClientDevice.kind == "iot")
            .group_by(ClientDevice.band_capability)
        ).all()
    counts = dict(iot_bands)
    assert counts.get("2.4", 0) > 5 * counts.get("2.4+5", 0)


def test_refuses_a_database_that_has_a_fleet(db: Database) -> None:
    generate_fleet(db, subscribers=40, seed=1, now=NOW)
    before = _counts(db)
    with pytest.raises(Conflict, match="already has 40 subscribers"):
        generate_fleet(db, subscribers=40, seed=2, now=NOW)
    assert _counts(db) == before


def test_refuses_even_without_subscribers(db: Database) -> None:
    with db.transaction() as s:
        s.add(
            Plan(
                code="OWN",
                name="Own plan",
                down_mbps=100,
                up_mbps=10,
                monthly_price=Decimal("30.00"),
            )
        )
    with pytest.raises(Conflict, match="1 rows in plans"):
        generate_fleet(db, subscribers=10, seed=1, now=NOW)


def _counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {
            t.name: int(s.execute(select(func.count()).select_from(t)).scalar_one())
            for t in FLEET_TABLES
        }


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"subscribers": 0}, "subscribers"),
        ({"subscribers": 3_000_000}, "subscribers"),
        ({"seed": -1}, "seed"),
        ({"days": -1}, "days"),
        ({"days": 5000}, "days"),
        ({"now": datetime(2026, 1, 1)}, "now"),  # noqa: DTZ001 - naive on purpose
    ],
)
def test_rejects_bad_parameters(db: Database, kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"subscribers": 10, "seed": 1, "now": NOW, "days": 0} | kwargs
    with pytest.raises(ValidationFailed) as info:
        generate_fleet(db, **args)  # type: ignore[arg-type]
    assert [e.field for e in info.value.errors] == [field]
    assert all(n == 0 for n in _counts(db).values())


def test_days_run_the_lifecycle(db: Database) -> None:
    days = 90
    summary = generate_fleet(db, subscribers=1000, seed=8, now=NOW, days=days)
    start = NOW - timedelta(days=days)
    assert summary.started_at == start and summary.signups > 20
    with db.session() as s:
        subs = s.execute(select(Subscriber).order_by(Subscriber.id)).scalars().all()
        devices = s.execute(
            select(ClientDevice.last_seen_at, Subscriber.churned_at)
            .join(Subscriber, Subscriber.id == ClientDevice.home_id)
            .where(Subscriber.churned_at.is_not(None))
        ).all()
    assert len(subs) == 1000 + summary.signups
    new = [x for x in subs if x.created_at > start]
    assert len(new) == summary.signups
    assert [x.id for x in new] == list(range(1001, 1001 + len(new)))
    # ids follow sign-up time
    assert [x.created_at for x in new] == sorted(x.created_at for x in new)
    assert {x.journey_stage for x in new} >= {"established", "onboarding"}
    for x in subs:
        assert x.created_at <= x.updated_at <= NOW
        if x.journey_stage == "churned":
            assert x.status == "churned" and x.churned_at is not None
            assert x.activated_at and x.churned_at
            assert x.activated_at <= x.churned_at <= NOW
        else:
            assert x.churned_at is None
        if x.journey_stage in ("signup", "installation"):
            assert x.status == "onboarding" and x.activated_at is None
        elif x.journey_stage == "onboarding":
            assert x.activated_at is not None
            assert NOW - timedelta(days=30) < x.activated_at <= NOW
        elif x.journey_stage in ("established", "at_risk"):
            assert x.activated_at is not None
            assert x.activated_at <= NOW - timedelta(days=30)
    left = [x for x in subs if x.churned_at is not None and x.churned_at > start]
    monthly = len(left) / 1000 / (days / 30.4375)
    assert 0.004 < monthly < 0.03  # around 1.2 % a month
    assert summary.churned == sum(x.status == "churned" for x in subs)
    assert all(seen and churned and seen <= churned for seen, churned in devices)


def test_no_days_means_no_new_customers(db: Database) -> None:
    summary = generate_fleet(db, subscribers=300, seed=8, now=NOW)
    assert summary.signups == 0 and summary.started_at == NOW
    with db.session() as s:
        subs = s.execute(select(Subscriber)).scalars().all()
    assert all(x.created_at <= NOW for x in subs)
    churned = [x.churned_at for x in subs if x.churned_at is not None]
    assert churned and all(when <= NOW for when in churned)
    stages = {x.journey_stage for x in subs}
    assert {"established", "onboarding", "at_risk", "churned"} <= stages
