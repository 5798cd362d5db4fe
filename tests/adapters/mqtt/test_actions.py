"""Remote actions over MQTT against the real broker and database: a queued action is marked sent
when its device's report is committed and published on ``<commands>/<device_id>``; the device's
result on ``<results>/<device_id>`` is applied; bad results are counted, never fatal."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from homeport.adapters.mqtt.broker import Broker, Subscription
from homeport.adapters.mqtt.consumer import MqttIngest, Options
from homeport.adapters.mqtt.store import parse, parse_result, result_store, telemetry_store
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.simulator import live
from homeport.telemetry.ingest import parse_one
from tests.adapters.mqtt.conftest import Background, Names, Publisher, report, wait_until
from tests.factories import Fleet, build_fleet, filler
from tests.remote_actions import audit_trail, load, queue

DEVICES = [f"GW-F{i:05d}" for i in range(1, 3)]


@pytest.fixture
def fleet(db: Database, clock: ManualClock) -> Fleet:
    return build_fleet(db, clock.now(), filler(len(DEVICES)))


class Device:
    """A gateway's MQTT side: receives commands on its topics, collects them."""

    def __init__(self, broker: Broker, topic_filter: str) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.client.subscribe(topic_filter, qos=1)
        assert self._subscribed.wait(10)

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        self.received.append((msg.topic, json.loads(msg.payload)))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscription(names: Names) -> Subscription:
    base = names.prefix.rsplit("/", 1)[0]
    return Subscription(names.prefix, None, f"{base}/commands", f"{base}/results")


@pytest.fixture
def device(broker: Broker, subscription: Subscription) -> Iterator[Device]:
    d = Device(broker, f"{subscription.commands_prefix}/+")
    yield d
    d.close()


def _queue(db: Database, fleet: Fleet, clock: ManualClock, account: str, device_id: str) -> int:
    return queue(
        db,
        fleet,
        clock,
        account=account,
        device_id=device_id,
        kind="set_channel",
        params={"band": "5GHz", "channel": 44},
        requested_by="policy:wifi",
    )


def _trail(db: Database, action_id: int) -> tuple[str, list[str]]:
    return load(db, action_id).status, audit_trail(db, action_id)


def _status(db: Database, action_id: int) -> str:
    return load(db, action_id).status


def _consumer(
    broker: Broker,
    client_id: str,
    subscription: Subscription,
    db: Database,
    settings: Settings,
    clock: ManualClock,
) -> MqttIngest:
    """The production ingest (store and result applier) on the test's topics."""
    return MqttIngest(
        broker,
        Options(client_id, subscription, batch_size=50, batch_ms=50),
        parse=parse,
        store=telemetry_store(db, settings.telemetry, clock),
        apply_result=result_store(db, clock),
    )


