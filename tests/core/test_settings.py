from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from homeport.core.settings import Settings, load_settings


def test_defaults_use_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path)
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'homeport.db'}"
    assert s.timezone == "UTC"


def test_precedence_defaults_toml_env_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "homeport.toml"
    toml.write_text('bsp_name = "From TOML"\ntimezone = "Europe/Dublin"\nlog_level = "DEBUG"\n')
    monkeypatch.setenv("HOMEPORT_CONFIG", str(toml))
    s = load_settings()
    assert (s.bsp_name, s.timezone, s.log_level) == ("From TOML", "Europe/Dublin", "DEBUG")

    monkeypatch.setenv("HOMEPORT_TIMEZONE", "America/Chicago")
    s = load_settings()
    assert s.timezone == "America/Chicago"  # environment beats the file
    assert s.bsp_name == "From TOML"

    s = load_settings(timezone="Asia/Tokyo")
    assert s.timezone == "Asia/Tokyo"  # explicit arguments beat both


def test_unknown_time_zone_and_unknown_keys_are_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        Settings(timezone="Mars/Olympus")
    toml = tmp_path / "homeport.toml"
    toml.write_text('databse_url = "typo"\n')
    monkeypatch.setenv("HOMEPORT_CONFIG", str(toml))
    with pytest.raises(ValidationError, match="databse_url"):
        load_settings()


def test_secret_key_is_created_once_with_private_permissions(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "d")
    key = s.effective_secret_key()
    assert len(key) >= 48
    assert s.effective_secret_key() == key
    assert (tmp_path / "d" / "secret_key").stat().st_mode & 0o777 == 0o600
    assert Settings(secret_key="given").effective_secret_key() == "given"


def test_nested_sections_from_toml_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "homeport.toml"
    toml.write_text("[health]\nopen_after = 3\n[telemetry]\nraw_retention_days = 30\n")
    monkeypatch.setenv("HOMEPORT_CONFIG", str(toml))
    monkeypatch.setenv("HOMEPORT_HEALTH__RESOLVE_AFTER", "5")
    s = load_settings()
    assert (s.health.open_after, s.health.resolve_after) == (3, 5)
    assert s.telemetry.raw_retention_days == 30
    monkeypatch.setenv("HOMEPORT_HEALTH__OPEN_AFTER", "0")
    with pytest.raises(ValidationError, match="open_after"):
        load_settings()
