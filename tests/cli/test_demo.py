"""``homeport demo``: prepares SQLite data once (the fleet and a day of telemetry history),
reuses it, resets on request, and serves the UI while the worker runs and the live simulator
sends the fleet's telemetry through the server's own HTTP API; ``--no-live`` only serves."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import Select, func, select
from typer.testing import CliRunner

from homeport.cli.main import app as cli
from homeport.core.db import Database
from homeport.health.models import ExperienceScore, Finding, Outage
from homeport.network.models import Home
from homeport.telemetry.models import TelemetryReport
from tests.conftest import csrf_from

PASSWORD = re.compile(r"password: (\S+)")
#: Starts ``homeport demo`` with extra arguments; returns the process, password and port.
StartDemo = Callable[..., tuple["subprocess.Popen[str]", str, int]]


def _prepare(data: Path, *extra: str) -> str:
    result = CliRunner().invoke(
        cli, ["demo", "--prepare-only", "--subscribers", "60", "--data-dir", str(data), *extra]
    )
    assert result.exit_code == 0, result.output
    return result.output


def _db(data: Path) -> Database:
    return Database(f"sqlite:///{data / 'homeport.db'}")


def test_prepare_reuse_and_reset(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    first = _prepare(data)
    assert str(data) in first and (data / "homeport.db").exists()
    assert "reusing" not in first and "history reports" in first
    db = _db(data)
    try:
        with db.session() as session:
            reports = session.scalar(select(func.count()).select_from(TelemetryReport))
            hours = dict(
                session.execute(
                    select(ExperienceScore.home_id, func.count()).group_by(ExperienceScore.home_id)
                ).all()
            )
            homes = session.scalar(select(func.count()).select_from(Home))
    finally:
        db.dispose()
    # A day of history: a score for every hour of every reporting home.
    assert reports and homes and len(hours) >= 0.8 * homes
    assert set(hours.values()) == {24}
    second = _prepare(data)
    assert "reusing the demo data" in second
    assert PASSWORD.search(first).group(1) != PASSWORD.search(second).group(1)  # type: ignore[union-attr]
    third = _prepare(data, "--reset")
    assert "reusing" not in third


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def run_demo(tmp_path: Path) -> Iterator[StartDemo]:
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> tuple[subprocess.Popen[str], str, int]:
        port = _free_port()
        env = {
            **os.environ,
            "HOMEPORT_CONFIG": str(tmp_path / "none.toml"),
            "HOMEPORT_LOG_FORMAT": "text",
            "COLUMNS": "200",
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "homeport.cli",
                "demo",
                "--subscribers",
                "80",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / "demo"),
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        procs.append(proc)
        output, password = "", None
        deadline = time.monotonic() + 120
        while password is None and time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line or proc.poll() is None, output
            output += line
            if match := PASSWORD.search(line):
                password = match.group(1)
        assert password, output
        return proc, password, port

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def _sign_in(port: int, password: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=False) as client:
        _login(client, password)
        yield client


#: How long the demo may take to answer once it printed its password: it still builds the app
#: and starts the worker and the live simulator, which can take a while on a busy CI machine.
SERVE_WITHIN_S = 90


def _login(client: httpx.Client, password: str) -> None:
    deadline = time.monotonic() + SERVE_WITHIN_S
    while True:
        try:
            if client.get("/healthz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"the demo did not answer within {SERVE_WITHIN_S} s"
        time.sleep(0.2)
    token = csrf_from(client.get("/login").text)
    r = client.post(
        "/login",
        data={"email": "admin@homeport.demo", "password": password, "csrf_token": token},
    )
    assert r.status_code == 303, r.text


def _live_since(db: Database) -> datetime:
    with db.session() as session:
        latest = session.scalar(
            select(func.max(TelemetryReport.ts)).where(TelemetryReport.source == "sim")
        )
    assert latest is not None
    return latest


def _wait(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"no {what} within {seconds:g} s"
        time.sleep(0.2)


def test_demo_serves_while_live_telemetry_arrives_over_http(
    tmp_path: Path, run_demo: StartDemo
) -> None:
    proc, password, port = run_demo("--speed", "600")
    with _sign_in(port, password) as client:
        page = client.get("/subscribers")
        assert page.status_code == 200 and "/subscribers/" in page.text
        first = re.search(r'href="(/subscribers/\d+)"', page.text)
        assert first, page.text
        detail = client.get(first.group(1))
        assert detail.status_code == 200 and "Home network" in detail.text

    db = _db(tmp_path / "demo")
    try:
        live_from = _live_since(db)

        def scalar(stmt: Select[Any]) -> int:
            with db.session() as session:
                return int(session.scalar(stmt) or 0)

        http = select(func.count()).select_from(TelemetryReport)
        http = http.where(TelemetryReport.source == "http")
        _wait(lambda: scalar(http) > 0, 20, "report over HTTP")
        # A fault starts within two report intervals of simulated time: its finding opens
        # within seconds; a fibre cut follows, and the worker turns the silence into an outage.
        new = select(func.count()).select_from(Finding)
        new = new.where(Finding.opened_at > live_from, Finding.kind != "device_offline")
        _wait(lambda: scalar(new) > 0, 20, "finding opened by the live telemetry")
        outage = select(func.count()).select_from(Outage).where(Outage.opened_at > live_from)
        _wait(lambda: scalar(outage) > 0, 30, "outage from the fibre cut")
    finally:
        db.dispose()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0


def test_demo_no_live_only_serves(tmp_path: Path, run_demo: StartDemo) -> None:
    _prepare(tmp_path / "demo")
    proc, password, port = run_demo("--no-live")
    with _sign_in(port, password) as client:
        assert client.get("/subscribers").status_code == 200
    time.sleep(1)
    db = _db(tmp_path / "demo")
    try:
        with db.session() as session:
            sources = set(session.scalars(select(TelemetryReport.source).distinct()))
    finally:
        db.dispose()
    assert sources == {"sim"}
    assert proc.poll() is None
