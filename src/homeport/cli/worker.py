"""``homeport worker``: the periodic tasks (offline check, rollups, retention, remediation checks
and escalation, remote-action expiry, outbound email), each on its own interval. Stops cleanly
on SIGINT or SIGTERM; ``--once`` runs every task once and exits (cron, tests)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import typer
from prometheus_client import start_http_server

from homeport import wiring
from homeport.cli.context import fail, get, out, setup_logging
from homeport.cli.tasks import scheduler_tasks
from homeport.worker import Scheduler, Task

log = logging.getLogger("homeport.worker")


def _select(tasks: list[Task], names: list[str], once: bool) -> list[Task]:
    if not names:
        return tasks
    by_name = {t.name: t for t in tasks}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise fail(f"unknown task {', '.join(unknown)}; the tasks are: {', '.join(by_name)}")
    chosen = [by_name[n] for n in dict.fromkeys(names)]
    off = [t.name for t in chosen if t.interval_s <= 0]
    if off and not once:
        raise fail(
            f"{', '.join(off)} is turned off in [worker] (interval 0): "
            "give it an interval, or run it with --once"
        )
    return chosen


def worker(
    ctx: typer.Context,
    once: bool = typer.Option(
        False, "--once", help="Run every task once (or those named by --task), then exit."
    ),
    task: list[str] = typer.Option(
        [],
        "--task",
        help="Run only this task (repeatable): offline, rollup_hourly, rollup_daily, purge, "
        "findings, actions, email (with HOMEPORT_SMTP_HOST set).",
    ),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", help="Serve Prometheus metrics on this port (off by default)."
    ),
    metrics_host: str = typer.Option(
        "127.0.0.1", "--metrics-host", help="Address of the metrics endpoint."
    ),
) -> None:
    """Run the periodic tasks, each on its interval (the worker section of homeport.toml,
    HOMEPORT_WORKER__*). One transaction per run; a failing run is logged and counted and the
    others go on. Stops cleanly on SIGINT or SIGTERM."""
    cli = get(ctx)
    settings = cli.settings
    setup_logging(settings)
    db = cli.migrated_db()
    wiring.connect(db, settings)
    scheduler = Scheduler(db, _select(scheduler_tasks(settings), task, once), cli.clock)
    if once:
        try:
            runs = scheduler.run_all()
        finally:
            db.dispose()
        for run in runs:
            status = run.summary if run.ok else f"FAILED: {run.error}"
            out.print(f"{run.task}: {status} ({run.seconds:.2f} s)", highlight=False)
        failed = [r.task for r in runs if not r.ok]
        if failed:
            raise fail(f"{len(failed)} task(s) failed: {', '.join(failed)} (see the log)")
        return

    server = None
    if metrics_port is not None:
        try:
            server, _thread = start_http_server(
                metrics_port, addr=metrics_host, registry=scheduler.metrics.registry
            )
        except OSError as exc:
            raise fail(f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc}") from exc
        log.info("metrics on http://%s:%s/metrics", metrics_host, metrics_port)

    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the current task", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        scheduler.run_forever(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if server is not None:
            server.shutdown()
        db.dispose()
