"""What every command needs: settings, a database that is reachable, the clock."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cached_property

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from homeport import migrations
from homeport.audit.actions import Actor
from homeport.core.clock import Clock, SystemClock
from homeport.core.db import Database
from homeport.core.errors import HomeportError, ServiceUnavailable, ValidationFailed
from homeport.core.logging import configure_logging
from homeport.core.settings import Settings, load_settings

console = Console(stderr=True)
out = Console()
CLI_ACTOR = Actor("system", None, "cli")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` (user text is not markup; long paths are not wrapped)."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def report(exc: HomeportError) -> typer.Exit:
    if isinstance(exc, ValidationFailed) and exc.errors:
        for err in exc.errors:
            console.print(f"  {err}", highlight=False, markup=False, soft_wrap=True)
    return fail(exc.message)


@dataclass
class CliContext:
    overrides: dict[str, object] = field(default_factory=dict)
    clock: Clock = field(default_factory=SystemClock)

    @cached_property
    def settings(self) -> Settings:
        try:
            return load_settings(**self.overrides)
        except ValidationError as exc:
            lines = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            raise fail("invalid configuration:\n  " + "\n  ".join(lines)) from exc

    @cached_property
    def db(self) -> Database:
        settings = self.settings
        if settings.effective_database_url.startswith("sqlite:///"):
            settings.ensure_data_dir()
        db = Database(settings.effective_database_url)
        try:
            db.ping()
        except ServiceUnavailable as exc:
            raise fail(
                f"{exc.message}\n  Is the database running? Check HOMEPORT_DATABASE_URL "
                "or database_url in homeport.toml."
            ) from exc
        return db

    def migrated_db(self) -> Database:
        """The database, refusing to run on a schema older than the code."""
        db = self.db
        current, head = migrations.current_revision(db.url), migrations.head_revision()
        if current != head:
            raise fail(
                f"the database schema is at {current or 'nothing'}, this Homeport "
                f"needs {head}: run 'homeport db upgrade' first"
            )
        return db


def get(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):  # pragma: no cover - set by main's callback
        obj = CliContext()
        ctx.find_root().obj = obj
    return obj


def setup_logging(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_format)


def is_tty() -> bool:
    return sys.stderr.isatty()
