"""Surveys at the journey's moments, the rules against over-surveying, answers, and the closed
loop for detractors (docs/journey.md, "Surveys").

**Moments and questions.** An *invitation* asks one or two questions at once, one ``surveys`` row
each, sent together (same subscriber, moment and ``sent_at``); the first row is the primary: it
carries the link's token hash and the comment.

- ``post_install``: CSAT on the installation, then NPS — ``post_install_delay_h`` after the
  ``installed`` journey event;
- ``case_solved``: CSAT on how the case was handled, then CES (effort) — ``case_solved_delay_h``
  after a case was solved, if it is still solved (not reopened; not a merged duplicate, not a
  proactive fix that solved itself: ``auto_resolved``);
- ``relationship``: NPS, every ``relationship_every_days`` (90) for each active subscriber with
  ``relationship_min_tenure_days`` (30) of service. Subscribers never asked are spread evenly
  over the first cycle (subscriber id modulo the cycle, from the first relationship survey), so
  the base is not asked all on one day.

A moment's survey goes out within ``moment_window_days`` of the moment or not at all.

**Over-surveying.** No invitation to a subscriber who had one in the last
``survey_min_gap_days`` (30); none by email without email consent (the portal still shows it
to a subscriber with a portal account; with neither, nobody is asked); no relationship NPS while
the subscriber has a live case; churned and prospect accounts are never asked.

**Delivery.** Email through the support desk's outbound queue, carrying ``/survey/<token>``: the
token is random, only its SHA-256 is stored, it works until the survey expires
(``survey_valid_days``, 14) and answers once. The portal shows the subscriber's pending
invitation (:func:`pending_survey`) and answers through :func:`answer_for_subscriber`.

**Closed loop.** An NPS of 0–6 or a CSAT of 1–2 opens a follow-up case for the Retention team
(category ``retention_follow_up``, channel ``system``) with the scores and the comment, linked
from the answered rows (``follow_up_case_id``), and records an ``at_risk`` journey event.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.core.events import Event, publish
from homeport.core.journey_settings import JourneySettings
from homeport.identity.models import SubscriberAccount
from homeport.identity.service import hash_token
from homeport.journey import actions, themes
from homeport.journey.models import JourneyEvent, Survey
from homeport.subscribers.models import Subscriber
from homeport.support import actions as support_actions
from homeport.support.models import LIVE_STATUSES, Case

#: The moments surveys are sent at, and the questions each asks (the first is the primary).
MOMENTS: dict[str, tuple[str, ...]] = {
    "post_install": ("csat", "nps"),
    # Transactional NPS after a case (optional, after CSAT): with the installation and the
    # relationship survey, NPS is collected at three journey moments (DESIGN.md 7, stage 5).
    "case_solved": ("csat", "nps", "ces"),
    "relationship": ("nps",),
}
MOMENT_LABELS = {
    "post_install": "After installation",
    "case_solved": "After a case was solved",
    "relationship": "Relationship (every 90 days)",
}
#: Lowest and highest score of each kind.
SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
#: The question of each kind at each moment, in the subscriber's words.
QUESTIONS: dict[tuple[str, str], str] = {
    ("post_install", "csat"): "How satisfied are you with your installation?",
    ("post_install", "nps"): "How likely are you to recommend {bsp} to a friend or colleague?",
    ("case_solved", "csat"): "How satisfied are you with how we handled your request?",
    ("case_solved", "nps"): (
        "After this experience, how likely are you to recommend {bsp} to a friend or colleague?"
    ),
    ("case_solved", "ces"): "{bsp} made it easy for me to handle my issue.",
    ("relationship", "nps"): "How likely are you to recommend {bsp} to a friend or colleague?",
}
#: The ends of each scale, in words.
ANCHORS: dict[str, tuple[str, str]] = {
    "nps": ("Not at all likely", "Extremely likely"),
    "csat": ("Very dissatisfied", "Very satisfied"),
    "ces": ("Strongly disagree", "Strongly agree"),
}
MAX_COMMENT = 2000
SURVEY_ACTOR = Actor.system("surveys")
_TOKEN_BYTES = 32
#: Outcomes of a solved case that are not a subscriber's experience to rate.
UNRATED_OUTCOMES = ("duplicate", "auto_resolved")


#: NPS promoters answer 9–10 and detractors 0–6 [K4]; a satisfied CSAT answer is 4–5 [K6]; a
#: CSAT of 1–2 is a detractor's for the closed loop.
NPS_PROMOTER_MIN = 9
NPS_DETRACTOR_MAX = 6
CSAT_SATISFIED_MIN = 4
CSAT_DETRACTOR_MAX = 2


def is_detractor(kind: str, score: int) -> bool:
    """NPS 0–6 or CSAT 1–2: an answer that opens a follow-up case."""
    return (kind == "nps" and score <= NPS_DETRACTOR_MAX) or (
        kind == "csat" and score <= CSAT_DETRACTOR_MAX
    )


# --- The figures (one formula each; REFERENCE.md section 3) ------------------------------------


def nps(scores: Sequence[int]) -> float | None:
    """% promoters (9–10) − % detractors (0–6) [K4]; None without answers."""
    if not scores:
        return None
    promoters = sum(1 for s in scores if s >= NPS_PROMOTER_MIN)
    detractors = sum(1 for s in scores if s <= NPS_DETRACTOR_MAX)
    return 100.0 * (promoters - detractors) / len(scores)


def csat(scores: Sequence[int]) -> float | None:
    """% of answers that are 4 or 5 on the 1–5 scale [K6]; None without answers."""
    if not scores:
        return None
    return 100.0 * sum(1 for s in scores if s >= CSAT_SATISFIED_MIN) / len(scores)


def ces(scores: Sequence[int]) -> float | None:
    """Mean agreement on the 1–7 scale (7: very easy) [K5]; None without answers."""
    if not scores:
        return None
    return sum(scores) / len(scores)


#: A CES answer of 5–7 agrees that handling the issue was easy (the 1–7 scale's agreeing half).
CES_EASY_MIN = 5


def tone(kind: str, score: int) -> str:
    """How an answer reads at a glance: ``bad`` for a detractor's (:func:`is_detractor`), ``ok``
    for a promoter's NPS, a satisfied CSAT or an easy CES, else ``warn``."""
    if is_detractor(kind, score):
        return "bad"
    good = {"nps": NPS_PROMOTER_MIN, "csat": CSAT_SATISFIED_MIN, "ces": CES_EASY_MIN}.get(kind)
    return "ok" if good is not None and score >= good else "warn"


