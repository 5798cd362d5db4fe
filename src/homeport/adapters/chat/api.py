"""The chat WebSockets (protocol in ``docs/support.md``, "Chat").

- ``/ws/chat``: a signed-in subscriber's chat (the portal's chat page). The chatbot answers
  first (:mod:`homeport.selfservice.bot`); once it hands over, or while the subscriber has a
  live chat case, messages go to the case and a person answers.
- ``/ws/agent/cases/{case_id}``: an agent on one case: its history, new messages, replies.
- ``/ws/agent/queue``: an agent's notices: a new chat waiting, a chat message, a screen pop.

Sockets authenticate with the browser session cookie (a subscriber for the first, staff in an
agent role for the others) and must come from an allowed ``Origin``, so that another site
cannot open one with the visitor's cookie (cross-site WebSocket hijacking). A refused socket is
closed before it is accepted (the browser sees HTTP 403): 4401 not signed in, 4403 wrong origin
or role, 4404 no such case.

Every message a socket sends is committed before the sender's ``ack``; the other side hears of
it from the domain event ``InteractionAdded`` (after the commit) through the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from homeport.adapters.chat import conversation
from homeport.adapters.chat.hub import Subscription
from homeport.adapters.chat.runtime import (
    AGENTS,
    ChatRuntime,
    agent_topic,
    case_topic,
    runtime_for,
    subscriber_topic,
)
from homeport.core.errors import HomeportError
from homeport.identity.api import session_principal
from homeport.identity.schemas import Principal
from homeport.selfservice import bot
from homeport.support.models import Case
from homeport.support.routing import AGENT_ROLES

log = logging.getLogger(__name__)

UNAUTHENTICATED, FORBIDDEN, NOT_FOUND = 4401, 4403, 4404
#: Largest frame a client may send (a chat message is at most 4,000 characters).
MAX_FRAME = 32 * 1024
#: Messages one socket may send per :data:`RATE_WINDOW_S` seconds; more are refused.
RATE_LIMIT = 20
RATE_WINDOW_S = 10.0
#: An open socket checks this often that its user is still active (and before each message).
REVALIDATE_S = 60.0
STAFF_ROLES = (*AGENT_ROLES, "admin")


def allowed_origins(ws: WebSocket) -> set[str]:
    """The server's own origin (from the Host the browser used), the public URL's, and those
    configured in ``chat_allowed_origins``."""
    settings = ws.app.state.settings
    scheme = "https" if ws.url.scheme in ("wss", "https") else "http"
    host = ws.headers.get("host", "")
    found = {f"{scheme}://{host}".lower()} if host else set()
    public = urlsplit(settings.public_url)
    if public.scheme and public.netloc:
        found.add(f"{public.scheme}://{public.netloc}".lower())
    found.update(o.rstrip("/").lower() for o in settings.chat_allowed_origins)
    return found


def origin_ok(ws: WebSocket) -> bool:
    origin = ws.headers.get("origin", "").rstrip("/").lower()
    return bool(origin) and origin in allowed_origins(ws)


def _principal(ws: WebSocket) -> Principal | None:
    return session_principal(ws.app.state.db, ws.scope.get("session") or {})


async def _authenticate(ws: WebSocket, kind: str) -> Principal | None:
    """The socket's principal, or None after closing it with the reason."""
    if not origin_ok(ws):
        log.warning("chat socket refused: origin %r", ws.headers.get("origin"))
        await ws.close(FORBIDDEN)
        return None
    principal = await asyncio.to_thread(_principal, ws)
    if principal is None:
        await ws.close(UNAUTHENTICATED)
        return None
    if principal.kind != kind or (kind == "staff" and principal.role not in STAFF_ROLES):
        await ws.close(FORBIDDEN)
        return None
    return principal


