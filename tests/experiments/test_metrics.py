"""Each metric on hand-built data: what counts, the window, and when a subscriber is observed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.experiments import actions, metrics, service
from homeport.experiments.assignment import assign, variant_of
from homeport.experiments.models import Campaign, CampaignDelivery, ExperimentObservation
from homeport.journey.models import Survey
from homeport.retention.models import Recommendation
from homeport.selfservice.models import EngagementEvent
from homeport.subscribers.models import Subscriber
from homeport.support.models import Case
from tests.conftest import TEST_ACTOR
from tests.experiments.data import plain_subscribers

DAY = timedelta(days=1)


def _experiment(db: Database, clock: ManualClock, metric: str, ids: list[int]) -> str:
    key = f"exp-{metric.replace('_', '-')}"
    with db.transaction() as s:
        actions.create_experiment(
            s,
            key=key,
            name=metric,
            hypothesis="",
            variants=[{"name": "control", "weight": 1}, {"name": "b", "weight": 1}],
            metric=metric,
            actor=TEST_ACTOR,
            now=clock.now(),
        )
        e = actions.start(s, key, actor=TEST_ACTOR, now=clock.now())
        for sid in ids:
            assign(s, e, sid, clock.now())
    return key


def _case(sid: int, at: datetime, origin: str = "reactive") -> Case:
    return Case(
        subscriber_id=sid,
        origin=origin,
        channel="phone",
        category="slow_speed",
        status="new",
        subject="Slow",
        opened_at=at,
        updated_at=at,
        resolution_notes="",
    )


def _observed(db: Database, key: str) -> dict[int, float]:
    with db.session() as s:
        e = actions.get(s, key)
        rows = s.scalars(
            select(ExperimentObservation).where(ExperimentObservation.experiment_id == e.id)
        )
        return {r.subscriber_id: r.value for r in rows}


def test_contacted_7d(db: Database, clock: ManualClock) -> None:
    a, b, c, d = plain_subscribers(db, clock.now(), 4)
    t0 = clock.now()
    key = _experiment(db, clock, "contacted_7d", [a, b, c, d])
    with db.transaction() as s:
        s.add_all(
            [
                _case(a, t0 + 2 * DAY),  # counts
                _case(b, t0 - DAY),  # before the assignment
                _case(c, t0 + 7 * DAY + timedelta(minutes=1)),  # after the window
                _case(d, t0 + DAY, origin="proactive"),  # we contacted them
            ]
        )
    with db.transaction() as s:  # the window has not passed: nobody observed yet
        run = actions.observe(s, key, now=t0 + 6 * DAY)
        assert (run.observed, run.waiting) == (0, 4)
    with db.transaction() as s:
        run = actions.observe(s, key, now=t0 + 7 * DAY)
        assert run.observed == 4
    assert _observed(db, key) == {a: 1.0, b: 0.0, c: 0.0, d: 0.0}
    with db.transaction() as s:  # observed once, never recomputed
        assert actions.observe(s, key, now=t0 + 30 * DAY).observed == 0


def test_churned_90d(db: Database, clock: ManualClock) -> None:
    a, b, c = plain_subscribers(db, clock.now(), 3)
    t0 = clock.now()
    key = _experiment(db, clock, "churned_90d", [a, b, c])
    with db.transaction() as s:
        s.get(Subscriber, a).churned_at = t0 + 40 * DAY  # type: ignore[union-attr]
        s.get(Subscriber, b).churned_at = t0 + 95 * DAY  # type: ignore[union-attr]
    with db.transaction() as s:
        actions.observe(s, key, now=t0 + 90 * DAY)
    assert _observed(db, key) == {a: 1.0, b: 0.0, c: 0.0}


def test_offer_accepted_from_campaigns_and_recommendations(
    db: Database, clock: ManualClock
) -> None:
    a, b, c, d = plain_subscribers(db, clock.now(), 4)
    t0 = clock.now()
    key = _experiment(db, clock, "offer_accepted", [a, b, c, d])
    with db.transaction() as s:
        camp = Campaign(
            name="c",
            segment="gamer",
            channels=["portal"],
            subject="s",
            body="b",
            status="running",
            created_at=t0,
        )
        s.add(camp)
        s.flush()
        for sid, response in ((a, "interested"), (b, "not_now")):
            s.add(
                CampaignDelivery(
                    campaign_id=camp.id,
                    subscriber_id=sid,
                    channel="portal",
                    status="shown",
                    created_at=t0,
                    response=response,
                    responded_at=t0 + DAY,
                )
            )
        for sid, status in ((c, "accepted"), (d, "declined")):
            s.add(
                Recommendation(
                    subscriber_id=sid,
                    bundle_code="mesh",
                    reason="weak rooms",
                    status=status,
                    created_at=t0,
                    decided_at=t0 + 3 * DAY,
                    decided_via="agent",
                )
            )
    with db.transaction() as s:
        actions.observe(s, key, now=t0 + 30 * DAY)
    assert _observed(db, key) == {a: 1.0, b: 0.0, c: 1.0, d: 0.0}


def test_csat_mean_and_no_answer_no_observation(db: Database, clock: ManualClock) -> None:
    a, b, c = plain_subscribers(db, clock.now(), 3)
    t0 = clock.now()
    key = _experiment(db, clock, "csat", [a, b, c])

    def survey(sid: int, score: int | None, at: datetime, kind: str = "csat") -> Survey:
        return Survey(
            subscriber_id=sid,
            kind=kind,
            moment="case_solved",
            channel="email",
            sent_at=at,
            expires_at=at + 7 * DAY,
            answered_at=at if score is not None else None,
            score=score,
        )

    with db.transaction() as s:
        s.add_all(
            [
                survey(a, 4, t0 + DAY),
                survey(a, 5, t0 + 2 * DAY),
                survey(b, 9, t0 + DAY, kind="nps"),  # not CSAT
                survey(b, None, t0 + DAY),  # unanswered
                survey(c, 1, t0 + 31 * DAY),  # too late
            ]
        )
    with db.transaction() as s:
        run = actions.observe(s, key, now=t0 + 30 * DAY)
        assert (run.observed, run.no_value) == (1, 2)
    assert _observed(db, key) == {a: 4.5}


def test_portal_active_30d(db: Database, clock: ManualClock) -> None:
    a, b = plain_subscribers(db, clock.now(), 2)
    t0 = clock.now()
    key = _experiment(db, clock, "portal_active_30d", [a, b])
    with db.transaction() as s:
        s.add(EngagementEvent(subscriber_id=a, at=t0 + 10 * DAY, kind="page_view", detail={}))
        s.add(EngagementEvent(subscriber_id=b, at=t0 - DAY, kind="page_view", detail={}))
    with db.transaction() as s:
        actions.observe(s, key, now=t0 + 30 * DAY)
    assert _observed(db, key) == {a: 1.0, b: 0.0}


def test_result_compares_variants_from_observations(db: Database, clock: ManualClock) -> None:
    ids = plain_subscribers(db, clock.now(), 400)
    t0 = clock.now()
    key = _experiment(db, clock, "contacted_7d", ids)
    with db.session() as s:
        e = actions.get(s, key)
        variant = {sid: variant_of(e, sid) for sid in ids}
    # Every control subscriber contacts support, nobody in b: a clear difference.
    with db.transaction() as s:
        s.add_all(_case(sid, t0 + DAY) for sid in ids if variant[sid] == "control")
    with db.session() as s:
        early = service.result(s, key)
        assert early.outcomes[0].verdict.status == "insufficient_data"
        assert [v.assigned for v in early.variants] == [
            sum(v == "control" for v in variant.values()),
            sum(v == "b" for v in variant.values()),
        ]
    with db.transaction() as s:
        actions.observe(s, key, now=t0 + 7 * DAY)
    with db.session() as s:
        r = service.result(s, key)
        (o,) = r.outcomes
        assert o.comparison is not None
        assert o.comparison.difference == pytest.approx(-1.0)
        assert o.verdict.status == "better"
        data = r.as_dict()
        assert data["comparisons"][0]["verdict"] == "better"
        assert data["variants"][0]["mean"] == 1.0


def test_unknown_metric_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.metric("happiness")
