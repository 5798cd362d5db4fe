"""Typed settings: defaults < ``homeport.toml`` < ``HOMEPORT_*`` environment < explicit arguments.

The TOML file is ``./homeport.toml`` unless ``HOMEPORT_CONFIG`` names another path.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from homeport.core.health_settings import HealthSettings
from homeport.core.journey_settings import JourneySettings
from homeport.core.maturity_settings import MaturitySettings
from homeport.core.telemetry_settings import TelemetrySettings
from homeport.core.worker_settings import WorkerSettings


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "homeport"


def config_path() -> Path:
    return Path(os.environ.get("HOMEPORT_CONFIG", "homeport.toml"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HOMEPORT_", env_nested_delimiter="__", extra="forbid"
    )

    bsp_name: str = "Homeport Broadband"
    #: The BSP's time zone: times are stored in UTC and shown in this zone.
    timezone: str = "UTC"
    data_dir: Path = Field(default_factory=default_data_dir)
    #: SQLAlchemy URL; empty means SQLite in ``data_dir``. ``postgresql://user@host/db`` works.
    database_url: str = ""
    #: Signs session cookies. Empty: read or create ``data_dir/secret_key`` (mode 0600).
    secret_key: str = ""
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    session_max_age_s: int = Field(default=8 * 3600, gt=0)
    #: Send cookies only over HTTPS. Turn on in production behind TLS.
    cookie_secure: bool = False
    #: Failed logins allowed per e-mail address (and, times four, per client address) per window.
    login_max_failures: int = Field(default=5, gt=0)
    login_window_s: int = Field(default=900, gt=0)

    # Email channel (docs/support.md, "Email").
    #: Inbound SMTP listener "host:port" that ``homeport serve`` starts ("" = none).
    smtp_listen: str = ""
    #: Largest message the listener accepts (bytes); larger ones are refused with 552.
    smtp_max_message_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    #: The BSP's support address: From of replies; its domain names their Message-IDs.
    support_email: str = "support@homeport.invalid"
    #: Relay for outbound email ("" = replies stay queued until one is set).
    smtp_host: str = ""
    smtp_port: int = Field(default=25, gt=0, lt=65536)
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False

    # Chat, phone and SMS channels (docs/support.md, "Chat", "Phone (CTI)", "SMS").
    #: Base URL subscribers reach Homeport at (links in emails; the URL SMS providers sign).
    public_url: str = "http://127.0.0.1:8000"
    #: Broker that carries chat and screen-pop messages between web processes: "" keeps them
    #: in this process; "redis://host:6379/0" shares them through Redis pub/sub.
    chat_broker_url: str = ""
    #: The chatbot answers the portal chat first and hands over to a person (docs/chatbot.md);
    #: false: every chat goes straight to the agents.
    chatbot: bool = True
    #: Seconds a subscriber's chat message may wait for an agent before the chat turns async.
    chat_answer_timeout_s: int = Field(default=120, gt=0)
    #: Extra origins allowed to open chat WebSockets (the server's own origin always is).
    chat_allowed_origins: list[str] = Field(default_factory=list)
    #: Shared secret of the CTI webhook's HMAC-SHA256 signature ("" = webhook refused).
    cti_secret: str = ""
    #: Largest age (and clock skew) of a signed CTI event, seconds.
    cti_max_skew_s: int = Field(default=300, gt=0)
    #: Agent extension -> staff e-mail address, for PBXs that only know extensions.
    cti_extensions: dict[str, str] = Field(default_factory=dict)
    #: SMS provider (Twilio-compatible): account SID, auth token (signs webhooks, authenticates
    #: sends), sender number and the Messages endpoint ("" = outbound SMS stays queued).
    sms_account_sid: str = ""
    sms_auth_token: str = ""
    sms_from: str = ""
    sms_provider_url: str = ""
    #: An SMS joins the sender's live SMS case updated within this many days, else opens one.
    sms_thread_days: int = Field(default=7, gt=0)

    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    journey: JourneySettings = Field(default_factory=JourneySettings)
    maturity: MaturitySettings = Field(default_factory=MaturitySettings)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as 'Europe/London')"
            ) from exc
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_path())
        return (init_settings, env_settings, toml)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'homeport.db'}"

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

    def effective_secret_key(self) -> str:
        """The configured key, else one kept in ``data_dir/secret_key`` (created once)."""
        if self.secret_key:
            return self.secret_key
        path = self.ensure_data_dir() / "secret_key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip()


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