#: How many of a subscriber's latest survey questions the agent console's 360 shows.
RECENT_SURVEYS = 6


def recent_for_subscriber(
    session: Session, subscriber_id: int, *, limit: int = RECENT_SURVEYS
) -> list[Row[Any]]:
    """The subscriber's latest survey questions, newest first, as plain rows (one statement):
    ``id``, ``kind``, ``moment``, ``channel``, ``case_id``, ``sent_at``, ``expires_at``,
    ``answered_at``, ``score``, ``comment``, ``theme`` and ``follow_up_case_id``. Unanswered
    questions are included: an agent should know a survey is out."""
    return list(
        session.execute(
            select(
                Survey.id,
                Survey.kind,
                Survey.moment,
                Survey.channel,
                Survey.case_id,
                Survey.sent_at,
                Survey.expires_at,
                Survey.answered_at,
                Survey.score,
                Survey.comment,
                Survey.theme,
                Survey.follow_up_case_id,
            )
            .where(Survey.subscriber_id == subscriber_id)
            .order_by(Survey.sent_at.desc(), Survey.id)
            .limit(limit)
        )
    )


# --- Events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyAnswered(Event):
    survey_id: int
    subscriber_id: int
    kind: str
    moment: str
    score: int
    follow_up_case_id: int | None


# --- Sending ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    subscriber_id: int
    moment: str
    case_id: int | None = None
    work_order_id: int | None = None


@dataclass
class SendResult:
    sent: int = 0
    by_moment: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def __str__(self) -> str:
        moments = ", ".join(f"{k} {v}" for k, v in sorted(self.by_moment.items())) or "none"
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items())) or "none"
        return f"{self.sent} surveys sent ({moments}); skipped: {skipped}"


def _last_sent(session: Session, subscriber_id: int) -> datetime | None:
    return session.scalar(
        select(func.max(Survey.sent_at)).where(Survey.subscriber_id == subscriber_id)
    )