def test_a_command_is_published_after_the_report_and_its_result_applied(
    broker: Broker,
    names: Names,
    publisher: Publisher,
    device: Device,
    subscription: Subscription,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    fleet: Fleet,
) -> None:
    mine = _queue(db, fleet, clock, "FIL-0001", "GW-F00001")
    theirs = _queue(db, fleet, clock, "FIL-0002", "GW-F00002")
    ingest = _consumer(broker, names.client_id("a"), subscription, db, settings, clock)
    ingest.start()
    runner = Background(ingest.run)
    try:
        clock.advance(timedelta(seconds=10))
        publisher.publish(
            f"{names.prefix}/GW-F00001", report("GW-F00001", clock.now() - timedelta(seconds=5))
        )
        wait_until(lambda: len(device.received) == 1, what="the command")
        assert device.received == [
            (
                f"{subscription.commands_prefix}/GW-F00001",
                {"id": mine, "kind": "set_channel", "params": {"band": "5GHz", "channel": 44}},
            )
        ]
        assert _status(db, mine) == "sent"
        assert _status(db, theirs) == "queued"  # GW-F00002 has not reported
        assert ingest.metrics.value("homeport_mqtt_commands_total") == 1

        results = f"{subscription.results_prefix}"
        publisher.publish(
            f"{results}/GW-F00001", json.dumps({"id": mine, "status": "done", "detail": "ch 44"})
        )
        wait_until(lambda: _status(db, mine) == "done", what="the result")
        assert load(db, mine).result == {"via": "mqtt", "detail": "ch 44"}
        assert audit_trail(db, mine) == [
            "device_action.queued",
            "device_action.sent",
            "device_action.done",
        ]

        # Bad results: counted as rejected and logged; the consumer carries on.
        bad = [
            ("GW-F00001", b"\xff not json"),
            ("GW-F00001", json.dumps({"id": mine, "status": "failed"})),  # already done
            ("GW-F00002", json.dumps({"id": mine, "status": "done"})),  # not its action
            ("GW-F00002", json.dumps({"id": theirs, "status": "done"})),  # never sent
            ("GW-F00002", json.dumps({"id": theirs, "status": "rebooted"})),
            ("GW-F00002", json.dumps({"status": "done"})),
            ("a/b", json.dumps({"id": theirs, "status": "done"})),  # not a device topic
        ]
        for device_id, payload in bad:
            publisher.publish(f"{results}/{device_id}", payload)
        wait_until(
            lambda: (
                ingest.metrics.value("homeport_mqtt_messages_total", outcome="rejected")
                == len(bad) - 1
            ),  # "a/b" is two levels: not even delivered under <results>/+
            what="the rejected results",
        )
        assert _status(db, mine) == "done"
        assert _status(db, theirs) == "queued"
        assert ingest.metrics.value("homeport_mqtt_messages_total", outcome="result") == 1

        # The next report of GW-F00002 delivers its action; a second report delivers nothing.
        clock.advance(timedelta(seconds=10))
        for _ in range(2):
            clock.advance(timedelta(seconds=1))
            publisher.publish(
                f"{names.prefix}/GW-F00002",
                report("GW-F00002", clock.now() - timedelta(seconds=5)),
            )
        wait_until(
            lambda: ingest.metrics.value("homeport_mqtt_messages_total", outcome="accepted") == 3
        )
        wait_until(lambda: len(device.received) == 2, what="the second command")
        assert device.received[1][1]["id"] == theirs
        assert _status(db, theirs) == "sent"
    finally:
        runner.join()
        ingest.close()
    assert len(device.received) == 2


def test_parse_result_reasons() -> None:
    assert parse_result(b'{"id": 3, "status": "failed", "detail": "no"}')[0] == 3
    for payload, reason in [
        (b"[]", "JSON object"),
        (b'{"id": true, "status": "done"}', "positive integer"),
        (b'{"id": 0, "status": "done"}', "positive integer"),
        (b'{"id": 1, "status": "sent"}', "status"),
        (b'{"id": 1, "status": "done", "detail": "' + b"x" * 501 + b'"}', "detail"),
        (b'{"id": 1, "status": "done", "more": 1}', "more"),
    ]:
        with pytest.raises(ValueError, match=reason):
            parse_result(payload)


@pytest.fixture
def ingest(
    broker: Broker,
    names: Names,
    subscription: Subscription,
    db: Database,
    settings: Settings,
    clock: ManualClock,
) -> Iterator[MqttIngest]:
    consumer = _consumer(broker, names.client_id("ingest"), subscription, db, settings, clock)
    consumer.start()
    runner = Background(consumer.run)
    yield consumer
    runner.join()
    consumer.close()


def test_mqtt_gateways_acknowledge_their_actions(
    broker: Broker,
    subscription: Subscription,
    ingest: MqttIngest,
    db: Database,
    clock: ManualClock,
    fleet: Fleet,
) -> None:
    mine = _queue(db, fleet, clock, "FIL-0001", "GW-F00001")
    transport = live.MqttTransport(
        broker,
        prefix=subscription.prefix,
        commands_prefix=subscription.commands_prefix,
        results_prefix=subscription.results_prefix,
    )
    try:
        transport.check()
        out = transport.send([parse_one(report("GW-F00001", clock.now() - timedelta(seconds=30)))])
        assert out.sent == 1
        wait_until(lambda: _trail(db, mine)[0] == "done", what="the action to be done")
        assert transport.acknowledged == 1
        assert transport.send([]).actions == 1  # counted once, in the next delivery
        assert transport.send([]).actions == 0
    finally:
        transport.close()
    assert _trail(db, mine)[1] == [
        "device_action.queued",
        "device_action.sent",
        "device_action.done",
    ]
    assert ingest.metrics.value("homeport_mqtt_messages_total", outcome="result") == 1
    assert ingest.metrics.value("homeport_mqtt_messages_total", outcome="rejected") == 0
