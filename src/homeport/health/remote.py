"""The remote action queue: commands to a home's gateway, delivered through its own protocol.

An action is ``queued`` here, becomes ``sent`` when a transport hands it to the device, and ends
``done``, ``failed`` or ``unsupported`` (the device said it cannot do that, e.g. CWMP fault
9000). Every change is audited (who asked, what, when, with which result). Each protocol
delivers when the device next calls in (``docs/telemetry.md``, "Remote actions"):

- **TR-069 CWMP**: in the CPE's next session (``adapters/cwmp/acs.py``), the result from the
  RPC's response or fault;
- **HTTP**: in the answer to the gateway's next ``POST /api/v1/telemetry`` (device secret, not
  an integration token); the gateway reports the result to
  ``POST /api/v1/devices/{device_id}/actions/{action_id}/result``;
- **MQTT**: published on ``homeport/commands/<device_id>`` after the device's next report is
  committed; the device answers on ``homeport/results/<device_id>``.

HTTP and MQTT mark an action ``sent`` (:func:`deliver_pending`) in the transaction that commits
the report, before the device has it: a connection lost after that commit leaves the action
``sent`` without the device having received it, and it is not sent again (the device may be
carrying it out). The worker (``health.tasks.expire_actions``) fails a ``sent`` action with no
result after ``action_result_timeout_s``; a remediation policy judges its fix by whether the
finding resolves in later reports in any case. Devices report results with
:func:`report_result`.

Rate limits protect subscribers from a policy (or a staff member) gone wrong:

- never reboot a home twice within :data:`REBOOT_INTERVAL` (a queued, sent, done or failed
  reboot counts: a "failed" reboot may still have rebooted the box);
- at most one live (queued or sent) action of a kind per device;
- at most :data:`MAX_ACTIONS_PER_HOUR` actions per home in any hour.

A refused action raises :class:`~homeport.core.errors.Conflict` with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.core.events import Event, publish
from homeport.health.models import ACTION_KINDS, DeviceAction
from homeport.network.models import Gateway
from homeport.telemetry.schemas import (
    CHANNELS,
    MAX_RESULT_DETAIL,
    RESULT_STATUSES,
    ActionCommand,
)

REBOOT_INTERVAL = timedelta(hours=1)
MAX_ACTIONS_PER_HOUR = 6
LIVE = ("queued", "sent")
FINAL = ("done", "failed", "unsupported", "cancelled")
#: Which status may follow which.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "queued": ("sent", "cancelled", "unsupported"),
    "sent": ("done", "failed", "unsupported"),
}
_REQUESTER = re.compile(r"^(system|(staff|subscriber):[1-9][0-9]{0,18}|policy:[a-z0-9_.-]{1,50})$")


@dataclass(frozen=True)
class ActionQueued(Event):
    action_id: int
    home_id: int
    device_id: str
    kind: str


@dataclass(frozen=True)
class ActionFinished(Event):
    action_id: int
    home_id: int
    device_id: str
    kind: str
    status: str


def actor_of(requested_by: str) -> Actor:
    """The audit actor for a ``requested_by`` string ('staff:3', 'policy:wifi', 'system')."""
    kind, _, rest = requested_by.partition(":")
    if kind in ("staff", "subscriber"):
        return Actor(kind, int(rest), requested_by)
    return Actor.system(requested_by)


def _check_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The normalised parameters of an action, or :class:`ValidationFailed`."""

    def bad(field: str, message: str) -> ValidationFailed:
        return ValidationFailed(f"invalid {kind} action", [FieldError(field, message)])

    if kind in ("reboot", "speed_test"):
        if params:
            raise bad("params", f"a {kind} takes no parameters")
        return {}
    if kind == "set_channel":
        band, channel = params.get("band"), params.get("channel")
        if set(params) - {"band", "channel"}:
            raise bad("params", "only band and channel are allowed")
        if band not in CHANNELS:
            raise bad("band", f"one of {', '.join(CHANNELS)}")
        if not isinstance(channel, int) or isinstance(channel, bool):
            raise bad("channel", "a channel number")
        if channel not in CHANNELS[band]:
            raise bad("channel", f"channel {channel} does not exist in the {band} band")
        return {"band": band, "channel": channel}
    if kind == "firmware":
        url, version = params.get("url"), params.get("version", "")
        if set(params) - {"url", "version", "file_size"}:
            raise bad("params", "only url, version and file_size are allowed")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise bad("url", "an http(s) URL of the firmware image")
        if not isinstance(version, str) or len(version) > 60:
            raise bad("version", "a version string of at most 60 characters")
        size = params.get("file_size", 0)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise bad("file_size", "a size in bytes")
        return {"url": url, "version": version, "file_size": size}
    if kind == "band_steer":
        mac = params.get("mac")
        target = params.get("band")
        if set(params) - {"mac", "band"}:
            raise bad("params", "only mac and band are allowed")
        if not isinstance(mac, str) or not re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", mac):
            raise bad("mac", "a client MAC address (aa:bb:cc:dd:ee:ff)")
        if target not in CHANNELS:
            raise bad("band", f"one of {', '.join(CHANNELS)}")
        return {"mac": mac, "band": target}
    raise bad("kind", f"one of {', '.join(ACTION_KINDS)}")


