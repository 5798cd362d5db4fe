"""What the maturity criteria measure, read from the BSP's own data (framework-free reads).

:func:`measure` gathers every figure the criteria of :mod:`homeport.maturity.criteria` judge
into one :class:`Facts`, with a handful of queries over the assessment window
``[since, until)``. Each figure is documented where it is computed; ``docs/maturity.md``
explains them in plain words.

KPI families come from the KPI domain's definitions (:data:`homeport.kpis.definitions.KPIS`)
and the truck-roll rate is the KPI engine's (:func:`homeport.kpis.service.compute`), so that it
is compared with its target in the same unit. The other figures are the criteria's own (the
proactive share here also counts findings fixed automatically, see :func:`_proactive`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from homeport.core.maturity_settings import MaturitySettings
from homeport.core.writes import chunks
from homeport.health.detectors import KINDS as FINDING_KINDS
from homeport.health.models import DeviceAction, Finding
from homeport.journey.models import EVENT_KINDS, StageOwner, Survey
from homeport.kpis import service as kpi_service
from homeport.kpis.definitions import FAMILIES, KPIS
from homeport.kpis.models import KpiReportSubscription, KpiSnapshot, KpiTarget
from homeport.network.models import Home
from homeport.selfservice import bot
from homeport.selfservice.models import BotConversation, EngagementEvent
from homeport.subscribers.models import Subscriber
from homeport.support.models import Case, GuidedStep, Interaction, WorkOrder
from homeport.support.service import REPEAT_WINDOW, contacts

#: Support channels as the maturity criteria count them: live and async chat are one channel.
CHANNEL_GROUPS = {
    "phone": "phone",
    "email": "email",
    "live_chat": "chat",
    "async_chat": "chat",
    "chatbot": "chatbot",
    "app": "app",
    "sms": "sms",
}
#: Every channel in the order pages list them.
CHANNEL_NAMES = ("phone", "email", "chat", "chatbot", "app", "sms")
#: KPI families (issue 6; the KPI domain's).
KPI_FAMILIES = FAMILIES
#: Outcomes of a case that ended with nothing to judge.
NOT_JUDGED = ("duplicate",)


def kpi_families() -> dict[str, str]:
    """KPI name -> family (the KPI domain's definitions)."""
    return {name: k.family for name, k in KPIS.items()}


def share(part: int, whole: int) -> float | None:
    """``part / whole``; None when there is nothing to divide (never a made-up 0 %)."""
    return part / whole if whole else None


@dataclass
class Facts:
    """Every figure the criteria judge, over ``[since, until)``."""

    since: datetime
    until: datetime
    active_subscribers: int = 0
    # Stage 1
    cases_opened: int = 0
    cases_solved: int = 0
    cases_solved_categorised: int = 0
    # Stage 2
    reactive_technical_opened: int = 0
    reactive_technical_diagnosed: int = 0
    reactive_technical_solved: int = 0
    reactive_technical_remote_fix: int = 0
    fcr_cases: int = 0
    fcr_resolved: int = 0
    # Stage 3
    proactive_cases: int = 0
    self_service_users: int = 0
    live_channel_contacts: dict[str, int] = field(default_factory=dict)
    kpis_tracked: list[str] = field(default_factory=list)
    # Stage 4
    auto_fixed_findings: int = 0
    auto_remediation_actions: int = 0
    containment_rate: float | None = None
    containment_conversations: int = 0
    kpis_with_targets: list[str] = field(default_factory=list)
    kpi_reports: int = 0
    visits_completed: int = 0
    visits_with_recommendation: int = 0
    # Stage 5
    proactive_issues: int = 0
    proactive_resolved_no_contact: int = 0
    kpi_families_with_targets: list[str] = field(default_factory=list)
    nps_moments: list[str] = field(default_factory=list)
    #: The journey's stages are its moments (journey events), each to be owned.
    journey_stages: tuple[str, ...] = EVENT_KINDS
    owned_stages: list[str] = field(default_factory=list)
    #: Technical cases opened in the window (proactive, or reactive in a technical category).
    technical_opened: int = 0
    #: Those with a repair visit booked (not cancelled): truck rolls.
    truck_rolls: int = 0
    truck_roll_target: float | None = None
    digital_users: int = 0

    #: Channels with at least ``live_channel_min_contacts`` contacts, in CHANNEL_NAMES order.
    live_channels: list[str] = field(default_factory=list)

    @property
    def truck_roll_rate(self) -> float | None:
        """Truck rolls per 100 technical cases opened in the window (the KPI
        ``truck_roll_rate``'s formula, in %)."""
        if not self.technical_opened:
            return None
        return 100.0 * self.truck_rolls / self.technical_opened


def technical_categories(s: MaturitySettings) -> set[str]:
    return {*s.technical_categories, *FINDING_KINDS}


def measure(session: Session, s: MaturitySettings, *, since: datetime, until: datetime) -> Facts:
    """Read every figure of the assessment over ``[since, until)``."""
    if until <= since:
        raise ValueError("the assessment window must end after it starts")
    facts = Facts(since=since, until=until)
    facts.active_subscribers = int(
        session.scalar(
            select(func.count()).select_from(Subscriber).where(Subscriber.status == "active")
        )
        or 0
    )
    technical = technical_categories(s)
    _cases(session, s, facts, technical)
    _proactive(session, facts, technical)
    _self_service(session, s, facts)
    _channels(session, s, facts)
    _kpis(session, s, facts)
    _visits(session, s, facts)
    _journey(session, facts)
    return facts


def _cases(session: Session, s: MaturitySettings, facts: Facts, technical: set[str]) -> None:
    generic = set(s.generic_categories)
    opened = session.execute(
        select(
            Case.id,
            Case.origin,
            Case.category,
            Case.channel,
            Case.subscriber_id,
            Case.opened_at,
            Case.solved_at,
        ).where(
            Case.opened_at >= facts.since,
            Case.opened_at < facts.until,
            # Merged duplicates are not cases of their own (as the KPIs count them).
            Case.merged_into_id.is_(None),
            or_(Case.outcome.is_(None), Case.outcome.not_in(NOT_JUDGED)),
        )
    ).all()
    facts.cases_opened = len(opened)
    reactive_technical = [
        row for row in opened if row.origin == "reactive" and row.category in technical
    ]
    facts.reactive_technical_opened = len(reactive_technical)
    facts.proactive_cases = sum(1 for row in opened if row.origin == "proactive")
    # Truck-roll rate: the KPI engine's (technical cases opened with a repair visit).
    rolls = kpi_service.compute(session, "truck_roll_rate", since=facts.since, until=facts.until)
    facts.technical_opened = int(rolls.denominator or 0)
    facts.truck_rolls = int(rolls.numerator or 0)
    # Remote diagnostics: a guided-troubleshooting step on the case, a remote action by staff
    # on the subscriber's home while the case was open, or the chatbot's diagnosis before it
    # handed the case over (its channel). Viewing the subscriber 360 is not recorded anywhere,
    # so "viewed" cannot be counted.
    ids = [row.id for row in reactive_technical]
    guided: set[int] = set()
    for chunk in chunks(ids, 500):
        guided.update(
            session.scalars(select(GuidedStep.case_id).where(GuidedStep.case_id.in_(chunk)))
        )
    staff_actions: dict[int, list[datetime]] = defaultdict(list)
    for sub, at in session.execute(
        select(Home.subscriber_id, DeviceAction.created_at)
        .join(Home, Home.id == DeviceAction.home_id)
        .where(
            DeviceAction.requested_by.like("staff:%"),
            DeviceAction.created_at >= facts.since,
            DeviceAction.created_at < facts.until + timedelta(days=30),
        )
    ):
        staff_actions[int(sub)].append(at)
    diagnosed = 0
    for row in reactive_technical:
        if row.id in guided or row.channel == "chatbot":
            diagnosed += 1
        elif row.subscriber_id is not None:
            end = row.solved_at or facts.until
            if any(row.opened_at <= at <= end for at in staff_actions.get(row.subscriber_id, [])):
                diagnosed += 1
    facts.reactive_technical_diagnosed = diagnosed

    solved = session.execute(
        select(
            Case.id,
            Case.origin,
            Case.category,
            Case.outcome,
            Case.subscriber_id,
            Case.solved_at,
        ).where(
            Case.solved_at >= facts.since,
            Case.solved_at < facts.until,
            or_(Case.outcome.is_(None), Case.outcome.not_in(NOT_JUDGED)),
        )
    ).all()
    facts.cases_solved = len(solved)
    facts.cases_solved_categorised = sum(
        1 for row in solved if row.outcome and (row.category or "") not in generic
    )
    tech_solved = [row for row in solved if row.origin == "reactive" and row.category in technical]
    facts.reactive_technical_solved = len(tech_solved)
    facts.reactive_technical_remote_fix = sum(
        1 for row in tech_solved if row.outcome == "remote_fix"
    )
    # FCR measured: solved reactive cases with the subscriber's contacts on record.
    reactive_solved = [row for row in solved if row.origin == "reactive"]
    by_case: dict[int, list[Interaction]] = defaultdict(list)
    for chunk in chunks([row.id for row in reactive_solved], 500):
        for i in session.scalars(
            select(Interaction).where(
                Interaction.case_id.in_(chunk),
                Interaction.direction == "inbound",
                Interaction.author_kind == "subscriber",
            )
        ):
            by_case[i.case_id].append(i)
    later: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    for who, category, at in session.execute(
        select(Case.subscriber_id, Case.category, Case.opened_at).where(
            Case.origin == "reactive",
            Case.opened_at >= facts.since,
            Case.opened_at < facts.until + REPEAT_WINDOW,
            Case.subscriber_id.isnot(None),
        )
    ):
        if who is not None:
            later[(int(who), category)].append(at)
    for done in reactive_solved:
        n = contacts(by_case.get(done.id, []))
        if n == 0 or done.solved_at is None:
            continue
        facts.fcr_cases += 1
        solved_at = done.solved_at
        repeat = done.subscriber_id is not None and any(
            solved_at < at <= solved_at + REPEAT_WINDOW
            for at in later.get((done.subscriber_id, done.category), [])
        )
        if n == 1 and not repeat:
            facts.fcr_resolved += 1


def _proactive(session: Session, facts: Facts, technical: set[str]) -> None:
    """Proactive issues: proactive cases opened in the window, and findings opened in it that
    an automatic fix resolved without ever becoming a case. Each was resolved with no contact
    when it was solved (resolved) and the subscriber opened no reactive technical case, and
    wrote nothing on the proactive case, between its start and its resolution."""
    proactive = session.execute(
        select(Case.id, Case.subscriber_id, Case.opened_at, Case.solved_at, Case.outcome).where(
            Case.origin == "proactive",
            Case.opened_at >= facts.since,
            Case.opened_at < facts.until,
            or_(Case.outcome.is_(None), Case.outcome.not_in(NOT_JUDGED)),
        )
    ).all()
    escalated = select(Case.finding_id).where(Case.finding_id.isnot(None))
    fixed = session.execute(
        select(Home.subscriber_id, Finding.opened_at, Finding.resolved_at)
        .join(Home, Home.id == Finding.home_id)
        .where(
            Finding.remediation == "fixed",
            Finding.opened_at >= facts.since,
            Finding.opened_at < facts.until,
            Finding.id.not_in(escalated),
        )
    ).all()
    facts.auto_fixed_findings = len(fixed)
    facts.auto_remediation_actions = int(
        session.scalar(
            select(func.count())
            .select_from(DeviceAction)
            .where(
                DeviceAction.requested_by.like("policy:%"),
                DeviceAction.created_at >= facts.since,
                DeviceAction.created_at < facts.until,
            )
        )
        or 0
    )
    facts.proactive_issues = len(proactive) + len(fixed)
    reactive: dict[int, list[datetime]] = defaultdict(list)
    for sub, category, at in session.execute(
        select(Case.subscriber_id, Case.category, Case.opened_at).where(
            Case.origin == "reactive",
            Case.opened_at >= facts.since - timedelta(days=1),
            Case.subscriber_id.isnot(None),
        )
    ):
        if sub is not None and category in technical:
            reactive[int(sub)].append(at)
    written: set[int] = set()
    for chunk in chunks([row.id for row in proactive], 500):
        written.update(
            session.scalars(
                select(Interaction.case_id).where(
                    Interaction.case_id.in_(chunk),
                    Interaction.direction == "inbound",
                    Interaction.author_kind == "subscriber",
                )
            )
        )
    quiet = 0
    for row in proactive:
        if row.solved_at is None or row.id in written or row.subscriber_id is None:
            continue
        if not any(row.opened_at <= at <= row.solved_at for at in reactive[row.subscriber_id]):
            quiet += 1
    for sub, opened, resolved in fixed:
        if opened is None or resolved is None:
            continue
        if not any(opened <= at <= resolved for at in reactive[sub]):
            quiet += 1
    facts.proactive_resolved_no_contact = quiet


def _self_service(session: Session, s: MaturitySettings, facts: Facts) -> None:
    facts.self_service_users = int(
        session.scalar(
            select(func.count(func.distinct(EngagementEvent.subscriber_id))).where(
                EngagementEvent.at >= facts.since, EngagementEvent.at < facts.until
            )
        )
        or 0
    )
    adoption_since = facts.until - timedelta(days=s.digital_adoption_days)
    facts.digital_users = int(
        session.scalar(
            select(func.count(func.distinct(EngagementEvent.subscriber_id)))
            .join(Subscriber, Subscriber.id == EngagementEvent.subscriber_id)
            .where(
                EngagementEvent.at >= adoption_since,
                EngagementEvent.at < facts.until,
                Subscriber.status == "active",
            )
        )
        or 0
    )
    contained = bot.containment(session, since=facts.since, until=facts.until)
    facts.containment_rate = contained.rate
    facts.containment_conversations = contained.conversations


def _channels(session: Session, s: MaturitySettings, facts: Facts) -> None:
    """Inbound subscriber contacts per channel in the last ``live_channel_days`` (one chat
    conversation is one contact); the chatbot counts its conversations."""
    since = max(facts.since, facts.until - timedelta(days=s.live_channel_days))
    counts: dict[str, int] = dict.fromkeys(CHANNEL_NAMES, 0)
    rows = session.execute(
        select(
            Interaction.channel,
            func.count(),
            func.count(func.distinct(Interaction.case_id)),
        )
        .where(
            Interaction.direction == "inbound",
            Interaction.author_kind == "subscriber",
            Interaction.started_at >= since,
            Interaction.started_at < facts.until,
        )
        .group_by(Interaction.channel)
    ).all()
    for channel, n, cases in rows:
        group = CHANNEL_GROUPS.get(channel)
        if group is None:
            continue
        # A chat's messages are one contact per conversation: count its cases instead.
        counts[group] += int(cases) if group == "chat" else int(n)
    counts["chatbot"] += int(
        session.scalar(
            select(func.count())
            .select_from(BotConversation)
            .where(BotConversation.started_at >= since, BotConversation.started_at < facts.until)
        )
        or 0
    )
    facts.live_channel_contacts = counts
    facts.live_channels = [c for c in CHANNEL_NAMES if counts[c] >= s.live_channel_min_contacts]


def _kpis(session: Session, s: MaturitySettings, facts: Facts) -> None:
    families = kpi_families()
    targets = set(session.scalars(select(KpiTarget.kpi).where(KpiTarget.cut == "")))
    snapshots = set(
        session.scalars(
            select(KpiSnapshot.kpi)
            .where(KpiSnapshot.period_start >= facts.since, KpiSnapshot.period_start < facts.until)
            .distinct()
        )
    )
    facts.kpis_tracked = sorted(k for k in targets | snapshots if k in families)
    facts.kpis_with_targets = sorted(k for k in targets if k in families)
    facts.kpi_families_with_targets = sorted(
        {families[k] for k in facts.kpis_with_targets} & set(KPI_FAMILIES)
    )
    facts.kpi_reports = int(
        session.scalar(
            select(func.count())
            .select_from(KpiReportSubscription)
            .where(KpiReportSubscription.active.is_(True))
        )
        or 0
    )
    target = session.scalar(
        select(KpiTarget.target).where(KpiTarget.kpi == "truck_roll_rate", KpiTarget.cut == "")
    )
    facts.truck_roll_target = None if target is None else float(target)


def _visits(session: Session, s: MaturitySettings, facts: Facts) -> None:
    """Visits completed in the window, and those whose notes carry a recommendation (work
    orders have no field for one: a word of ``recommendation_words`` in the notes marks it)."""
    notes = session.scalars(
        select(WorkOrder.notes).where(
            WorkOrder.status == "completed",
            WorkOrder.completed_at >= facts.since,
            WorkOrder.completed_at < facts.until,
        )
    ).all()
    words = [w.lower() for w in s.recommendation_words]
    facts.visits_completed = len(notes)
    facts.visits_with_recommendation = sum(
        1 for n in notes if any(w in (n or "").lower() for w in words)
    )


def _journey(session: Session, facts: Facts) -> None:
    facts.nps_moments = sorted(
        session.scalars(
            select(Survey.moment)
            .where(
                Survey.kind == "nps",
                Survey.score.isnot(None),
                Survey.answered_at >= facts.since,
                Survey.answered_at < facts.until,
            )
            .distinct()
        )
    )
    facts.owned_stages = sorted(
        stage
        for stage, department, owner, team in session.execute(
            select(StageOwner.stage, StageOwner.department, StageOwner.owner, StageOwner.team_id)
        )
        # A stored owner: the BSP named one (a default nobody confirmed does not count).
        if stage in facts.journey_stages and (department or owner.strip() or team)
    )
