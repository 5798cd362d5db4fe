"""Reads and writes of bundle recommendations (``bundle_recommendations``).

- :func:`recommend` (one subscriber) and :func:`refresh` (many, for the worker) gather each
  home's facts in a few grouped queries per chunk, run the rules of
  :mod:`homeport.retention.bundles`, and keep **one open recommendation per bundle per
  subscriber**: a proposal that holds again refreshes its open row (reason, evidence, score),
  a new one is created, and an open one whose reason no longer holds (or whose bundle the
  subscriber now has) is expired. A bundle the subscriber declined in the last
  :data:`DECLINED_QUIET_DAYS` days is not proposed again.
- :func:`mark_shown` records, once per channel, when a recommendation was first shown to an
  agent, a technician or the subscriber.
- :func:`decide` records the subscriber's answer (through whom it came), audited; accepting a
  catalogue bundle adds it to the subscriber through the subscribers domain's
  ``set_subscriber_bundles`` (audited there too). A speed upgrade is recorded only: the plan
  change belongs to billing (the subscribers domain has no plan-change action).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.core.events import Event, publish
from homeport.core.writes import chunks
from homeport.health.models import Finding, Outage, OutageMember
from homeport.network.models import ClientDevice, MeshNode
from homeport.retention import bundles, segments
from homeport.retention.models import RECOMMENDATION_CHANNELS, Recommendation
from homeport.subscribers import actions as subscriber_actions
from homeport.subscribers.models import Bundle, Plan, Subscriber, subscriber_bundles
from homeport.subscribers.schemas import BundleSelection
from homeport.telemetry.models import TelemetryReport

#: A declined bundle is not proposed again for this long.
DECLINED_QUIET_DAYS = 90
#: Weak devices count when seen this recently.
WEAK_WINDOW = timedelta(days=7)
#: Measured speed: the mean of the reports of this window.
SPEED_WINDOW = timedelta(days=7)
CHUNK = segments.CHUNK


@dataclass(frozen=True)
class RecommendationDecided(Event):
    recommendation_id: int
    subscriber_id: int
    bundle_code: str
    accepted: bool
    via: str


@dataclass(frozen=True)
class RefreshResult:
    subscribers: int
    created: int
    refreshed: int
    expired: int


# --- Facts ----------------------------------------------------------------------------------


def _family(code: str) -> str:
    return code.split("-", 1)[0].lower()


def _upgrade_for(plan: Plan | None, plans: Sequence[Plan]) -> bundles.PlanInfo | None:
    """The next faster active plan of the same family (code before the first ``-``)."""
    if plan is None:
        return None
    faster = [
        p
        for p in plans
        if p.is_active and p.down_mbps > plan.down_mbps and _family(p.code) == _family(plan.code)
    ]
    if not faster:
        return None
    best = min(faster, key=lambda p: (p.down_mbps, p.monthly_price))
    return bundles.PlanInfo(best.code, best.name, best.down_mbps)


def _demand(u: segments.HomeUsage | None) -> tuple[float | None, str]:
    """Estimated evening demand (Mbps) from the devices online in the evening."""
    if u is None:
        return None, ""
    total = 0.0
    basis = []
    for group, mbps in bundles.DEMAND_MBPS.items():
        online = u.online_avg("evening", group)
        if online is None:
            return None, ""
        if online >= 0.05:
            total += online * mbps
            basis.append(f"{online:.1f} {group}{'s' if round(online, 1) != 1 else ''}")
    return total, ", ".join(basis) + " online in the evening"


def load_facts(
    session: Session,
    subscriber_ids: Sequence[int],
    *,
    now: datetime,
    zone: ZoneInfo,
    weak_dbm: float,
) -> dict[int, bundles.HomeFacts]:
    """The rules' input for each subscriber, in a fixed number of grouped queries per chunk."""
    catalogue = {str(c): str(n) for c, n in session.execute(select(Bundle.code, Bundle.name))}
    plans = list(session.scalars(select(Plan)))
    plan_by_id = {p.id: p for p in plans}
    out: dict[int, bundles.HomeFacts] = {}
    ids = sorted(set(subscriber_ids))
    for chunk in chunks(ids, CHUNK):
        for sid, plan_id in session.execute(
            select(Subscriber.id, Subscriber.plan_id).where(Subscriber.id.in_(chunk))
        ):
            plan = plan_by_id.get(plan_id) if plan_id is not None else None
            out[sid] = bundles.HomeFacts(
                sid,
                catalogue=dict(catalogue),
                plan=bundles.PlanInfo(plan.code, plan.name, plan.down_mbps) if plan else None,
                upgrade_to=_upgrade_for(plan, plans),
            )
        for sid, code in session.execute(
            select(subscriber_bundles.c.subscriber_id, Bundle.code)
            .join(Bundle, Bundle.id == subscriber_bundles.c.bundle_id)
            .where(subscriber_bundles.c.subscriber_id.in_(chunk))
        ):
            out[sid].owned.add(code)
        for sid, rows in segments.segments_for(session, chunk).items():
            out[sid].segments = {
                name: (row.confidence, list((row.evidence or {}).get("facts", [])))
                for name, row in rows.items()
            }
        homes = segments.homes_of(session, chunk)
        _home_facts(session, homes, out, now=now, zone=zone, weak_dbm=weak_dbm)
    return out


