"""At-risk subscribers to the Retention queue (once per 30 days), saves and losses; the Telco
evaluation on the real file and the CLI's JSON."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from homeport.cli.main import app as cli
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import Conflict, ValidationFailed
from homeport.retention import risk_actions, telco
from homeport.retention.models import ChurnScore, RetentionOutcome
from homeport.subscribers.models import Subscriber
from homeport.support import actions as support_actions
from homeport.support import defaults
from homeport.support.models import Case, SupportQueue
from tests.conftest import TEST_ACTOR
from tests.factories import Fleet, build_fleet

TELCO = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "telco-churn"
TELCO_CSV = TELCO / "WA_Fn-UseC_-Telco-Customer-Churn.csv"


def _desk_and_scores(db: Database, now: datetime) -> Fleet:
    fleet = build_fleet(db, now)
    with db.transaction() as s:
        defaults.install(s, now=now, actor=TEST_ACTOR, timezone="Europe/London")
        for account, score, reasons in (
            ("ACC-1001", 0.81, ["3 contacts about slow speed in 30 days", "tenure under 6 months"]),
            ("ACC-1002", 0.55, ["experience score fell from 82 to 54"]),
            ("ACC-1003", 0.12, []),
        ):
            s.add(
                ChurnScore(
                    subscriber_id=fleet.subscribers[account],
                    score=score,
                    band="high" if score >= 0.5 else "low",
                    reasons=reasons,
                    scored_at=now,
                )
            )
    return fleet


def test_high_risks_get_a_retention_case_once_per_30_days(db: Database, clock: ManualClock) -> None:
    now = clock.now()
    fleet = _desk_and_scores(db, now)
    with db.transaction() as s:
        flagged = risk_actions.flag_at_risk(s, now, threshold=0.5)
        assert [f.subscriber_id for f in flagged] == [
            fleet.subscribers["ACC-1001"],
            fleet.subscribers["ACC-1002"],
        ]
    with db.session() as s:
        retention = s.scalars(select(SupportQueue).where(SupportQueue.name == "Retention")).one()
        cases = s.scalars(select(Case).where(Case.category == "at_risk").order_by(Case.id)).all()
        assert len(cases) == 2
        first = cases[0]
        assert first.subscriber_id == fleet.subscribers["ACC-1001"]
        assert (first.channel, first.queue_id, first.priority) == ("system", retention.id, "high")
        assert first.subject == "Churn risk 81%: 3 contacts about slow speed in 30 days"
        assert "- 3 contacts about slow speed in 30 days" in first.description
        assert "- tenure under 6 months" in first.description
        outcome = s.scalars(
            select(RetentionOutcome).where(RetentionOutcome.case_id == first.id)
        ).one()
        assert (outcome.outcome, outcome.score) == ("open", 0.81)
        assert outcome.reasons[0] == "3 contacts about slow speed in 30 days"
    # Not again within 30 days, even when still at risk; again after.
    with db.transaction() as s:
        assert risk_actions.flag_at_risk(s, now + timedelta(days=29), threshold=0.5) == []
    with db.transaction() as s:
        again = risk_actions.flag_at_risk(s, now + timedelta(days=31), threshold=0.5, limit=1)
        assert [f.subscriber_id for f in again] == [fleet.subscribers["ACC-1001"]]
    with db.transaction() as s, pytest.raises(ValidationFailed):
        risk_actions.flag_at_risk(s, now, threshold=0)


def test_saves_and_losses(db: Database, clock: ManualClock) -> None:
    now = clock.now()
    fleet = _desk_and_scores(db, now)
    with db.transaction() as s:
        alice, bob = risk_actions.flag_at_risk(s, now, threshold=0.5)
        alice_id, bob_id, bob_case = alice.id, bob.id, bob.case_id
    # An agent's verdict, once.
    with db.transaction() as s:
        risk_actions.record_outcome(
            s, alice_id, "saved", now=now + timedelta(days=2), actor=TEST_ACTOR, note="discount"
        )
    with db.transaction() as s, pytest.raises(Conflict, match="already saved"):
        risk_actions.record_outcome(s, alice_id, "lost", now=now, actor=TEST_ACTOR)
    with db.transaction() as s, pytest.raises(ValidationFailed):
        risk_actions.record_outcome(s, bob_id, "maybe", now=now, actor=TEST_ACTOR)
    # Bob's case is solved; 90 days later he is still a customer: saved.
    with db.transaction() as s:
        support_actions.set_status(
            s,
            bob_case or 0,
            "solved",
            now=now + timedelta(days=1),
            actor=TEST_ACTOR,
            outcome="no_fault_found",
        )
    with db.transaction() as s:
        assert risk_actions.settle(s, now + timedelta(days=60)) == risk_actions.Settled(0, 0)
    with db.transaction() as s:
        assert risk_actions.settle(s, now + timedelta(days=92)) == risk_actions.Settled(1, 0)
    with db.session() as s:
        row = s.get_one(RetentionOutcome, bob_id)
        assert row.outcome == "saved" and row.decided_at == now + timedelta(days=92)
    # Flagged again later, then he leaves: lost.
    with db.transaction() as s:
        flags = risk_actions.flag_at_risk(s, now + timedelta(days=100), threshold=0.5, limit=5)
        assert len(flags) == 2
        flag = next(f for f in flags if f.subscriber_id == fleet.subscribers["ACC-1002"])
        sub = s.get_one(Subscriber, fleet.subscribers["ACC-1002"])
        sub.status, sub.journey_stage = "churned", "churned"
        sub.churned_at = now + timedelta(days=110)
        flag_id = flag.id
    with db.transaction() as s:
        assert risk_actions.settle(s, now + timedelta(days=111)) == risk_actions.Settled(0, 1)
        assert s.get_one(RetentionOutcome, flag_id).outcome == "lost"


@pytest.mark.skipif(not TELCO_CSV.is_file(), reason="the IBM Telco CSV is not in ../shared/data")
def test_telco_evaluation_reaches_the_published_auc() -> None:
    result = telco.evaluate(TELCO_CSV, folds=0)
    assert result["rows"] == 7043 and result["positives"] == 1869
    assert result["blank_total_charges"] == 11
    assert result["split"]["test_rows"] == 1761
    assert result["roc_auc"] >= 0.84, result
    assert 0.5 < result["pr_auc"] < 1


def test_telco_rejects_another_file(tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(telco.TelcoDataError, match="not the IBM Telco churn CSV"):
        telco.load(other)


@pytest.mark.skipif(not TELCO_CSV.is_file(), reason="the IBM Telco CSV is not in ../shared/data")
def test_cli_evaluate_prints_json() -> None:
    result = CliRunner().invoke(
        cli, ["retention", "evaluate", "--csv", str(TELCO_CSV), "--json", "--folds", "0"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert {"roc_auc", "pr_auc", "rows", "positives", "split"} <= set(payload)
    missing = CliRunner().invoke(cli, ["retention", "evaluate", "--csv", "/nonexistent.csv"])
    assert missing.exit_code == 1 and "no such file" in missing.output
