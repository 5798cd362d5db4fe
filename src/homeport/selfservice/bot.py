"""The chatbot: the first answer in the portal's chat, a channel of the support desk.

One :class:`~homeport.selfservice.models.BotConversation` per conversation. Each subscriber
message is classified (:mod:`homeport.selfservice.intents`); for a technical intent the bot
reads the home's live state (:func:`homeport.selfservice.diagnostics.diagnose`), explains what it
sees in plain words, proposes the fix and runs it only after the subscriber says yes (a remote
action of :mod:`homeport.health.remote`, requested by ``subscriber:<id>``), then checks that it
worked: the action's result and the finding resolving arrive as events
(:func:`on_action_finished`, :func:`on_finding_resolved`) and the bot says so in the chat.
How-to questions are answered from the knowledge base (:func:`homeport.selfservice.kb.search`).

**Hand-over.** When the subscriber asks for a person, says the fix did not help, wants to cancel
(the retention queue), or the bot cannot help, the conversation becomes a support case in
channel ``chatbot``: every turn is copied as an interaction (one conversation id, so it counts
as one contact), with an internal note of the intent, its confidence, the diagnostics and any
action run. The chat then goes on with a person on that case
(:mod:`homeport.adapters.chat.conversation`).

**Outcomes and containment.** A conversation ends ``handed_over``; or, idle for
:data:`IDLE_AFTER`, ``contained`` when the bot answered or fixed something and ``abandoned``
when it never did (:func:`close_idle`, a worker task). Containment
(:func:`containment`) counts the contained conversations with no repeat contact within
:data:`REPEAT_WINDOW`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.db import Database
from homeport.core.errors import Conflict, HomeportError, NotFound, ValidationFailed
from homeport.core.events import Event, publish
from homeport.core.writes import chunks
from homeport.health import remote
from homeport.health.events import FindingResolved
from homeport.health.models import DeviceAction, Finding
from homeport.health.service import subscriber_gateway
from homeport.network.models import Home
from homeport.selfservice import diagnostics, intents, kb
from homeport.selfservice.actions import record_engagement
from homeport.selfservice.diagnostics import Diagnosis, Fix, Problem
from homeport.selfservice.models import BotConversation, BotTurn
from homeport.subscribers.models import Plan, Subscriber
from homeport.support import actions as support
from homeport.support.models import Case

#: Channel of the cases the bot hands over.
CHANNEL = "chatbot"
#: A conversation idle this long is over (contained or abandoned).
IDLE_AFTER = timedelta(minutes=30)
#: A contact within this window after a contained conversation means it was not contained.
REPEAT_WINDOW = timedelta(days=7)
#: Below this confidence the bot asks the subscriber to say it differently.
MIN_CONFIDENCE = intents.SUGGESTED_THRESHOLD
#: Misunderstood messages in a row before the bot offers a person.
MAX_MISSES = 2
#: Client ids remembered per conversation to recognise a resent message.
KEEP_CLIENT_IDS = 50

#: Case category for each intent (the desk's queues route on it, support/defaults.py).
CATEGORIES = {
    "no_connection": "no_internet",
    "outage_status": "no_internet",
    "slow_internet": "slow_speed",
    "wifi_coverage": "wifi",
    "device_cannot_connect": "equipment",
    "billing": "billing",
    "moving": "moving",
    "cancel_service": "cancel_service",
}
TECHNICAL = ("no_connection", "slow_internet", "wifi_coverage", "device_cannot_connect")
#: What each intent is about, for the case subject.
TOPICS = {
    "no_connection": "no connection",
    "slow_internet": "slow internet",
    "wifi_coverage": "Wi-Fi coverage",
    "device_cannot_connect": "a device cannot connect",
    "outage_status": "outage status",
    "billing": "billing",
    "moving": "moving home",
    "cancel_service": "cancelling the service",
    "human_agent": "asked for a person",
    "other": "other",
}
GREETING = (
    "Hi, I'm the Homeport assistant. I can check your connection and Wi-Fi, fix common "
    "problems and answer questions. What can I help you with? (You can ask for a person at "
    "any time.)"
)

_YES = re.compile(
    r"^\s*(y|ya|yes+|yeah|yep|yup|ok(ay)?|sure|please|pls|go( ahead)?|do it|go for it|"
    r"fine|alright|all right|sounds good|it works|it did|works now|fixed|that worked)\b",
    re.I,
)
_NO = re.compile(r"^\s*(n|no+|nope|nah|not|don'?t|didn'?t|still|never ?mind|it doesn'?t)\b", re.I)


def answer_of(text: str) -> str | None:
    """``"yes"``, ``"no"`` or None for a subscriber's short answer."""
    if _NO.match(text):
        return "no"
    if _YES.match(text):
        return "yes"
    return None


