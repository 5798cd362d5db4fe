"""``homeport health evaluate --ground-truth`` end to end: a simulated fleet, telemetry with
faults through the real ingest and health pipeline, scores printed as a table and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from homeport.cli.health import app as health_app
from homeport.cli.main import app
from homeport.core.db import Database

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'eval.db'}"
    monkeypatch.setenv("HOMEPORT_DATABASE_URL", url)
    monkeypatch.setenv("HOMEPORT_TELEMETRY__REPORT_INTERVAL_S", "600")
    monkeypatch.setenv("HOMEPORT_HEALTH__OUTAGE_MIN_HOMES", "3")
    for args in (
        ["db", "upgrade"],
        ["simulate", "-n", "120", "--seed", "5", "--now", "2026-11-23T10:00:00Z"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    return url


def _count(url: str, sql: str) -> int:
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            return int(conn.exec_driver_sql(sql).scalar_one())
    finally:
        db.dispose()


def test_evaluate_scores_detection_against_ground_truth(database: str) -> None:
    args = ["--ground-truth", "--days", "0.5", "--start", "2026-11-23T12:00:00Z", "--json"]
    result = runner.invoke(health_app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    run = data["run"]
    assert run["reports"] == run["accepted"] > 0 and run["rejected"] == 0
    assert run["report_interval_s"] == 600
    assert _count(database, "SELECT count(*) FROM telemetry_reports") == run["accepted"]
    assert _count(database, "SELECT count(*) FROM sim_faults") == run["faults"] > 0
    classes = data["classes"]
    assert set(classes) >= {"reboot_loop", "weak_coverage", "fibre_cut", "evening_congestion"}
    for name, scores in classes.items():
        assert set(scores) >= {"precision", "recall", "median_delay_s"}, name
        if scores["faults"]:
            assert 0 <= scores["recall"] <= 1
    # The simplest signals must be found, within two report intervals.
    for name in ("reboot_loop", "weak_coverage"):
        assert classes[name]["recall"] == 1.0, (name, classes[name])
        assert classes[name]["median_delay_s"] <= 2 * 600
    assert data["unobservable"] == {"dns_failure": "the report contract has no DNS field"}

    # The range is taken: a second evaluation of it is refused, nothing is added.
    again = runner.invoke(health_app, args)
    assert again.exit_code == 1
    assert "already extend past" in again.output
    assert _count(database, "SELECT count(*) FROM sim_faults") == run["faults"]

    # Without --start, the next range follows the stored reports and prints a table.
    table = runner.invoke(health_app, ["--ground-truth", "--days", "0.25"])
    assert table.exit_code == 0, table.output
    for word in ("fault class", "precision", "recall", "fibre cuts", "reports/s", "dns_failure"):
        assert word in table.stdout
    assert "2026-11-24 00:00" in table.stdout


def test_evaluate_refuses_bad_input(database: str) -> None:
    assert "--ground-truth" in runner.invoke(health_app, []).output
    for args, message in (
        (["--ground-truth", "--days", "0"], "days must be"),
        (["--ground-truth", "--days", "0.01"], "at least 0.25"),
        (["--ground-truth", "--days", "30"], "days must be"),
        (["--ground-truth", "--homes-sample", "0"], "--homes-sample"),
        (["--ground-truth", "--start", "yesterday"], "ISO 8601"),
        (["--ground-truth", "--start", "2026-11-23T12:00:00"], "time zone"),
    ):
        result = runner.invoke(health_app, args)
        assert result.exit_code == 1, args
        assert message in result.output, (args, result.output)
    assert _count(database, "SELECT count(*) FROM sim_faults") == 0


def test_evaluate_needs_a_fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOMEPORT_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(health_app, ["--ground-truth"])
    assert result.exit_code == 1
    assert "homeport simulate" in result.output
