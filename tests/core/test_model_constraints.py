"""The database itself refuses impossible rows, whatever code writes them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from homeport.core.db import Database
from homeport.identity.models import StaffUser
from homeport.network.models import AccessNode, ClientDevice, Home, Port, Region
from homeport.subscribers.models import Plan, Subscriber
from tests.conftest import START


def _subscriber(**kw: object) -> Subscriber:
    values: dict[str, object] = dict(
        account_number="A1",
        name="Ann",
        email="ann@example.net",
        status="active",
        journey_stage="established",
        preferred_channel="email",
        created_at=START,
        updated_at=START,
    )
    values.update(kw)
    return Subscriber(**values)


def _rejects(db: Database, *rows: object) -> None:
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.add_all(rows)
        session.flush()


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "gone"},
        {"journey_stage": "limbo"},
        {"preferred_channel": "pigeon"},
        {"email": "Ann@Example.net"},
    ],
)
def test_subscriber_checks(db: Database, bad: dict[str, object]) -> None:
    _rejects(db, _subscriber(**bad))


def test_subscriber_account_number_is_unique(db: Database) -> None:
    with db.transaction() as session:
        session.add(_subscriber())
    _rejects(db, _subscriber(email="other@example.net"))


@pytest.mark.parametrize(
    "bad", [{"down_mbps": 0}, {"up_mbps": -1}, {"monthly_price": Decimal("-0.01")}]
)
def test_plan_checks(db: Database, bad: dict[str, object]) -> None:
    values: dict[str, object] = dict(
        code="P",
        name="P",
        down_mbps=100,
        up_mbps=20,
        monthly_price=Decimal("30"),
        currency="GBP",
        is_active=True,
    )
    values.update(bad)
    _rejects(db, Plan(**values))


def test_topology_and_home_network_constraints(db: Database) -> None:
    with db.transaction() as session:
        region = Region(code="N", name="North")
        node = AccessNode(region=region, code="OLT-1", kind="olt")
        session.add_all([region, node])
        session.flush()
        session.add(Port(access_node_id=node.id, name="0/1", capacity=32))
        sub = _subscriber()
        session.add(sub)
        session.flush()
        session.add(Home(subscriber_id=sub.id, technology="fttp"))
        node_id, sub_id = node.id, sub.id
    _rejects(db, AccessNode(region_id=1, code="X", kind="router"))  # not an access-node kind
    _rejects(db, Port(access_node_id=node_id, name="0/1", capacity=32))  # duplicate port
    _rejects(db, Port(access_node_id=node_id, name="0/2", capacity=0))
    _rejects(db, Port(access_node_id=999_999, name="0/3", capacity=8))  # foreign key
    _rejects(db, Home(subscriber_id=sub_id, technology="fttp"))  # one home per subscriber
    with db.session() as session:
        home_id = session.query(Home.id).scalar()
    _rejects(
        db,
        ClientDevice(
            home_id=home_id, mac="aa:bb:cc:00:00:01", kind="toaster", band_capability="2.4"
        ),
    )
    _rejects(
        db,
        ClientDevice(
            home_id=home_id,
            mac="aa:bb:cc:00:00:01",
            kind="phone",
            band_capability="2.4",
            last_rssi_dbm=40,
        ),
    )
    _rejects(
        db,
        ClientDevice(
            home_id=home_id,
            mac="aa:bb:cc:00:00:01",
            kind="phone",
            band_capability="2.4",
            last_band="60GHz",
        ),
    )


def test_staff_role_is_checked(db: Database) -> None:
    _rejects(db, StaffUser(email="x@example.net", role="overlord", created_at=START))
