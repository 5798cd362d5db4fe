"""Reads of the journey domain: the funnel and time between moments, survey results per moment,
the installation experience (self-install against onsite), comment themes, stage owners,
a subscriber's timeline and the frontline feedback board (docs/journey.md, "Views").

Definitions (Homeport's; none is published):

- **Funnel**: the subscribers who signed up in the period (their ``signup`` event), and of
  them those who were *installed*, had their *first-week check*, and became *established*:
  ``established_days`` (30) after installation passed without churning. Conversion is each
  step over the step before, and over sign-ups.
- **Time between moments**: median days from one moment to the next, per subscriber, for the
  subscribers of the period who reached both.
- **Installation experience**: installations in the period by kind (``detail.install``: self
  or onsite): post-installation CSAT, median days from sign-up to installation, and repeat
  contacts — cases opened within 30 days after the installation (per installation, and the
  share of installations with at least one).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from homeport.core.journey_settings import JourneySettings
from homeport.core.writes import chunks
from homeport.identity.models import StaffUser, Team
from homeport.journey import actions, surveys, themes
from homeport.journey.models import (
    EVENT_KINDS,
    FeedbackItem,
    FeedbackVote,
    JourneyEvent,
    StageOwner,
    Survey,
)
from homeport.support.models import Case

REPEAT_CONTACT_WINDOW = timedelta(days=30)
DAY = timedelta(days=1)
#: Funnel steps, in order.
STEPS = ("signup", "installed", "first_week", "established")
STEP_LABELS = {
    "signup": "Signed up",
    "installed": "Installed",
    "first_week": "First-week check",
    "established": "Established",
}
#: Pairs of moments whose time between is shown (label, from, to).
INTERVALS = (
    ("Sign-up to installation booked", "signup", "install_scheduled"),
    ("Installation booked to installed", "install_scheduled", "installed"),
    ("Sign-up to installed", "signup", "installed"),
    ("Installed to first case", "installed", "first_case"),
    ("At risk to churned", "at_risk", "churned"),
)
KIND_LABELS = {
    "signup": "Sign-up",
    "install_scheduled": "Installation booked",
    "installed": "Installed",
    "first_week_check": "First-week check",
    "first_case": "First case",
    "case_solved": "Case solved",
    "plan_change": "Plan change",
    "at_risk": "At risk",
    "churned": "Churned",
}


def _median_days(values: Iterable[timedelta]) -> float | None:
    days = [v / DAY for v in values]
    return round(statistics.median(days), 1) if days else None


# --- Funnel -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    name: str
    label: str
    subscribers: int
    #: This step over the step before, and over sign-ups (percent; None when dividing by 0).
    from_previous: float | None
    from_signup: float | None


@dataclass(frozen=True)
class Interval:
    label: str
    start: str
    end: str
    subscribers: int
    median_days: float | None


@dataclass(frozen=True)
class Funnel:
    since: datetime
    until: datetime
    steps: tuple[Step, ...]
    intervals: tuple[Interval, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "steps": [s.__dict__ for s in self.steps],
            "time_between": [i.__dict__ for i in self.intervals],
        }


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def funnel(
    session: Session, *, since: datetime, until: datetime, now: datetime, s: JourneySettings
) -> Funnel:
    """The funnel of the subscribers who signed up in [since, until) (see the module)."""
    cohort = select(JourneyEvent.subscriber_id).where(
        JourneyEvent.kind == "signup", JourneyEvent.at >= since, JourneyEvent.at < until
    )
    first: dict[int, dict[str, datetime]] = defaultdict(dict)
    for subscriber_id, kind, at in session.execute(
        select(JourneyEvent.subscriber_id, JourneyEvent.kind, func.min(JourneyEvent.at))
        .where(JourneyEvent.subscriber_id.in_(cohort))
        .group_by(JourneyEvent.subscriber_id, JourneyEvent.kind)
    ):
        first[subscriber_id][kind] = at
    established_after = timedelta(days=s.established_days)
    counts = dict.fromkeys(STEPS, 0)
    for moments in first.values():
        if "signup" not in moments:
            continue
        counts["signup"] += 1
        installed = moments.get("installed")
        if installed is None:
            continue
        counts["installed"] += 1
        if "first_week_check" in moments:
            counts["first_week"] += 1
        churned = moments.get("churned")
        settled = installed + established_after
        if settled <= now and (churned is None or churned > settled):
            counts["established"] += 1
    steps = []
    previous = None
    for name in STEPS:
        n = counts[name]
        steps.append(
            Step(
                name,
                STEP_LABELS[name],
                n,
                None if previous is None else _pct(n, previous),
                _pct(n, counts["signup"]),
            )
        )
        previous = n
    intervals = []
    for label, a, b in INTERVALS:
        spans = [m[b] - m[a] for m in first.values() if a in m and b in m and m[b] >= m[a]]
        intervals.append(Interval(label, a, b, len(spans), _median_days(spans)))
    return Funnel(since, until, tuple(steps), tuple(intervals))


# --- Survey results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyResult:
    moment: str
    kind: str
    sent: int
    answered: int
    response_rate: float | None
    #: NPS (−100…100), CSAT (% 4–5) or CES (mean 1–7), by ``kind``.
    score: float | None
    detractors: int
    follow_ups: int

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def score_of(kind: str, scores: Sequence[int]) -> float | None:
    value = {"nps": surveys.nps, "csat": surveys.csat, "ces": surveys.ces}[kind](scores)
    return None if value is None else round(value, 1 if kind != "ces" else 2)


def _expand(rows: Iterable[tuple[int, int]]) -> list[int]:
    return [score for score, n in rows for _ in range(n)]


def survey_results(
    session: Session, *, since: datetime, until: datetime, moment: str | None = None
) -> list[SurveyResult]:
    """Per moment and question kind: invitations sent in the period, answers, and the score."""
    sent_q = select(Survey.moment, Survey.kind, func.count(), func.count(Survey.answered_at)).where(
        Survey.sent_at >= since, Survey.sent_at < until
    )
    scores_q = select(Survey.moment, Survey.kind, Survey.score, func.count()).where(
        Survey.sent_at >= since, Survey.sent_at < until, Survey.score.is_not(None)
    )
    follow_q = select(Survey.moment, Survey.kind, func.count()).where(
        Survey.sent_at >= since, Survey.sent_at < until, Survey.follow_up_case_id.is_not(None)
    )
    if moment is not None:
        sent_q = sent_q.where(Survey.moment == moment)
        scores_q = scores_q.where(Survey.moment == moment)
        follow_q = follow_q.where(Survey.moment == moment)
    sent = {
        (m, k): (n, a)
        for m, k, n, a in session.execute(sent_q.group_by(Survey.moment, Survey.kind))
    }
    dist: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for m, k, score, n in session.execute(
        scores_q.group_by(Survey.moment, Survey.kind, Survey.score)
    ):
        dist[(m, k)].append((int(score or 0), int(n)))
    follows = {
        (m, k): n for m, k, n in session.execute(follow_q.group_by(Survey.moment, Survey.kind))
    }
    order = list(surveys.MOMENTS)
    results = []
    for (m, k), (n, answered) in sorted(
        sent.items(),
        key=lambda item: (
            order.index(item[0][0]) if item[0][0] in order else 99,
            surveys.MOMENTS.get(item[0][0], ()).index(item[0][1])
            if item[0][1] in surveys.MOMENTS.get(item[0][0], ())
            else 9,
        ),
    ):
        values = _expand(dist.get((m, k), []))
        results.append(
            SurveyResult(
                moment=m,
                kind=k,
                sent=n,
                answered=answered,
                response_rate=_pct(answered, n),
                score=score_of(k, values),
                detractors=sum(1 for v in values if surveys.is_detractor(k, v)),
                follow_ups=follows.get((m, k), 0),
            )
        )
    return results


# --- Installation experience ------------------------------------------------------------------


@dataclass(frozen=True)
class InstallGroup:
    install: str
    installations: int
    csat: float | None
    csat_answers: int
    median_days_to_install: float | None
    #: Cases opened within 30 days after installation, per installation.
    contacts_per_install: float | None
    #: Share of installations with at least one case within 30 days (percent).
    with_contact_pct: float | None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def install_experience(session: Session, *, since: datetime, until: datetime) -> list[InstallGroup]:
    """Self-install against onsite installation, for the installations in the period."""
    installs: dict[int, tuple[str, datetime]] = {}
    for subscriber_id, at, detail in session.execute(
        select(JourneyEvent.subscriber_id, JourneyEvent.at, JourneyEvent.detail)
        .where(JourneyEvent.kind == "installed", JourneyEvent.at >= since, JourneyEvent.at < until)
        .order_by(JourneyEvent.at, JourneyEvent.id)  # installed twice: the latest one counts
    ):
        how = (detail or {}).get("install")
        installs[subscriber_id] = (how if how in ("self", "onsite") else "unknown", at)
    signups: dict[int, datetime] = {}
    contacts: dict[int, int] = defaultdict(int)
    csat_by: dict[int, int] = {}
    for batch in chunks(sorted(installs)):
        signups.update(
            session.execute(
                select(JourneyEvent.subscriber_id, func.min(JourneyEvent.at))
                .where(JourneyEvent.kind == "signup", JourneyEvent.subscriber_id.in_(batch))
                .group_by(JourneyEvent.subscriber_id)
            ).all()
        )
        for subscriber_id, opened_at in session.execute(
            select(Case.subscriber_id, Case.opened_at).where(
                Case.subscriber_id.in_(batch), Case.category != actions.FOLLOW_UP_CATEGORY
            )
        ):
            if subscriber_id is None:
                continue
            at = installs[subscriber_id][1]
            if at <= opened_at <= at + REPEAT_CONTACT_WINDOW:
                contacts[subscriber_id] += 1
        for subscriber_id, score in session.execute(
            select(Survey.subscriber_id, Survey.score)
            .where(
                Survey.subscriber_id.in_(batch),
                Survey.moment == "post_install",
                Survey.kind == "csat",
                Survey.score.is_not(None),
            )
            .order_by(Survey.id)  # answered twice: the latest answer counts
        ):
            if score is not None:
                csat_by[subscriber_id] = score
    groups = []
    for how in ("self", "onsite", "unknown"):
        members = [sid for sid, (h, _) in installs.items() if h == how]
        if not members and how == "unknown":
            continue
        scores = [csat_by[sid] for sid in members if sid in csat_by]
        waits = [
            installs[sid][1] - signups[sid]
            for sid in members
            if sid in signups and installs[sid][1] >= signups[sid]
        ]
        n = len(members)
        groups.append(
            InstallGroup(
                install=how,
                installations=n,
                csat=score_of("csat", scores),
                csat_answers=len(scores),
                median_days_to_install=_median_days(waits),
                contacts_per_install=round(sum(contacts[sid] for sid in members) / n, 2)
                if n
                else None,
                with_contact_pct=_pct(sum(1 for sid in members if contacts[sid]), n),
            )
        )
    return groups


# --- Themes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThemeRow:
    theme: str
    label: str
    comments: int
    nps: float | None
    nps_answers: int
    examples: tuple[tuple[str, str, int | None], ...]  # (comment, kind, score)

    def as_json(self) -> dict[str, Any]:
        return {
            "theme": self.theme,
            "label": self.label,
            "comments": self.comments,
            "nps": self.nps,
            "nps_answers": self.nps_answers,
            "examples": [{"comment": c, "kind": k, "score": s} for c, k, s in self.examples],
        }


def theme_summary(
    session: Session, *, since: datetime, until: datetime, examples: int = 3
) -> list[ThemeRow]:
    """Comments answered in the period by theme (most comments first), with the NPS of the
    NPS answers of each theme and the latest few comments as examples."""
    period = (Survey.answered_at >= since, Survey.answered_at < until)
    comments: dict[str, int] = {
        theme: int(n)
        for theme, n in session.execute(
            select(Survey.theme, func.count())
            .where(*period, Survey.comment != "", Survey.theme.is_not(None))
            .group_by(Survey.theme)
        )
        if theme is not None
    }
    dist: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for theme, score, n in session.execute(
        select(Survey.theme, Survey.score, func.count())
        .where(*period, Survey.kind == "nps", Survey.theme.is_not(None), Survey.score.is_not(None))
        .group_by(Survey.theme, Survey.score)
    ):
        if theme is not None and score is not None:
            dist[theme].append((score, int(n)))
    rows = []
    for theme in sorted(
        comments, key=lambda t: (-comments[t], themes.NAMES.index(t) if t in themes.NAMES else 99)
    ):
        latest = session.execute(
            select(Survey.comment, Survey.kind, Survey.score)
            .where(*period, Survey.theme == theme, Survey.comment != "")
            .order_by(Survey.answered_at.desc(), Survey.id.desc())
            .limit(examples)
        ).all()
        values = _expand(dist.get(theme, []))
        rows.append(
            ThemeRow(
                theme=theme,
                label=themes.LABELS.get(theme, theme),
                comments=comments[theme],
                nps=score_of("nps", values),
                nps_answers=len(values),
                examples=tuple((c, k, s) for c, k, s in latest),
            )
        )
    return rows


# --- Owners, timeline -------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerRow:
    stage: str
    label: str
    department: str
    owner: str
    team_id: int | None
    team: str | None
    is_default: bool


def owners(session: Session) -> list[OwnerRow]:
    """Every stage with its owner (the default department when none was set)."""
    stored = {o.stage: o for o in session.scalars(select(StageOwner))}
    teams = dict(session.execute(select(Team.id, Team.name)).all())
    rows = []
    for stage in actions.STAGES:
        o = stored.get(stage)
        if o is None:
            rows.append(
                OwnerRow(
                    stage,
                    KIND_LABELS[stage],
                    actions.DEFAULT_OWNERS[stage].department,
                    "",
                    None,
                    None,
                    True,
                )
            )
        else:
            rows.append(
                OwnerRow(
                    stage,
                    KIND_LABELS[stage],
                    o.department,
                    o.owner,
                    o.team_id,
                    teams.get(o.team_id) if o.team_id else None,
                    False,
                )
            )
    return rows


def unowned_stages(session: Session) -> list[str]:
    """Stages nobody has been named to own (DESIGN.md 7, stage 5: every stage has an owner)."""
    have = {
        stage
        for stage, owner in session.execute(select(StageOwner.stage, StageOwner.owner))
        if owner.strip()
    }
    return [s for s in actions.STAGES if s not in have]


def timeline(session: Session, subscriber_id: int, limit: int = 50) -> list[JourneyEvent]:
    """A subscriber's journey events, newest first."""
    return list(
        session.scalars(
            select(JourneyEvent)
            .where(JourneyEvent.subscriber_id == subscriber_id)
            .order_by(JourneyEvent.at.desc(), JourneyEvent.id.desc())
            .limit(limit)
        )
    )


