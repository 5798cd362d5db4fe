"""``homeport demo``: a working Homeport on SQLite with a simulated fleet, in one command."""

from __future__ import annotations

import secrets
import shutil
import socket
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import func, select

from homeport import migrations
from homeport.cli.context import CLI_ACTOR, CliContext, console, fail, get, out
from homeport.cli.serve import run_server
from homeport.identity import actions, service
from homeport.subscribers.models import Subscriber

DEMO_ADMIN = "admin@homeport.demo"


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def prepare(cli: CliContext, *, subscribers: int, seed: int, reset: bool, data_dir: Path) -> str:
    """Create or reuse the demo database and the demo admin; returns the admin's password."""
    from homeport.simulator.fleet import generate_fleet  # numpy: only when needed

    if reset and data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    db = cli.db
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        schema = progress.add_task("database schema", total=1)
        migrations.upgrade(db.url)
        progress.update(schema, completed=1)
        with db.session() as session:
            existing = session.scalar(select(func.count()).select_from(Subscriber)) or 0
        if existing:
            console.print(f"reusing the demo data: {existing:,} subscribers (--reset starts over)")
        else:
            tasks: dict[str, TaskID] = {}

            def advance(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(stage, total=total)
                progress.update(tasks[stage], completed=done, total=total)

            generate_fleet(
                db,
                subscribers=subscribers,
                seed=seed,
                now=cli.clock.now(),
                days=30,
                progress=advance,
            )
        admin = progress.add_task("demo admin", total=1)
        password = secrets.token_urlsafe(12)
        with db.transaction() as session:
            user = service.staff_by_email(session, DEMO_ADMIN)
            if user is None:
                actions.create_staff_user(
                    session,
                    email=DEMO_ADMIN,
                    role="admin",
                    password=password,
                    name="Demo Admin",
                    actor=CLI_ACTOR,
                    now=cli.clock.now(),
                )
            else:
                actions.set_staff_password(
                    session,
                    user_id=user.id,
                    password=password,
                    actor=CLI_ACTOR,
                    now=cli.clock.now(),
                )
        progress.update(admin, completed=1)
    return password


def demo(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    subscribers: int = typer.Option(2000, "--subscribers", min=1, max=200_000),
    seed: int = typer.Option(7, "--seed"),
    reset: bool = typer.Option(False, "--reset", help="Delete the demo data and start over."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Default: <data_dir>/demo from the settings."
    ),
    prepare_only: bool = typer.Option(
        False, "--prepare-only", help="Set up the data and the admin, then exit."
    ),
) -> None:
    """Run Homeport on SQLite with a simulated BSP: the quickest way to see it."""
    base = get(ctx)
    folder = (data_dir or base.settings.data_dir / "demo").resolve()
    cli = CliContext(
        overrides={
            **base.overrides,
            "data_dir": folder,
            "database_url": f"sqlite:///{folder / 'homeport.db'}",
        },
        clock=base.clock,
    )
    if not prepare_only and not _port_free(host, port):
        raise fail(f"port {port} on {host} is in use: stop what uses it or pass --port")
    out.print(f"Homeport demo data folder: [bold]{folder}[/]")
    password = prepare(cli, subscribers=subscribers, seed=seed, reset=reset, data_dir=folder)
    out.print(f"\nHomeport is ready at [bold]http://{host}:{port}/[/]", highlight=False)
    out.print(f"  e-mail:   [bold]{DEMO_ADMIN}[/]", highlight=False)
    out.print(f"  password: [bold]{password}[/]", highlight=False, soft_wrap=True)
    out.print("(a new password is set each time the demo starts; Ctrl-C stops it)\n")
    if not prepare_only:
        run_server(cli, host, port)
