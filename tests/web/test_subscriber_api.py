"""The read API: /api/v1/subscribers (search and 360), /api/v1/plans, /api/v1/regions."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.identity import actions as identity_actions
from tests.conftest import TEST_ACTOR, make_staff
from tests.factories import Fleet, add_subscriber, build_fleet, filler
from tests.web.conftest import count_statements


def test_list_shape_and_total(staff_client: TestClient, fleet: Fleet) -> None:
    body = staff_client.get("/api/v1/subscribers", params={"per_page": 2}).json()
    assert (body["total"], body["page"], body["per_page"], body["pages"]) == (5, 1, 2, 3)
    first = body["items"][0]
    assert first == {
        "id": fleet.subscribers["ACC-1001"],
        "account_number": "ACC-1001",
        "name": "Alice Smith",
        "email": "alice.smith@example.org",
        "phone": "+44 20 7946 0001",
        "postcode": "LS1 4AP",
        "city": "Leeds",
        "status": "active",
        "journey_stage": "established",
        "plan": {
            "id": fleet.plans["fibre-1000"],
            "code": "fibre-1000",
            "name": "Full Fibre Gigabit",
        },
        "technology": "fttp",
        "region": {"id": fleet.regions["north"], "code": "north", "name": "North"},
        "access_node": {
            "id": fleet.nodes["olt"],
            "code": "LDS-OLT-01",
            "name": "Leeds exchange OLT",
            "kind": "olt",
            "vendor": "Nokia",
            "model": "ISAM FX-8",
        },
        "port": {"id": fleet.ports["north-olt1-p1"], "name": "1/1/1", "capacity": 64},
        "gateway_device_id": "GW-000101",
    }
    prospect = staff_client.get("/api/v1/subscribers", params={"q": "ACC-1005"}).json()
    assert prospect["items"][0]["technology"] is None
    assert prospect["items"][0]["plan"] is None and prospect["items"][0]["port"] is None


@pytest.mark.parametrize(
    ("params", "accounts"),
    [
        ({"q": "gw-000103"}, ["ACC-1003"]),
        ({"q": "020 7946 0001"}, ["ACC-1001"]),
        ({"status": "onboarding"}, ["BRI-2001"]),
        ({"journey_stage": "at_risk"}, ["ACC-1003"]),
        ({"technology": "adsl"}, ["BRI-2001"]),
        ({"q": "smith", "sort": "newest"}, ["ACC-1003", "ACC-1001"]),
    ],
)
def test_list_filters(
    staff_client: TestClient, fleet: Fleet, params: dict[str, str], accounts: list[str]
) -> None:
    body = staff_client.get("/api/v1/subscribers", params=params).json()
    assert [i["account_number"] for i in body["items"]] == accounts
    assert body["total"] == len(accounts)


def test_list_filters_by_topology_and_plan(staff_client: TestClient, fleet: Fleet) -> None:
    def accounts(**params: Any) -> list[str]:
        body = staff_client.get("/api/v1/subscribers", params=params).json()
        return [i["account_number"] for i in body["items"]]

    assert accounts(port_id=fleet.ports["north-olt1-p1"]) == ["ACC-1001", "ACC-1002"]
    assert accounts(access_node_id=fleet.nodes["dslam"]) == ["BRI-2001"]
    assert accounts(region_id=fleet.regions["north"], plan_id=fleet.plans["fibre-500"]) == [
        "ACC-1002",
        "ACC-1003",
    ]


def test_pagination(staff_client: TestClient, db: Database, clock: ManualClock) -> None:
    build_fleet(db, clock.now(), filler(12))
    pages = [
        staff_client.get("/api/v1/subscribers", params={"per_page": 5, "page": p}).json()
        for p in (1, 2, 3)
    ]
    assert [len(p["items"]) for p in pages] == [5, 5, 2]
    assert {p["pages"] for p in pages} == {3}
    ids = [i["id"] for p in pages for i in p["items"]]
    assert len(set(ids)) == 12


@pytest.mark.parametrize(
    "params",
    [
        {"status": "gone"},
        {"journey_stage": "x"},
        {"technology": "dialup"},
        {"sort": "name desc"},
        {"plan_id": "abc"},
        {"port_id": 0},
        {"page": 0},
        {"per_page": 101},
        {"q": "x" * 101},
    ],
)
def test_bad_query_params_are_422(staff_client: TestClient, params: dict[str, Any]) -> None:
    response = staff_client.get("/api/v1/subscribers", params=params)
    assert response.status_code == 422, response.text
    (name,) = params
    assert any(name in e["field"] for e in response.json()["errors"]), response.json()


def test_subscriber_360_shape(staff_client: TestClient, fleet: Fleet) -> None:
    body = staff_client.get(f"/api/v1/subscribers/{fleet.subscribers['ACC-1001']}").json()
    assert set(body) == {"subscriber", "bundles", "topology", "home"}
    sub = body["subscriber"]
    assert sub["account_number"] == "ACC-1001"
    assert sub["consent"] == {
        "email": True,
        "sms": True,
        "marketing": False,
        "updated_at": "2026-10-24T10:00:00Z",
    }
    assert sub["plan"]["monthly_price"] == "49.99" and sub["plan"]["down_mbps"] == 1000
    assert [b["code"] for b in body["bundles"]] == ["gaming", "mesh"]
    topo = body["topology"]
    assert (
        topo["region"]["code"],
        topo["access_node"]["code"],
        topo["port"]["name"],
        topo["homes_on_port"],
    ) == ("north", "LDS-OLT-01", "1/1/1", 2)
    home = body["home"]
    assert home["technology"] == "fttp"
    assert home["gateway"]["device_id"] == "GW-000101"
    assert home["gateway"]["last_seen_at"] == "2026-11-23T09:56:00Z"
    assert [(m["node_id"], m["backhaul_signal"]) for m in home["mesh_nodes"]] == [
        ("SAT-1", {"dbm": -63, "quality": "good", "label": "Good"}),
        ("SAT-2", None),
    ]
    assert [(c["name"], c["signal"]["quality"]) for c in home["clients"]] == [
        ("Alice's laptop", "excellent"),
        ("Living room TV", "fair"),
        ("Doorbell camera", "unusable"),
    ]
    assert home["clients"][0]["band_capability"] == "2.4+5+6"


def test_subscriber_without_home(staff_client: TestClient, fleet: Fleet) -> None:
    body = staff_client.get(f"/api/v1/subscribers/{fleet.subscribers['ACC-1005']}").json()
    assert body["home"] is None
    assert body["topology"] == {
        "region": None,
        "access_node": None,
        "port": None,
        "homes_on_port": 0,
    }


def test_unknown_subscriber_is_404_and_bad_id_422(staff_client: TestClient) -> None:
    missing = staff_client.get("/api/v1/subscribers/424242")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no subscriber with id 424242"}
    assert staff_client.get("/api/v1/subscribers/abc").status_code == 422
    # Out of the column's range: still a plain 404, not a database error.
    assert staff_client.get(f"/api/v1/subscribers/{10**20}").status_code == 404
    assert (
        staff_client.get(f"/subscribers/{10**20}", headers={"accept": "text/html"}).status_code
        == 404
    )


def test_plans(staff_client: TestClient, fleet: Fleet) -> None:
    body = staff_client.get("/api/v1/plans").json()
    assert [(p["code"], p["monthly_price"], p["subscriber_count"]) for p in body] == [
        ("fibre-100", "25.00", 1),
        ("fibre-500", "35.00", 2),
        ("fibre-1000", "49.99", 1),
    ]
    assert staff_client.get("/api/v1/plans", params={"active": "maybe"}).status_code == 422


def test_regions(staff_client: TestClient, fleet: Fleet) -> None:
    body = staff_client.get("/api/v1/regions").json()
    assert [r["code"] for r in body] == ["north", "south"]
    olt = body[0]["access_nodes"][0]
    assert (olt["code"], olt["kind"], olt["port_count"], olt["home_count"]) == (
        "LDS-OLT-01",
        "olt",
        2,
        3,
    )


@pytest.mark.parametrize(
    "path", ["/api/v1/subscribers", "/api/v1/subscribers/1", "/api/v1/plans", "/api/v1/regions"]
)
def test_anonymous_is_401(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def _token(db: Database, clock: ManualClock, scopes: list[str]) -> str:
    user = make_staff(db, clock, email=f"bot-{'-'.join(scopes)}@example.net".replace(":", "-"))
    with db.transaction() as session:
        _, secret = identity_actions.create_api_token(
            session, user_id=user.id, scopes=scopes, actor=TEST_ACTOR, now=clock.now()
        )
    return secret


def test_tokens_need_the_read_scope(
    client: TestClient, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    reader = _token(db, clock, ["read"])
    importer = _token(db, clock, ["import"])
    ok = client.get("/api/v1/subscribers", headers={"authorization": f"Bearer {reader}"})
    assert ok.status_code == 200 and ok.json()["total"] == 5
    refused = client.get("/api/v1/regions", headers={"authorization": f"Bearer {importer}"})
    assert refused.status_code == 403


def test_openapi_documents_the_routes(staff_client: TestClient) -> None:
    spec = staff_client.get("/api/openapi.json").json()
    listing = spec["paths"]["/api/v1/subscribers"]["get"]
    assert listing["tags"] == ["subscribers"]
    status = next(p for p in listing["parameters"] if p["name"] == "status")
    assert "suspended" in str(status["schema"])
    assert spec["paths"]["/api/v1/regions"]["get"]["tags"] == ["network"]
    assert spec["paths"]["/api/v1/plans"]["get"]["tags"] == ["subscribers"]


def test_api_statement_budget(
    staff_client: TestClient, db: Database, clock: ManualClock, fleet: Fleet
) -> None:
    def cost(url: str) -> int:
        with count_statements(db) as log:
            assert staff_client.get(url).status_code == 200
        return log.count

    before = {
        u: cost(u) for u in ("/api/v1/subscribers?per_page=100", "/api/v1/regions", "/api/v1/plans")
    }
    for spec in filler(25, clients=3):
        add_subscriber(db, fleet, spec, clock.now())
    after = {u: cost(u) for u in before}
    assert after == before
    assert before["/api/v1/subscribers?per_page=100"] <= 3  # sign-in, count, rows
    assert before["/api/v1/regions"] <= 3  # sign-in, regions, nodes with counts
