"""The self-assessment questionnaire: every question stands for real criteria, the stage the
answers give follows the all-lower-stages rule, bad answers are refused, and the comparison
with the measured stage is right."""

from __future__ import annotations

from dataclasses import replace

import pytest

from homeport.core.errors import ValidationFailed
from homeport.maturity import questionnaire, service
from homeport.maturity.criteria import STAGES

from .test_criteria import S, stage5


def yes_up_to(stage: int) -> dict[str, bool]:
    return {q.id: q.stage <= stage for q in questionnaire.QUESTIONS}


def test_questions_cover_every_stage_and_name_real_criteria() -> None:
    ids = {c.id for c in service.evaluate(stage5(), S).criteria}
    assert 12 <= len(questionnaire.QUESTIONS) <= 15
    assert {q.stage for q in questionnaire.QUESTIONS} == set(STAGES)
    named = {c for q in questionnaire.QUESTIONS for c in q.criteria}
    assert named <= ids
    assert named == ids  # every criterion is asked about


@pytest.mark.parametrize("stage", [0, 1, 2, 3, 4, 5])
def test_the_stage_the_answers_give(stage: int) -> None:
    assert questionnaire.stage_of(yes_up_to(stage)) == stage


def test_a_yes_above_a_no_does_not_count() -> None:
    answers = {q.id: True for q in questionnaire.QUESTIONS}
    answers["fcr"] = False  # a stage-2 question
    assert questionnaire.stage_of(answers) == 1


def test_answers_must_be_complete_yes_or_no() -> None:
    raw: dict[str, object] = {q.id: "yes" for q in questionnaire.QUESTIONS}
    assert all(questionnaire.parse_answers(raw).values())
    raw["fcr"] = "maybe"
    raw["shoe_size"] = "yes"
    del raw["kpis"]
    with pytest.raises(ValidationFailed) as failed:
        questionnaire.parse_answers(raw)
    fields = {e.field for e in failed.value.errors}
    assert fields == {"fcr", "shoe_size", "kpis"}


def test_comparison_with_the_measured_stage() -> None:
    measured = service.evaluate(replace(stage5(), kpi_reports=0), S)  # stage 3
    answers = yes_up_to(4)
    result = questionnaire.compare(answers, measured.criteria, measured.stage)
    assert (result.self_stage, result.measured_stage) == (4, 3)
    assert "higher than the stage the data shows (3)" in result.summary
    rows = {r.question.id: r for r in result.rows}
    assert rows["kpi_program"].answer and rows["kpi_program"].measured is False
    assert rows["kpi_program"].agrees is False
    assert rows["auto_fix"].agrees is True
    assert rows["excellence"].answer is False and rows["excellence"].measured is True
    same = questionnaire.compare(yes_up_to(3), measured.criteria, 3)
    assert same.summary == "Your answers and the data agree: stage 3."
    unmeasured = questionnaire.compare(answers, None, None)
    assert all(r.measured is None for r in unmeasured.rows)
    assert "no measured stage" in unmeasured.summary
