from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from homeport.cli.main import app as cli
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.web.app import create_app


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[CliRunner, str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("HOMEPORT_DATABASE_URL", url)
    monkeypatch.setenv("HOMEPORT_DATA_DIR", str(tmp_path / "data"))
    return CliRunner(), url


def test_commands_refuse_an_unmigrated_database(runner: tuple[CliRunner, str]) -> None:
    r, _ = runner
    result = r.invoke(
        cli,
        [
            "users",
            "create",
            "--email",
            "a@example.net",
            "--role",
            "admin",
            "--password",
            "long enough pw",
        ],
    )
    assert result.exit_code == 1
    assert "homeport db upgrade" in result.output


def test_users_and_tokens_end_to_end(runner: tuple[CliRunner, str], tmp_path: Path) -> None:
    r, url = runner
    result = r.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert r.invoke(cli, ["db", "check"]).exit_code == 0

    result = r.invoke(
        cli,
        [
            "users",
            "create",
            "--email",
            "Ops@Example.net",
            "--role",
            "noc",
            "--password",
            "long enough pw",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "created noc ops@example.net" in result.output

    dup = r.invoke(
        cli,
        [
            "users",
            "create",
            "--email",
            "ops@example.net",
            "--role",
            "noc",
            "--password",
            "long enough pw",
        ],
    )
    assert dup.exit_code == 1 and "already exists" in dup.output
    bad = r.invoke(
        cli,
        [
            "users",
            "create",
            "--email",
            "x@example.net",
            "--role",
            "wizard",
            "--password",
            "long enough pw",
        ],
    )
    assert bad.exit_code == 1 and "wizard" in bad.output
    short = r.invoke(
        cli,
        ["users", "create", "--email", "y@example.net", "--role", "agent", "--password", "short"],
    )
    assert short.exit_code == 1 and "at least 10 characters" in short.output

    result = r.invoke(cli, ["tokens", "create", "--email", "ops@example.net", "--scope", "read"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("hp_")

    app = create_app(
        Settings(database_url=url, secret_key="k", data_dir=tmp_path / "data"), db=Database(url)
    )
    with TestClient(app) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["role"] == "noc"

    nobody = r.invoke(cli, ["tokens", "create", "--email", "nobody@example.net"])
    assert nobody.exit_code == 1 and "no staff user" in nobody.output
    badscope = r.invoke(cli, ["tokens", "create", "--email", "ops@example.net", "--scope", "x"])
    assert badscope.exit_code == 1 and "unknown scope" in badscope.output


def test_generated_password_is_printed_without_a_terminal(runner: tuple[CliRunner, str]) -> None:
    r, _ = runner
    assert r.invoke(cli, ["db", "upgrade"]).exit_code == 0
    result = r.invoke(cli, ["users", "create", "--email", "t@example.net", "--role", "agent"])
    assert result.exit_code == 0, result.output
    assert "password: " in result.output


def test_unreachable_database_is_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOMEPORT_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(cli, ["db", "current"])
    assert result.exit_code == 1
    assert "cannot reach the database" in result.output
    assert "Is the database running?" in result.output


def test_bad_configuration_is_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOMEPORT_TIMEZONE", "Nowhere/Town")
    result = CliRunner().invoke(cli, ["db", "current"])
    assert result.exit_code == 1 and "unknown time zone" in result.output
