"""A BSP's operating history at one maturity stage (DESIGN.md sections 1, 7 and 8).

After the fleet is generated, :func:`run_profile` plays ``days`` of the support operation of a
BSP at stage 1 to 5 through the domains' own actions: subscribers get in touch through the
channels live at that stage and agents work their cases (:mod:`homeport.support.actions`),
remote diagnostics and fixes go through :func:`homeport.health.remote.queue_action`, visits
through :mod:`homeport.support.dispatch`, findings through the health lifecycle
(:mod:`homeport.health.findings`, the detectors' verdicts scripted instead of computed from
telemetry, which would take minutes) and auto-remediation through
:func:`homeport.health.remediation.process`, self-service through
:func:`homeport.selfservice.actions.record_engagement` and the chatbot's own
:func:`~homeport.selfservice.bot.converse`.

KPI targets, snapshots and report subscriptions go through :mod:`homeport.kpis.actions` and
journey stage owners through :func:`homeport.journey.actions.set_owner`. Answered surveys are
inserted through the journey domain's model: its sender only invites subscribers due a survey
at its own moments, and NPS is asked after installation and every 90 days only.

What each stage does (:mod:`homeport.simulator.maturity_profiles`): stage 1 answers the phone,
categorises its cases and sends a truck; stage 2 adds email and uses remote diagnostics and
fixes; stage 3 adds chat, a portal, detectors that open proactive cases and a few tracked KPIs;
stage 4 adds the chatbot, auto-remediation, KPI targets and reports, technicians'
recommendations; stage 5 adds app and SMS, NPS at journey moments, owners for every journey
stage, targets in every KPI family, and finds most problems before the subscriber does.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor
from homeport.core.db import Database
from homeport.core.errors import FieldError, HomeportError, ValidationFailed
from homeport.core.health_settings import HealthSettings
from homeport.health import findings as finding_lifecycle
from homeport.health import remediation, remote
from homeport.health.detectors.base import Condition
from homeport.health.homes import load_homes
from homeport.health.models import Finding
from homeport.identity import actions as identity_actions
from homeport.identity import service as identity_service
from homeport.journey import actions as journey_actions
from homeport.journey.models import Survey
from homeport.kpis import actions as kpi_actions
from homeport.kpis import service as kpi_service
from homeport.kpis.definitions import KPIS
from homeport.network.models import Gateway, Home
from homeport.selfservice import bot, kb
from homeport.selfservice.actions import record_engagement
from homeport.simulator.maturity_profiles import (
    BOT_CONTAINED,
    BOT_HANDED_OVER,
    ENGAGEMENT_KINDS,
    OTHER,
    PROACTIVE_KINDS,
    PROFILES,
    RECOMMENDATIONS,
    TECHNICAL,
    UPGRADE_NOTES,
    VISIT_NOTES,
    Profile,
)
from homeport.subscribers.models import Subscriber
from homeport.support import actions as support
from homeport.support import defaults, dispatch
from homeport.support.actions import NewInteraction
from homeport.support.models import Case

log = logging.getLogger(__name__)
ACTOR = Actor.system("simulator")
STAGES = (1, 2, 3, 4, 5)
MAX_DAYS = 365
AGENT_EMAIL = "agent@maturity.sim"
TECH_EMAIL = "technician@maturity.sim"
LEADER_EMAIL = "leader@maturity.sim"


@dataclass
class ProfileSummary:
    stage: int
    days: int
    reactive_cases: int = 0
    other_cases: int = 0
    proactive_cases: int = 0
    auto_fixed: int = 0
    visits: int = 0
    bot_conversations: int = 0
    self_service_users: int = 0
    skipped: int = 0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "notes"} | {"notes": self.notes}


@dataclass(frozen=True)
class _Home:
    subscriber_id: int
    home_id: int
    device_id: str
    name: str
    email: str
    phone: str


def check_stage(stage: int) -> int:
    if stage not in PROFILES:
        raise ValidationFailed(
            "invalid maturity profile",
            [FieldError("maturity_profile", f"a stage from 1 to {max(STAGES)}, not {stage}")],
        )
    return stage


class _Run:
    def __init__(
        self, db: Database, profile: Profile, *, start: datetime, end: datetime, seed: int
    ) -> None:
        self.db = db
        self.p = profile
        self.start = start
        self.end = end
        self.rng = np.random.default_rng([seed, profile.stage, 6])
        self.summary = ProfileSummary(profile.stage, (end - start).days)
        self.health_off = HealthSettings(auto_remediation=False)
        self.health_on = HealthSettings(auto_remediation=True)
        self.agent_id = 0
        self.technician_id = 0
        self.homes: list[_Home] = []
        #: Subscribers kept for the chatbot, away from the technical problems, so that a
        #: contained conversation is not undone by an unrelated repeat contact.
        self.bot_pool: list[_Home] = []

    # --- set-up --------------------------------------------------------------------------

    def setup(self) -> None:
        with self.db.transaction() as session:
            defaults.install(session, now=self.start, actor=ACTOR, timezone="UTC")
            self.agent_id = self._staff(session, AGENT_EMAIL, "agent", "Sim Agent")
            self.technician_id = self._staff(session, TECH_EMAIL, "technician", "Sim Technician")
            support.set_agent_profile(
                session, self.agent_id, now=self.start, actor=ACTOR, capacity=200
            )
            if self.p.bot_per_100_day:
                kb.seed_articles(session, ACTOR, now=self.start)
            rows = session.execute(
                select(
                    Subscriber.id,
                    Home.id,
                    Gateway.device_id,
                    Subscriber.name,
                    Subscriber.email,
                    Subscriber.phone,
                )
                .join(Home, Home.subscriber_id == Subscriber.id)
                .join(Gateway, Gateway.home_id == Home.id)
                .where(Subscriber.status == "active")
                .order_by(Subscriber.id)
            ).all()
        homes = [
            _Home(int(a), int(b), str(c), str(d), str(e or ""), str(f or ""))
            for a, b, c, d, e, f in rows
        ]
        if len(homes) < 20:
            raise HomeportError(
                f"a maturity profile needs at least 20 active subscribers with a gateway "
                f"(the fleet has {len(homes)})"
            )
        order = self.rng.permutation(len(homes))
        shuffled = [homes[i] for i in order]
        pool = max(5, len(homes) // 10) if self.p.bot_per_100_day else 0
        self.bot_pool = shuffled[:pool]
        self.homes = shuffled[pool:]
        self.all_homes = shuffled

    def _staff(self, session: Session, email: str, role: str, name: str) -> int:
        user = identity_service.staff_by_email(session, email)
        if user is None:
            user = identity_actions.create_staff_user(
                session,
                email=email,
                role=role,
                password=None,
                name=name,
                actor=ACTOR,
                now=self.start,
            )
        return int(user.id)

    # --- helpers -------------------------------------------------------------------------

    def _at(self) -> datetime:
        """A time in the first part of the window that leaves room for a case to end."""
        span = (self.end - self.start - timedelta(days=2)).total_seconds()
        return self.start + timedelta(seconds=float(self.rng.uniform(0, max(span, 3600))))

    def _pick(self, homes: list[_Home]) -> _Home:
        return homes[int(self.rng.integers(len(homes)))]

    def _chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def _channel(self) -> str:
        names = list(self.p.channels)
        weights = np.array([self.p.channels[n] for n in names], dtype=float)
        return str(names[int(self.rng.choice(len(names), p=weights / weights.sum()))])

    def _inbound(
        self, home: _Home, channel: str, subject: str, body: str, at: datetime
    ) -> NewInteraction:
        meta: dict[str, Any] = {"simulated": True}
        if channel in ("live_chat", "async_chat"):
            meta["conversation"] = uuid.uuid4().hex
        return NewInteraction(
            channel=channel,
            direction="inbound",
            author_kind="subscriber",
            body=body,
            subject=subject,
            address=home.email if channel == "email" else home.phone,
            started_at=at,
            ended_at=at if channel == "phone" else None,
            meta=meta,
        )

    def _reply(self, session: Session, case_id: int, channel: str, at: datetime) -> None:
        support.add_interaction(
            session,
            case_id,
            NewInteraction(
                channel="email" if channel == "system" else channel,
                direction="outbound",
                author_kind="agent",
                author_id=self.agent_id,
                body="Thanks for getting in touch, I'm looking into it now.",
                started_at=at,
                handle_time_s=int(self.rng.integers(120, 600)),
            ),
            now=at,
            actor=Actor("staff", self.agent_id, AGENT_EMAIL),
        )

    def _action(
        self,
        session: Session,
        home: _Home,
        kind: str,
        at: datetime,
        *,
        by: str,
        finding_id: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> bool:
        """Queue a remote action and carry it out (sent, then done). False when refused."""
        try:
            action = remote.queue_action(
                session,
                home_id=home.home_id,
                device_id=home.device_id,
                kind=kind,
                params=params or {},
                requested_by=by,
                finding_id=finding_id,
                now=at,
            )
        except HomeportError as exc:
            log.debug("remote %s refused for home %d: %s", kind, home.home_id, exc)
            return False
        remote.mark_action(
            session,
            action.id,
            status="sent",
            result={"via": "simulator"},
            now=at + timedelta(minutes=1),
        )
        result: dict[str, Any] = {"via": "simulator"}
        if kind == "speed_test":
            result["down_mbps"] = round(float(self.rng.uniform(50, 900)), 1)
        remote.mark_action(
            session, action.id, status="done", result=result, now=at + timedelta(minutes=3)
        )
        return True

    def _finding(
        self, session: Session, home: _Home, cond: Condition, at: datetime, s: HealthSettings
    ) -> Finding | None:
        """Open a finding through the health lifecycle (the condition seen on enough
        consecutive reports), then remediate it as a policy would when ``s`` allows."""
        live = finding_lifecycle.load_live(session, [home.home_id])
        needed = finding_lifecycle.open_after(cond.kind, s)
        for i in range(needed):
            finding_lifecycle.apply(
                session, live, home.home_id, {cond.kind: [cond]}, at + timedelta(minutes=5 * i), s
            )
        finding_lifecycle.finish(session, live)
        opened = [f for f in live.opened if f.kind == cond.kind]
        if not opened:
            return None
        seen = at + timedelta(minutes=5 * (needed - 1))
        remediation.process(
            session, live.touched.values(), load_homes(session, [home.home_id]), seen, s
        )
        return opened[0]

    def _clear(
        self, session: Session, home: _Home, kind: str, at: datetime, s: HealthSettings
    ) -> None:
        """The condition gone for ``resolve_after`` reports: the finding resolves."""
        live = finding_lifecycle.load_live(session, [home.home_id])
        for i in range(s.resolve_after):
            finding_lifecycle.apply(
                session, live, home.home_id, {kind: []}, at + timedelta(minutes=5 * i), s
            )
        finding_lifecycle.finish(session, live)

    def _notes(self, done: str) -> str:
        """The technician's notes; every so many visits (``recommendation_share`` of them,
        spread evenly) with a recommendation."""
        share = self.p.recommendation_share
        n = self.summary.visits
        if int((n + 1) * share) > int(n * share):
            return f"{done} {self.rng.choice(RECOMMENDATIONS)}"
        return done

    def _visit(
        self, case_id: int | None, home: _Home, at: datetime, *, kind: str = "repair"
    ) -> bool:
        """Book a visit for the next day and carry it out. A repair's case is solved as a
        truck roll by the support domain's handler of the completed visit."""
        window = (at + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
        tech = Actor("staff", self.technician_id, TECH_EMAIL)
        notes = self._notes(VISIT_NOTES if kind == "repair" else UPGRADE_NOTES)
        try:
            with self.db.transaction() as session:
                order = dispatch.create_work_order(
                    session,
                    subscriber_id=home.subscriber_id,
                    kind=kind,
                    window_start=window,
                    window_end=window + timedelta(hours=3),
                    actor=Actor("staff", self.agent_id, AGENT_EMAIL),
                    now=at,
                    case_id=case_id,
                )
                order_id = order.id
            with self.db.transaction() as session:
                dispatch.transition(session, order_id, "en_route", actor=tech, now=window)
                arrived = window + timedelta(minutes=40)
                dispatch.transition(session, order_id, "on_site", actor=tech, now=arrived)
                done = arrived + timedelta(minutes=50)
                dispatch.run_quality_check(session, order_id, actor=tech, now=done)
                outcome = "fixed" if kind == "repair" else "installed"
                dispatch.complete(
                    session, order_id, outcome=outcome, actor=tech, now=done, notes=notes
                )
        except HomeportError as exc:
            log.debug("%s visit for subscriber %d not done: %s", kind, home.subscriber_id, exc)
            return False
        self.summary.visits += 1
        return True

    def _solve(
        self, session: Session, case_id: int, outcome: str, at: datetime, notes: str
    ) -> None:
        support.set_status(
            session,
            case_id,
            "solved",
            now=at,
            actor=Actor("staff", self.agent_id, AGENT_EMAIL),
            outcome=outcome,
            notes=notes,
        )

    # --- the operation -------------------------------------------------------------------

    def reactive(
        self, home: _Home, category: str, subject: str, body: str, at: datetime, *, technical: bool
    ) -> int | None:
        channel = self._channel()
        with self.db.transaction() as session:
            case = support.open_case(
                session,
                now=at,
                actor=ACTOR,
                channel=channel,
                subject=subject,
                category=category,
                subscriber_id=home.subscriber_id,
                first=self._inbound(home, channel, subject, body, at),
            )
            case_id = case.id
            self._reply(session, case_id, channel, at + timedelta(minutes=10))
        if not technical:
            with self.db.transaction() as session:
                self._solve(
                    session,
                    case_id,
                    "self_service",
                    at + timedelta(minutes=30),
                    "Answered the question.",
                )
            self.summary.other_cases += 1
            return case_id
        self.summary.reactive_cases += 1
        with self.db.transaction() as session:
            diagnosed = self._chance(self.p.diagnostics_share) and self._action(
                session, home, "speed_test", at + timedelta(minutes=15), by=f"staff:{self.agent_id}"
            )
            roll = self.rng.random()
            if roll < self.p.remote_fix_share and self._action(
                session, home, "reboot", at + timedelta(minutes=20), by=f"staff:{self.agent_id}"
            ):
                self._solve(
                    session, case_id, "remote_fix", at + timedelta(minutes=35), "Fixed remotely."
                )
                return case_id
            if roll >= self.p.remote_fix_share + self.p.truck_roll_share:
                outcome = "no_fault_found" if diagnosed else "self_service"
                self._solve(session, case_id, outcome, at + timedelta(minutes=40), "Advice given.")
                return case_id
        if not self._visit(case_id, home, at):
            with self.db.transaction() as session:
                self._solve(
                    session,
                    case_id,
                    "no_fault_found",
                    at + timedelta(hours=2),
                    "No visit possible.",
                )
        return case_id

    def proactive(self, home: _Home, at: datetime) -> None:
        kind, severity, summary = PROACTIVE_KINDS[int(self.rng.integers(len(PROACTIVE_KINDS)))]
        cond = Condition(kind, severity, summary)
        with self.db.transaction() as session:
            f = self._finding(session, home, cond, at, self.health_off)
            if f is None:
                self.summary.skipped += 1
                return
            finding_id = f.id
        opened = at + timedelta(minutes=15)
        with self.db.transaction() as session:
            case, _ = support.open_proactive_case(
                session,
                subscriber_id=home.subscriber_id,
                category=kind,
                subject=summary,
                description="Opened by Homeport health.",
                priority="high" if severity == "critical" else "normal",
                now=opened,
                finding_id=finding_id,
            )
            case_id = case.id
        self.summary.proactive_cases += 1
        if self._chance(self.p.proactive_contacted_share):
            with self.db.transaction() as session:
                support.add_interaction(
                    session,
                    case_id,
                    self._inbound(
                        home,
                        "phone",
                        "Calling about my connection",
                        "Is something wrong with my line?",
                        opened + timedelta(minutes=20),
                    ),
                    now=opened + timedelta(minutes=20),
                    actor=ACTOR,
                )
        fix = opened + timedelta(minutes=45)
        with self.db.transaction() as session:
            fixed = self._action(
                session, home, "reboot", fix, by=f"staff:{self.agent_id}", finding_id=finding_id
            )
        if fixed or not self._chance(0.5):
            with self.db.transaction() as session:
                self._clear(session, home, kind, fix + timedelta(minutes=10), self.health_off)
                self._solve(
                    session,
                    case_id,
                    "remote_fix",
                    fix + timedelta(minutes=30),
                    "Fixed before the subscriber noticed.",
                )
            return
        if not self._visit(case_id, home, fix):
            with self.db.transaction() as session:
                self._solve(
                    session, case_id, "no_fault_found", fix + timedelta(hours=2), "Cleared."
                )
        with self.db.transaction() as session:
            self._clear(session, home, kind, fix + timedelta(days=1, hours=3), self.health_off)

    def auto_fix(self, home: _Home, at: datetime) -> None:
        band = str(self.rng.choice(["2.4GHz", "5GHz"]))
        channel = 6 if band == "2.4GHz" else 44
        cond = Condition(
            "congested_channel",
            "warning",
            f"{band} channel {channel} crowded",
            subject=band,
            evidence={"band": band, "channel": channel, "utilization_pct": 88},
        )
        with self.db.transaction() as session:
            f = self._finding(session, home, cond, at, self.health_on)
            if f is None or f.remediation != "attempted":
                self.summary.skipped += 1
                return
            action_id = int(f.evidence["action_id"])
            remote.mark_action(
                session,
                action_id,
                status="sent",
                result={"via": "simulator"},
                now=at + timedelta(minutes=8),
            )
            remote.mark_action(
                session,
                action_id,
                status="done",
                result={"via": "simulator"},
                now=at + timedelta(minutes=10),
            )
        with self.db.transaction() as session:
            self._clear(
                session, home, "congested_channel", at + timedelta(minutes=15), self.health_on
            )
        self.summary.auto_fixed += 1

    def chatbot(self, home: _Home, contained: bool, at: datetime) -> None:
        with self.db.transaction() as session:
            if contained:
                bot.converse(
                    session,
                    subscriber_id=home.subscriber_id,
                    body=str(self.rng.choice(BOT_CONTAINED)),
                    client_id=uuid.uuid4().hex,
                    now=at,
                    zone=UTC,
                )
            else:
                exchange = bot.converse(
                    session,
                    subscriber_id=home.subscriber_id,
                    body=BOT_HANDED_OVER,
                    client_id=uuid.uuid4().hex,
                    now=at,
                    zone=UTC,
                )
                if (
                    exchange.case_id is None
                    and bot.awaiting(session, exchange.conversation_id) == "handover_offer"
                ):
                    bot.converse(
                        session,
                        subscriber_id=home.subscriber_id,
                        body="yes please",
                        client_id=uuid.uuid4().hex,
                        now=at + timedelta(minutes=1),
                        zone=UTC,
                    )
        with self.db.transaction() as session:
            bot.close_idle(session, now=at + timedelta(hours=1))
            handed = session.scalars(
                select(Case.id).where(
                    Case.subscriber_id == home.subscriber_id,
                    Case.channel == "chatbot",
                    Case.status.in_(("new", "open")),
                )
            ).all()
            for case_id in handed:
                self._solve(
                    session,
                    case_id,
                    "self_service",
                    at + timedelta(minutes=40),
                    "Answered by the agent.",
                )
        self.summary.bot_conversations += 1

    def self_service(self) -> None:
        users = round(self.p.self_service_share * len(self.all_homes))
        if not users or not self.p.engagement_channels:
            return
        chosen = self.rng.choice(len(self.all_homes), size=users, replace=False)
        span = (self.end - self.start).total_seconds()
        with self.db.transaction() as session:
            for i in chosen:
                home = self.all_homes[int(i)]
                for _ in range(int(self.rng.integers(1, 4))):
                    at = self.start + timedelta(seconds=float(self.rng.uniform(0, span - 60)))
                    channel = str(
                        self.rng.choice(
                            [c for c in self.p.engagement_channels if c != "bot"] or ["portal"]
                        )
                    )
                    record_engagement(
                        session,
                        home.subscriber_id,
                        str(self.rng.choice(ENGAGEMENT_KINDS)),
                        at=at,
                        channel=channel,
                        detail={"simulated": True},
                    )
        self.summary.self_service_users = users

    # --- the KPI program and the journey ---------------------------------------------------

    def kpi_program(self) -> None:
        """Weekly KPI snapshots (stage 3 on), overall targets for the profile's families and a
        weekly report (stage 4 on), through the KPI domain's actions."""
        leader = Actor.system("kpi-program")
        with self.db.transaction() as session:
            if self.p.kpi_snapshots:
                week = kpi_service.bucket_start("week", self.start, kpi_service.zone_of("UTC"))
                week = kpi_service.shift("week", week, 1, kpi_service.zone_of("UTC"))
                while week + timedelta(days=7) <= self.end:
                    kpi_actions.snapshot(
                        session,
                        period="week",
                        period_start=week,
                        now=week + timedelta(days=7),
                        cuts=[kpi_service.OVERALL],
                    )
                    week += timedelta(days=7)
            for name, k in KPIS.items():
                if k.family not in self.p.kpi_target_families or k.default_target is None:
                    continue
                target = self.p.truck_roll_target if name == "truck_roll_rate" else k.default_target
                kpi_actions.set_target(session, leader, name, target, now=self.start)
            if self.p.kpi_report:
                kpi_actions.subscribe(session, leader, LEADER_EMAIL, now=self.start)

    def journey(self) -> None:
        with self.db.transaction() as session:
            if self.p.stage_owners:
                # Every stage's owner named by the BSP (the journey domain's defaults).
                for stage, owner in journey_actions.DEFAULT_OWNERS.items():
                    journey_actions.set_owner(
                        session,
                        stage,
                        owner.department,
                        owner.owner or f"{owner.department} lead",
                        None,
                        now=self.start,
                        actor=ACTOR,
                    )
            moments = [("nps", m) for m in self.p.nps_moments]
            if self.p.csat:
                moments.append(("csat", "case_solved"))
            if not moments:
                return
            per_moment = max(5, len(self.all_homes) // 20)
            for kind, moment in moments:
                for home in (self._pick(self.all_homes) for _ in range(per_moment)):
                    sent = self._at()
                    score = (
                        int(self.rng.integers(6, 11))
                        if kind == "nps"
                        else int(self.rng.integers(3, 6))
                    )
                    session.add(
                        Survey(
                            subscriber_id=home.subscriber_id,
                            kind=kind,
                            moment=moment,
                            channel="email",
                            sent_at=sent,
                            expires_at=sent + timedelta(days=14),
                            answered_at=sent + timedelta(hours=int(self.rng.integers(1, 48))),
                            score=score,
                            comment="",
                        )
                    )

    # --- the whole run ---------------------------------------------------------------------

    def run(self) -> ProfileSummary:
        self.setup()
        p = self.p
        days = max((self.end - self.start).total_seconds() / 86400, 1.0)
        issues = round(p.issues_per_subscriber_day * len(self.homes) * days)
        plan: list[tuple[datetime, Callable[[datetime], object]]] = []
        for _ in range(issues):
            at, home, roll = self._at(), self._pick(self.homes), self.rng.random()
            if roll < p.proactive_case_share:
                plan.append((at, partial(self.proactive, home)))
            elif roll < p.proactive_case_share + p.auto_fix_share:
                plan.append((at, partial(self.auto_fix, home)))
            else:
                category, subject, body = TECHNICAL[int(self.rng.integers(len(TECHNICAL)))]
                plan.append(
                    (at, partial(self.reactive, home, category, subject, body, technical=True))
                )
        reactive_share = 1 - p.proactive_case_share - p.auto_fix_share
        others = max(3, round(issues * reactive_share * p.other_contacts_ratio))
        for _ in range(others):
            at, home = self._at(), self._pick(self.homes)
            category, subject, body = OTHER[int(self.rng.integers(len(OTHER)))]
            plan.append(
                (at, partial(self.reactive, home, category, subject, body, technical=False))
            )
        # Upgrade visits happen at every BSP (a new gateway for a faster plan): where
        # technicians record recommendations, these carry them too.
        for _ in range(max(3, round(len(self.all_homes) * days / 2000))):
            at, home = self._at(), self._pick(self.homes)
            plan.append((at, partial(self._visit, None, home, kind="upgrade")))
        bots = round(p.bot_per_100_day * len(self.all_homes) / 100 * days)
        for _ in range(bots):
            at, home = self._at(), self._pick(self.bot_pool)
            plan.append((at, partial(self.chatbot, home, self._chance(p.bot_contained_share))))
        plan.sort(key=lambda item: item[0])
        for at, step in plan:
            step(at)
        self.self_service()
        self.kpi_program()
        self.journey()
        return self.summary


def run_profile(
    db: Database, stage: int, *, start: datetime, end: datetime, seed: int = 7
) -> ProfileSummary:
    """Play the operation of a BSP at ``stage`` from ``start`` to ``end`` on the stored fleet
    (the database's event handlers must be connected: a completed visit solves its case)."""
    check_stage(stage)
    if end - start < timedelta(days=3):
        raise ValidationFailed(
            "invalid maturity profile", [FieldError("days", "at least 3 days of operation")]
        )
    if end - start > timedelta(days=MAX_DAYS):
        raise ValidationFailed(
            "invalid maturity profile", [FieldError("days", f"at most {MAX_DAYS} days")]
        )
    return _Run(db, PROFILES[stage], start=start, end=end, seed=seed).run()
