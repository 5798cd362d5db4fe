"""The ACS session state machine: one CWMP session of one CPE, from Inform to the empty 204.

Plan of a session (each step one RPC, the CPE answering in its next POST):

1. Inform → InformResponse (CPE requests such as TransferComplete are answered too).
2. The CPE's empty POST: discovery, GetParameterNames (NextLevel=false) per subtree of its root.
3. GetParameterValues for the declared leaves Homeport reads (in chunks; a chunk the CPE
   faults on is split in halves until the offending name is isolated and skipped).
4. The values become one report, stored with source "cwmp".
5. Queued remote actions, oldest first, reboots last: SetParameterValues for a channel,
   Download for firmware, Reboot. Fault 9000 marks an action "unsupported"; any other fault
   "failed".
6. SetParameterValues for PeriodicInformInterval when the CPE's differs from the report interval.
7. Nothing left: an empty 204 ends the session.

The machine never fails the HTTP exchange mid-session: a response it did not expect is noted
and the plan moves on.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from homeport.adapters.cwmp import connreq, datamodel, soap
from homeport.core.db import Database
from homeport.core.errors import HomeportError
from homeport.core.settings import Settings
from homeport.health import remote
from homeport.health.models import DeviceAction
from homeport.telemetry.actions import store_reports

log = logging.getLogger(__name__)

GPV_CHUNK = 100
#: What the ACS answers to a CPE's GetRPCMethods.
ACS_METHODS = ["Inform", "GetRPCMethods", "TransferComplete", "AutonomousTransferComplete"]
METHOD_NOT_SUPPORTED = 9000


@dataclass
class Pending:
    """The RPC the ACS sent and is waiting for an answer to."""

    id: str
    method: str
    names: list[str] = field(default_factory=list)
    action_id: int | None = None
    purpose: str = ""


@dataclass
class CwmpSession:
    token: str
    device_id: str
    username: str
    started_at: datetime
    last_seen_at: datetime
    root: str | None = None
    inform_id: str = ""
    events: list[str] = field(default_factory=list)
    connection_request_url: str = ""
    declared: dict[str, bool] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    subtrees: deque[str] = field(default_factory=deque)
    probed: bool = False
    chunks: deque[list[str]] = field(default_factory=deque)
    phase: str = "inform"  # inform → discover → values → actions → done
    actions: deque[int] = field(default_factory=deque)
    pending: Pending | None = None
    counter: int = 0
    report_stored: bool = False
    stored: int = 0
    notes: list[str] = field(default_factory=list)
    finished: bool = False

    def next_id(self) -> str:
        self.counter += 1
        return f"hp{self.counter}"


@dataclass(frozen=True)
class Context:
    db: Database
    settings: Settings
    now: datetime


def start(sess: CwmpSession, msg: soap.Message) -> bytes:
    """Take the CPE's Inform: remember its root, values and ConnectionRequestURL."""
    sess.inform_id = msg.id
    sess.events = [code for code, _key in msg.events]
    for name, (value, _t) in msg.values.items():
        sess.values[name] = value
    sess.root = datamodel.root_of(list(msg.values))
    sess.connection_request_url = next(
        (
            v
            for k, (v, _t) in msg.values.items()
            if k.endswith("ManagementServer.ConnectionRequestURL")
        ),
        "",
    )
    if sess.root is None:
        sess.notes.append("the Inform names no known data-model root; nothing will be read")
    sess.phase = "discover"
    return soap.inform_response(msg.id)


def handle(sess: CwmpSession, msg: soap.Message | None, ctx: Context) -> bytes | None:
    """Answer one POST of an established session (``msg`` None for an empty POST); None means
    answer with an empty 204 and end the session."""
    if msg is not None:
        reply = _cpe_request(sess, msg, ctx)
        if reply is not None:
            return reply
        _absorb(sess, msg, ctx)
    request = _next_request(sess, ctx)
    if request is None:
        sess.finished = True
    return request


def _cpe_request(sess: CwmpSession, msg: soap.Message, ctx: Context) -> bytes | None:
    """Answer an RPC the CPE calls on the ACS (None when ``msg`` is a response to ours)."""
    if msg.method == "GetRPCMethods":
        return soap.get_rpc_methods_response(msg.id, ACS_METHODS)
    if msg.method in ("TransferComplete", "AutonomousTransferComplete"):
        key = msg.fields.get("CommandKey", "")
        if msg.method == "TransferComplete" and key.startswith("hp-") and key[3:].isdigit():
            status = "failed" if msg.fault else "done"
            result: dict[str, Any] = (
                {"fault": msg.fault.code, "reason": msg.fault.string} if msg.fault else {}
            )
            result["completed"] = msg.fields.get("CompleteTime", "")
            _mark(sess, ctx, int(key[3:]), status, result)
        return soap.simple_response(msg.id, f"{msg.method}Response")
    if msg.method == "Inform":
        # A second Inform in one session breaks the protocol; acknowledge it and carry on.
        sess.notes.append("a second Inform in the same session")
        return soap.inform_response(msg.id)
    if not msg.method.endswith("Response") and msg.method != "Fault":
        return soap.fault(msg.id, 8000, f"method {msg.method} not supported by this ACS")
    return None


