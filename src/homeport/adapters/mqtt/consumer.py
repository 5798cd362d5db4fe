"""The MQTT ingest loop: a paho-mqtt client on its network thread, batches on the caller's.

Delivery guarantee ("accepted means committed"): the client runs with ``manual_ack`` and a
persistent MQTT 5 session (a stable client id, ``clean_start=False`` and a session expiry), so
the broker keeps every QoS 1 message it delivered until the consumer sends its PUBACK, and sends
it again after a crash or a reconnect. The consumer sends the PUBACK of a message only after the
transaction that stored its report committed, or after it rejected the message for good (a
message that can never be stored must not come back forever). Storage is idempotent on
(device, ts), so a message stored but not acknowledged before a crash is counted as a duplicate
the second time, never stored twice.

Remote actions (at least once, with an honest gap): when a batch is stored, the store marks the
queued actions of its reporting devices ``sent`` in the same transaction, and after the commit
the consumer publishes each one with QoS 1 on ``homeport/commands/<device_id>`` as
``{"id", "kind", "params"}``, before acknowledging the reports. QoS 1 means a device may receive
a command twice (a redelivery after a lost PUBACK): it recognises it by ``id`` and carries it
out once. A process that dies between the commit and the publish leaves the action ``sent`` but
never published: it is not sent again (the worker fails it after ``action_result_timeout_s``).
Devices publish results on ``homeport/results/<device_id>`` as ``{"id", "status", "detail"}``
(QoS 1); each is applied in its own transaction, only for an action of the topic's device, and
acknowledged after it committed. A result that is not valid, names another device's action or
an illegal transition (a second ``done``) is counted as rejected, logged and acknowledged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.exc import DBAPIError, OperationalError

from homeport.adapters.mqtt.batch import (
    ApplyResult,
    BatchOutcome,
    Command,
    Parse,
    Received,
    Store,
    device_of,
    process,
)
from homeport.adapters.mqtt.broker import Broker, Subscription, check_client_id
from homeport.core.errors import HomeportError, ServiceUnavailable, ValidationFailed

log = logging.getLogger("homeport.ingest.mqtt")
_T = TypeVar("_T")


@dataclass(frozen=True)
class Options:
    client_id: str
    subscription: Subscription = field(default_factory=Subscription)
    #: A batch is stored when it has this many messages or is this old, whichever comes first.
    batch_size: int = 500
    batch_ms: int = 200
    #: How long the broker keeps the session (and queues messages) while the consumer is away.
    session_expiry_s: int = 7 * 86_400
    keepalive_s: int = 30
    connect_timeout_s: float = 10.0
    #: Longest wait between two attempts to store a batch while the database is unreachable.
    retry_max_s: float = 30.0

    def __post_init__(self) -> None:
        check_client_id(self.client_id)
        if not 1 <= self.batch_size <= 10_000:
            raise ValidationFailed("the batch size must be between 1 and 10000 messages")
        if not 1 <= self.batch_ms <= 60_000:
            raise ValidationFailed("the batch time must be between 1 and 60000 ms")

    @property
    def receive_maximum(self) -> int:
        """Unacknowledged messages the broker may have in flight to us: room for the next
        batches to fill while one is stored, so that a burst waits here rather than in the
        broker's (bounded) queue."""
        return min(65_535, max(1_000, 4 * self.batch_size))


