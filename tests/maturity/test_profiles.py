"""The simulator runs a BSP at each maturity stage, and ``homeport maturity --json`` measures that
stage from the data it left (issue 6), through the real command line on SQLite and, with
HOMEPORT_TEST_DATABASE_URL, PostgreSQL."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from homeport.cli.main import app
from homeport.core.db import Database

runner = CliRunner()


@pytest.mark.parametrize("stage", [1, 2, 3, 4, 5])
def test_each_profile_is_measured_at_its_stage(
    stage: int, db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOMEPORT_DATABASE_URL", database_url)
    result = runner.invoke(
        app,
        [
            "simulate",
            "--subscribers",
            "200",
            "--days",
            "30",
            "--seed",
            "7",
            "--maturity-profile",
            str(stage),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"maturity profile {stage} over 30 days" in result.stdout
    measured = runner.invoke(app, ["maturity", "--json"])
    assert measured.exit_code == 0, measured.output
    payload = json.loads(measured.stdout)
    unmet = [c["id"] for c in payload["criteria"] if not c["met"] and c["stage"] <= stage]
    assert payload["stage"] == stage, (unmet, payload["next_stage_gaps"])
    assert set(payload) >= {"stage", "criteria", "next_stage_gaps"}
    if stage < 5:
        # What keeps it below the next stage is named, each in plain words.
        assert payload["next_stage_gaps"]
        assert all(g["stage"] == stage + 1 for g in payload["next_stage_gaps"])
    else:
        assert payload["next_stage_gaps"] == []


def test_profile_option_is_checked(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOMEPORT_DATABASE_URL", database_url)
    bad = runner.invoke(app, ["simulate", "--subscribers", "50", "--maturity-profile", "6"])
    assert bad.exit_code != 0
    no_days = runner.invoke(app, ["simulate", "--subscribers", "50", "--maturity-profile", "3"])
    assert no_days.exit_code == 1
    assert "--maturity-profile needs --days" in no_days.output
    live = runner.invoke(app, ["simulate", "--live", "--maturity-profile", "3"])
    assert live.exit_code == 1
    assert "--maturity-profile" in live.output
