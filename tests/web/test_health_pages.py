"""The health pages: /health (fleet dashboard), /health/findings, /health/outages and one
outage, and the Experience section of the subscriber page with its remote-action form. The data
comes from reports stored through the real ingest and health pipeline (tests/web/health_data.py).
"""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from homeport.audit.models import AuditEntry
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.identity import actions as identity_actions
from tests.conftest import START, TEST_ACTOR, csrf_from, login, make_staff
from tests.factories import SubscriberSpec, add_subscriber, filler
from tests.health.reports import report
from tests.web.conftest import count_statements
from tests.web.health_data import HealthStory, build_story, store

HTML = {"accept": "text/html"}
AFTER = START + timedelta(minutes=1)
EVIL = '<script>alert("pwned")</script>'


def text_of(html: str) -> str:
    """The page's visible text, whitespace collapsed (good enough for assertions)."""
    html = re.sub(r"<(svg|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def scripts(html: str) -> list[str]:
    return re.findall(r"<script\b[^>]*>", html, flags=re.I)


def finding_rows(html: str) -> list[str]:
    """Subscriber names linked from the findings table, in order."""
    table = html.split('<table class="results findings-table">', 1)
    if len(table) == 1:
        return []
    return [
        unescape(n)
        for n in re.findall(r'<a href="/subscribers/\d+#experience">([^<]+)</a>', table[1])
    ]


@pytest.fixture
def story(db: Database, settings: Settings, clock: ManualClock) -> HealthStory:
    built = build_story(db, settings)
    clock.set(AFTER)
    return built


@pytest.fixture
def agent(client: TestClient, db: Database, clock: ManualClock) -> TestClient:
    make_staff(db, clock)
    login(client, "agent@example.net")
    return client


# --- /health --------------------------------------------------------------------------------


def test_fleet_page_shows_counts_charts_outages_and_worst_homes(
    agent: TestClient, story: HealthStory
) -> None:
    page = agent.get("/health", headers=HTML)
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Homes reporting 14 / 14 0 silent" in text
    assert "Offline now 6" in text
    assert "Open findings 11 6 critical · 5 warning · 0 info" in text
    assert "Open outages 1 6 homes still down" in text
    assert "Mean experience score 62 / 100 14 homes scored" in text
    assert "Poor 6 Average 1 Excellent 7" in text
    assert 'href="/health/outages/1"' in page.text and "6 of 6 down" in text
    assert 'href="/health/findings?kind=wan_down">WAN down</a>' in page.text
    # The worst homes first, each linked to its experience section, with the explanation.
    worst = re.findall(r'<a href="/subscribers/(\d+)#experience">([^<]+)</a>', page.text)
    assert [name for _, name in worst][:6] == [f"Filler {i:04d}" for i in range(1, 7)]
    assert (str(story.alice), "Alice Smith") in worst
    assert "Wi-Fi coverage pulled the score down" in text
    # Three charts, each an image with a text alternative; no chart script.
    labels = re.findall(r'<svg [^>]*role="img"[^>]*aria-label="([^"]+)"', page.text)
    assert len(labels) == 3, labels
    assert labels[0].startswith("Current experience scores of 14 homes")
    assert "10–20: 6" in labels[0] and "90–100: 7" in labels[0]
    assert labels[1].startswith("Fleet mean experience score per hour, last 24 hours")
    assert labels[2] == (
        "Open findings by detector (11 in all): WAN down: 6; Weak client signal: 2; "
        "Crowded or interfered channel: 1; Wi-Fi coverage gap: 1; High latency: 1."
    )
    assert scripts(page.text) == ['<script src="/static/app.js" defer>']
    # It refreshes itself: a script swaps the live block, a meta refresh without script.
    assert 'data-refresh="30" data-refresh-target="live"' in page.text
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in page.text
    assert 'id="live"' in page.text
    assert 'href="/health" aria-current="page"' in page.text


def test_fleet_page_without_data(agent: TestClient) -> None:
    page = agent.get("/health", headers=HTML)
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Homes reporting 0 / 0" in text
    assert "No open findings: every home looks healthy." in text
    assert "No open outages." in text
    assert "No home was scored in the last two hours." in text
    assert "Mean experience score —" in text
    assert "No current scores: no home reported in the last two hours." in text
    assert page.text.count("No data yet") == 1  # the trend chart says so in its drawing


def test_fleet_page_ages_the_figures(
    agent: TestClient, story: HealthStory, clock: ManualClock
) -> None:
    """Three hours later without reports: every gateway is silent, no score is current."""
    clock.set(START + timedelta(hours=3))
    text = text_of(agent.get("/health", headers=HTML).text)
    assert "Homes reporting 0 / 14 14 silent" in text
    assert "No home was scored in the last two hours." in text
    assert "Open outages 1" in text  # the outage stays open until its homes come back


# --- /health/findings -----------------------------------------------------------------------


def test_findings_list_open_critical_first(agent: TestClient, story: HealthStory) -> None:
    page = agent.get("/health/findings", headers=HTML)
    assert page.status_code == 200
    rows = finding_rows(page.text)
    assert len(rows) == 11
    assert rows[:6] == [f"Filler {i:04d}" for i in range(6, 0, -1)]  # critical, newest first
    assert sorted(rows[6:]) == ["Alice Smith"] * 4 + ["Dev Patel"]
    text = text_of(page.text)
    assert "11 findings" in text
    assert "Open findings" in text
    assert 'href="/health/outages/1">Outage #1</a>' in page.text
    assert f'<a href="/subscribers/{story.dev}#experience">Dev Patel</a>' in page.text
    assert "Auto-fix attempted" in text  # Alice's congested channel, answered by the policy
    assert 'href="/health/findings" aria-current="page"' in page.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=wan_down", [f"Filler {i:04d}" for i in range(6, 0, -1)]),
        ("severity=warning", None),
        ("kind=high_latency", ["Dev Patel"]),
        ("status=resolved", ["Bob Jones"]),
        ("status=resolved&kind=high_latency", ["Bob Jones"]),
        ("kind=coverage_gap", ["Alice Smith"]),
        ("kind=reboot_loop", []),
    ],
)
def test_findings_filters(
    agent: TestClient, story: HealthStory, query: str, expected: list[str] | None
) -> None:
    page = agent.get(f"/health/findings?{query}", headers=HTML)
    assert page.status_code == 200, page.text
    rows = finding_rows(page.text)
    if expected is None:
        assert sorted(rows) == ["Alice Smith"] * 4 + ["Dev Patel"]
    else:
        assert rows == expected
    if not expected and expected is not None:
        assert "No open finding matches these filters." in text_of(page.text)