@dataclass(frozen=True)
class BotTurnAdded(Event):
    """A turn was stored (the chat pushes it to the subscriber's open pages)."""

    conversation_id: int
    subscriber_id: int
    turn_id: int


@dataclass(frozen=True)
class Turn:
    """One message of a bot conversation as the chat shows it."""

    id: int
    conversation_id: int
    author: str
    body: str
    at: datetime
    meta: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": f"bot-{self.id}",
            "case_id": None,
            "conversation": f"bot-{self.conversation_id}",
            "author": self.author,
            "author_name": "Assistant" if self.author == "bot" else "",
            "body": self.body,
            "at": self.at.isoformat(),
            "channel": CHANNEL,
            "internal": False,
            "event": str(self.meta.get("event") or ""),
            "links": self.meta.get("links") or [],
        }

    @classmethod
    def of(cls, row: BotTurn) -> Turn:
        return cls(row.id, row.conversation_id, row.author, row.body, row.at, dict(row.meta or {}))


@dataclass(frozen=True)
class Exchange:
    """What one subscriber message produced."""

    conversation_id: int
    said: Turn
    replies: list[Turn]
    #: The case the conversation was handed over to by this message.
    case_id: int | None = None
    duplicate: bool = False


def open_conversation(
    session: Session, subscriber_id: int, *, now: datetime
) -> BotConversation | None:
    """The subscriber's conversation still going (``open`` and not idle), if any."""
    return session.scalars(
        select(BotConversation)
        .where(
            BotConversation.subscriber_id == subscriber_id,
            BotConversation.outcome == "open",
            BotConversation.last_at > now - IDLE_AFTER,
        )
        .order_by(BotConversation.started_at.desc(), BotConversation.id.desc())
        .limit(1)
    ).first()


def awaiting(session: Session, conversation_id: int) -> str | None:
    """The answer the bot waits for in the conversation (``consent``, ``handover_offer``,
    ``verify``, ``confirm_fixed``), if any."""
    conv = session.get(BotConversation, conversation_id)
    return str((conv.state or {}).get("awaiting") or "") or None if conv else None


def turns(session: Session, conversation_id: int) -> list[Turn]:
    rows = session.scalars(
        select(BotTurn).where(BotTurn.conversation_id == conversation_id).order_by(BotTurn.id)
    )
    return [Turn.of(r) for r in rows]


def turn(session: Session, turn_id: int, *, subscriber_id: int) -> Turn | None:
    """One turn, only if it belongs to a conversation of ``subscriber_id``."""
    row = session.execute(
        select(BotTurn)
        .join(BotConversation, BotConversation.id == BotTurn.conversation_id)
        .where(BotTurn.id == turn_id, BotConversation.subscriber_id == subscriber_id)
    ).scalar_one_or_none()
    return Turn.of(row) if row is not None else None


