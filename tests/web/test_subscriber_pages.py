"""The staff pages /subscribers and /subscribers/{id}: content, filters kept in the URL,
empty state, 404, escaping, sign-in, and a statement budget that an N+1 would break."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from tests.conftest import make_staff
from tests.factories import (
    STANDARD,
    DeviceSpec,
    Fleet,
    SubscriberSpec,
    add_subscriber,
    build_fleet,
    filler,
)
from tests.web.conftest import count_statements

HTML = {"accept": "text/html"}


def result_names(html: str) -> list[str]:
    """Names linked from the result table, in order."""
    table = html.split('<table class="results">', 1)
    if len(table) == 1:
        return []
    return [unescape(n) for n in re.findall(r'<a href="/subscribers/\d+">([^<]+)</a>', table[1])]


def text_of(html: str) -> str:
    """The page's visible text, whitespace collapsed (good enough for assertions)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_list_shows_everyone_with_count(staff_client: TestClient, fleet: Fleet) -> None:
    page = staff_client.get("/subscribers", headers=HTML)
    assert page.status_code == 200
    assert result_names(page.text) == [
        "Alice Smith",
        "Bob Jones",
        "Carol Smithers",
        "Dev Patel",
        "Erin O'Neill",
    ]
    text = text_of(page.text)
    assert "5 subscribers" in text
    assert 'aria-current="page"' in page.text  # the menu highlights Subscribers
    assert f'href="/subscribers/{fleet.subscribers["ACC-1001"]}"' in page.text
    # each cell is labelled so the table can collapse to cards on a phone
    assert 'data-label="Plan"><span class="v">Full Fibre Gigabit' in page.text


