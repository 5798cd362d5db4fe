"""Churn risk: features at a cut-off, labels and the time split without leakage, training,
scoring with reasons in words."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import Conflict, NotFound
from homeport.health.models import ExperienceScore
from homeport.journey.models import Survey
from homeport.retention import churn, features, reasons
from homeport.retention.models import ChurnModel, ChurnScore
from homeport.subscribers.models import Subscriber
from homeport.support.models import WorkOrder
from tests.factories import build_fleet
from tests.retention.churn_data import contact, population, unhappy_history


def _values(frame: features.FeatureFrame, subscriber_id: int) -> dict[str, float]:
    row = int(np.flatnonzero(frame.subscriber_ids == subscriber_id)[0])
    return dict(zip(features.FEATURES, frame.numeric[row].tolist(), strict=True))


def test_features_at_a_cutoff_on_a_hand_built_home(db: Database, clock: ManualClock) -> None:
    t = clock.now()
    fleet = build_fleet(db, t)
    unhappy_history(db, fleet, "ACC-1001", t)
    with db.session() as s:
        frame = features.compute(s, t)
    # In force: active and suspended subscribers with an activation; not the prospect
    # (ACC-1005) nor the onboarding one (BRI-2001 has activated_at too in the factory).
    alice = _values(frame, fleet.subscribers["ACC-1001"])
    assert alice["tenure_months"] == pytest.approx(400 / (365.25 / 12))
    assert alice["monthly_price"] == pytest.approx(49.99)
    assert alice["down_mbps"] == 1000
    assert alice["bundles"] == 2
    assert alice["score_recent"] == pytest.approx(54.0)
    assert alice["score_previous"] == pytest.approx(82.0)
    assert alice["score_change"] == pytest.approx(-28.0)
    assert (alice["findings_open"], alice["findings_severe"]) == (1, 1)
    assert (alice["contacts_30d"], alice["cases_30d"], alice["cases_90d"]) == (3, 3, 3)
    assert alice["cancel_requests_90d"] == 0
    assert alice["truck_rolls_90d"] == 1
    assert alice["nps"] == 3  # the latest answer, not the earlier 8
    assert math.isnan(alice["csat"])
    assert alice["app_events_30d"] == 0
    assert alice["days_since_app"] == pytest.approx(120)
    assert alice["outages_90d"] == 1
    row = int(np.flatnonzero(frame.subscriber_ids == fleet.subscribers["ACC-1001"])[0])
    assert frame.top_category[row] == "slow_speed"
    assert frame.categorical[row, 0] == "fttp"
    bob = _values(frame, fleet.subscribers["ACC-1002"])
    assert math.isnan(bob["score_recent"]) and bob["contacts_30d"] == 0
    assert bob["days_since_app"] == pytest.approx(400)  # never used: since activation
    assert fleet.subscribers["ACC-1005"] not in frame.subscriber_ids.tolist()
    # Only some subscribers: the same values.
    with db.session() as s:
        one = features.compute(s, t, subscriber_ids=[fleet.subscribers["ACC-1001"]])
    assert one.subscriber_ids.tolist() == [fleet.subscribers["ACC-1001"]]
    np.testing.assert_array_equal(one.numeric[0], frame.numeric[row])


def test_nothing_written_after_the_cutoff_changes_the_features(
    db: Database, clock: ManualClock
) -> None:
    t = clock.now()
    fleet = build_fleet(db, t)
    unhappy_history(db, fleet, "ACC-1001", t)
    with db.session() as s:
        before = features.compute(s, t)
    sid, home = fleet.subscribers["ACC-1001"], fleet.homes["ACC-1001"]
    later = t + timedelta(minutes=1)
    contact(db, sid, later, "cancel_service")
    contact(db, fleet.subscribers["ACC-1002"], t + timedelta(days=2), "wifi")
    with db.transaction() as s:
        s.add(
            ExperienceScore(
                home_id=home,
                period_start=t,  # the hour starting at T ends after T
                score=5.0,
                wan_service=5.0,
                wan_continuity=5.0,
                wifi_coverage=5.0,
                wifi_efficiency=5.0,
                device_health=5.0,
            )
        )
        s.add(
            Survey(
                subscriber_id=sid,
                kind="csat",
                moment="case_solved",
                channel="email",
                sent_at=t - timedelta(days=1),
                expires_at=t + timedelta(days=13),
                answered_at=later,
                score=1,
            )
        )
        s.add(
            WorkOrder(
                subscriber_id=sid,
                kind="repair",
                status="scheduled",
                window_start=later,
                window_end=later + timedelta(hours=4),
                created_at=later,
            )
        )
        # A subscriber who churns after T is still in force at T.
        bob = s.get_one(Subscriber, fleet.subscribers["ACC-1002"])
        bob.status, bob.journey_stage, bob.churned_at = "churned", "churned", later
    with db.session() as s:
        after = features.compute(s, t)
        assert after.subscriber_ids.tolist() == before.subscriber_ids.tolist()
        np.testing.assert_array_equal(after.numeric, before.numeric)
        np.testing.assert_array_equal(after.top_category, before.top_category)
        # ... and labels it as churned within the horizon.
        y = features.labels(s, after, timedelta(days=90))
        churned = after.subscriber_ids[y == 1].tolist()
        assert churned == [fleet.subscribers["ACC-1002"]]
        assert features.labels(s, after, timedelta(seconds=30)).sum() == 0
        # At a later cut-off the new rows count.
        moved = _values(features.compute(s, later + timedelta(hours=2)), sid)
    assert moved["cancel_requests_90d"] == 1 and moved["csat"] == 1


def test_training_label_windows_end_before_the_test_period() -> None:
    now_ = datetime(2026, 11, 23, tzinfo=UTC)
    cuts = churn.plan(now_, horizon_days=90, snapshots=4, step_days=30)
    assert cuts.test == now_ - timedelta(days=90)
    assert len(cuts.train) == 4 and list(cuts.train) == sorted(cuts.train)
    for t in cuts.train:
        assert t + cuts.horizon <= cuts.test
    with pytest.raises(ValueError, match="at least 1"):
        churn.plan(now_, horizon_days=0)


def test_train_and_score_with_reasons(db: Database, clock: ManualClock) -> None:
    now = clock.now()
    fleet = build_fleet(db, now)
    population(db, fleet, now)
    with db.session() as s, pytest.raises(NotFound, match="retention train"):
        churn.score_all(s, now)
    with db.transaction() as s:
        row = churn.train(s, now)
        model_id = row.id
    with db.session() as s:
        stored = s.get_one(ChurnModel, model_id)
        assert stored.kind == "logistic_regression"
        assert stored.metrics["roc_auc"] > 0.75, stored.metrics
        assert 0 < stored.metrics["pr_auc"] <= 1
        assert stored.metrics["test_cutoff"] == (now - timedelta(days=90)).isoformat()
        assert stored.features[:2] == ["tenure_months", "monthly_price"]
        assert len(stored.blob) > 100
    unhappy_history(db, fleet, "ACC-1001", now)
    with db.transaction() as s:
        run = churn.score_all(s, now, batch=7)
    with db.session() as s:
        in_force = features.compute(s, now)
        assert run.scored == len(in_force) == s.scalar(select(func.count(ChurnScore.id)))
        alice = s.scalars(
            select(ChurnScore).where(ChurnScore.subscriber_id == fleet.subscribers["ACC-1001"])
        ).one()
        assert alice.model_id == model_id and alice.scored_at == now
        median = float(np.median(s.scalars(select(ChurnScore.score)).all()))
        assert alice.score > 2 * median, (alice.score, median, alice.reasons)
        contacts = {
            "3 contacts about slow speed in 30 days",
            "3 cases about slow speed in 30 days",
            "3 cases in 90 days",
        }
        assert contacts & set(alice.reasons), alice.reasons
        assert 1 <= len(alice.reasons) <= 3
        bob = s.scalars(
            select(ChurnScore).where(ChurnScore.subscriber_id == fleet.subscribers["ACC-1002"])
        ).one()
        assert bob.score < alice.score
    # Scoring again updates in place; a churned subscriber's score goes.
    with db.transaction() as s:
        gone = s.get_one(Subscriber, fleet.subscribers["ACC-1002"])
        gone.status, gone.journey_stage = "churned", "churned"
        gone.churned_at = now + timedelta(hours=1)
    with db.transaction() as s:
        again = churn.score_all(s, now + timedelta(hours=2))
    assert again.removed == 1 and again.scored == run.scored - 1
    with db.session() as s:
        assert s.scalar(select(func.count(ChurnScore.id))) == run.scored - 1


def test_training_without_churn_says_why(db: Database, clock: ManualClock) -> None:
    build_fleet(db, clock.now())
    with db.transaction() as s, pytest.raises(Conflict, match="not enough history"):
        churn.train(s, clock.now())


def test_reasons_in_words() -> None:
    nan = math.nan
    v = dict.fromkeys(features.FEATURES, 0.0) | {
        "score_recent": 54.0,
        "score_previous": 82.0,
        "contacts_30d": 3.0,
        "tenure_months": 4.0,
        "days_since_app": 130.0,
        "nps": 2.0,
        "csat": nan,
        "truck_rolls_90d": 1.0,
        "findings_open": 2.0,
    }
    say = reasons.sentence
    assert say("score_change", v) == "experience score fell from 82 to 54"
    assert say("contacts_30d", v, "slow_speed") == "3 contacts about slow speed in 30 days"
    assert say("tenure_months", v) == "tenure under 6 months"
    assert say("days_since_app", v) == "no app use for 90 days"
    assert say("nps", v) == "gave an NPS of 2 out of 10"
    assert say("csat", v) is None
    assert say("truck_rolls_90d", v) == "1 technician visit in 90 days"
    assert say("findings_open", v) == "2 unresolved problems on the home network"
    assert say("technology", v, technology="adsl") == "on an ADSL copper line"
    assert say("tenure_months", v | {"tenure_months": 40.0}) is None
    # The strongest positive contributions first, at most three, each said once.
    names = (*features.FEATURES, *features.CATEGORICAL)
    contributions = np.zeros((1, len(names)))
    for name, c in (
        ("contacts_30d", 1.2),
        ("score_change", 0.9),
        ("score_recent", 0.8),
        ("tenure_months", 0.5),
        ("days_since_app", 0.3),
        ("monthly_price", -2.0),
    ):
        contributions[0, names.index(name)] = c
    numeric = np.array([[v[f] for f in features.FEATURES]])
    said = reasons.top_reasons(
        contributions, numeric, np.array([["fttp"]], dtype=object), np.array(["slow_speed"])
    )
    assert said == [
        [
            "3 contacts about slow speed in 30 days",
            "experience score fell from 82 to 54",
            "tenure under 6 months",
        ]
    ]
