"""``homeport simulate``: generate a simulated BSP fleet into an empty database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from homeport.cli.context import console, fail, get, out, report
from homeport.core.errors import HomeportError
from homeport.simulator.fleet import FleetSummary, generate_fleet, validate_parameters


def _parse_now(value: str | None, default: datetime) -> datetime:
    if value is None:
        return default
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"--now: not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise fail("--now needs a time zone, e.g. 2026-11-23T10:00:00Z")
    return parsed


@contextmanager
def _progress_bar() -> Iterator[Progress]:
    bar = Progress(
        TextColumn("{task.description:<13}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    with bar:
        yield bar


def _print_summary(summary: FleetSummary, elapsed: float) -> None:
    table = Table(title="Rows written", title_justify="left", show_edge=False)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in summary.counts.items():
        table.add_row(name, f"{rows:,}")
    table.add_row("total", f"{summary.total_rows:,}", style="bold")
    out.print(table)
    during = f"; over {summary.days} days +{summary.signups:,} sign-ups" if summary.days else ""
    out.print(
        f"fleet (seed {summary.seed}): {summary.subscribers:,} subscribers as of "
        f"{summary.started_at:%Y-%m-%d %H:%M} UTC{during}; {summary.churned:,} churned; "
        f"{summary.total_subscribers:,} accounts in all",
        highlight=False,
    )
    rate = summary.total_subscribers / elapsed if elapsed > 0 else float("inf")
    out.print(f"elapsed {elapsed:.1f} s, {rate:,.0f} subscribers/s", highlight=False)


def simulate(
    ctx: typer.Context,
    subscribers: int = typer.Option(
        2000, "--subscribers", "-n", help="Subscribers in the fleet at the start."
    ),
    seed: int = typer.Option(
        7, "--seed", help="Random seed: the same seed, size, days and --now give the same fleet."
    ),
    days: int = typer.Option(
        0,
        "--days",
        help="Days of sign-ups and churn to simulate after "
        "the fleet is built (it is built at now minus DAYS).",
    ),
    now: str | None = typer.Option(
        None, "--now", help="Simulated present, ISO 8601 with a zone (default: the current time)."
    ),
) -> None:
    """Generate a simulated BSP: plans, bundles, topology, subscribers and home networks."""
    cli = get(ctx)
    try:
        validate_parameters(subscribers, seed, days)
    except HomeportError as exc:
        raise report(exc) from exc
    when = _parse_now(now, cli.clock.now())
    db = cli.migrated_db()
    started = time.perf_counter()
    with _progress_bar() as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        try:
            summary = generate_fleet(
                db, subscribers=subscribers, seed=seed, now=when, days=days, progress=progress
            )
        except HomeportError as exc:
            raise report(exc) from exc
    _print_summary(summary, time.perf_counter() - started)
