"""Findings: open after N consecutive reports, resolve after M clear ones, one live finding per
(home, kind, subject), evidence updated, no flapping; the batch reads in constant queries."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, select

from homeport.audit.models import AuditEntry
from homeport.core.db import Database
from homeport.core.health_settings import HealthSettings
from homeport.health.findings import open_after
from tests.conftest import START
from tests.factories import Fleet
from tests.health.pipeline import evaluate, feed, findings
from tests.health.reports import INTERVAL, report
from tests.health.test_detectors import CASES


@pytest.mark.parametrize("kind", sorted(CASES))
def test_every_detector_opens_and_recovers(db: Database, fleet: Fleet, kind: str) -> None:
    _, faulty, severity, subject = CASES[kind]
    need = open_after(kind, HealthSettings())  # 2, or 12 for a speed below plan
    t = [START + i * INTERVAL for i in range(need + 4)]
    feed(db, fleet, [report(ts=t[i], **faulty) for i in range(need - 1)])
    [f] = findings(db, kind)
    assert (f.status, f.subject, f.consecutive_bad, f.opened_at) == (
        "pending",
        subject,
        need - 1,
        None,
    )
    feed(db, fleet, [report(ts=t[need - 1], **faulty)])
    [f] = findings(db, kind)
    assert (f.status, f.severity, f.opened_at) == ("open", severity, t[need - 1])
    feed(db, fleet, [report(ts=t[need]), report(ts=t[need + 1])])
    [f] = findings(db, kind)
    assert (f.status, f.consecutive_clear) == ("open", 2)
    feed(db, fleet, [report(ts=t[need + 2])])
    [f] = findings(db, kind)
    assert (f.status, f.resolved_at, f.first_seen_at) == ("resolved", t[need + 2], t[0])
    feed(db, fleet, [report(ts=t[need + 3])])
    assert len(findings(db, kind)) == 1
    with db.session() as s:
        actions = s.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_id == str(f.id))
        ).all()
    assert "finding.opened" in actions and "finding.resolved" in actions


def test_noise_never_opens(db: Database, fleet: Fleet) -> None:
    """A condition that comes and goes (one bad report at a time) never opens a finding."""
    bad: dict[str, Any] = {"wan": {"latency_ms": 200.0}}
    reports = [report(ts=START + i * INTERVAL, **(bad if i % 2 == 0 else {})) for i in range(8)]
    feed(db, fleet, reports)
    assert findings(db, "high_latency") == []


def test_noise_in_one_batch_leaves_at_most_one_pending_row(db: Database, fleet: Fleet) -> None:
    """Pending findings dropped inside a batch are deleted together at its end, or reused when
    the condition is back before then; either way no row is left behind or duplicated."""
    bad: dict[str, Any] = {"wan": {"latency_ms": 200.0}}
    # A pending row from an earlier batch, dropped and seen again within the next batch.
    evaluate(db, fleet, [report(ts=START, **bad)])
    [before] = findings(db, "high_latency")
    evaluate(
        db,
        fleet,
        [report(ts=START + i * INTERVAL, **(bad if i % 2 == 0 else {})) for i in range(1, 5)],
    )
    [after] = findings(db, "high_latency")
    assert (after.id, after.status, after.consecutive_bad) == (before.id, "pending", 1)
    assert after.first_seen_at == START + 4 * INTERVAL
    # Dropped again and not back: the row is gone.
    evaluate(db, fleet, [report(ts=START + 6 * INTERVAL), report(ts=START + 7 * INTERVAL)])
    assert findings(db, "high_latency") == []


def test_open_finding_does_not_flap(db: Database, fleet: Fleet) -> None:
    bad: dict[str, Any] = {"wan": {"latency_ms": 200.0}}
    pattern = [bad, bad, {}, bad, {}, {}, bad, {}, {}]
    feed(db, fleet, [report(ts=START + i * INTERVAL, **p) for i, p in enumerate(pattern)])
    [f] = findings(db, "high_latency")
    assert f.status == "open" and f.resolved_at is None


def test_missing_metric_does_not_resolve(db: Database, fleet: Fleet) -> None:
    feed(db, fleet, [report(ts=START + i * INTERVAL, wan={"latency_ms": 200.0}) for i in (0, 1)])
    feed(db, fleet, [report(ts=START + i * INTERVAL, wan={"latency_ms": None}) for i in (2, 3, 4)])
    [f] = findings(db, "high_latency")
    assert f.status == "open"


def test_evidence_and_severity_follow_the_latest_report(db: Database, fleet: Fleet) -> None:
    values = [200.0, 300.0, 500.0]
    feed(
        db,
        fleet,
        [report(ts=START + i * INTERVAL, wan={"latency_ms": v}) for i, v in enumerate(values)],
    )
    [f] = findings(db, "high_latency")
    assert f.evidence["value"] == 500.0 and f.severity == "critical" and "500" in f.summary
    assert f.consecutive_bad == 3 and f.last_seen_at == START + 2 * INTERVAL


def test_one_live_finding_per_subject_and_a_new_one_after_resolution(
    db: Database, fleet: Fleet
) -> None:
    weak: dict[str, Any] = {
        "client": {"a4:5e:60:00:00:01": {"rssi_dbm": -82}, "a4:5e:60:00:00:02": {"rssi_dbm": -80}}
    }
    feed(db, fleet, [report(ts=START + i * INTERVAL, **weak) for i in range(4)])
    live = findings(db, "weak_client_signal")
    assert sorted((f.subject, f.status) for f in live) == [
        ("a4:5e:60:00:00:01", "open"),
        ("a4:5e:60:00:00:02", "open"),
    ]
    feed(db, fleet, [report(ts=START + i * INTERVAL) for i in range(4, 7)])
    feed(db, fleet, [report(ts=START + i * INTERVAL, **weak) for i in range(7, 9)])
    rows = findings(db, "weak_client_signal")
    assert [f.status for f in rows] == ["resolved", "resolved", "open", "open"]


def test_a_replayed_report_is_not_counted_twice(db: Database, fleet: Fleet) -> None:
    bad = report(ts=START, wan={"latency_ms": 200.0})
    feed(db, fleet, [bad, bad, bad])
    [f] = findings(db, "high_latency")
    assert f.status == "pending" and f.consecutive_bad == 1


def test_a_batch_is_applied_in_time_order(db: Database, fleet: Fleet) -> None:
    reports = [report(ts=START + i * INTERVAL, wan={"latency_ms": 200.0}) for i in range(2)]
    reports.append(report(ts=START + 2 * INTERVAL))
    result = evaluate(db, fleet, list(reversed(reports)))
    [f] = findings(db, "high_latency")
    assert f.status == "open" and f.consecutive_clear == 1
    assert result.opened == [f.id] and result.reports == 3


def test_open_after_and_resolve_after_are_configuration(db: Database, fleet: Fleet) -> None:
    quick = HealthSettings(open_after=1, resolve_after=1)
    feed(db, fleet, [report(ts=START, wan={"jitter_ms": 50.0})], quick)
    assert findings(db, "high_jitter")[0].status == "open"
    feed(db, fleet, [report(ts=START + INTERVAL)], quick)
    assert findings(db, "high_jitter")[0].status == "resolved"


def _statements(db: Database, fleet: Fleet, homes: range, **changes: Any) -> int:
    count = 0

    def counter(*_: Any) -> None:
        nonlocal count
        count += 1

    for k in range(2):  # the findings open here (inserts of rows and audit entries)
        evaluate(
            db, fleet, [report(f"GW-F{i:05d}", START + k * INTERVAL, **changes) for i in homes]
        )
    reports = [report(f"GW-F{i:05d}", START + 2 * INTERVAL, **changes) for i in homes]
    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        evaluate(db, fleet, reports)
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)
    return count


@pytest.mark.parametrize("changes", [{}, {"wan": {"latency_ms": 200.0, "jitter_ms": 40.0}}])
def test_statements_do_not_grow_with_the_batch(
    db: Database, fleet: Fleet, changes: dict[str, Any]
) -> None:
    """Steady state (healthy homes, or open findings being updated): the number of statements
    is the same for 2 homes and for 18. (Opening a finding inserts its row and an audit entry,
    one INSERT … RETURNING each on SQLite: onsets are rare next to the flow of reports.)"""
    small = _statements(db, fleet, range(1, 3), **changes)
    large = _statements(db, fleet, range(3, 21), **changes)
    assert large == small, (small, large)
