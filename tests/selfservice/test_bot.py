"""The chatbot over homes with crafted telemetry: diagnostics in plain words, a fix run only with
consent and checked through the action's result and the finding resolving, hand-over to a case
with the transcript, resent messages, idle conversations and containment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.health import remote
from homeport.health.models import DeviceAction, Finding
from homeport.selfservice import bot
from homeport.selfservice.models import BotConversation, EngagementEvent
from homeport.support.models import Case, Interaction
from homeport.wiring import connect
from tests.conftest import START
from tests.factories import Fleet, build_fleet, filler
from tests.support.guided_data import feed, last_hour

GW = "GW-F00001"


@pytest.fixture
def fleet(db: Database, settings: Settings) -> Fleet:
    """Two filler homes (plan Fibre 100: 100/20 Mbps), gateways GW-F00001 and 2; the event
    handlers wired as in every process."""
    connect(db, settings)
    return build_fleet(db, START - timedelta(days=7), filler(2))


def say(db: Database, subscriber_id: int, text: str, at: datetime, cid: str = "") -> bot.Exchange:
    with db.transaction() as s:
        return bot.converse(
            s,
            subscriber_id=subscriber_id,
            body=text,
            client_id=cid or f"c-{text}",
            now=at,
            zone=UTC,
        )


def bot_lines(exchange: bot.Exchange) -> str:
    return "\n".join(t.body for t in exchange.replies)


def conversation(db: Database, conv_id: int) -> BotConversation:
    with db.session() as s:
        conv = s.get(BotConversation, conv_id)
        assert conv is not None
        s.expunge(conv)
        return conv


def test_a_crowded_channel_is_explained_fixed_with_consent_and_checked(
    db: Database, fleet: Fleet
) -> None:
    sub = fleet.subscribers["FIL-0001"]
    feed(db, fleet, last_hour(GW, radio={"2.4GHz": {"utilization_pct": 88}}))
    first = say(db, sub, "my wifi is really slow tonight", START)
    text = bot_lines(first)
    assert "crowded" in text and "quieter channel" in text and "Shall I go ahead?" in text
    assert conversation(db, first.conversation_id).intent == "slow_internet"
    with db.session() as s:  # nothing is done without consent
        assert s.scalars(select(DeviceAction)).all() == []

    ran = say(db, sub, "yes please", START + timedelta(seconds=30))
    assert "I've asked your gateway to move your Wi-Fi to a quieter channel" in bot_lines(ran)
    with db.session() as s:
        action = s.scalars(select(DeviceAction)).one()
        assert (action.kind, action.requested_by) == ("set_channel", f"subscriber:{sub}")
        assert action.params == {"band": "2.4GHz", "channel": 11}
        kinds = set(s.scalars(select(EngagementEvent.kind)))
        assert {"bot_conversation", "bot_fix"} <= kinds

    # The gateway carries it out: the bot tells the subscriber (an event, after commit).
    done_at = START + timedelta(minutes=1)
    with db.transaction() as s:
        remote.mark_action(s, action.id, status="sent", result={}, now=done_at)
    with db.transaction() as s:
        remote.mark_action(s, action.id, status="done", result={}, now=done_at)
    turns = [t.body for t in _turns(db, first.conversation_id)]
    assert "Your gateway has made the change" in turns[-1]

    # Healthy reports on the new channel: the finding resolves and the bot says it worked.
    feed(db, fleet, last_hour(GW, end=START + timedelta(hours=1)))
    with db.session() as s:
        finding = s.scalars(select(Finding).where(Finding.kind == "congested_channel")).one()
        assert finding.status == "resolved" and finding.resolved_at is not None
        resolved_at = finding.resolved_at
    turns = [t.body for t in _turns(db, first.conversation_id)]
    assert turns[-1].startswith("It worked")
    assert conversation(db, first.conversation_id).state["awaiting"] == "confirm_fixed"

    end = say(db, sub, "yep all good now", resolved_at + timedelta(minutes=1))
    assert "glad" in bot_lines(end)
    conv = conversation(db, first.conversation_id)
    assert (conv.outcome, conv.case_id) == ("contained", None)


def _turns(db: Database, conv_id: int) -> list[bot.Turn]:
    with db.session() as s:
        return bot.turns(s, conv_id)


def test_no_fix_then_a_person_hands_over_with_transcript_and_diagnostics(
    db: Database, fleet: Fleet
) -> None:
    sub = fleet.subscribers["FIL-0001"]
    feed(db, fleet, last_hour(GW))  # a healthy home: nothing to fix
    first = say(db, sub, "internet is sooo slow", START)
    assert "can't see a problem" in bot_lines(first)
    assert "speed test" in bot_lines(first)
    declined = say(db, sub, "no", START + timedelta(seconds=20))
    assert "pass this to a person" in bot_lines(declined)
    handed = say(db, sub, "yes", START + timedelta(seconds=40))
    assert handed.case_id is not None
    with db.session() as s:
        case = s.get(Case, handed.case_id)
        assert case is not None
        assert (case.channel, case.category, case.subscriber_id) == ("chatbot", "slow_speed", sub)
        items = s.scalars(
            select(Interaction).where(Interaction.case_id == case.id).order_by(Interaction.id)
        ).all()
        public = [i for i in items if i.direction != "internal"]
        assert [i.body for i in public][:2] == ["internet is sooo slow", first.replies[0].body]
        assert {i.channel for i in public} == {"chatbot"}
        assert {str(i.meta["conversation"]) for i in public} == {f"bot-{first.conversation_id}"}
        note = next(i for i in items if i.direction == "internal")
        assert "Intent: slow_internet" in note.body and "Diagnostics: gateway in touch" in note.body
        assert "Open findings: none" in note.body
    conv = conversation(db, first.conversation_id)
    assert (conv.outcome, conv.case_id) == ("handed_over", handed.case_id)
    # The next message starts no new bot conversation: the chat goes on with a person.
    from homeport.adapters.chat import conversation as chat

    with db.session() as s:
        live = chat.current_case(s, sub)
        assert live is not None and live.id == handed.case_id


def test_asking_for_a_person_or_to_cancel_hands_over_at_once(db: Database, fleet: Fleet) -> None:
    person = say(db, fleet.subscribers["FIL-0001"], "can i talk to a real person please", START)
    assert person.case_id is not None
    leave = say(db, fleet.subscribers["FIL-0002"], "i want to cancel my contract", START)
    assert leave.case_id is not None
    with db.session() as s:
        categories = {
            c.id: c.category for c in s.scalars(select(Case).where(Case.channel == "chatbot"))
        }
    assert categories == {person.case_id: "general", leave.case_id: "cancel_service"}


def test_an_outage_is_explained_with_no_fix_offered(db: Database, fleet: Fleet) -> None:
    sub = fleet.subscribers["FIL-0001"]
    feed(db, fleet, last_hour(GW))
    exchange = say(db, sub, "is there an outage in my area?", START)
    assert "no outage in your area" in bot_lines(exchange)
    assert conversation(db, exchange.conversation_id).state.get("answered") is True


@pytest.mark.parametrize(
    ("zone", "since"),
    [("UTC", "10:00 UTC on 23 Nov"), ("Europe/Berlin", "11:00 CET on 23 Nov")],
)
def test_a_silent_gateway_is_named_with_its_last_report_in_the_bsps_time(
    db: Database, fleet: Fleet, zone: str, since: str
) -> None:
    feed(db, fleet, last_hour(GW))  # the last report at START, 10:00 UTC
    with db.transaction() as s:
        exchange = bot.converse(
            s,
            subscriber_id=fleet.subscribers["FIL-0001"],
            body="my internet is not working",
            client_id="c-silent",
            now=START + timedelta(hours=2),
            zone=ZoneInfo(zone),
        )
    assert f"hasn't been in touch with us since {since}." in bot_lines(exchange)


def test_a_resent_message_is_stored_once(db: Database, fleet: Fleet) -> None:
    sub = fleet.subscribers["FIL-0001"]
    first = say(db, sub, "wifi doesnt reach my bedroom", START, cid="abc")
    again = say(db, sub, "wifi doesnt reach my bedroom", START + timedelta(seconds=2), cid="abc")
    assert again.duplicate and again.replies == [] and again.said.id == first.said.id
    assert len(_turns(db, first.conversation_id)) == 1 + len(first.replies)


def test_bad_messages_are_refused(db: Database, fleet: Fleet) -> None:
    from homeport.core.errors import NotFound, ValidationFailed

    with pytest.raises(ValidationFailed):
        say(db, fleet.subscribers["FIL-0001"], "   ", START)
    with pytest.raises(ValidationFailed):
        say(db, fleet.subscribers["FIL-0001"], "x" * 4001, START)
    with pytest.raises(NotFound):
        say(db, 999_999, "hello", START)


def test_a_subscriber_reads_only_their_own_turns(db: Database, fleet: Fleet) -> None:
    mine = say(db, fleet.subscribers["FIL-0001"], "my laptop wont connect", START)
    with db.session() as s:
        assert bot.turn(s, mine.said.id, subscriber_id=fleet.subscribers["FIL-0001"]) is not None
        assert bot.turn(s, mine.said.id, subscriber_id=fleet.subscribers["FIL-0002"]) is None


def test_idle_conversations_end_and_containment_counts_repeat_contacts(
    db: Database, fleet: Fleet
) -> None:
    one, two = fleet.subscribers["FIL-0001"], fleet.subscribers["FIL-0002"]
    feed(db, fleet, last_hour(GW))
    answered = say(db, one, "is there an outage", START)  # answered: contained when idle
    unanswered = say(db, two, "blorp", START)  # never helped: abandoned
    handed = say(db, two, "agent please", START + timedelta(hours=2))
    later = START + timedelta(hours=1)
    with db.transaction() as s:
        assert bot.close_idle(s, now=later) == 2
    assert conversation(db, answered.conversation_id).outcome == "contained"
    assert conversation(db, unanswered.conversation_id).outcome == "abandoned"
    assert handed.case_id is not None

    window = {"since": START - timedelta(days=1), "until": START + timedelta(days=1)}
    with db.session() as s:
        stats = bot.containment(s, **window)
    assert stats.to_json() == {
        "conversations": 3,
        "contained": 1,
        "handed_over": 1,
        "abandoned": 1,
        "repeat_contacts": 0,
        "containment_rate": 0.5,
    }
    # The contained subscriber comes back within 7 days: it was not contained after all.
    say(db, one, "talk to a human", START + timedelta(days=3))
    with db.session() as s:
        stats = bot.containment(s, **window)
    assert (stats.contained, stats.repeat_contacts) == (0, 1)
