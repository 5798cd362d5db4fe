"""``homeport simulate`` through the real command line (Typer's runner, a temporary SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from homeport.cli.main import app
from homeport.core.db import Database

from .conftest import fleet_digest

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("HOMEPORT_DATABASE_URL", url)
    return url


def _upgrade() -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output


def test_simulate_writes_a_fleet_and_reports_it(database: str) -> None:
    _upgrade()
    result = runner.invoke(
        app,
        [
            "simulate",
            "--subscribers",
            "200",
            "--seed",
            "7",
            "--days",
            "30",
            "--now",
            "2026-11-23T10:00:00Z",
        ],
    )
    assert result.exit_code == 0, result.output
    for word in (
        "client_devices",
        "sim_homes",
        "total",
        "subscribers/s",
        "seed 7",
        "200 subscribers as of 2026-10-24 10:00 UTC",
        "over 30 days",
    ):
        assert word in result.stdout
    db = Database(database)
    try:
        with db.engine.connect() as conn:
            count = conn.exec_driver_sql("SELECT count(*) FROM subscribers").scalar_one()
        assert count >= 200
        first = fleet_digest(db)
    finally:
        db.dispose()

    again = runner.invoke(app, ["simulate", "--subscribers", "200", "--seed", "7"])
    assert again.exit_code == 1
    assert "already has" in again.stderr and "Traceback" not in again.output
    db = Database(database)
    try:
        assert fleet_digest(db) == first  # the refused run changed nothing
    finally:
        db.dispose()


def test_same_arguments_give_the_same_fleet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digests = []
    for name in ("a.db", "b.db"):
        url = f"sqlite:///{tmp_path / name}"
        monkeypatch.setenv("HOMEPORT_DATABASE_URL", url)
        _upgrade()
        result = runner.invoke(
            app,
            [
                "simulate",
                "-n",
                "120",
                "--seed",
                "3",
                "--days",
                "15",
                "--now",
                "2026-06-01T08:00:00+01:00",
            ],
        )
        assert result.exit_code == 0, result.output
        db = Database(url)
        digests.append(fleet_digest(db))
        db.dispose()
    assert digests[0] == digests[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--subscribers", "0"], "subscribers: must be between 1"),
        (["--seed", "-3"], "seed: must be a whole number"),
        (["--days", "-1"], "days: must be between 0"),
        (["--now", "yesterday"], "not an ISO 8601 time"),
        (["--now", "2026-11-23T10:00:00"], "needs a time zone"),
    ],
)
def test_bad_numbers_are_clean_errors(database: str, args: list[str], message: str) -> None:
    _upgrade()
    result = runner.invoke(app, ["simulate", *args])
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output
    db = Database(database)
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM subscribers").scalar_one() == 0
    finally:
        db.dispose()


def test_needs_a_migrated_database(database: str) -> None:
    result = runner.invoke(app, ["simulate", "--subscribers", "10"])
    assert result.exit_code == 1
    assert "homeport db upgrade" in result.stderr
