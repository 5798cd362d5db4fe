"""The agent console over HTTP: the queue with filters, counters and live poll, taking cases,
the case page with the subscriber 360, escaping of hostile text, CSRF on every change, replies,
notes, remote actions and solving with an outcome."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.health.models import DeviceAction
from homeport.journey.models import Survey
from homeport.support import actions, service
from homeport.support.models import Case, GuidedStep, Interaction, OutboundMessage
from tests.conftest import login
from tests.factories import Fleet, build_fleet
from tests.support.console_data import HOSTILE, Desk, build_desk
from tests.web.conftest import count_statements


@pytest.fixture
def desk(db: Database, clock: ManualClock) -> Desk:
    fleet: Fleet = build_fleet(db, clock.now() - timedelta(days=30))
    return build_desk(db, fleet, clock.now())


@pytest.fixture
def agent(
    client: TestClient, db: Database, clock: ManualClock, desk: Desk
) -> tuple[TestClient, str]:
    with db.transaction() as s:  # the worker's SLA check marks the breach
        actions.check_slas(s, now=clock.now())
    return client, login(client, "agent@example.net")


def case_of(db: Database, case_id: int) -> Case:
    with db.session() as s:
        case = s.get_one(Case, case_id)
        s.expunge(case)
        return case


def subjects(html: str) -> list[str]:
    return re.findall(r'class="case-link">#\d+ ([^<]*)</a>', html)


def test_queue_lists_my_team_live_cases_with_counters_and_sla(
    agent: tuple[TestClient, str], desk: Desk
) -> None:
    client, _ = agent
    page = client.get("/console")
    assert page.status_code == 200
    # Tier 1 only (the billing case is the Billing team's), the last opened first.
    assert subjects(page.text) == [
        "Slow speeds on the laptop",
        f"Help {HOSTILE}".replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;"),
        "No internet at all",
        "Wi-Fi drops in the evening",
    ]
    assert 'data-count="new">4<' in page.text
    # Breached: the slow-speed case (opened two days ago, 24 h to resolve) and the urgent call
    # (opened two hours ago, one hour to a first reply).
    assert 'data-count="breached">2<' in page.text
    assert "Breached" in page.text
    # Due times in the BSP's zone (Europe/London; 23 Nov is GMT): the urgent case opened at
    # 08:00 UTC is due a first reply at 09:00, shown as 09:00.
    assert "Mon 23 Nov 09:00" in page.text
    mine = client.get("/console?assigned=me")
    assert subjects(mine.text) == ["Slow speeds on the laptop"]
    everyone = client.get("/console?scope=all")
    assert "Invoice is wrong" in subjects(everyone.text)
    found = client.get("/console?scope=all&q=CHARGED")
    assert subjects(found.text) == ["Invoice is wrong"]
    # A search is neither counted nor polled (its statement is the page's dearest).
    assert "pause while you search" in found.text and "data-poll=" not in found.text
    assert client.get("/console/poll?q=charged").json()["counts"] is None
    urgent = client.get("/console?priority=urgent&channel=phone")
    assert subjects(urgent.text) == ["No internet at all"]
    # A form that sends every field, empty ones too, is answered with the short URL.
    long = client.get("/console?status=&priority=&q=&channel=phone")
    assert long.status_code == 303 and long.headers["location"] == "/console?channel=phone"
    bad = client.get("/console?priority=whenever", headers={"accept": "text/html"})
    assert bad.status_code == 422 and "priority" in bad.text


def test_queue_page_statement_count_does_not_grow_with_rows(
    agent: tuple[TestClient, str], db: Database, desk: Desk
) -> None:
    client, _ = agent
    with count_statements(db) as few:
        assert client.get("/console").status_code == 200
    with db.transaction() as s:
        from homeport.audit.actions import Actor

        for n in range(15):
            actions.open_case(
                s,
                now=case_of(db, desk.cases["wifi"]).opened_at,
                actor=Actor.system("tests"),
                channel="email",
                subject=f"Extra {n}",
                contact=f"x{n}@example.test",
            )
    with count_statements(db) as many:
        assert client.get("/console").status_code == 200
    assert many.count == few.count, str(many)
    assert few.count <= 12, str(few)


def test_poll_gives_counters_and_a_stamp_that_changes(
    agent: tuple[TestClient, str], desk: Desk
) -> None:
    client, csrf = agent
    first = client.get("/console/poll").json()
    assert first["counts"]["new"] == 4 and first["counts"]["breached"] == 2
    assert client.get("/console/poll").json()["stamp"] == first["stamp"]
    client.post(f"/console/cases/{desk.cases['urgent']}/take", data={"csrf_token": csrf})
    second = client.get("/console/poll").json()
    assert second["stamp"] != first["stamp"]
    client.cookies.clear()
    assert client.get("/console/poll").status_code == 401


def test_take_next_gives_the_most_urgent_then_oldest(
    agent: tuple[TestClient, str], db: Database, desk: Desk
) -> None:
    client, csrf = agent
    taken = client.post("/console/take-next", data={"csrf_token": csrf})
    assert taken.status_code == 303
    assert taken.headers["location"] == f"/console/cases/{desk.cases['urgent']}"
    assert case_of(db, desk.cases["urgent"]).assignee_id == desk.agent
    again = client.post("/console/take-next", data={"csrf_token": csrf})
    assert again.headers["location"] == f"/console/cases/{desk.cases['wifi']}"
    client.post("/console/take-next", data={"csrf_token": csrf})
    # Only the Billing team's case is left unassigned: not mine to take.
    empty = client.post("/console/take-next", data={"csrf_token": csrf})
    assert empty.headers["location"] == "/console"
    assert case_of(db, desk.cases["billing"]).assignee_id is None


def test_every_change_needs_the_csrf_token(agent: tuple[TestClient, str], desk: Desk) -> None:
    client, _ = agent
    case_id = desk.cases["wifi"]
    for path, data in (
        ("/console/take-next", {}),
        (f"/console/cases/{case_id}/take", {}),
        (f"/console/cases/{case_id}/note", {"body": "x"}),
        (f"/console/cases/{case_id}/reply", {"body": "x"}),
        (f"/console/cases/{case_id}/status", {"status": "solved", "outcome": "remote_fix"}),
        (f"/console/cases/{case_id}/remote", {"kind": "reboot"}),
        (f"/console/cases/{case_id}/tags", {"tags": "x"}),
        (f"/console/cases/{case_id}/merge", {"into": "1"}),
        (f"/console/cases/{case_id}/category", {"priority": "low"}),
        (f"/console/cases/{case_id}/assign", {"assignee": ""}),
        (f"/console/cases/{case_id}/subscriber", {"who": "ACC-1001"}),
        (f"/console/cases/{case_id}/guided", {"flow": "wifi_coverage"}),
        (f"/console/cases/{case_id}/guided/1/action", {}),
    ):
        response = client.post(path, data=data)
        assert response.status_code == 403, path
        assert "CSRF" in response.text, path


def test_case_page_escapes_hostile_text_and_shows_the_360(
    agent: tuple[TestClient, str], db: Database, desk: Desk
) -> None:
    client, _ = agent
    page = client.get(f"/console/cases/{desk.cases['hostile']}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "onerror=alert(1)>" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    # The subscriber 360: plan, bundles, journey stage, gateway, devices with signal, other cases.
    assert "Alice Smith" in page.text and "ACC-1001" in page.text
    assert "GW-000101" in page.text and "Doorbell camera" in page.text
    assert "Stage: Established" in page.text
    assert "Wi-Fi drops in the evening" in page.text  # a past case
    assert "Slow speeds on the laptop" in page.text
    # Recent interactions across the subscriber's cases, every channel, each linked to its case.
    recent = page.text.split("Recent interactions, every channel", 1)[1].split("</ul>", 1)[0]
    wifi = desk.cases["wifi"]
    assert f'href="/console/cases/{wifi}#i' in recent
    assert "My wifi keeps dropping every evening around 8pm." in recent
    assert "Speed test shows 20 Mbps." in recent
    assert "Caller says nothing works" not in recent  # Bob's, not Alice's


def test_case_page_shows_the_subscribers_latest_surveys(
    agent: tuple[TestClient, str], db: Database, clock: ManualClock, desk: Desk
) -> None:
    """The 360's surveys: answers with their score, scale and tone, the detractor's comment
    (escaped) and follow-up case, a question still out, one that expired; nobody else's."""
    client, _ = agent
    alice, wifi, now = _alice(db), desk.cases["wifi"], clock.now()
    with db.transaction() as s:
        bob = s.scalars(select(Case.subscriber_id).where(Case.id == desk.cases["urgent"])).one()
        common = {"subscriber_id": alice, "moment": "case_solved", "channel": "email"}
        week = timedelta(days=7)
        s.add_all(
            [
                Survey(
                    **common,
                    kind="csat",
                    case_id=wifi,
                    sent_at=now - week,
                    expires_at=now + week,
                    answered_at=now - timedelta(days=6),
                    score=1,
                    comment="Took <b>three</b> calls",
                    theme="repeat_contact",
                    follow_up_case_id=desk.cases["hostile"],
                ),
                Survey(
                    **common,
                    kind="ces",
                    case_id=wifi,
                    sent_at=now - week,
                    expires_at=now + week,
                    answered_at=now - timedelta(days=6),
                    score=6,
                ),
                Survey(
                    subscriber_id=alice,
                    kind="nps",
                    moment="relationship",
                    channel="portal",
                    sent_at=now - timedelta(days=1),
                    expires_at=now + week,
                ),
                Survey(
                    subscriber_id=alice,
                    kind="nps",
                    moment="post_install",
                    channel="email",
                    sent_at=now - 9 * week,
                    expires_at=now - 7 * week,
                ),
                Survey(
                    subscriber_id=bob,
                    kind="nps",
                    moment="relationship",
                    channel="email",
                    sent_at=now - week,
                    expires_at=now + week,
                    answered_at=now - week,
                    score=2,
                    comment="Bob is unhappy",
                ),
            ]
        )
    page = client.get(f"/console/cases/{desk.cases['hostile']}")
    assert page.status_code == 200
    card = page.text.split('id="h-surveys"', 1)[1].split("</section>", 1)[0]
    items = re.findall(r"<li class=\"small\">(.*?)</li>", card, re.S)
    assert len(items) == 4, card
    assert "NPS</span> sent, not answered yet" in items[0] and "Relationship" in items[0]
    assert '<span class="badge bad">CSAT 1</span> <span class="muted">of 5</span>' in items[1]
    assert f'href="/console/cases/{wifi}">#{wifi}</a>' in items[1]
    assert "After a case was solved" in items[1]
    assert f'follow-up <a href="/console/cases/{desk.cases["hostile"]}">' in items[1]
    assert "Took &lt;b&gt;three&lt;/b&gt; calls" in items[1] and "<b>three" not in card
    assert '<span class="badge ok">CES 6</span> <span class="muted">of 7</span>' in items[2]
    assert "expired unanswered" in items[3] and "After installation" in items[3]
    assert "Bob is unhappy" not in page.text