def _has_account(session: Session, subscriber_id: int) -> bool:
    return (
        session.scalar(
            select(SubscriberAccount.id).where(
                SubscriberAccount.subscriber_id == subscriber_id,
                SubscriberAccount.is_active.is_(True),
            )
        )
        is not None
    )


def channel_for(session: Session, sub: Subscriber) -> str | None:
    """Email with consent and an address; else the portal if they have an account; else none."""
    if sub.consent_email and sub.email:
        return "email"
    if _has_account(session, sub.id):
        return "portal"
    return None


def refusal(
    session: Session, sub: Subscriber, moment: str, *, now: datetime, s: JourneySettings
) -> str | None:
    """Why this subscriber may not be asked now (None: they may)."""
    if sub.status in ("churned", "prospect"):
        return "not a customer"
    if moment == "relationship" and sub.status != "active":
        return "not active"
    last = _last_sent(session, sub.id)
    if last is not None and now - last < timedelta(days=s.survey_min_gap_days):
        return "surveyed recently"
    if moment == "relationship":
        live = session.scalar(
            select(Case.id)
            .where(Case.subscriber_id == sub.id, Case.status.in_(LIVE_STATUSES))
            .limit(1)
        )
        if live is not None:
            return "case open"
    if channel_for(session, sub) is None:
        return "no consent or portal account"
    return None


def _relationship_start(session: Session, now: datetime) -> datetime:
    first = session.scalar(select(func.min(Survey.sent_at)).where(Survey.moment == "relationship"))
    return first or now


