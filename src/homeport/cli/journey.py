"""``homeport journey backfill|owners|surveys send-due|funnel``: the subscriber journey from the
command line (docs/journey.md)."""

from __future__ import annotations

import json
from datetime import timedelta

import typer
from rich.table import Table

from homeport.cli.context import CLI_ACTOR, get, out, report
from homeport.core.errors import HomeportError
from homeport.journey import actions, service, surveys

app = typer.Typer(
    help="The subscriber journey: moments, stage owners, surveys and the funnel.",
    no_args_is_help=True,
)
surveys_app = typer.Typer(help="Surveys at the journey's moments.", no_args_is_help=True)
app.add_typer(surveys_app, name="surveys")


@app.command("backfill")
def backfill(ctx: typer.Context) -> None:
    """Derive journey events from the history already stored (sign-ups, work orders, cases,
    churn, plan changes); moments already recorded are kept, so it can run again."""
    cli = get(ctx)
    days = cli.settings.journey.first_week_days
    try:
        with cli.migrated_db().transaction() as session:
            result = actions.backfill(session, now=cli.clock.now(), first_week=timedelta(days=days))
    except HomeportError as exc:
        raise report(exc) from exc
    out.print(
        f"{result.recorded} journey events recorded "
        f"({result.considered - result.recorded} of {result.considered} moments already known)"
    )


@app.command("owners")
def owners(
    ctx: typer.Context,
    defaults: bool = typer.Option(
        False, "--defaults", help="Give every stage without an owner Homeport's default first."
    ),
) -> None:
    """The owner of every journey stage."""
    cli = get(ctx)
    try:
        with cli.migrated_db().transaction() as session:
            made = (
                actions.seed_default_owners(session, now=cli.clock.now(), actor=CLI_ACTOR)
                if defaults
                else 0
            )
            rows = service.owners(session)
    except HomeportError as exc:
        raise report(exc) from exc
    table = Table("stage", "department", "owner", "team")
    for o in rows:
        dept = o.department + (" (default, not set)" if o.is_default else "")
        table.add_row(o.stage, dept, o.owner or "-", o.team or "-")
    out.print(table)
    if defaults:
        out.print(f"{made} stages given their default owner")


@surveys_app.command("send-due")
def send_due(
    ctx: typer.Context,
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many invitations."),
) -> None:
    """Record due first-week checks and send the survey invitations due now (what the worker's
    ``surveys`` task does), obeying the rules against over-surveying."""
    cli = get(ctx)
    s = cli.settings
    try:
        with cli.migrated_db().transaction() as session:
            now = cli.clock.now()
            checks = actions.record_first_week_checks(
                session, now=now, after=timedelta(days=s.journey.first_week_days)
            )
            result = surveys.send_due(
                session,
                now=now,
                s=s.journey,
                public_url=s.public_url,
                bsp_name=s.bsp_name,
                limit=limit,
            )
    except HomeportError as exc:
        raise report(exc) from exc
    out.print(f"{checks} first-week checks recorded; {result}", highlight=False)


@app.command("funnel")
def funnel(
    ctx: typer.Context,
    days: int = typer.Option(180, "--days", min=1, max=3660, help="Sign-ups of the last N days."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on standard output."),
) -> None:
    """Sign-up → installed → first-week check → established, with the time between moments."""
    cli = get(ctx)
    now = cli.clock.now()
    with cli.migrated_db().session() as session:
        f = service.funnel(
            session, since=now - timedelta(days=days), until=now, now=now, s=cli.settings.journey
        )
    if as_json:
        typer.echo(json.dumps(f.as_json()))
        return
    table = Table("step", "subscribers", "of step before", "of sign-ups")
    for step in f.steps:
        table.add_row(
            step.label,
            f"{step.subscribers:,}",
            "-" if step.from_previous is None else f"{step.from_previous:.1f}%",
            "-" if step.from_signup is None else f"{step.from_signup:.1f}%",
        )
    out.print(table)
    times = Table("from → to", "median days", "subscribers")
    for i in f.intervals:
        times.add_row(
            i.label, "-" if i.median_days is None else str(i.median_days), str(i.subscribers)
        )
    out.print(times)
