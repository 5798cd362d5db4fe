"""Each criterion judged on hand-built figures (met and unmet), the all-lower-stages rule, the
gaps to the next stage, and thresholds taken from configuration."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from homeport.core.maturity_settings import MaturitySettings
from homeport.core.settings import Settings
from homeport.journey.models import EVENT_KINDS
from homeport.maturity import criteria, service
from homeport.maturity.evidence import KPI_FAMILIES, Facts

UNTIL = datetime(2026, 11, 23, tzinfo=UTC)
SINCE = UNTIL - timedelta(days=90)
S = MaturitySettings()


def stage5() -> Facts:
    """A BSP meeting every criterion of every stage, with figures worked out by hand."""
    return Facts(
        since=SINCE,
        until=UNTIL,
        active_subscribers=1000,
        cases_opened=200,
        cases_solved=180,
        cases_solved_categorised=175,  # 97 %
        reactive_technical_opened=40,
        reactive_technical_diagnosed=30,  # 75 %
        reactive_technical_solved=40,
        reactive_technical_remote_fix=20,  # 50 %
        fcr_cases=60,
        fcr_resolved=45,
        proactive_cases=40,  # 40 / (40 + 40) = 50 % of technical cases
        self_service_users=600,
        live_channel_contacts={"phone": 30, "email": 20, "chat": 9, "chatbot": 50, "app": 4},
        live_channels=["phone", "email", "chat", "chatbot"],
        kpis_tracked=["a", "b", "c", "d", "e", "f"],
        auto_fixed_findings=40,
        auto_remediation_actions=45,
        containment_rate=0.4,
        containment_conversations=50,
        kpis_with_targets=["a", "b", "c", "d", "e", "f"],
        kpi_reports=1,
        visits_completed=10,
        visits_with_recommendation=3,
        proactive_issues=80,  # 80 / (80 + 40) = 67 %
        proactive_resolved_no_contact=50,  # 62 %
        kpi_families_with_targets=list(KPI_FAMILIES),
        nps_moments=["case_solved", "post_install", "relationship"],
        owned_stages=list(EVENT_KINDS),
        technical_opened=80,
        truck_rolls=8,  # 10 % against a 15 % target
        truck_roll_target=15.0,
        digital_users=600,
    )


def judged(facts: Facts, s: MaturitySettings = S) -> dict[str, criteria.Criterion]:
    return {c.id: c for c in criteria.judge(facts, s)}


def test_a_bsp_meeting_everything_is_stage_5_with_no_gap() -> None:
    result = service.evaluate(stage5(), S)
    assert result.stage == 5
    assert result.next_stage_gaps == []
    assert all(c.met for c in result.criteria)
    # One criterion per row of DESIGN.md section 7's table.
    per_stage = {s: len(cs) for s, cs in result.by_stage().items()}
    assert per_stage == {1: 2, 2: 3, 3: 4, 4: 7, 5: 8}
    c = {c.id: c for c in result.criteria}
    assert c["proactive_share"].value == pytest.approx(80 / 120)
    assert c["proactive_cases"].value == pytest.approx(0.5)
    assert c["truck_roll_rate"].value == pytest.approx(10.0)
    assert c["truck_roll_rate"].at_most and c["truck_roll_rate"].threshold == 15.0


# (criterion, a change of the stage-5 facts that fails it, the stage it belongs to)
UNMET = [
    ("cases_recorded", {"cases_opened": 9}, 1),
    ("cases_categorised", {"cases_solved_categorised": 161}, 1),  # 161/180 = 89.4 %
    ("cases_categorised", {"cases_solved": 0, "cases_solved_categorised": 0}, 1),
    ("remote_diagnostics", {"reactive_technical_diagnosed": 19}, 2),  # 47.5 %
    ("remote_fix", {"reactive_technical_remote_fix": 9}, 2),  # 22.5 %
    ("fcr_measured", {"fcr_cases": 9, "fcr_resolved": 9}, 2),
    ("proactive_cases", {"proactive_cases": 4, "proactive_issues": 44}, 3),  # 4/44 = 9 %
    ("self_service_users", {"self_service_users": 99}, 3),
    ("channels_besides_phone", {"live_channels": ["phone", "email"]}, 3),
    ("kpis_tracked", {"kpis_tracked": ["a", "b", "c", "d"]}, 3),
    ("proactive_share", {"proactive_issues": 26}, 4),  # 26/66 = 39 %
    ("auto_remediation", {"auto_remediation_actions": 0}, 4),
    ("self_service_containment", {"containment_rate": 0.24}, 4),
    ("self_service_containment", {"containment_rate": None}, 4),
    ("live_channels_with_chat", {"live_channels": ["phone", "email", "sms", "app"]}, 4),
    ("kpi_targets", {"kpis_with_targets": ["a", "b", "c", "d"]}, 4),
    ("kpi_reports", {"kpi_reports": 0}, 4),
    ("technician_recommendations", {"visits_with_recommendation": 2}, 4),
    ("technician_recommendations", {"visits_completed": 0, "visits_with_recommendation": 0}, 4),
    ("proactive_share_excellent", {"proactive_issues": 59}, 5),  # 59/99 = 59.6 %
    ("proactive_no_contact", {"proactive_resolved_no_contact": 39}, 5),  # 39/80
    ("kpi_families", {"kpi_families_with_targets": list(KPI_FAMILIES[:-1])}, 5),
    ("nps_moments", {"nps_moments": ["post_install", "relationship"]}, 5),
    ("journey_owners", {"owned_stages": list(EVENT_KINDS[:-1])}, 5),
    ("live_channels", {"live_channels": ["phone", "email", "chatbot"]}, 5),
    ("truck_roll_rate", {"truck_rolls": 13}, 5),  # 16.25 % > 15 %
    ("truck_roll_rate", {"truck_roll_target": None}, 5),
    ("digital_adoption", {"digital_users": 499}, 5),
]


@pytest.mark.parametrize(("cid", "change", "stage"), UNMET)
def test_each_criterion_fails_on_its_own_figure(
    cid: str, change: dict[str, object], stage: int
) -> None:
    facts = replace(stage5(), **change)  # type: ignore[arg-type]
    c = judged(facts)
    assert not c[cid].met
    assert c[cid].stage == stage
    assert c[cid].evidence
    result = service.evaluate(facts, S)
    # The stage falls to just below the failed criterion's stage: all lower stages must hold.
    assert result.stage == stage - 1
    assert cid in {g.id for g in result.next_stage_gaps}
    assert all(g.stage == stage for g in result.next_stage_gaps)


def test_exact_thresholds_are_met() -> None:
    facts = replace(
        stage5(),
        reactive_technical_diagnosed=20,  # exactly 50 %
        reactive_technical_remote_fix=10,  # exactly 25 %
        truck_rolls=12,  # exactly 15 % = target
        digital_users=500,
    )
    c = judged(facts)
    assert c["remote_diagnostics"].met and c["remote_fix"].met
    assert c["truck_roll_rate"].met and c["digital_adoption"].met


def test_a_higher_stage_does_not_count_without_the_lower_ones() -> None:
    # Everything of stages 3-5 holds, but remote fixes are rare: stage 1, whatever else.
    facts = replace(stage5(), reactive_technical_remote_fix=2)
    result = service.evaluate(facts, S)
    assert result.stage == 1
    assert [g.id for g in result.next_stage_gaps] == ["remote_fix"]
    assert "5 % now, stage 2 needs at least 25 %" in result.next_stage_gaps[0].gap


def test_nothing_recorded_is_below_stage_1() -> None:
    result = service.evaluate(Facts(since=SINCE, until=UNTIL), S)
    assert result.stage == 0
    assert {g.id for g in result.next_stage_gaps} == {"cases_recorded", "cases_categorised"}
    assert result.to_json()["stage_name"] == "Below stage 1"


def test_thresholds_come_from_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    stricter = MaturitySettings(remote_fix_share=0.6, live_channels_excellent=5)
    c = judged(stage5(), stricter)
    assert not c["remote_fix"].met and c["remote_fix"].threshold == 0.6
    assert not c["live_channels"].met and c["live_channels"].threshold == 5
    assert service.evaluate(stage5(), stricter).stage == 1
    # The same through the environment, as homeport.toml's [maturity] would.
    monkeypatch.setenv("HOMEPORT_MATURITY__REMOTE_FIX_SHARE", "0.6")
    monkeypatch.setenv("HOMEPORT_MATURITY__WINDOW_DAYS", "30")
    loaded = Settings().maturity
    assert loaded.remote_fix_share == 0.6 and loaded.window_days == 30
    assert MaturitySettings().remote_fix_share == 0.25  # the documented default


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="proactive_share_excellent"):
        MaturitySettings(proactive_share=0.7, proactive_share_excellent=0.6)
    with pytest.raises(ValueError, match="remote_fix_share"):
        MaturitySettings(remote_fix_share=1.5)
    with pytest.raises(ValueError, match="recommendation_words"):
        MaturitySettings(recommendation_words=[" "])


def test_the_json_has_the_issue_shape() -> None:
    payload = service.evaluate(replace(stage5(), kpi_reports=0), S).to_json()
    assert payload["stage"] == 3
    first = payload["criteria"][0]
    assert set(first) >= {"id", "stage", "title", "met", "value", "threshold", "evidence"}
    assert payload["next_stage_gaps"] == [
        {
            "id": "kpi_reports",
            "stage": 4,
            "gap": "KPI reports scheduled: 0 now, stage 4 needs at least 1.",
        }
    ]
