"""The consumer against the real broker and database: reports land and are acknowledged only
once committed; bad messages are counted and acknowledged; a failing database holds the PUBACK."""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from homeport.adapters.mqtt.batch import Store, StoreOutcome
from homeport.adapters.mqtt.broker import Broker, Subscription
from homeport.adapters.mqtt.consumer import MqttIngest, Options
from homeport.adapters.mqtt.store import parse, telemetry_store
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import ServiceUnavailable
from homeport.core.settings import Settings
from homeport.telemetry.models import TelemetryReport
from homeport.telemetry.schemas import Report
from tests.adapters.mqtt.conftest import (
    Background,
    Names,
    Publisher,
    report,
    series,
    wait_until,
)
from tests.factories import build_fleet, filler

DEVICES = [f"GW-F{i:05d}" for i in range(1, 5)]


@pytest.fixture
def fleet(db: Database, clock: ManualClock) -> None:
    build_fleet(db, clock.now(), filler(len(DEVICES)))


def stored(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(TelemetryReport)) or 0


def consumer(broker: Broker, client_id: str, prefix: str, store: Store) -> MqttIngest:
    options = Options(client_id, Subscription(prefix), batch_size=50, batch_ms=50)
    return MqttIngest(broker, options, parse=parse, store=store)


def assert_nothing_redelivered(broker: Broker, client_id: str, prefix: str) -> None:
    """A new connection under the same client id gets nothing: every message was acked."""
    calls: list[int] = []

    def store(reports: Sequence[Report]) -> StoreOutcome:
        calls.append(len(reports))
        raise AssertionError("a message was delivered again")

    again = consumer(broker, client_id, prefix, store)
    again.start()
    runner = Background(again.run)
    time.sleep(1.5)
    runner.join()
    again.close()
    assert calls == []
    assert again.metrics.value("homeport_mqtt_connects_total") == 1


@pytest.mark.usefixtures("fleet")
def test_reports_land_and_are_acknowledged(
    broker: Broker,
    names: Names,
    publisher: Publisher,
    db: Database,
    settings: Settings,
    clock: ManualClock,
) -> None:
    client_id = names.client_id("a")
    ingest = consumer(
        broker, client_id, names.prefix, telemetry_store(db, settings.telemetry, clock)
    )
    ingest.start()
    runner = Background(ingest.run)
    messages = series(DEVICES, 120, clock.now())
    for device, payload in messages:
        publisher.publish(f"{names.prefix}/{device}", payload)
    wait_until(lambda: stored(db) == 120, what="120 stored reports")
    # The same report again is a duplicate, not a second row.
    publisher.publish(f"{names.prefix}/{messages[0][0]}", messages[0][1])
    wait_until(
        lambda: ingest.metrics.value("homeport_mqtt_messages_total", outcome="duplicate") == 1
    )
    runner.join()
    ingest.close()
    assert stored(db) == 120
    assert ingest.metrics.value("homeport_mqtt_messages_total", outcome="accepted") == 120
    assert ingest.metrics.value("homeport_mqtt_messages_total", outcome="rejected") == 0
    with db.session() as s:
        assert set(s.scalars(select(TelemetryReport.source))) == {"mqtt"}
    assert_nothing_redelivered(broker, client_id, names.prefix)


@pytest.mark.usefixtures("fleet")
def test_bad_messages_are_counted_acknowledged_and_do_not_block_good_ones(
    broker: Broker,
    names: Names,
    publisher: Publisher,
    db: Database,
    settings: Settings,
    clock: ManualClock,
) -> None:
    client_id = names.client_id("a")
    ingest = consumer(
        broker, client_id, names.prefix, telemetry_store(db, settings.telemetry, clock)
    )
    ingest.start()
    runner = Background(ingest.run)
    now = clock.now()
    good = [(d, report(d, now - timedelta(minutes=1))) for d in DEVICES]
    bad = [
        ("GW-F00001", b"\xff\xfe not json"),
        ("GW-F00001", report("GW-F00001", now, latency_ms=-1)),  # out of bounds
        ("GW-F00002", report("GW-F00003", now)),  # topic names another device
        ("GW-UNKNOWN", report("GW-UNKNOWN", now)),  # no such gateway
        ("GW-F00004", report("GW-F00004", now + timedelta(days=2))),  # from the future
    ]
    for device, payload in [bad[0], good[0], *bad[1:3], good[1], *bad[3:], *good[2:]]:
        publisher.publish(f"{names.prefix}/{device}", payload)
    wait_until(
        lambda: ingest.metrics.value("homeport_mqtt_messages_total", outcome="rejected") == 5,
        what="5 rejections",
    )
    wait_until(lambda: stored(db) == 4, what="the 4 good reports")
    runner.join()
    ingest.close()
    assert ingest.metrics.value("homeport_mqtt_messages_total", outcome="accepted") == 4
    with db.session() as s:
        assert sorted(s.scalars(select(TelemetryReport.device_id))) == DEVICES
    assert_nothing_redelivered(broker, client_id, names.prefix)


