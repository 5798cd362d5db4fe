"""Live telemetry of the simulated fleet through the real transports (DESIGN.md section 8).

The fleet already in the database (``homeport simulate``) reports every interval, as its
gateways would: each tick's reports come from :mod:`homeport.simulator.telemetry` with the
faults of :mod:`homeport.simulator.faults` applied, and go out over HTTP
(``POST /api/v1/telemetry`` with an integration token, in batches) or MQTT (one message per
report on ``<prefix>/<device_id>``, QoS 1), to whatever Homeport listens there: the ingest path,
the detectors and the worker see exactly what a real fleet would send.

- **Time.** Ticks are sent when the emitter's clock reaches them. :class:`SimClock` runs
  ``speed`` times faster than real time from a start, never faster than its limits allow: a
  server on the real clock refuses reports from the future, so against one the simulated time
  catches up with the present at ``speed`` and then follows the wall clock; in ``homeport demo``
  the server, the worker and the emitter share one ``SimClock``, limited by the emitter's
  progress (it never runs more than one interval ahead of the last tick delivered, so a machine
  that cannot keep up slows the simulation down instead of losing reports).
- **Faults and ground truth.** Faults are scheduled (:func:`faults.schedule`, seeded) over
  consecutive windows of ``chunk_s``; each is recorded in ``sim_faults`` when it starts, and a
  fault still active when the emitter stops is cut short in the ground truth, so that
  ``sim_faults`` holds what really happened.
- **Fibre cuts silence the gateways.** A gateway whose WAN is down has no way to send its report
  (``silent_when_down``): Homeport sees the cut as gateways gone silent, which the worker's
  offline check turns into ``device_offline`` findings and an area outage.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select, update

from homeport.adapters.mqtt.broker import (
    DEFAULT_COMMANDS_PREFIX,
    DEFAULT_PREFIX,
    DEFAULT_RESULTS_PREFIX,
    Broker,
    check_prefix,
)
from homeport.audit.actions import Actor
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import Conflict, HomeportError, ServiceUnavailable, ValidationFailed
from homeport.network.models import Gateway
from homeport.simulator import faults as fault_model
from homeport.simulator import telemetry
from homeport.simulator.evaluation import window_start
from homeport.simulator.models import SimFault
from homeport.telemetry.actions import issue_device_secret
from homeport.telemetry.schemas import Report

log = logging.getLogger("homeport.simulator.live")

#: A fault schedule needs a window of at least this long, and eight report intervals (shorter
#: windows get no new faults).
MIN_CHUNK_S = 3600
#: Fault kinds a detector finds within two reports: the demo starts one of them at once.
QUICK_KINDS = ("reboot_loop", "weak_coverage", "crowded_24ghz", "wifi_interference")
HTTP_PATH = "/api/v1/telemetry"


def _dt(s: int) -> datetime:
    return datetime.fromtimestamp(s, UTC)


# --- Time ---------------------------------------------------------------------------------


class Pacer(Protocol):
    """The emitter's time: what time it is, and waiting for a time to come."""

    def now(self) -> datetime: ...

    def wait_until(self, when: datetime, stop: threading.Event) -> bool:
        """Return when the clock has reached ``when`` (True) or ``stop`` is set (False)."""
        ...