class Metrics:
    """Prometheus metrics of one consumer, in their own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.messages = Counter(
            "homeport_mqtt_messages",
            "MQTT telemetry messages handled, by outcome.",
            ["outcome"],
            registry=registry,
        )
        for outcome in ("accepted", "duplicate", "rejected", "result"):
            self.messages.labels(outcome)
        self.batches = Counter(
            "homeport_mqtt_batches", "Batches stored and acknowledged.", registry=registry
        )
        self.batch_seconds = Histogram(
            "homeport_mqtt_batch_seconds",
            "Time to parse, store and commit one batch.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.store_errors = Counter(
            "homeport_mqtt_store_errors",
            "Attempts to store a batch that failed (the batch is retried, not acknowledged).",
            registry=registry,
        )
        self.connected = Gauge(
            "homeport_mqtt_connected", "1 while connected to the broker.", registry=registry
        )
        self.connects = Counter(
            "homeport_mqtt_connects", "Successful connections to the broker.", registry=registry
        )
        self.commands = Counter(
            "homeport_mqtt_commands",
            "Remote actions published to devices on their command topics.",
            registry=registry,
        )

    def value(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


class MqttIngest:
    """Consume telemetry (and, given ``apply_result``, action results) from one broker until
    told to stop; publish the commands the store hands back."""

    def __init__(
        self,
        broker: Broker,
        options: Options,
        *,
        parse: Parse,
        store: Store,
        apply_result: ApplyResult | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.broker = broker
        self.options = options
        self._parse = parse
        self._store = store
        self._apply_result = apply_result
        self.metrics = Metrics(registry or CollectorRegistry(auto_describe=True))
        self._queue: queue.Queue[Received] = queue.Queue()
        self._lock = threading.Lock()
        self._generation = 0
        self._ready = threading.Event()
        self._refused: str | None = None
        self._client = self._make_client()

    # -- connection (runs on paho's network thread) ---------------------------------------

    def _make_client(self) -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.options.client_id,
            protocol=paho.MQTTv5,
            manual_ack=True,
        )
        if self.broker.username is not None:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=60)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _on_connect(
        self,
        client: paho.Client,
        _userdata: Any,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._refused = str(reason)
            log.error("the MQTT broker %s refused the connection: %s", self.broker, reason)
            return
        with self._lock:
            self._generation += 1
            generation = self._generation
        self.metrics.connected.set(1)
        self.metrics.connects.inc()
        if generation > 1 and not flags.session_present:
            log.warning(
                "the MQTT broker %s did not keep our session: messages published while we "
                "were away may be lost (is its persistence on?)",
                self.broker,
            )
        log.info(
            "connected to %s as %s (session present: %s)",
            self.broker,
            self.options.client_id,
            flags.session_present,
        )
        client.subscribe([(f, SubscribeOptions(qos=1)) for f in self._filters])

    @property
    def _filters(self) -> list[str]:
        sub = self.options.subscription
        return [sub.topic_filter] + ([sub.results_filter] if self._apply_result else [])

    def _on_subscribe(
        self,
        _client: paho.Client,
        _userdata: Any,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        failed = [r for r in reasons if r.is_failure]
        if failed:
            self._refused = f"subscription to {' and '.join(self._filters)} refused: {failed[0]}"
            log.error("%s", self._refused)
            return
        log.info("subscribed to %s", " and ".join(self._filters))
        self._ready.set()

    def _on_disconnect(
        self,
        _client: paho.Client,
        _userdata: Any,
        _flags: paho.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self.metrics.connected.set(0)
        if reason.is_failure:
            log.warning("lost the MQTT broker %s (%s); reconnecting", self.broker, reason)

    def _on_message(self, _client: paho.Client, _userdata: Any, msg: paho.MQTTMessage) -> None:
        self._queue.put(Received(msg.topic, bytes(msg.payload), msg.mid, msg.qos, self._generation))

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Connect and subscribe, or raise :class:`ServiceUnavailable` with the reason."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.options.session_expiry_s
        props.ReceiveMaximum = self.options.receive_maximum
        try:
            self._client.connect(
                self.broker.host,
                self.broker.port,
                keepalive=self.options.keepalive_s,
                clean_start=False,
                properties=props,
            )
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise ServiceUnavailable(
                f"cannot reach the MQTT broker at {self.broker}: {reason}"
            ) from exc
        self._client.loop_start()
        deadline = time.monotonic() + self.options.connect_timeout_s
        while not self._ready.wait(0.05):
            if self._refused or time.monotonic() > deadline:
                self._client.loop_stop()
                self._client.disconnect()
                why = self._refused or f"no answer within {self.options.connect_timeout_s:g} s"
                raise ServiceUnavailable(f"the MQTT broker at {self.broker}: {why}")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self.metrics.connected.set(0)

    def run(self, stop: threading.Event) -> None:
        """Store and acknowledge batches until ``stop`` is set. A batch being stored when
        ``stop`` is set is finished (committed and acknowledged) first."""
        while not stop.is_set():
            batch = self._collect()
            if batch:
                self.handle(batch, stop)

    # -- batches (run on the caller's thread) ---------------------------------------------

    def _collect(self) -> list[Received]:
        try:
            batch = [self._queue.get(timeout=0.1)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.options.batch_ms / 1000
        while len(batch) < self.options.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def handle(self, batch: Sequence[Received], stop: threading.Event) -> BatchOutcome | None:
        """Store one batch (retrying while the database is unreachable), publish the commands
        the store handed back, apply the action results, then acknowledge. Returns None when
        ``stop`` was set before the batch could be stored (nothing is acknowledged: the broker
        delivers those messages again; results not yet applied come back too)."""
        started = time.monotonic()
        results: list[Received] = []
        reports: list[Received] = []
        for m in batch:
            (results if self._is_result(m) else reports).append(m)
        outcome = BatchOutcome()
        if reports:
            stored = self._retrying(lambda: self._process(reports), len(reports), stop)
            if stored is None:
                return None
            outcome = stored
            self._publish(outcome.commands)
        done: list[Received] = list(reports)
        for message in results:
            reason = self._retrying(partial(self._apply, message), 1, stop)
            if reason is None:
                break
            if reason:
                outcome.rejected.append((message, reason))
            else:
                outcome.results += 1
            done.append(message)
        self._record(outcome)
        self.metrics.batch_seconds.observe(time.monotonic() - started)
        handled = {id(m) for m in done}
        self._ack([m for m in batch if id(m) in handled])
        return outcome if len(done) == len(batch) else None

    def _retrying(self, step: Callable[[], _T], count: int, stop: threading.Event) -> _T | None:
        """Run ``step`` until the database lets it through (None when ``stop`` is set first)."""
        delay = 0.5
        while True:
            try:
                return step()
            except (OperationalError, ServiceUnavailable) as exc:
                self.metrics.store_errors.inc()
                log.error(
                    "cannot store %d messages (%s); retrying in %.1f s",
                    count,
                    str(exc).strip().splitlines()[0],
                    delay,
                )
                if stop.wait(delay):
                    return None
                delay = min(delay * 2, self.options.retry_max_s)

    def _is_result(self, message: Received) -> bool:
        if self._apply_result is None:
            return False
        try:
            device_of(message.topic, self.options.subscription.results_prefix)
        except ValueError:
            return False
        return True

    def _apply(self, message: Received) -> str:
        """Apply one action result; the reason it was refused ('' when applied)."""
        assert self._apply_result is not None
        try:
            device = device_of(message.topic, self.options.subscription.results_prefix)
            self._apply_result(device, message.payload)
        except (OperationalError, ServiceUnavailable):
            raise
        except (ValueError, HomeportError, DBAPIError) as exc:
            text = exc.message if isinstance(exc, HomeportError) else str(exc)
            return " ".join(text.split()) or type(exc).__name__
        return ""

    def _publish(self, commands: Sequence[Command]) -> None:
        """QoS 1 on each device's command topic; paho resends until the broker's PUBACK (and
        after a reconnect, the session being persistent)."""
        prefix = self.options.subscription.commands_prefix
        for device_id, payload in commands:
            info = self._client.publish(f"{prefix}/{device_id}", payload, qos=1)
            if info.rc != paho.MQTT_ERR_SUCCESS and info.rc != paho.MQTT_ERR_NO_CONN:
                log.error("could not publish a command to %s (%s)", device_id, info.rc)
                continue
            self.metrics.commands.inc()
            log.info("published a command to %s: %s", device_id, payload.decode(errors="replace"))

    def _process(self, batch: Sequence[Received]) -> BatchOutcome:
        prefix = self.options.subscription.prefix
        try:
            return process(batch, prefix=prefix, parse=self._parse, store=self._store)
        except (OperationalError, ServiceUnavailable):
            raise
        except (DBAPIError, ValueError) as exc:
            # One report the store cannot take must not hold up the others: store one by one.
            if len(batch) == 1:
                log.exception("report on %s could not be stored", batch[0].topic)
                return BatchOutcome(rejected=[(batch[0], f"could not be stored: {exc}")])
            log.warning("batch of %d failed (%s); storing its reports one by one", len(batch), exc)
            total = BatchOutcome()
            for message in batch:
                one = self._process([message])
                total.accepted += one.accepted
                total.duplicates += one.duplicates
                total.rejected.extend(one.rejected)
                total.commands.extend(one.commands)
            return total

    def _record(self, outcome: BatchOutcome) -> None:
        self.metrics.batches.inc()
        self.metrics.messages.labels("accepted").inc(outcome.accepted)
        self.metrics.messages.labels("duplicate").inc(outcome.duplicates)
        self.metrics.messages.labels("rejected").inc(len(outcome.rejected))
        self.metrics.messages.labels("result").inc(outcome.results)
        for message, reason in outcome.rejected:
            log.warning("rejected a message on %s: %s", message.topic, reason)

    def _ack(self, batch: Sequence[Received]) -> None:
        """PUBACK in the order the messages arrived. A message delivered on an earlier
        connection is not acknowledged here: the broker delivers it again on this one."""
        with self._lock:
            for message in batch:
                if message.qos > 0 and message.generation == self._generation:
                    self._client.ack(message.mid, message.qos)