def test_findings_filter_by_region(agent: TestClient, story: HealthStory) -> None:
    south = story.fleet.regions["south"]
    page = agent.get(f"/health/findings?region_id={south}", headers=HTML)
    assert finding_rows(page.text) == ["Dev Patel"]
    assert re.search(rf'<option value="{south}" selected>South</option>', page.text)
    assert "Clear all" in page.text
    north = agent.get(f"/health/findings?region_id={story.fleet.regions['north']}", headers=HTML)
    assert len(finding_rows(north.text)) == 10


def test_resolved_findings_show_when_they_resolved(agent: TestClient, story: HealthStory) -> None:
    page = agent.get("/health/findings?status=resolved", headers=HTML)
    text = text_of(page.text)
    assert "Resolved findings" in text and "1 finding" in text
    # Bob's latency: bad 09:00–09:15, clear from 09:20, resolved on the third clear report.
    assert "23 Nov 2026 09:30" in text
    assert '<option value="resolved" selected>' in page.text


def test_findings_form_answers_with_the_short_url(agent: TestClient, story: HealthStory) -> None:
    sent = agent.get("/health/findings?status=open&kind=&severity=critical&region_id=&page=1")
    assert sent.status_code == 303
    assert sent.headers["location"] == "/health/findings?severity=critical"
    assert agent.get("/health/findings?status=open").headers["location"] == "/health/findings"


