"""Where the broker is and how to subscribe: parsed from ``mqtt://[user:pass@]host[:port]``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from homeport.core.errors import ValidationFailed

DEFAULT_PREFIX = "homeport/telemetry"
#: Homeport publishes a device's remote actions on ``<commands prefix>/<device_id>``...
DEFAULT_COMMANDS_PREFIX = "homeport/commands"
#: ...and the device publishes their results on ``<results prefix>/<device_id>``.
DEFAULT_RESULTS_PREFIX = "homeport/results"
_GROUP = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> Broker:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValidationFailed(
                f"the broker URL must be mqtt://host[:port] or mqtts://, not {url!r}"
            )
        if not parts.hostname:
            raise ValidationFailed(f"the broker URL {url!r} has no host")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValidationFailed(f"the broker URL {url!r} must not have a path or a query")
        try:
            port = parts.port
        except ValueError as exc:
            raise ValidationFailed(f"the broker URL {url!r} has an invalid port") from exc
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def check_prefix(prefix: str) -> str:
    """A topic prefix without its outer slashes, or :class:`ValidationFailed`."""
    clean = prefix.strip("/")
    if not clean or any(c in clean for c in "+#$") or "//" in clean:
        raise ValidationFailed(f"invalid topic prefix {prefix!r}")
    return clean


@dataclass(frozen=True)
class Subscription:
    """The topic filters to subscribe to, and the per-device topic prefixes they cover:
    reports arrive on ``<prefix>/<device_id>``, action results on
    ``<results_prefix>/<device_id>``; actions go out on ``<commands_prefix>/<device_id>``."""

    prefix: str = DEFAULT_PREFIX
    group: str | None = None
    commands_prefix: str = DEFAULT_COMMANDS_PREFIX
    results_prefix: str = DEFAULT_RESULTS_PREFIX

    def __post_init__(self) -> None:
        for name in ("prefix", "commands_prefix", "results_prefix"):
            object.__setattr__(self, name, check_prefix(getattr(self, name)))
        if len({self.prefix, self.commands_prefix, self.results_prefix}) < 3:
            raise ValidationFailed("the telemetry, commands and results topic prefixes must differ")
        if self.group is not None and not _GROUP.match(self.group):
            raise ValidationFailed(
                f"invalid shared-subscription group {self.group!r} "
                "(letters, digits, '.', '_' and '-')"
            )

    def _shared(self, prefix: str) -> str:
        plain = f"{prefix}/+"
        return f"$share/{self.group}/{plain}" if self.group else plain

    @property
    def topic_filter(self) -> str:
        return self._shared(self.prefix)

    @property
    def results_filter(self) -> str:
        return self._shared(self.results_prefix)


def check_client_id(client_id: str) -> str:
    """A stable client id is what makes the session persistent: refuse an empty or odd one."""
    if not _CLIENT_ID.match(client_id):
        raise ValidationFailed(
            f"invalid MQTT client id {client_id!r} (1–128 letters, digits, '.', '_', ':', '-')"
        )
    return client_id