def test_search_and_filters_are_kept_in_the_url(staff_client: TestClient, fleet: Fleet) -> None:
    plan = fleet.plans["fibre-500"]
    # The form sends empty fields too; the answer is the short URL of the same search.
    sent = staff_client.get(
        f"/subscribers?q=+smith&plan_id={plan}&status=&technology=fttp&sort=name&page=1"
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/subscribers?q=smith&plan_id={plan}&technology=fttp"
    page = staff_client.get(sent.headers["location"])
    assert page.status_code == 200
    assert result_names(page.text) == ["Carol Smithers"]
    assert "1 subscriber" in text_of(page.text)
    assert 'name="q" value="smith"' in page.text
    assert re.search(rf'<option value="{plan}" selected>Fibre 500</option>', page.text)
    assert '<option value="fttp" selected>' in page.text
    assert "Filters (2 active)" in page.text


def test_port_filter_from_the_subscriber_page(staff_client: TestClient, fleet: Fleet) -> None:
    port = fleet.ports["north-olt1-p1"]
    page = staff_client.get(f"/subscribers?port_id={port}")
    assert result_names(page.text) == ["Alice Smith", "Bob Jones"]
    assert "Port: North / LDS-OLT-01 / 1/1/1" in text_of(page.text)
    assert f'<input type="hidden" name="port_id" value="{port}">' in page.text  # kept on search
    assert 'href="/subscribers" aria-label="Remove the port filter"' in page.text


def test_pages_link_forward_and_back_with_filters(
    staff_client: TestClient, db: Database, clock: ManualClock
) -> None:
    build_fleet(db, clock.now(), filler(30))
    first = staff_client.get("/subscribers?q=filler&per_page=10")
    assert result_names(first.text)[0] == "Filler 0001"
    assert "30 subscribers · showing 1\u201310" in text_of(first.text)
    assert 'href="/subscribers?q=filler&amp;per_page=10&amp;page=2" rel="next"' in first.text
    assert 'rel="prev"' not in first.text
    last = staff_client.get("/subscribers?q=filler&per_page=10&page=3")
    assert result_names(last.text)[-1] == "Filler 0030"
    assert 'href="/subscribers?q=filler&amp;per_page=10&amp;page=2" rel="prev"' in last.text
    assert 'rel="next"' not in last.text
    beyond = staff_client.get("/subscribers?q=filler&per_page=10&page=9")
    assert "There is no page 9" in text_of(beyond.text)


def test_empty_states(staff_client: TestClient, fleet: Fleet) -> None:
    page = staff_client.get("/subscribers?q=zebra")
    assert result_names(page.text) == []
    text = text_of(page.text)
    assert "No subscribers found" in text and "No subscriber matches “zebra”" in text


def test_no_subscribers_yet(staff_client: TestClient) -> None:
    assert "There are no subscribers yet" in text_of(staff_client.get("/subscribers").text)


@pytest.mark.parametrize("query", ["status=gone", "plan_id=abc", "per_page=1000", "page=0"])
def test_bad_filter_values_get_a_clear_422(
    staff_client: TestClient, fleet: Fleet, query: str
) -> None:
    page = staff_client.get(f"/subscribers?{query}", headers=HTML)
    assert page.status_code == 422
    assert query.split("=")[0] in page.text


def test_subscriber_page(staff_client: TestClient, fleet: Fleet) -> None:
    page = staff_client.get(f"/subscribers/{fleet.subscribers['ACC-1001']}")
    assert page.status_code == 200
    text = text_of(page.text)
    # header and contact
    assert "Alice Smith" in text and "ACC-1001" in text
    assert "Active" in text and "Stage: Established" in text
    assert "alice.smith@example.org" in text and "SMS: yes" in text and "Marketing: no" in text
    # plan and bundles with prices and speeds
    assert "Full Fibre Gigabit" in text and "1 Gbps down · 115 Mbps up" in text
    assert "£49.99 a month" in text and "Whole-home Wi-Fi" in text
    assert "Total £58.49 a month" in text
    # topology chain and the way to the neighbours
    assert re.search(r"Region North .*OLT LDS-OLT-01 .*Port 1/1/1 .*Fibre \(FTTP\)", text)
    assert "2 homes on this port (capacity 64)" in text
    assert f'href="/subscribers?port_id={fleet.ports["north-olt1-p1"]}">Others on this port' in (
        page.text
    )
    # gateway, last seen in the BSP's zone (Europe/London is UTC in November)
    assert "GW-000101" in text and "4.2.1" in text and "Sagemcom F@st 5670" in text
    assert "Last seen 23 Nov 2026 09:56" in text
    # mesh and clients with RSSI, plain-words label and bar
    assert "Upstairs landing" in text and "Wired backhaul" in text
    assert "Alice's laptop" in text and "-45 dBm Excellent" in text
    assert "Living room TV" in text and "-72 dBm Fair" in text
    assert "Doorbell camera" in text and "-88 dBm Unusable" in text
    assert "capable of 2.4 + 5 + 6 GHz" in text
    assert "3 · 1 with weak or unusable signal" in text
    assert 'class="bars bars-4 tone-ok"' in page.text
    assert 'class="bars bars-0 tone-bad"' in page.text


def test_last_seen_uses_the_bsp_time_zone_in_summer(
    staff_client: TestClient, db: Database, clock: ManualClock
) -> None:
    from datetime import UTC, datetime

    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    fleet = build_fleet(db, summer, (STANDARD[1],))
    text = text_of(staff_client.get(f"/subscribers/{fleet.subscribers['ACC-1002']}").text)
    assert "Last seen 01 Jul 2026 12:56" in text  # 11:56 UTC is 12:56 BST


def test_subscriber_without_home(staff_client: TestClient, fleet: Fleet) -> None:
    text = text_of(staff_client.get(f"/subscribers/{fleet.subscribers['ACC-1005']}").text)
    assert "Erin O'Neill" in text and "No home or line on record." in text
    assert "No plan." in text


def test_unknown_subscriber_is_404(staff_client: TestClient, fleet: Fleet) -> None:
    page = staff_client.get("/subscribers/999999", headers=HTML)
    assert page.status_code == 404
    assert "Not found" in page.text and "no subscriber with id 999999" in page.text
    assert staff_client.get("/subscribers/not-a-number", headers=HTML).status_code == 404


def test_user_text_is_escaped(staff_client: TestClient, db: Database, clock: ManualClock) -> None:
    fleet = build_fleet(
        db,
        clock.now(),
        (
            SubscriberSpec(
                account="XSS-1",
                name="<script>alert(1)</script>",
                email="x@example.org",
                device_id="GW-XSS",
                clients=(DeviceSpec("aa:bb:cc:dd:ee:ff", '<img src=x onerror="1">'),),
            ),
        ),
    )
    for url in (
        "/subscribers",
        "/subscribers?q=alert",
        f"/subscribers/{fleet.subscribers['XSS-1']}",
    ):
        page = staff_client.get(url)
        assert page.status_code == 200, url
        assert "<script>alert(1)</script>" not in page.text, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, url
    detail = staff_client.get(f"/subscribers/{fleet.subscribers['XSS-1']}").text
    assert "<img src=x" not in detail and "&lt;img src=x onerror=&#34;1&#34;&gt;" in detail
    searched = staff_client.get('/subscribers?q="><b>hi</b>').text
    assert "<b>hi</b>" not in searched


@pytest.mark.parametrize("path", ["/subscribers", "/subscribers/1", "/subscribers?q=a"])
def test_anonymous_is_sent_to_sign_in(client: TestClient, path: str) -> None:
    response = client.get(path, headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/subscribers")


#: Statements per page, whatever the data: sign-in lookup, rows, count (skipped when the page
#: is not full), plans, regions, the port's name when filtering by port.
LIST_BUDGET = 6
#: Sign-in lookup, subscriber + plan, bundles, home + gateway + topology, mesh, clients, and the
#: experience section's score history, open findings and recent remote actions, and the open
#: bundle recommendations with their bundles.
DETAIL_BUDGET = 10


def _statements(client: TestClient, db: Database, url: str) -> int:
    with count_statements(db) as log:
        response = client.get(url)
    assert response.status_code == 200, response.text
    return log.count


def test_statement_budget_does_not_grow_with_data(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    from tests.conftest import login

    make_staff(db, clock)
    login(client, "agent@example.net")
    fleet = build_fleet(db, clock.now(), STANDARD)
    port = fleet.ports["north-olt1-p2"]
    small = {
        "list": _statements(client, db, "/subscribers"),
        "filtered": _statements(client, db, f"/subscribers?q=a&port_id={port}&technology=fttp"),
        "detail": _statements(client, db, f"/subscribers/{fleet.subscribers['ACC-1001']}"),
    }
    # 40 more subscribers on that port, each with a gateway, a satellite, a bundle and 5
    # devices; and 10 more devices for Alice.
    for spec in filler(40, clients=5):
        add_subscriber(db, fleet, spec, clock.now())
    add_subscriber(
        db,
        fleet,
        SubscriberSpec(
            account="ACC-1999",
            name="Alice Two",
            port="north-olt1-p2",
            device_id="GW-A2",
            bundles=("mesh", "gaming"),
            clients=tuple(DeviceSpec(f"a2:00:00:00:00:{i:02x}", f"Gadget {i}") for i in range(10)),
        ),
        clock.now(),
    )
    large = {
        "list": _statements(client, db, "/subscribers?per_page=50"),
        "filtered": _statements(
            client, db, f"/subscribers?q=a&port_id={port}&technology=fttp&per_page=50"
        ),
        "detail": _statements(client, db, f"/subscribers/{fleet.subscribers['ACC-1999']}"),
    }
    assert large == small
    assert small["list"] <= LIST_BUDGET - 1
    assert small["filtered"] <= LIST_BUDGET
    assert small["detail"] <= DETAIL_BUDGET
