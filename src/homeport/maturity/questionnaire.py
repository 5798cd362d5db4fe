"""The self-assessment questionnaire: a leader's own view of the stage, to compare with the
stage measured from the data.

Each yes/no question stands for one or more criteria of one stage (:mod:`criteria`). The stage
the answers give follows the same rule as the measured one: the highest stage whose questions
were all answered "yes", with every lower stage's too. :func:`compare` sets each answer beside
what the data says, so that a leader sees where their picture and the evidence disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from homeport.core.errors import FieldError, ValidationFailed
from homeport.maturity.criteria import STAGES, Criterion


@dataclass(frozen=True)
class Question:
    id: str
    stage: int
    text: str
    #: The measured criteria this question stands for.
    criteria: tuple[str, ...]


QUESTIONS: tuple[Question, ...] = (
    Question(
        "categorised_cases",
        1,
        "Is every case recorded with a specific category and an outcome when it is solved?",
        ("cases_recorded", "cases_categorised"),
    ),
    Question(
        "remote_diagnostics",
        2,
        "On most technical calls, do agents look at the home's live network data or run a "
        "remote test before anything else?",
        ("remote_diagnostics",),
    ),
    Question(
        "remote_fix",
        2,
        "Is at least a quarter of technical problems fixed remotely, without a visit?",
        ("remote_fix",),
    ),
    Question(
        "fcr",
        2,
        "Do you measure first-contact resolution?",
        ("fcr_measured",),
    ),
    Question(
        "proactive_cases",
        3,
        "Does your monitoring open cases before subscribers call, for at least one technical "
        "case in ten?",
        ("proactive_cases",),
    ),
    Question(
        "self_service",
        3,
        "Do at least one in ten subscribers use a self-service portal, app or chatbot?",
        ("self_service_users",),
    ),
    Question(
        "channels",
        3,
        "Besides the phone, can subscribers reach you on at least two channels that they "
        "actually use (email, chat, SMS, app)?",
        ("channels_besides_phone",),
    ),
    Question(
        "kpis",
        3,
        "Do you track at least five support KPIs?",
        ("kpis_tracked",),
    ),
    Question(
        "auto_fix",
        4,
        "Are common line and Wi-Fi problems fixed automatically, so that at least 40 % of "
        "problems are known to you before the subscriber calls?",
        ("auto_remediation", "proactive_share"),
    ),
    Question(
        "bot",
        4,
        "Does a chat or chatbot channel solve at least a quarter of the conversations it "
        "handles without a person?",
        ("self_service_containment", "live_channels_with_chat"),
    ),
    Question(
        "kpi_program",
        4,
        "Do your KPIs have targets and go out in scheduled reports, and do technicians record "
        "recommendations after their visits?",
        ("kpi_targets", "kpi_reports", "technician_recommendations"),
    ),
    Question(
        "journey",
        5,
        "Do you collect NPS at three or more journey moments, with an owner for every stage of "
        "the subscriber journey and targets for every KPI family?",
        ("nps_moments", "journey_owners", "kpi_families"),
    ),
    Question(
        "excellence",
        5,
        "Are most problems found and fixed before the subscriber notices, with truck rolls at "
        "or below target, four or more live channels and most subscribers using your digital "
        "channels?",
        (
            "proactive_share_excellent",
            "proactive_no_contact",
            "truck_roll_rate",
            "live_channels",
            "digital_adoption",
        ),
    ),
)
BY_ID = {q.id: q for q in QUESTIONS}


def parse_answers(raw: Mapping[str, Any]) -> dict[str, bool]:
    """Answers keyed by question id, each yes/no (``True``/``False`` or ``"yes"``/``"no"``);
    every question must be answered and no other key given."""
    problems: list[FieldError] = []
    answers: dict[str, bool] = {}
    for key in raw:
        if key not in BY_ID:
            problems.append(FieldError(str(key), "not a question of the questionnaire"))
    for q in QUESTIONS:
        value = raw.get(q.id)
        if isinstance(value, bool):
            answers[q.id] = value
        elif isinstance(value, str) and value.strip().lower() in ("yes", "no"):
            answers[q.id] = value.strip().lower() == "yes"
        else:
            problems.append(FieldError(q.id, "answer yes or no"))
    if problems:
        raise ValidationFailed("incomplete self-assessment", problems)
    return answers


def stage_of(answers: Mapping[str, bool]) -> int:
    """The highest stage whose questions, and every lower stage's, were all answered yes."""
    reached = 0
    for stage in sorted(STAGES):
        if all(answers.get(q.id, False) for q in QUESTIONS if q.stage == stage):
            reached = stage
        else:
            break
    return reached


@dataclass(frozen=True)
class Row:
    question: Question
    answer: bool
    #: Whether the data meets every criterion the question stands for (None: not measured).
    measured: bool | None

    @property
    def agrees(self) -> bool | None:
        return None if self.measured is None else self.answer == self.measured

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.question.id,
            "stage": self.question.stage,
            "question": self.question.text,
            "answer": self.answer,
            "measured": self.measured,
            "agrees": self.agrees,
        }


@dataclass(frozen=True)
class Comparison:
    self_stage: int
    measured_stage: int | None
    rows: list[Row]

    @property
    def summary(self) -> str:
        if self.measured_stage is None:
            return f"Your answers give stage {self.self_stage}; no measured stage to compare."
        if self.self_stage == self.measured_stage:
            return f"Your answers and the data agree: stage {self.self_stage}."
        higher = "higher" if self.self_stage > self.measured_stage else "lower"
        return (
            f"Your answers give stage {self.self_stage}, {higher} than the stage the data "
            f"shows ({self.measured_stage})."
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "self_stage": self.self_stage,
            "measured_stage": self.measured_stage,
            "summary": self.summary,
            "questions": [r.to_json() for r in self.rows],
        }


def compare(
    answers: Mapping[str, bool], measured: list[Criterion] | None, measured_stage: int | None
) -> Comparison:
    met = {c.id: c.met for c in measured or []}
    rows = [
        Row(
            q,
            bool(answers.get(q.id, False)),
            all(met[c] for c in q.criteria)
            if measured and all(c in met for c in q.criteria)
            else None,
        )
        for q in QUESTIONS
    ]
    return Comparison(stage_of(answers), measured_stage, rows)
