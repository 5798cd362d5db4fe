"""The knowledge base's pages and API: agents edit in the console, technicians and the NOC
read, subscribers search and read published articles in the portal (each read counted and
recorded), and an article's HTML never reaches a page."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.identity import actions as identity_actions
from homeport.selfservice import kb
from homeport.selfservice.models import EngagementEvent
from tests.conftest import PASSWORD, TEST_ACTOR, csrf_from, login, make_staff
from tests.factories import Fleet

ALICE = "ACC-1001"
ALICE_PORTAL = "alice@portal.example"
EVIL = "Steps.\n\n<script>alert('owned')</script>\n\n[click](javascript:alert(1))\n"


@pytest.fixture
def people(db: Database, clock: ManualClock, fleet: Fleet) -> Fleet:
    with db.transaction() as s:
        identity_actions.create_subscriber_account(
            s,
            subscriber_id=fleet.subscribers[ALICE],
            email=ALICE_PORTAL,
            password=PASSWORD,
            actor=TEST_ACTOR,
            now=clock.now(),
        )
        kb.seed_articles(s, TEST_ACTOR, now=clock.now())
        kb.save_article(
            s,
            TEST_ACTOR,
            slug="draft-only-article",
            title="A draft about wifi passwords",
            body="Not ready.",
            now=clock.now(),
        )
    for email, role in (
        ("agent@example.net", "agent"),
        ("tech@example.net", "technician"),
        ("noc@example.net", "noc"),
    ):
        make_staff(db, clock, email=email, role=role)
    return fleet


def portal_login(client: TestClient) -> str:
    client.cookies.clear()
    page = client.get("/portal/login")
    response = client.post(
        "/portal/login",
        data={"email": ALICE_PORTAL, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/portal/help").text)


def staff_login(client: TestClient, email: str) -> str:
    client.cookies.clear()
    return login(client, email)


def new_article(csrf: str, **changes: str) -> dict[str, str]:
    data = {
        "csrf_token": csrf,
        "slug": "pair-bluetooth-headphones",
        "title": "Pair Bluetooth headphones",
        "tags": "bluetooth, headphones",
        "body": "Open **Bluetooth** settings and pair them.",
        "status": "draft",
        "intent": "save",
    }
    data.update(changes)
    return data


def test_agent_creates_previews_edits_publishes_and_deletes(
    client: TestClient, people: Fleet
) -> None:
    csrf = staff_login(client, "agent@example.net")
    page = client.get("/console/kb")
    assert page.status_code == 200
    assert 'href="/console/kb/new"' in page.text and "Change your Wi-Fi name" in page.text
    assert 'href="/console/kb" aria-current="page">Knowledge base' in page.text
    found = client.get("/console/kb", params={"q": "how do i chnage my wifi pasword"})
    assert "change-wifi-name-and-password" in found.text and "score" in found.text
    assert client.get("/console/kb/new").status_code == 200

    preview = client.post("/console/kb/new", data=new_article(csrf, intent="preview"))
    assert preview.status_code == 200 and "<strong>Bluetooth</strong>" in preview.text
    assert "Preview: not saved yet." in preview.text

    bad = client.post("/console/kb/new", data=new_article(csrf, slug="Bad slug", title="x"))
    assert bad.status_code == 422
    assert "lower-case letters" in bad.text and "5 to 200 characters" in bad.text
    assert 'value="Bad slug"' in bad.text  # what was typed is kept

    made = client.post("/console/kb/new", data=new_article(csrf))
    assert (
        made.status_code == 303
        and made.headers["location"] == "/console/kb/pair-bluetooth-headphones"
    )
    edit = client.get("/console/kb/pair-bluetooth-headphones")
    assert "Article created." in edit.text and "Publish" in edit.text
    taken = client.post("/console/kb/new", data=new_article(csrf))
    assert taken.status_code == 409 and "already exists" in taken.text
    saved = client.post(
        "/console/kb/pair-bluetooth-headphones",
        data=new_article(csrf, slug="pair-headphones", body="Hold the pairing button."),
    )
    assert saved.headers["location"] == "/console/kb/pair-headphones"
    assert client.get("/console/kb/pair-bluetooth-headphones").status_code == 404
    published = client.post("/console/kb/pair-headphones/publish", data={"csrf_token": csrf})
    assert published.status_code == 303
    assert "Unpublish" in client.get("/console/kb/pair-headphones").text

    confirm = client.get("/console/kb/pair-headphones/delete")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    gone = client.post("/console/kb/pair-headphones/delete", data={"csrf_token": csrf})
    assert gone.status_code == 303 and gone.headers["location"] == "/console/kb"
    assert client.get("/console/kb/pair-headphones").status_code == 404


@pytest.mark.parametrize("email", ["tech@example.net", "noc@example.net"])
def test_technicians_and_the_noc_read_but_cannot_edit(
    client: TestClient, people: Fleet, db: Database, email: str
) -> None:
    csrf = staff_login(client, email)
    listing = client.get("/console/kb")
    assert listing.status_code == 200 and 'href="/console/kb/new"' not in listing.text
    page = client.get("/console/kb/restart-your-gateway")
    assert page.status_code == 200
    assert "<textarea" not in page.text and "Restart is not reset" in page.text
    assert client.get("/console/kb/new").status_code == 403
    assert client.post("/console/kb/new", data=new_article(csrf)).status_code == 403
    for path in ("", "/publish", "/unpublish", "/delete"):
        response = client.post(
            f"/console/kb/restart-your-gateway{path}", data=new_article(csrf, body="Hijacked")
        )
        assert response.status_code == 403, path
    with db.session() as s:
        assert "Hijacked" not in kb.get_article(s, "restart-your-gateway").body


def test_console_forms_need_the_csrf_token(client: TestClient, people: Fleet, db: Database) -> None:
    staff_login(client, "agent@example.net")
    no_token = new_article("")
    del no_token["csrf_token"]
    assert client.post("/console/kb/new", data=no_token).status_code == 403
    assert client.post("/console/kb/new", data=new_article("wrong")).status_code == 403
    assert client.post("/console/kb/moving-home/delete").status_code == 403
    with db.session() as s:
        assert kb.get_article(s, "moving-home")
        assert not any(a.slug == "pair-bluetooth-headphones" for a in kb.list_articles(s))


def test_a_subscriber_searches_and_reads_published_articles(
    client: TestClient, people: Fleet, db: Database
) -> None:
    portal_login(client)
    page = client.get("/portal/help")
    assert page.status_code == 200
    assert "Find your Wi-Fi name and password" in page.text
    assert "A draft about wifi passwords" not in page.text
    found = client.get("/portal/help", params={"q": "wat is the name of my wifi"})
    assert 'href="/portal/help/find-your-wifi-password"' in found.text
    assert "draft-only-article" not in found.text
    nothing = client.get("/portal/help", params={"q": "banana bread recipe"})
    assert "No article matches" in nothing.text

    article = client.get("/portal/help/find-your-wifi-password")
    assert article.status_code == 200 and "<h2>If you changed them</h2>" in article.text
    assert client.get("/portal/help/draft-only-article").status_code == 404
    assert client.get("/portal/help/no-such-article").status_code == 404
    with db.session() as s:
        assert kb.get_article(s, "find-your-wifi-password").views == 1
        events = s.scalars(
            select(EngagementEvent)
            .where(EngagementEvent.kind.like("kb_%"))
            .order_by(EngagementEvent.id)
        ).all()
        assert [(e.subscriber_id, e.kind, e.channel) for e in events] == [
            (people.subscribers[ALICE], "kb_search", "portal"),
            (people.subscribers[ALICE], "kb_search", "portal"),
            (people.subscribers[ALICE], "kb_view", "portal"),
        ]
        assert events[2].detail == {"slug": "find-your-wifi-password"}
        assert events[0].detail["hits"][0] == "find-your-wifi-password"


def test_a_subscriber_cannot_edit(client: TestClient, people: Fleet, db: Database) -> None:
    csrf = portal_login(client)
    assert client.get("/console/kb").status_code == 403
    assert client.post("/console/kb/new", data=new_article(csrf)).status_code == 403
    assert (
        client.post("/console/kb/moving-home/delete", data={"csrf_token": csrf}).status_code == 403
    )
    body = {"slug": "x-article", "title": "Hijacked title", "body": "x", "tags": []}
    api = client.post("/api/v1/kb/articles", json=body, headers={"X-CSRF-Token": csrf})
    assert api.status_code == 403
    with db.session() as s:
        assert len(kb.list_articles(s)) == len(kb.starter_articles()) + 1


def test_html_in_an_article_never_reaches_the_page(
    client: TestClient, people: Fleet, db: Database, clock: ManualClock
) -> None:
    with db.transaction() as s:
        kb.save_article(
            s,
            TEST_ACTOR,
            slug="evil-article",
            title="An article with a script",
            body=EVIL,
            status="published",
            now=clock.now(),
        )
    portal_login(client)
    page = client.get("/portal/help/evil-article")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and 'href="javascript' not in page.text
    assert "&lt;script&gt;alert" in page.text
    staff_login(client, "agent@example.net")
    edit = client.get("/console/kb/evil-article")
    assert "<script>alert" not in edit.text and 'href="javascript' not in edit.text
    api = client.get("/api/v1/kb/articles/evil-article").json()
    assert "<script" not in api["html"] and api["body"] == EVIL


def test_the_api_reads_for_subscribers_and_staff_and_writes_for_editors(
    client: TestClient, people: Fleet, db: Database, clock: ManualClock
) -> None:
    assert client.get("/api/v1/kb/articles").status_code == 401
    portal_login(client)
    listed = client.get("/api/v1/kb/articles").json()
    assert "draft-only-article" not in {a["slug"] for a in listed}
    assert len(listed) == len(kb.starter_articles())
    hits = client.get("/api/v1/kb/search", params={"q": "set up parental controls"}).json()
    assert hits[0]["article"]["slug"] == "set-up-parental-controls" and hits[0]["snippet"]
    assert client.get("/api/v1/kb/search", params={"q": "asdf qwerty"}).json() == []
    assert client.get("/api/v1/kb/articles/draft-only-article").status_code == 404

    client.cookies.clear()
    agent = make_staff(db, clock, email="writer@example.net", role="agent")
    with db.transaction() as s:
        _, read_only = identity_actions.create_api_token(
            s, user_id=agent.id, scopes=["read"], actor=TEST_ACTOR, now=clock.now()
        )
        _, writer = identity_actions.create_api_token(
            s, user_id=agent.id, scopes=["read", "cases:write"], actor=TEST_ACTOR, now=clock.now()
        )
    reader_h = {"Authorization": f"Bearer {read_only}"}
    writer_h = {"Authorization": f"Bearer {writer}"}
    staff_list = client.get("/api/v1/kb/articles", headers=reader_h).json()
    assert "draft-only-article" in {a["slug"] for a in staff_list}
    body = {"slug": "api-article", "title": "Made through the API", "body": "Text", "tags": ["x"]}
    assert client.post("/api/v1/kb/articles", json=body, headers=reader_h).status_code == 403
    made = client.post("/api/v1/kb/articles", json=body, headers=writer_h)
    assert made.status_code == 201 and made.json()["status"] == "draft"
    bad = client.post("/api/v1/kb/articles", json={**body, "slug": "NO"}, headers=writer_h)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "slug"
    renamed = client.put(
        "/api/v1/kb/articles/api-article",
        json={**body, "title": "Renamed through the API"},
        headers=writer_h,
    )
    assert renamed.json()["title"] == "Renamed through the API"
    published = client.post("/api/v1/kb/articles/api-article/publish", headers=writer_h)
    assert published.json()["status"] == "published"
    assert client.delete("/api/v1/kb/articles/api-article", headers=writer_h).status_code == 204
    assert client.get("/api/v1/kb/articles/api-article", headers=reader_h).status_code == 404
