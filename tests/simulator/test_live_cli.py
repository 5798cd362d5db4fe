"""``homeport simulate --live`` as a real process: over HTTP into a running server, and over the
real Mosquitto broker into a real ``homeport ingest --mqtt`` process; the reports land and the
injected faults become findings. Clear errors for bad flags and unreachable receivers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from homeport.adapters.mqtt.broker import Broker
from homeport.cli.main import app
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.health.models import Finding
from homeport.simulator.faults import EXPECTED
from homeport.simulator.fleet import generate_fleet
from homeport.simulator.models import SimFault
from homeport.telemetry.models import TelemetryReport
from homeport.web.app import create_app
from tests.adapters.mqtt.conftest import (
    BROKER,
    REQUIRE_MQTT,
    Names,
    broker_reachable,
    forget_session,
    wait_until,
)
from tests.cli.serving import ServerThread
from tests.simulator.test_live import telemetry_token

runner = CliRunner()
SENT = re.compile(r"([\d,]+) reports sent")


def now_floor() -> datetime:
    """The real present, on a report boundary: the receivers run on the real clock."""
    t = int(time.time()) // 300 * 300
    return datetime.fromtimestamp(t, UTC)


@pytest.fixture
def broker() -> Broker:
    if not broker_reachable():
        if REQUIRE_MQTT:
            pytest.fail(f"no MQTT broker at {BROKER} and HOMEPORT_REQUIRE_MQTT=1")
        pytest.skip(f"no MQTT broker at {BROKER}")
    return BROKER


@pytest.fixture
def names(broker: Broker) -> Iterator[Names]:
    found = Names()
    yield found
    for client_id in found.client_ids:
        forget_session(broker, client_id)


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    environ = dict(os.environ)
    environ.update(
        HOMEPORT_DATABASE_URL=database_url,
        HOMEPORT_DATA_DIR=str(tmp_path / "data"),
        HOMEPORT_LOG_FORMAT="text",
        HOMEPORT_LOG_LEVEL="INFO",
        COLUMNS="250",
    )
    return environ


def homeport(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "homeport.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def sent(output: str) -> int:
    match = SENT.search(output)
    assert match, output
    return int(match.group(1).replace(",", ""))


def source_count(db: Database, source: str) -> int:
    with db.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(TelemetryReport)
                .where(TelemetryReport.source == source)
            )
            or 0
        )


def assert_faults_found(db: Database) -> None:
    """Every reboot loop and weak-coverage fault of the run was found on its home."""
    with db.session() as session:
        truth = [
            f
            for f in session.scalars(select(SimFault))
            if f.kind in ("reboot_loop", "weak_coverage")
        ]
        found = {(f.home_id, f.kind) for f in session.scalars(select(Finding))}
    assert truth
    for fault in truth:
        assert any((fault.home_id, kind) in found for kind in EXPECTED[fault.kind]), fault.kind


def test_live_over_http_into_a_running_server(
    db: Database, settings: Settings, env: dict[str, str]
) -> None:
    present = now_floor()
    generate_fleet(db, subscribers=40, seed=7, now=present - timedelta(days=1))
    token = telemetry_token(db, ManualClock(present))
    start = present - timedelta(hours=3)
    with ServerThread(create_app(settings, db=db)) as server:  # on the real clock
        done = homeport(
            env,
            "simulate",
            "--live",
            "--url",
            server.url,
            "--token",
            token,
            "--start",
            start.isoformat(),
            "--duration",
            "7200",
            "--speed",
            "100000",
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "24 ticks" in done.stdout and "0 rejected" in done.stdout, done.stdout
    assert source_count(db, "http") == sent(done.stdout) > 0
    assert_faults_found(db)  # the server's health pipeline ran on each batch


def test_live_over_mqtt_into_the_ingest_process(
    db: Database, env: dict[str, str], broker: Broker, names: Names, tmp_path: Path
) -> None:
    present = now_floor()
    generate_fleet(db, subscribers=40, seed=7, now=present - timedelta(days=1))
    log = tmp_path / "ingest.log"
    with log.open("wb") as out:
        ingest = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "homeport.cli",
                "ingest",
                "--mqtt",
                str(broker),
                "--client-id",
                names.client_id("ingest"),
                "--topic-prefix",
                names.prefix,
                "--batch-size",
                "200",
                "--batch-ms",
                "50",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(
                lambda: "subscribed to" in log.read_text() or ingest.poll() is not None,
                what="the ingest process to subscribe",
            )
            assert ingest.poll() is None, log.read_text()
            done = homeport(
                env,
                "simulate",
                "--live",
                "--transport",
                "mqtt",
                "--mqtt",
                str(broker),
                "--topic-prefix",
                names.prefix,
                "--start",
                (present - timedelta(hours=3)).isoformat(),
                "--duration",
                "7200",
                "--speed",
                "100000",
            )
            assert done.returncode == 0, done.stdout + done.stderr
            published = sent(done.stdout)
            assert published > 0 and "24 ticks" in done.stdout
            wait_until(
                lambda: source_count(db, "mqtt") == published,
                what=f"{published} reports stored by the ingest process",
            )
            wait_until(lambda: _found(db), what="the faults' findings")
            assert_faults_found(db)
        finally:
            ingest.send_signal(signal.SIGTERM)
            assert ingest.wait(timeout=30) == 0, log.read_text()


def _found(db: Database) -> bool:
    try:
        assert_faults_found(db)
    except AssertionError:
        return False
    return True


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    monkeypatch.setenv("HOMEPORT_DATABASE_URL", url)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    return url


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--subscribers", "10"], "--live uses the stored one"),
        ([], "needs --url and --token"),
        (["--url", "http://127.0.0.1:9"], "needs --url and --token"),
        (["--transport", "mqtt"], "needs --mqtt"),
        (["--transport", "mqtt", "--mqtt", "mqtt://127.0.0.1:9"], "cannot reach the MQTT broker"),
        (["--url", "http://127.0.0.1:9", "--token", "hp_a_b"], "cannot reach http://127.0.0.1:9"),
        (["--transport", "mqtt", "--mqtt", "mqtt://x", "--token", "t"], "are for --transport http"),
        (["--url", "ftp://x", "--token", "t"], "must be http(s)://"),
    ],
)
def test_clear_errors(database: str, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["simulate", "--live", *args])
    assert result.exit_code == 1, result.output
    assert message in result.output
