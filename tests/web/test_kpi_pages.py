"""The KPI dashboards (/kpis, /kpis/support, /kpis/proactive, /kpis/digital,
/kpis/satisfaction) on the hand-built week of tests/kpis/data.py, whose figures are worked out
by hand in tests/kpis/test_kpis.py: values, targets and red/green, the period switcher, filters
and the table per team, agent and channel, refused filters with their reason, export links that
give the same figures, and targets set by a supervisor (audited) and refused to an agent or
without the CSRF token."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from homeport.audit.models import AuditEntry
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import ValidationFailed
from homeport.identity import actions as identity_actions
from homeport.kpis import actions, dashboards, service
from homeport.kpis.dashboards import DASHBOARDS, Filters
from homeport.kpis.definitions import HEADLINE, KPIS
from homeport.support.models import Case
from homeport.web.views.kpis import fmt, fmt_delta
from tests.conftest import START, TEST_ACTOR, csrf_from, login, make_staff
from tests.kpis.data import UNTIL, Week, build_week

HTML = {"accept": "text/html"}
#: The hand-built week, as the overview's "last full week" (the clock is Monday 23 Nov 10:00).
WEEK = "/kpis?complete=1"


def text_of(html: str) -> str:
    html = re.sub(r"<(svg|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def tile(html: str, name: str) -> str:
    """The visible text of one KPI tile."""
    match = re.search(rf'<article class="kpi-tile[^"]*" id="kpi-{name}".*?</article>', html, re.S)
    assert match, f"no tile for {name}"
    return text_of(match.group(0))


def href(html: str, pattern: str) -> str:
    """The first link whose address matches ``pattern``."""
    match = re.search(f'href="({pattern})"', html)
    assert match, pattern
    return unescape(match.group(1))


def status_of(html: str, name: str) -> str:
    match = re.search(rf'id="kpi-{name}" data-kpi="{name}" data-status="(\w+)"', html)
    assert match, name
    return match.group(1)


@pytest.fixture
def week(db: Database, clock: ManualClock) -> Week:
    built = build_week(db)
    assert clock.now() == START and START.date() == UNTIL.date()
    with db.transaction() as s:
        actions.seed_default_targets(s, TEST_ACTOR, now=UNTIL)
    return built


@pytest.fixture
def lead(client: TestClient, db: Database, clock: ManualClock) -> TestClient:
    make_staff(db, clock, email="lead@example.net", role="supervisor")
    login(client, "lead@example.net")
    return client


@pytest.fixture
def agent(client: TestClient, db: Database, clock: ManualClock) -> TestClient:
    make_staff(db, clock, email="agent@example.net", role="agent")
    login(client, "agent@example.net")
    return client


# --- The overview -----------------------------------------------------------------------------


def test_overview_shows_each_headline_kpi_with_target_previous_and_red_green(
    lead: TestClient, week: Week
) -> None:
    page = lead.get(WEEK, headers=HTML)
    assert page.status_code == 200
    html = page.text
    assert html.count('<article class="kpi-tile') == len(HEADLINE)
    # Worked out in tests/kpis/test_kpis.py; default targets (definitions.py).
    assert tile(html, "first_contact_resolution").startswith(
        "First-contact resolution Off target 40.0 % no previous figure Target 70.0 %"
    )
    assert status_of(html, "first_contact_resolution") == "red"
    assert "Target 15.0 %" in tile(html, "truck_roll_rate")  # 16.7 %, lower is better
    assert status_of(html, "truck_roll_rate") == "red"
    assert "3.5 h" in tile(html, "time_to_resolve")
    assert status_of(html, "time_to_resolve") == "green"  # 3.5 h against 24 h, lower is better
    assert status_of(html, "sla_compliance") == "red"
    assert status_of(html, "self_service_containment") == "green"
    # NPS: +40 this week, −100 the week before (Bob's 0): up 140, which is better.
    nps = tile(html, "nps")
    assert "Net Promoter Score On target +40 ▲ +140 (better) Target +20 Previous week -100" in nps
    assert 'class="kpi-delta ok"' in html.split('id="kpi-nps"')[1].split("</article>")[0]
    # Churn rose from 0 to 107 %: an increase that is worse, shown red.
    churn = html.split('id="kpi-churn_rate"')[1].split("</article>")[0]
    assert 'class="kpi-delta bad"' in churn and "▲" in churn
    assert "Mon 16 Nov 00:00 to Mon 23 Nov 00:00" in text_of(html)
    assert "Europe/London time" in text_of(html)
    # Each tile has a 12-week trend with its target, as an accessible SVG and as numbers.
    assert html.count('role="img"') == len(HEADLINE)
    assert (
        "First-contact resolution per week, 12 weeks from 31 Aug to 16 Nov (Europe/London" in html
    )
    assert "target 70.0 % (higher is better): 0 of 1 measured weeks on target" in html
    assert "<script" not in html.split("<main")[1]
    # The staff navigation marks the page.
    assert '<a href="/kpis" aria-current="page">KPIs</a>' in html


def test_period_switcher_and_the_current_period_so_far(lead: TestClient, week: Week) -> None:
    html = lead.get(WEEK, headers=HTML).text
    assert 'href="/kpis?period=month&amp;complete=1"' in html
    assert 'href="/kpis"' in html  # this week so far
    # This week so far (Monday 00:00 to 10:00): nothing solved yet, one case still open.
    now = lead.get("/kpis", headers=HTML).text
    assert "Mon 23 Nov 00:00 to Mon 23 Nov 10:00 (so far)" in text_of(now)
    assert tile(now, "first_contact_resolution").startswith("First-contact resolution No target —")
    # By day, the last full day is Sunday 22 November: nothing solved that day either.
    day = lead.get("/kpis?period=day&complete=1", headers=HTML)
    assert day.status_code == 200
    assert "Sun 22 Nov 00:00 to Mon 23 Nov 00:00" in text_of(day.text)
    month = lead.get("/kpis?period=month", headers=HTML)
    assert "Sun 1 Nov 00:00 to Mon 23 Nov 10:00 (so far)" in text_of(month.text)
    # The month so far holds the whole week: FCR 40 %.
    assert "40.0 %" in tile(month.text, "first_contact_resolution")


def test_every_staff_role_reads_and_only_supervisors_and_admins_get_the_target_form(
    client: TestClient, db: Database, clock: ManualClock, week: Week
) -> None:
    for role in ("admin", "supervisor", "agent", "technician", "noc"):
        make_staff(db, clock, email=f"{role}@example.net", role=role)
        login(client, f"{role}@example.net")
        for d in DASHBOARDS.values():
            page = client.get(d.path + "?complete=1", headers=HTML)
            assert page.status_code == 200, (role, d.path)
        html = client.get(WEEK, headers=HTML).text
        forms = html.count('action="/kpis/targets"')
        assert forms == (len(HEADLINE) if role in ("admin", "supervisor") else 0), role
        client.cookies.clear()
    anonymous = client.get("/kpis/support", headers=HTML)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/kpis/support"


# --- The other dashboards -----------------------------------------------------------------------


def test_support_page_with_all_its_kpis_and_the_table_per_channel(
    lead: TestClient, week: Week
) -> None:
    html = lead.get("/kpis/support?complete=1&by=channel", headers=HTML).text
    for name in DASHBOARDS["support"].names:
        assert f'id="kpi-{name}"' in html, name
    assert "7.5 min" in tile(html, "average_handle_time")  # B's calls: 600 s and 300 s
    assert "Open cases No target 1" in tile(html, "backlog")  # E
    assert "0.8 h" in tile(html, "first_response_time")  # 0.5 h and 1 h
    table = text_of(html.split('<table class="compact kpi-breakdown">')[1].split("</table>")[0])
    # Email: A (FCR), D (repeat E), G (reopened): 1 of 3. Phone: B (two calls). Chat: C.
    assert "Email 33.3 %" in table
    assert "Phone 0.0 %" in table
    assert "Live chat 100.0 %" in table
    assert "Sms" not in table  # F, the merged SMS, counts nowhere: no row for SMS
    assert 'href="/kpis/support?complete=1&amp;channel=email&amp;by=channel"' in html


def test_support_table_per_team_and_agent_and_the_team_filter(
    lead: TestClient, db: Database, clock: ManualClock, week: Week
) -> None:
    agent_id = make_staff(db, clock, email="ann@example.net", role="agent").id
    with db.transaction() as s:
        one = identity_actions.create_team(
            s, name="Tier 1", kind="support", actor=TEST_ACTOR, now=clock.now()
        )
        two = identity_actions.create_team(
            s, name="Tier 2", kind="support", actor=TEST_ACTOR, now=clock.now()
        )
        s.flush()
        ids = week.cases
        s.execute(update(Case).where(Case.id.in_([ids["A"], ids["B"]])).values(team_id=one.id))
        s.execute(update(Case).where(Case.id == ids["C"]).values(team_id=two.id))
        s.execute(update(Case).where(Case.id == ids["A"]).values(assignee_id=agent_id))
        one_id, two_id = one.id, two.id
    html = lead.get("/kpis/support?complete=1", headers=HTML).text  # by team: the default
    table = text_of(html.split('<table class="compact kpi-breakdown">')[1].split("</table>")[0])
    assert "Tier 1 50.0 %" in table  # A yes, B no
    assert "Tier 2 100.0 %" in table  # C
    filtered = lead.get(f"/kpis/support?complete=1&team_id={one_id}", headers=HTML).text
    assert "Filters: Team: Tier 1" in text_of(filtered)
    assert "50.0 %" in tile(filtered, "first_contact_resolution")
    assert f"team_id={one_id}" in filtered.split('class="kpi-export')[1]
    by_agent = lead.get("/kpis/support?complete=1&by=agent_id", headers=HTML).text
    table = text_of(by_agent.split('<table class="compact kpi-breakdown">')[1].split("</table>")[0])
    assert "ann@example.net 100.0 %" in table
    assert two_id and agent_id


def test_proactive_digital_and_satisfaction_pages(lead: TestClient, week: Week) -> None:
    proactive = lead.get("/kpis/proactive?complete=1", headers=HTML).text
    assert "75.0 %" in tile(proactive, "availability")
    assert "Experience score (mean) No target 68 " in tile(proactive, "experience_score_mean")
    assert "66.7 %" in tile(proactive, "auto_remediation_success")
    assert "By region" in text_of(proactive)
    table = text_of(
        proactive.split('<table class="compact kpi-breakdown">')[1].split("</table>")[0]
    )
    assert "North" in table
    digital = lead.get("/kpis/digital?complete=1", headers=HTML).text
    assert "50.0 %" in tile(digital, "self_service_containment")
    assert "66.7 %" in tile(digital, "digital_adoption")
    assert "33.3 %" in tile(digital, "app_engagement")
    sat = lead.get("/kpis/satisfaction?complete=1", headers=HTML).text
    assert "+40" in tile(sat, "nps")
    assert "66.7 %" in tile(sat, "csat")
    assert "5.0" in tile(sat, "ces")
    # The week's surveys were all sent five days before it: none in the period itself.
    assert "No survey was sent in this period." in text_of(sat)
    month = lead.get("/kpis/satisfaction?period=month", headers=HTML).text
    moments = text_of(month.split('<table class="compact kpi-moments">')[1].split("</table>")[0])
    # Sent 11 Nov: 7 NPS (10 9 9 7 3 and Bob's 0 answered, one never): 3 promoters and 2
    # detractors of 6, +17; 3 CSAT (5 4 2): 67 %; 4 CES (2 5 6 7): 5.0.
    assert "Relationship (every 90 days) NPS 7 6 86 % +17" in moments
    assert "Relationship (every 90 days) CSAT 3 3 100 % 67 %" in moments
    assert "Relationship (every 90 days) CES 4 4 100 % 5.0" in moments
    assert 'href="/journey"' in month


def test_overview_with_a_cut_leaves_out_the_kpis_that_cannot_take_it(
    lead: TestClient, week: Week
) -> None:
    html = lead.get("/kpis?complete=1&channel=email", headers=HTML).text
    assert 'id="kpi-self_service_containment"' not in html
    assert "Not shown with this filter (they cannot be cut by it):" in text_of(html)
    assert "33.3 %" in tile(html, "first_contact_resolution")


# --- Filters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field", "reason"),
    [
        ("/kpis?period=year", "period", "day or week or month"),
        ("/kpis/support?team_id=abc", "team_id", "a positive id"),
        ("/kpis/support?team_id=999", "team_id", "no team with id 999"),
        ("/kpis/support?channel=pigeon", "channel", "one of email"),
        ("/kpis/support?complete=maybe", "complete", "1 or 0"),
        ("/kpis/digital?channel=email", "channel", "none of the KPIs of Digital adoption"),
        ("/kpis/proactive?by=agent_id", "by", "one of region_id, plan_id"),
    ],
)
def test_a_bad_filter_is_refused_with_its_reason(
    lead: TestClient, week: Week, path: str, field: str, reason: str
) -> None:
    page = lead.get(path, headers=HTML)
    assert page.status_code == 422
    text = text_of(page.text)
    assert "These filters cannot be used" in text
    assert f"{field}: {reason}" in text
    assert 'class="kpi-tile' not in page.text
    assert '<form method="get"' in page.text or field in ("period", "complete", "by")


def test_an_empty_filter_form_redirects_to_the_short_url(lead: TestClient, week: Week) -> None:
    page = lead.get(
        "/kpis/support?period=week&channel=&team_id=&agent_id=&complete=1&by=team_id",
        headers=HTML,
    )
    assert page.status_code == 303
    assert page.headers["location"] == "/kpis/support?complete=1"


def test_filters_parse_and_round_trip() -> None:
    support = DASHBOARDS["support"]
    f = Filters.parse({"period": "month", "complete": "true", "team_id": "3"}, support)
    assert (f.period, f.complete, f.cut.team_id, f.by) == ("month", True, 3, "team_id")
    assert f.params(support) == {"period": "month", "complete": "1", "team_id": "3"}
    assert f.export_params() == {"period": "month", "complete": "true", "team_id": "3"}
    with pytest.raises(ValidationFailed) as caught:
        Filters.parse({"period": "x", "agent_id": "0", "origin": "lost"}, support)
    assert {e.field for e in caught.value.errors} == {"period", "agent_id", "origin"}


# --- Export ---------------------------------------------------------------------------------------


def test_export_links_give_the_pages_figures(lead: TestClient, week: Week) -> None:
    html = lead.get("/kpis/support?complete=1&channel=email", headers=HTML).text
    csv_url = href(html, r"/api/v1/kpis\.csv\?[^\"]+")
    json_url = href(html, r"/api/v1/kpis\?[^\"]+")
    assert csv_url == "/api/v1/kpis.csv?period=week&complete=true&channel=email"
    assert json_url == "/api/v1/kpis?period=week&complete=true&channel=email"
    csv = lead.get(csv_url)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    fcr = next(
        line for line in csv.text.splitlines() if line.startswith("first_contact_resolution,")
    )
    assert ",33.3333,70.0," in fcr and fcr.endswith("2026-11-23T00:00:00+00:00")
    body = lead.get(json_url).json()
    assert body["kpis"]["first_contact_resolution"]["value"] == pytest.approx(100 / 3, abs=1e-3)
    series = href(html, r"/api/v1/kpis/first_contact_resolution/series\?[^\"]+")
    points = lead.get(series).json()["points"]
    assert len(points) == 12  # up to the current week; the page's last point is the week before
    assert points[-2]["value"] == pytest.approx(100 / 3, abs=1e-3)


# --- Targets --------------------------------------------------------------------------------------


def test_a_supervisor_sets_and_clears_a_target_audited(
    lead: TestClient, db: Database, week: Week
) -> None:
    html = lead.get(WEEK, headers=HTML).text
    assert status_of(html, "csat") == "red"  # 66.7 % against 80 %
    token = csrf_from(html)
    done = lead.post(
        "/kpis/targets",
        data={"csrf_token": token, "kpi": "csat", "value": "65", "back": WEEK, "op": "set"},
    )
    assert done.status_code == 303 and done.headers["location"] == WEEK
    html = lead.get(WEEK, headers=HTML).text
    assert "CSAT: target set to 65.0 %." in text_of(html)
    assert status_of(html, "csat") == "green"
    with db.session() as s:
        assert service.targets(s)["csat"] == 65.0
        entry = s.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "kpi.target_set")
            .order_by(AuditEntry.id.desc())
        ).first()
        assert entry is not None and entry.entity_id == "csat" and entry.detail["previous"] == 80.0
    lead.post(
        "/kpis/targets", data={"csrf_token": token, "kpi": "csat", "op": "clear", "back": WEEK}
    )
    html = lead.get(WEEK, headers=HTML).text
    assert "CSAT: target cleared." in text_of(html)
    assert status_of(html, "csat") == "none"
    with db.session() as s:
        assert "csat" not in service.targets(s)
        assert s.scalars(
            select(AuditEntry).where(AuditEntry.action == "kpi.target_removed")
        ).first()


def test_a_target_for_the_pages_cut(lead: TestClient, db: Database, week: Week) -> None:
    here = "/kpis?complete=1&channel=email"
    token = csrf_from(lead.get(here, headers=HTML).text)
    lead.post(
        "/kpis/targets",
        data={
            "csrf_token": token,
            "kpi": "first_contact_resolution",
            "value": "30",
            "cut": "channel:email",
            "back": here,
        },
    )
    with db.session() as s:
        assert service.targets(s, "channel:email") == {"first_contact_resolution": 30.0}
        assert service.targets(s)["first_contact_resolution"] == 70.0
    assert status_of(lead.get(here, headers=HTML).text, "first_contact_resolution") == "green"
    assert status_of(lead.get(WEEK, headers=HTML).text, "first_contact_resolution") == "red"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("150", "0 to 100 (a percentage)"),
        ("abc", "a number"),
        ("", "a number"),
        ("nan", "a finite number"),
    ],
)
def test_a_bad_target_is_refused_with_its_reason(
    lead: TestClient, db: Database, week: Week, value: str, reason: str
) -> None:
    token = csrf_from(lead.get(WEEK, headers=HTML).text)
    done = lead.post(
        "/kpis/targets", data={"csrf_token": token, "kpi": "csat", "value": value, "back": WEEK}
    )
    assert done.status_code == 303
    text = text_of(lead.get(WEEK, headers=HTML).text)
    assert f"CSAT: target not changed (value: {reason}" in text
    with db.session() as s:
        assert service.targets(s)["csat"] == 80.0


def test_targets_refused_to_an_agent_and_without_csrf(
    agent: TestClient, client: TestClient, db: Database, clock: ManualClock, week: Week
) -> None:
    token = csrf_from(agent.get(WEEK, headers=HTML).text)
    refused = agent.post(
        "/kpis/targets", data={"csrf_token": token, "kpi": "csat", "value": "1"}, headers=HTML
    )
    assert refused.status_code == 403
    assert "needs admin, supervisor" in text_of(refused.text)
    client.cookies.clear()
    make_staff(db, clock, email="lead@example.net", role="supervisor")
    login(client, "lead@example.net")
    for data in (
        {"kpi": "csat", "value": "1"},
        {"kpi": "csat", "value": "1", "csrf_token": "forged"},
    ):
        assert client.post("/kpis/targets", data=data, headers=HTML).status_code == 403
    with db.session() as s:
        assert service.targets(s)["csat"] == 80.0


def test_the_form_never_sends_you_to_another_site(lead: TestClient, week: Week) -> None:
    token = csrf_from(lead.get(WEEK, headers=HTML).text)
    for back in ("https://evil.example/", "//evil.example/kpis", "/kpis\\@evil"):
        done = lead.post(
            "/kpis/targets",
            data={"csrf_token": token, "kpi": "nps", "value": "10", "back": back},
        )
        assert done.headers["location"] == "/kpis", back


# --- Helpers --------------------------------------------------------------------------------------


def test_values_in_words() -> None:
    assert fmt(KPIS["nps"], 40.0) == "+40"
    assert fmt(KPIS["first_contact_resolution"], 200 / 3) == "66.7 %"
    assert fmt(KPIS["backlog"], 1234.0) == "1,234"
    assert fmt(KPIS["csat"], None) == "—"
    assert fmt_delta(KPIS["csat"], -2.5) == "-2.5 pts"
    assert fmt_delta(KPIS["time_to_resolve"], 1.25) == "+1.2 h"
    assert dashboards.bucket_label("week", UNTIL, "Europe/London") == "23 Nov"
    assert dashboards.bucket_label("day", UNTIL, "Europe/London") == "Mon 23 Nov"
    assert dashboards.bucket_label("month", UNTIL, "Europe/London") == "Nov 2026"
