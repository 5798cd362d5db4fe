"""Writes of the subscribers domain: upserts, lifecycle dates, bundles, audit and events."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from homeport.audit.models import AuditEntry
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import Conflict, NotFound, ValidationFailed
from homeport.core.events import Event
from homeport.subscribers import actions
from homeport.subscribers.models import Plan, Subscriber
from homeport.subscribers.schemas import BundleIn, BundleSelection, PlanIn, SubscriberIn
from tests.conftest import TEST_ACTOR

PLAN = PlanIn(
    code="FTTP-500", name="Fibre 500", down_mbps=500, up_mbps=100, monthly_price=Decimal("35.00")
)


def _sub(**kw: Any) -> SubscriberIn:
    values: dict[str, Any] = {
        "account_number": "A-1",
        "name": "Ann Smith",
        "email": "ann@example.net",
        "plan_code": "FTTP-500",
        "status": "active",
        "journey_stage": "established",
    }
    values.update(kw)
    return SubscriberIn.model_validate(values)


@pytest.fixture
def events(db: Database) -> list[Event]:
    seen: list[Event] = []
    db.bus.subscribe(Event, seen.append)
    return seen


def _audit(db: Database) -> list[tuple[str, str | None, dict[str, Any]]]:
    with db.session() as s:
        return [
            (a.action, a.entity_id, a.detail)
            for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


def _seed(db: Database, clock: ManualClock) -> None:
    with db.transaction() as s:
        actions.upsert_plan(s, PLAN, actor=TEST_ACTOR, now=clock.now())
        actions.upsert_plan(
            s,
            PLAN.model_copy(update={"code": "FTTC-80", "down_mbps": 80}),
            actor=TEST_ACTOR,
            now=clock.now(),
        )
        for code, lifestyle in (("MESH", "smart_home"), ("GAMER", "gaming")):
            actions.create_bundle(
                s,
                BundleIn(
                    code=code, name=code.title(), lifestyle=lifestyle, monthly_price=Decimal(5)
                ),
                actor=TEST_ACTOR,
                now=clock.now(),
            )


def test_upsert_plan_creates_updates_and_leaves_alone(
    db: Database, clock: ManualClock, events: list[Event]
) -> None:
    with db.transaction() as s:
        saved = actions.upsert_plan(s, PLAN, actor=TEST_ACTOR, now=clock.now())
        assert saved.outcome == "created" and events == []  # not before the commit
    plan_id = saved.row.id
    assert events == [actions.PlanCreated(plan_id, "FTTP-500")]
    with db.transaction() as s:
        plan = s.get(Plan, plan_id)
        assert plan is not None and plan.currency == "GBP" and plan.is_active is True
        again = actions.upsert_plan(s, PLAN, actor=TEST_ACTOR, now=clock.now())
        assert again.outcome == "unchanged" and again.row is plan
    cheaper = PLAN.model_copy(update={"monthly_price": Decimal("30.00"), "is_active": False})
    with db.transaction() as s:
        changed = actions.upsert_plan(s, cheaper, actor=TEST_ACTOR, now=clock.now())
    assert changed.outcome == "updated" and changed.changed == ("monthly_price", "is_active")
    assert events[-1] == actions.PlanUpdated(plan_id, ("monthly_price", "is_active"))
    assert _audit(db) == [
        ("plan.created", str(plan_id), {"code": "FTTP-500"}),
        (
            "plan.updated",
            str(plan_id),
            {"changed": {"monthly_price": ["35.00", "30.00"], "is_active": [True, False]}},
        ),
    ]
    # Not given (None) keeps the stored value.
    with db.transaction() as s:
        assert (
            actions.upsert_plan(
                s,
                PLAN.model_copy(update={"monthly_price": Decimal(30)}),
                actor=TEST_ACTOR,
                now=clock.now(),
            ).outcome
            == "unchanged"
        )


def test_create_bundle_refuses_a_taken_code(db: Database, clock: ManualClock) -> None:
    _seed(db, clock)
    with pytest.raises(Conflict, match="MESH already exists"), db.transaction() as s:
        actions.create_bundle(
            s,
            BundleIn(code="MESH", name="Again", lifestyle="general", monthly_price=Decimal(1)),
            actor=TEST_ACTOR,
            now=clock.now(),
        )


def test_a_new_subscriber_gets_defaults_and_lifecycle_dates(
    db: Database, clock: ManualClock, events: list[Event]
) -> None:
    _seed(db, clock)
    events.clear()
    with db.transaction() as s:
        saved = actions.upsert_subscriber(s, _sub(), actor=TEST_ACTOR, now=clock.now())
    sub = saved.row
    assert saved.created and sub.plan is not None and sub.plan.code == "FTTP-500"
    assert (sub.phone, sub.preferred_channel, sub.consent_email, sub.consent_sms) == (
        "",
        "email",
        True,
        False,
    )
    assert sub.activated_at == clock.now() and sub.churned_at is None
    assert sub.created_at == sub.updated_at == sub.consent_updated_at == clock.now()
    assert events == [actions.SubscriberCreated(sub.id, "active", "established", sub.plan_id)]
    assert _audit(db)[-1][:2] == ("subscriber.created", str(sub.id))


def test_a_prospect_is_not_activated(db: Database, clock: ManualClock) -> None:
    with db.transaction() as s:
        sub = actions.upsert_subscriber(
            s,
            _sub(plan_code=None, status="prospect", journey_stage="signup"),
            actor=TEST_ACTOR,
            now=clock.now(),
        ).row
    assert sub.activated_at is None and sub.plan_id is None


def test_churn_and_return_move_the_dates_and_publish(
    db: Database, clock: ManualClock, events: list[Event]
) -> None:
    _seed(db, clock)
    with db.transaction() as s:
        sub_id = actions.upsert_subscriber(s, _sub(), actor=TEST_ACTOR, now=clock.now()).row.id
    start = clock.now()
    clock.advance(timedelta(days=30))
    events.clear()
    with db.transaction() as s:
        saved = actions.upsert_subscriber(
            s, _sub(status="churned", journey_stage="churned"), actor=TEST_ACTOR, now=clock.now()
        )
    assert saved.changed == ("status", "journey_stage", "churned_at")
    assert saved.row.churned_at == clock.now() and saved.row.updated_at == clock.now()
    assert (
        actions.SubscriberStatusChanged(sub_id, "active", "churned", "established", "churned")
        in events
    )
    clock.advance(timedelta(days=10))
    with db.transaction() as s:
        back = actions.upsert_subscriber(
            s, _sub(journey_stage="onboarding"), actor=TEST_ACTOR, now=clock.now()
        ).row
    assert back.churned_at is None and back.activated_at == start  # first activation kept


def test_update_keeps_what_is_not_given_and_clears_what_is_empty(
    db: Database, clock: ManualClock
) -> None:
    _seed(db, clock)
    with db.transaction() as s:
        actions.upsert_subscriber(
            s, _sub(phone="+44 7700 900123", city="Leeds"), actor=TEST_ACTOR, now=clock.now()
        )
    clock.advance(timedelta(hours=1))
    with db.transaction() as s:
        saved = actions.upsert_subscriber(s, _sub(city=""), actor=TEST_ACTOR, now=clock.now())
    assert saved.changed == ("city",)
    assert (saved.row.phone, saved.row.city) == ("+44 7700 900123", "")
    assert saved.row.consent_updated_at == saved.row.created_at  # consent untouched


def test_consent_change_is_timestamped(db: Database, clock: ManualClock) -> None:
    _seed(db, clock)
    with db.transaction() as s:
        actions.upsert_subscriber(s, _sub(), actor=TEST_ACTOR, now=clock.now())
    clock.advance(timedelta(hours=2))
    with db.transaction() as s:
        sub = actions.upsert_subscriber(
            s, _sub(consent_marketing=True), actor=TEST_ACTOR, now=clock.now()
        ).row
    assert sub.consent_marketing is True and sub.consent_updated_at == clock.now()


def test_plan_change_is_published(db: Database, clock: ManualClock, events: list[Event]) -> None:
    _seed(db, clock)
    with db.transaction() as s:
        sub = actions.upsert_subscriber(s, _sub(), actor=TEST_ACTOR, now=clock.now()).row
        old_plan = sub.plan_id
    with db.transaction() as s:
        sub = actions.upsert_subscriber(
            s, _sub(plan_code="FTTC-80"), actor=TEST_ACTOR, now=clock.now()
        ).row
        assert sub.plan is not None and sub.plan.code == "FTTC-80"
    assert actions.SubscriberPlanChanged(sub.id, old_plan, sub.plan_id) in events


def test_unknown_plan_is_refused_and_nothing_written(db: Database, clock: ManualClock) -> None:
    with pytest.raises(ValidationFailed) as caught, db.transaction() as s:
        actions.upsert_subscriber(s, _sub(plan_code="NOPE"), actor=TEST_ACTOR, now=clock.now())
    assert caught.value.errors[0].field == "plan_code"
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_bundles_are_set_exactly(db: Database, clock: ManualClock, events: list[Event]) -> None:
    _seed(db, clock)
    with db.transaction() as s:
        sub = actions.upsert_subscriber(s, _sub(), actor=TEST_ACTOR, now=clock.now()).row
        saved = actions.set_subscriber_bundles(
            s, sub, BundleSelection(codes=("MESH", "GAMER")), actor=TEST_ACTOR, now=clock.now()
        )
        assert saved.outcome == "updated"
    assert actions.SubscriberBundlesChanged(sub.id, ("GAMER", "MESH"), ()) in events
    with db.transaction() as s:
        saved = actions.set_subscriber_bundles(
            s, sub.id, BundleSelection(codes=("MESH",)), actor=TEST_ACTOR, now=clock.now()
        )
        assert [b.code for b in saved.row.bundles] == ["MESH"]
        same = actions.set_subscriber_bundles(
            s, sub.id, BundleSelection(codes=("MESH",)), actor=TEST_ACTOR, now=clock.now()
        )
        assert same.outcome == "unchanged"
    assert events[-1] == actions.SubscriberBundlesChanged(sub.id, (), ("GAMER",))
    with pytest.raises(ValidationFailed, match="unknown bundle"), db.transaction() as s:
        actions.set_subscriber_bundles(
            s, sub.id, BundleSelection(codes=("MESH", "GOLD")), actor=TEST_ACTOR, now=clock.now()
        )
    with pytest.raises(NotFound), db.transaction() as s:
        actions.set_subscriber_bundles(
            s, sub.id + 99, BundleSelection(), actor=TEST_ACTOR, now=clock.now()
        )


def test_batch_mode_looks_up_once_defers_flush_and_still_publishes_ids(
    db: Database, clock: ManualClock, events: list[Event]
) -> None:
    """With a Known and audit=False (the import's way), creates are flushed together and the
    events still carry the ids; a rollback drops the waiting events."""
    _seed(db, clock)
    events.clear()
    with db.transaction() as s:
        known = actions.Known().fetch(s, plans=["FTTP-500", "NOPE"], subscribers=["A-1", "A-2"])
        assert known.plans["NOPE"] is None and known.subscribers == {"A-1": None, "A-2": None}
        first = actions.upsert_subscriber(
            s, _sub(), actor=TEST_ACTOR, now=clock.now(), known=known, audit=False
        ).row
        assert first.id is None  # not flushed yet
        assert known.subscribers["A-1"] is first
        actions.upsert_subscriber(
            s,
            _sub(account_number="A-2"),
            actor=TEST_ACTOR,
            now=clock.now(),
            known=known,
            audit=False,
        )
    assert [type(e).__name__ for e in events] == ["SubscriberCreated", "SubscriberCreated"]
    assert all(isinstance(e, actions.SubscriberCreated) and e.subscriber_id for e in events)
    assert [a for a in _audit(db) if a[0].startswith("subscriber")] == []
    events.clear()
    with pytest.raises(RuntimeError), db.transaction() as s:
        actions.upsert_subscriber(
            s, _sub(account_number="A-3"), actor=TEST_ACTOR, now=clock.now(), audit=False
        )
        raise RuntimeError("boom")
    with db.transaction() as s:
        s.add(Plan(code="X", name="x", down_mbps=1, up_mbps=1, monthly_price=Decimal(0)))
    assert events == []  # the rolled-back subscriber's event never surfaces


def test_set_consent_changes_only_the_given_consents(db: Database, clock: ManualClock) -> None:
    from tests.conftest import START
    from tests.factories import build_fleet, filler

    fleet = build_fleet(db, START, filler(1))
    sub = fleet.subscribers["FIL-0001"]
    with db.transaction() as s:
        # Stored data today's validators would refuse (no e-mail) does not stand in the way.
        s.get_one(Subscriber, sub).email = ""
    with db.transaction() as s:
        assert actions.set_consent(s, sub, sms=True, actor=TEST_ACTOR, now=clock.now())
        assert not actions.set_consent(s, sub, sms=True, actor=TEST_ACTOR, now=clock.now())
        with pytest.raises(NotFound):
            actions.set_consent(s, 999_999, sms=False, actor=TEST_ACTOR, now=clock.now())
    with db.session() as s:
        row = s.get_one(Subscriber, sub)
        assert (row.consent_sms, row.consent_email, row.consent_updated_at) == (
            True,
            True,
            clock.now(),
        )
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "subscriber.consent"))
        assert entry.detail == {"consent_sms": True}
