"""``homeport experiments …`` and ``homeport campaigns …`` end to end on SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from homeport.cli.main import app as cli
from homeport.core.db import Database
from tests.conftest import START
from tests.experiments.data import Person, build_people


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[CliRunner, str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("HOMEPORT_DATABASE_URL", url)
    monkeypatch.setenv("HOMEPORT_DATA_DIR", str(tmp_path / "data"))
    r = CliRunner()
    assert r.invoke(cli, ["db", "upgrade"]).exit_code == 0
    return r, url


def test_experiment_commands(runner: tuple[CliRunner, str]) -> None:
    r, _ = runner
    made = r.invoke(
        cli,
        [
            "experiments",
            "create",
            "offer-test",
            "--name",
            "Offer",
            "--metric",
            "offer_accepted",
            "--variants",
            "control:2,discount:1",
        ],
    )
    assert made.exit_code == 0, made.output
    assert "control 2, discount 1" in made.output
    bad = r.invoke(cli, ["experiments", "create", "x y", "--name", "", "--metric", "nope"])
    assert bad.exit_code == 1 and "key:" in bad.output and "metric:" in bad.output
    assert r.invoke(cli, ["experiments", "start", "offer-test"]).exit_code == 0
    again = r.invoke(cli, ["experiments", "start", "offer-test"])
    assert again.exit_code == 1 and "only a draft can start" in again.output
    result = r.invoke(cli, ["experiments", "result", "offer-test", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["status"] == "running"
    assert data["comparisons"][0]["verdict"] == "insufficient_data"
    text = r.invoke(cli, ["experiments", "result", "offer-test"])
    assert "verdict: not enough data yet" in text.output
    assert "offer-test" in r.invoke(cli, ["experiments", "list"]).output
    assert r.invoke(cli, ["experiments", "stop", "offer-test"]).exit_code == 0
    assert r.invoke(cli, ["experiments", "result", "nope"]).exit_code == 1


def test_simulate_prints_the_result(runner: tuple[CliRunner, str]) -> None:
    r, _ = runner
    out = r.invoke(
        cli,
        [
            "experiments",
            "simulate",
            "--subscribers",
            "600",
            "--days",
            "14",
            "--effect",
            "-0.1",
            "--seed",
            "3",
            "--now",
            "2026-11-23T10:00:00Z",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["fleet_generated"] is True and data["true_effect"] == -0.1
    comparison = data["result"]["comparisons"][0]
    assert comparison["ci_low"] <= -0.1 <= comparison["ci_high"]
    bad = r.invoke(cli, ["experiments", "simulate", "--days", "3"])
    assert bad.exit_code == 1 and "days:" in bad.output


def test_campaign_commands(runner: tuple[CliRunner, str]) -> None:
    r, url = runner
    db = Database(url)
    try:
        build_people(db, START, [Person("a", "Ann A", "a@example.net"), Person("b", "B", "")])
    finally:
        db.dispose()
    made = r.invoke(
        cli,
        [
            "campaigns",
            "create",
            "Autumn",
            "--segment",
            "gamer",
            "--subject",
            "Hi {first_name}",
            "--body",
            "Less lag.",
            "--offer",
            "gaming",
        ],
    )
    assert made.exit_code == 0, made.output
    launched = r.invoke(cli, ["campaigns", "launch", "Autumn"])
    assert launched.exit_code == 0, launched.output
    assert "email: queued 1, skipped_consent 1" in launched.output
    assert "portal: queued 2" in launched.output
    listed = r.invoke(cli, ["campaigns", "list"])
    assert "running" in listed.output and "Autumn" in listed.output
    twice = r.invoke(cli, ["campaigns", "launch", "1"])
    assert twice.exit_code == 1 and "only a draft launches" in twice.output


def test_campaign_create_names_its_experiment(runner: tuple[CliRunner, str]) -> None:
    r, url = runner
    db = Database(url)
    try:
        build_people(db, START, [Person("a", "Ann A", "a@example.net")])
    finally:
        db.dispose()
    base = ["campaigns", "create", "Offer test", "--segment", "gamer", "--subject", "Hi"]
    missing = r.invoke(cli, [*base, "--body", "Less lag.", "--experiment", "nope"])
    assert missing.exit_code == 1 and "no experiment 'nope'" in missing.output
    made = r.invoke(
        cli,
        [
            "experiments",
            "create",
            "offer-test",
            "--name",
            "Offer test",
            "--variants",
            "control:50,offer:50",
            "--metric",
            "churned_90d",
        ],
    )
    assert made.exit_code == 0, made.output
    ok = r.invoke(cli, [*base, "--body", "Less lag.", "--experiment", "offer-test"])
    assert ok.exit_code == 0, ok.output
    assert "as experiment 'offer-test'" in ok.output