def test_findings_paging(agent: TestClient, story: HealthStory) -> None:
    first = agent.get("/health/findings?per_page=4", headers=HTML)
    assert "11 findings · showing 1–4" in text_of(first.text)
    assert "Page 1 of 3" in text_of(first.text)
    assert 'href="/health/findings?per_page=4&amp;page=2" rel="next"' in first.text
    second = agent.get("/health/findings?per_page=4&page=2", headers=HTML)
    assert "showing 5–8" in text_of(second.text)
    assert 'rel="prev"' in second.text and 'rel="next"' in second.text
    last = agent.get("/health/findings?per_page=4&page=3", headers=HTML)
    assert len(finding_rows(last.text)) == 3
    seen = [*finding_rows(first.text), *finding_rows(second.text), *finding_rows(last.text)]
    assert sorted(seen) == sorted(finding_rows(agent.get("/health/findings", headers=HTML).text))
    beyond = agent.get("/health/findings?per_page=4&page=9", headers=HTML)
    assert "There is no page 9: these findings fill 3 pages." in text_of(beyond.text)


@pytest.mark.parametrize(
    "query", ["kind=bogus", "status=pending", "severity=fatal", "region_id=x", "per_page=500"]
)
def test_findings_bad_filters_are_refused(agent: TestClient, query: str) -> None:
    page = agent.get(f"/health/findings?{query}", headers=HTML)
    assert page.status_code == 422
    assert "invalid filter" in page.text


# --- /health/outages ------------------------------------------------------------------------


def test_outage_list_and_detail(agent: TestClient, story: HealthStory) -> None:
    listing = agent.get("/health/outages", headers=HTML)
    assert listing.status_code == 200
    text = text_of(listing.text)
    assert "1 outage" in text
    assert "North / LDS-OLT-01 / 1/1/2" in text and "6 affected" in text
    assert "Port outage" in text and "23 Nov 2026 09:50" in text
    assert "No closed outages." in text_of(agent.get("/health/outages?status=closed").text)
    detail = agent.get("/health/outages/1", headers=HTML)
    assert detail.status_code == 200
    text = text_of(detail.text)
    assert "Outage #1: North / LDS-OLT-01 / 1/1/2" in text
    assert "6 of 6 homes still down" in text
    assert "Affected subscribers 6" in text
    members = re.findall(r'<a href="/subscribers/(\d+)">(Filler \d+)</a>', detail.text)
    assert [name for _, name in members] == [f"Filler {i:04d}" for i in range(1, 7)]
    assert str(story.fleet.subscribers["FIL-0001"]) == members[0][0]
    assert text.count("Still down") == 6
    assert f'href="/subscribers?port_id={story.fleet.ports["north-olt1-p2"]}"' in detail.text


def test_outage_closes_when_the_homes_come_back(
    agent: TestClient, story: HealthStory, db: Database, settings: Settings, clock: ManualClock
) -> None:
    back = START + timedelta(minutes=5)
    store(db, settings, [report(f"GW-F{i:05d}", back) for i in range(1, 11)], back)
    clock.set(back + timedelta(minutes=1))
    text = text_of(agent.get("/health/outages?status=closed", headers=HTML).text)
    assert "1 outage" in text and "Closed" in text
    assert "No open outages." in text_of(agent.get("/health/outages?status=open").text)
    detail = text_of(agent.get("/health/outages/1", headers=HTML).text)
    assert "0 of 6 homes still down" in detail
    assert "Still down" not in detail and detail.count("23 Nov 2026 10:05") == 7  # closed + 6


def test_unknown_outage_is_404(agent: TestClient, story: HealthStory) -> None:
    for path in ("/health/outages/999", f"/health/outages/{2**40}"):
        page = agent.get(path, headers=HTML)
        assert page.status_code == 404
        assert "Not found" in page.text