@pytest.mark.usefixtures("fleet")
def test_nothing_is_acknowledged_before_it_is_committed(
    broker: Broker,
    names: Names,
    publisher: Publisher,
    db: Database,
    settings: Settings,
    clock: ManualClock,
) -> None:
    """While the database is down the batch is retried and never acknowledged; a process that
    stops then leaves the messages with the broker, and the next one stores them all."""

    def down(_reports: Sequence[Report]) -> StoreOutcome:
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    client_id = names.client_id("a")
    first = consumer(broker, client_id, names.prefix, down)
    first.start()
    runner = Background(first.run)
    for device, payload in series(DEVICES, 8, clock.now()):
        publisher.publish(f"{names.prefix}/{device}", payload)
    wait_until(lambda: first.metrics.value("homeport_mqtt_store_errors_total") >= 2)
    runner.join()
    first.close()
    assert stored(db) == 0

    second = consumer(
        broker, client_id, names.prefix, telemetry_store(db, settings.telemetry, clock)
    )
    second.start()
    runner = Background(second.run)
    wait_until(lambda: stored(db) == 8, what="the 8 reports delivered again")
    runner.join()
    second.close()
    assert second.metrics.value("homeport_mqtt_messages_total", outcome="accepted") == 8


@pytest.mark.usefixtures("fleet")
def test_database_outage_is_retried_and_stores_each_report_once(
    broker: Broker,
    names: Names,
    publisher: Publisher,
    db: Database,
    settings: Settings,
    clock: ManualClock,
) -> None:
    real = telemetry_store(db, settings.telemetry, clock)
    failures = [2]

    def flaky(reports: Sequence[Report]) -> StoreOutcome:
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))
        return real(reports)

    ingest = consumer(broker, names.client_id("a"), names.prefix, flaky)
    ingest.start()
    runner = Background(ingest.run)
    for device, payload in series(DEVICES, 12, clock.now()):
        publisher.publish(f"{names.prefix}/{device}", payload)
    wait_until(lambda: stored(db) == 12, what="12 stored reports")
    runner.join()
    ingest.close()
    assert ingest.metrics.value("homeport_mqtt_store_errors_total") == 2
    assert ingest.metrics.value("homeport_mqtt_messages_total", outcome="accepted") == 12


@pytest.mark.usefixtures("fleet")
def test_a_report_the_database_refuses_does_not_hold_up_its_batch(
    broker: Broker,
    names: Names,
    publisher: Publisher,
    db: Database,
    settings: Settings,
    clock: ManualClock,
) -> None:
    real = telemetry_store(db, settings.telemetry, clock)

    def picky(reports: Sequence[Report]) -> StoreOutcome:
        if any(r.device_id == "GW-F00002" for r in reports):
            raise IntegrityError("INSERT", {}, Exception("violates a constraint"))
        return real(reports)

    client_id = names.client_id("a")
    ingest = consumer(broker, client_id, names.prefix, picky)
    ingest.start()
    runner = Background(ingest.run)
    for device, payload in series(DEVICES, 8, clock.now()):
        publisher.publish(f"{names.prefix}/{device}", payload)
    wait_until(lambda: stored(db) == 6, what="the 6 reports of the other devices")
    wait_until(
        lambda: ingest.metrics.value("homeport_mqtt_messages_total", outcome="rejected") == 2
    )
    runner.join()
    ingest.close()
    assert_nothing_redelivered(broker, client_id, names.prefix)


def test_unreachable_broker_is_a_clear_error(names: Names) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ingest = MqttIngest(
        Broker("127.0.0.1", port),
        Options(names.client_id("a")),
        parse=parse,
        store=lambda reports: pytest.fail("nothing to store"),
    )
    with pytest.raises(ServiceUnavailable) as caught:
        ingest.start()
    assert caught.value.message == (
        f"cannot reach the MQTT broker at mqtt://127.0.0.1:{port}: Connection refused"
    )
