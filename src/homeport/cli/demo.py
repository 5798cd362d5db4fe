"""``homeport demo``: a working Homeport on SQLite with a simulated fleet, in one command.

The first run generates the fleet and a day of its telemetry history (faults included, through
the real ingest and health pipeline; fewer hours for a fleet over 2,500 subscribers), so that
every home has a score history at once. Then, in
one process: the web UI and API, the worker's periodic tasks, and the live simulator sending the
fleet's reports to the server's own ``POST /api/v1/telemetry`` with an integration token, on a
simulated clock that runs ``--speed`` times faster than real time (the server and the worker
share it). Faults are injected now and then, a fibre cut among them, so that findings, outages
and proactive cases appear while you watch. ``--no-live`` serves the stored data only.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

import typer
import uvicorn
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from homeport import migrations, wiring
from homeport.cli.context import CLI_ACTOR, CliContext, console, fail, get, out, setup_logging
from homeport.cli.serve import run_server
from homeport.cli.smtp import start_email
from homeport.cli.tasks import scheduler_tasks
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import HomeportError
from homeport.core.settings import Settings
from homeport.health.events import OutageClosed, OutageOpened
from homeport.identity import actions, service
from homeport.identity.models import ApiToken, Team
from homeport.selfservice import kb
from homeport.subscribers.models import Subscriber
from homeport.support import actions as support_actions
from homeport.support import defaults
from homeport.worker import Scheduler, default_tasks

DEMO_ADMIN = "admin@homeport.demo"
#: The staff user the live simulator's API token acts for (it has no password: no sign-in).
DEMO_INTEGRATION = "telemetry@homeport.demo"
TOKEN_NAME = "homeport demo: live telemetry"  # noqa: S105 (a label, not a secret)
#: Telemetry history generated on the first run: one report per home per hour over a day, or
#: fewer hours for a large fleet, so that it stays within about this many reports (the history
#: goes through the whole ingest and health pipeline: some 700 reports/s on a small machine).
HISTORY_HOURS = 24
HISTORY_BUDGET = 60_000
HISTORY_STEP_S = 3600
#: The demo receives support email here (or on a free port when it is taken).
DEMO_SMTP_PORT = 2525


def history_hours(subscribers: int) -> int:
    return max(2, min(HISTORY_HOURS, HISTORY_BUDGET // max(subscribers, 1)))


log = logging.getLogger("homeport.demo")


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _smtp_port(host: str) -> int:
    """2525 when it is free, else any free port."""
    if _port_free(host, DEMO_SMTP_PORT):
        return DEMO_SMTP_PORT
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _loopback(host: str) -> str:
    """Where this process reaches a server listening on ``host``."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104


