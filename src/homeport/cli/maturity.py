"""``homeport maturity``: the BSP's stage on the service continuum, measured from its own data,
with the evidence of every criterion and what is missing for the next stage."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from homeport.cli.context import fail, get, out, report
from homeport.core.errors import HomeportError
from homeport.maturity import service
from homeport.maturity.criteria import STAGES


def maturity(
    ctx: typer.Context,
    as_json: bool = typer.Option(
        False, "--json", help='Print {"stage": S, "criteria": [...], "next_stage_gaps": [...]}.'
    ),
    days: int | None = typer.Option(
        None,
        "--days",
        help="Assess the last DAYS days (default: maturity.window_days, 90).",
        show_default=False,
    ),
) -> None:
    """The maturity stage 1-5 (DESIGN.md section 7) from the last DAYS of data: each
    criterion with its value, threshold and evidence, and the gaps to the next stage."""
    cli = get(ctx)
    if days is not None and not 1 <= days <= service.MAX_DAYS:
        raise fail(f"--days must be from 1 to {service.MAX_DAYS}")
    db = cli.migrated_db()
    try:
        with db.session() as session:
            result = service.assess(session, cli.settings.maturity, now=cli.clock.now(), days=days)
    except HomeportError as exc:
        raise report(exc) from exc
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    name = STAGES[result.stage][0] if result.stage else "below stage 1"
    out.print(
        f"[bold]Stage {result.stage}[/]: {name} "
        f"({result.since:%Y-%m-%d} to {result.until:%Y-%m-%d})",
        highlight=False,
    )
    table = Table(show_edge=False)
    for column in ("stage", "criterion", "met", "value", "threshold"):
        table.add_column(column)
    for c in result.criteria:
        value = "—" if c.value is None else f"{c.value:.3g}"
        threshold = "—" if c.threshold is None else f"{'≤' if c.at_most else '≥'} {c.threshold:g}"
        table.add_row(str(c.stage), c.title, "yes" if c.met else "no", value, threshold)
    out.print(table)
    if result.next_stage_gaps:
        out.print(f"[bold]To reach stage {result.stage + 1}:[/]")
        for gap in result.next_stage_gaps:
            out.print(f"  - {gap.gap}", highlight=False, markup=False)