def due(session: Session, *, now: datetime, s: JourneySettings, limit: int) -> list[Candidate]:
    """Who is due a survey now, most urgent moment first (post-install, case solved,
    relationship), before the rules against over-surveying (:func:`refusal`)."""
    window = timedelta(days=s.moment_window_days)
    found: list[Candidate] = []
    asked = select(Survey.subscriber_id).where(Survey.moment == "post_install")
    for subscriber_id, detail in session.execute(
        select(JourneyEvent.subscriber_id, JourneyEvent.detail)
        .where(
            JourneyEvent.kind == "installed",
            JourneyEvent.at <= now - timedelta(hours=s.post_install_delay_h),
            JourneyEvent.at >= now - timedelta(hours=s.post_install_delay_h) - window,
            JourneyEvent.subscriber_id.not_in(asked),
        )
        .order_by(JourneyEvent.at, JourneyEvent.id)
        .limit(limit)
    ):
        wo = (detail or {}).get("work_order_id")
        found.append(
            Candidate(
                subscriber_id, "post_install", work_order_id=wo if isinstance(wo, int) else None
            )
        )
    solved_after = now - timedelta(hours=s.case_solved_delay_h)
    for case_id, subscriber_id in session.execute(
        select(Case.id, Case.subscriber_id)
        .where(
            Case.subscriber_id.is_not(None),
            Case.status.in_(("solved", "closed")),
            Case.merged_into_id.is_(None),
            or_(Case.outcome.is_(None), Case.outcome.not_in(UNRATED_OUTCOMES)),
            Case.category != actions.FOLLOW_UP_CATEGORY,
            Case.solved_at <= solved_after,
            Case.solved_at >= solved_after - window,
            ~exists().where(Survey.case_id == Case.id),
        )
        .order_by(Case.solved_at, Case.id)
        .limit(limit)
    ):
        if subscriber_id is not None:
            found.append(Candidate(subscriber_id, "case_solved", case_id=case_id))
    every = s.relationship_every_days
    day = max(0, (now - _relationship_start(session, now)) // timedelta(days=1))
    tenure_since = func.coalesce(Subscriber.activated_at, Subscriber.created_at)
    recent = select(Survey.subscriber_id).where(
        Survey.moment == "relationship", Survey.sent_at > now - timedelta(days=every)
    )
    ever = select(Survey.subscriber_id).where(Survey.moment == "relationship")
    gap = select(Survey.subscriber_id).where(
        Survey.sent_at > now - timedelta(days=s.survey_min_gap_days)
    )
    live = select(Case.subscriber_id).where(
        Case.status.in_(LIVE_STATUSES), Case.subscriber_id.is_not(None)
    )
    reachable = or_(
        and_(Subscriber.consent_email.is_(True), Subscriber.email != ""),
        exists().where(
            SubscriberAccount.subscriber_id == Subscriber.id,
            SubscriberAccount.is_active.is_(True),
        ),
    )
    for (subscriber_id,) in session.execute(
        select(Subscriber.id)
        .where(
            Subscriber.status == "active",
            tenure_since <= now - timedelta(days=s.relationship_min_tenure_days),
            Subscriber.id.not_in(recent),
            Subscriber.id.not_in(gap),
            Subscriber.id.not_in(live),
            reachable,
            or_(Subscriber.id.in_(ever), Subscriber.id % every <= day),
        )
        .order_by(Subscriber.id)
        .limit(limit)
    ):
        found.append(Candidate(subscriber_id, "relationship"))
    return found


def _email(
    *, bsp_name: str, moment: str, first_name: str, url: str, valid_days: int
) -> tuple[str, str]:
    question = QUESTIONS[(moment, MOMENTS[moment][0])].format(bsp=bsp_name)
    subject = f"{first_name}, how did we do? One question from {bsp_name}"
    body = (
        f"Hello {first_name},\n\n{question}\n\n"
        f"Answer with one tap (it takes under a minute):\n\n{url}\n\n"
        f"The link works for {valid_days} days. You can add a comment: we read every one.\n\n"
        f"Thank you,\n{bsp_name}\n"
    )
    return subject, body


def send(
    session: Session,
    candidate: Candidate,
    *,
    now: datetime,
    s: JourneySettings,
    public_url: str,
    bsp_name: str,
    check: bool = True,
) -> list[Survey]:
    """Send one invitation (its rows, and the email if by email). With ``check``, a subscriber
    the rules refuse raises :class:`Conflict` with the reason."""
    if candidate.moment not in MOMENTS:
        raise ValidationFailed(
            "invalid survey", [FieldError("moment", f"one of {', '.join(MOMENTS)}")]
        )
    sub = session.get(Subscriber, candidate.subscriber_id)
    if sub is None:
        raise NotFound(f"no subscriber {candidate.subscriber_id}")
    if check:
        reason = refusal(session, sub, candidate.moment, now=now, s=s)
        if reason is not None:
            raise Conflict(f"subscriber {sub.id} is not surveyed now: {reason}")
    channel = channel_for(session, sub)
    if channel is None:
        raise Conflict(f"subscriber {sub.id} has no email consent and no portal account")
    token = secrets.token_urlsafe(_TOKEN_BYTES) if channel == "email" else None
    expires = now + timedelta(days=s.survey_valid_days)
    rows = []
    for i, kind in enumerate(MOMENTS[candidate.moment]):
        row = Survey(
            subscriber_id=sub.id,
            kind=kind,
            moment=candidate.moment,
            channel=channel,
            case_id=candidate.case_id,
            work_order_id=candidate.work_order_id,
            token_hash=hash_token(token) if token and i == 0 else None,
            sent_at=now,
            expires_at=expires,
            comment="",
        )
        session.add(row)
        rows.append(row)
    session.flush()
    if token is not None:
        first_name = sub.name.split()[0] if sub.name.strip() else "there"
        subject, body = _email(
            bsp_name=bsp_name,
            moment=candidate.moment,
            first_name=first_name,
            url=f"{public_url.rstrip('/')}/survey/{token}",
            valid_days=s.survey_valid_days,
        )
        support_actions.queue_outbound(
            session,
            channel="email",
            recipient=sub.email,
            subject=subject,
            body=body,
            now=now,
            headers={"Auto-Submitted": "auto-generated"},
        )
    record(
        session,
        at=now,
        actor=SURVEY_ACTOR,
        action="survey.sent",
        entity_type="survey",
        entity_id=rows[0].id,
        subscriber_id=sub.id,
        moment=candidate.moment,
        channel=channel,
        kinds=list(MOMENTS[candidate.moment]),
    )
    return rows


def send_due(
    session: Session,
    *,
    now: datetime,
    s: JourneySettings,
    public_url: str,
    bsp_name: str,
    limit: int | None = None,
) -> SendResult:
    """Send the invitations due now, at most ``limit`` (default ``survey_batch``)."""
    limit = limit or s.survey_batch
    result = SendResult()
    seen: set[int] = set()
    for candidate in due(session, now=now, s=s, limit=limit):
        if result.sent >= limit:
            break
        if candidate.subscriber_id in seen:
            result.skip("surveyed recently")
            continue
        seen.add(candidate.subscriber_id)
        sub = session.get(Subscriber, candidate.subscriber_id)
        if sub is None:
            continue
        reason = refusal(session, sub, candidate.moment, now=now, s=s)
        if reason is not None:
            result.skip(reason)
            continue
        rows = send(
            session, candidate, now=now, s=s, public_url=public_url, bsp_name=bsp_name, check=False
        )
        result.sent += 1
        result.by_moment[candidate.moment] = result.by_moment.get(candidate.moment, 0) + 1
        result.by_channel[rows[0].channel] = result.by_channel.get(rows[0].channel, 0) + 1
    return result


# --- Reading one invitation -------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    survey_id: int
    kind: str
    text: str
    low: int
    high: int
    low_label: str
    high_label: str


@dataclass(frozen=True)
class Invitation:
    """One invitation as the survey page and the portal show it."""

    survey_id: int
    subscriber_id: int
    moment: str
    sent_at: datetime
    expires_at: datetime
    answered: bool
    expired: bool
    questions: tuple[Question, ...]


def _group(session: Session, primary: Survey) -> list[Survey]:
    return list(
        session.scalars(
            select(Survey)
            .where(
                Survey.subscriber_id == primary.subscriber_id,
                Survey.moment == primary.moment,
                Survey.sent_at == primary.sent_at,
            )
            .order_by(Survey.id)
        )
    )


def _invitation(rows: list[Survey], *, now: datetime, bsp_name: str) -> Invitation:
    primary = rows[0]
    questions = []
    for r in rows:
        low, high = SCALES[r.kind]
        left, right = ANCHORS[r.kind]
        text = QUESTIONS.get((r.moment, r.kind), "").format(bsp=bsp_name)
        questions.append(Question(r.id, r.kind, text, low, high, left, right))
    return Invitation(
        survey_id=primary.id,
        subscriber_id=primary.subscriber_id,
        moment=primary.moment,
        sent_at=primary.sent_at,
        expires_at=primary.expires_at,
        answered=primary.answered_at is not None,
        expired=now >= primary.expires_at,
        questions=tuple(questions),
    )


def by_token(session: Session, token: str, *, now: datetime, bsp_name: str) -> Invitation:
    """The invitation a link's token opens (:class:`NotFound` for an unknown token)."""
    primary = _primary_by_token(session, token)
    return _invitation(_group(session, primary), now=now, bsp_name=bsp_name)


def _primary_by_token(session: Session, token: str, *, lock: bool = False) -> Survey:
    if not token or len(token) > 200:
        raise NotFound("no such survey")
    stmt = select(Survey).where(Survey.token_hash == hash_token(token))
    if lock:
        stmt = stmt.with_for_update()
    primary = session.scalars(stmt).first()
    if primary is None:
        raise NotFound("no such survey")
    return primary


def pending_survey(
    session: Session, subscriber_id: int, *, now: datetime, bsp_name: str = "us"
) -> Invitation | None:
    """The subscriber's oldest unanswered invitation that still runs (email or portal), for
    the portal to show; None when there is none."""
    rows = session.scalars(
        select(Survey)
        .where(
            Survey.subscriber_id == subscriber_id,
            Survey.answered_at.is_(None),
            Survey.expires_at > now,
        )
        .order_by(Survey.sent_at, Survey.id)
        .limit(3)
    ).all()
    if not rows:
        return None
    return _invitation(_group(session, rows[0]), now=now, bsp_name=bsp_name)


# --- Answering --------------------------------------------------------------------------------


def _check_answers(rows: list[Survey], answers: Mapping[int, int | None], comment: str) -> None:
    problems = []
    ids = {r.id for r in rows}
    for survey_id in answers:
        if survey_id not in ids:
            problems.append(FieldError(f"score_{survey_id}", "not a question of this survey"))
    for i, r in enumerate(rows):
        score = answers.get(r.id)
        low, high = SCALES[r.kind]
        if score is None:
            if i == 0:
                problems.append(FieldError(f"score_{r.id}", f"choose a score from {low} to {high}"))
            continue
        if not low <= score <= high:
            problems.append(FieldError(f"score_{r.id}", f"a score from {low} to {high}"))
    if len(comment) > MAX_COMMENT:
        problems.append(FieldError("comment", f"at most {MAX_COMMENT} characters"))
    if problems:
        raise ValidationFailed("invalid answer", problems)


def _answer(
    session: Session,
    primary: Survey,
    answers: Mapping[int, int | None],
    comment: str,
    *,
    now: datetime,
    actor: Actor,
) -> list[Survey]:
    if primary.answered_at is not None:
        raise Conflict("this survey has already been answered: thank you")
    if now >= primary.expires_at:
        raise Conflict("this survey has closed")
    rows = _group(session, primary)
    comment = comment.strip()
    _check_answers(rows, answers, comment)
    theme = themes.classify(comment) if comment else None
    answered: list[Survey] = []
    for r in rows:
        score = answers.get(r.id)
        if score is None:
            continue
        r.score = score
        r.answered_at = now
        r.theme = theme
        if r is primary:
            r.comment = comment
        answered.append(r)
    detractors = [r for r in answered if r.score is not None and is_detractor(r.kind, r.score)]
    case_id = (
        _close_the_loop(session, primary, detractors, comment, now=now) if detractors else None
    )
    for r in answered:
        record(
            session,
            at=now,
            actor=actor,
            action="survey.answered",
            entity_type="survey",
            entity_id=r.id,
            subscriber_id=r.subscriber_id,
            kind=r.kind,
            moment=r.moment,
            score=r.score,
            theme=theme,
            follow_up_case_id=case_id,
        )
        publish(
            session,
            SurveyAnswered(r.id, r.subscriber_id, r.kind, r.moment, int(r.score or 0), case_id),
        )
    return answered


def _close_the_loop(
    session: Session, primary: Survey, detractors: list[Survey], comment: str, *, now: datetime
) -> int:
    scores = ", ".join(f"{r.kind.upper()} {r.score}" for r in detractors)
    where = MOMENT_LABELS.get(primary.moment, primary.moment).lower()
    lines = [
        f"A detractor's survey answer ({scores}) {where}. Call the subscriber back, listen, and "
        "put right what can be put right.",
        "",
        f"Scores: {scores}",
        f"Comment: {comment or '(none)'}",
    ]
    if primary.case_id:
        lines.append(f"The case it rates: #{primary.case_id}")
    if primary.work_order_id:
        lines.append(f"The installation visit: work order {primary.work_order_id}")
    case = support_actions.open_case(
        session,
        now=now,
        actor=SURVEY_ACTOR,
        channel="system",
        subject=f"Detractor follow-up: {scores} {where}"[:200],
        subscriber_id=primary.subscriber_id,
        category=actions.FOLLOW_UP_CATEGORY,
        description="\n".join(lines),
    )
    for r in detractors:
        r.follow_up_case_id = case.id
    actions.record_event(
        session,
        subscriber_id=primary.subscriber_id,
        kind="at_risk",
        at=now,
        ref=f"survey:{primary.id}",
        detail={"survey_id": primary.id, "scores": scores, "case_id": case.id},
    )
    return case.id


def answer_by_token(
    session: Session,
    token: str,
    answers: Mapping[int, int | None],
    comment: str = "",
    *,
    now: datetime,
) -> list[Survey]:
    """Answer the invitation a link opens (``answers``: survey id → score, the primary
    required). An unknown token is :class:`NotFound`; an answered or expired one
    :class:`Conflict`."""
    primary = _primary_by_token(session, token, lock=True)
    actor = Actor("subscriber", primary.subscriber_id, "survey link")
    return _answer(session, primary, answers, comment, now=now, actor=actor)


def answer_for_subscriber(
    session: Session,
    subscriber_id: int,
    survey_id: int,
    answers: Mapping[int, int | None],
    comment: str = "",
    *,
    now: datetime,
) -> list[Survey]:
    """The portal's answer: the signed-in subscriber answers their own invitation; another
    subscriber's survey is :class:`NotFound`, as if it did not exist."""
    primary = session.scalars(
        select(Survey).where(Survey.id == survey_id).with_for_update()
    ).first()
    if primary is None or primary.subscriber_id != subscriber_id:
        raise NotFound(f"no survey {survey_id}")
    rows = _group(session, primary)
    if rows[0].id != primary.id:
        raise NotFound(f"no survey {survey_id}")
    actor = Actor("subscriber", subscriber_id, "portal")
    return _answer(session, primary, answers, comment, now=now, actor=actor)
