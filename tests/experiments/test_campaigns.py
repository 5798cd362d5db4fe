"""Campaigns: consent respected, opt-out links (single use, only their own subscriber),
personalisation, the outbound queue and the portal cards."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import Conflict, NotFound, ValidationFailed
from homeport.experiments import campaigns
from homeport.experiments.models import CampaignDelivery
from homeport.selfservice.models import EngagementEvent
from homeport.subscribers.models import Subscriber
from homeport.support import actions as support_actions
from homeport.support.models import OutboundMessage
from tests.conftest import TEST_ACTOR
from tests.experiments.data import Person, build_people

PEOPLE = [
    Person("ann", "Ann Archer", "ann@example.net"),
    Person("ben", "Ben Baker", "ben@example.net", marketing=False),
    Person("cat", "Cat Cole", ""),  # no address: portal only
    Person("dan", "Dan Dee", "dan@example.net", consent_email=False),
    Person("eve", "<b>Eve</b> Evil", "eve@example.net"),
    Person("fay", "Fay Far", "fay@example.net", segment="streamer"),
    Person("gus", "Gus Gone", "gus@example.net", status="churned"),
]
URL = "https://isp.example"
OPTOUT = re.compile(r"https://isp\.example/campaigns/optout/(\S+)")


def _create(db: Database, clock: ManualClock, name: str = "Gamers autumn") -> int:
    with db.transaction() as s:
        c = campaigns.create_campaign(
            s,
            name=name,
            segment="gamer",
            channels=["email", "portal"],
            subject="{first_name}, lower ping tonight",
            body="Hi {first_name},\nGaming priority keeps your {plan} snappy.",
            offer_bundle_code="gaming",
            actor=TEST_ACTOR,
            now=clock.now(),
        )
        return c.id


def _launch(db: Database, clock: ManualClock, campaign_id: int) -> campaigns.LaunchRun:
    with db.transaction() as s:
        return campaigns.launch(
            s,
            campaign_id,
            actor=TEST_ACTOR,
            now=clock.now(),
            base_url=URL,
            bsp_name="Test ISP",
            sender="offers@isp.example",
        )


def _mail(db: Database) -> dict[str, OutboundMessage]:
    with db.session() as s:
        return {m.recipient: m for m in s.scalars(select(OutboundMessage))}


def test_launch_respects_consent_and_queues_personal_emails(
    db: Database, clock: ManualClock
) -> None:
    ids = build_people(db, clock.now(), PEOPLE)
    run = _launch(db, clock, _create(db, clock))
    assert run.counts == {
        "email": {"queued": 2, "skipped_consent": 3},
        "portal": {"queued": 4, "skipped_consent": 1},
    }
    mail = _mail(db)
    assert set(mail) == {"ann@example.net", "eve@example.net"}  # not Ben/Cat/Dan/Fay/Gus
    ann = mail["ann@example.net"]
    assert ann.subject == "Ann, lower ping tonight"
    assert ann.body.startswith("Hi Ann,\nGaming priority keeps your Fibre 500 snappy.")
    assert "Our offer for you: Gaming priority (3.50 a month)." in ann.body
    assert ann.headers["From"] == "offers@isp.example"
    assert OPTOUT.search(ann.body)
    with db.session() as s:
        rows = {(d.subscriber_id, d.channel): d for d in s.scalars(select(CampaignDelivery))}
    assert rows[(ids["ben"], "email")].status == "skipped_consent"
    assert rows[(ids["ben"], "portal")].status == "skipped_consent"
    assert rows[(ids["cat"], "portal")].status == "queued"
    assert (ids["fay"], "email") not in rows and (ids["gus"], "email") not in rows
    # Only the token's hash is stored.
    token = OPTOUT.search(ann.body).group(1)  # type: ignore[union-attr]
    stored = rows[(ids["ann"], "email")].optout_token_hash
    assert stored == campaigns.hash_token(token) and token not in str(stored)


def test_opt_out_is_single_use_own_and_respected_next_time(
    db: Database, clock: ManualClock
) -> None:
    ids = build_people(db, clock.now(), PEOPLE)
    _launch(db, clock, _create(db, clock))
    mail = _mail(db)
    ann_token = OPTOUT.search(mail["ann@example.net"].body).group(1)  # type: ignore[union-attr]
    eve_token = OPTOUT.search(mail["eve@example.net"].body).group(1)  # type: ignore[union-attr]
    with db.transaction() as s:
        assert campaigns.redeem_optout(s, "not-a-token", clock.now()) is None
        assert campaigns.redeem_optout(s, ann_token, clock.now()) == ids["ann"]
    with db.transaction() as s:
        assert campaigns.redeem_optout(s, ann_token, clock.now()) is None  # spent
        assert s.get(Subscriber, ids["ann"]).consent_marketing is False  # type: ignore[union-attr]
        # Ann's link touched nobody else.
        assert s.get(Subscriber, ids["eve"]).consent_marketing is True  # type: ignore[union-attr]
        assert campaigns.optout_delivery(s, eve_token) is not None
        # Her portal card is gone too.
        assert campaigns.portal_messages(s, ids["ann"]) == []
    clock.advance(timedelta(days=7))
    run = _launch(db, clock, _create(db, clock, "Gamers winter"))
    assert run.counts["email"] == {"queued": 1, "skipped_consent": 4}
    with db.session() as s:
        new = s.scalars(
            select(CampaignDelivery).where(
                CampaignDelivery.subscriber_id == ids["ann"],
                CampaignDelivery.created_at == clock.now(),
            )
        ).all()
        assert {d.status for d in new} == {"skipped_consent"}
        sent_to = [
            m.recipient for m in s.scalars(select(OutboundMessage)) if m.created_at == clock.now()
        ]
        assert sent_to == ["eve@example.net"]


def test_placeholders_are_checked_and_never_formatted(db: Database, clock: ManualClock) -> None:
    build_people(db, clock.now(), PEOPLE)
    with db.transaction() as s, pytest.raises(ValidationFailed) as err:
        campaigns.create_campaign(
            s,
            name="Bad",
            segment="cyclists",
            channels=["fax"],
            subject="{first_name.__class__}",
            body="{0} {account_number}",
            actor=TEST_ACTOR,
            now=clock.now(),
            offer_bundle_code="nope",
        )
    fields = {e.field for e in err.value.errors}
    assert fields == {"segment", "channels", "subject", "body", "offer_bundle_code"}
    with db.session() as s:
        eve = s.scalars(select(Subscriber).where(Subscriber.email == "eve@example.net")).one()
        assert campaigns.personalise("Hi {first_name} {x}", eve) == "Hi <b>Eve</b> {x}"
        assert campaigns.personalise("A\r\nB {name}", eve, one_line=True) == "A B <b>Eve</b> Evil"


def test_portal_cards_shown_and_answered_once(db: Database, clock: ManualClock) -> None:
    ids = build_people(db, clock.now(), PEOPLE)
    cid = _create(db, clock)
    with db.session() as s:
        assert campaigns.portal_messages(s, ids["cat"]) == []  # not launched yet
    _launch(db, clock, cid)
    with db.transaction() as s:
        (card,) = campaigns.portal_messages(s, ids["cat"])
        assert card.subject == "Cat, lower ping tonight" and not card.shown
        assert campaigns.mark_shown(s, ids["cat"], card.delivery_id, clock.now())
        assert not campaigns.mark_shown(s, ids["cat"], card.delivery_id, clock.now())
        with pytest.raises(NotFound):  # someone else's card
            campaigns.mark_shown(s, ids["ann"], card.delivery_id, clock.now())
        with pytest.raises(NotFound):
            campaigns.respond(s, ids["ann"], card.delivery_id, "interested", clock.now())
        with pytest.raises(ValidationFailed):
            campaigns.respond(s, ids["cat"], card.delivery_id, "maybe", clock.now())
        campaigns.respond(s, ids["cat"], card.delivery_id, "interested", clock.now())
    with db.transaction() as s:
        assert campaigns.portal_messages(s, ids["cat"]) == []
        with pytest.raises(Conflict):
            campaigns.respond(s, ids["cat"], card.delivery_id, "not_now", clock.now())
        kinds = [e.kind for e in s.scalars(select(EngagementEvent))]
        assert kinds == ["campaign_response"]
        counts = campaigns.delivery_counts(s, cid)
        assert counts["shown"] == {"portal": 1}
        assert counts["response:interested"] == {"portal": 1}
        (ann_card,) = campaigns.portal_messages(s, ids["ann"])
        campaigns.finish(s, cid, actor=TEST_ACTOR, now=clock.now())
        assert campaigns.portal_messages(s, ids["ann"]) == []
        with pytest.raises(Conflict):
            campaigns.respond(s, ids["ann"], ann_card.delivery_id, "interested", clock.now())


def test_email_deliveries_follow_the_outbound_queue(db: Database, clock: ManualClock) -> None:
    build_people(db, clock.now(), PEOPLE)
    cid = _create(db, clock)
    _launch(db, clock, cid)
    mail = _mail(db)
    clock.advance(timedelta(minutes=1))
    with db.transaction() as s:
        message = s.get(OutboundMessage, mail["ann@example.net"].id)
        assert message is not None
        support_actions.outbound_sent(message, now=clock.now())
        campaign = campaigns.get_campaign(s, cid)
        assert campaigns.refresh_email_statuses(s, campaign) == 1
        assert campaigns.delivery_counts(s, cid)["sent"] == {"email": 1}
        assert campaigns.delivery_counts(s, cid)["queued"] == {"email": 1, "portal": 4}
    with db.transaction() as s, pytest.raises(Conflict):
        campaigns.launch(s, cid, actor=TEST_ACTOR, now=clock.now(), base_url=URL, bsp_name="x")


def test_a_campaign_as_an_experiment_holds_out_its_control_group(
    db: Database, clock: ManualClock
) -> None:
    """Subscribers the campaign may reach are split by the experiment's stable assignment; the
    control group is sent nothing and the treatment's deliveries carry their variant."""
    from homeport.experiments import actions as experiment_actions
    from homeport.experiments.assignment import assignment_of
    from homeport.experiments.models import Experiment

    crowd = [Person(f"p{i}", f"Player {i}", f"p{i}@example.net") for i in range(40)]
    ids = build_people(db, clock.now(), [*crowd, Person("ben", "Ben", "b@x.net", marketing=False)])
    with db.transaction() as s:
        experiment_actions.create_experiment(
            s,
            key="gaming-offer",
            name="Does the gaming offer keep gamers?",
            hypothesis="",
            variants=[{"name": "control", "weight": 50}, {"name": "offer", "weight": 50}],
            metric="churned_90d",
            actor=TEST_ACTOR,
            now=clock.now(),
        )
    with db.transaction() as s:  # a draft experiment: the campaign refuses to launch
        c = campaigns.create_campaign(
            s,
            name="Gaming offer test",
            segment="gamer",
            channels=["email"],
            subject="Lower ping",
            body="Gaming priority for you.",
            experiment_key="gaming-offer",
            actor=TEST_ACTOR,
            now=clock.now(),
        )
        campaign_id = c.id
    with pytest.raises(Conflict, match="start it first"):
        _launch(db, clock, campaign_id)
    with db.transaction() as s:
        experiment_actions.start(s, "gaming-offer", actor=TEST_ACTOR, now=clock.now())
    run = _launch(db, clock, campaign_id)
    with db.session() as s:
        experiment = s.scalars(select(Experiment)).one()
        variants = {
            key: (a.variant if (a := assignment_of(s, experiment.id, sid)) else None)
            for key, sid in ids.items()
        }
        sent = {
            d.subscriber_id: d.variant
            for d in s.scalars(select(CampaignDelivery).where(CampaignDelivery.status == "queued"))
        }
    held = [k for k, v in variants.items() if v == "control"]
    treated = [k for k, v in variants.items() if v == "offer"]
    assert variants["ben"] is None  # no consent: neither sent nor counted in the experiment
    assert len(held) + len(treated) == 40 and 8 <= len(held) <= 32
    assert run.counts["holdout"] == {"held_out": len(held)}
    assert run.counts["email"] == {"queued": len(treated), "skipped_consent": 1}
    assert sent == {ids[k]: "offer" for k in treated}
    assert set(_mail(db)) == {f"{k}@example.net" for k in treated}


def test_a_campaign_experiment_must_exist_and_have_a_control(
    db: Database, clock: ManualClock
) -> None:
    from homeport.experiments import actions as experiment_actions

    build_people(db, clock.now(), PEOPLE)
    with db.transaction() as s:
        experiment_actions.create_experiment(
            s,
            key="no-control",
            name="A vs B",
            hypothesis="",
            variants=[{"name": "a", "weight": 1}, {"name": "b", "weight": 1}],
            metric="churned_90d",
            actor=TEST_ACTOR,
            now=clock.now(),
        )
    for key, message in (("nope", "no experiment"), ("no-control", "needs a 'control'")):
        with pytest.raises(ValidationFailed) as caught, db.transaction() as s:
            campaigns.create_campaign(
                s,
                name=f"Campaign {key}",
                segment="gamer",
                channels=["email"],
                subject="Hi",
                body="Hello.",
                experiment_key=key,
                actor=TEST_ACTOR,
                now=clock.now(),
            )
        assert message in caught.value.errors[0].message