def _expected(pending: Pending) -> str:
    return pending.method + "Response"


def _absorb(sess: CwmpSession, msg: soap.Message, ctx: Context) -> None:
    """Take a CPE's answer to the ACS's pending RPC (or note an unexpected one)."""
    pending, sess.pending = sess.pending, None
    # Facts the CPE states about itself are kept whatever they answer.
    if msg.method == "GetParameterNamesResponse":
        sess.declared.update(msg.names)
    elif msg.method == "GetParameterValuesResponse":
        sess.values.update({k: v for k, (v, _t) in msg.values.items()})
    if pending is None:
        sess.notes.append(f"unsolicited {msg.method}")
        return
    if pending.purpose == "top":
        _plan_discovery(sess, msg)
    if pending.id != msg.id:
        sess.notes.append(f"{msg.method} carries ID {msg.id!r}, expected {pending.id!r}")
    if msg.method == "Fault":
        _fault(sess, pending, msg.fault or soap.Fault(0, "no fault detail"), ctx)
        return
    if msg.method != _expected(pending):
        sess.notes.append(f"expected {_expected(pending)}, got {msg.method}")
        if pending.action_id is not None:
            _mark(sess, ctx, pending.action_id, "failed", {"error": f"CPE answered {msg.method}"})
        return
    if pending.action_id is not None:
        result: dict[str, Any] = {"status": msg.fields.get("Status", "")}
        if pending.method == "Download" and msg.fields.get("Status") == "1":
            sess.notes.append(
                f"download for action {pending.action_id} continues after the session"
            )
            return  # still "sent": TransferComplete will end it
        _mark(sess, ctx, pending.action_id, "done", result)
    elif pending.purpose == "interval":
        sess.notes.append("management settings set")


def _plan_discovery(sess: CwmpSession, msg: soap.Message) -> None:
    """The subtrees to discover: those the CPE listed at its top level (all of Homeport's when
    the CPE did not answer the probe with its names)."""
    root = sess.root or datamodel.TR181
    subtrees = [root + s for s in datamodel.SUBTREES[root]]
    if msg.method == "GetParameterNamesResponse" and msg.names:
        top = set(msg.names)
        subtrees = [s for s in subtrees if root + s[len(root) :].split(".")[0] + "." in top]
    sess.subtrees.extend(subtrees)


def _fault(sess: CwmpSession, pending: Pending, fault: soap.Fault, ctx: Context) -> None:
    what = f"fault {fault.code} ({fault.string}) on {pending.method}"
    sess.notes.append(what)
    if pending.method == "GetParameterValues" and len(pending.names) > 1:
        half = len(pending.names) // 2
        sess.chunks.extendleft([pending.names[half:], pending.names[:half]])
    elif pending.action_id is not None:
        status = "unsupported" if fault.code == METHOD_NOT_SUPPORTED else "failed"
        _mark(sess, ctx, pending.action_id, status, {"fault": fault.code, "reason": fault.string})


def _mark(
    sess: CwmpSession, ctx: Context, action_id: int, status: str, result: dict[str, Any]
) -> None:
    try:
        with ctx.db.transaction() as session:
            action = session.get(DeviceAction, action_id)
            if action is None or action.device_id != sess.device_id:
                sess.notes.append(f"action {action_id} is not this device's")
                return
            remote.mark_action(session, action_id, status=status, result=result, now=ctx.now)
    except HomeportError as exc:
        sess.notes.append(f"action {action_id}: {exc.message}")


def _next_request(sess: CwmpSession, ctx: Context) -> bytes | None:
    if sess.root is None:
        return None
    if sess.phase == "discover":
        if not sess.probed:
            # What top-level objects does this CPE have? Only those subtrees are discovered.
            sess.probed = True
            sess.pending = Pending(sess.next_id(), "GetParameterNames", [sess.root], purpose="top")
            return soap.get_parameter_names(sess.pending.id, sess.root, next_level=True)
        if sess.subtrees:
            path = sess.subtrees.popleft()
            sess.pending = Pending(sess.next_id(), "GetParameterNames", [path])
            return soap.get_parameter_names(sess.pending.id, path, next_level=False)
        sess.phase = "values"
        known = set(sess.declared) | set(sess.values)
        wanted = [n for n in datamodel.wanted_leaves(sess.root, known) if n not in sess.values]
        sess.chunks.extend(wanted[i : i + GPV_CHUNK] for i in range(0, len(wanted), GPV_CHUNK))
    if sess.phase == "values":
        if sess.chunks:
            names = sess.chunks.popleft()
            sess.pending = Pending(sess.next_id(), "GetParameterValues", names)
            return soap.get_parameter_values(sess.pending.id, names)
        _store(sess, ctx)
        sess.phase = "actions"
        _load_actions(sess, ctx)
    if sess.phase == "actions":
        while sess.actions:
            request = _deliver(sess, ctx, sess.actions.popleft())
            if request is not None:
                return request
        sess.phase = "interval"
        request = _interval(sess, ctx)
        if request is not None:
            return request
    if sess.phase == "interval":
        sess.phase = "reboots"
        _load_actions(sess, ctx, reboots=True)
    if sess.phase == "reboots":
        while sess.actions:
            request = _deliver(sess, ctx, sess.actions.popleft())
            if request is not None:
                return request
        sess.phase = "done"
    return None