def test_outage_list_paging(agent: TestClient, story: HealthStory) -> None:
    assert agent.get("/health/outages?page=2", headers=HTML).status_code == 200
    assert agent.get("/health/outages?page=0", headers=HTML).status_code == 422
    assert agent.get("/health/outages?status=bogus", headers=HTML).status_code == 422


# --- the subscriber page --------------------------------------------------------------------


def test_experience_section_on_the_subscriber_page(agent: TestClient, story: HealthStory) -> None:
    page = agent.get(f"/subscribers/{story.alice}", headers=HTML)
    assert page.status_code == 200
    section = page.text.split('id="experience"', 1)[1].split("</section>", 1)[0]
    text = text_of(section)
    assert "53 /100 Average" in text
    assert 'aria-label="3 of 5 stars"' in section
    assert "Hour from Mon 23 Nov 10:00 · 1 report" in text
    assert (
        "Wi-Fi coverage pulled the score down (33/100: 2 of 3 devices below -67 dBm). "
        "The score is capped at 53 (that sub-score + 20)."
    ) in text
    assert "Internet speed and quality 100 Connection stability 100 Wi-Fi coverage 33" in text
    assert "Wi-Fi congestion 50 Gateway health 100" in text
    # The history chart (hourly, seven days) with its text alternative and a table.
    [label] = re.findall(r'<svg [^>]*role="img"[^>]*aria-label="([^"]+)"', section)
    assert label.startswith("Experience score, hourly, last 7 days (16 Nov 10:01 to 23 Nov")
    assert "145 hours scored, latest 53 (average), lowest 53 on Fri 20 Nov at 10:00" in label
    assert "Show as a table" in text
    assert "Mon 23 Nov 11 53 53 53" in text  # 11 hours scored that day, all at 53
    # Open findings with their evidence; remote actions with status and requester.
    assert "Open findings 4" in text
    assert "Crowded or interfered channel on 2.4GHz Auto-fix attempted" in text
    assert "2.4GHz channel 6 is 85 % busy" in text
    assert "Utilization (%) 85" in text and "RSSI (dBm) -82" in text
    assert "Interference" not in text  # not measured: left out rather than "None"
    assert "Set channel Band 2.4GHz, Channel 11 Queued" in text
    assert "by auto-fix policy (Crowded or interfered channel)" in text
    # The action form, with its CSRF token; a restart asks first.
    assert f'action="/subscribers/{story.alice}/actions"' in section
    assert csrf_from(section)
    assert 'value="reboot"' in section and 'value="speed_test"' in section
    assert 'data-confirm="Restart the gateway of Alice Smith?' in section
    assert scripts(page.text) == ['<script src="/static/app.js" defer>']


def test_experience_section_when_there_is_nothing_to_show(
    agent: TestClient, story: HealthStory
) -> None:
    erin = agent.get(f"/subscribers/{story.fleet.subscribers['ACC-1005']}", headers=HTML)
    assert "No home network on record, so no experience score." in text_of(erin.text)
    assert "Run a speed test" not in erin.text
    # Carol reports but was healthy: a perfect score, no findings, no actions.
    carol = text_of(agent.get(f"/subscribers/{story.carol}", headers=HTML).text)
    assert "100 /100 Excellent" in carol and "Every dimension is at its best." in carol
    assert "No open findings." in carol and "No remote actions yet." in carol


def test_experience_section_without_scores(
    agent: TestClient, db: Database, clock: ManualClock
) -> None:
    from tests.factories import build_fleet

    fleet = build_fleet(db, clock.now())
    page = agent.get(f"/subscribers/{fleet.subscribers['ACC-1002']}", headers=HTML)
    text = text_of(page.text)
    assert "No experience score in the last 7 days: the gateway has not reported." in text
    assert "Experience score, last 7 days: no scores yet." in page.text
    assert "No data yet" in page.text


# --- time zone and escaping -----------------------------------------------------------------


