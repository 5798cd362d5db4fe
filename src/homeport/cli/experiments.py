"""``homeport experiments create|start|stop|observe|result|list|simulate`` and ``homeport
campaigns create|launch|list``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from homeport.cli.context import CLI_ACTOR, fail, get, out, report
from homeport.core.errors import HomeportError
from homeport.experiments import actions, campaigns, metrics, service
from homeport.experiments.assignment import parse_variants
from homeport.experiments.service import ExperimentResult
from homeport.simulator import experiment as simulated

app = typer.Typer(
    help="Experiments: random, stable assignment to variants and the result with a "
    "confidence interval and a plain verdict.",
    no_args_is_help=True,
)
campaigns_app = typer.Typer(
    help="Campaigns to a lifestyle segment by email and in the portal (consent respected).",
    no_args_is_help=True,
)


def _print_result(result: ExperimentResult) -> None:
    e = result.experiment
    m = result.metric
    out.print(
        f"{escape(e.key)} ({e.status}): {escape(e.name)}\n"
        f"metric {m.name} ({m.kind}, {m.window.days}-day window, "
        f"{'lower' if m.lower_is_better else 'higher'} is better)",
        highlight=False,
    )
    table = Table(
        "variant", "weight", "assigned", "observed", "share" if m.kind == "binary" else "mean"
    )
    for v in result.variants:
        value = "—"
        if v.mean is not None:
            value = f"{v.mean * 100:.2f} %" if m.kind == "binary" else f"{v.mean:.3f}"
        table.add_row(escape(v.name), str(v.weight), str(v.assigned), str(v.observed), value)
    out.print(table)
    for o in result.outcomes:
        c = o.comparison
        if c is not None:
            scale, unit = (100.0, " points") if c.kind == "binary" else (1.0, "")
            lift = f", relative lift {c.relative_lift * 100:+.1f} %" if c.relative_lift else ""
            out.print(
                f"{escape(o.treatment)} − {escape(c.control)}: {c.difference * scale:+.2f}{unit}, "
                f"{c.confidence * 100:g} % CI {c.ci_low * scale:.2f} to {c.ci_high * scale:.2f}, "
                f"p = {c.p_value:.3g}{lift}",
                highlight=False,
            )
        out.print(f"verdict: {escape(o.verdict.text)}", highlight=False)


@app.command("create")
def create(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="What the code asks for, e.g. notify-wording."),
    name: str = typer.Option(..., "--name"),
    metric: str = typer.Option(..., "--metric", help=f"One of {', '.join(metrics.METRICS)}."),
    variants: str = typer.Option(
        "control:50,treatment:50", "--variants", help="name:weight, …; the first is the control."
    ),
    hypothesis: str = typer.Option("", "--hypothesis"),
) -> None:
    """Create a draft experiment."""
    cli = get(ctx)
    try:
        with cli.migrated_db().transaction() as session:
            e = actions.create_experiment(
                session,
                key=key,
                name=name,
                hypothesis=hypothesis,
                variants=parse_variants(variants),
                metric=metric,
                actor=CLI_ACTOR,
                now=cli.clock.now(),
            )
            line = f"experiment {e.key} created (draft): " + ", ".join(
                f"{v['name']} {v['weight']}" for v in e.variants
            )
    except HomeportError as exc:
        raise report(exc) from exc
    out.print(escape(line), highlight=False)


def _transition(ctx: typer.Context, key: str, what: str) -> None:
    cli = get(ctx)
    try:
        with cli.migrated_db().transaction() as session:
            if what == "start":
                actions.start(session, key, actor=CLI_ACTOR, now=cli.clock.now())
            else:
                actions.stop(session, key, actor=CLI_ACTOR, now=cli.clock.now())
    except HomeportError as exc:
        raise report(exc) from exc
    out.print(f"experiment {escape(key)} {'started' if what == 'start' else 'stopped'}")


@app.command("start")
def start(ctx: typer.Context, key: str) -> None:
    """Start assigning subscribers (a draft only)."""
    _transition(ctx, key, "start")


@app.command("stop")
def stop(ctx: typer.Context, key: str) -> None:
    """Stop assigning subscribers; the result stays."""
    _transition(ctx, key, "stop")


@app.command("observe")
def observe(ctx: typer.Context, key: str) -> None:
    """Measure the metric for the subscribers whose window has passed."""
    cli = get(ctx)
    try:
        with cli.migrated_db().transaction() as session:
            run = actions.observe(session, key, now=cli.clock.now())
    except HomeportError as exc:
        raise report(exc) from exc
    out.print(
        f"{run.observed} observed now, {run.waiting} inside their window, "
        f"{run.no_value} with nothing to measure"
    )


@app.command("result")
def result(
    ctx: typer.Context,
    key: str,
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Each variant against the control: difference, confidence interval, p-value, verdict."""
    cli = get(ctx)
    try:
        with cli.migrated_db().session() as session:
            r = service.result(session, key)
            if as_json:
                typer.echo(json.dumps(r.as_dict(), indent=2))
                return
            _print_result(r)
    except HomeportError as exc:
        raise report(exc) from exc


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Every experiment with its status and assignments."""
    cli = get(ctx)
    with cli.migrated_db().session() as session:
        table = Table("key", "status", "metric", "assigned", "name")
        rows = service.list_experiments(session)
        for e in rows:
            counts = service.assigned_counts(session, e.id)
            table.add_row(
                escape(e.key),
                e.status,
                e.metric,
                " / ".join(f"{v['name']} {counts.get(v['name'], 0)}" for v in e.variants),
                escape(e.name),
            )
    if not rows:
        out.print("no experiments")
        return
    out.print(table)


@app.command("simulate")
def simulate(
    ctx: typer.Context,
    subscribers: int = typer.Option(2000, "--subscribers", help="Subscribers in the test."),
    days: int = typer.Option(28, "--days", help="How long it ran (at least 8)."),
    effect: float = typer.Option(
        -0.03, "--effect", help="True change of the 7-day contact share in 'friendly'."
    ),
    base_rate: float = typer.Option(0.12, "--base-rate", help="7-day contact share in control."),
    seed: int = typer.Option(7, "--seed"),
    key: str | None = typer.Option(None, "--key", help="Default: notify-wording-s<seed>."),
    now: str | None = typer.Option(None, "--now", help="End of the run (ISO 8601)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Run the notification-wording experiment end to end on a simulated fleet (generated into
    an empty database, or the one there) with a known true effect, and print its result."""
    cli = get(ctx)
    end = cli.clock.now()
    if now is not None:
        try:
            end = datetime.fromisoformat(now)
        except ValueError as exc:
            raise fail(f"--now: not an ISO 8601 time: {now!r}") from exc
        if end.tzinfo is None:
            raise fail("--now needs a time zone, e.g. 2026-11-23T10:00:00Z")
    try:
        run = simulated.run(
            cli.migrated_db(),
            subscribers=subscribers,
            days=days,
            effect=effect,
            now=end,
            seed=seed,
            base_rate=base_rate,
            key=key,
        )
    except HomeportError as exc:
        raise report(exc) from exc
    if as_json:
        typer.echo(json.dumps(run.as_dict(), indent=2))
        return
    out.print(
        f"simulated {run.subscribers:,} subscribers (seed {run.seed}"
        f"{', fleet generated' if run.fleet_generated else ''}); true effect "
        f"{run.true_effect * 100:+.1f} points on a {run.base_rate * 100:.1f} % base; "
        f"{run.contacts:,} contacted support",
        highlight=False,
    )
    _print_result(run.result)