class Connection:
    """One accepted socket: sends are serialised; what it sent itself is not echoed back."""

    def __init__(
        self, ws: WebSocket, runtime: ChatRuntime, sub: Subscription, principal: Principal
    ) -> None:
        self.ws = ws
        self.runtime = runtime
        self.sub = sub
        self.principal = principal
        self.lock = asyncio.Lock()
        #: Held while this socket saves a message and acknowledges it: the echo of that message
        #: through the hub waits, then is recognised as this socket's own and dropped.
        self.saving = asyncio.Lock()
        #: Interactions this socket saved: acknowledged, not echoed (the client also drops a
        #: message whose id it has, for the echo that outruns the ack).
        self.own: set[int | str] = set()
        self.recent: deque[float] = deque()

    async def send(self, data: dict[str, Any]) -> None:
        async with self.lock:
            await self.ws.send_text(json.dumps(data, separators=(",", ":")))

    async def pump(
        self, render: Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]
    ) -> None:
        """Forward hub messages (rendered) until cancelled or too slow."""
        while True:
            _topic, note = await self.sub.get()
            if self.sub.overflowed:
                await self.ws.close(1013)
                return
            async with self.saving:
                out = await render(note)
            if out is not None:
                await self.send(out)

    async def still_signed_in(self) -> bool:
        """Whether the socket's user is still an active account (staff deactivated, or a
        subscriber's account closed, after the socket opened: it is closed)."""
        current = await asyncio.to_thread(_principal, self.ws)
        if current is not None and (current.kind, current.id) == (
            self.principal.kind,
            self.principal.id,
        ):
            return True
        with contextlib.suppress(Exception):
            await self.ws.close(UNAUTHENTICATED)
        return False

    async def watch(self) -> None:
        """Check the socket's user every :data:`REVALIDATE_S` seconds."""
        while await self.still_signed_in():
            await asyncio.sleep(REVALIDATE_S)

    async def run(
        self,
        handle: Callable[[dict[str, Any]], Awaitable[None]],
        render: Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]],
    ) -> None:
        loop = asyncio.get_running_loop()
        pump = loop.create_task(self.pump(render))
        watch = loop.create_task(self.watch())
        try:
            while True:
                text = await self.ws.receive_text()
                if len(text) > MAX_FRAME:
                    await self.send({"type": "error", "error": "message too large"})
                    continue
                try:
                    data = json.loads(text)
                except ValueError:
                    await self.send({"type": "error", "error": "not JSON"})
                    continue
                if not isinstance(data, dict):
                    await self.send({"type": "error", "error": "expected an object"})
                    continue
                if data.get("type") == "ping":
                    await self.send({"type": "pong"})
                    continue
                if not self.allowed():
                    await self.send(
                        {
                            "type": "error",
                            "client_id": data.get("client_id"),
                            "error": "too many messages: wait a few seconds and send again",
                        }
                    )
                    continue
                if not await self.still_signed_in():
                    return
                await handle(data)
        except WebSocketDisconnect:
            pass
        finally:
            for task in (pump, watch):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self.sub.close()

    def allowed(self) -> bool:
        """At most :data:`RATE_LIMIT` messages in any :data:`RATE_WINDOW_S` seconds."""
        now = time.monotonic()
        while self.recent and now - self.recent[0] > RATE_WINDOW_S:
            self.recent.popleft()
        if len(self.recent) >= RATE_LIMIT:
            return False
        self.recent.append(now)
        return True

    async def save_and_ack(
        self, client_id: str, save: Callable[[], conversation.Said | bot.Exchange]
    ) -> conversation.Said | bot.Exchange | None:
        """Run ``save`` (one transaction) in a thread, then acknowledge: the ack is sent only
        once the transaction has committed. A failure is answered with an error frame. The
        bot's answers follow the ack."""
        async with self.saving:
            try:
                said = await asyncio.to_thread(save)
            except Exception as exc:
                await self.send(_error(client_id, exc))
                return None
            if isinstance(said, bot.Exchange):
                out = said.said.to_json()
                replies = [t.to_json() for t in said.replies]
                self.own.update([out["id"], *(r["id"] for r in replies)])
            else:
                out = said.message.to_json()
                replies = []
                self.own.add(said.message.id)
            await self.send(
                {"type": "ack", "client_id": client_id, "duplicate": said.duplicate, "message": out}
            )
            for reply in replies:
                await self.send({"type": "message", "message": reply})
            return said

    def message_out(self, message: conversation.ChatMessage) -> dict[str, Any] | None:
        if message.id in self.own:
            return None
        return {"type": "message", "message": message.to_json()}


