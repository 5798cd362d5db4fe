"""Bundle recommendations on hand-built homes: the reason in words, one open row per bundle,
never a bundle already owned, stale ones expired, and acceptance tracked (and audited)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from homeport.audit.actions import Actor
from homeport.audit.models import AuditEntry
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import Conflict, NotFound, ValidationFailed
from homeport.retention import recommendations, segments
from homeport.retention.models import Recommendation
from homeport.selfservice.models import EngagementEvent
from homeport.subscribers.models import Subscriber
from tests.conftest import login, make_staff
from tests.factories import Fleet, build_catalogue, build_topology
from tests.retention.homes import (
    NOW,
    Device,
    add_demo_bundles,
    add_finding,
    add_home,
    evenings,
    many,
    office_hours,
)
from tests.selfservice.portal import make_account, portal_login

LONDON = ZoneInfo("Europe/London")
AGENT = Actor("staff", 7, "agent@example.net")


@pytest.fixture
def fleet(db: Database) -> Fleet:
    fleet = Fleet()
    build_catalogue(db, fleet)
    build_topology(db, fleet)
    add_demo_bundles(db, fleet)
    return fleet


def _recommend(db: Database, sid: int, at: object = NOW) -> list[Recommendation]:
    with db.transaction() as s:
        segments.compute_segments(s, NOW, zone=LONDON, subscriber_ids=[sid])
        recs = recommendations.recommend(s, sid, NOW, zone=LONDON)
        s.expunge_all()
        return recs


def _by_code(recs: list[Recommendation]) -> dict[str, Recommendation]:
    return {r.bundle_code: r for r in recs}


def test_weak_devices_bring_mesh_with_the_reason(db: Database, fleet: Fleet) -> None:
    sid = add_home(
        db,
        fleet,
        "MSH-1",
        "Mo Mesh",
        [
            Device("02:21:00:00:00:01", "Bedroom TV", "tv", rssi=-82),
            Device("02:21:00:00:00:02", "Garden camera", "camera", rssi=-79),
            Device("02:21:00:00:00:03", "Loft laptop", "laptop", rssi=-77),
            Device("02:21:00:00:00:04", "Phone", "phone", rssi=-50),
        ],
    )
    recs = _by_code(_recommend(db, sid))
    mesh = recs["MESH-WIFI"]
    assert mesh.reason == (
        "Three devices below -75 dBm (Bedroom TV -82 dBm, Garden camera -79 dBm, "
        "Loft laptop -77 dBm): Whole Home Wi-Fi would fix coverage."
    )
    assert mesh.evidence["rule"] == "mesh_wifi"
    assert [d["rssi_dbm"] for d in mesh.evidence["weak_devices"]] == [-82, -79, -77]


def test_a_coverage_gap_finding_alone_brings_mesh(db: Database, fleet: Fleet) -> None:
    sid = add_home(db, fleet, "MSH-2", "Meg", [Device("02:22:00:00:00:01", "Phone", "phone")])
    add_finding(
        db,
        fleet,
        "MSH-2",
        "coverage_gap",
        "3 of 5 devices are below -67 dBm",
        opened=NOW - timedelta(hours=3),
    )
    mesh = _by_code(_recommend(db, sid))["MESH-WIFI"]
    assert mesh.reason.startswith("Wi-Fi coverage gap: 3 of 5 devices are below -67 dBm.")


def test_no_bundle_already_owned_and_no_mesh_with_satellites(db: Database, fleet: Fleet) -> None:
    weak = [Device(f"02:23:00:00:00:0{i}", f"Device {i}", "phone", rssi=-80) for i in range(3)]
    owner = add_home(db, fleet, "MSH-3", "Owen", weak, bundles=("MESH-WIFI",))
    assert "MESH-WIFI" not in _by_code(_recommend(db, owner))


def test_gamer_with_bufferbloat_gets_gaming_priority(db: Database, fleet: Fleet) -> None:
    sid = add_home(
        db,
        fleet,
        "GAM-1",
        "Gary",
        [*many(0x24, "console", 2, online=evenings), Device("02:24:01:00:00:01", "TV", "tv")],
    )
    assert "GAMING-PRIORITY" not in _by_code(_recommend(db, sid))  # a gamer, but no lag
    add_finding(
        db,
        fleet,
        "GAM-1",
        "bufferbloat",
        "Latency rises 85 ms under load (grade C)",
        opened=NOW - timedelta(days=2),
        status="resolved",
    )
    rec = _by_code(_recommend(db, sid))["GAMING-PRIORITY"]
    assert rec.reason.startswith(
        "Gamer home (2 consoles, online most evenings (7 of 7), evening peak) with latency "
        "rises 85 ms under load (grade C): Gaming Priority"
    )


def test_smart_home_security_and_family_controls(db: Database, fleet: Fleet) -> None:
    smart = add_home(db, fleet, "SMT-1", "Sam", [*many(0x25, "iot", 7), *many(0x26, "camera", 2)])
    family = add_home(
        db, fleet, "FAM-1", "Fran", [*many(0x27, "phone", 4), *many(0x28, "tablet", 2)]
    )
    assert _by_code(_recommend(db, smart))["SMART-SECURE"].reason == (
        "Smart home (9 smart devices, 2 cameras): Smart Home Security puts them on a network "
        "of their own and blocks threats."
    )
    assert _by_code(_recommend(db, family))["FAMILY-CONTROLS"].reason == (
        "Family home (4 phones, 2 tablets): Parental Controls gives filters and bedtimes per "
        "child's device."
    )


def test_work_from_home_with_outages_gets_a_backup(db: Database, fleet: Fleet) -> None:
    devices = [Device("02:29:00:00:00:01", "Wendy's laptop", "laptop", online=office_hours)]
    sid = add_home(db, fleet, "WFH-1", "Wendy", devices)
    assert _by_code(_recommend(db, sid)) == {}  # works from home, line never lost
    for days in (60, 12):
        add_finding(
            db,
            fleet,
            "WFH-1",
            "wan_down",
            "WAN is down",
            opened=NOW - timedelta(days=days),
            status="resolved",
        )
    add_finding(
        db,
        fleet,
        "WFH-1",
        "wan_down",
        "too old",
        opened=NOW - timedelta(days=120),
        status="resolved",
    )
    rec = _by_code(_recommend(db, sid))["BACKUP-4G"]
    assert rec.reason == (
        "Works from home (laptop active 09:00–17:00 on 5 weekdays, 1 computer) and lost the "
        "line twice in 90 days (last 16 Nov): Backup Connection takes over when the line is down."
    )


def test_evening_demand_near_the_plan_brings_an_upgrade(db: Database, fleet: Fleet) -> None:
    screens = many(0x2A, "tv", 4, online=evenings)
    sid = add_home(db, fleet, "STR-1", "Stella", screens, plan="fibre-100", down_mbps=94.0)
    rec = _by_code(_recommend(db, sid))["UPGRADE"]
    assert rec.reason == (
        "Evening use of about 100 Mbps (4.0 screens online in the evening) is 100% of Fibre 100 "
        "(100 Mbps), and the line delivers 94 Mbps: Fibre 500 (500 Mbps) gives room to spare."
    )
    assert rec.evidence["upgrade_code"] == "fibre-500"
    # A line that cannot deliver its plan gets no upgrade: the line is the limit, not the plan.
    slow = add_home(
        db,
        fleet,
        "STR-2",
        "Stan",
        many(0x2B, "tv", 4, online=evenings),
        plan="fibre-100",
        down_mbps=60.0,
    )
    assert "UPGRADE" not in _by_code(_recommend(db, slow))


def test_one_open_per_bundle_refreshed_and_expired(db: Database, fleet: Fleet) -> None:
    weak = [Device(f"02:2c:00:00:00:0{i}", f"Device {i}", "phone", rssi=-80) for i in range(2)]
    sid = add_home(db, fleet, "MSH-4", "Mia", weak)
    first = _by_code(_recommend(db, sid))["MESH-WIFI"]
    again = _by_code(_recommend(db, sid))["MESH-WIFI"]
    assert again.id == first.id
    with db.session() as s:
        assert len(s.scalars(select(Recommendation)).all()) == 1
    # The weak devices are gone for a week: the reason no longer holds, the row expires.
    with db.transaction() as s:
        result = recommendations.refresh(s, NOW + timedelta(days=8), zone=LONDON)
    assert result.expired == 1
    with db.session() as s:
        assert s.get_one(Recommendation, first.id).status == "expired"


def test_accepting_adds_the_bundle_and_is_audited(db: Database, fleet: Fleet) -> None:
    weak = [Device(f"02:2d:00:00:00:0{i}", f"Device {i}", "phone", rssi=-80) for i in range(3)]
    sid = add_home(db, fleet, "MSH-5", "Max", weak, bundles=("gaming",))
    rec = _by_code(_recommend(db, sid))["MESH-WIFI"]
    with db.transaction() as s:
        s_rec = recommendations.decide(
            s, rec.id, True, "agent", "agent@example.net", actor=AGENT, now=NOW
        )
        assert s_rec.status == "accepted"
    with db.session() as s:
        got = s.get_one(Recommendation, rec.id)
        assert (got.status, got.decided_via, got.decided_by) == (
            "accepted",
            "agent",
            "agent@example.net",
        )
        sub = s.get_one(Subscriber, sid)
        assert sorted(b.code for b in sub.bundles) == ["MESH-WIFI", "gaming"]
        audit = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [a.action for a in audit][-2:] == [
            "subscriber.bundles_set",
            "recommendation.accepted",
        ]
        assert recommendations.acceptance(s) == {"MESH-WIFI": {"accepted": 1}}
    # Decided once: a second answer is refused; the owned bundle is not proposed again.
    with db.transaction() as s, pytest.raises(Conflict):
        recommendations.decide(s, rec.id, False, "portal", "x", actor=AGENT, now=NOW)
    assert "MESH-WIFI" not in _by_code(_recommend(db, sid))


def test_declined_is_not_proposed_again_and_bad_input_is_refused(
    db: Database, fleet: Fleet
) -> None:
    weak = [Device(f"02:2e:00:00:00:0{i}", f"Device {i}", "phone", rssi=-80) for i in range(3)]
    sid = add_home(db, fleet, "MSH-6", "Nia", weak)
    other = add_home(db, fleet, "MSH-7", "Ola", [Device("02:2f:00:00:00:01", "P", "phone")])
    rec = _by_code(_recommend(db, sid))["MESH-WIFI"]
    with db.transaction() as s, pytest.raises(NotFound):
        recommendations.decide(
            s, rec.id, True, "portal", "ola", actor=AGENT, now=NOW, subscriber_id=other
        )
    with db.transaction() as s, pytest.raises(ValidationFailed):
        recommendations.decide(s, rec.id, True, "fax", "x", actor=AGENT, now=NOW)
    with db.transaction() as s:
        recommendations.decide(
            s, rec.id, False, "portal", "nia", actor=AGENT, now=NOW, subscriber_id=sid
        )
    assert _by_code(_recommend(db, sid)) == {}
    with db.transaction() as s, pytest.raises(NotFound):
        recommendations.recommend(s, 999_999, NOW)


def test_shown_is_recorded_once_per_channel(db: Database, fleet: Fleet) -> None:
    weak = [Device(f"02:30:00:00:00:0{i}", f"Device {i}", "phone", rssi=-80) for i in range(3)]
    sid = add_home(db, fleet, "MSH-8", "Pat", weak)
    _recommend(db, sid)
    with db.transaction() as s:
        shown = recommendations.show(s, sid, "technician", NOW)
        assert [r.title for r in shown] == ["Whole Home Wi-Fi"]
    with db.transaction() as s:
        recommendations.show(s, sid, "technician", NOW + timedelta(hours=1))
        recommendations.show(s, sid, "portal", NOW + timedelta(hours=2))
    with db.session() as s:
        rec = s.scalars(select(Recommendation)).one()
        assert rec.shown == {
            "technician": NOW.isoformat(),
            "portal": (NOW + timedelta(hours=2)).isoformat(),
        }


# --- On the pages ---------------------------------------------------------------------------


def _mesh_home(db: Database, fleet: Fleet, account: str, prefix: int, email: str) -> int:
    weak = [
        Device(f"02:{prefix:02x}:00:00:00:0{i}", f"Room {i + 1} speaker", "speaker", rssi=-80 - i)
        for i in range(3)
    ]
    sid = add_home(db, fleet, account, account.title(), weak, email=email)
    _recommend(db, sid)
    return sid


def test_pages_show_the_reason_and_record_answers(
    db: Database, fleet: Fleet, client: TestClient, clock: ManualClock
) -> None:
    clock.set(NOW)
    make_staff(db, clock, email="agent@example.net", role="agent")
    make_staff(db, clock, email="noc@example.net", role="noc")
    alice = _mesh_home(db, fleet, "ALI-1", 0x31, "alice@example.test")
    bob = _mesh_home(db, fleet, "BOB-1", 0x32, "bob@example.test")
    with db.session() as s:
        alice_rec = _by_code(recommendations.open_for(s, alice))["MESH-WIFI"].id
        bob_rec = _by_code(recommendations.open_for(s, bob))["MESH-WIFI"].id

    csrf = login(client, "agent@example.net")
    page = client.get(f"/subscribers/{alice}")
    assert "Three devices below -75 dBm (Room 3 speaker -82 dBm" in page.text
    assert f'action="/recommendations/{alice_rec}/decision"' in page.text
    # Without the CSRF token nothing happens.
    refused = client.post(f"/recommendations/{alice_rec}/decision", data={"answer": "accept"})
    assert refused.status_code == 403
    # An agent may not answer for the technician channel.
    wrong = client.post(
        f"/recommendations/{alice_rec}/decision",
        data={"answer": "accept", "via": "technician", "csrf_token": csrf},
    )
    assert wrong.status_code == 404
    done = client.post(
        f"/recommendations/{alice_rec}/decision",
        data={
            "answer": "decline",
            "via": "agent",
            "back": f"/subscribers/{alice}",
            "csrf_token": csrf,
        },
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/subscribers/{alice}#recommendations"
    with db.session() as s:
        rec = s.get_one(Recommendation, alice_rec)
        assert (rec.status, rec.decided_via, rec.decided_by) == (
            "declined",
            "agent",
            "agent@example.net",
        )
        assert "agent" in rec.shown

    # The NOC does not answer offers.
    csrf = login(client, "noc@example.net")
    noc = client.post(
        f"/recommendations/{bob_rec}/decision", data={"answer": "accept", "csrf_token": csrf}
    )
    assert noc.status_code == 403

    # In the portal: Bob sees his own, cannot answer Alice's (404), accepts his.
    make_account(db, clock, bob, "bob@example.test")
    csrf = portal_login(client, "bob@example.test")
    home = client.get("/portal/")
    assert "Suggested for your home" in home.text
    assert "Whole Home Wi-Fi would fix coverage." in home.text
    other = client.post(
        f"/portal/recommendations/{alice_rec}/decision",
        data={"answer": "accept", "csrf_token": csrf},
    )
    assert other.status_code == 404
    mine = client.post(
        f"/portal/recommendations/{bob_rec}/decision",
        data={"answer": "accept", "csrf_token": csrf},
    )
    assert mine.status_code == 303
    with db.session() as s:
        rec = s.get_one(Recommendation, bob_rec)
        assert (rec.status, rec.decided_via) == ("accepted", "portal")
        assert "portal" in rec.shown
        assert "MESH-WIFI" in {b.code for b in s.get_one(Subscriber, bob).bundles}
        assert s.get_one(Recommendation, alice_rec).status == "declined"
        # The portal answer is a use of self-service (digital adoption counts it).
        used = s.scalars(
            select(EngagementEvent.detail).where(
                EngagementEvent.subscriber_id == bob, EngagementEvent.kind == "recommendation"
            )
        ).all()
        assert used == [{"recommendation": bob_rec, "bundle": "MESH-WIFI", "accepted": True}]