def _refusal(session: Session, home_id: int, device_id: str, kind: str, now: datetime) -> str:
    """Why this action may not be queued now ('' when it may)."""
    live = session.scalar(
        select(func.count())
        .select_from(DeviceAction)
        .where(
            DeviceAction.device_id == device_id,
            DeviceAction.kind == kind,
            DeviceAction.status.in_(LIVE),
        )
    )
    if live:
        return f"a {kind} action is already waiting for device {device_id}"
    if kind == "reboot":
        recent = session.scalar(
            select(func.max(DeviceAction.created_at)).where(
                DeviceAction.home_id == home_id,
                DeviceAction.kind == "reboot",
                DeviceAction.status.in_(("queued", "sent", "done", "failed")),
                DeviceAction.created_at > now - REBOOT_INTERVAL,
            )
        )
        if recent is not None:
            return "this home was rebooted less than an hour ago"
    in_hour = session.scalar(
        select(func.count())
        .select_from(DeviceAction)
        .where(
            DeviceAction.home_id == home_id,
            DeviceAction.status != "cancelled",
            DeviceAction.created_at > now - timedelta(hours=1),
        )
    )
    if (in_hour or 0) >= MAX_ACTIONS_PER_HOUR:
        return f"this home already had {MAX_ACTIONS_PER_HOUR} remote actions in the last hour"
    return ""


def queue_action(
    session: Session,
    *,
    home_id: int,
    device_id: str,
    kind: str,
    params: dict[str, Any],
    requested_by: str,
    finding_id: int | None,
    now: datetime,
) -> DeviceAction:
    """Queue one action for the home's gateway, or raise (nothing is written then).

    Raises :class:`ValidationFailed` for a bad kind, parameters or requester, :class:`NotFound`
    when ``device_id`` is not this home's gateway, :class:`Conflict` when a rate limit refuses.
    """
    if kind not in ACTION_KINDS:
        raise ValidationFailed(
            "unknown action", [FieldError("kind", f"one of {', '.join(ACTION_KINDS)}")]
        )
    if not _REQUESTER.match(requested_by):
        raise ValidationFailed(
            "unknown requester",
            [FieldError("requested_by", "system, staff:<id>, subscriber:<id> or policy:<name>")],
        )
    clean = _check_params(kind, params)
    gateway = session.scalar(select(Gateway).where(Gateway.device_id == device_id))
    if gateway is None or gateway.home_id != home_id:
        raise NotFound(f"device {device_id} is not the gateway of home {home_id}")
    reason = _refusal(session, home_id, device_id, kind, now)
    if reason:
        raise Conflict(reason)
    action = DeviceAction(
        home_id=home_id,
        device_id=device_id,
        kind=kind,
        params=clean,
        status="queued",
        requested_by=requested_by,
        finding_id=finding_id,
        created_at=now,
        result={},
    )
    session.add(action)
    session.flush()
    record(
        session,
        at=now,
        actor=actor_of(requested_by),
        action="device_action.queued",
        entity_type="device_action",
        entity_id=action.id,
        home_id=home_id,
        device_id=device_id,
        kind=kind,
        params=clean,
        finding_id=finding_id,
    )
    publish(session, ActionQueued(action.id, home_id, device_id, kind))
    return action


