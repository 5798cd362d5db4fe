"""Assignment is random (shares follow the weights, chi-square) and stable (same subscriber,
same variant), stored on first exposure."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from scipy import stats as sps  # type: ignore[import-untyped]

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import Conflict, ValidationFailed
from homeport.experiments import actions
from homeport.experiments.assignment import (
    assign,
    check_variants,
    choose,
    position,
    variant_for,
)
from homeport.experiments.models import ExperimentAssignment
from tests.conftest import TEST_ACTOR
from tests.experiments.data import plain_subscribers

HALVES = [{"name": "control", "weight": 50}, {"name": "friendly", "weight": 50}]


def _shares(variants: list[dict[str, int | str]], salt: str, n: int) -> dict[str, int]:
    counts = {str(v["name"]): 0 for v in variants}
    for sid in range(1, n + 1):
        counts[choose(variants, position(salt, sid))] += 1
    return counts


@pytest.mark.parametrize(
    ("weights", "salt"),
    [((50, 50), "a1b2"), ((70, 20, 10), "salt-two"), ((1, 1, 1, 1), "x")],
)
def test_shares_follow_the_weights(weights: tuple[int, ...], salt: str) -> None:
    variants: list[dict[str, int | str]] = [
        {"name": f"v{i}", "weight": w} for i, w in enumerate(weights)
    ]
    n = 20_000
    counts = _shares(variants, salt, n)
    expected = [n * w / sum(weights) for w in weights]
    chi2, p = sps.chisquare(list(counts.values()), expected)
    # A correct assignment fails this 1 time in 1000; a biased one (2 points off) always.
    assert p > 0.001, (counts, chi2)


def test_positions_are_uniform() -> None:
    u = np.array([position("uniform", i) for i in range(1, 10_001)])
    assert ((u >= 0) & (u < 1)).all()
    assert sps.kstest(u, "uniform").pvalue > 0.001


def test_same_subscriber_same_variant_and_salts_are_independent() -> None:
    first = [choose(HALVES, position("s1", i)) for i in range(1, 5001)]
    again = [choose(HALVES, position("s1", i)) for i in range(1, 5001)]
    other = [choose(HALVES, position("s2", i)) for i in range(1, 5001)]
    assert first == again
    agree = sum(a == b for a, b in zip(first, other, strict=True)) / len(first)
    assert 0.47 < agree < 0.53  # independent halves agree half the time


def test_bad_variants_are_refused_with_every_problem() -> None:
    with pytest.raises(ValidationFailed) as err:
        check_variants([{"name": "Control!", "weight": 0}, {"name": "b", "weight": 1.5}])
    fields = {e.field for e in err.value.errors}
    assert fields == {"variants[0].name", "variants[0].weight", "variants[1].weight"}
    with pytest.raises(ValidationFailed):
        check_variants([{"name": "only", "weight": 1}])
    with pytest.raises(ValidationFailed):
        check_variants([{"name": "a", "weight": 1}, {"name": "a", "weight": 1}])


def test_assignment_is_stored_on_first_exposure_and_kept(db: Database, clock: ManualClock) -> None:
    ids = plain_subscribers(db, clock.now(), 200)
    with db.transaction() as s:
        e = actions.create_experiment(
            s,
            key="notify-wording",
            name="Outage notice wording",
            hypothesis="A friendly notice lowers repeat contacts",
            variants=HALVES,
            metric="contacted_7d",
            actor=TEST_ACTOR,
            now=clock.now(),
        )
        with pytest.raises(Conflict, match="not running"):
            assign(s, e, ids[0], clock.now())
        assert variant_for(s, "notify-wording", ids[0], clock.now()) is None
        actions.start(s, "notify-wording", actor=TEST_ACTOR, now=clock.now())
    first = {}
    with db.transaction() as s:
        for sid in ids:
            first[sid] = variant_for(s, "notify-wording", sid, clock.now())
    clock.advance(timedelta(days=3))
    with db.transaction() as s:
        for sid in ids:
            assert variant_for(s, "notify-wording", sid, clock.now()) == first[sid]
        rows = s.query(ExperimentAssignment).all()
        assert len(rows) == 200
        # The first exposure's time is kept.
        assert {r.assigned_at for r in rows} == {clock.now() - timedelta(days=3)}
        assert set(first.values()) == {"control", "friendly"}
        assert variant_for(s, "no-such-experiment", ids[0], clock.now()) is None
        actions.stop(s, "notify-wording", actor=TEST_ACTOR, now=clock.now())
    with db.transaction() as s:
        assert variant_for(s, "notify-wording", ids[0], clock.now()) is None
        with pytest.raises(Conflict):
            actions.start(s, "notify-wording", actor=TEST_ACTOR, now=clock.now())


def test_experiment_input_is_checked(db: Database, clock: ManualClock) -> None:
    with db.transaction() as s:
        with pytest.raises(ValidationFailed) as err:
            actions.create_experiment(
                s,
                key="Bad Key",
                name="",
                hypothesis="",
                variants=HALVES,
                metric="happiness",
                actor=TEST_ACTOR,
                now=clock.now(),
            )
        assert {e.field for e in err.value.errors} == {"key", "name", "metric"}
        actions.create_experiment(
            s,
            key="dup",
            name="One",
            hypothesis="",
            variants=HALVES,
            metric="csat",
            actor=TEST_ACTOR,
            now=clock.now(),
        )
        with pytest.raises(Conflict):
            actions.create_experiment(
                s,
                key="dup",
                name="Two",
                hypothesis="",
                variants=HALVES,
                metric="csat",
                actor=TEST_ACTOR,
                now=clock.now(),
            )
