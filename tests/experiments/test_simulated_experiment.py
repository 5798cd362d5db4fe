"""The simulator runs the notification-wording experiment end to end: the interval covers the
true effect, and with no effect the verdict is "no evidence"."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import ValidationFailed
from homeport.experiments.models import ExperimentAssignment, ExperimentObservation
from homeport.simulator import experiment
from homeport.support.models import Case
from tests.experiments.data import plain_subscribers


def test_interval_covers_the_true_effect(db: Database, clock: ManualClock) -> None:
    plain_subscribers(db, clock.now(), 3000)
    run = experiment.run(db, subscribers=3000, days=21, effect=-0.05, now=clock.now(), seed=7)
    assert not run.fleet_generated and run.subscribers == 3000
    (outcome,) = run.result.outcomes
    c = outcome.comparison
    assert c is not None
    assert c.ci_low <= -0.05 <= c.ci_high
    assert outcome.verdict.status == "better"
    assert outcome.verdict.text.startswith("friendly lowers the share who contacted support")
    with db.session() as s:
        # Every contact is a real case; every assigned subscriber was measured.
        assert s.scalar(select(func.count()).select_from(Case)) == run.contacts
        assert s.scalar(select(func.count()).select_from(ExperimentAssignment)) == 3000
        assert s.scalar(select(func.count()).select_from(ExperimentObservation)) == 3000
    assert sum(v.observed for v in run.result.variants) == 3000
    share = run.result.variants[1].assigned / 3000
    assert 0.46 < share < 0.54


def test_no_effect_gives_no_evidence_on_a_generated_fleet(db: Database, clock: ManualClock) -> None:
    run = experiment.run(db, subscribers=1500, days=14, effect=0.0, now=clock.now(), seed=11)
    assert run.fleet_generated
    (outcome,) = run.result.outcomes
    assert outcome.verdict.status == "no_evidence"
    assert outcome.verdict.text.startswith("not enough evidence yet")
    assert "more subscribers per variant" in outcome.verdict.text
    assert outcome.comparison is not None
    assert outcome.comparison.ci_low <= 0 <= outcome.comparison.ci_high


def test_bad_parameters_are_refused(db: Database, clock: ManualClock) -> None:
    with pytest.raises(ValidationFailed) as err:
        experiment.run(db, subscribers=1, days=3, effect=0.5, now=clock.now(), base_rate=0.9)
    assert {e.field for e in err.value.errors} == {"subscribers", "days", "effect"}