def _error(client_id: object, exc: Exception) -> dict[str, Any]:
    text = exc.message if isinstance(exc, HomeportError) else "could not save the message"
    return {"type": "error", "client_id": client_id, "error": text}


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


async def subscriber_socket(ws: WebSocket) -> None:
    principal = await _authenticate(ws, "subscriber")
    if principal is None or principal.subscriber_id is None:
        if principal is not None:
            await ws.close(FORBIDDEN)
        return
    subscriber_id = principal.subscriber_id
    runtime = await runtime_for(ws.app.state)
    db = runtime.db
    bots = runtime.settings.chatbot

    def load() -> dict[str, Any]:
        with db.session() as s:
            case = conversation.current_case(s, subscriber_id)
            if case is None:
                talk = (
                    bot.open_conversation(s, subscriber_id, now=runtime.clock.now())
                    if bots
                    else None
                )
                return {
                    "type": "history",
                    "case_id": None,
                    "conversation": f"bot-{talk.id}" if talk else None,
                    "mode": "bot" if bots else "live",
                    "greeting": bot.GREETING if bots else "",
                    "messages": [t.to_json() for t in bot.turns(s, talk.id)] if talk else [],
                }
            return {
                "type": "history",
                "case_id": case.id,
                "conversation": conversation.conversation_of(s, case),
                "mode": "async" if conversation.is_async(s, case.id) else "live",
                "messages": [m.to_json() for m in conversation.history(s, case, staff=False)],
            }

    await ws.accept()
    sub = runtime.hub.subscribe([subscriber_topic(subscriber_id)])
    conn = Connection(ws, runtime, sub, principal)
    runtime.present[subscriber_id] += 1
    state: dict[str, int | None] = {"case_id": None}
    try:
        first = await asyncio.to_thread(load)
        state["case_id"] = first["case_id"]
        await conn.send(first)

        async def render(note: dict[str, Any]) -> dict[str, Any] | None:
            if note.get("type") == "bot_turn":
                return await bot_turn(note)
            if note.get("type") != "interaction":
                return None

            def read() -> conversation.ChatMessage | None:
                with db.session() as s:
                    return conversation.message(
                        s, int(note["interaction_id"]), subscriber_id=subscriber_id
                    )

            message = await asyncio.to_thread(read)
            if message is None or message.internal:
                return None
            state["case_id"] = message.case_id
            return conn.message_out(message)

        async def bot_turn(note: dict[str, Any]) -> dict[str, Any] | None:
            """A bot turn written elsewhere (a fix's follow-up): shown unless this socket
            already sent it."""
            if f"bot-{note.get('turn_id')}" in conn.own:
                return None

            def read() -> bot.Turn | None:
                with db.session() as s:
                    return bot.turn(s, int(note["turn_id"]), subscriber_id=subscriber_id)

            turn = await asyncio.to_thread(read)
            return {"type": "message", "message": turn.to_json()} if turn else None

        async def handle(data: dict[str, Any]) -> None:
            if data.get("type") != "message":
                await conn.send({"type": "error", "error": "unknown message type"})
                return
            client_id = _text(data, "client_id")

            def save() -> conversation.Said | bot.Exchange:
                with db.transaction() as s:
                    if bots and conversation.current_case(s, subscriber_id) is None:
                        return bot.converse(
                            s,
                            subscriber_id=subscriber_id,
                            body=_text(data, "body"),
                            client_id=client_id,
                            now=runtime.clock.now(),
                            zone=runtime.settings.zone,
                        )
                    return conversation.subscriber_says(
                        s,
                        subscriber_id=subscriber_id,
                        account_id=principal.id,
                        body=_text(data, "body"),
                        client_id=client_id,
                        now=runtime.clock.now(),
                    )

            said = await conn.save_and_ack(client_id, save)
            if said is None:
                return
            if isinstance(said, bot.Exchange):
                if said.case_id is not None:
                    state["case_id"] = said.case_id
                    await conn.send({"type": "handover", "case_id": said.case_id})
                    runtime.hub.publish(
                        AGENTS,
                        {
                            "type": "chat_waiting",
                            "case_id": said.case_id,
                            "subscriber_id": subscriber_id,
                            "at": said.said.at.isoformat(),
                        },
                    )
                return
            state["case_id"] = said.message.case_id
            if said.opened:
                runtime.hub.publish(
                    AGENTS,
                    {
                        "type": "chat_waiting",
                        "case_id": said.message.case_id,
                        "subscriber_id": subscriber_id,
                        "at": said.message.at.isoformat(),
                    },
                )

        await conn.run(handle, render)
    finally:
        sub.close()
        runtime.left(subscriber_id, state["case_id"])


