"""Entry point of the ``homeport`` command."""

from __future__ import annotations

import typer

from homeport import __version__
from homeport.cli import (
    bot,
    db,
    demo,
    desk,
    experiments,
    health,
    imports,
    ingest,
    journey,
    kb,
    kpis,
    maturity,
    retention,
    serve,
    simulate,
    smtp,
    users,
    worker,
)
from homeport.cli.context import CliContext

app = typer.Typer(
    name="homeport",
    help="Homeport: proactive, omnichannel support for broadband service providers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"homeport {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Configuration comes from homeport.toml (or HOMEPORT_CONFIG) and HOMEPORT_* variables."""
    if ctx.obj is None:
        ctx.obj = CliContext()


app.add_typer(db.app, name="db")
app.add_typer(users.users, name="users")
app.add_typer(users.tokens, name="tokens")
app.add_typer(imports.app, name="import")
app.add_typer(health.app, name="health")
app.add_typer(desk.app, name="desk")
app.add_typer(kb.app, name="kb")
app.add_typer(experiments.app, name="experiments")
app.add_typer(experiments.campaigns_app, name="campaigns")
app.add_typer(bot.app, name="bot")
app.add_typer(journey.app, name="journey")
app.add_typer(kpis.app, name="kpis")
app.add_typer(retention.app, name="retention")
app.command()(serve.serve)
app.command()(simulate.simulate)
app.command()(demo.demo)
app.command()(ingest.ingest)
app.command()(worker.worker)
app.command()(smtp.smtp)
app.command()(maturity.maturity)


def main() -> None:
    app()
