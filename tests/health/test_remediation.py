"""Auto-remediation policies (with F's rate-limited action queue), the check that the fix
worked, and escalation to one proactive case (never duplicated)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from homeport.core.db import Database
from homeport.core.health_settings import HealthSettings
from homeport.core.settings import Settings
from homeport.health import remote
from homeport.health.models import DeviceAction
from homeport.support.models import Case
from homeport.wiring import connect
from tests.conftest import START
from tests.factories import Fleet
from tests.health.pipeline import feed, findings, home_of
from tests.health.reports import INTERVAL, LAPTOP, report

BUSY: dict[str, Any] = {"radio": {"5GHz": {"utilization_pct": 90}}}


@pytest.fixture
def wired(db: Database, settings: Settings) -> Database:
    connect(db, settings)
    return db


def cases(db: Database) -> list[Case]:
    with db.session() as s:
        return list(s.scalars(select(Case).order_by(Case.id)))


def actions(db: Database) -> list[DeviceAction]:
    with db.session() as s:
        return list(s.scalars(select(DeviceAction).order_by(DeviceAction.id)))


def finish(db: Database, action_id: int, status: str) -> None:
    with db.transaction() as s:
        remote.mark_action(s, action_id, status="sent", result={}, now=START + INTERVAL)
        remote.mark_action(s, action_id, status=status, result={}, now=START + INTERVAL)


def test_a_channel_change_that_works(wired: Database, fleet: Fleet) -> None:
    feed(wired, fleet, [report(ts=START + n * INTERVAL, **BUSY) for n in range(2)])
    [f] = findings(wired, "congested_channel")
    [action] = actions(wired)
    assert (action.kind, action.params, action.requested_by, action.finding_id) == (
        "set_channel",
        {"band": "5GHz", "channel": 44},
        "policy:congested_channel",
        f.id,
    )
    assert f.remediation == "attempted" and f.evidence["action_id"] == action.id
    finish(wired, action.id, "done")
    feed(wired, fleet, [report(ts=START + n * INTERVAL) for n in range(2, 5)])
    [f] = findings(wired, "congested_channel")
    assert (f.status, f.remediation) == ("resolved", "fixed")
    assert cases(wired) == []


def test_a_fix_that_does_not_work_becomes_one_case(wired: Database, fleet: Fleet) -> None:
    feed(wired, fleet, [report(ts=START + n * INTERVAL, **BUSY) for n in range(2)])
    [action] = actions(wired)
    finish(wired, action.id, "done")
    # Still congested, but the fix gets remediation_verify_s (an hour) to work.
    feed(wired, fleet, [report(ts=START + n * INTERVAL, **BUSY) for n in range(2, 12)])
    assert findings(wired, "congested_channel")[0].remediation == "attempted"
    assert cases(wired) == []
    feed(wired, fleet, [report(ts=START + n * INTERVAL, **BUSY) for n in range(13, 20)])
    [f] = findings(wired, "congested_channel")
    assert (f.remediation, f.evidence["escalation"]) == ("failed", "remediation_failed")
    [case] = cases(wired)
    assert (case.origin, case.category, case.finding_id, case.status, case.priority) == (
        "proactive",
        "congested_channel",
        f.id,
        "new",
        "normal",
    )
    assert case.subscriber_id == fleet.subscribers["FIL-0001"]
    assert len(actions(wired)) == 1  # no second attempt


def test_an_unsupported_action_fails_at_once(wired: Database, fleet: Fleet) -> None:
    feed(wired, fleet, [report(ts=START + n * INTERVAL, **BUSY) for n in range(2)])
    [action] = actions(wired)
    finish(wired, action.id, "unsupported")
    feed(wired, fleet, [report(ts=START + 2 * INTERVAL, **BUSY)])
    [f] = findings(wired, "congested_channel")
    assert f.remediation == "failed" and "unsupported" in f.evidence["remediation_note"]
    assert len(cases(wired)) == 1


def test_the_rate_limit_refuses_a_second_reboot(wired: Database, fleet: Fleet) -> None:
    home = home_of(fleet, "GW-F00001")
    with wired.transaction() as s:
        staff = remote.queue_action(
            s,
            home_id=home,
            device_id="GW-F00001",
            kind="reboot",
            params={},
            requested_by="staff:1",
            finding_id=None,
            now=START,
        )
    finish(wired, staff.id, "done")
    # Reboot on a slow line is an opt-in policy.
    health = HealthSettings(
        remediation_policies={"speed_below_plan": "reboot"},
        open_after_by_kind={},
    )
    slow: dict[str, Any] = {"wan": {"down_mbps": 40.0}}
    feed(wired, fleet, [report(ts=START + n * INTERVAL, **slow) for n in range(2)], health)
    [f] = findings(wired, "speed_below_plan")
    assert f.remediation == "not_allowed"
    assert "less than an hour ago" in f.evidence["remediation_note"]
    assert [a.requested_by for a in actions(wired)] == ["staff:1"]
    [case] = cases(wired)
    assert case.category == "speed_below_plan"


def test_band_steering_only_for_a_client_on_2g(wired: Database, fleet: Fleet) -> None:
    on_5g: dict[str, Any] = {"client": {LAPTOP: {"retrans_pct": 25.0}}}
    feed(wired, fleet, [report(ts=START + n * INTERVAL, **on_5g) for n in range(2)])
    assert actions(wired) == []
    assert findings(wired, "high_retransmissions")[0].remediation == ""
    on_2g: dict[str, Any] = {"client": {LAPTOP: {"retrans_pct": 25.0, "band": "2.4GHz"}}}
    feed(wired, fleet, [report(ts=START + n * INTERVAL, **on_2g) for n in range(2, 4)])
    [action] = actions(wired)
    assert (action.kind, action.params) == ("band_steer", {"mac": LAPTOP, "band": "5GHz"})


def test_a_critical_finding_is_one_case_however_often_it_recurs(
    wired: Database, fleet: Fleet
) -> None:
    loop: dict[str, Any] = {"uptime_s": 60}
    feed(wired, fleet, [report(ts=START + n * INTERVAL, **loop) for n in range(5)])
    [case] = cases(wired)
    assert (case.category, case.priority) == ("reboot_loop", "high")
    # It resolves, comes back while the case is still live: the same case is updated.
    feed(wired, fleet, [report(ts=START + n * INTERVAL) for n in range(5, 8)])
    feed(wired, fleet, [report(ts=START + n * INTERVAL, **loop) for n in range(8, 11)])
    assert [f.status for f in findings(wired, "reboot_loop")] == ["resolved", "open"]
    [again] = cases(wired)
    assert again.id == case.id and "Seen again" in again.description
    assert again.updated_at == START + 9 * INTERVAL


def test_a_persistent_warning_becomes_a_case(
    wired: Database, fleet: Fleet, settings: Settings
) -> None:
    health = HealthSettings(case_after_s=1800)
    slow: dict[str, Any] = {"wan": {"latency_ms": 200.0}}
    feed(wired, fleet, [report(ts=START + n * INTERVAL, **slow) for n in range(7)], health)
    assert cases(wired) == []
    feed(wired, fleet, [report(ts=START + 7 * INTERVAL, **slow)], health)
    [case] = cases(wired)
    assert case.category == "high_latency" and case.priority == "normal"


def test_remediation_can_be_turned_off(wired: Database, fleet: Fleet) -> None:
    health = HealthSettings(auto_remediation=False)
    feed(wired, fleet, [report(ts=START + n * INTERVAL, **BUSY) for n in range(3)], health)
    assert actions(wired) == []
    assert findings(wired, "congested_channel")[0].remediation == ""


def test_advice_is_never_a_case(wired: Database, fleet: Fleet) -> None:
    health = HealthSettings(case_after_s=60)
    legacy: dict[str, Any] = {
        "client": {"a4:5e:60:00:00:03": {"phy_rate_mbps": 11}},
        "radio": {"2.4GHz": {"utilization_pct": 70}},
    }
    feed(wired, fleet, [report(ts=START + n * INTERVAL, **legacy) for n in range(6)], health)
    assert findings(wired, "legacy_client")[0].status == "open"
    assert cases(wired) == []


def test_a_slow_line_is_not_rebooted_by_default(wired: Database, fleet: Fleet) -> None:
    """Speed below plan must persist an hour (12 reports) and has no default policy."""
    slow: dict[str, Any] = {"wan": {"down_mbps": 40.0}}
    feed(wired, fleet, [report(ts=START + n * INTERVAL, **slow) for n in range(11)])
    assert findings(wired, "speed_below_plan")[0].status == "pending"
    feed(wired, fleet, [report(ts=START + 11 * INTERVAL, **slow)])
    [f] = findings(wired, "speed_below_plan")
    assert (f.status, f.remediation) == ("open", "")
    assert actions(wired) == [] and cases(wired) == []
