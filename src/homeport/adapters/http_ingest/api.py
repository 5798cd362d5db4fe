"""``POST /api/v1/telemetry``: a batch of reports over HTTP.

The body is a JSON array of reports (DESIGN.md section 5, ``docs/telemetry.md``) or
``{"reports": [...]}``. Each report is judged on its own: the answer is 200 with
``{"accepted", "duplicates", "rejected": [{"index", "device_id", "reason"}]}`` once the accepted
reports are **committed** (a crash after the 200 loses nothing). A body that is not JSON, or not
a batch, is 400; more than ``telemetry.max_batch`` reports is 413.

Two ways to authenticate, declared as one :class:`~homeport.identity.api.Access` rule:

- an integration (a bridge, a vendor cloud) sends an API token with the ``telemetry:write``
  scope: ``Authorization: Bearer hp_…``; it may send reports for any known device;
- a gateway sends its own secret (``homeport`` issues it per device) with its device id:
  ``Authorization: Bearer <secret>`` and ``X-Homeport-Device: <device_id>``; it may send only
  its own reports (others in the batch are rejected with a reason).

**Remote actions.** A gateway's answer also carries ``"actions": [{"id", "kind", "params"}]``:
its queued remote actions (``homeport.health.remote``), marked ``sent`` in the transaction that
commits its reports (an empty batch ``[]`` is enough to collect them). The gateway reports each
result to ``POST /api/v1/devices/{device_id}/actions/{action_id}/result``. An integration's
answer has ``"actions": []``: it speaks for many devices and cannot carry out an action.

Being marked ``sent`` is not being received: if the connection drops after the commit and before
the answer arrives, the action is sent-but-not-received. It is not sent again (the gateway might
already be carrying it out); the worker fails it when no result comes within
``action_result_timeout_s``, and a remediation policy judges the home by its later reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from homeport.core.db import Database
from homeport.core.errors import AuthenticationFailed, HomeportError, PermissionDenied
from homeport.health import remote
from homeport.identity.api import Access, LoginRequired
from homeport.identity.schemas import Principal
from homeport.telemetry import ingest, service
from homeport.telemetry.actions import store_reports
from homeport.telemetry.schemas import ActionCommand, ActionResultIn, BatchResult, Rejection, Report

router = APIRouter(prefix="/api/v1", tags=["telemetry"])

DEVICE_HEADER = "x-homeport-device"
#: Bytes allowed per report in a batch (a full report with 256 clients is about 40 kB).
MAX_BYTES_PER_REPORT = 64 * 1024


class BadBatch(HomeportError):
    status = 400


class PayloadTooLarge(HomeportError):
    status = 413


@dataclass(frozen=True)
class DeviceOrToken(Access):
    """An :class:`Access` rule that also admits a gateway with its per-device bearer secret.

    Without the device header it is exactly the wrapped staff rule (token scope, roles, session
    with CSRF). It subclasses :class:`Access` so the route still declares one access rule.
    """

    def describe(self) -> str:
        return f"gateway (device secret) or {super().describe()}"

    async def __call__(self, request: Request) -> Principal | None:
        device_id = request.headers.get(DEVICE_HEADER)
        if device_id is None:
            return await super().__call__(request)
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            raise LoginRequired("a device sends its secret as a bearer token", page=False)
        secret = auth[7:].strip()
        valid = await run_in_threadpool(self._device_valid, request, device_id.strip(), secret)
        if not valid:
            raise AuthenticationFailed("unknown device, or invalid or revoked device secret")
        request.state.device_id = device_id.strip()
        return None

    def _device_valid(self, request: Request, device_id: str, secret: str) -> bool:
        with self._db(request).session() as session:
            return service.device_secret_valid(session, device_id, secret)


ingest_access = DeviceOrToken.staff(scope="telemetry:write")


def _own_reports(
    reports: list[Report], where: list[int], device_id: str
) -> tuple[list[Report], list[int], list[Rejection]]:
    """A device may only report for itself."""
    keep: list[Report] = []
    keep_where: list[int] = []
    refused: list[Rejection] = []
    for report, index in zip(reports, where, strict=True):
        if report.device_id == device_id:
            keep.append(report)
            keep_where.append(index)
        else:
            refused.append(
                Rejection(
                    index=index,
                    device_id=report.device_id,
                    reason=f"authenticated as device {device_id}, not {report.device_id}",
                )
            )
    return keep, keep_where, refused


def _ingest(request: Request, body: bytes, device_id: str | None) -> BatchResult:
    limits = request.app.state.settings.telemetry
    try:
        reports, rejected = ingest.parse_batch(body)
    except ValueError as exc:
        raise BadBatch(str(exc)) from None
    total = len(reports) + len(rejected)
    if total > limits.max_batch:
        raise PayloadTooLarge(
            f"{total} reports in one batch; at most {limits.max_batch}: split the batch"
        )
    where = ingest.positions(total, rejected)
    if device_id is not None:
        reports, where, refused = _own_reports(reports, where, device_id)
        rejected.extend(refused)
    db: Database = request.app.state.db
    now = request.app.state.clock.now()
    commands: list[ActionCommand] = []
    with db.transaction() as session:
        stored = store_reports(session, reports, source="http", now=now, settings=limits)
        if device_id is not None:
            sent = remote.deliver_pending(session, [device_id], via="http", now=now)
            commands = [remote.command_of(a) for a in sent]
    # Leaving the block committed: only now may the client be told its reports are safe (and
    # only now are its actions "sent"; the answer is built from what was committed).
    rejected.extend(
        Rejection(index=where[r.index], device_id=r.device_id, reason=r.reason)
        for r in stored.rejected
    )
    rejected.sort(key=lambda r: r.index)
    return BatchResult(
        accepted=stored.accepted,
        duplicates=stored.duplicates,
        rejected=rejected,
        actions=commands,
    )


@router.post("/telemetry", dependencies=[Depends(ingest_access)])
async def post_telemetry(request: Request) -> BatchResult:
    """Store a batch of telemetry reports; each one is accepted, a duplicate or rejected with
    its reason. Answered only after the accepted reports are committed. A gateway (device
    secret) also receives its queued remote actions, now marked sent."""
    limits = request.app.state.settings.telemetry
    max_bytes = limits.max_batch * MAX_BYTES_PER_REPORT
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"the body is over {max_bytes // 1024 // 1024} MiB")
    body = await request.body()
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"the body is over {max_bytes // 1024 // 1024} MiB")
    device_id: str | None = getattr(request.state, "device_id", None)
    return await run_in_threadpool(_ingest, request, body, device_id)


class ActionResultOut(BaseModel):
    id: int
    device_id: str
    kind: str
    status: str


def _report_result(
    request: Request, device_id: str, action_id: int, body: ActionResultIn, caller: str | None
) -> ActionResultOut:
    if caller is not None and caller != device_id:
        raise PermissionDenied(
            f"authenticated as device {caller}: it may report only its own actions, "
            f"not those of {device_id}"
        )
    db: Database = request.app.state.db
    with db.transaction() as session:
        action = remote.report_result(
            session,
            device_id=device_id,
            action_id=action_id,
            status=body.status,
            detail=body.detail,
            via="http" if caller is not None else "http-integration",
            now=request.app.state.clock.now(),
        )
        out = ActionResultOut(
            id=action.id, device_id=action.device_id, kind=action.kind, status=action.status
        )
    return out


@router.post(
    "/devices/{device_id}/actions/{action_id}/result", dependencies=[Depends(ingest_access)]
)
async def post_action_result(
    request: Request, device_id: str, action_id: int, body: ActionResultIn
) -> ActionResultOut:
    """A device's result for a remote action it received: ``done``, ``failed`` or
    ``unsupported``, with an optional ``detail``. A gateway (device secret) may report only its
    own actions (403 for another device's path, 404 for an action that is not this device's);
    an integration token with ``telemetry:write`` may report for any device. A result for an
    action that already ended, or was never sent, is 409 with the reason. Audited."""
    caller: str | None = getattr(request.state, "device_id", None)
    return await run_in_threadpool(_report_result, request, device_id, action_id, body, caller)