class _Talk:
    """One message's work on a conversation: the turns it adds and the state it leaves."""

    def __init__(
        self, session: Session, conv: BotConversation, now: datetime, zone: tzinfo
    ) -> None:
        self.session = session
        self.conv = conv
        self.now = now
        #: The BSP's time zone: every time the bot writes is in it (``Settings.timezone``).
        self.zone = zone
        self.state: dict[str, Any] = dict(conv.state or {})
        self.replies: list[Turn] = []
        self.case_id: int | None = None

    def add(self, author: str, body: str, meta: dict[str, Any] | None = None) -> Turn:
        row = BotTurn(
            conversation_id=self.conv.id, at=self.now, author=author, body=body, meta=meta or {}
        )
        self.session.add(row)
        self.session.flush()
        publish(self.session, BotTurnAdded(self.conv.id, self.conv.subscriber_id, row.id))
        return Turn.of(row)

    def say(self, body: str, **meta: Any) -> None:
        self.replies.append(self.add("bot", body, meta))

    def save(self) -> None:
        self.conv.state = self.state
        self.conv.last_at = self.now

    # --- the conversation ------------------------------------------------------------------

    def respond(self, text: str) -> None:
        awaiting = self.state.pop("awaiting", None)
        if awaiting:
            handled = self.answer(awaiting, text)
            if handled:
                return
        prediction = intents.classify(text[: intents.MAX_TEXT_CHARS])
        if prediction.confidence < MIN_CONFIDENCE:
            self.misunderstood(text)
            return
        self.state["misses"] = 0
        intent = prediction.intent
        if self.conv.intent is None or intent not in ("other", "human_agent"):
            self.conv.intent = intent
            self.conv.confidence = round(prediction.confidence, 3)
        self.state.setdefault("intents", []).append(intent)
        if intent == "human_agent":
            self.hand_over("you asked for a person")
        elif intent == "cancel_service":
            self.say(
                "I'm sorry to hear you're thinking of leaving. I'll put you through to our "
                "customer team, who can look at your options with you."
            )
            self.hand_over("cancellation request")
        elif intent in TECHNICAL:
            self.troubleshoot(intent)
        elif intent == "outage_status":
            self.outage_status()
        else:
            self.from_articles(text, intent)

    def answer(self, awaiting: str, text: str) -> bool:
        """Handle the subscriber's answer to the bot's question; False: not an answer."""
        said = answer_of(text)
        if awaiting == "consent":
            if said == "yes":
                self.run_fix()
                return True
            if said == "no":
                self.state.pop("proposal", None)
                self.offer_person("OK, I won't change anything.")
                return True
        elif awaiting == "confirm_fixed":
            if said == "yes":
                self.state["answered"] = True
                self.say("Great, glad it's sorted. You can close this chat any time.")
                self.end("contained")
                return True
            if said == "no":
                self.hand_over("the fix did not help")
                return True
        elif awaiting == "handover_offer":
            if said == "yes":
                self.hand_over("the subscriber asked for a person")
                return True
            if said == "no":
                self.say("OK. Is there anything else I can help with?")
                return True
        elif awaiting == "verify":
            self.state["awaiting"] = "verify"
            if said == "no" or _NO.search(text):
                self.hand_over("the fix did not help")
                return True
            self.check_fix(asked=True)
            return True
        # Not an answer: keep waiting for it only if the new message is not a new question.
        return False

    def misunderstood(self, text: str, hits: list[kb.Hit] | None = None) -> None:
        """``hits``: the articles already searched for ``text``, if any."""
        misses = int(self.state.get("misses", 0)) + 1
        self.state["misses"] = misses
        if hits is None:
            hits = self.articles(text)
        if hits:
            self.answer_with(hits)
            return
        if misses >= MAX_MISSES:
            self.offer_person("Sorry, I'm not getting it.")
            return
        self.say(
            "Sorry, I didn't quite understand. Could you say it another way? For example: "
            '"my internet is slow", "the Wi-Fi doesn\'t reach upstairs", "is there an outage?"'
        )

    def offer_person(self, lead: str) -> None:
        self.state["awaiting"] = "handover_offer"
        self.say(f"{lead} Would you like me to pass this to a person? (yes / no)")

    def diagnose(self) -> Diagnosis:
        found = diagnostics.diagnose(self.session, self.conv.subscriber_id, now=self.now)
        self.state["diagnostics"] = found.summary()
        return found

    def troubleshoot(self, intent: str) -> None:
        found = self.diagnose()
        meta = {"event": "diagnostics", "diagnostics": found.summary(), "intent": intent}
        if found.device_id is None:
            self.say(
                "I can't see any equipment of ours on your account, so I can't check it.", **meta
            )
            self.hand_over("no equipment on record")
            return
        if found.outage_id is not None:
            self.say(self.outage_text(found), **meta)
            self.state["answered"] = True
            self.state["awaiting"] = "handover_offer"
            self.say("Is there anything else? If you'd like to talk to a person, say yes.")
            return
        if not found.in_touch:
            self.say(
                "Your gateway hasn't been in touch with us since "
                f"{_when(found.last_report_at, self.zone)}. Please check that it is switched on "
                "and that the cable from the wall (fibre or phone line) is firmly plugged in, "
                "then switch it off and on again. It takes about two minutes to come back.",
                **meta,
            )
            self.state["awaiting"] = "confirm_fixed"
            self.state["answered"] = True
            self.say("Did that bring your connection back? (yes / no)")
            return
        problems = found.for_intent(intent)
        if problems:
            self.explain(problems, meta)
            return
        self.nothing_found(intent, found, meta)

    def explain(self, problems: list[Problem], meta: dict[str, Any]) -> None:
        first = problems[0]
        lines = ["I've checked your home network. Here's what I see:"]
        lines += [f"• {p.plain}" for p in problems[:3]]
        self.say("\n".join(lines), **meta)
        fixable = next((p for p in problems if p.fix is not None), None)
        if fixable is not None and fixable.fix is not None:
            self.propose(fixable.fix, fixable)
            return
        hits = self.articles(f"{first.title} {first.plain}")
        if hits:
            self.answer_with(hits, lead="This article explains what you can do:")
        self.offer_person("This needs a change I can't make from here.")

    def nothing_found(self, intent: str, found: Diagnosis, meta: dict[str, Any]) -> None:
        if intent == "slow_internet":
            self.say(
                "I can't see a problem on your line right now"
                + (
                    f": the last measurement was {found.down_mbps:.0f} Mbps on a "
                    f"{found.plan_down_mbps} Mbps plan."
                    if found.down_mbps is not None and found.plan_down_mbps
                    else "."
                ),
                **meta,
            )
            self.propose(Fix("speed_test", {}, None), None)
            return
        self.say(
            "I've checked your gateway and Wi-Fi and I can't see a problem right now: your "
            "connection is up and no device is struggling.",
            **meta,
        )
        hits = self.articles(TOPICS[intent])
        if hits:
            self.answer_with(hits, lead="These tips often help:")
        self.offer_person("If it's still not working for you,")

    def propose(self, fix: Fix, problem: Problem | None) -> None:
        self.state["proposal"] = {
            "kind": fix.kind,
            "params": fix.params,
            "finding_id": fix.finding_id,
            "finding_kind": problem.kind if problem else None,
        }
        self.state["awaiting"] = "consent"
        self.say(f"{fix.offer} Shall I go ahead? (yes / no)", event="proposal", fix=fix.kind)

    def run_fix(self) -> None:
        proposal = self.state.pop("proposal", None)
        if not proposal:
            self.say("Sorry, I've lost track of what I proposed. What's the problem?")
            return
        fix = Fix(str(proposal["kind"]), dict(proposal["params"]), proposal.get("finding_id"))
        try:
            home_id, device_id = subscriber_gateway(self.session, self.conv.subscriber_id)
            action = remote.queue_action(
                self.session,
                home_id=home_id,
                device_id=device_id,
                kind=fix.kind,
                params=fix.params,
                requested_by=f"subscriber:{self.conv.subscriber_id}",
                finding_id=fix.finding_id,
                now=self.now,
            )
        except (Conflict, NotFound, ValidationFailed) as exc:
            self.offer_person(f"I couldn't do that: {exc.message}.")
            return
        self.state["action"] = {
            "id": action.id,
            "kind": fix.kind,
            "finding_id": fix.finding_id,
            "finding_kind": proposal.get("finding_kind"),
        }
        self.state["answered"] = True
        self.state["awaiting"] = "verify"
        record_engagement(
            self.session,
            self.conv.subscriber_id,
            "bot_fix",
            at=self.now,
            channel="bot",
            detail={"action_id": action.id, "kind": fix.kind, "conversation": self.conv.id},
        )
        self.say(
            f"{fix.started} I'll check that it worked and tell you here.",
            event="action",
            action_id=action.id,
            kind=fix.kind,
        )

    def check_fix(self, *, asked: bool) -> None:
        """Say where the fix stands (after an event, or when the subscriber asks)."""
        info = self.state.get("action") or {}
        action = self.session.get(DeviceAction, int(info.get("id") or 0))
        if action is None:
            self.state.pop("awaiting", None)
            return
        finding = (
            self.session.get(Finding, int(info["finding_id"])) if info.get("finding_id") else None
        )
        if action.status in ("queued", "sent"):
            if asked:
                self.say(
                    "Your gateway hasn't confirmed the change yet. "
                    "I'll tell you as soon as it does."
                )
            return
        if action.status != "done":
            self.state.pop("awaiting", None)
            self.hand_over(f"the {action.kind} action ended {action.status}")
            return
        if info.get("kind") == "speed_test":
            self.state["awaiting"] = "confirm_fixed"
            self.say(_speed_text(self.session, self.conv.subscriber_id, action), event="verified")
            return
        if finding is not None and finding.status == "resolved":
            self.state["awaiting"] = "confirm_fixed"
            self.say(
                "It worked: the problem is gone from your home network. Is everything OK "
                "now? (yes / no)",
                event="verified",
            )
            return
        if info.get("announced"):
            if asked:
                self.say(
                    "The change is made; I'm still waiting for your next measurements to "
                    "confirm the problem has cleared."
                )
            return
        info["announced"] = True
        self.state["action"] = info
        self.say(
            "Your gateway has made the change. I'm watching the next few measurements to "
            "make sure the problem has cleared.",
            event="action_done",
        )

    def outage_status(self) -> None:
        found = self.diagnose()
        meta = {"event": "diagnostics", "diagnostics": found.summary(), "intent": "outage_status"}
        self.state["answered"] = True
        if found.outage_id is not None:
            self.say(self.outage_text(found), **meta)
        elif found.online:
            self.say(
                "There's no outage in your area right now, and your connection is up. "
                "If something isn't working, tell me what and I'll check it.",
                **meta,
            )
        else:
            self.say(
                "There's no outage in your area, but your gateway isn't in touch with us. "
                "Please check it's switched on and the cable from the wall is plugged in, "
                "then restart it.",
                **meta,
            )
            self.state["awaiting"] = "confirm_fixed"
            self.say("Did that bring your connection back? (yes / no)")

    def outage_text(self, found: Diagnosis) -> str:
        eta = (
            f" We expect it to be fixed by {_when(found.outage_eta, self.zone)}."
            if found.outage_eta
            else " Our engineers are on it; we'll let you know when it's fixed."
        )
        return (
            "There's a network fault in your area that affects your connection. You don't "
            "need to do anything: it will come back on its own once it's repaired." + eta
        )

    def articles(self, text: str) -> list[kb.Hit]:
        try:
            return kb.search(self.session, text, limit=2)
        except HomeportError:
            return []

    def answer_with(self, hits: list[kb.Hit], *, lead: str = "This might help:") -> None:
        self.state["answered"] = True
        best = hits[0]
        links = [{"title": h.article.title, "href": f"/portal/help/{h.article.slug}"} for h in hits]
        self.say(
            f"{lead} “{best.article.title}”. {best.snippet}",
            event="article",
            articles=[h.article.slug for h in hits],
            links=links,
        )
        record_engagement(
            self.session,
            self.conv.subscriber_id,
            "bot_article",
            at=self.now,
            channel="bot",
            detail={"slug": best.article.slug, "conversation": self.conv.id},
        )

    def from_articles(self, text: str, intent: str) -> None:
        hits = self.articles(text)
        if intent in ("billing", "moving"):
            if hits:
                self.answer_with(hits)
            self.offer_person(
                "For anything about your account I can also pass you to our customer team."
            )
            return
        if hits:
            self.answer_with(hits)
            self.say("Did that answer your question? If not, just ask me another way.")
            return
        self.misunderstood(text, hits)

    # --- hand-over -------------------------------------------------------------------------

    def hand_over(self, reason: str) -> None:
        self.case_id = hand_over(
            self.session, self.conv, now=self.now, zone=self.zone, reason=reason, talk=self
        )

    def end(self, outcome: str) -> None:
        self.conv.outcome = outcome
        self.conv.ended_at = self.now
        self.state.pop("awaiting", None)


