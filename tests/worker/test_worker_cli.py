"""``homeport worker`` as a real process: ``--once`` for cron, the loop with its Prometheus
metrics stopping cleanly on SIGTERM and SIGINT, and clear start-up errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cli.serving import free_port


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    environ = dict(os.environ)
    environ.update(
        HOMEPORT_DATABASE_URL=database_url,
        HOMEPORT_DATA_DIR=str(tmp_path / "data"),
        HOMEPORT_LOG_FORMAT="json",
        COLUMNS="200",
    )
    return environ


def worker(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "homeport.cli", "worker", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_once_runs_every_task_and_exits(env: dict[str, str]) -> None:
    done = worker(env, "--once")
    assert done.returncode == 0, done.stderr
    for name in ("offline", "rollup_hourly", "rollup_daily", "purge", "findings", "actions"):
        assert f"{name}: " in done.stdout
    assert '"task": "purge"' in done.stderr and '"outcome": "ok"' in done.stderr  # JSON log

    some = worker(env, "--once", "--task", "purge", "--task", "offline")
    assert some.returncode == 0, some.stderr
    assert [line.split(":")[0] for line in some.stdout.splitlines()] == ["purge", "offline"]


def test_a_task_turned_off_runs_only_with_once(env: dict[str, str]) -> None:
    off = {**env, "HOMEPORT_WORKER__PURGE_S": "0"}
    assert worker(off, "--once", "--task", "purge").returncode == 0
    loop = worker(off, "--task", "purge")
    assert loop.returncode == 1 and "purge is turned off" in loop.stderr


def test_bad_input_and_unreachable_database_are_clear_errors(
    env: dict[str, str], tmp_path: Path
) -> None:
    unknown = worker(env, "--once", "--task", "coffee")
    assert unknown.returncode == 1 and "unknown task coffee" in unknown.stderr

    down = {**env, "HOMEPORT_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nothing"}
    gone = worker(down)
    assert gone.returncode == 1
    assert "cannot reach the database" in gone.stderr and "Is the database running?" in gone.stderr
    assert "Traceback" not in gone.stderr

    empty = {**env, "HOMEPORT_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    old = worker(empty, "--once")
    assert old.returncode == 1 and "run 'homeport db upgrade' first" in old.stderr


def _metrics(port: int) -> dict[tuple[str, str, str], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[
                (sample.name, sample.labels.get("task", ""), sample.labels.get("outcome", ""))
            ] = sample.value
    return values


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_loop_serves_metrics_and_stops_cleanly(
    env: dict[str, str], tmp_path: Path, sig: signal.Signals
) -> None:
    port = free_port()
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "homeport.cli", "worker", "--metrics-port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            runs = 0.0
            while runs < 1:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
                try:
                    metrics = _metrics(port)
                except OSError:
                    continue
                runs = metrics.get(("homeport_worker_task_runs_total", "rollup_daily", "ok"), 0)
            assert metrics[("homeport_worker_task_failures_total", "offline", "")] == 0
            assert ("homeport_worker_task_seconds_count", "purge", "") in metrics
            proc.send_signal(sig)
            assert proc.wait(timeout=30) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log.read_text()
    assert "worker started" in text and "worker stopped" in text
    assert signal.Signals(sig).name in text