class SimClock:
    """A clock that runs ``speed`` times faster than real time from ``start``, held back by its
    limits (each a function giving the latest time it may show). Monotonic: held at a limit, it
    stops, and resumes from there at ``speed`` when the limit moves on, without a jump.
    Thread-safe; usable as the :class:`~homeport.core.clock.Clock` of a server and a worker."""

    def __init__(
        self,
        start: datetime,
        speed: float,
        *,
        limits: Sequence[Callable[[], datetime]] = (),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock needs a timezone-aware start time")
        if not speed > 0:
            raise ValueError("the speed must be positive")
        self.speed = float(speed)
        self._monotonic = monotonic
        self._anchor = start.astimezone(UTC)
        self._anchor_real = monotonic()
        self._last = self._anchor
        self._limits = list(limits)
        self._lock = threading.Lock()

    def limit_by(self, limit: Callable[[], datetime]) -> None:
        with self._lock:
            self._limits.append(limit)

    def now(self) -> datetime:
        with self._lock:
            real = self._monotonic()
            t = self._anchor + timedelta(seconds=(real - self._anchor_real) * self.speed)
            if self._limits:
                cap = min(limit() for limit in self._limits)
                if t > cap:
                    t = max(cap, self._last)
                    self._anchor, self._anchor_real = t, real
            t = max(t, self._last)
            self._last = t
            return t

    def wait_until(self, when: datetime, stop: threading.Event) -> bool:
        while True:
            now = self.now()
            if now >= when:
                return True
            real = (when - now).total_seconds() / self.speed
            if stop.wait(min(max(real, 0.001), 0.25)):
                return False


class ManualPacer:
    """Pacing by a :class:`ManualClock` (tests): waiting for a time sets the clock to it."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock

    def now(self) -> datetime:
        return self.clock.now()

    def wait_until(self, when: datetime, stop: threading.Event) -> bool:
        if stop.is_set():
            return False
        if self.clock.now() < when:
            self.clock.set(when)
        return True


def live_start(
    db: Database, *, at: datetime | None, interval_s: int, wall: datetime | None
) -> datetime:
    """Where live telemetry begins: ``at`` if given; else just after the latest stored report
    (or the fleet's present, ``evaluation.window_start``). With ``wall`` (the receiving server
    runs on the real clock), never after the last report time before it."""
    with db.session() as session:
        start = window_start(session, at, interval_s)
    if at is None and wall is not None and start > wall:
        start = _dt(int(wall.timestamp()) // interval_s * interval_s)
    return start


# --- Transports ---------------------------------------------------------------------------


def encode(report: Report) -> bytes:
    """A report as the JSON of the contract (absent values left out)."""
    return report.model_dump_json(exclude_none=True).encode()


#: A remote action a simulated gateway carried out: (device id, kind, parameters).
Done = tuple[str, str, dict[str, Any]]


@dataclass
class Delivery:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0
    #: Remote actions the simulated gateways received and acknowledged ``done``.
    actions: int = 0
    reasons: list[str] = field(default_factory=list)
    #: This send's acknowledged actions as ``(device_id, kind, params)``, for the emitter to
    #: model their effect; not kept by :meth:`add` (the totals keep only the count).
    done: list[Done] = field(default_factory=list)

    def add(self, other: Delivery) -> None:
        self.sent += other.sent
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.failed += other.failed
        self.actions += other.actions
        self.reasons = (self.reasons + other.reasons)[:5]


class TransportError(HomeportError):
    """Reports could not be delivered. ``fatal``: retrying cannot help (a refused token)."""

    status = 502

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


class Transport(Protocol):
    def check(self) -> None:
        """Raise :class:`TransportError` when the receiver cannot be reached or refuses us."""
        ...

    def send(self, reports: Sequence[Report]) -> Delivery: ...

    def close(self) -> None: ...


#: What a simulated gateway says when it acknowledges an action (the emitter models the effect
#: of the actions in :data:`FIXES`; the others change nothing).
ACK_DETAIL = "simulated gateway: done"


def result_path(device_id: str, action_id: int) -> str:
    return f"/api/v1/devices/{quote(device_id, safe='')}/actions/{action_id}/result"


class HttpTransport:
    """``POST /api/v1/telemetry`` with an integration token (scope ``telemetry:write``), in
    batches of ``batch`` reports over one kept-alive connection. A connection error or a 5xx is
    retried with a growing delay; a refusal (401, 403, 4xx) is fatal.

    With ``gateways`` (device id → device secret), those devices report as gateways do: each
    one's reports in its own POST with its secret, so that the answer carries its queued remote
    actions; the simulated gateway acknowledges each with ``done`` on the result endpoint (the
    emitter models the effect of a channel change, :data:`FIXES`). That is one request per
    gateway, slower than batches: with ``gateway_every`` N, a gateway reports itself on one send
    (tick) in N, staggered over the fleet, and through the integration batch otherwise (it
    collects its actions at least every N ticks, as a CPE calls in on its own schedule)."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        batch: int = 500,
        timeout_s: float = 60.0,
        retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        gateways: Mapping[str, str] | None = None,
        gateway_every: int = 1,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationFailed(f"the URL must be http(s)://host[:port][/path], not {url!r}")
        if not token:
            raise ValidationFailed("an API token with the telemetry:write scope is needed")
        if not 1 <= batch <= 100_000:
            raise ValidationFailed("the batch size must be between 1 and 100000 reports")
        path = parts.path.rstrip("/")
        self.path = path if path.endswith(HTTP_PATH) else path + HTTP_PATH
        self._base = self.path[: -len(HTTP_PATH)]
        self.url = f"{parts.scheme}://{parts.netloc}{self.path}"
        self._tls = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._token = token
        if gateway_every < 1:
            raise ValidationFailed("gateway_every must be at least 1")
        self.gateways: dict[str, str] = dict(gateways or {})
        self.gateway_every = gateway_every
        self._sends = 0
        self.batch = batch
        self.timeout_s = timeout_s
        self.retries = retries
        self._sleep = sleep
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._tls:
                self._conn = http.client.HTTPSConnection(
                    self._host,
                    self._port,
                    timeout=self.timeout_s,
                    context=ssl.create_default_context(),
                )
            else:
                self._conn = http.client.HTTPConnection(
                    self._host, self._port, timeout=self.timeout_s
                )
        return self._conn

    def _post(
        self,
        body: bytes,
        *,
        retries: int | None = None,
        path: str | None = None,
        device: str | None = None,
    ) -> dict[str, Any]:
        secret = self._token if device is None else self.gateways[device]
        headers = {
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if device is not None:
            headers["X-Homeport-Device"] = device
        delay = 0.5
        retries = self.retries if retries is None else retries
        for attempt in range(retries + 1):
            try:
                conn = self._connection()
                conn.request("POST", path or self.path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                problem = f"cannot reach {self.url}: {exc}"
            else:
                if response.status == 200:
                    data: dict[str, Any] = orjson.loads(payload)
                    return data
                detail = _detail(payload)
                if response.status < 500:
                    raise TransportError(
                        f"{self.url} answered {response.status}: {detail}", fatal=True
                    )
                problem = f"{self.url} answered {response.status}: {detail}"
            if attempt == retries:
                raise TransportError(problem)
            log.warning("%s; retrying in %.1f s", problem, delay)
            self._sleep(delay)
            delay = min(delay * 2, 10.0)
        raise AssertionError("unreachable")  # pragma: no cover

    def check(self) -> None:
        """An empty batch: proves the server is there and takes the token."""
        self._post(b"[]", retries=0)

    def send(self, reports: Sequence[Report]) -> Delivery:
        out = Delivery()
        own: dict[str, list[Report]] = {}
        bridged: list[Report] = []
        turn = self._sends % self.gateway_every
        self._sends += 1
        for r in reports:
            if r.device_id in self.gateways and self._slot(r.device_id) == turn:
                own.setdefault(r.device_id, []).append(r)
            else:
                bridged.append(r)
        parts: list[tuple[Sequence[Report], str | None]] = [
            (bridged[i : i + self.batch], None) for i in range(0, len(bridged), self.batch)
        ]
        parts += [(mine, device) for device, mine in own.items()]
        for part, device in parts:
            body = b"[" + b",".join(encode(r) for r in part) + b"]"
            try:
                answer = self._post(body, device=device)
            except TransportError as exc:
                if exc.fatal:
                    raise
                log.error("%d reports not delivered: %s", len(part), exc.message)
                out.failed += len(part)
                out.reasons = [*out.reasons, exc.message][:5]
                continue
            rejected = answer.get("rejected") or []
            out.sent += len(part)
            out.accepted += int(answer.get("accepted", 0))
            out.duplicates += int(answer.get("duplicates", 0))
            out.rejected += len(rejected)
            out.reasons = (out.reasons + [str(r.get("reason")) for r in rejected[:3]])[:5]
            if device is not None:
                for action in answer.get("actions") or []:
                    self._acknowledge(device, action, out)
        out.actions = len(out.done)
        return out

    def _slot(self, device_id: str) -> int:
        """Which send (modulo ``gateway_every``) this gateway reports itself on: stable."""
        if self.gateway_every == 1:
            return 0
        return zlib.crc32(device_id.encode()) % self.gateway_every

    def _acknowledge(self, device: str, action: dict[str, Any], out: Delivery) -> None:
        """The simulated gateway carries the action out (:data:`FIXES`) and says so."""
        body = orjson.dumps({"status": "done", "detail": ACK_DETAIL})
        try:
            self._post(
                body, path=self._base + result_path(device, int(action["id"])), device=device
            )
        except TransportError as exc:  # never stops the fleet: the worker fails it in time
            log.warning(
                "action %s of %s not acknowledged: %s", action.get("id"), device, exc.message
            )
            return
        params = action.get("params")
        out.done.append(
            (device, str(action.get("kind")), params if isinstance(params, dict) else {})
        )
        log.info("%s: %s action %s done", device, action.get("kind"), action.get("id"))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _detail(payload: bytes) -> str:
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload[:200].decode(errors="replace")
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])
    return str(data)[:200]


class MqttTransport:
    """One QoS 1 message per report on ``<prefix>/<device_id>`` (the topics ``homeport ingest
    --mqtt`` consumes); :meth:`send` returns when the broker has acknowledged every message.

    With ``acknowledge`` (the default), the fleet's gateways also listen on
    ``<commands_prefix>/+`` and answer every remote action they receive with ``done`` on
    ``<results_prefix>/<device_id>`` (QoS 1; the emitter models the effect of a channel
    change, :data:`FIXES`). A command seen twice (QoS 1 redelivery) is acknowledged once."""

    def __init__(
        self,
        broker: Broker,
        *,
        prefix: str = DEFAULT_PREFIX,
        commands_prefix: str = DEFAULT_COMMANDS_PREFIX,
        results_prefix: str = DEFAULT_RESULTS_PREFIX,
        acknowledge: bool = True,
        client_id: str | None = None,
        timeout_s: float = 30.0,
        max_inflight: int = 200,
    ) -> None:
        self.broker = broker
        self.prefix = check_prefix(prefix)
        self.commands_prefix = check_prefix(commands_prefix)
        self.results_prefix = check_prefix(results_prefix)
        self.acknowledge = acknowledge
        self.timeout_s = timeout_s
        self._connected = threading.Event()
        self._refused = ""
        self._lock = threading.Lock()
        self._acked: set[int] = set()
        self._done: list[Done] = []
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"homeport-sim-{uuid.uuid4().hex[:12]}",
            protocol=paho.MQTTv311,
        )
        if broker.username:
            self.client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            self.client.tls_set()
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_command
        self._started = False

    def _on_connect(self, client: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self._refused = str(reason)
        elif self.acknowledge:
            client.subscribe(f"{self.commands_prefix}/+", qos=1)
        self._connected.set()

    def _on_command(self, client: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        """A gateway received an action: it says it is done (once per action id)."""
        device = msg.topic.rsplit("/", 1)[-1]
        try:
            command = orjson.loads(msg.payload)
            action_id = int(command["id"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("a command on %s is not {id, kind, params}: ignored", msg.topic)
            return
        params = command.get("params") if isinstance(command, dict) else None
        with self._lock:
            if action_id in self._acked:
                return
            self._acked.add(action_id)
            self._done.append(
                (device, str(command.get("kind")), params if isinstance(params, dict) else {})
            )
        result = {"id": action_id, "status": "done", "detail": ACK_DETAIL}
        client.publish(f"{self.results_prefix}/{device}", orjson.dumps(result), qos=1)
        log.info("%s: %s action %s done", device, command.get("kind"), action_id)

    @property
    def acknowledged(self) -> int:
        """Distinct actions acknowledged since the transport started."""
        with self._lock:
            return len(self._acked)

    def check(self) -> None:
        if self._started:
            return
        try:
            self.client.connect(self.broker.host, self.broker.port, keepalive=30)
        except OSError as exc:
            raise TransportError(
                f"cannot reach the MQTT broker at {self.broker}: {exc}", fatal=True
            ) from exc
        self.client.loop_start()
        self._started = True
        if not self._connected.wait(self.timeout_s):
            raise TransportError(f"the MQTT broker at {self.broker} did not answer", fatal=True)
        if self._refused:
            raise TransportError(
                f"the MQTT broker at {self.broker} refused the connection: {self._refused}",
                fatal=True,
            )

    def send(self, reports: Sequence[Report]) -> Delivery:
        self.check()
        infos = [
            (r, self.client.publish(f"{self.prefix}/{r.device_id}", encode(r), qos=1))
            for r in reports
        ]
        out = Delivery()
        deadline = time.monotonic() + self.timeout_s
        for _report, info in infos:
            try:
                info.wait_for_publish(timeout=max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as exc:
                out.failed += 1
                out.reasons = [*out.reasons, str(exc)][:5]
                continue
            if info.is_published():
                out.sent += 1
            else:
                out.failed += 1
        if out.failed:
            log.error("%d reports not acknowledged by the broker %s", out.failed, self.broker)
        # The broker has them; whether Homeport stores them is the ingest's business.
        out.accepted = out.sent
        with self._lock:
            out.done, self._done = self._done, []
        out.actions = len(out.done)
        return out

    def close(self) -> None:
        if self._started:
            self.client.disconnect()
            self.client.loop_stop()
            self._started = False


# --- The emitter --------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveOptions:
    interval_s: int = 300
    seed: int = 7
    #: Multiplies the home-fault rates of :data:`faults.RATES`.
    fault_scale: float = 1.0
    #: Faults are scheduled over consecutive windows of this long.
    chunk_s: int = 6 * 3600
    #: Ports with at least this many reporting homes may get a fibre cut (an outage needs them).
    min_port_homes: int = 5
    #: In the first window, a quick fault starts at the latest this long after the start, and a
    #: fibre cut at the latest twice as long after (the demo: something to see at once).
    #: None: as scheduled.
    kickoff_s: int | None = None
    #: A gateway whose WAN is down sends nothing (it has no way out).
    silent_when_down: bool = True
    #: Log a progress line every this many ticks.
    log_every: int = 12


@dataclass
class LiveStats:
    ticks: int = 0
    silent: int = 0
    faults_started: int = 0
    delivery: Delivery = field(default_factory=Delivery)
    first_tick: datetime | None = None
    last_tick: datetime | None = None


class LiveEmitter:
    """Sends the fleet's reports tick by tick through ``transport`` (see the module doc)."""

    def __init__(
        self,
        db: Database,
        transport: Transport,
        pacer: Pacer,
        options: LiveOptions | None = None,
    ) -> None:
        self.db = db
        self.transport = transport
        self.pacer = pacer
        self.options = options or LiveOptions()
        self.stats = LiveStats()
        #: The last tick delivered (epoch seconds); a shared SimClock is held by it.
        self.progress_s: int | None = None
        self._recorded: dict[tuple[Any, ...], int] = {}  # fault -> its sim_faults.id

    def ceiling(self) -> datetime:
        """How far a clock shared with this emitter may run: one interval past the tick being
        sent (the next one is due, and waits)."""
        if self.progress_s is None:
            return datetime.max.replace(tzinfo=UTC)
        return _dt(self.progress_s + 2 * self.options.interval_s)

    def run(
        self,
        stop: threading.Event,
        *,
        start: datetime,
        end: datetime | None = None,
        after_tick: Callable[[datetime], object] | None = None,
    ) -> LiveStats:
        """Emit every tick from ``start`` until ``end`` (exclusive) or until ``stop`` is set.
        ``after_tick(ts)`` runs after each tick is delivered (tests drive a worker with it)."""
        o = self.options
        with self.db.session() as session:
            fleet = telemetry.load_fleet(session, at=start)
        if fleet.size == 0:
            raise Conflict("no home of the simulated fleet is active: run 'homeport simulate'")
        ticks_from = -(-int(start.timestamp()) // o.interval_s) * o.interval_s
        end_s = None if end is None else int(end.timestamp())
        self.progress_s = ticks_from - o.interval_s
        log.info(
            "live telemetry of %d homes from %s, one report each every %d s",
            fleet.size,
            _dt(ticks_from).isoformat(),
            o.interval_s,
        )
        upcoming: list[fault_model.Fault] = []
        active: list[fault_model.Fault] = []
        chunk_end = ticks_from
        first_chunk = True
        t = ticks_from
        try:
            while not stop.is_set() and (end_s is None or t < end_s):
                if t >= chunk_end:
                    chunk_end, planned = self._plan(fleet, t, end_s, first_chunk)
                    upcoming += planned
                    first_chunk = False
                if not self.pacer.wait_until(_dt(t), stop):
                    break
                starting = [f for f in upcoming if f.start_s <= t]
                if starting:
                    upcoming = [f for f in upcoming if f.start_s > t]
                    self._record(starting, t)
                    active += starting
                active = [f for f in active if f.end_s > t]
                frame = telemetry.frame(fleet, t)
                fault_model.apply(fleet, frame, active)
                reports = telemetry.reports(fleet, frame)
                if o.silent_when_down:
                    up = frame.wan_up.tolist()
                    kept = [r for r, ok in zip(reports, up, strict=True) if ok]
                    self.stats.silent += len(reports) - len(kept)
                    reports = kept
                delivery = self.transport.send(reports)
                if delivery.done:
                    active = self._carry_out(fleet, active, delivery.done, t)
                self.stats.delivery.add(delivery)
                self.stats.ticks += 1
                self.stats.first_tick = self.stats.first_tick or _dt(t)
                self.stats.last_tick = _dt(t)
                self.progress_s = t
                if delivery.rejected or delivery.failed:
                    log.warning(
                        "tick %s: %d rejected, %d not delivered (%s)",
                        _dt(t).isoformat(),
                        delivery.rejected,
                        delivery.failed,
                        "; ".join(delivery.reasons[:3]),
                    )
                if self.stats.ticks % o.log_every == 0:
                    self._log_progress(t)
                if after_tick is not None:
                    after_tick(_dt(t))
                t += o.interval_s
        finally:
            self._close_ground_truth(active + upcoming)
        return self.stats

    def _plan(
        self, fleet: telemetry.Fleet, t: int, end_s: int | None, first: bool
    ) -> tuple[int, list[fault_model.Fault]]:
        """The next window's end and its faults (none when the window is too short)."""
        o = self.options
        # faults.schedule needs room for its shortest faults (six intervals) and the lead of a
        # fibre cut: at least eight intervals.
        shortest = max(MIN_CHUNK_S, 8 * o.interval_s)
        length = max(o.chunk_s, shortest)
        c1 = t + length
        if end_s is not None and end_s - c1 < length // 2:
            c1 = end_s  # fold a short tail into this window
        if c1 - t < shortest:
            return c1, []
        planned = fault_model.schedule(
            fleet,
            start=_dt(t),
            end=_dt(c1),
            interval_s=o.interval_s,
            seed=o.seed,
            min_port_homes=o.min_port_homes,
            rate_scale=o.fault_scale,
        )
        if first and o.kickoff_s is not None:
            planned = _kickoff(planned, t, c1, o.kickoff_s)
        log.info(
            "faults planned until %s: %s",
            _dt(c1).isoformat(),
            ", ".join(f"{f.kind} at {_dt(f.start_s):%H:%M}" for f in planned) or "none",
        )
        return c1, planned

    def _record(self, starting: list[fault_model.Fault], t: int) -> None:
        with self.db.transaction() as session:
            rows = fault_model.record_faults(session, starting, now=_dt(t))
            for fault, row in zip(starting, rows, strict=True):
                self._recorded[_key(fault)] = row.id
        self.stats.faults_started += len(starting)
        for f in starting:
            where = f"port {f.port_id}" if f.port_id else f"home {f.home_id}"
            log.info(
                "fault %s on %s%s until %s",
                f.kind,
                where,
                f" ({f.subject})" if f.subject else "",
                _dt(f.end_s).isoformat(),
            )

    def _carry_out(
        self,
        fleet: telemetry.Fleet,
        active: list[fault_model.Fault],
        done: Sequence[Done],
        t: int,
    ) -> list[fault_model.Fault]:
        """Model the effect of the actions the gateways carried out at tick ``t``: the faults
        they fix end now (from the next report on), in the ground truth too."""
        ended = fixed_by(fleet, active, done)
        if not ended:
            return active
        ids = [self._recorded[k] for f in ended if (k := _key(f)) in self._recorded]
        if ids:
            with self.db.transaction() as session:
                session.execute(
                    update(SimFault).where(SimFault.id.in_(ids)).values(ended_at=_dt(t))
                )
        for f in ended:
            log.info(
                "fault %s on home %s (%s) fixed by a remote action", f.kind, f.home_id, f.subject
            )
        gone = {id(f) for f in ended}
        return [replace(f, end_s=t) if id(f) in gone else f for f in active]

    def _close_ground_truth(self, left: list[fault_model.Fault]) -> None:
        """Faults still active when the emitter stops end in the ground truth after the last
        tick sent (the ones that had not started were never recorded)."""
        if self.progress_s is None:
            return
        stopped_s = self.progress_s + self.options.interval_s
        ids = [
            self._recorded[key]
            for f in left
            if (key := _key(f)) in self._recorded and f.end_s > stopped_s
        ]
        if not ids:
            return
        with self.db.transaction() as session:
            session.execute(
                update(SimFault).where(SimFault.id.in_(ids)).values(ended_at=_dt(stopped_s))
            )

    def _log_progress(self, t: int) -> None:
        d = self.stats.delivery
        log.info(
            "live: simulated %s, %d ticks, %d reports sent (%d accepted, %d rejected, "
            "%d not delivered), %d silent, %d faults started, %d actions acknowledged",
            _dt(t).strftime("%Y-%m-%d %H:%M UTC"),
            self.stats.ticks,
            d.sent,
            d.accepted,
            d.rejected,
            d.failed,
            self.stats.silent,
            self.stats.faults_started,
            d.actions,
        )


#: Which remote action ends which simulated fault: a channel change on the fault's band moves
#: the radio away from the interference or the crowd. Nothing else is modelled (a reboot does
#: not end a reboot loop; band steering acts on a client, not on a fault class here).
FIXES = {"set_channel": frozenset({"wifi_interference", "crowded_24ghz"})}


def fixed_by(
    fleet: telemetry.Fleet, active: Sequence[fault_model.Fault], done: Sequence[Done]
) -> list[fault_model.Fault]:
    """The active faults that the carried-out actions fix (see :data:`FIXES`)."""
    wanted = {
        (device, kind, str(params.get("band", "")))
        for device, kind, params in done
        if kind in FIXES
    }
    return [
        f
        for f in active
        if f.home_id is not None
        and any(
            f.kind in FIXES[kind]
            and f.subject == band
            and fleet.device_id[int(f.homes[0])] == device
            for device, kind, band in wanted
        )
    ]


def _key(f: fault_model.Fault) -> tuple[Any, ...]:
    return (f.kind, f.start_s, f.home_id, f.port_id, f.subject)


def _kickoff(
    planned: list[fault_model.Fault], t0: int, t1: int, lead_s: int
) -> list[fault_model.Fault]:
    """Make a quick home fault start by ``t0 + lead_s`` and a fibre cut by ``t0 + 2 × lead_s``:
    when the first of its kind is planned later, it is moved there (same duration, kept inside
    the window)."""
    out = list(planned)
    for kinds, at in ((QUICK_KINDS, t0 + lead_s), (("fibre_cut",), t0 + 2 * lead_s)):
        chosen = [i for i, f in enumerate(out) if f.kind in kinds]
        if not chosen or at >= t1:
            continue
        i = min(chosen, key=lambda j: out[j].start_s)
        f = out[i]
        if f.start_s <= at:
            continue
        length = f.end_s - f.start_s
        out[i] = replace(f, start_s=at, end_s=min(t1, at + length))
    return sorted(out, key=lambda f: (f.start_s, f.kind, f.home_id or 0, f.port_id or 0))


def issue_gateway_secrets(db: Database, now: datetime) -> dict[str, str]:
    """A fresh device secret for every gateway of the fleet (rotating any it had), audited as
    the simulator's: for :class:`HttpTransport` ``gateways``."""
    actor = Actor.system("simulator")
    with db.transaction() as session:
        devices = session.scalars(select(Gateway.device_id).order_by(Gateway.device_id)).all()
        return {d: issue_device_secret(session, device_id=d, actor=actor, now=now) for d in devices}


def check_reachable(transport: Transport) -> None:
    """Fail early, with the reason, when the receiver is not there or refuses the credentials."""
    try:
        transport.check()
    except TransportError as exc:
        raise ServiceUnavailable(exc.message) from exc