def _when(at: datetime | None, zone: tzinfo) -> str:
    """``14:05 CET on 23 Nov``: the time in the BSP's zone, with the zone's abbreviation."""
    return at.astimezone(zone).strftime("%H:%M %Z on %d %b") if at else "a while ago"


def _speed_text(session: Session, subscriber_id: int, action: DeviceAction) -> str:
    result = action.result or {}
    down = result.get("down_mbps")
    target = session.scalar(
        select(Plan.down_mbps)
        .join(Subscriber, Subscriber.plan_id == Plan.id)
        .where(Subscriber.id == subscriber_id)
    )
    if isinstance(down, (int, float)):
        verdict = ""
        if target:
            verdict = (
                " That's what your plan should give, so the line is fine; slowness is likely "
                "on Wi-Fi or one device."
                if down >= 0.8 * target
                else " That's below what your plan should give."
            )
        text = f"The speed test on your gateway measured {down:.0f} Mbps download" + (
            f" on a {target} Mbps plan." if target else "."
        )
        return text + verdict + " Is everything OK now? (yes / no)"
    return "The speed test finished. Is everything OK now? (yes / no)"


def converse(
    session: Session,
    *,
    subscriber_id: int,
    body: str,
    client_id: str,
    now: datetime,
    zone: tzinfo,
) -> Exchange:
    """Store a subscriber's message to the bot and the bot's answers, in the caller's
    transaction. A message resent with the same ``client_id`` is recognised: nothing is
    written and the stored turn is returned. The bot writes times in ``zone``, the BSP's."""
    text = support.clean_chat_message(body, client_id)
    subscriber = session.scalars(
        select(Subscriber).where(Subscriber.id == subscriber_id).with_for_update(of=Subscriber)
    ).first()
    if subscriber is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    conv = open_conversation(session, subscriber_id, now=now)
    if conv is not None:
        seen = (conv.state or {}).get("client_ids") or {}
        if client_id in seen:
            turn = session.get(BotTurn, int(seen[client_id]))
            if turn is not None:
                return Exchange(conv.id, Turn.of(turn), [], duplicate=True)
    if conv is None:
        conv = BotConversation(
            subscriber_id=subscriber_id, started_at=now, last_at=now, outcome="open", state={}
        )
        session.add(conv)
        session.flush()
        record_engagement(
            session,
            subscriber_id,
            "bot_conversation",
            at=now,
            channel="bot",
            detail={"conversation": conv.id},
        )
    talk = _Talk(session, conv, now, zone)
    said = talk.add("subscriber", text, {"client_id": client_id})
    ids = dict(talk.state.get("client_ids") or {})
    ids[client_id] = said.id
    talk.state["client_ids"] = dict(list(ids.items())[-KEEP_CLIENT_IDS:])
    talk.respond(text)
    talk.save()
    return Exchange(conv.id, said, talk.replies, case_id=talk.case_id)


