"""The journey's pages and API: the public survey page, /journey, /console/feedback and
/api/v1/journey/*."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.journey.models import FeedbackItem, Survey
from tests.conftest import csrf_from, login, make_staff
from tests.factories import build_fleet
from tests.journey.test_journey import installed, send_due, token_of


def _survey(db: Database, clock: ManualClock) -> str:
    fleet = build_fleet(db, clock.now())
    installed(db, fleet.subscribers["ACC-1002"], clock.now() - timedelta(days=2))
    send_due(db, clock.now())
    return token_of(db, "bob@jones.example")


def test_the_survey_page_answers_once_without_signing_in(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    token = _survey(db, clock)
    page = client.get(f"/survey/{token}")
    assert page.status_code == 200
    assert "How satisfied are you with your installation?" in page.text
    assert page.text.count('name="score_') == 5 + 11  # CSAT 1–5, NPS 0–10
    with db.session() as s:
        csat_id, nps_id = s.scalars(select(Survey.id).order_by(Survey.id)).all()
    form = {"csrf_token": csrf_from(page.text), "comment": "Fast and tidy"}
    # Without the CSRF token: refused, nothing stored.
    bad = client.post(f"/survey/{token}", data={f"score_{csat_id}": "5"})
    assert bad.status_code == 403
    # A score out of range: the form again, with the reason.
    again = client.post(f"/survey/{token}", data={**form, f"score_{csat_id}": "9"})
    assert again.status_code == 422 and "a score from 1 to 5" in again.text
    ok = client.post(
        f"/survey/{token}", data={**form, f"score_{csat_id}": "5", f"score_{nps_id}": "9"}
    )
    assert ok.status_code == 200 and "Thank you" in ok.text
    twice = client.post(f"/survey/{token}", data={**form, f"score_{csat_id}": "1"})
    assert twice.status_code == 409 and "already been answered" in twice.text
    assert "already been answered" in client.get(f"/survey/{token}").text
    with db.session() as s:
        assert [r.score for r in s.scalars(select(Survey).order_by(Survey.id))] == [5, 9]
    assert client.get("/survey/nonsense").status_code == 404


def test_an_expired_survey_link_says_so(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    token = _survey(db, clock)
    clock.advance(timedelta(days=15))
    page = client.get(f"/survey/{token}")
    assert page.status_code == 410 and "closed" in page.text


def test_the_journey_page_and_api_by_role(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    _survey(db, clock)
    clock.advance(timedelta(minutes=5))
    make_staff(db, clock, email="lead@example.net", role="supervisor")
    make_staff(db, clock, email="tech@example.net", role="technician")
    make_staff(db, clock, email="agent@example.net", role="agent")
    login(client, "tech@example.net")
    assert client.get("/journey").status_code == 403
    assert client.get("/api/v1/journey/funnel").status_code == 403
    login(client, "agent@example.net")
    page = client.get("/journey?days=30")
    assert page.status_code == 200 and "Funnel" in page.text and 'role="img"' in page.text
    assert 'action="/journey/owners"' not in page.text  # agents read only
    csrf = csrf_from(page.text)
    refused = client.post(
        "/journey/owners", data={"csrf_token": csrf, "stage": "signup", "department": "sales"}
    )
    assert refused.status_code == 403
    funnel = client.get("/api/v1/journey/funnel?days=30").json()
    assert [s["name"] for s in funnel["steps"]] == [
        "signup",
        "installed",
        "first_week",
        "established",
    ]
    results = client.get("/api/v1/journey/surveys?moment=post_install").json()
    assert [(r["moment"], r["kind"], r["sent"]) for r in results["results"]] == [
        ("post_install", "csat", 1),
        ("post_install", "nps", 1),
    ]
    assert client.get("/api/v1/journey/surveys?moment=someday").status_code == 422
    assert client.get("/api/v1/journey/themes").json()["themes"] == []
    login(client, "lead@example.net")
    page = client.get("/journey")
    saved = client.post(
        "/journey/owners",
        data={
            "csrf_token": csrf_from(page.text),
            "stage": "signup",
            "department": "marketing",
            "owner": "Growth lead",
        },
    )
    assert saved.status_code == 303
    assert "Growth lead" in client.get("/journey").text


def test_feedback_board_in_the_console(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    make_staff(db, clock, email="tech@example.net", role="technician")
    make_staff(db, clock, email="agent@example.net", role="agent")
    make_staff(db, clock, email="lead@example.net", role="supervisor")
    login(client, "tech@example.net")
    page = client.get("/console/feedback")
    assert page.status_code == 200 and 'href="/console/feedback"' in page.text
    csrf = csrf_from(page.text)
    posted = client.post(
        "/console/feedback",
        data={"csrf_token": csrf, "kind": "idea", "title": "Show the ONT light colours"},
    )
    assert posted.status_code == 303
    with db.session() as s:
        item_id = s.scalars(select(FeedbackItem.id)).one()
    login(client, "agent@example.net")
    csrf = csrf_from(client.get("/console/feedback").text)
    client.post(f"/console/feedback/{item_id}/vote", data={"csrf_token": csrf})
    client.post(f"/console/feedback/{item_id}/vote", data={"csrf_token": csrf})
    assert "already voted" in client.get("/console/feedback").text
    denied = client.post(
        f"/console/feedback/{item_id}/status", data={"csrf_token": csrf, "status": "planned"}
    )
    assert denied.status_code == 403
    login(client, "lead@example.net")
    csrf = csrf_from(client.get("/console/feedback").text)
    done = client.post(
        f"/console/feedback/{item_id}/status",
        data={"csrf_token": csrf, "status": "planned", "response": "Next sprint"},
    )
    assert done.status_code == 303
    with db.session() as s:
        item = s.get_one(FeedbackItem, item_id)
        assert (item.votes, item.status, item.response) == (1, "planned", "Next sprint")
