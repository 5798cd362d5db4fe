"""The health read API: /api/v1/health/summary, /api/v1/findings, /api/v1/outages,
/api/v1/outages/{id} and /api/v1/subscribers/{id}/experience, on data from the real pipeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.identity import actions as identity_actions
from tests.conftest import START, TEST_ACTOR, login, make_staff
from tests.web.conftest import count_statements
from tests.web.health_data import HISTORY, HealthStory, alice_report, build_story, store

PATHS = [
    "/api/v1/health/summary",
    "/api/v1/findings",
    "/api/v1/outages",
    "/api/v1/outages/1",
    "/api/v1/subscribers/1/experience",
]


@pytest.fixture
def story(db: Database, settings: Settings, clock: ManualClock) -> HealthStory:
    built = build_story(db, settings)
    clock.set(START + timedelta(minutes=1))
    return built


@pytest.fixture
def api(client: TestClient, db: Database, clock: ManualClock) -> TestClient:
    make_staff(db, clock)
    login(client, "agent@example.net")
    return client


def test_summary(api: TestClient, story: HealthStory) -> None:
    body = api.get("/api/v1/health/summary").json()
    assert body["at"] == "2026-11-23T10:01:00Z"
    assert body["homes"] == {
        "with_gateway": 14,
        "reporting": 14,
        "silent": 0,
        "never_reported": 0,
        "offline": 6,
    }
    assert body["open_findings"] == 11
    assert body["findings_by_severity"] == {"critical": 6, "warning": 5, "info": 0}
    kinds = {k["kind"]: (k["total"], k["homes"]) for k in body["findings_by_kind"]}
    assert kinds == {
        "wan_down": (6, 6),
        "weak_client_signal": (2, 1),
        "congested_channel": (1, 1),
        "coverage_gap": (1, 1),
        "high_latency": (1, 1),
    }
    assert body["findings_by_kind"][0]["kind"] == "wan_down"  # critical first
    [outage] = body["open_outages"]
    assert outage["place"] == "North / LDS-OLT-01 / 1/1/2"
    assert (outage["homes_affected"], outage["homes_still_down"]) == (6, 6)
    scores = body["scores"]
    assert scores["scored_homes"] == 14
    assert scores["bands"] == {"poor": 6, "average": 1, "excellent": 7}
    assert [b["homes"] for b in scores["buckets"]] == [0, 6, 0, 0, 0, 1, 0, 0, 0, 7]
    assert (scores["buckets"][0]["low"], scores["buckets"][-1]["high"]) == (0, 100)
    # 6 × 20 (WAN down, capped) + 53.3 (Alice) + 95 (Dev's latency) + 6 × 100, over 14 homes
    assert scores["mean"] == pytest.approx((6 * 20 + 53.3 + 95 + 6 * 100) / 14, abs=0.05)
    worst = scores["worst"]
    assert [w["subscriber"]["name"] for w in worst[:7]] == [
        *(f"Filler {i:04d}" for i in range(1, 7)),
        "Alice Smith",
    ]
    assert worst[6]["explanation"].startswith("Wi-Fi coverage pulled the score down")
    assert worst[6]["band"] == "average"
    trend = scores["trend"]
    assert len(trend) == 24 and trend[-1]["period_start"] == "2026-11-23T10:00:00Z"
    assert trend[-1]["homes"] == 14 and trend[0]["homes"] == 1  # only Alice has history


def test_summary_on_an_empty_database(api: TestClient) -> None:
    body = api.get("/api/v1/health/summary").json()
    assert body["homes"]["with_gateway"] == 0 and body["open_findings"] == 0
    assert body["scores"]["mean"] is None and body["scores"]["worst"] == []
    assert body["open_outages"] == []


def test_findings(api: TestClient, story: HealthStory) -> None:
    body = api.get("/api/v1/findings").json()
    assert (body["total"], body["page"], body["pages"]) == (11, 1, 1)
    first = body["items"][0]
    assert first["kind"] == "wan_down" and first["severity"] == "critical"
    assert first["outage_id"] == 1 and first["title"] == "WAN down"
    assert first["subscriber"]["name"] == "Filler 0006"
    assert first["region"] == {"id": story.fleet.regions["north"], "name": "North"}
    alice = [i for i in body["items"] if i["subscriber"]["id"] == story.alice]
    channel = next(i for i in alice if i["kind"] == "congested_channel")
    assert channel["evidence"]["utilization_pct"] == 85
    assert "action_id" not in channel["evidence"]  # bookkeeping stays out of the evidence
    assert channel["remediation"] == "attempted"
    assert channel["opened_at"] == "2026-11-23T09:05:00Z"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "wan_down"}, 6),
        ({"severity": "warning"}, 5),
        ({"status": "resolved"}, 1),
        ({"kind": "high_latency", "status": "resolved"}, 1),
        ({"kind": "reboot_loop"}, 0),
    ],
)
def test_findings_filters(
    api: TestClient, story: HealthStory, params: dict[str, str], expected: int
) -> None:
    body = api.get("/api/v1/findings", params=params).json()
    assert body["total"] == expected == len(body["items"])
    for item in body["items"]:
        for key, value in params.items():
            assert item[key] == value


def test_findings_by_region_and_paging(api: TestClient, story: HealthStory) -> None:
    south = api.get("/api/v1/findings", params={"region_id": story.fleet.regions["south"]})
    assert [i["subscriber"]["name"] for i in south.json()["items"]] == ["Dev Patel"]
    seen: list[int] = []
    for page in (1, 2, 3):
        body = api.get("/api/v1/findings", params={"per_page": 4, "page": page}).json()
        assert (body["total"], body["pages"]) == (11, 3)
        seen.extend(i["id"] for i in body["items"])
    assert len(seen) == len(set(seen)) == 11
    beyond = api.get("/api/v1/findings", params={"per_page": 4, "page": 4}).json()
    assert beyond["items"] == [] and beyond["total"] == 11


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "bogus"},
        {"status": "pending"},
        {"severity": "fatal"},
        {"per_page": 0},
        {"per_page": 101},
        {"page": 0},
        {"region_id": 0},
    ],
)
def test_findings_bad_parameters_are_422(api: TestClient, params: dict[str, Any]) -> None:
    response = api.get("/api/v1/findings", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["errors"]


def test_outages(api: TestClient, story: HealthStory) -> None:
    body = api.get("/api/v1/outages").json()
    assert body["total"] == 1
    [o] = body["items"]
    assert o["scope"] == "port" and o["status"] == "open"
    assert o["port_id"] == story.fleet.ports["north-olt1-p2"] and o["port_name"] == "1/1/2"
    assert o["access_node_code"] == "LDS-OLT-01"
    assert o["opened_at"] == "2026-11-23T09:50:00Z"
    assert api.get("/api/v1/outages", params={"status": "closed"}).json()["total"] == 0
    assert api.get("/api/v1/outages", params={"status": "open"}).json()["total"] == 1
    assert api.get("/api/v1/outages", params={"status": "bogus"}).status_code == 422

    detail = api.get("/api/v1/outages/1").json()
    assert detail["homes_affected"] == 6
    members = detail["members"]
    assert [m["subscriber"]["account_number"] for m in members] == [
        f"FIL-{i:04d}" for i in range(1, 7)
    ]
    assert members[0]["device_id"] == "GW-F00001"
    assert members[0]["lost_at"] == "2026-11-23T09:50:00Z"
    assert all(m["recovered_at"] is None for m in members)


@pytest.mark.parametrize("outage_id", ["999", str(2**40), "0"])
def test_unknown_outage_is_404(api: TestClient, outage_id: str) -> None:
    response = api.get(f"/api/v1/outages/{outage_id}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"no outage with id {outage_id}"}


def test_experience(api: TestClient, story: HealthStory) -> None:
    body = api.get(f"/api/v1/subscribers/{story.alice}/experience").json()
    assert body["subscriber_id"] == story.alice
    assert body["since"] == "2026-11-16T10:01:00Z"
    current = body["current"]
    assert current == body["latest"]
    assert current["period_start"] == "2026-11-23T10:00:00Z"
    assert (current["score"], current["band"], current["stars"]) == (53.3, "average", 3)
    assert current["weakest"] == "wifi_coverage" and current["capped"] is True
    assert current["explanation"].startswith("Wi-Fi coverage pulled the score down (33/100")
    assert current["reasons"] == [["2 of 3 devices below -67 dBm", 1]]
    subscores = {s["key"]: s["value"] for s in current["subscores"]}
    assert subscores == {
        "wan_service": 100.0,
        "wan_continuity": 100.0,
        "wifi_coverage": 33.3,
        "wifi_efficiency": 50.0,
        "device_health": 100.0,
    }
    assert sum(s["weight"] for s in current["subscores"]) == pytest.approx(1)
    history = body["history"]
    assert len(history) == 145  # hourly since 17 Nov 10:00 (first report), up to now
    assert history[0]["period_start"] == "2026-11-17T10:00:00Z"
    assert [h["period_start"] for h in history] == sorted(h["period_start"] for h in history)
    assert history[0]["score"] == 100.0 and history[-1]["score"] == 53.3
    kinds = sorted(f["kind"] for f in body["open_findings"])
    assert kinds == [
        "congested_channel",
        "coverage_gap",
        "weak_client_signal",
        "weak_client_signal",
    ]
    [action] = body["recent_actions"]
    assert action["kind"] == "set_channel" and action["status"] == "queued"
    assert action["params"] == {"band": "2.4GHz", "channel": 11}
    assert action["requested_by"] == "policy:congested_channel"


def test_experience_window_and_edge_cases(
    api: TestClient, story: HealthStory, clock: ManualClock
) -> None:
    day = api.get(f"/api/v1/subscribers/{story.alice}/experience", params={"days": 1}).json()
    assert len(day["history"]) == 25  # 09:00 yesterday (part of the window) … 10:00 today
    for days in (0, 91):
        response = api.get(f"/api/v1/subscribers/{story.alice}/experience", params={"days": days})
        assert response.status_code == 422
    erin = story.fleet.subscribers["ACC-1005"]
    none = api.get(f"/api/v1/subscribers/{erin}/experience").json()
    assert none["home_id"] is None and none["history"] == [] and none["current"] is None
    assert api.get("/api/v1/subscribers/999999/experience").status_code == 404
    # Three hours later, the latest score is no longer current.
    clock.set(START + timedelta(hours=3))
    later = api.get(f"/api/v1/subscribers/{story.alice}/experience").json()
    assert later["current"] is None and later["latest"]["score"] == 53.3


@pytest.mark.parametrize("path", PATHS)
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
    client: TestClient, db: Database, clock: ManualClock, story: HealthStory
) -> None:
    reader = {"authorization": f"Bearer {_token(db, clock, ['read'])}"}
    importer = {"authorization": f"Bearer {_token(db, clock, ['import'])}"}
    for path in PATHS:
        assert client.get(path, headers=reader).status_code == 200, path
        assert client.get(path, headers=importer).status_code == 403, path


def test_openapi_documents_the_routes(api: TestClient) -> None:
    spec = api.get("/api/openapi.json").json()
    for path in (
        "/api/v1/health/summary",
        "/api/v1/findings",
        "/api/v1/outages",
        "/api/v1/outages/{outage_id}",
        "/api/v1/subscribers/{subscriber_id}/experience",
    ):
        assert spec["paths"][path]["get"]["tags"] == ["health"], path
    kind = next(
        p for p in spec["paths"]["/api/v1/findings"]["get"]["parameters"] if p["name"] == "kind"
    )
    assert "wan_down" in str(kind["schema"])
    assert "FleetSummaryOut" in spec["components"]["schemas"]


def test_api_statements_do_not_grow_with_data(
    api: TestClient, db: Database, settings: Settings, clock: ManualClock
) -> None:
    story = build_story(db, settings, history=False)
    clock.set(START + timedelta(minutes=1))

    def cost(url: str) -> int:
        with count_statements(db) as log:
            assert api.get(url).status_code == 200
        return log.count

    urls = [
        "/api/v1/health/summary",
        "/api/v1/findings?per_page=3",
        "/api/v1/outages/1",
        f"/api/v1/subscribers/{story.alice}/experience",
    ]
    small = {u: cost(u) for u in urls}
    # Six days of Alice's history: 143 more scores for her and for the fleet's trend.
    store(db, settings, [alice_report(ts, recent=False) for ts in HISTORY], HISTORY[-1])
    large = {u: cost(u) for u in urls}
    assert large == small
    assert small["/api/v1/health/summary"] <= 8  # sign-in + seven
    assert small[f"/api/v1/subscribers/{story.alice}/experience"] <= 5  # sign-in, home, three