def hand_over(
    session: Session,
    conv: BotConversation,
    *,
    now: datetime,
    zone: tzinfo,
    reason: str,
    talk: _Talk | None = None,
) -> int:
    """Make the conversation a support case in channel ``chatbot`` with its transcript, intent
    and diagnostics; returns the case id. The bot tells the subscriber in the chat."""
    subscriber = session.get(Subscriber, conv.subscriber_id)
    if subscriber is None:
        raise NotFound(f"no subscriber {conv.subscriber_id}")
    own = talk or _Talk(session, conv, now, zone)
    intent = conv.intent or "other"
    own.say(
        "I'm passing our conversation to a person now. They'll see everything we've said "
        "and what I checked, so you won't have to repeat yourself. Please stay in this chat.",
        event="handover",
    )
    history = turns(session, conv.id)
    conversation = f"bot-{conv.id}"
    first_line = next((t.body for t in history if t.author == "subscriber"), "Chat")
    actor = Actor("system", None, "chatbot")
    items = [
        support.NewInteraction(
            channel=CHANNEL,
            direction="inbound" if t.author == "subscriber" else "outbound",
            author_kind="subscriber" if t.author == "subscriber" else "bot",
            body=t.body,
            address=subscriber.email if t.author == "subscriber" else "",
            external_id=f"bot:{conv.id}:{t.id}",
            meta={"conversation": conversation, "bot_turn": t.id},
            started_at=t.at,
        )
        for t in history
    ]
    priority = "high" if intent == "no_connection" else "normal"
    case = support.open_case(
        session,
        now=now,
        actor=actor,
        channel=CHANNEL,
        subject=f"Chatbot ({TOPICS.get(intent, intent)}): {first_line.splitlines()[0][:80]}",
        first=items[0] if items else None,
        subscriber_id=conv.subscriber_id,
        category=CATEGORIES.get(intent, "general"),
        priority=priority,
    )
    session.flush()
    for item in items[1:]:
        support.add_interaction(session, case.id, item, now=now, actor=actor)
    state = own.state
    support.add_note(
        session,
        case.id,
        _handover_note(conv, intent, reason, state),
        now=now,
        actor=actor,
        author_id=None,
        meta={"event": "bot_handover", "intent": intent, "diagnostics": state.get("diagnostics")},
    )
    if state.get("action", {}).get("id"):
        support.set_tags(session, case.id, ["chatbot", "bot-fix-tried"], now=now, actor=actor)
    else:
        support.set_tags(session, case.id, ["chatbot"], now=now, actor=actor)
    conv.case_id = case.id
    own.end("handed_over")
    record(
        session,
        at=now,
        actor=actor,
        action="bot.handed_over",
        entity_type="case",
        entity_id=case.id,
        conversation_id=conv.id,
        intent=intent,
        reason=reason,
    )
    return case.id


