"""The MQTT tests run against the real broker on this machine (Mosquitto, 127.0.0.1:1883 unless
``HOMEPORT_TEST_MQTT_URL`` says otherwise). Without a broker they are skipped, or fail when
``HOMEPORT_REQUIRE_MQTT=1`` (CI). Every test uses its own topic prefix and client ids, and
deletes the broker sessions it created."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from homeport.adapters.mqtt.broker import Broker

# Read when the module is imported: the autouse fixture in conftest.py clears HOMEPORT_*.
MQTT_URL = os.environ.get("HOMEPORT_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
REQUIRE_MQTT = os.environ.get("HOMEPORT_REQUIRE_MQTT") == "1"
BROKER = Broker.parse(MQTT_URL)


def broker_reachable() -> bool:
    try:
        with socket.create_connection((BROKER.host, BROKER.port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def broker() -> Broker:
    if not broker_reachable():
        message = f"no MQTT broker at {BROKER}"
        if REQUIRE_MQTT:
            pytest.fail(message + " and HOMEPORT_REQUIRE_MQTT=1")
        pytest.skip(message)
    return BROKER


@dataclass
class Names:
    """A unique topic prefix and client ids for one test; sessions are deleted afterwards."""

    token: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    client_ids: list[str] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"hp-test-{self.token}/telemetry"

    def client_id(self, name: str) -> str:
        client_id = f"hp-test-{self.token}-{name}"
        self.client_ids.append(client_id)
        return client_id


def forget_session(broker: Broker, client_id: str) -> None:
    """Connect once with a clean start and no session expiry: the broker drops the session."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0
    try:
        client.connect(broker.host, broker.port, clean_start=True, properties=props)
        client.loop_start()
        time.sleep(0.1)
        client.disconnect()
        client.loop_stop()
    except OSError:
        pass


@pytest.fixture
def names(broker: Broker) -> Iterator[Names]:
    found = Names()
    yield found
    for client_id in found.client_ids:
        forget_session(broker, client_id)


class Publisher:
    """A QoS 1 publisher that waits for every PUBACK from the broker."""

    def __init__(self, broker: Broker) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes | str) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=10)
        assert info.is_published(), f"the broker did not acknowledge {topic}"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher(broker: Broker) -> Iterator[Publisher]:
    pub = Publisher(broker)
    yield pub
    pub.close()


def report(device_id: str, ts: datetime, **wan: Any) -> bytes:
    body = {
        "device_id": device_id,
        "ts": ts.isoformat(),
        "uptime_s": 86_400,
        "wan": {"status": "up", "down_mbps": 480.0, "latency_ms": 9.5, **wan},
        "radios": [{"band": "5GHz", "channel": 36, "width_mhz": 80, "utilization_pct": 22.0}],
        "clients": [{"mac": "f0:00:00:00:01:00", "band": "5GHz", "rssi_dbm": -58}],
    }
    return json.dumps(body).encode()


def series(devices: list[str], n: int, end: datetime) -> list[tuple[str, bytes]]:
    """``n`` reports spread over ``devices``, each (device, ts) unique, all before ``end``."""
    out = []
    for i in range(n):
        device = devices[i % len(devices)]
        ts = end - timedelta(seconds=30 * (i // len(devices)) + 1)
        out.append((device, report(device, ts)))
    return out


def wait_until(check: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


class Background:
    """Runs a consumer's loop on a thread until stopped."""

    def __init__(self, run: Callable[[threading.Event], None]) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=run, args=(self.stop,), daemon=True)
        self.thread.start()

    def join(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