def test_email_html_only_in_a_sandboxed_frame_and_attachments_download(
    agent: tuple[TestClient, str], db: Database, desk: Desk
) -> None:
    client, _ = agent
    page = client.get(f"/console/cases/{desk.cases['wifi']}")
    frame = re.search(r"<iframe ([^>]*)>", page.text)
    assert frame is not None
    assert 'sandbox=""' in frame.group(1)
    assert 'srcdoc="&lt;meta http-equiv=&#34;Content-Security-Policy&#34;' in frame.group(1)
    assert "&lt;b&gt;dropping&lt;/b&gt;" in frame.group(1)
    assert "<b>dropping</b>" not in page.text
    link = re.search(r'href="(/console/attachments/\d+)" download>speed.png', page.text)
    assert link is not None
    download = client.get(link.group(1))
    assert download.status_code == 200
    assert download.content == b"\x89PNG fake"
    assert download.headers["content-disposition"].startswith('attachment; filename="speed.png"')
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["x-content-type-options"] == "nosniff"
    client.cookies.clear()
    anonymous = client.get(link.group(1))
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_technicians_and_subscribers_do_not_reach_the_console(
    client: TestClient, desk: Desk
) -> None:
    login(client, "tech@example.net")
    assert client.get("/console", headers={"accept": "text/html"}).status_code == 403
    assert client.get(f"/console/cases/{desk.cases['wifi']}").status_code == 403