def _handover_note(conv: BotConversation, intent: str, reason: str, state: dict[str, Any]) -> str:
    lines = [
        f"Handed over by the chatbot: {reason}.",
        f"Intent: {intent}"
        + (f" (confidence {conv.confidence:.2f})" if conv.confidence is not None else ""),
    ]
    found = state.get("diagnostics") or {}
    if found:
        lines.append(
            "Diagnostics: gateway "
            + ("in touch" if found.get("in_touch") else "NOT in touch")
            + f", WAN {found.get('wan_status') or 'unknown'}"
            + (
                f", last measured {found['down_mbps']:.0f} of {found.get('plan_down_mbps')} Mbps"
                if isinstance(found.get("down_mbps"), (int, float))
                else ""
            )
            + (f", area outage #{found['outage_id']}" if found.get("outage_id") else "")
        )
        kinds = [f["kind"] for f in found.get("findings") or []]
        lines.append("Open findings: " + (", ".join(kinds) if kinds else "none"))
    action = state.get("action") or {}
    if action:
        lines.append(f"Bot ran: {action.get('kind')} (action #{action.get('id')}).")
    return "\n".join(lines)


def _follow_up(session: Session, conv: BotConversation, now: datetime, zone: tzinfo) -> None:
    talk = _Talk(session, conv, now, zone)
    if talk.state.get("awaiting") != "verify":
        return
    talk.check_fix(asked=False)
    talk.save()


