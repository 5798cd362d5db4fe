"""Findings with hysteresis: a detector's condition opens a finding after ``open_after``
consecutive reports and resolves it after ``resolve_after`` consecutive clear ones (DESIGN.md
5a). One live (pending or open) finding per (home, kind, subject); a repeat updates it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from homeport.audit.actions import Actor, record
from homeport.core.db import among_ids
from homeport.core.events import publish
from homeport.core.health_settings import HealthSettings
from homeport.health.detectors.base import Condition, Result
from homeport.health.events import FindingOpened, FindingResolved
from homeport.health.models import Finding

ACTOR = Actor.system("health")
#: Kinds whose own detection already includes a tolerance window: the periodic offline check
#: waits ``offline_after_intervals`` silent intervals, and one report proves the device is back.
OPEN_AFTER = {"device_offline": 1}
RESOLVE_AFTER = {"device_offline": 1}
#: Evidence keys the lifecycle keeps across updates (the detector's evidence replaces the rest).
KEEP = ("action_id", "remediation_at", "remediation_note", "escalated_at", "escalation")
_COUNTER_MAX = 10_000

Key = tuple[str, str]

_FINDINGS: Table = Finding.__table__  # type: ignore[assignment]
#: The columns the lifecycle changes on a stored finding, written together by :func:`write`.
_MUTABLE = (
    "severity",
    "status",
    "consecutive_bad",
    "consecutive_clear",
    "first_seen_at",
    "opened_at",
    "last_seen_at",
    "resolved_at",
    "summary",
    "evidence",
    "remediation",
    "outage_id",
)
_UPDATE = update(_FINDINGS).where(_FINDINGS.c.id == bindparam("b_id"))


@dataclass
class Live:
    """The live findings of a set of homes, indexed for the evaluation of one batch."""

    by_home: dict[int, dict[Key, Finding]] = field(default_factory=lambda: defaultdict(dict))
    #: Findings created, updated or resolved during this evaluation (keyed by object identity).
    touched: dict[int, Finding] = field(default_factory=dict)
    opened: list[Finding] = field(default_factory=list)
    resolved: list[Finding] = field(default_factory=list)
    #: Stored pending findings whose condition went away: deleted together by :func:`finish`,
    #: or reused in place when the same condition comes back within the batch.
    dropped: dict[tuple[int, str, str], Finding] = field(default_factory=dict)
    #: Findings opened in this batch whose audit entry and event wait for one flush (their id).
    unannounced: dict[int, Finding] = field(default_factory=dict)

    def touch(self, f: Finding) -> None:
        self.touched[id(f)] = f


def load_live(session: Session, home_ids: Iterable[int]) -> Live:
    """The pending and open findings of ``home_ids``, in one query."""
    live = Live()
    ids = sorted(set(home_ids))
    if not ids:
        return live
    rows = session.scalars(
        select(Finding).where(
            among_ids(session, Finding.home_id, ids), Finding.status != "resolved"
        )
    )
    for f in rows:
        live.by_home[f.home_id][(f.kind, f.subject)] = f
    return live


def finish(session: Session, live: Live) -> None:
    """End a batch: delete the pending findings it dropped and announce the ones it opened,
    with one flush for all of them."""
    for f in live.dropped.values():
        session.delete(f)
    live.dropped.clear()
    announce(session, live)


def write(session: Session, live: Live) -> None:
    """Write the changes to the stored findings this evaluation touched with one executemany
    UPDATE (pipelined by psycopg) instead of the ORM flush, which sends one statement for each
    run of rows that changed the same columns. The objects are then clean for the ORM: a later
    change (remediation, escalation) is flushed as usual. New findings and deletions are left
    to the flush."""
    rows: list[dict[str, Any]] = []
    written: list[tuple[Finding, list[str]]] = []
    for f in live.touched.values():
        state = instance_state(f)
        if state.key is None or not state.modified or state.deleted or state.unloaded:
            continue  # new (inserted by the flush), unchanged, deleted, or not fully loaded
        changed = list(state.committed_state)
        if not changed:
            continue
        values = state.dict
        rows.append({"b_id": f.id, **{name: values[name] for name in _MUTABLE}})
        written.append((f, changed))
    if not rows:
        return
    result = session.connection().execute(_UPDATE, rows)
    dialect = session.get_bind().dialect
    if dialect.supports_sane_multi_rowcount and result.rowcount != len(rows):
        # What the ORM's flush raises when a row it updates is gone (deleted meanwhile).
        raise StaleDataError(
            f"UPDATE statement on table 'findings' expected to update {len(rows)} row(s); "
            f"{result.rowcount} were matched."
        )
    for f, changed in written:
        values = instance_state(f).dict
        for name in changed:
            set_committed_value(f, name, values[name])


def announce(session: Session, live: Live) -> None:
    """Audit and publish the findings opened since the last call (one flush gives their ids)."""
    write(session, live)
    session.flush()
    for f in live.unannounced.values():
        assert f.opened_at is not None
        assert f.id is not None
        record(
            session,
            at=f.opened_at,
            actor=ACTOR,
            action="finding.opened",
            entity_type="finding",
            entity_id=f.id,
            home_id=f.home_id,
            kind=f.kind,
            subject=f.subject,
            severity=f.severity,
        )
        publish(session, FindingOpened(f.id, f.home_id, f.kind, f.severity))
    live.unannounced.clear()


def apply(
    session: Session,
    live: Live,
    home_id: int,
    results: dict[str, Result],
    at: datetime,
    s: HealthSettings,
) -> None:
    """Apply one report's detector results to the home's findings (``None``: not measured)."""
    findings = live.by_home[home_id]
    for kind, result in results.items():
        if result is None:
            continue
        # Most results are empty and most homes have no live finding: skip the work then.
        present = {c.subject: c for c in result} if result else _NONE
        for cond in present.values():
            _seen(session, live, home_id, cond, at, s)
        if findings:
            for (k, subject), f in list(findings.items()):
                if k == kind and subject not in present:
                    _clear(session, live, f, at, s)


_NONE: dict[str, Condition] = {}


def open_after(kind: str, s: HealthSettings) -> int:
    """Consecutive reports with the condition before a finding of ``kind`` opens."""
    return OPEN_AFTER.get(kind) or s.open_after_by_kind.get(kind, s.open_after)


def _evidence(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in (old or {}).items() if k in KEEP}
    return {**new, **kept}


def _seen(
    session: Session, live: Live, home_id: int, cond: Condition, at: datetime, s: HealthSettings
) -> None:
    findings = live.by_home[home_id]
    f = findings.get((cond.kind, cond.subject))
    if f is None and (f := live.dropped.pop((home_id, cond.kind, cond.subject), None)):
        # Dropped earlier in this batch and back already: the stored row starts over.
        f.severity = cond.severity
        f.status = "pending"
        f.consecutive_bad = 0
        f.consecutive_clear = 0
        f.first_seen_at = at
        f.last_seen_at = at
        f.summary = cond.summary[:300]
        f.evidence = {}
        f.remediation = ""
        f.outage_id = None
        findings[(cond.kind, cond.subject)] = f
    if f is None:
        f = Finding(
            home_id=home_id,
            kind=cond.kind,
            subject=cond.subject,
            severity=cond.severity,
            status="pending",
            consecutive_bad=0,
            consecutive_clear=0,
            first_seen_at=at,
            last_seen_at=at,
            summary=cond.summary[:300],
            evidence={},
            remediation="",
            # Set, not left unloaded: outage correlation links findings with a bulk UPDATE
            # that refreshes only loaded attributes of the objects already in the session.
            outage_id=None,
        )
        session.add(f)
        findings[(cond.kind, cond.subject)] = f
    elif at <= f.last_seen_at and f.consecutive_bad:
        return  # a report older than what this finding already counted (replay, late batch)
    f.consecutive_bad = min(f.consecutive_bad + 1, _COUNTER_MAX)
    f.consecutive_clear = 0
    f.last_seen_at = at
    f.severity = cond.severity
    f.summary = cond.summary[:300]
    f.evidence = _evidence(f.evidence, cond.evidence)
    live.touch(f)
    if f.status == "pending" and f.consecutive_bad >= open_after(f.kind, s):
        f.status = "open"
        f.opened_at = at
        live.opened.append(f)
        live.unannounced[id(f)] = f  # audited and published by announce(), with its id


def _clear(session: Session, live: Live, f: Finding, at: datetime, s: HealthSettings) -> None:
    if at <= f.last_seen_at:
        return  # not newer than the last report that showed the condition
    f.consecutive_clear = min(f.consecutive_clear + 1, _COUNTER_MAX)
    f.consecutive_bad = 0
    findings = live.by_home[f.home_id]
    if f.status == "pending":
        # Seen fewer than open_after times, then gone: noise, never shown to anyone.
        del findings[(f.kind, f.subject)]
        if f.id is None:
            session.expunge(f)
        else:
            live.dropped[(f.home_id, f.kind, f.subject)] = f
        live.touched.pop(id(f), None)
        return
    live.touch(f)
    if f.consecutive_clear >= RESOLVE_AFTER.get(f.kind, s.resolve_after):
        if id(f) in live.unannounced:
            announce(session, live)  # its opening is audited before its resolution
        resolve(session, f, at, note="condition cleared")
        live.resolved.append(f)
        del findings[(f.kind, f.subject)]


def resolve(session: Session, f: Finding, at: datetime, *, note: str) -> None:
    f.status = "resolved"
    f.resolved_at = at
    if f.remediation == "attempted":
        f.remediation = "fixed"
    record(
        session,
        at=at,
        actor=ACTOR,
        action="finding.resolved",
        entity_type="finding",
        entity_id=f.id,
        home_id=f.home_id,
        kind=f.kind,
        subject=f.subject,
        note=note,
        remediation=f.remediation,
    )
    publish(session, FindingResolved(f.id, f.home_id, f.kind))
