"""``homeport ingest --mqtt`` as real processes: kill -9 mid-stream and restart with nothing lost
or stored twice; two processes of one shared-subscription group split the messages; a clear
error when the broker is unreachable. Metrics are read from each process's endpoint."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from homeport.adapters.mqtt.broker import Broker
from homeport.core.db import Database
from homeport.telemetry.models import TelemetryReport
from tests.adapters.mqtt.conftest import Names, Publisher, series, wait_until
from tests.factories import build_fleet, filler

DEVICES = [f"GW-F{i:05d}" for i in range(1, 7)]
#: The real command line, with ``ingest`` registered on the main app as ``homeport`` does.
RUNNER = (
    "from homeport.cli.main import app\n"
    "from homeport.cli.ingest import ingest\n"
    "if not any(c.callback is ingest for c in app.registered_commands):\n"
    "    app.command()(ingest)\n"
    "app()\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Ingest:
    """One ``homeport ingest`` process; its log goes to a file the test can watch."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", RUNNER, "ingest", *args],
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_subscribed(self) -> None:
        wait_until(
            lambda: "subscribed to" in self.text() or self.proc.poll() is not None,
            what="the ingest process to subscribe",
        )
        assert self.proc.poll() is None, self.text()

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self._out.close()
        return code

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._out.close()


@pytest.fixture
def spawn(
    database_url: str, tmp_path: Path, broker: Broker
) -> Iterator[tuple[list[Ingest], dict[str, str]]]:
    env = dict(os.environ)
    env.update(
        HOMEPORT_DATABASE_URL=database_url,
        HOMEPORT_DATA_DIR=str(tmp_path / "data"),
        HOMEPORT_LOG_FORMAT="text",
        HOMEPORT_LOG_LEVEL="INFO",
    )
    started: list[Ingest] = []
    yield started, env
    for ingest in started:
        if ingest.proc.poll() is None:
            ingest.kill()


def start(spawn: tuple[list[Ingest], dict[str, str]], log: Path, *args: str) -> Ingest:
    started, env = spawn
    ingest = Ingest(list(args), env, log)
    started.append(ingest)
    return ingest


def common(broker: Broker, names: Names, client: str) -> list[str]:
    return [
        "--mqtt",
        str(broker),
        "--client-id",
        names.client_id(client),
        "--topic-prefix",
        names.prefix,
        "--batch-size",
        "50",
        "--batch-ms",
        "50",
    ]


def stored_keys(db: Database) -> list[tuple[str, datetime]]:
    with db.session() as s:
        rows = s.execute(select(TelemetryReport.device_id, TelemetryReport.ts))
        return [(device, ts) for device, ts in rows]


def metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = sample.name + "".join(f"{{{k}={v}}}" for k, v in sorted(sample.labels.items()))
            values[key] = sample.value
    return values


def expected_keys(messages: list[tuple[str, bytes]]) -> set[tuple[str, datetime]]:
    return {
        (device, datetime.fromisoformat(json.loads(payload)["ts"]).astimezone(UTC))
        for device, payload in messages
    }


def test_kill_9_mid_stream_then_restart_loses_nothing_and_stores_nothing_twice(
    broker: Broker,
    names: Names,
    publisher: Publisher,
    db: Database,
    spawn: tuple[list[Ingest], dict[str, str]],
    tmp_path: Path,
) -> None:
    build_fleet(db, datetime.now(UTC), filler(len(DEVICES)))
    args = common(broker, names, "ingest")
    first = start(spawn, tmp_path / "first.log", *args)
    first.wait_subscribed()

    total = 600
    messages = series(DEVICES, total, datetime.now(UTC))

    def publish_all() -> None:
        for i, (device, payload) in enumerate(messages):
            publisher.publish(f"{names.prefix}/{device}", payload)
            if i % 10 == 9:
                time.sleep(0.02)

    feeder = threading.Thread(target=publish_all)
    feeder.start()
    wait_until(lambda: len(stored_keys(db)) >= 100, what="the first 100 reports")
    first.kill()
    at_kill = len(stored_keys(db))
    feeder.join(timeout=60)
    assert not feeder.is_alive()
    assert at_kill < total, "the process was not killed mid-stream"
    assert len(stored_keys(db)) == at_kill, "a killed process went on storing"

    second = start(spawn, tmp_path / "second.log", *args)
    second.wait_subscribed()
    wait_until(lambda: len(stored_keys(db)) >= total, timeout=60, what=f"all {total} reports")
    time.sleep(0.5)  # anything delivered twice would land now
    assert second.terminate() == 0, second.text()
    keys = stored_keys(db)
    assert len(keys) == total
    assert set(keys) == expected_keys(messages)
    assert "session present: True" in second.text()


def test_two_processes_of_one_group_split_the_fleet(
    broker: Broker,
    names: Names,
    publisher: Publisher,
    db: Database,
    spawn: tuple[list[Ingest], dict[str, str]],
    tmp_path: Path,
) -> None:
    build_fleet(db, datetime.now(UTC), filler(len(DEVICES)))
    group = f"g{names.token}"
    ports = [free_port(), free_port()]
    workers = [
        start(
            spawn,
            tmp_path / f"worker{i}.log",
            *common(broker, names, f"w{i}"),
            "--group",
            group,
            "--metrics-port",
            str(ports[i]),
        )
        for i in range(2)
    ]
    for worker in workers:
        worker.wait_subscribed()
        assert f"subscribed to $share/{group}/{names.prefix}/+" in worker.text()

    total = 400
    messages = series(DEVICES, total, datetime.now(UTC))
    for device, payload in messages:
        publisher.publish(f"{names.prefix}/{device}", payload)
    wait_until(lambda: len(stored_keys(db)) >= total, timeout=60, what=f"all {total} reports")
    time.sleep(0.5)

    seen = [metrics(port) for port in ports]
    accepted = [m["homeport_mqtt_messages_total{outcome=accepted}"] for m in seen]
    assert sum(accepted) == total
    assert all(n > 0 for n in accepted), f"one process got nothing: {accepted}"
    assert [m["homeport_mqtt_messages_total{outcome=duplicate}"] for m in seen] == [0, 0]
    assert [m["homeport_mqtt_connected"] for m in seen] == [1, 1]
    for worker in workers:
        assert worker.terminate() == 0, worker.text()
    keys = stored_keys(db)
    assert len(keys) == total
    assert set(keys) == expected_keys(messages)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mqtt://127.0.0.1:{port}", "cannot reach the MQTT broker at mqtt://127.0.0.1:{port}"),
        ("http://127.0.0.1:{port}", "the broker URL must be mqtt://host[:port]"),
    ],
)
def test_startup_errors_are_clear(
    names: Names,
    spawn: tuple[list[Ingest], dict[str, str]],
    tmp_path: Path,
    url: str,
    message: str,
) -> None:
    port = free_port()
    ingest = start(
        spawn,
        tmp_path / "ingest.log",
        "--mqtt",
        url.format(port=port),
        "--client-id",
        names.client_id("x"),
    )
    assert ingest.proc.wait(timeout=30) == 1
    assert message.format(port=port) in " ".join(ingest.text().split())
