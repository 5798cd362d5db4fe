"""``homeport health``: network-health tools; ``evaluate --ground-truth`` scores detection
against the simulator's injected faults."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import typer
from rich.table import Table

from homeport.cli.context import console, fail, get, out, report
from homeport.core.errors import HomeportError
from homeport.simulator import evaluation
from homeport.simulator.faults import UNOBSERVABLE
from homeport.wiring import connect

app = typer.Typer(help="Network health: detection quality against ground truth.")


def _fmt(value: float | None, pattern: str) -> str:
    return "–" if value is None else format(value, pattern)


@app.command()
def evaluate(
    ctx: typer.Context,
    ground_truth: bool = typer.Option(
        False,
        "--ground-truth",
        help="Simulate telemetry with injected faults and score the findings against them.",
    ),
    days: float = typer.Option(7.0, "--days", help="Simulated days (at most 14)."),
    homes_sample: int | None = typer.Option(
        None,
        "--homes-sample",
        help="Simulate only about this many homes (whole ports, so outages keep their shape).",
    ),
    seed: int = typer.Option(7, "--seed", help="Seed of the fault schedule."),
    fault_scale: float = typer.Option(
        1.0,
        "--fault-scale",
        help="Multiply the home-fault rates (more faults per home-day: tighter estimates).",
    ),
    start: str | None = typer.Option(
        None,
        "--start",
        help="Start of the simulated range (ISO 8601 with a zone); default: after the "
        "latest stored report, or the fleet's present.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
) -> None:
    """Simulate DAYS of telemetry on the configured database (which must hold a simulated
    fleet: 'homeport simulate'), run it through ingest and the health pipeline, and print
    per fault class precision, recall and median detection delay."""
    if not ground_truth:
        raise fail("only --ground-truth evaluation exists: add --ground-truth")
    if not evaluation.MIN_DAYS <= days <= 14:
        raise fail(
            f"days must be at least {evaluation.MIN_DAYS} (six hours: a fault lasts at least half"
            " an hour and must have time to be detected and to end) and at most 14"
        )
    if homes_sample is not None and homes_sample < 1:
        raise fail("--homes-sample must be at least 1")
    cli = get(ctx)
    settings = cli.settings
    db = cli.migrated_db()
    connect(db, settings)
    at: datetime | None = None
    if start is not None:
        try:
            at = datetime.fromisoformat(start)
        except ValueError as exc:
            raise fail(f"--start: not an ISO 8601 time: {start!r}") from exc
        if at.tzinfo is None:
            raise fail("--start needs a time zone, e.g. 2026-11-16T00:00:00Z")
    interval = settings.telemetry.report_interval_s

    def progress(done: int, total: int) -> None:
        if console.is_terminal and (done % 24 == 0 or done == total):
            console.print(f"  {done}/{total} report intervals", highlight=False)

    try:
        with db.session() as session:
            begin = evaluation.window_start(session, at, interval)
        fleet, _, run = evaluation.simulate(
            db,
            settings,
            start=begin,
            days=days,
            seed=seed,
            homes_sample=homes_sample,
            fault_scale=fault_scale,
            progress=progress,
        )
        grace = 2 * interval
        with db.session() as session:
            truth, seen = evaluation.collect(
                session, start=run.start, end=run.end + timedelta(seconds=grace)
            )
    except HomeportError as exc:
        raise report(exc) from exc
    result = evaluation.score(
        truth, seen, port_homes=evaluation.port_homes_of(fleet), grace_s=grace
    )
    if as_json:
        payload = result.as_dict()
        payload["run"] = {
            "start": run.start.isoformat(),
            "end": run.end.isoformat(),
            "homes": run.homes,
            "faults": run.faults,
            "reports": run.reports,
            "accepted": run.accepted,
            "rejected": run.rejected,
            "elapsed_s": round(run.elapsed_s, 1),
            "report_interval_s": interval,
        }
        out.print_json(json.dumps(payload))
        return
    table = Table(title="Detection against ground truth", title_justify="left", show_edge=False)
    for name in ("fault class", "faults", "detected", "precision", "recall", "median delay"):
        table.add_column(name, justify="left" if name == "fault class" else "right")
    for name, s in result.classes.items():
        table.add_row(
            name,
            str(s.units),
            str(s.detected),
            _fmt(s.precision, ".3f"),
            _fmt(s.recall, ".3f"),
            "–" if s.median_delay_s is None else f"{s.median_delay_s:.0f} s",
        )
    for name, why in UNOBSERVABLE.items():
        table.add_row(name, "–", "–", "–", "–", f"not injected: {why}")
    out.print(table)
    cuts = result.outages_per_cut
    one_each = all(n == 1 for n in cuts)
    out.print(
        f"fibre cuts: {len(cuts)}, outages per cut {cuts} "
        f"({'one each' if one_each else 'NOT one each'})",
        highlight=False,
    )
    if result.other_findings:
        other = ", ".join(f"{k} {n}" for k, n in result.other_findings.items())
        out.print(f"findings of unscored kinds: {other}", highlight=False)
    rate = run.reports / run.elapsed_s if run.elapsed_s > 0 else 0.0
    out.print(
        f"{run.homes:,} homes, {run.start:%Y-%m-%d %H:%M} to {run.end:%Y-%m-%d %H:%M} UTC, "
        f"{run.faults} faults, {run.reports:,} reports ({run.accepted:,} accepted, "
        f"{run.rejected:,} rejected) in {run.elapsed_s:.0f} s ({rate:,.0f} reports/s end to end)",
        highlight=False,
    )
