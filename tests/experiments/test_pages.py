"""The campaign and experiment pages: who may read and write, CSRF, the public opt-out page,
the portal card's routes, the result page with its chart, and the JSON API."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.experiments import actions, campaigns
from homeport.experiments.assignment import assign
from homeport.experiments.models import Campaign, CampaignDelivery
from homeport.identity import actions as identity_actions
from homeport.subscribers.models import Subscriber
from homeport.support.models import OutboundMessage
from homeport.web.templating import templates
from tests.conftest import PASSWORD, TEST_ACTOR, csrf_from, login, make_staff
from tests.experiments.data import Person, build_people, plain_subscribers

PEOPLE = [
    Person("ann", "Ann Archer", "ann@example.net"),
    Person("bob", "<script>alert(1)</script> Bob", "bob@example.net"),
    Person("cy", "Cy Nope", "cy@example.net", marketing=False),
]
NEW_CAMPAIGN = {
    "name": "Gamers",
    "segment": "gamer",
    "channels": ["email", "portal"],
    "subject": "Hi {first_name}",
    "body": "Play with less lag, {first_name}.",
    "offer_bundle_code": "gaming",
}


def _staff(client: TestClient, db: Database, clock: ManualClock, role: str) -> str:
    make_staff(db, clock, email=f"{role}@example.net", role=role)
    return login(client, f"{role}@example.net")


def test_agents_read_supervisors_write_others_are_refused(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    build_people(db, clock.now(), PEOPLE)
    csrf = _staff(client, db, clock, "agent")
    assert client.get("/campaigns").status_code == 200
    assert client.get("/experiments").status_code == 200
    assert "New campaign" not in client.get("/campaigns").text
    refused = client.post("/campaigns", data={**NEW_CAMPAIGN, "csrf_token": csrf})
    assert refused.status_code == 403
    refused = client.post(
        "/experiments",
        data={
            "key": "k1",
            "name": "n",
            "variants": "a:1, b:1",
            "metric": "csat",
            "csrf_token": csrf,
        },
    )
    assert refused.status_code == 403
    client.cookies.clear()
    _staff(client, db, clock, "technician")
    assert client.get("/campaigns").status_code == 403
    assert client.get("/experiments").status_code == 403
    assert client.get("/api/v1/experiments").status_code == 403


def test_supervisor_creates_and_launches_a_campaign(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    ids = build_people(db, clock.now(), PEOPLE)
    csrf = _staff(client, db, clock, "supervisor")
    # Without the CSRF token nothing happens.
    assert client.post("/campaigns", data=NEW_CAMPAIGN).status_code == 403
    bad = client.post(
        "/campaigns", data={**NEW_CAMPAIGN, "subject": "{secret}", "csrf_token": csrf}
    )
    assert bad.status_code == 422 and "unknown placeholder {secret}" in bad.text
    made = client.post("/campaigns", data={**NEW_CAMPAIGN, "csrf_token": csrf})
    assert made.status_code == 303
    page = made.headers["location"]
    assert client.post(f"{page}/launch").status_code == 403  # no token
    launched = client.post(f"{page}/launch", data={"csrf_token": csrf})
    assert launched.status_code == 303
    detail = client.get(page)
    assert "Launched: 4 messages on their way, 2 held back (no consent)." in detail.text
    assert re.search(r"skipped consent</th><td[^>]*>1</td><td[^>]*>1</td>", detail.text)
    with db.session() as s:
        assert [
            m.recipient for m in s.scalars(select(OutboundMessage).order_by(OutboundMessage.id))
        ] == [
            "ann@example.net",
            "bob@example.net",
        ]
        assert s.get(Subscriber, ids["cy"]).consent_marketing is False  # type: ignore[union-attr]
    listing = client.get("/campaigns")
    assert "Gamers" in listing.text and "running" in listing.text


def _optout_token(db: Database, clock: ManualClock, address: str) -> str:
    with db.transaction() as s:
        c = campaigns.create_campaign(
            s,
            name=f"c-{clock.now().timestamp()}",
            segment="gamer",
            channels=["email", "portal"],
            subject="Offer",
            body="Body",
            actor=TEST_ACTOR,
            now=clock.now(),
        )
        campaigns.launch(
            s, c.id, actor=TEST_ACTOR, now=clock.now(), base_url="http://x", bsp_name="ISP"
        )
    with db.session() as s:
        body = s.scalars(
            select(OutboundMessage.body).where(OutboundMessage.recipient == address)
        ).first()
    assert body is not None
    match = re.search(r"/campaigns/optout/(\S+)", body)
    assert match
    return match.group(1)


def test_opt_out_page_confirms_then_works_once(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    ids = build_people(db, clock.now(), PEOPLE)
    token = _optout_token(db, clock, "ann@example.net")
    page = client.get(f"/campaigns/optout/{token}")
    assert page.status_code == 200 and "Stop sending me offers" in page.text
    with db.session() as s:  # opening the page changed nothing
        assert s.get(Subscriber, ids["ann"]).consent_marketing is True  # type: ignore[union-attr]
    assert client.post(f"/campaigns/optout/{token}").status_code == 403  # CSRF
    done = client.post(f"/campaigns/optout/{token}", data={"csrf_token": csrf_from(page.text)})
    assert done.status_code == 200 and "no more offers" in done.text
    with db.session() as s:
        assert s.get(Subscriber, ids["ann"]).consent_marketing is False  # type: ignore[union-attr]
        assert s.get(Subscriber, ids["bob"]).consent_marketing is True  # type: ignore[union-attr]
    assert client.get(f"/campaigns/optout/{token}").status_code == 404
    again = client.post(f"/campaigns/optout/{token}", data={"csrf_token": csrf_from(page.text)})
    assert again.status_code == 404
    assert client.get("/campaigns/optout/forged-token").status_code == 404


def _portal_account(db: Database, clock: ManualClock, sid: int, email: str) -> None:
    with db.transaction() as s:
        identity_actions.create_subscriber_account(
            s, subscriber_id=sid, email=email, password=PASSWORD, actor=TEST_ACTOR, now=clock.now()
        )


def _portal_login(client: TestClient, email: str) -> str:
    client.cookies.clear()
    page = client.get("/portal/login")
    r = client.post(
        "/portal/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert r.status_code == 303, r.text
    return csrf_from(client.get("/portal/settings").text)


def test_portal_card_routes_act_only_on_own_cards(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    ids = build_people(db, clock.now(), PEOPLE)
    _optout_token(db, clock, "ann@example.net")  # a running email + portal campaign
    _portal_account(db, clock, ids["ann"], "ann@example.net")
    _portal_account(db, clock, ids["bob"], "bob@example.net")
    with db.session() as s:
        (ann_card,) = campaigns.portal_messages(s, ids["ann"])
        (bob_card,) = campaigns.portal_messages(s, ids["bob"])
    csrf = _portal_login(client, "ann@example.net")
    beacon = client.get(f"/portal/campaigns/{ann_card.delivery_id}/shown")
    assert beacon.status_code == 200 and beacon.headers["content-type"] == "image/gif"
    assert client.get(f"/portal/campaigns/{bob_card.delivery_id}/shown").status_code == 404
    assert (
        client.post(
            f"/portal/campaigns/{bob_card.delivery_id}/respond",
            data={"response": "interested", "csrf_token": csrf},
        ).status_code
        == 404
    )
    no_token = client.post(
        f"/portal/campaigns/{ann_card.delivery_id}/respond", data={"response": "interested"}
    )
    assert no_token.status_code == 403
    ok = client.post(
        f"/portal/campaigns/{ann_card.delivery_id}/respond",
        data={"response": "interested", "csrf_token": csrf},
    )
    assert ok.status_code == 303
    with db.session() as s:
        rows = {
            d.subscriber_id: d
            for d in s.scalars(select(CampaignDelivery).where(CampaignDelivery.channel == "portal"))
        }
        assert (rows[ids["ann"]].status, rows[ids["ann"]].response) == ("shown", "interested")
        assert (rows[ids["bob"]].status, rows[ids["bob"]].response) == ("queued", "")
    # Staff cannot use the subscriber routes.
    client.cookies.clear()
    _staff(client, db, clock, "admin")
    assert client.get(f"/portal/campaigns/{bob_card.delivery_id}/shown").status_code == 403


def test_portal_card_partial_escapes_personal_text(db: Database, clock: ManualClock) -> None:
    ids = build_people(db, clock.now(), PEOPLE)
    with db.transaction() as s:
        c = campaigns.create_campaign(
            s,
            name="esc",
            segment="gamer",
            channels=["portal"],
            subject="For {first_name}",
            body="Dear {name}",
            actor=TEST_ACTOR,
            now=clock.now(),
        )
        campaigns.launch(s, c.id, actor=TEST_ACTOR, now=clock.now(), base_url="x", bsp_name="x")
        messages = campaigns.portal_messages(s, ids["bob"])
    html = templates.get_template("experiments/_portal_card.html").render(
        campaign_messages=messages, csrf_token="tok"
    )
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Bob" in html
    assert f'action="/portal/campaigns/{messages[0].delivery_id}/respond"' in html
    assert f'src="/portal/campaigns/{messages[0].delivery_id}/shown"' in html
    assert 'value="tok"' in html
    empty = templates.get_template("experiments/_portal_card.html").render(csrf_token="t")
    assert "offer-card" not in empty


def test_experiment_pages_and_api(client: TestClient, db: Database, clock: ManualClock) -> None:
    ids = plain_subscribers(db, clock.now(), 120)
    csrf = _staff(client, db, clock, "admin")
    form = {
        "key": "portal-wording",
        "name": "Portal wording",
        "hypothesis": "Friendlier words bring people back",
        "variants": "control:50, friendly:50",
        "metric": "portal_active_30d",
        "csrf_token": csrf,
    }
    bad = client.post("/experiments", data={**form, "variants": "control:x"})
    assert bad.status_code == 422 and "2 to 10 variants" in bad.text
    assert client.post("/experiments", data=form).status_code == 303
    assert client.post("/experiments", data=form).status_code == 409
    assert client.post("/experiments/portal-wording/start").status_code == 403  # CSRF
    assert (
        client.post("/experiments/portal-wording/start", data={"csrf_token": csrf}).status_code
        == 303
    )
    with db.transaction() as s:
        e = actions.get(s, "portal-wording")
        for sid in ids:
            assign(s, e, sid, clock.now())
    page = client.get("/experiments/portal-wording")
    assert "Not enough data yet" in page.text
    clock.advance(__import__("datetime").timedelta(days=30))
    assert (
        client.post("/experiments/portal-wording/observe", data={"csrf_token": csrf}).status_code
        == 303
    )
    page = client.get("/experiments/portal-wording")
    assert "Measured 120 subscribers" in page.text
    assert 'role="img"' in page.text  # the interval drawn
    assert "Not enough evidence yet" in page.text  # nobody used the portal in either variant
    api = client.get("/api/v1/experiments/portal-wording/result")
    assert api.status_code == 200
    data = api.json()
    assert data["control"] == "control"
    assert sum(v["observed"] for v in data["variants"]) == 120
    assert data["comparisons"][0]["verdict"] == "no_evidence"
    assert data["comparisons"][0]["difference"] == 0
    assert client.get("/api/v1/experiments/nope/result").status_code == 404
    assert client.get("/api/v1/experiments").json()[0]["key"] == "portal-wording"
    assert (
        client.post("/experiments/portal-wording/stop", data={"csrf_token": csrf}).status_code
        == 303
    )
    with db.session() as s:
        assert actions.get(s, "portal-wording").status == "stopped"
        assert s.scalars(select(Campaign)).all() == []


@pytest.mark.parametrize("path", ["/campaigns/optout/abc"])
def test_optout_is_public(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404 and "does not work any more" in response.text
