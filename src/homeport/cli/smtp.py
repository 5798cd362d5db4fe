"""``homeport smtp``: the inbound email listener on its own (``homeport serve`` also starts it
when ``HOMEPORT_SMTP_LISTEN`` is set). See docs/support.md, "Email"."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import typer

from homeport import wiring
from homeport.adapters.smtp.server import SmtpListener, parse_listen
from homeport.cli.context import fail, get, out, setup_logging
from homeport.core.clock import Clock
from homeport.core.db import Database
from homeport.core.settings import Settings

log = logging.getLogger("homeport.email")


def start_email(db: Database, settings: Settings, clock: Clock) -> SmtpListener | None:
    """Start the listener on ``settings.smtp_listen`` ("" = none); a bad address or a port in
    use ends the command with a readable error."""
    if not settings.smtp_listen:
        return None
    try:
        host, port = parse_listen(settings.smtp_listen)
        return SmtpListener(db, settings, clock, host=host, port=port).start()
    except ValueError as exc:
        raise fail(str(exc)) from exc
    except OSError as exc:
        raise fail(f"cannot listen for email on {settings.smtp_listen}: {exc}") from exc


def smtp(
    ctx: typer.Context,
    listen: str = typer.Option(
        "",
        "--listen",
        help="host:port to receive support email on (default: HOMEPORT_SMTP_LISTEN, "
        "else 127.0.0.1:2525).",
    ),
) -> None:
    """Receive support email over SMTP and turn it into cases and replies on their threads,
    until SIGINT or SIGTERM."""
    cli = get(ctx)
    settings = cli.settings
    setup_logging(settings)
    address = listen or settings.smtp_listen or "127.0.0.1:2525"
    settings = settings.model_copy(update={"smtp_listen": address})
    db = cli.migrated_db()
    wiring.connect(db, settings)
    listener = start_email(db, settings, cli.clock)
    assert listener is not None
    out.print(f"receiving email on {listener.host}:{listener.port}", highlight=False)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping the SMTP listener", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        listener.stop()
        db.dispose()