def test_reply_with_a_macro_note_and_solve_with_outcome(
    agent: tuple[TestClient, str], db: Database, desk: Desk
) -> None:
    client, csrf = agent
    case_id = desk.cases["wifi"]
    page = client.get(f"/console/cases/{case_id}")
    # The macro is offered already filled in for this subscriber and case.
    assert f"Hello Alice, we restarted your router (case {case_id}). Ada Agent" in page.text
    sent = client.post(
        f"/console/cases/{case_id}/reply",
        data={"csrf_token": csrf, "macro_id": str(desk.macro), "body": "", "channel": "email"},
    )
    assert sent.status_code == 303
    with db.session() as s:
        out = s.scalars(select(OutboundMessage).where(OutboundMessage.case_id == case_id)).one()
        assert out.recipient == "alice.smith@example.org"
        assert out.body.startswith("Hello Alice, we restarted your router")
        assert out.headers["In-Reply-To"] == "<m1@example.org>"
    case = case_of(db, case_id)
    assert case.status == "pending_subscriber"  # the macro's status
    assert case.first_response_at is not None
    client.post(f"/console/cases/{case_id}/note", data={"csrf_token": csrf, "body": "Checked."})
    # Solving needs notes and an outcome.
    refused = client.post(
        f"/console/cases/{case_id}/status",
        data={"csrf_token": csrf, "status": "solved", "outcome": "", "notes": "Fixed."},
    )
    assert refused.status_code == 303
    assert "outcome" in client.get(f"/console/cases/{case_id}").text
    assert case_of(db, case_id).status == "pending_subscriber"
    solved = client.post(
        f"/console/cases/{case_id}/status",
        data={
            "csrf_token": csrf,
            "status": "solved",
            "outcome": "remote_fix",
            "notes": "Restarted the router; the channel was crowded.",
        },
    )
    assert solved.status_code == 303
    case = case_of(db, case_id)
    assert (case.status, case.outcome) == ("solved", "remote_fix")
    assert case.resolution_notes.startswith("Restarted the router")
    with db.session() as s:
        kinds = [(i.direction, i.channel) for i in service.interactions(s, case_id)]
    assert kinds == [("inbound", "email"), ("outbound", "email"), ("internal", "system")]
    # The history shows who did what, in the BSP's time zone, from the audit trail.
    history = client.get(f"/console/cases/{case_id}").text.split('id="h-history"')[1]
    history = history.split("</section>")[0]
    assert "Ada Agent" in history and "<strong>case.status</strong>" in history
    assert "status=solved" in history and "outcome=remote_fix" in history
    assert history.index("interaction.added") < history.index("status=solved")


