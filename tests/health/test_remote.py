"""The remote action queue: validation, rate limits, statuses and the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from homeport.audit.models import AuditEntry
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import Conflict, NotFound, ValidationFailed
from homeport.health import remote
from homeport.health.models import DeviceAction
from tests.factories import Fleet, build_fleet

GW = "GW-000101"


@pytest.fixture
def fleet(db: Database, clock: ManualClock) -> Fleet:
    return build_fleet(db, clock.now())


def _queue(
    db: Database, fleet: Fleet, clock: ManualClock, kind: str = "reboot", **kw: object
) -> int:
    args: dict[str, object] = {
        "home_id": fleet.homes["ACC-1001"],
        "device_id": GW,
        "kind": kind,
        "params": {},
        "requested_by": "policy:reboot_loop",
        "finding_id": None,
        "now": clock.now(),
    }
    args.update(kw)
    with db.transaction() as session:
        return remote.queue_action(session, **args).id  # type: ignore[arg-type]


def test_queue_audits_and_lists_pending(db: Database, fleet: Fleet, clock: ManualClock) -> None:
    first = _queue(db, fleet, clock, "set_channel", params={"band": "2.4GHz", "channel": 11})
    clock.advance(timedelta(seconds=5))
    second = _queue(db, fleet, clock, requested_by="staff:7")
    with db.session() as session:
        assert [a.id for a in remote.pending_actions(session, GW)] == [first, second]
        assert remote.pending_actions(session, "GW-000102") == []
        audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(a.action, a.actor_kind, a.actor_id) for a in audit] == [
        ("device_action.queued", "system", None),
        ("device_action.queued", "staff", 7),
    ]
    assert audit[0].detail["params"] == {"band": "2.4GHz", "channel": 11}


def test_never_reboot_a_home_twice_in_an_hour(
    db: Database, fleet: Fleet, clock: ManualClock
) -> None:
    action_id = _queue(db, fleet, clock)
    with pytest.raises(Conflict, match="already waiting"):
        _queue(db, fleet, clock)
    with db.transaction() as session:
        remote.mark_action(session, action_id, status="sent", result={}, now=clock.now())
        remote.mark_action(session, action_id, status="done", result={}, now=clock.now())
    clock.advance(timedelta(minutes=59))
    with pytest.raises(Conflict, match="rebooted less than an hour ago"):
        _queue(db, fleet, clock)
    clock.advance(timedelta(minutes=1, seconds=1))
    assert _queue(db, fleet, clock) > action_id


def test_unsupported_reboot_does_not_count(db: Database, fleet: Fleet, clock: ManualClock) -> None:
    action_id = _queue(db, fleet, clock)
    with db.transaction() as session:
        remote.mark_action(session, action_id, status="sent", result={}, now=clock.now())
        remote.mark_action(
            session, action_id, status="unsupported", result={"fault": 9000}, now=clock.now()
        )
    assert _queue(db, fleet, clock) > action_id


def test_hourly_cap_per_home(db: Database, fleet: Fleet, clock: ManualClock) -> None:
    for _ in range(remote.MAX_ACTIONS_PER_HOUR):
        action_id = _queue(db, fleet, clock, "speed_test")
        with db.transaction() as session:
            remote.mark_action(session, action_id, status="sent", result={}, now=clock.now())
            remote.mark_action(session, action_id, status="done", result={}, now=clock.now())
        clock.advance(timedelta(minutes=1))
    with pytest.raises(Conflict, match="remote actions in the last hour"):
        _queue(db, fleet, clock, "speed_test")
    with db.session() as session:
        assert session.query(DeviceAction).count() == remote.MAX_ACTIONS_PER_HOUR


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("set_channel", {"band": "2.4GHz", "channel": 36}, "channel"),
        ("set_channel", {"band": "7GHz", "channel": 1}, "band"),
        ("set_channel", {"band": "5GHz", "channel": "36"}, "channel"),
        ("firmware", {"url": "ftp://x/fw.bin"}, "url"),
        ("firmware", {"url": "https://fw.example/fw.bin", "file_size": -1}, "file_size"),
        ("reboot", {"delay": 5}, "params"),
        ("band_steer", {"mac": "nope", "band": "5GHz"}, "mac"),
        ("teleport", {}, "kind"),
    ],
)
def test_bad_actions_are_refused_and_write_nothing(
    db: Database, fleet: Fleet, clock: ManualClock, kind: str, params: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _queue(db, fleet, clock, kind, params=params)
    assert caught.value.errors[0].field == field
    with db.session() as session:
        assert session.query(DeviceAction).count() == 0
        assert session.query(AuditEntry).count() == 0


def test_device_must_be_the_homes_gateway(db: Database, fleet: Fleet, clock: ManualClock) -> None:
    with pytest.raises(NotFound):
        _queue(db, fleet, clock, device_id="GW-000102")
    with pytest.raises(ValidationFailed):
        _queue(db, fleet, clock, requested_by="someone")


def test_status_transitions(db: Database, fleet: Fleet, clock: ManualClock) -> None:
    action_id = _queue(db, fleet, clock, "firmware", params={"url": "https://fw.example/4.3.bin"})
    with db.transaction() as session, pytest.raises(Conflict, match="cannot become done"):
        remote.mark_action(session, action_id, status="done", result={}, now=clock.now())
    with db.transaction() as session:
        remote.mark_action(
            session, action_id, status="sent", result={"session": "s"}, now=clock.now()
        )
    clock.advance(timedelta(minutes=3))
    with db.transaction() as session:
        action = remote.mark_action(
            session, action_id, status="failed", result={"fault": 9010}, now=clock.now()
        )
        assert action.completed_at == clock.now()
    with db.transaction() as session, pytest.raises(Conflict, match="is failed"):
        remote.mark_action(session, action_id, status="done", result={}, now=clock.now())
    with db.session() as session:
        stored = session.get(DeviceAction, action_id)
        assert stored is not None
        assert stored.result == {"session": "s", "fault": 9010}
        assert stored.params == {"url": "https://fw.example/4.3.bin", "version": "", "file_size": 0}
        kinds = session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity_id == str(action_id))
            .order_by(AuditEntry.id)
        ).all()
    assert kinds == ["device_action.queued", "device_action.sent", "device_action.failed"]
    with db.transaction() as session, pytest.raises(NotFound):
        remote.mark_action(session, 999_999, status="sent", result={}, now=clock.now())


def test_events_after_commit(db: Database, fleet: Fleet, clock: ManualClock) -> None:
    seen: list[object] = []
    db.bus.subscribe(remote.ActionQueued, seen.append)
    db.bus.subscribe(remote.ActionFinished, seen.append)
    action_id = _queue(db, fleet, clock)
    with db.transaction() as session:
        remote.mark_action(session, action_id, status="unsupported", result={}, now=clock.now())
    assert [type(e).__name__ for e in seen] == ["ActionQueued", "ActionFinished"]