class TestInTheBspTimeZone:
    @pytest.fixture
    def settings(self, tmp_path: Path, database_url: str) -> Settings:
        return Settings(
            data_dir=tmp_path / "data",
            database_url=database_url,
            secret_key="test-secret-key-not-for-production",
            timezone="America/Chicago",
            log_format="text",
        )

    def test_times_are_shown_in_the_bsp_zone(self, agent: TestClient, story: HealthStory) -> None:
        findings = text_of(agent.get("/health/findings?kind=wan_down", headers=HTML).text)
        assert "23 Nov 2026 03:55" in findings  # 09:55 UTC is 03:55 in Chicago (UTC−6)
        assert "09:55" not in findings
        assert "times shown in America/Chicago" in findings
        outage = text_of(agent.get("/health/outages/1", headers=HTML).text)
        assert "23 Nov 2026 03:50" in outage
        alice = agent.get(f"/subscribers/{story.alice}", headers=HTML).text
        assert "Hour from Mon 23 Nov 04:00" in text_of(alice)
        assert "America/Chicago time" in alice
        fleet = agent.get("/health", headers=HTML).text
        assert "Figures at 23 Nov 04:01:00" in text_of(fleet)
        # The trend's x axis is in Chicago time too: ticks every six hours on the clock.
        trend = fleet.split('id="chart-trend"', 1)[1].split("</figure>", 1)[0]
        assert ">06:00<" in trend and ">00:00<" in trend


def test_subscriber_names_are_escaped_everywhere(
    agent: TestClient, db: Database, settings: Settings, clock: ManualClock
) -> None:
    evil = SubscriberSpec(
        account="EVIL-1",
        name=EVIL,
        plan="fibre-100",
        port="north-olt1-p2",
        device_id="GW-EVIL",
    )
    story = build_story(db, settings, evil, history=False, down_devices=("GW-EVIL",))
    clock.set(AFTER)
    sub_id = story.fleet.subscribers["EVIL-1"]
    for path in (
        "/health",
        "/health/findings",
        "/health/findings?kind=wan_down",
        "/health/outages/1",
        f"/subscribers/{sub_id}",
    ):
        page = agent.get(path, headers=HTML)
        assert page.status_code == 200, path
        assert EVIL not in page.text, path
        assert "&lt;script&gt;alert(" in page.text, path
        assert scripts(page.text) == ['<script src="/static/app.js" defer>'], path
    api = agent.get("/api/v1/outages/1").json()
    assert EVIL in [m["subscriber"]["name"] for m in api["members"]]


# --- the remote-action form -----------------------------------------------------------------


def _audit(db: Database, action: str) -> list[AuditEntry]:
    with db.session() as s:
        return list(
            s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        )


