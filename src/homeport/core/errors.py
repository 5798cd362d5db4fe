"""Errors that domains raise and entry points translate (HTTP status, CLI message)."""

from __future__ import annotations

from dataclasses import dataclass, field


class HomeportError(Exception):
    """Base class. ``status`` is the HTTP status an entry point should answer with."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(HomeportError):
    status = 404


class Conflict(HomeportError):
    status = 409


class PermissionDenied(HomeportError):
    status = 403


class AuthenticationFailed(HomeportError):
    status = 401


class Throttled(HomeportError):
    status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class FieldError:
    """One problem with one input value; ``line`` is the 1-based line of a CSV file."""

    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.field}: {self.message}"


@dataclass
class ValidationFailed(HomeportError):
    """Input was rejected; nothing was written."""

    message: str
    errors: list[FieldError] = field(default_factory=list)
    status = 422

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)


class ServiceUnavailable(HomeportError):
    """A required service (database, broker) cannot be reached."""

    status = 503
