"""Writes of the network domain: topology upserts and homes on ports, with their rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from homeport.audit.models import AuditEntry
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import NotFound, ValidationFailed
from homeport.core.events import Event
from homeport.network import actions
from homeport.network.models import AccessNode, Home, Port
from homeport.network.schemas import AccessNodeIn, HomeIn, PortIn, RegionIn
from homeport.subscribers import actions as sub_actions
from homeport.subscribers.models import Subscriber
from homeport.subscribers.schemas import PlanIn, SubscriberIn
from tests.conftest import TEST_ACTOR


@pytest.fixture
def events(db: Database) -> list[Event]:
    seen: list[Event] = []
    db.bus.subscribe(Event, seen.append)
    return seen


def _topology(db: Database, clock: ManualClock, *, capacity: int = 2) -> None:
    now = clock.now()
    with db.transaction() as s:
        actions.upsert_region(s, RegionIn(code="N", name="North"), actor=TEST_ACTOR, now=now)
        for code, kind in (("OLT-1", "olt"), ("DSLAM-1", "dslam")):
            actions.upsert_access_node(
                s, AccessNodeIn(code=code, region_code="N", kind=kind), actor=TEST_ACTOR, now=now
            )
            actions.upsert_port(
                s,
                PortIn(access_node_code=code, name="1", capacity=capacity),
                actor=TEST_ACTOR,
                now=now,
            )
        actions.upsert_port(
            s, PortIn(access_node_code="OLT-1", name="2"), actor=TEST_ACTOR, now=now
        )


def _subscribers(db: Database, clock: ManualClock, *accounts: str) -> list[int]:
    with db.transaction() as s:
        sub_actions.upsert_plan(
            s,
            PlanIn(code="P", name="Plan", down_mbps=100, up_mbps=20, monthly_price=Decimal(30)),
            actor=TEST_ACTOR,
            now=clock.now(),
        )
        subs = [
            sub_actions.upsert_subscriber(
                s,
                SubscriberIn(
                    account_number=a,
                    name=a,
                    email="",
                    plan_code="P",
                    status="active",
                    journey_stage="established",
                ),
                actor=TEST_ACTOR,
                now=clock.now(),
            ).row
            for a in accounts
        ]
    return [sub.id for sub in subs]


def _home(db: Database, sub_id: int) -> Home:
    with db.session() as s:
        home = s.scalar(select(Home).where(Home.subscriber_id == sub_id))
        assert home is not None
        return home


def test_topology_upserts_create_then_update(
    db: Database, clock: ManualClock, events: list[Event]
) -> None:
    _topology(db, clock)
    names = [type(e).__name__ for e in events]
    assert names.count("RegionCreated") == 1 and names.count("PortCreated") == 3
    assert all(getattr(e, "port_id", 1) for e in events)  # ids filled in at the flush
    now = clock.now()
    with db.transaction() as s:
        region = actions.upsert_region(
            s, RegionIn(code="N", name="North"), actor=TEST_ACTOR, now=now
        )
        assert region.outcome == "unchanged"
        node = actions.upsert_access_node(
            s,
            AccessNodeIn(
                code="OLT-1", region_code="N", kind="olt", vendor="Nokia", model="ISAM FX"
            ),
            actor=TEST_ACTOR,
            now=now,
        )
        assert node.changed == ("vendor", "model")
        port = actions.upsert_port(
            s, PortIn(access_node_code="OLT-1", name="1", capacity=32), actor=TEST_ACTOR, now=now
        )
        assert port.changed == ("capacity",)
        kept = actions.upsert_port(
            s, PortIn(access_node_code="OLT-1", name="2"), actor=TEST_ACTOR, now=now
        )
        assert kept.outcome == "unchanged" and kept.row.capacity == 64
    with db.session() as s:
        actions_logged = list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions_logged[-2:] == ["access_node.updated", "port.updated"]


def test_a_node_can_move_region_but_needs_a_known_one(db: Database, clock: ManualClock) -> None:
    _topology(db, clock)
    with db.transaction() as s:
        actions.upsert_region(
            s, RegionIn(code="S", name="South"), actor=TEST_ACTOR, now=clock.now()
        )
        moved = actions.upsert_access_node(
            s,
            AccessNodeIn(code="OLT-1", region_code="S", kind="olt"),
            actor=TEST_ACTOR,
            now=clock.now(),
        )
        assert moved.changed == ("region_id",) and moved.row.region.code == "S"
    with pytest.raises(ValidationFailed) as caught, db.transaction() as s:
        actions.upsert_access_node(
            s,
            AccessNodeIn(code="OLT-9", region_code="W", kind="olt"),
            actor=TEST_ACTOR,
            now=clock.now(),
        )
    assert caught.value.errors[0].field == "region_code"
    with pytest.raises(ValidationFailed, match="unknown access node"), db.transaction() as s:
        actions.upsert_port(
            s, PortIn(access_node_code="OLT-9", name="1"), actor=TEST_ACTOR, now=clock.now()
        )


def test_attach_home_creates_moves_and_checks(
    db: Database, clock: ManualClock, events: list[Event]
) -> None:
    _topology(db, clock)
    ann, bob, cat = _subscribers(db, clock, "A-1", "A-2", "A-3")
    now = clock.now()
    fttp_1 = HomeIn(technology="fttp", access_node_code="OLT-1", port="1")
    with db.transaction() as s:
        saved = actions.attach_home(s, ann, fttp_1, actor=TEST_ACTOR, now=now)
        assert saved.created
    home = _home(db, ann)
    assert home.technology == "fttp" and home.port is not None and home.port.name == "1"
    assert isinstance(events[-1], actions.HomeAttached) and events[-1].home_id == home.id
    with db.transaction() as s:
        assert actions.attach_home(s, ann, fttp_1, actor=TEST_ACTOR, now=now).outcome == "unchanged"
        # No port given: the home stays where it is.
        assert (
            actions.attach_home(
                s, ann, HomeIn(technology="fttp"), actor=TEST_ACTOR, now=now
            ).outcome
            == "unchanged"
        )
        moved = actions.attach_home(
            s, ann, HomeIn(access_node_code="OLT-1", port="2"), actor=TEST_ACTOR, now=now
        )
        assert moved.changed == ("port_id",)
    assert events[-1] == actions.HomeAttached(home.id, ann, "fttp", moved.row.port_id, home.port_id)

    def refused(sub_id: int, data: HomeIn) -> tuple[str, str]:
        with pytest.raises(ValidationFailed) as caught, db.transaction() as s:
            actions.attach_home(s, sub_id, data, actor=TEST_ACTOR, now=now)
        return caught.value.errors[0].field, caught.value.errors[0].message

    field, message = refused(bob, HomeIn(technology="adsl", access_node_code="OLT-1", port="1"))
    assert field == "technology" and "needs a port on a DSLAM, but OLT-1 is an OLT" in message
    assert refused(bob, HomeIn(access_node_code="OLT-1", port="1"))[0] == "technology"
    assert refused(bob, HomeIn(technology="fttp", access_node_code="OLT-1", port="9")) == (
        "port",
        "access node OLT-1 has no port '9'",
    )
    assert refused(bob, HomeIn(technology="fttp", access_node_code="X", port="1"))[0] == (
        "access_node_code"
    )
    # Changing technology alone is checked against the current port too.
    assert refused(ann, HomeIn(technology="cable"))[0] == "technology"
    with pytest.raises(NotFound), db.transaction() as s:
        actions.attach_home(s, cat + 100, fttp_1, actor=TEST_ACTOR, now=now)


def test_a_port_takes_no_more_homes_than_its_capacity(db: Database, clock: ManualClock) -> None:
    _topology(db, clock, capacity=2)
    subs = _subscribers(db, clock, "A-1", "A-2", "A-3")
    data = HomeIn(technology="fttp", access_node_code="OLT-1", port="1")
    with db.transaction() as s:
        for sub_id in subs[:2]:
            actions.attach_home(s, sub_id, data, actor=TEST_ACTOR, now=clock.now())
    with pytest.raises(ValidationFailed, match="port full") as caught, db.transaction() as s:
        actions.attach_home(s, subs[2], data, actor=TEST_ACTOR, now=clock.now())
    assert "is full (2 of 2 homes)" in caught.value.errors[0].message
    # The same check with the batch cache, where the count is kept in memory.
    with pytest.raises(ValidationFailed, match="port full"), db.transaction() as s:
        known = actions.Known().fetch(s, ports=[("OLT-1", "1")])
        port = known.ports[("OLT-1", "1")]
        assert port is not None and known.port_load[port] == 2
        actions.attach_home(s, subs[2], data, actor=TEST_ACTOR, now=clock.now(), known=known)
    # Capacity cannot drop below the homes already there.
    with pytest.raises(ValidationFailed, match="capacity below"), db.transaction() as s:
        actions.upsert_port(
            s,
            PortIn(access_node_code="OLT-1", name="1", capacity=1),
            actor=TEST_ACTOR,
            now=clock.now(),
        )


def test_node_kind_change_is_refused_while_homes_need_the_old_kind(
    db: Database, clock: ManualClock
) -> None:
    _topology(db, clock)
    (ann,) = _subscribers(db, clock, "A-1")
    with db.transaction() as s:
        actions.attach_home(
            s,
            ann,
            HomeIn(technology="fttc", access_node_code="DSLAM-1", port="1"),
            actor=TEST_ACTOR,
            now=clock.now(),
        )
    with pytest.raises(ValidationFailed) as caught, db.transaction() as s:
        actions.upsert_access_node(
            s,
            AccessNodeIn(code="DSLAM-1", region_code="N", kind="olt"),
            actor=TEST_ACTOR,
            now=clock.now(),
        )
    assert caught.value.errors[0].field == "kind"
    with db.transaction() as s:  # a node without homes may change kind
        changed = actions.upsert_access_node(
            s,
            AccessNodeIn(code="OLT-1", region_code="N", kind="tower"),
            actor=TEST_ACTOR,
            now=clock.now(),
        )
        assert changed.changed == ("kind",)


def test_known_finds_rows_and_remembers_absent_ones(db: Database, clock: ManualClock) -> None:
    _topology(db, clock)
    (ann,) = _subscribers(db, clock, "A-1")
    with db.transaction() as s:
        actions.attach_home(
            s,
            ann,
            HomeIn(technology="fttp", access_node_code="OLT-1", port="1"),
            actor=TEST_ACTOR,
            now=clock.now(),
        )
    with db.session() as s:
        sub = s.get(Subscriber, ann)
        assert sub is not None
        known = actions.Known().fetch(
            s,
            regions=["N", "Z"],
            nodes=["OLT-1"],
            ports=[("OLT-1", "1"), ("OLT-1", "7"), ("Q", "1")],
            homes_of=[sub],
        )
        assert known.regions["Z"] is None and known.nodes["Q"] is None
        port = known.ports[("OLT-1", "1")]
        assert port is not None and known.ports[("OLT-1", "7")] is None
        assert known.port_load[port] == 1 and known.homes["A-1"] is not None
        # Every port of a fetched node is known, and lookups no longer query.
        assert known.ports[("OLT-1", "2")] is not None
        assert actions.node_by_code(s, "Q", known) is None


def _count(db: Database, model: Any) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_a_failed_action_leaves_the_transaction_to_roll_back(
    db: Database, clock: ManualClock
) -> None:
    with pytest.raises(ValidationFailed), db.transaction() as s:
        actions.upsert_region(
            s, RegionIn(code="N", name="North"), actor=TEST_ACTOR, now=clock.now()
        )
        actions.upsert_access_node(
            s,
            AccessNodeIn(code="OLT-1", region_code="N", kind="olt"),
            actor=TEST_ACTOR,
            now=clock.now(),
        )
        actions.upsert_port(
            s, PortIn(access_node_code="NOPE", name="1"), actor=TEST_ACTOR, now=clock.now()
        )
    assert (_count(db, AccessNode), _count(db, Port), _count(db, AuditEntry)) == (0, 0, 0)
