"""The maturity page and API: the continuum with the BSP's position, the evidence of every
criterion, the gaps; the self-assessment for supervisors and admins only, with CSRF; others
read."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.maturity import questionnaire
from homeport.maturity.models import SelfAssessment
from homeport.support import actions as support
from homeport.support.actions import NewInteraction
from tests.conftest import TEST_ACTOR, csrf_from, login, make_staff
from tests.factories import STANDARD, build_fleet


def _stage_1(db: Database, clock: ManualClock) -> None:
    """Ten phone cases, categorised and solved by a truck roll: stage 1, nothing more."""
    fleet = build_fleet(db, clock.now() - timedelta(days=40), STANDARD)
    sub = fleet.subscribers["ACC-1001"]
    for i in range(10):
        at = clock.now() - timedelta(days=20 - i)
        with db.transaction() as session:
            case = support.open_case(
                session,
                now=at,
                actor=TEST_ACTOR,
                channel="phone",
                subject="No internet",
                category="no_internet",
                subscriber_id=sub,
                first=NewInteraction("phone", "inbound", "subscriber", body="Down", started_at=at),
            )
            support.set_status(
                session, case.id, "solved", now=at, actor=TEST_ACTOR, outcome="truck_roll"
            )


def test_supervisor_sees_the_continuum_and_answers_the_questionnaire(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    _stage_1(db, clock)
    make_staff(db, clock, email="boss@example.net", role="supervisor")
    login(client, "boss@example.net")
    page = client.get("/maturity")
    assert page.status_code == 200
    html = page.text
    assert "You are at <strong>stage 1: Reactive break/fix</strong>" in html
    assert 'aria-current="step"' in html
    assert "What is missing for stage 2" in html
    assert "Remote diagnostics on technical cases: 0 % now, stage 2 needs at least 50 %." in html
    assert "Every journey stage has an owner" in html  # stage 5's evidence is listed too
    assert "Answer the questionnaire" in html
    answers = {q.id: ("yes" if q.stage <= 2 else "no") for q in questionnaire.QUESTIONS}
    # Without the CSRF token: refused, nothing stored.
    refused = client.post("/maturity/self-assessment", data=answers)
    assert refused.status_code == 403
    saved = client.post(
        "/maturity/self-assessment", data={**answers, "csrf_token": csrf_from(html)}
    )
    assert saved.status_code == 303
    after = client.get("/maturity").text
    assert "Self-assessment saved: your answers give stage 2." in after
    assert "Your answers give stage 2, higher than the stage the data shows (1)." in after
    assert "(differs)" in after
    incomplete = client.post(
        "/maturity/self-assessment", data={"fcr": "yes", "csrf_token": csrf_from(after)}
    )
    assert incomplete.status_code == 303
    assert "Self-assessment not saved" in client.get("/maturity").text
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(SelfAssessment)) == 1


def test_an_agent_reads_but_cannot_answer(
    staff_client: TestClient, db: Database, clock: ManualClock
) -> None:
    page = staff_client.get("/maturity")
    assert page.status_code == 200
    assert "not yet at stage 1" in page.text
    assert "Supervisors and admins answer the questionnaire." in page.text
    answers = {q.id: "yes" for q in questionnaire.QUESTIONS}
    posted = staff_client.post(
        "/maturity/self-assessment", data={**answers, "csrf_token": csrf_from(page.text)}
    )
    assert posted.status_code == 403


def test_api_gives_the_stage_as_json(
    staff_client: TestClient, db: Database, clock: ManualClock
) -> None:
    _stage_1(db, clock)
    body = staff_client.get("/api/v1/maturity").json()
    assert body["stage"] == 1
    assert {g["id"] for g in body["next_stage_gaps"]} == {"remote_diagnostics", "remote_fix"}
    assert len(body["criteria"]) == 24
    short = staff_client.get("/api/v1/maturity", params={"days": 5}).json()
    assert short["stage"] == 0  # five days hold too few cases
    assert staff_client.get("/api/v1/maturity", params={"days": 0}).status_code == 422


def test_anonymous_is_sent_to_sign_in(client: TestClient) -> None:
    assert client.get("/maturity").status_code == 303
    assert client.get("/api/v1/maturity").status_code == 401
