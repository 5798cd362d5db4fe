"""``homeport simulate``: generate a simulated BSP fleet into an empty database; with
``--live``, send the stored fleet's telemetry (faults included) through HTTP or MQTT."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from enum import StrEnum
from types import FrameType

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

from homeport.adapters.mqtt.broker import DEFAULT_PREFIX, Broker
from homeport.cli.context import CliContext, console, fail, get, out, report, setup_logging
from homeport.core.errors import HomeportError
from homeport.simulator import live
from homeport.simulator.fleet import FleetSummary, generate_fleet, validate_parameters

log = logging.getLogger("homeport.simulate")


class TransportName(StrEnum):
    http = "http"
    mqtt = "mqtt"


def _parse_now(value: str | None, default: datetime, option: str = "--now") -> datetime:
    if value is None:
        return default
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"{option}: not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise fail(f"{option} needs a time zone, e.g. 2026-11-23T10:00:00Z")
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
    subscribers: int | None = typer.Option(
        None,
        "--subscribers",
        "-n",
        help="Subscribers in the fleet at the start (default: 2000).",
        show_default=False,
    ),
    seed: int = typer.Option(
        7,
        "--seed",
        help="Random seed: the same seed, size, days and --now give the same fleet "
        "(with --live: the seed of the fault schedule).",
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
    live_: bool = typer.Option(
        False,
        "--live",
        help="Send the telemetry of the fleet already in the database (faults and ground "
        "truth included) through --transport, tick by tick, until --duration or Ctrl-C.",
    ),
    transport: TransportName = typer.Option(
        TransportName.http, "--transport", help="With --live: http or mqtt."
    ),
    url: str | None = typer.Option(
        None,
        "--url",
        help="With --transport http: Homeport's base URL (reports go to URL/api/v1/telemetry).",
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        envvar="HOMEPORT_SIMULATE_TOKEN",
        help="With --transport http: an API token with the telemetry:write scope "
        "(or HOMEPORT_SIMULATE_TOKEN).",
    ),
    mqtt: str | None = typer.Option(
        None,
        "--mqtt",
        help="With --transport mqtt: the broker, mqtt://[user:password@]host[:port] or mqtts://.",
    ),
    as_gateways: bool = typer.Option(
        False,
        "--as-gateways",
        help="With --transport http: each gateway reports with its own device secret (issued, "
        "or rotated, here for every gateway of the fleet), one request per gateway and tick, "
        "so that it receives its remote actions and acknowledges them. Over MQTT the gateways "
        "always do.",
    ),
    topic_prefix: str = typer.Option(
        DEFAULT_PREFIX, "--topic-prefix", help="With --transport mqtt: reports go to PREFIX/<id>."
    ),
    speed: float = typer.Option(
        1.0,
        "--speed",
        min=0.001,
        max=100_000,
        help="With --live: simulated seconds per real second while the simulated time is "
        "behind the present (it never runs ahead of the real clock: the server refuses reports "
        "from the future).",
    ),
    duration: float | None = typer.Option(
        None,
        "--duration",
        min=1,
        help="With --live: stop after this many seconds of simulated time (default: run until "
        "Ctrl-C or SIGTERM).",
    ),
    start: str | None = typer.Option(
        None,
        "--start",
        help="With --live: the first report time, ISO 8601 with a zone (default: just after "
        "the latest stored report, or the fleet's present).",
    ),
    batch_size: int = typer.Option(
        500, "--batch-size", help="With --transport http: reports per request."
    ),
    fault_scale: float = typer.Option(
        1.0, "--fault-scale", min=0.0001, max=100, help="With --live: multiply the fault rates."
    ),
    maturity_profile: int | None = typer.Option(
        None,
        "--maturity-profile",
        min=1,
        max=5,
        help="After the fleet, play --days of the support operation of a BSP at this maturity "
        "stage (1-5: its channels, proactive cases, auto-remediation, self-service, chatbot, "
        "KPI program and journey owners); homeport maturity then measures that stage.",
    ),
) -> None:
    """Generate a simulated BSP: plans, bundles, topology, subscribers and home networks. With
    --live, send the stored fleet's telemetry to Homeport over HTTP or MQTT instead."""
    cli = get(ctx)
    if live_:
        if subscribers is not None or days or now is not None or maturity_profile is not None:
            raise fail(
                "--subscribers, --days, --now and --maturity-profile make a new fleet; --live "
                "uses the stored one"
            )
        _live(
            cli,
            transport=transport,
            url=url,
            token=token,
            mqtt=mqtt,
            topic_prefix=topic_prefix,
            speed=speed,
            duration=duration,
            start=start,
            seed=seed,
            batch_size=batch_size,
            fault_scale=fault_scale,
            as_gateways=as_gateways,
        )
        return
    subscribers = 2000 if subscribers is None else subscribers
    try:
        validate_parameters(subscribers, seed, days)
    except HomeportError as exc:
        raise report(exc) from exc
    if maturity_profile is not None and not 3 <= days <= 365:
        raise fail("--maturity-profile needs --days from 3 to 365 (the days of operation to play)")
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
    if maturity_profile is not None:
        _maturity(cli, maturity_profile, start=when - timedelta(days=days), end=when, seed=seed)


