"""The portal home gathers what other domains ask of the subscriber: a pending survey (journey),
which they answer there, and a running campaign's card (experiments), only their own."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from homeport.audit.actions import Actor
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.journey_settings import JourneySettings
from homeport.core.settings import Settings
from homeport.experiments import campaigns
from homeport.journey import surveys
from homeport.journey.models import Survey
from homeport.retention.models import SubscriberSegment
from homeport.subscribers.models import Subscriber
from tests.selfservice.portal import BOB_EMAIL, People, portal_login, setup_portal

STAFF = Actor("system", None, "test")


@pytest.fixture
def people(db: Database, settings: Settings, clock: ManualClock) -> People:
    return setup_portal(db, settings, clock)


def test_a_pending_survey_is_answered_on_the_home_page(
    client: TestClient, db: Database, clock: ManualClock, people: People
) -> None:
    with db.transaction() as s:
        [first, *_] = surveys.send(
            s,
            surveys.Candidate(people.story.alice, "relationship"),
            now=clock.now(),
            s=JourneySettings(),
            public_url="http://testserver",
            bsp_name="Homeport Broadband",
            check=False,
        )
        survey_id = first.id
    csrf = portal_login(client)
    home = client.get("/portal/")
    assert home.status_code == 200
    assert "A quick question" in home.text and f"/portal/survey/{survey_id}" in home.text
    answered = client.post(
        f"/portal/survey/{survey_id}",
        data={"csrf_token": csrf, f"score_{survey_id}": "9", "comment": "Fast fibre <b>!</b>"},
        follow_redirects=False,
    )
    assert answered.status_code in (200, 303), answered.text
    with db.session() as s:
        row = s.get(Survey, survey_id)
        assert row is not None and row.score == 9 and row.answered_at is not None
    assert "A quick question" not in client.get("/portal/").text
    # Bob never sees Alice's survey, and cannot answer it.
    bob_csrf = portal_login(client, BOB_EMAIL)
    assert f"/portal/survey/{survey_id}" not in client.get("/portal/").text
    refused = client.post(
        f"/portal/survey/{survey_id}", data={"csrf_token": bob_csrf, f"score_{survey_id}": "0"}
    )
    assert refused.status_code == 404


def test_a_campaign_card_shows_to_its_segment_with_consent_only(
    client: TestClient, db: Database, clock: ManualClock, people: People
) -> None:
    alice, bob = people.story.alice, people.story.bob
    with db.transaction() as s:
        for sub in (alice, bob):
            s.add(
                SubscriberSegment(
                    subscriber_id=sub,
                    segment="gamer",
                    confidence=0.9,
                    evidence={},
                    computed_at=clock.now(),
                )
            )
        s.execute(update(Subscriber).where(Subscriber.id == alice).values(consent_marketing=True))
        s.execute(update(Subscriber).where(Subscriber.id == bob).values(consent_marketing=False))
        campaign = campaigns.create_campaign(
            s,
            name="Gaming priority",
            segment="gamer",
            channels=["portal"],
            subject="Lower lag for {first_name}",
            body="Gaming priority keeps your games smooth in the evening.",
            actor=STAFF,
            now=clock.now(),
        )
        campaigns.launch(
            s,
            campaign.id,
            actor=STAFF,
            now=clock.now(),
            base_url="http://testserver",
            bsp_name="Homeport Broadband",
        )
    portal_login(client)
    assert "Gaming priority keeps your games smooth" in client.get("/portal/").text
    portal_login(client, BOB_EMAIL)  # no marketing consent: no card
    assert "Gaming priority keeps your games smooth" not in client.get("/portal/").text
    with db.session() as s:
        assert s.scalar(select(Subscriber.consent_marketing).where(Subscriber.id == bob)) is False