def _home_facts(
    session: Session,
    homes: dict[int, int],
    out: dict[int, bundles.HomeFacts],
    *,
    now: datetime,
    zone: ZoneInfo,
    weak_dbm: float,
) -> None:
    hids = sorted(homes)
    if not hids:
        return
    for hid, name, mac, kind, rssi in session.execute(
        select(
            ClientDevice.home_id,
            ClientDevice.name,
            ClientDevice.mac,
            ClientDevice.kind,
            ClientDevice.last_rssi_dbm,
        )
        .where(
            ClientDevice.home_id.in_(hids),
            ClientDevice.last_rssi_dbm < weak_dbm,
            ClientDevice.last_seen_at >= now - WEAK_WINDOW,
        )
        .order_by(ClientDevice.home_id, ClientDevice.last_rssi_dbm)
    ):
        out[homes[hid]].weak.append(bundles.WeakDevice(name or mac, kind, int(rssi or 0)))
    for hid, n in session.execute(
        select(MeshNode.home_id, func.count())
        .where(MeshNode.home_id.in_(hids))
        .group_by(MeshNode.home_id)
    ):
        out[homes[hid]].mesh_nodes = int(n)
    latency_since = now - timedelta(days=bundles.LATENCY_DAYS)
    backup_since = now - timedelta(days=bundles.BACKUP_DAYS)
    kinds = ("coverage_gap", "wan_down", *bundles.LATENCY_KINDS)
    for f in session.scalars(
        select(Finding)
        .where(
            Finding.home_id.in_(hids),
            Finding.kind.in_(kinds),
            Finding.opened_at.is_not(None),
            or_(Finding.status == "open", Finding.opened_at >= backup_since),
        )
        .order_by(Finding.opened_at)
    ):
        facts = out[homes[f.home_id]]
        assert f.opened_at is not None
        event = bundles.Event(f.kind, f.opened_at, f.summary)
        if f.kind == "coverage_gap":
            if f.status == "open":
                facts.coverage_gap = event
        elif f.kind == "wan_down":
            facts.wan_losses.append(event)
        elif f.status == "open" or f.opened_at >= latency_since:
            facts.latency.append(event)
    for hid, lost_at, outage_id in session.execute(
        select(OutageMember.home_id, OutageMember.lost_at, Outage.id)
        .join(Outage, Outage.id == OutageMember.outage_id)
        .where(OutageMember.home_id.in_(hids), OutageMember.lost_at >= backup_since)
    ):
        facts = out[homes[hid]]
        # An outage usually has the home's own wan_down finding too: count the loss once.
        if not any(abs((e.at - lost_at).total_seconds()) < 3600 for e in facts.wan_losses):
            facts.wan_losses.append(bundles.Event("outage", lost_at, f"area outage #{outage_id}"))
    for hid, mean in session.execute(
        select(TelemetryReport.home_id, func.avg(TelemetryReport.down_mbps))
        .where(
            TelemetryReport.home_id.in_(hids),
            TelemetryReport.ts >= now - SPEED_WINDOW,
            TelemetryReport.wan_status == "up",
        )
        .group_by(TelemetryReport.home_id)
    ):
        if hid is not None and mean is not None:
            out[homes[hid]].measured_down_mbps = float(mean)
    usage = segments.read_usage(session, homes, now=now, zone=zone)
    for hid, sid in homes.items():
        out[sid].demand_mbps, out[sid].demand_basis = _demand(usage.get(hid))


# --- Recommend ------------------------------------------------------------------------------