def pending_actions(session: Session, device_id: str) -> list[DeviceAction]:
    """The device's queued actions, oldest first (what its next session should deliver)."""
    return list(
        session.scalars(
            select(DeviceAction)
            .where(DeviceAction.device_id == device_id, DeviceAction.status == "queued")
            .order_by(DeviceAction.created_at, DeviceAction.id)
        )
    )


def mark_action(
    session: Session,
    action_id: int,
    *,
    status: str,
    result: dict[str, Any],
    now: datetime,
) -> DeviceAction:
    """Move an action on (queued → sent → done/failed/unsupported), with its result, audited.

    Raises :class:`NotFound` for an unknown action and :class:`Conflict` for a transition that
    is not allowed (an action that already ended never changes again)."""
    action = session.get(DeviceAction, action_id, with_for_update=True)
    if action is None:
        raise NotFound(f"no device action {action_id}")
    allowed = TRANSITIONS.get(action.status, ())
    if status not in allowed:
        raise Conflict(f"action {action_id} is {action.status}; it cannot become {status}")
    action.status = status
    action.result = {**(action.result or {}), **result}
    if status == "sent":
        action.sent_at = now
    if status in FINAL:
        action.completed_at = now
    record(
        session,
        at=now,
        actor=Actor.system("remote-actions"),
        action=f"device_action.{status}",
        entity_type="device_action",
        entity_id=action.id,
        device_id=action.device_id,
        kind=action.kind,
        result=result,
    )
    if status in FINAL:
        publish(
            session,
            ActionFinished(action.id, action.home_id, action.device_id, action.kind, status),
        )
    return action


def deliver_pending(
    session: Session, device_ids: Iterable[str], *, via: str, now: datetime
) -> list[DeviceAction]:
    """Mark the queued actions of these devices ``sent`` (audited, with ``via``: the transport)
    and return them, oldest first, for the caller to hand over once its transaction has
    committed. One query per 500 devices (the MQTT ingest asks for a whole batch); an action
    another transaction sent meanwhile is skipped."""
    devices = list(dict.fromkeys(device_ids))
    out: list[DeviceAction] = []
    for i in range(0, len(devices), 500):
        queued = session.scalars(
            select(DeviceAction.id)
            .where(
                DeviceAction.device_id.in_(devices[i : i + 500]),
                DeviceAction.status == "queued",
            )
            .order_by(DeviceAction.created_at, DeviceAction.id)
        ).all()
        for action_id in queued:
            try:
                out.append(
                    mark_action(session, action_id, status="sent", result={"via": via}, now=now)
                )
            except (Conflict, NotFound):
                continue
    return out


def command_of(action: DeviceAction) -> ActionCommand:
    """What the device receives for an action."""
    return ActionCommand(id=action.id, kind=action.kind, params=dict(action.params or {}))


def report_result(
    session: Session,
    *,
    device_id: str,
    action_id: int,
    status: str,
    detail: str,
    via: str,
    now: datetime,
) -> DeviceAction:
    """A device's result for one of its actions (``done``, ``failed`` or ``unsupported``).

    Raises :class:`NotFound` when the action does not exist or is not ``device_id``'s (a device
    never learns about another's actions), :class:`ValidationFailed` for another status, and
    :class:`Conflict` for a transition that is not allowed (a result for an action that already
    ended, or that was never sent)."""
    if status not in RESULT_STATUSES:
        raise ValidationFailed(
            "unknown result", [FieldError("status", f"one of {', '.join(RESULT_STATUSES)}")]
        )
    action = session.get(DeviceAction, action_id)
    if action is None or action.device_id != device_id:
        raise NotFound(f"device {device_id} has no action {action_id}")
    result: dict[str, Any] = {"via": via}
    if detail:
        result["detail"] = detail[:MAX_RESULT_DETAIL]
    return mark_action(session, action_id, status=status, result=result, now=now)
