"""The support desk core: reactive cases from any channel, interactions with channel dedup,
status changes with SLA clocks, routing, merge, tags, macros and derived first-contact
resolution."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from homeport.audit.actions import Actor
from homeport.audit.models import AuditEntry
from homeport.core.db import Database
from homeport.core.errors import Conflict, NotFound, ValidationFailed
from homeport.identity import actions as identity
from homeport.subscribers.models import Subscriber
from homeport.support import actions, console, service
from homeport.support.actions import NewAttachment, NewInteraction
from homeport.support.models import Attachment, Case, Interaction, OutboundMessage
from tests.conftest import START, TEST_ACTOR
from tests.factories import Fleet, build_fleet, filler

NOW = START  # Monday 23 November 2026, 10:00 UTC


@pytest.fixture
def fleet(db: Database) -> Fleet:
    return build_fleet(db, START, filler(3))


@pytest.fixture
def desk(db: Database) -> dict[str, int]:
    """One team with three agents (capacity 2) and a queue per kind of work."""
    with db.transaction() as s:
        team = identity.create_team(s, name="Tier 1", kind="support", actor=TEST_ACTOR, now=NOW)
        ids = {"team": team.id}
        for n in (1, 2, 3):
            user = identity.create_staff_user(
                s,
                email=f"agent{n}@example.net",
                role="agent",
                password=None,
                actor=TEST_ACTOR,
                now=NOW,
            )
            user.team_id = team.id
            actions.set_agent_profile(
                s,
                user.id,
                now=NOW,
                actor=TEST_ACTOR,
                capacity=2,
                skills=["fibre"] if n == 3 else [],
            )
            ids[f"agent{n}"] = user.id
        ids["general"] = actions.save_queue(
            s, name="General", team_id=team.id, is_default=True, now=NOW, actor=TEST_ACTOR
        ).id
        ids["fibre"] = actions.save_queue(
            s,
            name="Fibre faults",
            team_id=team.id,
            categories=["no_internet"],
            skill="fibre",
            rank=10,
            now=NOW,
            actor=TEST_ACTOR,
        ).id
        actions.save_sla_policy(
            s,
            name="Normal",
            priority="normal",
            first_response_s=4 * 3600,
            resolution_s=24 * 3600,
            business_hours="mon-fri 08:00-20:00",
            timezone="Europe/London",
            now=NOW,
            actor=TEST_ACTOR,
        )
    return ids


def email(
    body: str = "My wifi keeps dropping",
    *,
    message_id: str | None = None,
    address: str = "filler1@example.test",
) -> NewInteraction:
    return NewInteraction(
        channel="email",
        direction="inbound",
        author_kind="subscriber",
        body=body,
        subject="Wifi problem",
        address=address,
        external_id=message_id,
    )


def reply(agent: int, body: str = "Let me check your line") -> NewInteraction:
    return NewInteraction(
        channel="email", direction="outbound", author_kind="agent", author_id=agent, body=body
    )


def open_case(db: Database, sub: int | None, *, at: datetime = NOW, **kw: object) -> int:
    args: dict[str, object] = {
        "channel": "email",
        "subject": "Wifi problem",
        "first": email(),
        "category": "wifi",
        "subscriber_id": sub,
    }
    args.update(kw)
    with db.transaction() as s:
        return actions.open_case(s, now=at, actor=TEST_ACTOR, **args).id  # type: ignore[arg-type]


def add(db: Database, case_id: int, item: NewInteraction, at: datetime) -> tuple[int, bool]:
    with db.transaction() as s:
        interaction, new = actions.add_interaction(s, case_id, item, now=at, actor=TEST_ACTOR)
        return interaction.id, new


def test_a_contact_opens_a_routed_case_with_sla_clocks(
    db: Database, fleet: Fleet, desk: dict[str, int]
) -> None:
    sub = fleet.subscribers["FIL-0001"]
    case_id = open_case(db, sub, first=email(message_id="<m1@example.test>"))
    with db.session() as s:
        case = s.get_one(Case, case_id)
        assert (case.origin, case.status, case.channel, case.priority) == (
            "reactive",
            "new",
            "email",
            "normal",
        )
        # "wifi" matches no queue's categories: the default queue, least-loaded agent.
        assert case.queue_id == desk["general"] and case.team_id == desk["team"]
        assert case.assignee_id == desk["agent1"]
        # Monday 10:00 UTC = 10:00 London; 4 business hours, 24 business hours (2 days).
        assert case.first_response_due_at == NOW + timedelta(hours=4)
        assert case.resolution_due_at == NOW + timedelta(days=2)
        [first] = service.interactions(s, case_id)
        assert (first.direction, first.author_kind, first.external_id) == (
            "inbound",
            "subscriber",
            "<m1@example.test>",
        )
        logged = set(
            s.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == str(case_id)))
        )
        assert {"case.opened", "case.assigned", "interaction.added"} <= logged


def test_redelivered_message_is_recognised_not_stored_twice(
    db: Database, fleet: Fleet, desk: dict[str, int]
) -> None:
    case_id = open_case(db, fleet.subscribers["FIL-0001"])
    first, new = add(db, case_id, email("again", message_id="<dup@x>"), NOW)
    again, new2 = add(db, case_id, email("again", message_id="<dup@x>"), NOW + timedelta(minutes=5))
    assert new and not new2 and first == again
    with db.session() as s:
        assert len(service.interactions(s, case_id)) == 2


def test_agent_reply_pending_and_resume_move_the_clocks(
    db: Database, fleet: Fleet, desk: dict[str, int]
) -> None:
    case_id = open_case(db, fleet.subscribers["FIL-0001"])
    add(db, case_id, reply(desk["agent1"]), NOW + timedelta(minutes=30))
    with db.transaction() as s:
        case = actions.set_status(
            s, case_id, "pending_subscriber", now=NOW + timedelta(hours=1), actor=TEST_ACTOR
        )
        due_before = case.resolution_due_at
        assert case.first_response_at == NOW + timedelta(minutes=30)
        assert case.status == "pending_subscriber" and case.sla_paused_at is not None
    # The subscriber answers three hours later: the resolution clock moves 3 business hours.
    add(db, case_id, email("here are the lights"), NOW + timedelta(hours=4))
    with db.session() as s:
        case = s.get_one(Case, case_id)
        assert case.status == "open" and case.sla_paused_at is None
        assert due_before is not None
        assert case.resolution_due_at == due_before + timedelta(hours=3)


def test_status_rules(db: Database, fleet: Fleet, desk: dict[str, int]) -> None:
    case_id = open_case(db, fleet.subscribers["FIL-0001"])
    with db.transaction() as s, pytest.raises(ValidationFailed) as err:
        actions.set_status(s, case_id, "solved", now=NOW, actor=TEST_ACTOR)
    assert err.value.errors[0].field == "outcome"
    with db.transaction() as s, pytest.raises(Conflict, match="solve it before closing"):
        actions.set_status(s, case_id, "closed", now=NOW, actor=TEST_ACTOR)
    with db.transaction() as s:
        actions.set_status(
            s,
            case_id,
            "solved",
            outcome="remote_fix",
            notes="Rebooted",
            now=NOW + timedelta(hours=1),
            actor=TEST_ACTOR,
        )
    # A subscriber's message reopens a solved case and clears its outcome.
    add(db, case_id, email("still broken"), NOW + timedelta(hours=2))
    with db.transaction() as s:
        case = s.get_one(Case, case_id)
        assert (case.status, case.outcome, case.solved_at) == ("open", None, None)
        actions.set_status(
            s,
            case_id,
            "solved",
            outcome="remote_fix",
            now=NOW + timedelta(hours=3),
            actor=TEST_ACTOR,
        )
        actions.set_status(s, case_id, "closed", now=NOW + timedelta(days=3), actor=TEST_ACTOR)
    with db.transaction() as s, pytest.raises(Conflict, match="open a new case"):
        actions.add_interaction(
            s, case_id, email("hello?"), now=NOW + timedelta(days=4), actor=TEST_ACTOR
        )


def test_bad_input_writes_nothing(db: Database, fleet: Fleet, desk: dict[str, int]) -> None:
    with db.transaction() as s, pytest.raises(ValidationFailed) as err:
        actions.open_case(
            s,
            now=NOW,
            actor=TEST_ACTOR,
            channel="pigeon",
            subject=" ",
            priority="asap",
            first=NewInteraction(channel="email", direction="sideways", author_kind="subscriber"),
        )
    fields = {e.field for e in err.value.errors}
    assert fields == {"channel", "subject", "priority", "subscriber_id", "direction", "body"}
    with db.transaction() as s, pytest.raises(NotFound):
        actions.open_case(
            s, now=NOW, actor=TEST_ACTOR, channel="email", subject="x", subscriber_id=999_999
        )
    with db.session() as s:
        assert s.scalars(select(Case)).first() is None


def test_unknown_sender_case_can_be_linked_later(
    db: Database, fleet: Fleet, desk: dict[str, int]
) -> None:
    case_id = open_case(
        db, None, contact="stranger@example.org", first=email(address="stranger@example.org")
    )
    sub = fleet.subscribers["FIL-0002"]
    with db.transaction() as s:
        assert s.get_one(Case, case_id).subscriber_id is None
        actions.link_subscriber(s, case_id, sub, now=NOW, actor=TEST_ACTOR)
    with db.session() as s:
        assert s.get_one(Case, case_id).subscriber_id == sub
        assert actions.find_subscriber(s, email="FILLER2@example.test") is not None
        found = actions.find_subscriber(s, phone="+44 161 496 0003")
        assert found is not None and found.account_number == "FIL-0003"


def test_routing_respects_skill_capacity_and_availability(
    db: Database, fleet: Fleet, desk: dict[str, int]
) -> None:
    sub = fleet.subscribers["FIL-0001"]
    # "no_internet" goes to the fibre queue, which only agent3 (skill fibre) may take.
    fibre = [open_case(db, sub, category="no_internet") for _ in range(3)]
    with db.session() as s:
        owners = [s.get_one(Case, c).assignee_id for c in fibre]
    assert owners == [desk["agent3"], desk["agent3"], None]  # capacity 2, the third waits
    general = [open_case(db, sub) for _ in range(4)]
    with db.session() as s:
        owners = [s.get_one(Case, c).assignee_id for c in general]
    # Least-loaded: agent1 and agent2 alternate (agent3 is full).
    assert owners == [desk["agent1"], desk["agent2"], desk["agent1"], desk["agent2"]]
    with db.transaction() as s:
        actions.set_status(s, fibre[0], "solved", outcome="remote_fix", now=NOW, actor=TEST_ACTOR)
        assert actions.fill_capacity(s, now=NOW) == 1
    with db.session() as s:
        assert s.get_one(Case, fibre[2]).assignee_id == desk["agent3"]
    with db.transaction() as s:
        actions.set_agent_profile(s, desk["agent1"], available=False, now=NOW, actor=TEST_ACTOR)
        actions.set_agent_profile(s, desk["agent2"], capacity=10, now=NOW, actor=TEST_ACTOR)
    late = open_case(db, sub)
    with db.session() as s:
        assert s.get_one(Case, late).assignee_id == desk["agent2"]


def test_cases_from_before_the_queues_existed_are_routed_later(db: Database, fleet: Fleet) -> None:
    early = open_case(db, fleet.subscribers["FIL-0001"])
    with db.transaction() as s:
        team = identity.create_team(s, name="Late team", kind="support", actor=TEST_ACTOR, now=NOW)
        agent = identity.create_staff_user(
            s, email="late@example.net", role="agent", password=None, actor=TEST_ACTOR, now=NOW
        )
        agent.team_id = team.id
        actions.set_agent_profile(s, agent.id, now=NOW, actor=TEST_ACTOR)
        queue = actions.save_queue(
            s, name="Everything", team_id=team.id, is_default=True, now=NOW, actor=TEST_ACTOR
        )
        ids = queue.id, agent.id
    with db.transaction() as s:
        assert s.get_one(Case, early).queue_id is None
        assert actions.fill_capacity(s, now=NOW) == 1
    with db.session() as s:
        case = s.get_one(Case, early)
        assert (case.queue_id, case.assignee_id) == ids


def test_round_robin_cycles_through_agents(
    db: Database, fleet: Fleet, desk: dict[str, int]
) -> None:
    with db.transaction() as s:
        actions.save_queue(
            s,
            name="General",
            team_id=desk["team"],
            is_default=True,
            strategy="round_robin",
            now=NOW,
            actor=TEST_ACTOR,
        )
        for n in (1, 2, 3):
            actions.set_agent_profile(s, desk[f"agent{n}"], capacity=10, now=NOW, actor=TEST_ACTOR)
    cases = [open_case(db, fleet.subscribers["FIL-0001"]) for _ in range(4)]
    with db.session() as s:
        owners = [s.get_one(Case, c).assignee_id for c in cases]
    assert owners == [desk["agent1"], desk["agent2"], desk["agent3"], desk["agent1"]]


def test_sla_warning_then_breach_escalates_once(
    db: Database, fleet: Fleet, desk: dict[str, int]
) -> None:
    case_id = open_case(db, fleet.subscribers["FIL-0001"])
    with db.transaction() as s:
        assert actions.check_slas(s, now=NOW + timedelta(hours=3)) == (0, 0)
        # 80 % of the 4-hour first-response target has passed at 13:12.
        assert actions.check_slas(s, now=NOW + timedelta(hours=3, minutes=15)) == (1, 0)
        assert actions.check_slas(s, now=NOW + timedelta(hours=3, minutes=30)) == (0, 0)
        assert actions.check_slas(s, now=NOW + timedelta(hours=4)) == (0, 1)
        assert actions.check_slas(s, now=NOW + timedelta(hours=5)) == (0, 0)
    with db.session() as s:
        case = s.get_one(Case, case_id)
        assert case.priority == "high" and case.escalated_at == NOW + timedelta(hours=4)
        assert service.list_cases(s, service.CaseFilter(breached=True))[0].id == case_id


def test_merge_moves_the_thread_and_solves_the_duplicate(
    db: Database, fleet: Fleet, desk: dict[str, int]
) -> None:
    sub = fleet.subscribers["FIL-0001"]
    keep = open_case(db, sub)
    dup = open_case(db, sub, first=email("same problem by sms"))
    with db.transaction() as s:
        actions.merge(s, dup, keep, now=NOW, actor=TEST_ACTOR)
    # A late reply to the duplicate lands on the surviving case.
    add(db, dup, email("any news?"), NOW + timedelta(hours=1))
    with db.session() as s:
        assert len(service.interactions(s, keep)) == 3
        gone = s.get_one(Case, dup)
        assert (gone.status, gone.outcome, gone.merged_into_id) == ("solved", "duplicate", keep)
    other = open_case(db, fleet.subscribers["FIL-0002"])
    with db.transaction() as s, pytest.raises(Conflict, match="different subscribers"):
        actions.merge(s, other, keep, now=NOW, actor=TEST_ACTOR)


def test_first_contact_resolution_is_derived(
    db: Database, fleet: Fleet, desk: dict[str, int]
) -> None:
    sub, other = fleet.subscribers["FIL-0001"], fleet.subscribers["FIL-0002"]

    def solve(case_id: int, at: datetime) -> None:
        with db.transaction() as s:
            actions.set_status(s, case_id, "solved", outcome="remote_fix", now=at, actor=TEST_ACTOR)

    def fcr(case_id: int) -> bool | None:
        with db.session() as s:
            return service.first_contact_resolved(s, s.get_one(Case, case_id))

    one = open_case(db, sub)
    assert fcr(one) is None  # not solved yet
    add(db, one, reply(desk["agent1"]), NOW + timedelta(minutes=5))
    solve(one, NOW + timedelta(minutes=10))
    assert fcr(one) is True
    # The subscriber comes back on the same category 6 days later: not resolved after all.
    open_case(db, sub, at=NOW + timedelta(days=6))
    assert fcr(one) is False

    two = open_case(db, other, category="billing")
    add(db, two, email("and another thing"), NOW + timedelta(hours=1))
    solve(two, NOW + timedelta(hours=2))
    assert fcr(two) is False  # two contacts
    # A repeat after 8 days is a new problem, not a repeat contact.
    chat = open_case(
        db,
        other,
        category="speed",
        channel="live_chat",
        first=NewInteraction(
            channel="live_chat",
            direction="inbound",
            author_kind="subscriber",
            body="slow",
            meta={"conversation": "c1"},
        ),
    )
    for n in range(3):
        add(
            db,
            chat,
            NewInteraction(
                channel="live_chat",
                direction="inbound",
                author_kind="subscriber",
                body=f"more {n}",
                meta={"conversation": "c1"},
            ),
            NOW + timedelta(minutes=n),
        )
    add(
        db,
        chat,
        NewInteraction(
            channel="async_chat",
            direction="inbound",
            author_kind="subscriber",
            body="back again",
            meta={"conversation": "c1"},
        ),
        NOW + timedelta(minutes=10),
    )
    solve(chat, NOW + timedelta(minutes=20))
    open_case(db, other, category="speed", at=NOW + timedelta(days=8))
    assert fcr(chat) is True  # one chat conversation is one contact, live or async


def test_search_filters_and_counts(db: Database, fleet: Fleet, desk: dict[str, int]) -> None:
    sub = fleet.subscribers["FIL-0001"]
    a = open_case(db, sub, subject="Router lights flashing red")
    b = open_case(db, sub, first=email("The 100% discount was not applied"), category="billing")
    c = open_case(
        db,
        fleet.subscribers["FIL-0002"],
        channel="phone",
        first=NewInteraction(
            channel="phone", direction="inbound", author_kind="subscriber", body=""
        ),
    )
    with db.transaction() as s:
        actions.set_tags(s, c, ["VIP", "callback"], now=NOW, actor=TEST_ACTOR)
        with pytest.raises(ValidationFailed):
            actions.set_tags(s, c, ["no spaces allowed"], now=NOW, actor=TEST_ACTOR)
    F = service.CaseFilter  # noqa: N806
    with db.session() as s:

        def ids(f: service.CaseFilter) -> list[int]:
            return [x.id for x in service.list_cases(s, f)]

        assert ids(F(q="lights")) == [a]
        assert ids(F(q="100%")) == [b]  # in a message body, % taken literally
        assert ids(F(q="1_0%")) == []  # _ is not a wildcard either
        assert ids(F(q="LIGHTS FLASHING")) == [a]
        assert ids(F(tag="vip")) == [c]
        assert ids(F(channel="phone")) == [c]
        assert ids(F(subscriber_id=sub, category="billing")) == [b]
        assert ids(F(assignee_id=desk["agent1"])) == [a]
        assert ids(F()) == [c, b, a]
        assert [x.id for x in service.list_cases(s, F(), before_id=c)] == [b, a]
        counts = console.live_counts(s, F(status=("solved",)))
        assert counts == {
            "new": 3,
            "open": 0,
            "pending_subscriber": 0,
            "pending_field": 0,
            "breached": 0,
        }


def test_attachments_notes_macros_and_outbound(
    db: Database, fleet: Fleet, desk: dict[str, int]
) -> None:
    sub = fleet.subscribers["FIL-0001"]
    item = email("photo attached")
    item.attachments = [NewAttachment("lights.jpg", "image/jpeg", b"\xff\xd8jpeg")]
    case_id = open_case(db, sub, first=item)
    with db.transaction() as s:
        note = actions.add_note(
            s, case_id, "Line test clean", now=NOW, actor=TEST_ACTOR, author_id=desk["agent1"]
        )
        assert note.direction == "internal"
        with pytest.raises(ValidationFailed):
            actions.add_note(s, case_id, "  ", now=NOW, actor=TEST_ACTOR, author_id=desk["agent1"])
        case = s.get_one(Case, case_id)
        assert case.status == "open"
        macro = actions.save_macro(
            s,
            name="Reboot",
            body="Hi {first_name}, case {case_id}: your {plan} line. {unknown}",
            now=NOW,
            actor=TEST_ACTOR,
        )
        text = actions.render_macro(
            macro.body, subscriber=s.get_one(Subscriber, sub), case=case, agent_name="Sam"
        )
        assert text == f"Hi Filler, case {case_id}: your Fibre 100 line. {{unknown}}"
        out = actions.queue_outbound(
            s,
            channel="email",
            recipient="filler1@example.test",
            body=text,
            now=NOW,
            case_id=case_id,
        )
        assert out.status == "queued"
    with db.session() as s:
        [att] = s.scalars(select(Attachment)).all()
        assert (att.filename, att.size, len(att.sha256)) == ("lights.jpg", 6, 64)
        assert s.scalars(select(OutboundMessage)).one().recipient == "filler1@example.test"
        assert len(s.scalars(select(Interaction)).all()) == 2


def test_assign_checks_the_assignee(db: Database, fleet: Fleet, desk: dict[str, int]) -> None:
    case_id = open_case(db, fleet.subscribers["FIL-0001"])
    with db.transaction() as s:
        tech = identity.create_staff_user(
            s, email="tech@example.net", role="technician", password=None, actor=TEST_ACTOR, now=NOW
        )
        tech_id = tech.id
    with db.transaction() as s, pytest.raises(ValidationFailed, match="invalid assignee"):
        actions.assign(s, case_id, tech_id, now=NOW, actor=TEST_ACTOR)
    with db.transaction() as s:
        actions.assign(s, case_id, desk["agent2"], now=NOW, actor=Actor("staff", desk["agent2"]))
        actions.assign(s, case_id, None, now=NOW, actor=TEST_ACTOR)
    with db.session() as s:
        assert s.get_one(Case, case_id).assignee_id is None


def test_an_answered_call_is_the_first_response(
    db: Database, fleet: Fleet, desk: dict[str, int]
) -> None:
    call = NewInteraction(channel="phone", direction="inbound", author_kind="subscriber")
    case_id = open_case(db, fleet.subscribers["FIL-0001"], channel="phone", first=call)
    with db.transaction() as s:
        [item] = service.interactions(s, case_id)
        with pytest.raises(ValidationFailed):
            actions.update_interaction(
                s, item.id, now=NOW, actor=TEST_ACTOR, ended_at=NOW - timedelta(minutes=1)
            )
        actions.update_interaction(
            s,
            item.id,
            now=NOW + timedelta(seconds=40),
            actor=TEST_ACTOR,
            answered=True,
            meta={"call": {"state": "answered"}},
        )
        actions.update_interaction(
            s,
            item.id,
            now=NOW + timedelta(minutes=7),
            actor=TEST_ACTOR,
            ended_at=NOW + timedelta(minutes=7),
            handle_time_s=380,
        )
    with db.session() as s:
        case = s.get_one(Case, case_id)
        assert (case.status, case.first_response_at) == ("open", NOW + timedelta(seconds=40))
        [item] = service.interactions(s, case_id)
        assert (item.handle_time_s, item.meta) == (380, {"call": {"state": "answered"}})