def _store(sess: CwmpSession, ctx: Context) -> None:
    if sess.root is None or sess.report_stored:
        return
    sess.report_stored = True
    try:
        report, notes = datamodel.to_report(sess.device_id, sess.root, sess.values, ctx.now)
    except ValueError as exc:
        sess.notes.append(str(exc))
        return
    sess.notes.extend(notes)
    with ctx.db.transaction() as session:
        result = store_reports(
            session, [report], source="cwmp", now=ctx.now, settings=ctx.settings.telemetry
        )
    sess.stored = result.accepted
    sess.notes.extend(f"report rejected: {r.reason}" for r in result.rejected)


def _load_actions(sess: CwmpSession, ctx: Context, *, reboots: bool = False) -> None:
    with ctx.db.session() as session:
        queued = remote.pending_actions(session, sess.device_id)
    sess.actions.extend(a.id for a in queued if (a.kind == "reboot") == reboots)


def _deliver(sess: CwmpSession, ctx: Context, action_id: int) -> bytes | None:
    """Send one queued action (marking it sent), or settle it here when CWMP cannot carry it."""
    with ctx.db.session() as session:
        action = session.get(DeviceAction, action_id)
        if action is None or action.status != "queued":
            return None
        kind, params = action.kind, dict(action.params)
    key = f"hp-{action_id}"
    request: bytes
    msg_id = sess.next_id()
    root = sess.root or datamodel.TR181
    if kind == "reboot":
        request = soap.reboot(msg_id, key)
        method = "Reboot"
    elif kind == "firmware":
        request = soap.download(msg_id, key, params["url"], int(params.get("file_size", 0)))
        method = "Download"
    elif kind == "set_channel":
        targets = datamodel.channel_targets(root, sess.values, params["band"])
        if not targets:
            _mark(sess, ctx, action_id, "unsupported", {"reason": f"no {params['band']} radio"})
            return None
        values: dict[str, bool | int | str] = {}
        for path in targets:
            if sess.declared.get(path + "AutoChannelEnable") or (
                path + "AutoChannelEnable" in sess.values
            ):
                values[path + "AutoChannelEnable"] = False
            values[path + "Channel"] = int(params["channel"])
        request = soap.set_parameter_values(msg_id, values, key)
        method = "SetParameterValues"
    else:
        _mark(sess, ctx, action_id, "unsupported", {"reason": f"{kind} is not delivered over CWMP"})
        return None
    _mark(sess, ctx, action_id, "sent", {"session": sess.token[:8]})
    sess.pending = Pending(msg_id, method, action_id=action_id)
    return request


def _interval(sess: CwmpSession, ctx: Context) -> bytes | None:
    """SetParameterValues for the ManagementServer settings Homeport needs: the periodic
    inform interval (the report interval), and the connection-request credentials."""
    root = sess.root or datamodel.TR181
    ms = root + "ManagementServer."
    want = ctx.settings.telemetry.report_interval_s
    values: dict[str, bool | int | str] = {}
    if ms + "PeriodicInformInterval" in sess.values:
        if sess.values[ms + "PeriodicInformInterval"].strip() != str(want):
            values[ms + "PeriodicInformInterval"] = want
        if sess.values.get(ms + "PeriodicInformEnable", "true").strip().lower() in ("0", "false"):
            values[ms + "PeriodicInformEnable"] = True
    user, password = connreq.credentials(ctx.settings.effective_secret_key(), sess.device_id)
    if sess.declared.get(ms + "ConnectionRequestUsername") and (
        sess.values.get(ms + "ConnectionRequestUsername") != user
    ):
        values[ms + "ConnectionRequestUsername"] = user
        values[ms + "ConnectionRequestPassword"] = password
    if not values:
        return None
    sess.pending = Pending(sess.next_id(), "SetParameterValues", purpose="interval")
    return soap.set_parameter_values(sess.pending.id, values, "hp-management")