def _apply(
    session: Session,
    facts: Mapping[int, bundles.HomeFacts],
    proposals: Mapping[int, list[bundles.Candidate]],
    *,
    now: datetime,
) -> RefreshResult:
    created = refreshed = expired = 0
    sids = sorted(facts)
    quiet = now - timedelta(days=DECLINED_QUIET_DAYS)
    for chunk in chunks(sids, CHUNK):
        open_rows: dict[tuple[int, str], Recommendation] = {}
        declined: set[tuple[int, str]] = set()
        for rec in session.scalars(
            select(Recommendation).where(
                Recommendation.subscriber_id.in_(chunk),
                or_(
                    Recommendation.status == "open",
                    and_(Recommendation.status == "declined", Recommendation.decided_at >= quiet),
                ),
            )
        ):
            key = (rec.subscriber_id, rec.bundle_code)
            if rec.status == "open":
                open_rows[key] = rec
            else:
                declined.add(key)
        wanted: set[tuple[int, str]] = set()
        for sid in chunk:
            for c in proposals.get(sid, []):
                key = (sid, c.bundle_code)
                if key in declined:
                    continue
                wanted.add(key)
                row = open_rows.get(key)
                evidence = {"rule": c.rule, **c.evidence}
                if row is None:
                    session.add(
                        Recommendation(
                            subscriber_id=sid,
                            bundle_code=c.bundle_code,
                            reason=c.reason,
                            evidence=evidence,
                            score=c.score,
                            status="open",
                            created_at=now,
                            shown={},
                        )
                    )
                    created += 1
                elif (row.reason, row.evidence, row.score) != (c.reason, evidence, c.score):
                    row.reason, row.evidence, row.score = c.reason, evidence, c.score
                    refreshed += 1
        for key, rec in open_rows.items():
            if key not in wanted:
                rec.status = "expired"
                rec.decided_at = now
                expired += 1
    session.flush()
    return RefreshResult(len(sids), created, refreshed, expired)