def test_remote_reboot_from_the_case_is_noted_with_its_status(
    agent: tuple[TestClient, str], db: Database, desk: Desk
) -> None:
    client, csrf = agent
    case_id = desk.cases["wifi"]
    done = client.post(
        f"/console/cases/{case_id}/remote", data={"csrf_token": csrf, "kind": "reboot"}
    )
    assert done.status_code == 303 and done.headers["location"].endswith("#remote")
    with db.session() as s:
        action = s.scalars(select(DeviceAction)).one()
        assert (action.kind, action.device_id, action.status) == ("reboot", "GW-000101", "queued")
        note = s.scalars(
            select(Interaction).where(
                Interaction.case_id == case_id, Interaction.direction == "internal"
            )
        ).one()
        assert note.meta["device_action_id"] == action.id
    page = client.get(f"/console/cases/{case_id}")
    assert f"Action #{action.id}" in page.text and "Queued" in page.text
    # A second restart within the hour is refused by the action queue's rate limit.
    again = client.post(
        f"/console/cases/{case_id}/remote", data={"csrf_token": csrf, "kind": "reboot"}
    )
    assert again.status_code == 303
    assert "Not done" in client.get(f"/console/cases/{case_id}").text


def test_manage_tags_priority_assign_and_merge(
    agent: tuple[TestClient, str], db: Database, desk: Desk
) -> None:
    client, csrf = agent
    wifi, hostile = desk.cases["wifi"], desk.cases["hostile"]
    client.post(f"/console/cases/{wifi}/tags", data={"csrf_token": csrf, "tags": "wifi, evening"})
    client.post(
        f"/console/cases/{wifi}/category",
        data={"csrf_token": csrf, "category": "wifi_coverage", "priority": "high"},
    )
    client.post(
        f"/console/cases/{wifi}/assign", data={"csrf_token": csrf, "assignee": str(desk.colleague)}
    )
    case = case_of(db, wifi)
    assert (case.category, case.priority, case.assignee_id) == (
        "wifi_coverage",
        "high",
        desk.colleague,
    )
    with db.session() as s:
        assert service.tags_of(s, wifi) == ["evening", "wifi"]
    merged = client.post(
        f"/console/cases/{hostile}/merge", data={"csrf_token": csrf, "into": f"#{wifi}"}
    )
    assert merged.headers["location"] == f"/console/cases/{wifi}"
    dup = case_of(db, hostile)
    assert (dup.status, dup.outcome, dup.merged_into_id) == ("solved", "duplicate", wifi)
    # Bob's case cannot be merged into Alice's.
    refused = client.post(
        f"/console/cases/{desk.cases['urgent']}/merge", data={"csrf_token": csrf, "into": str(wifi)}
    )
    assert refused.status_code == 303
    assert case_of(db, desk.cases["urgent"]).merged_into_id is None


