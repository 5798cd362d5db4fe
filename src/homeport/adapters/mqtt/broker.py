"""Where the broker is and how to subscribe: parsed from ``mqtt://[user:pass@]host[:port]``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from homeport.core.errors import ValidationFailed

DEFAULT_PREFIX = "homeport/telemetry"
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


@dataclass(frozen=True)
class Subscription:
    """The topic filter to subscribe to, and the per-device topic prefix it covers."""

    prefix: str = DEFAULT_PREFIX
    group: str | None = None

    def __post_init__(self) -> None:
        prefix = self.prefix.strip("/")
        if not prefix or any(c in prefix for c in "+#$") or "//" in prefix:
            raise ValidationFailed(f"invalid topic prefix {self.prefix!r}")
        object.__setattr__(self, "prefix", prefix)
        if self.group is not None and not _GROUP.match(self.group):
            raise ValidationFailed(
                f"invalid shared-subscription group {self.group!r} "
                "(letters, digits, '.', '_' and '-')"
            )

    @property
    def topic_filter(self) -> str:
        plain = f"{self.prefix}/+"
        return f"$share/{self.group}/{plain}" if self.group else plain


def check_client_id(client_id: str) -> str:
    """A stable client id is what makes the session persistent: refuse an empty or odd one."""
    if not _CLIENT_ID.match(client_id):
        raise ValidationFailed(
            f"invalid MQTT client id {client_id!r} (1–128 letters, digits, '.', '_', ':', '-')"
        )
    return client_id