def event_counts(session: Session, *, since: datetime, until: datetime) -> dict[str, int]:
    """Journey events per kind in the period."""
    found = dict(
        session.execute(
            select(JourneyEvent.kind, func.count())
            .where(JourneyEvent.at >= since, JourneyEvent.at < until)
            .group_by(JourneyEvent.kind)
        ).all()
    )
    return {k: int(found.get(k, 0)) for k in EVENT_KINDS}


# --- Frontline feedback -----------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackRow:
    item: FeedbackItem
    author: str
    voted: bool
    own: bool


def feedback_board(
    session: Session, *, viewer_id: int, status: str | None = None
) -> list[FeedbackRow]:
    """Every item, most votes first (then newest), with whether the viewer voted."""
    stmt = select(FeedbackItem).order_by(
        FeedbackItem.votes.desc(), FeedbackItem.created_at.desc(), FeedbackItem.id.desc()
    )
    if status:
        stmt = stmt.where(FeedbackItem.status == status)
    items = list(session.scalars(stmt.limit(500)))
    authors = dict(
        session.execute(
            select(StaffUser.id, StaffUser.email).where(
                StaffUser.id.in_({i.author_id for i in items if i.author_id is not None})
            )
        ).all()
    )
    voted = set(
        session.scalars(select(FeedbackVote.item_id).where(FeedbackVote.staff_id == viewer_id))
    )
    return [
        FeedbackRow(
            i,
            authors.get(i.author_id, "former staff") if i.author_id else "former staff",
            i.id in voted,
            i.author_id == viewer_id,
        )
        for i in items
    ]