def _maturity(cli: CliContext, stage: int, *, start: datetime, end: datetime, seed: int) -> None:
    from homeport import wiring
    from homeport.simulator import maturity

    db = cli.migrated_db()
    # A completed visit solves its case, an escalated finding opens its case: the domains'
    # handlers run as in production.
    wiring.connect(db, cli.settings)
    began = time.perf_counter()
    try:
        result = maturity.run_profile(db, stage, start=start, end=end, seed=seed)
    except HomeportError as exc:
        raise report(exc) from exc
    out.print(
        f"maturity profile {stage} over {result.days} days: {result.reactive_cases:,} reactive "
        f"technical cases, {result.other_cases:,} other contacts, {result.proactive_cases:,} "
        f"proactive cases, {result.auto_fixed:,} findings fixed automatically, "
        f"{result.visits:,} visits, {result.bot_conversations:,} chatbot conversations, "
        f"{result.self_service_users:,} self-service users, in "
        f"{time.perf_counter() - began:.1f} s",
        highlight=False,
    )


def _make_transport(
    transport: TransportName,
    *,
    url: str | None,
    token: str | None,
    mqtt: str | None,
    topic_prefix: str,
    batch_size: int,
) -> live.Transport:
    if transport is TransportName.http:
        if mqtt is not None:
            raise fail("--mqtt is for --transport mqtt")
        if not url or not token:
            raise fail("--transport http needs --url and --token (a telemetry:write API token)")
        return live.HttpTransport(url, token, batch=batch_size)
    if url is not None or token is not None:
        raise fail("--url and --token are for --transport http")
    if not mqtt:
        raise fail("--transport mqtt needs --mqtt mqtt://host[:port]")
    return live.MqttTransport(Broker.parse(mqtt), prefix=topic_prefix)


def _live(
    cli: CliContext,
    *,
    transport: TransportName,
    url: str | None,
    token: str | None,
    mqtt: str | None,
    topic_prefix: str,
    speed: float,
    duration: float | None,
    start: str | None,
    seed: int,
    batch_size: int,
    fault_scale: float,
    as_gateways: bool = False,
) -> None:
    settings = cli.settings
    if as_gateways and transport is not TransportName.http:
        raise fail("--as-gateways is for --transport http (MQTT gateways always get actions)")
    try:
        sender = _make_transport(
            transport,
            url=url,
            token=token,
            mqtt=mqtt,
            topic_prefix=topic_prefix,
            batch_size=batch_size,
        )
    except HomeportError as exc:
        raise report(exc) from exc
    at = None if start is None else _parse_now(start, cli.clock.now(), option="--start")
    db = cli.migrated_db()
    if as_gateways and isinstance(sender, live.HttpTransport):
        sender.gateways = live.issue_gateway_secrets(db, cli.clock.now())
        log.info("%d gateways report with their own device secret", len(sender.gateways))
    interval = settings.telemetry.report_interval_s
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping after the current tick", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    began = time.perf_counter()
    try:
        live.check_reachable(sender)
        first = live.live_start(db, at=at, interval_s=interval, wall=cli.clock.now())
        setup_logging(settings)
        # The receiver runs on the real clock: the simulated time may catch up with it, never
        # pass it.
        clock = live.SimClock(first, speed, limits=[cli.clock.now])
        emitter = live.LiveEmitter(
            db,
            sender,
            clock,
            live.LiveOptions(
                interval_s=interval,
                seed=seed,
                fault_scale=fault_scale,
                min_port_homes=settings.health.outage_min_homes,
            ),
        )
        end = None if duration is None else first + timedelta(seconds=duration)
        stats = emitter.run(stop, start=first, end=end)
    except HomeportError as exc:
        raise report(exc) from exc
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sender.close()
        db.dispose()
    d = stats.delivery
    span = (
        f"{stats.first_tick:%Y-%m-%d %H:%M} to {stats.last_tick:%Y-%m-%d %H:%M} UTC"
        if stats.first_tick and stats.last_tick
        else "no tick"
    )
    out.print(
        f"live telemetry over {transport.value}: {stats.ticks} ticks ({span}), "
        f"{d.sent:,} reports sent, {d.accepted:,} accepted, {d.duplicates:,} duplicates, "
        f"{d.rejected:,} rejected, {d.failed:,} not delivered, {stats.silent:,} silent "
        f"(fibre cuts), {stats.faults_started} faults started, "
        f"{d.actions:,} remote actions acknowledged, "
        f"in {time.perf_counter() - began:.1f} s",
        highlight=False,
    )
    if d.failed:
        raise fail(f"{d.failed} reports could not be delivered (see the log)")
