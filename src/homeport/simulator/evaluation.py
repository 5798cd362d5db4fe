"""Detection scored against the simulator's ground truth (``homeport health evaluate``).

:func:`simulate` generates the fleet's reports over a time range with a seeded fault schedule
and feeds them, tick by tick, through the real ingest path (``store_reports``, source "sim"),
whose committed batches reach the health pipeline through the event bus. :func:`score` compares
the findings and outages that resulted with ``sim_faults``, per fault class:

- a *unit* of ground truth is one home fault, one (evening congestion, home on its port) pair,
  or one fibre cut;
- a unit is detected when a finding of an expected kind (:data:`faults.EXPECTED`) opens on the
  same home (and subject, when both name one) between the fault's start and its end plus
  ``grace_s``; a fibre cut when an outage opens on its port in that window;
- recall = detected units / units; delay = the first such opening − the fault's start;
- precision = matched findings / (matched + findings of those kinds that match no fault of any
  class), so that a kind shared by two classes is not counted against either when it matched the
  other; for fibre cuts, the first outage of each cut is a true positive and any other outage
  (a second one for the same cut, or one with no cut) a false positive.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from homeport.core.db import Database
from homeport.core.errors import Conflict, ValidationFailed
from homeport.core.settings import Settings
from homeport.health.models import Finding, Outage
from homeport.network.models import Gateway
from homeport.simulator import faults as fault_model
from homeport.simulator import telemetry
from homeport.simulator.models import SimFault, SimHome
from homeport.telemetry.actions import store_reports
from homeport.telemetry.models import TelemetryReport

SOURCE = "sim"


@dataclass(frozen=True)
class Truth:
    kind: str
    home_id: int | None
    port_id: int | None
    subject: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Seen:
    """An opened finding (``kind``) or, with kind :data:`faults.OUTAGE`, an outage."""

    kind: str
    home_id: int | None
    port_id: int | None
    subject: str
    opened_at: datetime


@dataclass
class ClassScore:
    units: int = 0
    detected: int = 0
    true_positives: int = 0
    false_positives: int = 0
    delays_s: list[float] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else None

    @property
    def recall(self) -> float | None:
        return self.detected / self.units if self.units else None

    @property
    def median_delay_s(self) -> float | None:
        return statistics.median(self.delays_s) if self.delays_s else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "median_delay_s": self.median_delay_s,
            "faults": self.units,
            "detected": self.detected,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
        }


@dataclass
class Evaluation:
    classes: dict[str, ClassScore]
    #: Outages opened per fibre cut (the target is exactly one each).
    outages_per_cut: list[int]
    #: Findings whose kind no fault class expects (e.g. a line slower than its plan), by kind.
    other_findings: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "classes": {k: v.as_dict() for k, v in self.classes.items()},
            "outages_per_cut": self.outages_per_cut,
            "other_findings": self.other_findings,
            "unobservable": dict(fault_model.UNOBSERVABLE),
        }


def _units(truth: Sequence[Truth], port_homes: dict[int, list[int]]) -> list[Truth]:
    """Port-wide home faults (evening congestion) become one unit per home on the port."""
    out: list[Truth] = []
    for t in truth:
        if t.kind == "evening_congestion" and t.port_id is not None:
            out += [
                Truth(t.kind, h, t.port_id, t.subject, t.start, t.end)
                for h in port_homes.get(t.port_id, [])
            ]
        else:
            out.append(t)
    return out


def _matches(t: Truth, s: Seen, grace: timedelta) -> bool:
    if s.kind not in fault_model.EXPECTED[t.kind]:
        return False
    if not t.start <= s.opened_at <= t.end + grace:
        return False
    if s.kind == fault_model.OUTAGE:
        return t.port_id is not None and s.port_id == t.port_id
    if t.home_id is None or s.home_id != t.home_id:
        return False
    return not (t.subject and s.subject and t.subject != s.subject)


def score(
    truth: Sequence[Truth],
    seen: Sequence[Seen],
    *,
    port_homes: dict[int, list[int]],
    grace_s: float,
) -> Evaluation:
    """Per-class precision, recall and detection delay (see the module docstring)."""
    grace = timedelta(seconds=grace_s)
    units = _units(truth, port_homes)
    classes = {k: ClassScore() for k in fault_model.EXPECTED}
    expected_kinds = set().union(*fault_model.EXPECTED.values())
    matched_by: dict[int, set[str]] = {}
    first_outage: dict[int, int] = {}
    cuts: list[int] = []
    for u in units:
        hits = [j for j, s in enumerate(seen) if _matches(u, s, grace)]
        score_ = classes[u.kind]
        score_.units += 1
        if u.kind == "fibre_cut":
            cuts.append(len(hits))
            if hits:
                first_outage[min(hits, key=lambda j: seen[j].opened_at)] = 1
        for j in hits:
            matched_by.setdefault(j, set()).add(u.kind)
        if hits:
            score_.detected += 1
            first = min(seen[j].opened_at for j in hits)
            score_.delays_s.append((first - u.start).total_seconds())
    other: Counter[str] = Counter()
    for j, s in enumerate(seen):
        if s.kind not in expected_kinds:
            other[s.kind] += 1
            continue
        hit_classes = matched_by.get(j, set())
        if s.kind == fault_model.OUTAGE:
            if j in first_outage:
                classes["fibre_cut"].true_positives += 1
            else:
                classes["fibre_cut"].false_positives += 1
            continue
        for name, kinds in fault_model.EXPECTED.items():
            if s.kind not in kinds:
                continue
            if name in hit_classes:
                classes[name].true_positives += 1
            elif not hit_classes:
                classes[name].false_positives += 1
    return Evaluation(classes, cuts, dict(sorted(other.items())))


# --- Running the simulation through the real pipeline ------------------------------------


@dataclass(frozen=True)
class RunSummary:
    start: datetime
    end: datetime
    homes: int
    faults: int
    reports: int
    accepted: int
    rejected: int
    elapsed_s: float


def window_start(session: Session, at: datetime | None, interval_s: int) -> datetime:
    """Where a new simulated range begins: ``at`` if given, else just after the latest stored
    report or, with none, the fleet's present (its latest gateway contact)."""
    if at is not None:
        return at
    latest = session.execute(select(func.max(TelemetryReport.ts))).scalar_one_or_none()
    if latest is None:
        latest = session.execute(select(func.max(Gateway.last_seen_at))).scalar_one_or_none()
    if latest is None:
        raise Conflict("the database has no simulated fleet: run 'homeport simulate' first")
    if latest.tzinfo is None:
        latest = latest.replace(tzinfo=UTC)
    step = interval_s
    return datetime.fromtimestamp((int(latest.timestamp()) // step + 1) * step, UTC)


#: The shortest window worth scoring: a fault lasts at least half an hour and must have time
#: to be detected and to end (shorter runs, such as the demo's history, still simulate).
MIN_DAYS = 0.25


def simulate(
    db: Database,
    settings: Settings,
    *,
    start: datetime,
    days: float,
    seed: int,
    homes_sample: int | None = None,
    fault_scale: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[telemetry.Fleet, list[fault_model.Fault], RunSummary]:
    """Inject a fault schedule and send ``days`` of the fleet's reports through
    ``store_reports`` one tick at a time (each in its own transaction, like a gateway batch)."""
    if not 0 < days <= 14:
        raise ValidationFailed("days must be more than 0 and at most 14")
    if not 0 < fault_scale <= 100:
        raise ValidationFailed("the fault scale must be more than 0 and at most 100")
    interval = settings.telemetry.report_interval_s
    end = start + timedelta(days=days)
    began = time.perf_counter()
    with db.session() as session:
        if session.execute(select(func.count()).select_from(SimHome)).scalar_one() == 0:
            raise Conflict("the database has no simulated fleet: run 'homeport simulate' first")
        overlap = session.execute(
            select(func.count()).select_from(SimFault).where(SimFault.ended_at > start)
        ).scalar_one()
        if overlap:
            raise Conflict(
                f"{overlap} simulated faults already extend past {start.isoformat()}: "
                "evaluate a later range or use a fresh database"
            )
        fleet = telemetry.load_fleet(session, at=start, homes_sample=homes_sample, seed=seed)
    if fleet.size == 0:
        raise Conflict("no home of the fleet is active at the start of the range")
    faults = fault_model.schedule(
        fleet,
        start=start,
        end=end,
        interval_s=interval,
        seed=seed,
        min_port_homes=settings.health.outage_min_homes,
        rate_scale=fault_scale,
    )
    with db.transaction() as session:
        fault_model.record_faults(session, faults, now=start)
    ticks = telemetry.ticks(start, end, interval)
    sent = accepted = rejected = 0
    batch = settings.telemetry.max_batch
    for n, t in enumerate(ticks):
        frame = telemetry.frame(fleet, t)
        fault_model.apply(fleet, frame, faults)
        reports = telemetry.reports(fleet, frame)
        # Delivered a few seconds after the sample, as a gateway would.
        now = datetime.fromtimestamp(t + 5, UTC)
        for i in range(0, len(reports), batch):
            with db.transaction() as session:
                result = store_reports(
                    session,
                    reports[i : i + batch],
                    source=SOURCE,
                    now=now,
                    settings=settings.telemetry,
                )
            accepted += result.accepted
            rejected += len(result.rejected)
        sent += len(reports)
        if progress is not None:
            progress(n + 1, len(ticks))
    summary = RunSummary(
        start=start,
        end=end,
        homes=fleet.size,
        faults=len(faults),
        reports=sent,
        accepted=accepted,
        rejected=rejected,
        elapsed_s=time.perf_counter() - began,
    )
    return fleet, faults, summary


def collect(session: Session, *, start: datetime, end: datetime) -> tuple[list[Truth], list[Seen]]:
    """Ground truth and what Homeport raised in [start, end] from the database, each in the
    order it began, so that the outages counted per fibre cut (and ties between findings opened
    at the same moment) come out the same on every run and backend."""
    truth = [
        Truth(f.kind, f.home_id, f.port_id, f.subject, f.started_at, f.ended_at or end)
        for f in session.scalars(
            select(SimFault)
            .where(SimFault.started_at >= start, SimFault.started_at < end)
            .order_by(SimFault.started_at, SimFault.id)
        )
    ]
    seen = [
        Seen(f.kind, f.home_id, None, f.subject, f.opened_at)
        for f in session.scalars(
            select(Finding)
            .where(
                Finding.opened_at.is_not(None), Finding.opened_at >= start, Finding.opened_at <= end
            )
            .order_by(Finding.opened_at, Finding.id)
        )
        if f.opened_at is not None
    ]
    seen += [
        Seen(fault_model.OUTAGE, None, o.port_id, "", o.opened_at)
        for o in session.scalars(
            select(Outage)
            .where(Outage.opened_at >= start, Outage.opened_at <= end)
            .order_by(Outage.opened_at, Outage.id)
        )
    ]
    return truth, seen


def port_homes_of(fleet: telemetry.Fleet) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for h, p in zip(fleet.home_id.tolist(), fleet.port_id.tolist(), strict=True):
        if p:
            out.setdefault(int(p), []).append(int(h))
    return out
