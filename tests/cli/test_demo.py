"""``homeport demo``: prepares SQLite data once, reuses it, resets on request, and serves."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
from typer.testing import CliRunner

from homeport.cli.main import app as cli
from tests.conftest import csrf_from

PASSWORD = re.compile(r"password: (\S+)")


def _prepare(data: Path, *extra: str) -> str:
    result = CliRunner().invoke(
        cli, ["demo", "--prepare-only", "--subscribers", "60", "--data-dir", str(data), *extra]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_prepare_reuse_and_reset(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    first = _prepare(data)
    assert str(data) in first and (data / "homeport.db").exists()
    assert "reusing" not in first
    second = _prepare(data)
    assert "reusing the demo data" in second
    assert PASSWORD.search(first).group(1) != PASSWORD.search(second).group(1)  # type: ignore[union-attr]
    third = _prepare(data, "--reset")
    assert "reusing" not in third


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_serves_the_subscriber_pages(tmp_path: Path) -> None:
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
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        output, password = "", None
        deadline = time.monotonic() + 120
        while password is None and time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line or proc.poll() is None, output
            output += line
            if match := PASSWORD.search(line):
                password = match.group(1)
        assert password, output
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, follow_redirects=False) as client:
            for _ in range(100):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            token = csrf_from(client.get("/login").text)
            r = client.post(
                "/login",
                data={"email": "admin@homeport.demo", "password": password, "csrf_token": token},
            )
            assert r.status_code == 303, r.text
            page = client.get("/subscribers")
            assert page.status_code == 200 and "/subscribers/" in page.text
            first = re.search(r'href="(/subscribers/\d+)"', page.text)
            assert first, page.text
            detail = client.get(first.group(1))
            assert detail.status_code == 200 and "Home network" in detail.text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