def test_queue_a_speed_test_from_the_subscriber_page(
    client: TestClient, db: Database, clock: ManualClock, story: HealthStory
) -> None:
    tech = make_staff(db, clock, email="tech@example.net", role="technician")
    csrf = login(client, "tech@example.net")
    response = client.post(
        f"/subscribers/{story.alice}/actions", data={"kind": "speed_test", "csrf_token": csrf}
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/subscribers/{story.alice}#experience"
    page = client.get(response.headers["location"], headers=HTML)
    text = text_of(page.text)
    assert "Run a speed test: queued. The gateway receives it at its next contact." in text
    assert f"Speed test Queued Asked 23 Nov 2026 10:01 by staff member #{tech.id}" in text
    # The message is shown once.
    assert "Run a speed test: queued" not in text_of(client.get(f"/subscribers/{story.alice}").text)
    [entry] = _audit(db, "device_action.queued")[-1:]
    assert entry.actor_kind == "staff" and entry.actor_id == tech.id


def test_a_refused_action_says_why(agent: TestClient, story: HealthStory, db: Database) -> None:
    csrf = csrf_from(agent.get(f"/subscribers/{story.bob}", headers=HTML).text)
    url = f"/subscribers/{story.bob}/actions"
    assert agent.post(url, data={"kind": "reboot", "csrf_token": csrf}).status_code == 303
    again = agent.post(url, data={"kind": "reboot", "csrf_token": csrf})
    assert again.status_code == 303
    text = text_of(agent.get(again.headers["location"], headers=HTML).text)
    assert "Not queued: a reboot action is already waiting for device GW-000102." in text
    assert text.count("Reboot Queued") == 1
    assert len(_audit(db, "device_action.queued")) == 2  # Alice's policy action, Bob's reboot


def test_action_form_refusals(
    client: TestClient, db: Database, clock: ManualClock, story: HealthStory
) -> None:
    url = f"/subscribers/{story.alice}/actions"
    # Anonymous: to the sign-in page.
    anonymous = client.post(url, data={"kind": "reboot"}, headers=HTML)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    make_staff(db, clock)
    csrf = login(client, "agent@example.net")
    assert client.post(url, data={"kind": "reboot"}).status_code == 403  # no CSRF token
    bad = client.post(url, data={"kind": "firmware", "csrf_token": csrf}, headers=HTML)
    assert bad.status_code == 422
    erin = story.fleet.subscribers["ACC-1005"]
    no_gateway = client.post(
        f"/subscribers/{erin}/actions", data={"kind": "reboot", "csrf_token": csrf}
    )
    assert no_gateway.status_code == 404
    assert (
        client.post(
            "/subscribers/999999/actions", data={"kind": "reboot", "csrf_token": csrf}
        ).status_code
        == 404
    )
    # An API token (even an admin's) cannot use the page form.
    with db.transaction() as s:
        _, token = identity_actions.create_api_token(
            s, user_id=1, scopes=["read", "admin"], actor=TEST_ACTOR, now=clock.now()
        )
    by_token = client.post(
        url, data={"kind": "reboot"}, headers={"authorization": f"Bearer {token}"}
    )
    assert by_token.status_code == 403
    assert len(_audit(db, "device_action.queued")) == 1  # only the policy's set_channel


@pytest.mark.parametrize("role", ["admin", "supervisor", "agent", "technician", "noc"])
def test_every_staff_role_reads_the_health_pages(
    client: TestClient, db: Database, clock: ManualClock, role: str
) -> None:
    make_staff(db, clock, email=f"{role}@example.net", role=role)
    login(client, f"{role}@example.net")
    for path in ("/health", "/health/findings", "/health/outages"):
        assert client.get(path, headers=HTML).status_code == 200, (role, path)


@pytest.mark.parametrize(
    "path", ["/health", "/health/findings", "/health/outages", "/health/outages/1"]
)
def test_anonymous_visitors_go_to_sign_in(client: TestClient, path: str) -> None:
    response = client.get(path, headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"


# --- statement budgets ----------------------------------------------------------------------

#: Sign-in lookup + the summary's seven queries.
FLEET_BUDGET = 8
#: Sign-in lookup, findings page, count, regions.
FINDINGS_BUDGET = 4


def test_page_statements_do_not_grow_with_the_fleet(
    agent: TestClient, story: HealthStory, db: Database, settings: Settings, clock: ManualClock
) -> None:
    def cost(url: str) -> int:
        with count_statements(db) as log:
            assert agent.get(url, headers=HTML).status_code == 200
        return log.count

    urls = ("/health", "/health/findings?per_page=5", "/health/outages/1")
    before = {u: cost(u) for u in urls}
    # Twenty more homes on the other port, all losing WAN: more findings, a second outage,
    # more scores.
    for spec in filler(20, start=21, port="north-olt1-p1"):
        add_subscriber(db, story.fleet, spec, clock.now())
    for n in range(3):
        ts = START + timedelta(minutes=5 * (n + 1))
        store(
            db,
            settings,
            [report(f"GW-F{i:05d}", ts, wan={"status": "down"}) for i in range(21, 41)],
            ts,
        )
    clock.set(START + timedelta(minutes=16))
    after = {u: cost(u) for u in urls}
    assert after == before
    assert before["/health"] <= FLEET_BUDGET
    assert before["/health/findings?per_page=5"] <= FINDINGS_BUDGET
