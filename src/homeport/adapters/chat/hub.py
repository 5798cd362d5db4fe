"""The hub that carries chat messages, "new chat waiting" notices and screen pops to the open
WebSockets.

A message is a small JSON object published on a *topic*: ``case:<id>`` (both sides of one
case), ``subscriber:<id>`` (the subscriber's chat pages), ``agents`` (every agent's queue
socket) and ``agent:<staff id>`` (one agent's queue socket). Messages name rows (an interaction
id), never carry what the subscriber wrote: each socket reads the committed row itself, so a
message is only shown once it is committed and only to those allowed to see it.

- :class:`LocalHub` (the default) delivers within this process: enough for ``homeport serve``
  and ``homeport demo`` as one process.
- :class:`RedisHub` (``HOMEPORT_CHAT_BROKER_URL=redis://host:6379/0``) publishes through Redis
  pub/sub, so that a message committed in one web process reaches sockets held by another
  (several web processes behind a load balancer). Redis is optional: it is imported only then.

:meth:`Hub.publish` may be called from any thread (the domain events arrive in worker threads
after the commit); delivery happens on the hub's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

Message = dict[str, Any]
PREFIX = "homeport:hub:"
#: Messages a slow socket may have waiting before it is dropped (it reconnects and reloads).
QUEUE_LIMIT = 1000


class Subscription:
    """The messages of some topics for one socket, in order."""

    def __init__(self, hub: LocalHub, topics: Iterable[str]) -> None:
        self.hub = hub
        self.topics = set(topics)
        self.queue: asyncio.Queue[tuple[str, Message]] = asyncio.Queue(QUEUE_LIMIT)
        self.overflowed = False

    def add(self, topic: str) -> None:
        if topic not in self.topics:
            self.topics.add(topic)
            self.hub._subs.setdefault(topic, set()).add(self)

    async def get(self) -> tuple[str, Message]:
        return await self.queue.get()

    def close(self) -> None:
        for topic in self.topics:
            subs = self.hub._subs.get(topic)
            if subs is not None:
                subs.discard(self)
                if not subs:
                    del self.hub._subs[topic]


class LocalHub:
    """Delivers within this process, on ``loop``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._subs: dict[str, set[Subscription]] = {}

    def subscribe(self, topics: Iterable[str]) -> Subscription:
        """Called on the hub's loop."""
        sub = Subscription(self, ())
        for topic in topics:
            sub.add(topic)
        return sub

    def listeners(self, topic: str) -> int:
        return len(self._subs.get(topic, ()))

    def publish(self, topic: str, message: Message) -> None:
        """Deliver ``message`` to the topic's sockets (from any thread)."""
        self._schedule(topic, message)

    def _schedule(self, topic: str, message: Message) -> None:
        if self.loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._deliver(topic, message)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self.loop.call_soon_threadsafe(self._deliver, topic, message)

    def _deliver(self, topic: str, message: Message) -> None:
        for sub in list(self._subs.get(topic, ())):
            try:
                sub.queue.put_nowait((topic, message))
            except asyncio.QueueFull:
                sub.overflowed = True
                log.warning("chat socket too slow on %s: dropping it", topic)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisHub(LocalHub):
    """Publishes through Redis pub/sub; one reader task per process feeds the local sockets."""

    def __init__(self, loop: asyncio.AbstractEventLoop, url: str) -> None:
        super().__init__(loop)
        import redis
        import redis.asyncio

        self.url = url
        self._sync = redis.Redis.from_url(url)
        self._async = redis.asyncio.Redis.from_url(url)
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    def publish(self, topic: str, message: Message) -> None:
        data = json.dumps(message, separators=(",", ":"))
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is None:
            self._sync.publish(PREFIX + topic, data)
        else:  # never block an event loop on the network
            running.run_in_executor(None, self._sync.publish, PREFIX + topic, data)

    async def start(self) -> None:
        if self._reader is None:
            self._reader = self.loop.create_task(self._read())
            await asyncio.wait_for(self._ready.wait(), 10)

    async def _read(self) -> None:
        while True:
            pubsub = self._async.pubsub()
            try:
                await pubsub.psubscribe(PREFIX + "*")
                self._ready.set()
                async for item in pubsub.listen():
                    if item.get("type") != "pmessage":
                        continue
                    channel = item["channel"]
                    topic = (channel.decode() if isinstance(channel, bytes) else channel)[
                        len(PREFIX) :
                    ]
                    try:
                        message = json.loads(item["data"])
                    except ValueError:
                        continue
                    self._deliver(topic, message)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("chat hub lost Redis at %s; reconnecting", self.url)
                await asyncio.sleep(1)
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        await self._async.aclose()
        self._sync.close()


def make_hub(loop: asyncio.AbstractEventLoop, broker_url: str) -> LocalHub:
    """The hub for ``HOMEPORT_CHAT_BROKER_URL`` ("" = this process only)."""
    if not broker_url:
        return LocalHub(loop)
    if broker_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHub(loop, broker_url)
    raise ValueError(f"unsupported chat broker {broker_url!r}: use redis://host:port/db")
