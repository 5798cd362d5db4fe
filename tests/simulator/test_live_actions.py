"""The simulated gateways acknowledge their remote actions through HTTP (a running server,
device secrets). Over MQTT: ``tests/adapters/mqtt/test_actions.py`` (it needs the broker)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.simulator import live
from homeport.telemetry.ingest import parse_one
from tests.cli.serving import ServerThread
from tests.factories import Fleet, build_fleet
from tests.remote_actions import audit_trail, load, queue
from tests.simulator.test_live import telemetry_token
from tests.telemetry.conftest import report


@pytest.fixture
def fleet(db: Database, clock: ManualClock) -> Fleet:
    return build_fleet(db, clock.now())


def _queue(db: Database, fleet: Fleet, clock: ManualClock, account: str, device: str) -> int:
    return queue(
        db, fleet, clock, account=account, device_id=device, requested_by="policy:reboot_loop"
    )


def _trail(db: Database, action_id: int) -> tuple[str, list[str]]:
    return load(db, action_id).status, audit_trail(db, action_id)


def test_http_gateways_acknowledge_their_actions(
    app: FastAPI, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    token = telemetry_token(db, clock)
    mine = _queue(db, fleet, clock, "ACC-1001", "GW-000101")
    bridged = _queue(db, fleet, clock, "ACC-1002", "GW-000102")
    secrets = live.issue_gateway_secrets(db, clock.now())
    assert {"GW-000101", "GW-000102"} <= set(secrets)
    reports = [parse_one(report("GW-000101")), parse_one(report("GW-000102"))]
    with ServerThread(app) as server:
        transport = live.HttpTransport(
            server.url, token, gateways={"GW-000101": secrets["GW-000101"]}
        )
        try:
            first = transport.send(reports)
            again = transport.send(
                [parse_one(report("GW-000101", ts=clock.now() - timedelta(minutes=1)))]
            )
        finally:
            transport.close()
    assert (first.sent, first.accepted, first.rejected, first.actions) == (2, 2, 0, 1)
    assert again.actions == 0  # delivered once
    assert _trail(db, mine) == (
        "done",
        ["device_action.queued", "device_action.sent", "device_action.done"],
    )
    assert load(db, mine).result["detail"] == live.ACK_DETAIL
    # GW-000102 reported through the integration token: it got nothing.
    assert _trail(db, bridged) == ("queued", ["device_action.queued"])


def test_gateways_report_themselves_one_tick_in_n(
    app: FastAPI, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    """``gateway_every``: each gateway collects its actions within N ticks, the other reports
    go through the integration batch."""
    token = telemetry_token(db, clock)
    devices = ["GW-000101", "GW-000102", "GW-000103"]
    accounts = ["ACC-1001", "ACC-1002", "ACC-1003"]
    ids = [_queue(db, fleet, clock, a, d) for a, d in zip(accounts, devices, strict=True)]
    secrets = live.issue_gateway_secrets(db, clock.now())
    with ServerThread(app) as server:
        transport = live.HttpTransport(server.url, token, gateways=secrets, gateway_every=4)
        acknowledged = 0
        try:
            for tick in range(4):
                ts = clock.now() - timedelta(minutes=20 - 5 * tick)
                out = transport.send([parse_one(report(d, ts=ts)) for d in devices])
                assert (out.sent, out.accepted, out.rejected) == (3, 3, 0)
                acknowledged += out.actions
        finally:
            transport.close()
    assert acknowledged == 3
    assert [_trail(db, i)[0] for i in ids] == ["done"] * 3