def refresh(
    session: Session,
    now: datetime,
    *,
    subscriber_ids: Iterable[int] | None = None,
    zone: ZoneInfo | None = None,
    weak_dbm: float = -75.0,
    codes: Mapping[str, str] | None = None,
) -> RefreshResult:
    """Recommendations of every active subscriber with a home (or of ``subscriber_ids``),
    from their stored segments and their home's facts, in the caller's transaction."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = zone or ZoneInfo("UTC")
    if subscriber_ids is None:
        ids = sorted(set(segments.homes_of(session).values()))
    else:
        ids = sorted(set(subscriber_ids))
    facts = load_facts(session, ids, now=now, zone=zone, weak_dbm=weak_dbm)
    proposals = {
        sid: bundles.candidates(f, weak_dbm=weak_dbm, codes=codes) for sid, f in facts.items()
    }
    return _apply(session, facts, proposals, now=now)


def recommend(
    session: Session,
    subscriber_id: int,
    now: datetime,
    *,
    zone: ZoneInfo | None = None,
    weak_dbm: float = -75.0,
    codes: Mapping[str, str] | None = None,
) -> list[Recommendation]:
    """Create or refresh one subscriber's open recommendations (and expire the stale ones);
    the open ones, best first. :class:`NotFound` for an unknown subscriber."""
    if session.get(Subscriber, subscriber_id) is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    refresh(session, now, subscriber_ids=[subscriber_id], zone=zone, weak_dbm=weak_dbm, codes=codes)
    return open_for(session, subscriber_id)


# --- Reads for the pages --------------------------------------------------------------------


def open_for(session: Session, subscriber_id: int) -> list[Recommendation]:
    return list(
        session.scalars(
            select(Recommendation)
            .where(Recommendation.subscriber_id == subscriber_id, Recommendation.status == "open")
            .order_by(Recommendation.score.desc(), Recommendation.id)
        )
    )


@dataclass(frozen=True)
class Shown:
    """A recommendation as a page shows it."""

    id: int
    bundle_code: str
    title: str
    description: str
    monthly_price: Decimal | None
    reason: str
    score: float
    shown: dict[str, Any]


def _shown(rec: Recommendation, bundle: Bundle | None) -> Shown:
    if bundle is not None:
        title, text, price = bundle.name, bundle.description, bundle.monthly_price
    elif rec.bundle_code == bundles.UPGRADE:
        title = f"Upgrade to {rec.evidence.get('upgrade_name', 'a faster plan')}"
        text, price = "A faster plan for the whole home.", None
    else:
        title, text, price = rec.bundle_code, "", None
    return Shown(rec.id, rec.bundle_code, title, text, price, rec.reason, rec.score, rec.shown)


def show(session: Session, subscriber_id: int, channel: str, now: datetime) -> list[Shown]:
    """The subscriber's open recommendations for a page of ``channel`` with their bundle (one
    statement), recorded as shown there (in the caller's transaction)."""
    rows = session.execute(
        select(Recommendation, Bundle)
        .outerjoin(Bundle, Bundle.code == Recommendation.bundle_code)
        .where(Recommendation.subscriber_id == subscriber_id, Recommendation.status == "open")
        .order_by(Recommendation.score.desc(), Recommendation.id)
    ).all()
    mark_shown(session, [rec for rec, _ in rows], channel, now)
    return [_shown(rec, bundle) for rec, bundle in rows]


def _channel(via: str) -> str:
    if via not in RECOMMENDATION_CHANNELS:
        raise ValidationFailed(
            "unknown channel",
            [FieldError("via", f"one of {', '.join(RECOMMENDATION_CHANNELS)}")],
        )
    return via


def mark_shown(
    session: Session, recs: Iterable[Recommendation], channel: str, now: datetime
) -> int:
    """Record the first time each recommendation was shown through ``channel``."""
    _channel(channel)
    n = 0
    for rec in recs:
        if channel not in (rec.shown or {}):
            rec.shown = {**(rec.shown or {}), channel: now.isoformat()}
            n += 1
    return n


# --- Decide ---------------------------------------------------------------------------------


def get(session: Session, rec_id: int, *, subscriber_id: int | None = None) -> Recommendation:
    """One recommendation; with ``subscriber_id``, only if it is theirs (else 404)."""
    rec = session.get(Recommendation, rec_id)
    if rec is None or (subscriber_id is not None and rec.subscriber_id != subscriber_id):
        raise NotFound(f"no recommendation {rec_id}")
    return rec


def decide(
    session: Session,
    rec_id: int,
    accepted: bool,
    via: str,
    by: str,
    *,
    actor: Actor,
    now: datetime,
    subscriber_id: int | None = None,
) -> Recommendation:
    """The subscriber accepted or declined an open recommendation, through ``via`` (agent,
    technician, portal, campaign), told to or by ``by``. Audited; accepting a catalogue bundle
    adds it to the subscriber. :class:`Conflict` when it is no longer open."""
    _channel(via)
    rec = get(session, rec_id, subscriber_id=subscriber_id)
    if rec.status != "open":
        raise Conflict(f"this recommendation is {rec.status} already")
    rec.status = "accepted" if accepted else "declined"
    rec.decided_at = now
    rec.decided_via = via
    rec.decided_by = by[:80]
    added = False
    if accepted and rec.bundle_code != bundles.UPGRADE:
        sub = subscriber_actions.subscriber_row(session, rec.subscriber_id)
        codes = sorted({b.code for b in sub.bundles} | {rec.bundle_code})
        saved = subscriber_actions.set_subscriber_bundles(
            session, sub, BundleSelection(codes=codes), actor=actor, now=now
        )
        added = bool(saved.changed)
    record(
        session,
        at=now,
        actor=actor,
        action=f"recommendation.{rec.status}",
        entity_type="subscriber",
        entity_id=rec.subscriber_id,
        recommendation_id=rec.id,
        bundle_code=rec.bundle_code,
        via=via,
        by=rec.decided_by,
        bundle_added=added,
    )
    publish(
        session,
        RecommendationDecided(rec.id, rec.subscriber_id, rec.bundle_code, accepted, via),
    )
    return rec


def acceptance(session: Session, since: datetime | None = None) -> dict[str, dict[str, int]]:
    """Decided recommendations by bundle and status (accepted, declined, expired)."""
    q = select(Recommendation.bundle_code, Recommendation.status, func.count()).where(
        Recommendation.status != "open"
    )
    if since is not None:
        q = q.where(Recommendation.decided_at >= since)
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for code, status, n in session.execute(
        q.group_by(Recommendation.bundle_code, Recommendation.status)
    ):
        out[code][status] = int(n)
    return dict(out)


def title_of(session: Session, rec: Recommendation) -> str:
    """The bundle's name (or "Upgrade to …") as the pages show it."""
    bundle = session.scalar(select(Bundle).where(Bundle.code == rec.bundle_code))
    return _shown(rec, bundle).title