def test_guided_flow_on_the_case_records_each_step(
    agent: tuple[TestClient, str], db: Database, desk: Desk
) -> None:
    client, csrf = agent
    case_id = desk.cases["urgent"]  # no_internet: the "No Internet connection" flow first
    page = client.get(f"/console/cases/{case_id}")
    assert 'value="no_internet">No Internet connection (suggested)' in page.text
    started = client.post(
        f"/console/cases/{case_id}/guided", data={"csrf_token": csrf, "flow": "no_internet"}
    )
    assert started.status_code == 303 and started.headers["location"].endswith("#guided")
    with db.session() as s:
        (step,) = s.scalars(select(GuidedStep).where(GuidedStep.case_id == case_id)).all()
        # Bob's gateway has never reported: the flow asks for a power cycle, then a re-check.
        assert (step.flow, step.step) == ("no_internet", "check_gateway")
        assert step.observation["proposal"] == {"kind": "next", "next": "after_power_cycle"}
        note = s.scalars(
            select(Interaction).where(
                Interaction.case_id == case_id, Interaction.direction == "internal"
            )
        ).one()
        assert note.meta == {"guided_step_id": step.id}
    page = client.get(f"/console/cases/{case_id}")
    assert "Is the gateway on record and reporting?" in page.text
    assert "Next step: Did the gateway come back after the power cycle?" in page.text
    client.post(
        f"/console/cases/{case_id}/guided", data={"csrf_token": csrf, "flow": "no_internet"}
    )
    with db.session() as s:
        steps = [g.step for g in s.scalars(select(GuidedStep).order_by(GuidedStep.id))]
    assert steps == ["check_gateway", "after_power_cycle"]
    # A step of another case cannot be used to act on this one.
    other = client.post(
        f"/console/cases/{desk.cases['wifi']}/guided/{step.id}/action", data={"csrf_token": csrf}
    )
    assert other.status_code == 404


def test_case_page_statements_do_not_grow_with_history(
    agent: tuple[TestClient, str], db: Database, clock: ManualClock, desk: Desk
) -> None:
    client, csrf = agent
    case_id = desk.cases["wifi"]
    client.post(f"/console/cases/{case_id}/note", data={"csrf_token": csrf, "body": "first"})
    with count_statements(db) as few:
        assert client.get(f"/console/cases/{case_id}").status_code == 200
    for n in range(5):  # more interactions, notes with remote actions' ids, past cases
        client.post(f"/console/cases/{case_id}/note", data={"csrf_token": csrf, "body": f"n{n}"})
        client.post(
            "/api/v1/cases",
            json={"channel": "email", "subject": f"Again {n}", "subscriber_id": _alice(db)},
            headers={"X-CSRF-Token": csrf},
        )
    with count_statements(db) as many:
        assert client.get(f"/console/cases/{case_id}").status_code == 200
    assert many.count == few.count, str(many)
    # 25 today (docs/benchmarks.md, "Agent console": each statement costs ~0.4 ms of CPU)
    assert few.count <= 26, str(few)


def _alice(db: Database) -> int:
    with db.session() as s:
        case = s.scalars(select(Case).where(Case.subject == "Wi-Fi drops in the evening")).one()
        assert case.subscriber_id is not None
        return case.subscriber_id


