"""``homeport serve``: the web UI and API."""

from __future__ import annotations

import logging

import typer
import uvicorn

from homeport.cli.context import CliContext, get, setup_logging
from homeport.cli.smtp import start_email
from homeport.core.runtime import settle_gc

log = logging.getLogger("homeport.serve")


def run_server(cli: CliContext, host: str, port: int) -> None:
    from homeport.web.app import create_app

    settings = cli.settings
    setup_logging(settings)
    db = cli.migrated_db()
    app = create_app(settings, db=db, clock=cli.clock)
    # Inbound email when HOMEPORT_SMTP_LISTEN is set (docs/support.md, "Email").
    smtp = start_email(db, settings, cli.clock)
    log.info("serving on http://%s:%s", host, port)
    settle_gc()
    try:
        uvicorn.run(
            app, host=host, port=port, log_config=None, proxy_headers=True, server_header=False
        )
    finally:
        if smtp is not None:
            smtp.stop()


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
) -> None:
    """Serve the web UI and the API (OpenAPI at /api/docs), and receive support email when
    HOMEPORT_SMTP_LISTEN=host:port is set."""
    run_server(get(ctx), host, port)