def on_action_finished(session: Session, action_id: int, zone: tzinfo) -> None:
    """A remote action the bot ran has a result: tell the subscriber."""
    action = session.get(DeviceAction, action_id)
    if action is None or not action.requested_by.startswith("subscriber:"):
        return
    now = action.completed_at or action.created_at
    subscriber_id = int(action.requested_by.partition(":")[2])
    conv = open_conversation(session, subscriber_id, now=now)
    if conv is None or ((conv.state or {}).get("action") or {}).get("id") != action_id:
        return
    _follow_up(session, conv, now, zone)


def on_finding_resolved(session: Session, finding_id: int, zone: tzinfo) -> None:
    """A finding the bot tried to fix resolved: tell the subscriber it worked."""
    finding = session.get(Finding, finding_id)
    if finding is None or finding.resolved_at is None:
        return
    subscriber_id = session.scalar(select(Home.subscriber_id).where(Home.id == finding.home_id))
    if subscriber_id is None:
        return
    conv = open_conversation(session, int(subscriber_id), now=finding.resolved_at)
    if conv is None or ((conv.state or {}).get("action") or {}).get("finding_id") != finding_id:
        return
    _follow_up(session, conv, finding.resolved_at, zone)


def register(db: Database, zone: tzinfo) -> None:
    """Subscribe the bot's follow-ups to ``db.bus``, each in its own transaction; they write
    times in ``zone``, the BSP's."""

    def action_finished(event: remote.ActionFinished) -> None:
        if event.status in ("done", "failed", "unsupported"):
            with db.transaction() as session:
                on_action_finished(session, event.action_id, zone)

    def finding_resolved(event: FindingResolved) -> None:
        # Every finding that resolves on the ingest path comes here: only a kind the bot can
        # fix can be one it waits on, so the others cost no transaction.
        if event.kind not in diagnostics.FIXABLE_KINDS:
            return
        with db.transaction() as session:
            on_finding_resolved(session, event.finding_id, zone)

    db.bus.subscribe(remote.ActionFinished, action_finished)
    db.bus.subscribe(FindingResolved, finding_resolved)


