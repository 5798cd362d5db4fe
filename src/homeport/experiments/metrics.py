"""The metrics an experiment can compare, computed from the other domains' data for each
assigned subscriber over a window that starts at their assignment.

=====================  ==========  ======  ==================================================
metric                 kind        window  1 (or the value) when, from the assignment on …
=====================  ==========  ======  ==================================================
``contacted_7d``       binary      7 d     they opened a reactive case (any channel)
``churned_90d``        binary      90 d    they churned (``subscribers.churned_at``)
``offer_accepted``     binary      30 d    they answered a campaign "interested" or accepted
                                           a bundle recommendation
``csat``               continuous  30 d    the mean of their CSAT answers (1–5); no answer:
                                           no observation
``portal_active_30d``  binary      30 d    they used the portal, app or bot (engagement)
=====================  ==========  ======  ==================================================

A subscriber is observed once, when their window has fully passed (``assigned_at + window <=
now``), so that early and late assignments are measured over the same length of time; the value
is stored in ``experiment_observations`` and never recomputed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Executable, insert, select
from sqlalchemy.orm import Session

from homeport.core.writes import chunks
from homeport.experiments.models import (
    CampaignDelivery,
    Experiment,
    ExperimentAssignment,
    ExperimentObservation,
)
from homeport.experiments.stats import BINARY, CONTINUOUS
from homeport.journey.models import Survey
from homeport.retention.models import Recommendation
from homeport.selfservice.models import EngagementEvent
from homeport.subscribers.models import Subscriber
from homeport.support.models import Case

#: Subscribers looked up per query.
CHUNK = 500

#: (subscriber id, assigned at) of the subscribers to measure.
Pending = Sequence[tuple[int, datetime]]
Compute = Callable[[Session, Pending, timedelta], dict[int, float]]


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str
    window: timedelta
    #: How the verdict names it: "friendly lowers <label> by 3.1 points".
    label: str
    lower_is_better: bool
    description: str
    compute: Compute


def _times(
    session: Session, pending: Pending, query: Callable[[list[int]], Executable]
) -> dict[int, list[datetime]]:
    """The moments of each subscriber's events (``query(ids)`` selects ``(subscriber_id,
    at)`` rows for those subscribers) between the earliest assignment and the latest one's
    window end."""
    found: dict[int, list[datetime]] = defaultdict(list)
    for chunk in chunks(sorted({sid for sid, _ in pending}), CHUNK):
        for sid, at in session.execute(query(chunk)):
            if at is not None:
                found[int(sid)].append(at)
    return found


def _any_within(
    pending: Pending, window: timedelta, times: dict[int, list[datetime]]
) -> dict[int, float]:
    return {
        sid: float(any(start <= at < start + window for at in times.get(sid, ())))
        for sid, start in pending
    }


def _span(pending: Pending, window: timedelta) -> tuple[datetime, datetime]:
    starts = [at for _, at in pending]
    return min(starts), max(starts) + window


def _contacted(session: Session, pending: Pending, window: timedelta) -> dict[int, float]:
    low, high = _span(pending, window)
    times = _times(
        session,
        pending,
        lambda ids: select(Case.subscriber_id, Case.opened_at).where(
            Case.subscriber_id.in_(ids),
            Case.origin == "reactive",
            Case.opened_at >= low,
            Case.opened_at < high,
        ),
    )
    return _any_within(pending, window, times)


def _churned(session: Session, pending: Pending, window: timedelta) -> dict[int, float]:
    times = _times(
        session,
        pending,
        lambda ids: select(Subscriber.id, Subscriber.churned_at).where(
            Subscriber.id.in_(ids), Subscriber.churned_at.is_not(None)
        ),
    )
    return _any_within(pending, window, times)


def _offer_accepted(session: Session, pending: Pending, window: timedelta) -> dict[int, float]:
    low, high = _span(pending, window)
    responses = _times(
        session,
        pending,
        lambda ids: select(CampaignDelivery.subscriber_id, CampaignDelivery.responded_at).where(
            CampaignDelivery.subscriber_id.in_(ids),
            CampaignDelivery.response == "interested",
            CampaignDelivery.responded_at >= low,
            CampaignDelivery.responded_at < high,
        ),
    )
    accepted = _times(
        session,
        pending,
        lambda ids: select(Recommendation.subscriber_id, Recommendation.decided_at).where(
            Recommendation.subscriber_id.in_(ids),
            Recommendation.status == "accepted",
            Recommendation.decided_at >= low,
            Recommendation.decided_at < high,
        ),
    )
    merged = {sid: responses.get(sid, []) + accepted.get(sid, []) for sid, _ in pending}
    return _any_within(pending, window, merged)


def _csat(session: Session, pending: Pending, window: timedelta) -> dict[int, float]:
    low, high = _span(pending, window)
    answers: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for chunk in chunks(sorted({sid for sid, _ in pending}), CHUNK):
        rows = session.execute(
            select(Survey.subscriber_id, Survey.answered_at, Survey.score).where(
                Survey.subscriber_id.in_(chunk),
                Survey.kind == "csat",
                Survey.score.is_not(None),
                Survey.answered_at >= low,
                Survey.answered_at < high,
            )
        )
        for sid, at, score in rows:
            if at is not None and score is not None:
                answers[int(sid)].append((at, int(score)))
    values: dict[int, float] = {}
    for sid, start in pending:
        scores = [s for at, s in answers.get(sid, ()) if start <= at < start + window]
        if scores:
            values[sid] = sum(scores) / len(scores)
    return values


def _portal_active(session: Session, pending: Pending, window: timedelta) -> dict[int, float]:
    low, high = _span(pending, window)
    times = _times(
        session,
        pending,
        lambda ids: select(EngagementEvent.subscriber_id, EngagementEvent.at).where(
            EngagementEvent.subscriber_id.in_(ids),
            EngagementEvent.at >= low,
            EngagementEvent.at < high,
        ),
    )
    return _any_within(pending, window, times)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "contacted_7d",
            BINARY,
            timedelta(days=7),
            "the share who contacted support within 7 days",
            True,
            "Opened a reactive case (any channel) within 7 days of assignment.",
            _contacted,
        ),
        Metric(
            "churned_90d",
            BINARY,
            timedelta(days=90),
            "the share who churned within 90 days",
            True,
            "Churned (cancelled) within 90 days of assignment.",
            _churned,
        ),
        Metric(
            "offer_accepted",
            BINARY,
            timedelta(days=30),
            "the share who accepted an offer within 30 days",
            False,
            "Answered a campaign 'interested' or accepted a bundle recommendation within 30 "
            "days of assignment.",
            _offer_accepted,
        ),
        Metric(
            "csat",
            CONTINUOUS,
            timedelta(days=30),
            "the mean CSAT score (1–5)",
            False,
            "Mean of the CSAT answers (1–5) given within 30 days of assignment; subscribers "
            "who did not answer are not counted.",
            _csat,
        ),
        Metric(
            "portal_active_30d",
            BINARY,
            timedelta(days=30),
            "the share who used the portal, app or bot within 30 days",
            False,
            "Used the portal, app or chatbot (an engagement event) within 30 days of assignment.",
            _portal_active,
        ),
    )
}


def metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}; one of {', '.join(METRICS)}") from None


@dataclass(frozen=True)
class ObserveRun:
    #: Observations written now.
    observed: int
    #: Assigned subscribers whose window has not passed yet.
    waiting: int
    #: Window passed but nothing to measure (a CSAT nobody answered).
    no_value: int


def observe(session: Session, experiment: Experiment, now: datetime) -> ObserveRun:
    """Measure the experiment's metric for every assigned subscriber whose window has passed
    and who has no observation yet; store the values (in the caller's transaction)."""
    m = metric(experiment.metric)
    observed = select(ExperimentObservation.subscriber_id).where(
        ExperimentObservation.experiment_id == experiment.id
    )
    rows = session.execute(
        select(ExperimentAssignment.subscriber_id, ExperimentAssignment.assigned_at).where(
            ExperimentAssignment.experiment_id == experiment.id,
            ExperimentAssignment.subscriber_id.not_in(observed),
        )
    ).all()
    due = [(int(sid), at) for sid, at in rows if at + m.window <= now]
    if not due:
        return ObserveRun(0, len(rows), 0)
    values = m.compute(session, due, m.window)
    records = [
        {
            "experiment_id": experiment.id,
            "subscriber_id": sid,
            "value": values[sid],
            "observed_at": now,
        }
        for sid, _ in due
        if sid in values
    ]
    if records:
        session.execute(insert(ExperimentObservation), records)
    return ObserveRun(len(records), len(rows) - len(due), len(due) - len(records))