async def agent_case_socket(ws: WebSocket) -> None:
    principal = await _authenticate(ws, "staff")
    if principal is None:
        return
    case_id = int(ws.path_params["case_id"])
    runtime = await runtime_for(ws.app.state)
    db = runtime.db

    def load() -> dict[str, Any] | None:
        with db.session() as s:
            case = s.get(Case, case_id)
            if case is None:
                return None
            chat = case.channel in conversation.CASE_CHANNELS
            return {
                "type": "history",
                "case_id": case.id,
                "chat": chat,
                "conversation": conversation.conversation_of(s, case) if chat else None,
                "mode": "async" if conversation.is_async(s, case.id) else "live",
                "subscriber_id": case.subscriber_id,
                "messages": [m.to_json() for m in conversation.history(s, case, staff=True)],
            }

    first = await asyncio.to_thread(load)
    if first is None:
        await ws.close(NOT_FOUND)
        return
    await ws.accept()
    sub = runtime.hub.subscribe([case_topic(case_id)])
    conn = Connection(ws, runtime, sub, principal)
    await conn.send(first)

    async def render(note: dict[str, Any]) -> dict[str, Any] | None:
        if note.get("type") != "interaction":
            return None

        def read() -> conversation.ChatMessage | None:
            with db.session() as s:
                return conversation.message(s, int(note["interaction_id"]), case_id=case_id)

        message = await asyncio.to_thread(read)
        return conn.message_out(message) if message is not None else None

    async def handle(data: dict[str, Any]) -> None:
        if data.get("type") not in ("message", "note"):
            await conn.send({"type": "error", "error": "unknown message type"})
            return
        client_id = _text(data, "client_id")

        def save() -> conversation.Said:
            with db.transaction() as s:
                return conversation.agent_says(
                    s,
                    case_id=case_id,
                    staff_id=principal.id,
                    body=_text(data, "body"),
                    client_id=client_id,
                    now=runtime.clock.now(),
                    public_url=runtime.settings.public_url,
                    internal=data.get("type") == "note",
                )

        await conn.save_and_ack(client_id, save)

    await conn.run(handle, render)


async def agent_queue_socket(ws: WebSocket) -> None:
    principal = await _authenticate(ws, "staff")
    if principal is None:
        return
    runtime = await runtime_for(ws.app.state)
    await ws.accept()
    sub = runtime.hub.subscribe([AGENTS, agent_topic(principal.id)])
    conn = Connection(ws, runtime, sub, principal)
    await conn.send({"type": "hello", "staff_id": principal.id})

    async def render(note: dict[str, Any]) -> dict[str, Any] | None:
        return note if note.get("type") in ("chat_waiting", "chat_message", "screen_pop") else None

    async def handle(_data: dict[str, Any]) -> None:
        await conn.send({"type": "error", "error": "this socket only listens"})

    await conn.run(handle, render)


router = APIRouter()
router.routes.extend(
    [
        WebSocketRoute("/ws/chat", subscriber_socket),
        WebSocketRoute("/ws/agent/cases/{case_id:int}", agent_case_socket),
        WebSocketRoute("/ws/agent/queue", agent_queue_socket),
    ]
)