# --- Campaigns --------------------------------------------------------------------------------


@campaigns_app.command("create")
def campaign_create(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    segment: str = typer.Option(..., "--segment"),
    subject: str = typer.Option(..., "--subject"),
    body: str | None = typer.Option(None, "--body", help="The message ({first_name}, …)."),
    body_file: Path | None = typer.Option(None, "--body-file", exists=True, dir_okay=False),
    channels: str = typer.Option("email,portal", "--channels"),
    offer: str | None = typer.Option(None, "--offer", help="A bundle code to offer."),
    experiment: str | None = typer.Option(
        None,
        "--experiment",
        help="An experiment's key: its 'control' group is sent nothing, the others the campaign.",
    ),
) -> None:
    """Create a draft campaign."""
    if (body is None) == (body_file is None):
        raise fail("give the message with --body or --body-file")
    text = body if body is not None else body_file.read_text(encoding="utf-8")  # type: ignore[union-attr]
    cli = get(ctx)
    try:
        with cli.migrated_db().transaction() as session:
            c = campaigns.create_campaign(
                session,
                name=name,
                segment=segment,
                channels=channels.split(","),
                subject=subject,
                body=text,
                offer_bundle_code=offer,
                experiment_key=experiment,
                actor=CLI_ACTOR,
                now=cli.clock.now(),
            )
            line = f"campaign {c.id} {c.name!r} created (draft) for {c.segment}" + (
                f", as experiment {experiment!r}" if experiment else ""
            )
    except HomeportError as exc:
        raise report(exc) from exc
    out.print(escape(line), highlight=False)


@campaigns_app.command("launch")
def campaign_launch(
    ctx: typer.Context, campaign: str = typer.Argument(..., help="Its id or name.")
) -> None:
    """Send a draft campaign (emails are queued for the worker's outbound task)."""
    cli = get(ctx)
    settings = cli.settings
    try:
        with cli.migrated_db().transaction() as session:
            found = (
                campaigns.get_campaign(session, int(campaign))
                if campaign.isdigit()
                else campaigns.campaign_by_name(session, campaign)
            )
            run = campaigns.launch(
                session,
                found.id,
                actor=CLI_ACTOR,
                now=cli.clock.now(),
                base_url=settings.public_url,
                bsp_name=settings.bsp_name,
                sender=settings.support_email,
            )
    except HomeportError as exc:
        raise report(exc) from exc
    for channel, by in sorted(run.counts.items()):
        out.print(
            f"{channel}: " + ", ".join(f"{status} {n}" for status, n in sorted(by.items())),
            highlight=False,
        )


@campaigns_app.command("list")
def campaign_list(ctx: typer.Context) -> None:
    """Every campaign with its deliveries by status."""
    cli = get(ctx)
    with cli.migrated_db().transaction() as session:
        table = Table("id", "status", "segment", "channels", "deliveries", "name")
        rows = campaigns.list_campaigns(session)
        for c in rows:
            campaigns.refresh_email_statuses(session, c)
            counts = campaigns.delivery_counts(session, c.id)
            table.add_row(
                str(c.id),
                c.status,
                c.segment,
                ",".join(c.channels),
                ", ".join(f"{s} {sum(by.values())}" for s, by in counts.items() if sum(by.values()))
                or "—",
                escape(c.name),
            )
    if not rows:
        out.print("no campaigns")
        return
    out.print(table)
