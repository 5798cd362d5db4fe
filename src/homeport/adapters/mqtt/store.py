"""The production parser, store and result applier of the MQTT ingest: the telemetry and health
domains' own functions, one committed transaction per batch (per result)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson
from pydantic import ValidationError

from homeport.adapters.mqtt.batch import ApplyResult, Command, Parse, Store
from homeport.core.clock import Clock
from homeport.core.db import Database
from homeport.core.telemetry_settings import TelemetrySettings
from homeport.health import remote
from homeport.telemetry import actions
from homeport.telemetry.ingest import describe, parse_one
from homeport.telemetry.schemas import ActionResultIn, Report

parse: Parse = parse_one


@dataclass
class Stored(actions.StoreResult):
    """What :func:`telemetry_store` returns: the store's result, and the commands to publish."""

    commands: list[Command] = field(default_factory=list)


def telemetry_store(
    db: Database, settings: TelemetrySettings, clock: Clock, *, deliver_actions: bool = True
) -> Store:
    """Store a batch with ``telemetry.actions.store_reports`` and commit before returning. With
    ``deliver_actions``, the queued remote actions of the devices whose reports were taken
    (accepted or duplicates) are marked ``sent`` in the same transaction and returned as
    commands, for the consumer to publish after the commit."""

    def store(reports: Sequence[Report]) -> Stored:
        with db.transaction() as session:
            now = clock.now()
            result = actions.store_reports(
                session, reports, source="mqtt", now=now, settings=settings
            )
            commands: list[Command] = []
            if deliver_actions:
                refused = {r.index for r in result.rejected}
                devices = [r.device_id for i, r in enumerate(reports) if i not in refused]
                sent = remote.deliver_pending(session, devices, via="mqtt", now=now)
                commands = [
                    (a.device_id, remote.command_of(a).model_dump_json().encode()) for a in sent
                ]
        return Stored(result.accepted, result.duplicates, result.rejected, result.stored, commands)

    return store


def parse_result(payload: bytes) -> tuple[int, ActionResultIn]:
    """``{"id": 12, "status": "done", "detail": "..."}`` → (12, the result), or ValueError."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"the result is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("a result must be a JSON object with id, status and detail")
    action_id = data.pop("id", None)
    if not isinstance(action_id, int) or isinstance(action_id, bool) or action_id < 1:
        raise ValueError("a result needs the id of the action (a positive integer)")
    try:
        return action_id, ActionResultIn.model_validate(data)
    except ValidationError as exc:
        raise ValueError(describe(exc)) from None


def result_store(db: Database, clock: Clock) -> ApplyResult:
    """Apply a device's result with ``health.remote.report_result`` (the action must be the
    device's, and the transition allowed), one committed transaction per result."""

    def apply(device_id: str, payload: bytes) -> None:
        action_id, result = parse_result(payload)
        with db.transaction() as session:
            remote.report_result(
                session,
                device_id=device_id,
                action_id=action_id,
                status=result.status,
                detail=result.detail,
                via="mqtt",
                now=clock.now(),
            )

    return apply