def _floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _history(
    db: Database,
    settings: Settings,
    *,
    first: datetime,
    hours: int,
    seed: int,
    progress: Progress,
) -> tuple[int, float]:
    """``hours`` of the fleet's telemetry with injected faults (and their ground truth), one
    report per home per hour, through ``store_reports`` and the health pipeline: every home gets
    hourly experience scores. Returns (reports, seconds)."""
    from homeport.simulator import evaluation  # numpy: only when needed

    # The simulation's tick (and its faults' shortest duration) is the history's step; the
    # health pipeline keeps the real report interval (wired with ``settings``).
    hourly = settings.model_copy(
        update={
            "telemetry": settings.telemetry.model_copy(update={"report_interval_s": HISTORY_STEP_S})
        }
    )
    task = progress.add_task("telemetry history", total=hours)

    def advance(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    wiring.connect(db, settings)
    _, _, run = evaluation.simulate(
        db, hourly, start=first, days=hours / 24, seed=seed, progress=advance
    )
    # Rollups of the history (the worker keeps them up to date from here on).
    clock = ManualClock(first + timedelta(hours=hours))
    rollups = [t for t in default_tasks(settings) if t.name in ("rollup_hourly", "rollup_daily")]
    for result in Scheduler(db, rollups, clock).run_all():
        if not result.ok:
            raise HomeportError(f"rolling up the history failed: {result.error}")
    return run.reports, run.elapsed_s


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
    began = time.perf_counter()
    history: tuple[int, float] | None = None
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

            # The fleet as it was HOURS ago, then those hours of telemetry up to the present hour.
            hours = history_hours(subscribers)
            first = _floor_hour(cli.clock.now()) - timedelta(hours=hours - 1)
            generate_fleet(
                db,
                subscribers=subscribers,
                seed=seed,
                now=first,
                days=30,
                progress=advance,
            )
            history = _history(
                db, cli.settings, first=first, hours=hours, seed=seed, progress=progress
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
        desk = progress.add_task("support desk", total=1)
        with db.transaction() as session:
            demo_desk(
                session, password=password, now=cli.clock.now(), timezone=cli.settings.timezone
            )
            kb.seed_articles(session, CLI_ACTOR, now=cli.clock.now())
        progress.update(desk, completed=1)
    if history is not None:
        reports, seconds = history
        console.print(
            f"prepared in {time.perf_counter() - began:.0f} s "
            f"({reports:,} history reports in {seconds:.0f} s)",
            highlight=False,
        )
    return password


#: The demo's support staff: (e-mail, role, name, team). They share the admin's password.
DEMO_STAFF = (
    ("agent1@homeport.demo", "agent", "Alex Agent", "Customer support"),
    ("agent2@homeport.demo", "agent", "Bea Agent", "Customer support"),
    ("agent3@homeport.demo", "agent", "Cal Agent", "Customer support"),
    ("keep@homeport.demo", "agent", "Rita Retention", "Retention"),
    ("noc@homeport.demo", "noc", "Nia Operations", "Network operations"),
    ("tech@homeport.demo", "technician", "Tom Technician", "Field"),
)


def demo_desk(session: Session, *, password: str, now: datetime, timezone: str) -> None:
    """The default support desk and the demo's staff, each with the admin's password."""
    defaults.install(session, now=now, actor=CLI_ACTOR, timezone=timezone)
    teams = {t.name: t.id for t in session.scalars(select(Team))}
    for email, role, name, team in DEMO_STAFF:
        user = service.staff_by_email(session, email)
        if user is None:
            user = actions.create_staff_user(
                session,
                email=email,
                role=role,
                password=password,
                name=name,
                actor=CLI_ACTOR,
                now=now,
            )
        else:
            actions.set_staff_password(
                session, user_id=user.id, password=password, actor=CLI_ACTOR, now=now
            )
        user.team_id = teams.get(team)
        if role != "technician":
            support_actions.set_agent_profile(
                session, user.id, now=now, actor=CLI_ACTOR, capacity=25, available=True
            )


def integration_token(db: Database, now: datetime) -> str:
    """A fresh ``telemetry:write`` token for the live simulator; the previous runs' are
    revoked (their secrets were never kept)."""
    with db.transaction() as session:
        user = service.staff_by_email(session, DEMO_INTEGRATION)
        if user is None:
            user = actions.create_staff_user(
                session,
                email=DEMO_INTEGRATION,
                role="noc",
                password=None,
                name="Demo live telemetry",
                actor=CLI_ACTOR,
                now=now,
            )
        old = session.scalars(
            select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        ).all()
        for token_id in old:
            actions.revoke_api_token(session, token_id=token_id, actor=CLI_ACTOR, now=now)
        _, secret = actions.create_api_token(
            session,
            user_id=user.id,
            scopes=["telemetry:write"],
            name=TOKEN_NAME,
            actor=CLI_ACTOR,
            now=now,
        )
    return secret


def _thread(name: str, target: Callable[[], object]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        except Exception:
            log.exception("the demo's %s stopped with an error", name)

    thread = threading.Thread(target=run, name=f"demo-{name}", daemon=True)
    thread.start()
    return thread


class _QuietIngest(logging.Filter):
    """Leaves the simulator's own telemetry requests (and its gateways' action results, which
    the simulator logs itself) out of the request log."""

    ROUTES = ("/api/v1/telemetry", "/api/v1/devices/{device_id}/actions/{action_id}/result")

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            getattr(record, "route", None) in self.ROUTES and getattr(record, "status", None) == 200
        )


def _narrate(db: Database) -> None:
    """Log what the demo is there to show: outages opening and closing."""

    def opened(event: OutageOpened) -> None:
        where = f"port {event.port_id}" if event.port_id else f"access node {event.access_node_id}"
        log.info("outage %d opened on %s", event.outage_id, where)

    def closed(event: OutageClosed) -> None:
        log.info("outage %d closed", event.outage_id)

    db.bus.subscribe(OutageOpened, opened)
    db.bus.subscribe(OutageClosed, closed)


def run_live(cli: CliContext, host: str, port: int, *, speed: float, seed: int) -> None:
    """Serve, run the worker and the live simulator in this process until SIGINT/SIGTERM."""
    from homeport.simulator import contacts, live  # numpy: only when needed
    from homeport.web.app import create_app

    settings = cli.settings
    setup_logging(settings)
    logging.getLogger("homeport.http").addFilter(_QuietIngest())
    logging.getLogger("homeport.worker").setLevel(logging.WARNING)  # failures only
    db = cli.migrated_db()
    wiring.connect(db, settings)
    _narrate(db)
    interval = settings.telemetry.report_interval_s
    try:
        first = live.live_start(db, at=None, interval_s=interval, wall=None)
    except HomeportError as exc:
        raise fail(exc.message) from exc
    clock = live.SimClock(first, speed)
    token = integration_token(db, clock.now())
    app = create_app(settings, db=db, clock=clock)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=host, port=port, log_config=None, proxy_headers=True, server_header=False
        )
    )
    target = _loopback(host)
    # The gateways report as themselves (device secrets) once an hour of simulated time, and
    # through the integration batch otherwise: they collect and acknowledge their remote
    # actions without one request per gateway and tick.
    transport = live.HttpTransport(
        f"http://{target}:{port}",
        token,
        gateways=live.issue_gateway_secrets(db, clock.now()),
        gateway_every=max(1, 3600 // interval),
    )
    emitter = live.LiveEmitter(
        db,
        transport,
        clock,
        live.LiveOptions(
            interval_s=interval,
            seed=seed,
            min_port_homes=settings.health.outage_min_homes,
            kickoff_s=2 * interval,
        ),
    )
    # Server, worker and simulator share the clock; it waits for the simulator when the machine
    # cannot keep up, so that no gateway looks silent for want of CPU.
    clock.limit_by(emitter.ceiling)
    scheduler = Scheduler(db, scheduler_tasks(settings), clock)
    smtp = start_email(db, settings, clock)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping the demo", signal.Signals(signum).name)
        stop.set()

    def emit() -> None:
        while not server.started:
            if stop.wait(0.05):
                return
        emitter.run(stop, start=first)

    # Subscribers whose home has a problem they notice get in touch (docs/support.md): real
    # mail to the demo's SMTP listener, signed CTI and SMS webhooks, the app and chat straight
    # into the desk (a chat meets the chatbot first).
    direct = contacts.DirectTransport(db, chatbot=settings.chatbot, zone=settings.zone)
    mail: contacts.ContactTransport = direct
    if smtp is not None and settings.smtp_listen:
        mail_host, _, mail_port = settings.smtp_listen.rpartition(":")
        mail_host = _loopback(mail_host)
        mail = contacts.SmtpTransport(mail_host, int(mail_port), settings.support_email, direct)
    calls = contacts.WebhookTransport(
        f"http://{target}:{port}",
        mail,
        cti_secret=settings.cti_secret,
        sms_token=settings.sms_auth_token,
        public_url=settings.public_url,
        seed=seed,
    )
    callers = contacts.ContactSimulator(db, calls, seed=seed)

    def contact() -> None:
        while not stop.wait(2.0):
            if server.started and emitter.progress_s is not None:
                callers.check(clock.now())

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    log.info(
        "live demo: simulated time from %s at %g× real time; the fleet reports every %d s of it",
        first.isoformat(),
        speed,
        interval,
    )
    serving = _thread("server", server.run)
    workers = [
        _thread("worker", lambda: scheduler.run_forever(stop, poll_s=0.2)),
        _thread("simulator", emit),
        _thread("contacts", contact),
    ]
    try:
        while not stop.wait(0.5):
            if not serving.is_alive():
                log.error("the web server stopped")
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop.set()
        for thread in workers:
            thread.join(timeout=30)
        server.should_exit = True
        serving.join(timeout=30)
        if smtp is not None:
            smtp.stop()
        transport.close()
        db.dispose()


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
    live_: bool = typer.Option(
        True,
        "--live/--no-live",
        help="Run the worker and send the fleet's telemetry live through the HTTP API "
        "(--no-live: serve the stored data only).",
    ),
    speed: float = typer.Option(
        60.0,
        "--speed",
        min=1,
        max=10_000,
        help="Simulated seconds per real second for the live telemetry (at most: the simulated "
        "time waits when the machine cannot keep up).",
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
    if not cli.settings.smtp_listen:
        # Support email to the demo: its own SMTP listener (docs/support.md, "Email").
        cli = CliContext(
            overrides={**cli.overrides, "smtp_listen": f"{host}:{_smtp_port(host)}"},
            clock=base.clock,
        )
    # The demo's own telephony platform and SMS provider (the simulated subscribers) sign
    # their webhooks with secrets made for this run.
    webhooks: dict[str, object] = {"public_url": f"http://{_loopback(host)}:{port}"}
    if not cli.settings.cti_secret:
        webhooks["cti_secret"] = secrets.token_urlsafe(24)
    if not cli.settings.sms_auth_token:
        webhooks["sms_auth_token"] = secrets.token_urlsafe(24)
    cli = CliContext(overrides={**cli.overrides, **webhooks}, clock=base.clock)
    out.print(f"Homeport demo data folder: [bold]{folder}[/]")
    password = prepare(cli, subscribers=subscribers, seed=seed, reset=reset, data_dir=folder)
    out.print(f"\nHomeport is ready at [bold]http://{host}:{port}/[/]", highlight=False)
    out.print(f"  e-mail:   [bold]{DEMO_ADMIN}[/]", highlight=False)
    out.print(f"  password: [bold]{password}[/]", highlight=False, soft_wrap=True)
    out.print("(a new password is set each time the demo starts; Ctrl-C stops it)")
    staff = ", ".join(email for email, *_ in DEMO_STAFF)
    out.print(f"  support staff, same password: {staff}", highlight=False)
    out.print(
        f"  support email: SMTP on [bold]{cli.settings.smtp_listen}[/] "
        f"(e.g. swaks --server {cli.settings.smtp_listen} --to {cli.settings.support_email})",
        highlight=False,
    )
    if prepare_only:
        out.print("")
        return
    if live_:
        out.print(
            f"Live: the fleet reports every {cli.settings.telemetry.report_interval_s // 60} "
            f"minutes of simulated time, which runs up to {speed:g}× faster than real time; "
            "faults (a fibre cut now and then) are injected as it goes.\n",
            highlight=False,
        )
        run_live(cli, host, port, speed=speed, seed=seed)
    else:
        out.print("")
        run_server(cli, host, port)
