"""The chat channel's per-process state: the hub, who is connected, and the timers that turn
unanswered chats asynchronous. One :class:`ChatRuntime` per web application, made on first use
on the application's event loop (:func:`runtime_for`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from homeport.adapters.chat import conversation
from homeport.adapters.chat.hub import LocalHub, make_hub
from homeport.core.clock import Clock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.selfservice.bot import BotTurnAdded
from homeport.support.actions import InteractionAdded

log = logging.getLogger(__name__)

AGENTS = "agents"


def case_topic(case_id: int) -> str:
    return f"case:{case_id}"


def subscriber_topic(subscriber_id: int) -> str:
    return f"subscriber:{subscriber_id}"


def agent_topic(staff_id: int) -> str:
    return f"agent:{staff_id}"


@dataclass
class ChatRuntime:
    db: Database
    clock: Clock
    settings: Settings
    hub: LocalHub
    #: Seconds a subscriber may be gone (a page reload) before their unanswered chat turns
    #: async; tests set 0.
    leave_grace_s: float = 10.0
    #: Seconds between checks for chats waiting longer than ``chat_answer_timeout_s``.
    sweep_every_s: float = 15.0
    present: Counter[int] = field(default_factory=Counter)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def on_interaction(self, event: InteractionAdded) -> None:
        """Domain event (after commit, any thread): tell the sockets concerned."""
        note = {
            "type": "interaction",
            "case_id": event.case_id,
            "interaction_id": event.interaction_id,
            "channel": event.channel,
            "direction": event.direction,
        }
        self.hub.publish(case_topic(event.case_id), note)
        if event.subscriber_id is not None and event.direction != "internal":
            self.hub.publish(subscriber_topic(event.subscriber_id), note)
        chat = event.channel in conversation.CHAT_CHANNELS
        if chat and event.direction == "inbound" and event.author_kind == "subscriber":
            self.hub.publish(
                AGENTS,
                {
                    "type": "chat_message",
                    "case_id": event.case_id,
                    "subscriber_id": event.subscriber_id,
                    "interaction_id": event.interaction_id,
                },
            )

    def on_bot_turn(self, event: BotTurnAdded) -> None:
        """Domain event (after commit): a bot turn for the subscriber's open chat pages."""
        self.hub.publish(
            subscriber_topic(event.subscriber_id),
            {
                "type": "bot_turn",
                "turn_id": event.turn_id,
                "conversation_id": event.conversation_id,
            },
        )

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def sweep_now(self) -> list[int]:
        """Turn async the chats that waited too long (blocking: call from a thread)."""
        with self.db.transaction() as session:
            return conversation.sweep(
                session, now=self.clock.now(), wait_s=self.settings.chat_answer_timeout_s
            )

    async def _sweeper(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_every_s)
            try:
                changed = await asyncio.to_thread(self.sweep_now)
                if changed:
                    log.info("chats turned async (no agent answered): %s", changed)
            except Exception:
                log.exception("chat fallback sweep failed")

    def left(self, subscriber_id: int, case_id: int | None) -> None:
        """A subscriber's socket closed: if none of theirs is back within the grace time and
        their last message is unanswered, the chat turns async."""
        self.present[subscriber_id] -= 1
        if self.present[subscriber_id] <= 0:
            del self.present[subscriber_id]
        if case_id is not None:
            self.spawn(self._after_leaving(subscriber_id, case_id))

    async def _after_leaving(self, subscriber_id: int, case_id: int) -> None:
        await asyncio.sleep(self.leave_grace_s)
        if self.present[subscriber_id] > 0:
            return

        def check() -> bool:
            with self.db.transaction() as session:
                if not conversation.unanswered(session, case_id):
                    return False
                return conversation.fall_back(
                    session, case_id, now=self.clock.now(), reason="subscriber left"
                )

        try:
            await asyncio.to_thread(check)
        except Exception:
            log.exception("chat fallback after the subscriber left failed (case %s)", case_id)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.hub.close()


async def runtime_for(state: Any) -> ChatRuntime:
    """The application's runtime (``app.state``), made on first use on the running loop."""
    existing: ChatRuntime | None = getattr(state, "chat", None)
    if existing is not None:
        return existing
    loop = asyncio.get_running_loop()
    settings: Settings = state.settings
    hub = make_hub(loop, settings.chat_broker_url)
    runtime = ChatRuntime(db=state.db, clock=state.clock, settings=settings, hub=hub)
    state.chat = runtime  # before any await: later callers on this loop reuse it
    await hub.start()
    state.db.bus.subscribe(InteractionAdded, runtime.on_interaction)
    state.db.bus.subscribe(BotTurnAdded, runtime.on_bot_turn)
    runtime.spawn(runtime._sweeper())
    return runtime
