"""``homeport ingest --mqtt mqtt://host:1883``: consume gateway telemetry from an MQTT broker."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from types import FrameType

import typer
from prometheus_client import start_http_server

from homeport import wiring
from homeport.adapters.mqtt.broker import (
    DEFAULT_COMMANDS_PREFIX,
    DEFAULT_PREFIX,
    DEFAULT_RESULTS_PREFIX,
    Broker,
    Subscription,
)
from homeport.adapters.mqtt.consumer import MqttIngest, Options
from homeport.adapters.mqtt.store import parse, result_store, telemetry_store
from homeport.cli.context import fail, get, report, setup_logging
from homeport.core.errors import ServiceUnavailable, ValidationFailed
from homeport.core.runtime import settle_gc

log = logging.getLogger("homeport.ingest")


def default_client_id(group: str | None) -> str:
    """Stable across restarts of the same process on the same host (the session's key)."""
    host = "".join(c if c.isalnum() or c in "._-" else "-" for c in socket.gethostname())
    return f"homeport-ingest-{host[:60] or 'host'}" + (f"-{group}" if group else "")


def ingest(
    ctx: typer.Context,
    mqtt: str = typer.Option(
        ...,
        "--mqtt",
        help="Broker URL: mqtt://host:port, mqtt://user:password@host:port, or mqtts://... "
        "for TLS (port 1883, or 8883 with TLS, when left out).",
    ),
    group: str | None = typer.Option(
        None,
        "--group",
        help="Join the MQTT 5 shared subscription $share/GROUP/... so that several ingest "
        "processes split one fleet.",
    ),
    client_id: str | None = typer.Option(
        None,
        "--client-id",
        help="Stable MQTT client id: the broker keeps the session (and unacknowledged "
        "messages) under it. Give each process of a group its own. "
        "Default: homeport-ingest-HOSTNAME, plus -GROUP with --group.",
    ),
    topic_prefix: str = typer.Option(
        DEFAULT_PREFIX, "--topic-prefix", help="Reports arrive on PREFIX/<device_id>."
    ),
    commands_prefix: str = typer.Option(
        DEFAULT_COMMANDS_PREFIX,
        "--commands-prefix",
        help="A device's remote actions are published on PREFIX/<device_id>.",
    ),
    results_prefix: str = typer.Option(
        DEFAULT_RESULTS_PREFIX,
        "--results-prefix",
        help="Devices publish their actions' results on PREFIX/<device_id>.",
    ),
    batch_size: int = typer.Option(
        500, "--batch-size", help="Store a batch when it has this many messages..."
    ),
    batch_ms: int = typer.Option(200, "--batch-ms", help="...or when it is this old (ms)."),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", help="Serve Prometheus metrics on this port (off by default)."
    ),
    metrics_host: str = typer.Option(
        "127.0.0.1", "--metrics-host", help="Address of the metrics endpoint."
    ),
) -> None:
    """Ingest telemetry from an MQTT broker (QoS 1, persistent session, acknowledged only once
    stored); publish each reporting device's queued remote actions and apply the results it
    sends back. Stops cleanly on SIGINT or SIGTERM."""
    cli = get(ctx)
    settings = cli.settings
    setup_logging(settings)
    try:
        broker = Broker.parse(mqtt)
        options = Options(
            client_id=client_id or default_client_id(group),
            subscription=Subscription(topic_prefix, group, commands_prefix, results_prefix),
            batch_size=batch_size,
            batch_ms=batch_ms,
        )
    except ValidationFailed as exc:
        raise report(exc) from exc
    db = cli.migrated_db()
    wiring.connect(db, settings)
    consumer = MqttIngest(
        broker,
        options,
        parse=parse,
        store=telemetry_store(db, settings.telemetry, cli.clock),
        apply_result=result_store(db, cli.clock),
    )
    server = None
    if metrics_port is not None:
        try:
            server, _thread = start_http_server(
                metrics_port, addr=metrics_host, registry=consumer.metrics.registry
            )
        except OSError as exc:
            raise fail(f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc}") from exc
        log.info("metrics on http://%s:%s/metrics", metrics_host, metrics_port)
    settle_gc()
    try:
        consumer.start()
    except ServiceUnavailable as exc:
        if server is not None:
            server.shutdown()
        raise fail(f"{exc.message}\n  Is the broker running? Check the --mqtt URL.") from exc

    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the current batch", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        consumer.run(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        consumer.close()
        if server is not None:
            server.shutdown()
        db.dispose()
