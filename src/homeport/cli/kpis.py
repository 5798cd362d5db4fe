"""``homeport kpis``: the KPIs with targets and the previous period (table or JSON), targets,
snapshots, scheduled email reports and the generated docs/kpis.md."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from homeport.cli.context import CLI_ACTOR, fail, get, out, report
from homeport.core.errors import HomeportError
from homeport.kpis import actions, docs, service
from homeport.kpis.definitions import KPIS
from homeport.kpis.models import PERIODS
from homeport.kpis.service import Cut

app = typer.Typer(
    help="KPIs: figures with targets and trends, targets, snapshots, email reports, docs.",
    invoke_without_command=True,
)

_STATUS = {"green": "[green]on target[/]", "red": "[red]off target[/]", "none": "-"}


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"--{name}: not an ISO 8601 time ({value!r})") from exc
    if parsed.tzinfo is None:
        raise fail(f"--{name}: needs a time zone (e.g. 2026-11-23T00:00:00Z)")
    return parsed


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}" + (" %" if unit == "%" else "")


@app.callback()
def kpis(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON keyed by KPI name."),
    period: str = typer.Option("week", "--period", help="day, week or month (this one so far)."),
    complete: bool = typer.Option(
        False, "--complete", help="The last complete period instead of the current one."
    ),
    since: str | None = typer.Option(None, "--since", help="Start (ISO 8601 with zone)."),
    until: str | None = typer.Option(None, "--until", help="End (ISO 8601 with zone)."),
    channel: str | None = typer.Option(None, "--channel"),
    team_id: int | None = typer.Option(None, "--team-id"),
    agent_id: int | None = typer.Option(None, "--agent-id"),
    region_id: int | None = typer.Option(None, "--region-id"),
    plan_id: int | None = typer.Option(None, "--plan-id"),
    journey_stage: str | None = typer.Option(None, "--journey-stage"),
    origin: str | None = typer.Option(None, "--origin", help="reactive or proactive."),
) -> None:
    """Every KPI over the period (this week so far by default) with its target, the previous
    period (the same stretch of it) and whether it is on target. A cut shows the KPIs that
    can take it."""
    if ctx.invoked_subcommand is not None:
        return
    if period not in PERIODS:
        raise fail(f"--period: one of {', '.join(PERIODS)}")
    cli = get(ctx)
    cut = Cut(
        channel=channel,
        team_id=team_id,
        agent_id=agent_id,
        region_id=region_id,
        plan_id=plan_id,
        journey_stage=journey_stage,
        origin=origin,
    )
    try:
        with cli.migrated_db().session() as session:
            o = service.overview(
                session,
                period,
                cli.clock.now(),
                zone=cli.settings.timezone,
                cut=cut,
                since=_time(since, "since"),
                until=_time(until, "until"),
                complete=complete,
            )
    except HomeportError as exc:
        raise report(exc) from exc
    if as_json:
        out.print_json(json.dumps(o.to_json(), ensure_ascii=False))
        return
    w = o.window
    table = Table(
        "KPI",
        "value",
        "target",
        "previous",
        "status",
        title=f"{w.since:%Y-%m-%d %H:%M} to {w.until:%Y-%m-%d %H:%M} UTC",
    )
    for row in o.rows.values():
        k = row.kpi
        arrow = {True: " [green]▲[/]", False: " [red]▼[/]", None: ""}[row.improved]
        table.add_row(
            escape(f"{k.title} ({k.unit})"),
            _num(row.current.value, k.unit),
            _num(row.target, k.unit),
            _num(row.previous.value, k.unit) + arrow,
            _STATUS[row.status],
        )
    out.print(table)


@app.command("targets")
def targets(
    ctx: typer.Context,
    defaults: bool = typer.Option(
        False, "--defaults", help="Set the documented default targets that are not set yet."
    ),
    set_: list[str] = typer.Option(
        [], "--set", help="NAME=VALUE (or NAME= to remove); repeat for several."
    ),
    cut: str = typer.Option("", "--cut", help='For one cut ("team:3", "channel:email").'),
) -> None:
    """Show the targets, after setting the defaults or the given ones (audited)."""
    cli = get(ctx)
    try:
        with cli.migrated_db().transaction() as session:
            now = cli.clock.now()
            if defaults:
                done = actions.seed_default_targets(session, CLI_ACTOR, now=now)
                out.print(f"{len(done)} default targets set")
            for item in set_:
                name, sep, value = item.partition("=")
                if not sep:
                    raise fail(f"--set {item!r}: use NAME=VALUE")
                try:
                    number = float(value) if value.strip() else None
                except ValueError as exc:
                    raise fail(f"--set {item!r}: {value!r} is not a number") from exc
                actions.set_target(session, CLI_ACTOR, name.strip(), number, cut, now=now)
            current = service.targets(session, cut)
    except HomeportError as exc:
        raise report(exc) from exc
    table = Table("KPI", "target", "direction")
    for name, goal in sorted(current.items()):
        k = KPIS[name]
        table.add_row(name, _num(goal, k.unit), f"{k.direction} is better")
    out.print(table if current else "no targets: 'homeport kpis targets --defaults' sets them")


@app.command("snapshot")
def snapshot(ctx: typer.Context) -> None:
    """Store every KPI for the last and the current day, week and month (as the worker's
    daily kpi_snapshots task does); running it again replaces the rows."""
    cli = get(ctx)
    try:
        with cli.migrated_db().transaction() as session:
            run = actions.snapshot_due(session, now=cli.clock.now(), zone=cli.settings.timezone)
    except HomeportError as exc:
        raise report(exc) from exc
    out.print(f"{run.rows} snapshot rows stored for {len(run.buckets)} periods")


@app.command("subscribe")
def subscribe(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="Who gets the report."),
    monthly: bool = typer.Option(False, "--monthly", help="Monthly instead of weekly."),
) -> None:
    """Email the headline KPIs weekly (Monday 07:00 in the BSP's zone) or monthly."""
    cli = get(ctx)
    frequency = "monthly" if monthly else "weekly"
    try:
        with cli.migrated_db().transaction() as session:
            actions.subscribe(session, CLI_ACTOR, email, frequency=frequency, now=cli.clock.now())
    except HomeportError as exc:
        raise report(exc) from exc
    out.print(f"{escape(email)} gets the {frequency} KPI report", highlight=False)


@app.command("unsubscribe")
def unsubscribe(ctx: typer.Context, email: str = typer.Argument(...)) -> None:
    """Stop the KPI reports to an address."""
    cli = get(ctx)
    try:
        with cli.migrated_db().transaction() as session:
            n = actions.unsubscribe(session, CLI_ACTOR, email, now=cli.clock.now())
    except HomeportError as exc:
        raise report(exc) from exc
    out.print(f"{n} subscriptions stopped")


@app.command("docs")
def write_docs(
    path: Path = typer.Option(Path("docs/kpis.md"), "--path", help="Where to write it."),
) -> None:
    """Write docs/kpis.md from the KPI definitions."""
    path.write_text(docs.render(), encoding="utf-8")
    out.print(f"wrote {path}", highlight=False)