def close_idle(session: Session, *, now: datetime) -> int:
    """End conversations idle for :data:`IDLE_AFTER`: ``contained`` when the bot answered or
    fixed something, ``abandoned`` otherwise. Returns how many ended."""
    rows = session.scalars(
        select(BotConversation)
        .where(BotConversation.outcome == "open", BotConversation.last_at <= now - IDLE_AFTER)
        .with_for_update(skip_locked=True)
    ).all()
    for conv in rows:
        answered = bool((conv.state or {}).get("answered"))
        conv.outcome = "contained" if answered else "abandoned"
        conv.ended_at = conv.last_at
    return len(rows)


@dataclass(frozen=True)
class Containment:
    """Chatbot conversations that ended in the period, and how many were contained: no person
    took over, and no repeat contact within :data:`REPEAT_WINDOW`."""

    conversations: int
    handed_over: int
    abandoned: int
    contained_raw: int
    repeat_contacts: int

    @property
    def contained(self) -> int:
        return self.contained_raw - self.repeat_contacts

    @property
    def rate(self) -> float | None:
        """Contained / (contained + handed over); abandoned ones are left out, as nobody was
        helped or not. None when there is nothing to count."""
        helped = self.contained_raw + self.handed_over
        return self.contained / helped if helped else None

    def to_json(self) -> dict[str, Any]:
        return {
            "conversations": self.conversations,
            "contained": self.contained,
            "handed_over": self.handed_over,
            "abandoned": self.abandoned,
            "repeat_contacts": self.repeat_contacts,
            "containment_rate": None if self.rate is None else round(self.rate, 4),
        }


def containment(session: Session, *, since: datetime, until: datetime) -> Containment:
    """Containment of the conversations that ended in ``[since, until)``."""
    ended = session.execute(
        select(BotConversation.outcome, func.count())
        .where(BotConversation.ended_at >= since, BotConversation.ended_at < until)
        .group_by(BotConversation.outcome)
    ).all()
    by = {str(o): int(n) for o, n in ended}
    contained = session.execute(
        select(BotConversation.id, BotConversation.subscriber_id, BotConversation.ended_at).where(
            BotConversation.outcome == "contained",
            BotConversation.ended_at >= since,
            BotConversation.ended_at < until,
        )
    ).all()
    # Later contacts of those subscribers: a reactive case, or a bot conversation handed over.
    # (Compared in Python: date arithmetic in SQL differs between SQLite and PostgreSQL.)
    later: dict[int, list[tuple[int | None, datetime]]] = {}
    subscribers = sorted({row.subscriber_id for row in contained})
    for ids in chunks(subscribers):
        cases = session.execute(
            select(Case.subscriber_id, Case.opened_at).where(
                Case.subscriber_id.in_(ids),
                Case.origin == "reactive",
                Case.opened_at > since,
                Case.opened_at <= until + REPEAT_WINDOW,
            )
        ).all()
        handed = session.execute(
            select(
                BotConversation.subscriber_id, BotConversation.id, BotConversation.started_at
            ).where(
                BotConversation.subscriber_id.in_(ids),
                BotConversation.outcome == "handed_over",
                BotConversation.started_at > since,
                BotConversation.started_at <= until + REPEAT_WINDOW,
            )
        ).all()
        for sub, opened in cases:
            if sub is not None:
                later.setdefault(sub, []).append((None, opened))
        for sub, conv_id, started in handed:
            later.setdefault(sub, []).append((conv_id, started))
    repeats = sum(
        1
        for row in contained
        if any(
            conv_id != row.id and row.ended_at < at <= row.ended_at + REPEAT_WINDOW
            for conv_id, at in later.get(row.subscriber_id, [])
        )
    )
    return Containment(
        conversations=sum(by.values()),
        handed_over=by.get("handed_over", 0),
        abandoned=by.get("abandoned", 0),
        contained_raw=by.get("contained", 0),
        repeat_contacts=int(repeats or 0),
    )
