"""The technician's pages (/field) and the work-order API: who sees what, the visit's buttons,
the quality check before completion, CSRF and escaping."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from homeport.audit.actions import Actor
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.subscribers.models import Subscriber
from homeport.support import dispatch
from tests.conftest import START, login, make_staff
from tests.factories import Fleet
from tests.support.guided_data import feed, last_hour

ALICE_GW = "GW-000101"


@pytest.fixture
def staff(db: Database, clock: ManualClock) -> dict[str, int]:
    return {
        "tess": make_staff(db, clock, email="tess@example.net", role="technician").id,
        "otto": make_staff(db, clock, email="otto@example.net", role="technician").id,
        "agent": make_staff(db, clock, email="agent@example.net", role="agent").id,
        "sue": make_staff(db, clock, email="sue@example.net", role="supervisor").id,
    }


def book(db: Database, subscriber: int, technician: int, hours: tuple[int, int] = (1, 3)) -> int:
    with db.transaction() as s:
        return dispatch.create_work_order(
            s,
            subscriber_id=subscriber,
            kind="repair",
            window_start=START + timedelta(hours=hours[0]),
            window_end=START + timedelta(hours=hours[1]),
            technician_id=technician,
            actor=Actor.system("tests"),
            now=START - timedelta(hours=1),
            notes="Dog <b>friendly</b>",
        ).id


def test_a_technician_sees_only_their_own_day(
    client: TestClient, db: Database, fleet: Fleet, staff: dict[str, int]
) -> None:
    alice, bob = fleet.subscribers["ACC-1001"], fleet.subscribers["ACC-1002"]
    with db.transaction() as s:
        s.execute(
            update(Subscriber).where(Subscriber.id == alice).values(name="<script>x</script>")
        )
    mine = book(db, alice, staff["tess"])
    theirs = book(db, bob, staff["otto"])
    book(db, bob, staff["tess"], hours=(30, 32))  # tomorrow
    login(client, "tess@example.net")
    page = client.get("/field")
    assert page.status_code == 200
    assert f"/field/orders/{mine}" in page.text and f"/field/orders/{theirs}" not in page.text
    assert page.text.count("/field/orders/") == 1
    assert "11:00–13:00" in page.text  # Europe/London, which is UTC in November
    assert "<script>x</script>" not in page.text and "&lt;script&gt;" in page.text
    assert client.get(f"/field/orders/{theirs}").status_code == 404
    # A technician cannot peek at a colleague's day.
    other = client.get(f"/field?technician={staff['otto']}")
    assert f"/field/orders/{theirs}" not in other.text
    order = client.get(f"/field/orders/{mine}")
    assert "Dog &lt;b&gt;friendly&lt;/b&gt;" in order.text


def test_agents_cannot_open_the_field_pages_but_supervisors_can(
    client: TestClient, db: Database, fleet: Fleet, staff: dict[str, int]
) -> None:
    order = book(db, fleet.subscribers["ACC-1001"], staff["tess"])
    login(client, "agent@example.net")
    assert client.get("/field", headers={"accept": "text/html"}).status_code == 403
    login(client, "sue@example.net")
    assert client.get(f"/field/orders/{order}").status_code == 200
    day = client.get(f"/field?technician={staff['tess']}")
    assert f"/field/orders/{order}" in day.text


def _post(client: TestClient, url: str, csrf: str, **data: str) -> Any:
    response = client.post(url, data={"csrf_token": csrf, **data})
    assert response.status_code == 303, response.text
    return client.get(response.headers["location"])


def test_a_visit_from_arrival_to_completion(
    client: TestClient, db: Database, fleet: Fleet, staff: dict[str, int], clock: ManualClock
) -> None:
    feed(db, fleet, last_hour(ALICE_GW, wan={"down_mbps": 950.0}))
    order = book(db, fleet.subscribers["ACC-1001"], staff["tess"], hours=(-1, 2))
    csrf = login(client, "tess@example.net")
    base = f"/field/orders/{order}"
    assert client.post(f"{base}/status", data={"status": "en_route"}).status_code == 403  # CSRF
    page = _post(client, f"{base}/status", csrf, status="en_route")
    assert "Arrived on site" in page.text
    page = _post(client, f"{base}/status", csrf, status="on_site")
    assert "Run the quality check" in page.text
    page = _post(client, f"{base}/complete", csrf, outcome="fixed")
    assert "Not done: the install-quality check was never run" in page.text
    page = _post(client, f"{base}/quality-check", csrf)
    assert "Passed" in page.text and "Speed against plan" in page.text
    page = _post(client, f"{base}/complete", csrf, outcome="fixed", notes="Replaced patch lead")
    assert "Visit completed" in page.text and "Completed" in page.text
    with db.session() as s:
        done = dispatch.get_work_order(s, order)
        assert (done.status, done.outcome, done.quality_passed) == ("completed", "fixed", True)
    # Nothing more to do on a completed visit.
    assert "Complete the visit" not in page.text
    page = _post(client, f"{base}/status", csrf, status="en_route")
    assert "Not done: work order" in page.text


def test_work_order_api_access_and_flow(
    client: TestClient, db: Database, fleet: Fleet, staff: dict[str, int]
) -> None:
    feed(db, fleet, last_hour(ALICE_GW, wan={"down_mbps": 950.0}))
    body = {
        "subscriber_id": fleet.subscribers["ACC-1001"],
        "kind": "repair",
        "window_start": (START - timedelta(hours=1)).isoformat(),
        "window_end": (START + timedelta(hours=2)).isoformat(),
        "technician_id": staff["tess"],
    }
    csrf = login(client, "agent@example.net")
    headers = {"X-CSRF-Token": csrf}
    bad = client.post(
        "/api/v1/work-orders",
        json={**body, "window_end": body["window_start"], "technician_id": staff["agent"]},
        headers=headers,
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"window_end", "technician_id"}
    created = client.post("/api/v1/work-orders", json=body, headers=headers)
    assert created.status_code == 201, created.text
    order = created.json()
    assert (order["status"], order["repeat_of_id"]) == ("scheduled", None)
    other = client.post(
        "/api/v1/work-orders",
        json={
            **body,
            "subscriber_id": fleet.subscribers["ACC-1002"],
            "technician_id": staff["otto"],
        },
        headers=headers,
    ).json()
    # Agents may cancel but not move a visit on.
    moved = client.post(
        f"/api/v1/work-orders/{order['id']}/transition",
        json={"status": "en_route"},
        headers=headers,
    )
    assert moved.status_code == 403

    csrf = login(client, "tess@example.net")
    headers = {"X-CSRF-Token": csrf}
    assert client.post("/api/v1/work-orders", json=body, headers=headers).status_code == 403
    listed = client.get("/api/v1/work-orders").json()
    assert [o["id"] for o in listed["items"]] == [order["id"]] and listed["total"] == 1
    assert client.get(f"/api/v1/work-orders?technician_id={staff['otto']}").status_code == 403
    assert client.get(f"/api/v1/work-orders/{other['id']}").status_code == 404
    assert (
        client.post(f"/api/v1/work-orders/{other['id']}/quality-check", headers=headers).status_code
        == 404
    )
    url = f"/api/v1/work-orders/{order['id']}"
    for status in ("en_route", "on_site"):
        r = client.post(f"{url}/transition", json={"status": status}, headers=headers)
        assert r.json()["status"] == status
    refused = client.post(f"{url}/complete", json={"outcome": "fixed"}, headers=headers)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "quality_check"
    checked = client.post(f"{url}/quality-check", headers=headers).json()
    assert checked["quality_passed"] is True
    assert {c["name"] for c in checked["quality_check"]["checks"]} == {
        "wan",
        "speed",
        "coverage",
        "optical",
    }
    done = client.post(f"{url}/complete", json={"outcome": "fixed"}, headers=headers)
    assert done.status_code == 200 and done.json()["outcome"] == "fixed"
    again = client.post(f"{url}/transition", json={"status": "cancelled"}, headers=headers)
    assert again.status_code == 409