def test_first_contact_resolution_of_past_cases_matches_the_domain_rule(
    db: Database, clock: ManualClock, desk: Desk
) -> None:
    from homeport.audit.actions import Actor
    from homeport.support import console as reads
    from tests.support.console_data import inbound

    actor = Actor.system("tests")
    now = clock.now()
    alice = _alice(db)
    with db.transaction() as s:
        # One contact, solved, no repeat: first-contact resolved.
        one = actions.open_case(
            s,
            now=now,
            actor=actor,
            channel="email",
            subject="a",
            subscriber_id=alice,
            category="billing",
            first=inbound("a"),
        )
        actions.set_status(s, one.id, "solved", now=now, actor=actor, outcome="remote_fix")
        # Two contacts before solving: not.
        two = actions.open_case(
            s,
            now=now,
            actor=actor,
            channel="sms",
            subject="b",
            subscriber_id=alice,
            category="tv",
            first=inbound("b", channel="sms"),
        )
        actions.add_interaction(s, two.id, inbound("b again", channel="sms"), now=now, actor=actor)
        actions.set_status(s, two.id, "solved", now=now, actor=actor, outcome="remote_fix")
        # Solved on one contact, but the subscriber came back on the same category in 3 days.
        back = actions.open_case(
            s,
            now=now,
            actor=actor,
            channel="phone",
            subject="c",
            subscriber_id=alice,
            category="speed",
            first=inbound("c", channel="phone"),
        )
        actions.set_status(s, back.id, "solved", now=now, actor=actor, outcome="no_fault_found")
        actions.open_case(
            s,
            now=now + timedelta(days=3),
            actor=actor,
            channel="phone",
            subject="c2",
            subscriber_id=alice,
            category="speed",
            first=inbound("c2", channel="phone"),
        )
    with db.session() as s:
        past = service.cases_for_subscriber(s, alice, limit=reads.PAST_CASES)
        bulk = reads.first_contact_resolutions(s, past, past)
        rule = {c.id: service.first_contact_resolved(s, c) for c in past}
    assert bulk == rule
    assert (bulk[one.id], bulk[two.id], bulk[back.id]) == (True, False, False)
    assert None in bulk.values()


def test_an_unknown_sender_is_linked_to_a_subscriber(
    agent: tuple[TestClient, str], db: Database, clock: ManualClock, desk: Desk
) -> None:
    from homeport.audit.actions import Actor

    client, csrf = agent
    with db.transaction() as s:
        case = actions.open_case(
            s,
            now=clock.now(),
            actor=Actor.system("tests"),
            channel="email",
            subject="Who am I",
            contact="someone@elsewhere.example",
        )
        case_id = case.id
    page = client.get(f"/console/cases/{case_id}")
    assert "Unknown sender" in page.text and "someone@elsewhere.example" in page.text
    missing = client.post(
        f"/console/cases/{case_id}/subscriber", data={"csrf_token": csrf, "who": "ACC-0000"}
    )
    assert missing.status_code == 303
    assert "no subscriber" in client.get(f"/console/cases/{case_id}").text
    client.post(
        f"/console/cases/{case_id}/subscriber", data={"csrf_token": csrf, "who": "acc-1002"}
    )
    assert case_of(db, case_id).subscriber_id is not None
    page = client.get(f"/console/cases/{case_id}")
    assert "Bob Jones" in page.text and "Unknown sender" not in page.text


def test_the_score_chart_is_drawn_once_per_home_and_window(
    agent: tuple[TestClient, str], desk: Desk
) -> None:
    from homeport.web.views import console

    client, _ = agent
    console._charts.clear()
    first = client.get(f"/console/cases/{desk.cases['wifi']}").text
    again = client.get(f"/console/cases/{desk.cases['wifi']}").text
    other_case_same_home = client.get(f"/console/cases/{desk.cases['hostile']}").text
    assert len(console._charts) == 1

    def chart(html: str) -> str:
        found = re.search(r'<figure class="chart" id="chart-history">.*?</figure>', html, re.S)
        assert found is not None
        return found.group(0)

    assert chart(first) == chart(again) == chart(other_case_same_home)
    client.get(f"/console/cases/{desk.cases['urgent']}")  # Bob's home: another chart
    assert len(console._charts) == 2
