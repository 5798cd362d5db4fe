"""An experiment run end to end on a simulated fleet, with a known true effect.

The story: when a fault is found on a line, Homeport tells the subscriber before they notice.
Does a friendlier wording of that notice ("Good news: we spotted a problem before you did …")
lower the share who still contact support within 7 days, compared with the plain one?

1. Uses the subscribers in the database, or generates a seeded fleet into an empty one.
2. Creates the experiment (``control`` vs ``friendly``, 50/50, metric ``contacted_7d``) and
   starts it ``days`` ago.
3. Each active subscriber is exposed (gets the notice) at a random moment in the first
   ``days − 7`` days and assigned through :func:`homeport.experiments.assignment.assign` —
   the real, stable hash assignment.
4. Outcomes with a known truth: a subscriber contacts support within 7 days of the notice with
   probability ``base_rate`` in ``control`` and ``base_rate + effect`` in ``friendly``; a
   contact is a real reactive case opened through the support domain
   (:func:`homeport.support.actions.open_case`) at a random moment of the 7 days.
5. The metric is measured from those cases by :func:`homeport.experiments.metrics.observe`
   and the result computed by :func:`homeport.experiments.service.result_of`, exactly as for
   a real experiment.

All randomness comes from ``seed``: the same parameters give the same result.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from homeport.core.db import Database
from homeport.core.errors import FieldError, ValidationFailed
from homeport.experiments import actions, service
from homeport.experiments.assignment import assign
from homeport.experiments.metrics import METRICS
from homeport.simulator.fleet import ACTOR, generate_fleet, stream
from homeport.subscribers.models import Subscriber
from homeport.support import actions as support_actions
from homeport.support.actions import NewInteraction

METRIC = "contacted_7d"
WORDINGS = {
    "control": "We found a fault on your line and are working on it.",
    "friendly": (
        "Good news: we spotted a problem on your line before you did, and we are already "
        "fixing it. No need to call us: we will tell you when it is done."
    ),
}
MAX_RUN_SUBSCRIBERS = 200_000


@dataclass(frozen=True)
class SimulatedExperiment:
    key: str
    seed: int
    subscribers: int
    fleet_generated: bool
    base_rate: float
    true_effect: float
    contacts: int
    result: service.ExperimentResult

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "seed": self.seed,
            "subscribers": self.subscribers,
            "fleet_generated": self.fleet_generated,
            "base_rate": self.base_rate,
            "true_effect": self.true_effect,
            "contacts": self.contacts,
            "result": self.result.as_dict(),
        }


def _check(subscribers: int, days: int, effect: float, base_rate: float) -> None:
    window = METRICS[METRIC].window.days
    problems = []
    if not 2 <= subscribers <= MAX_RUN_SUBSCRIBERS:
        problems.append(FieldError("subscribers", f"2 to {MAX_RUN_SUBSCRIBERS:,}"))
    if not window + 1 <= days <= 365:
        problems.append(
            FieldError("days", f"{window + 1} to 365 (the metric's window is {window})")
        )
    if not 0 <= base_rate <= 1:
        problems.append(FieldError("base_rate", "a share from 0 to 1"))
    elif not 0 <= base_rate + effect <= 1:
        problems.append(FieldError("effect", "base rate + effect must stay within 0 to 1"))
    if problems:
        raise ValidationFailed("invalid experiment simulation", problems)


def run(
    db: Database,
    *,
    subscribers: int,
    days: int,
    effect: float,
    now: datetime,
    seed: int = 7,
    base_rate: float = 0.12,
    key: str | None = None,
) -> SimulatedExperiment:
    """Simulate the notification-wording experiment over the last ``days`` days (see the
    module's text). ``effect`` is the true change of the 7-day contact share in ``friendly``
    (−0.03: three points fewer contact support)."""
    _check(subscribers, days, effect, base_rate)
    start = now - timedelta(days=days)
    window = METRICS[METRIC].window
    key = key or f"notify-wording-s{seed}"
    generated = False
    with db.session() as session:
        existing = session.scalar(select(func.count()).select_from(Subscriber)) or 0
    if not existing:
        generate_fleet(db, subscribers=subscribers, seed=seed, now=start)
        generated = True
    rng = stream(seed, "experiment")
    contacts = 0
    with db.transaction() as session:
        experiment = actions.create_experiment(
            session,
            key=key,
            name="Proactive notice wording: plain vs friendly",
            hypothesis="A friendly proactive notice lowers the share who still contact support "
            "within 7 days.",
            variants=[{"name": "control", "weight": 50}, {"name": "friendly", "weight": 50}],
            metric=METRIC,
            actor=ACTOR,
            now=start,
            salt=hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:32],
        )
        actions.start(session, key, actor=ACTOR, now=start)
        ids = list(
            session.scalars(
                select(Subscriber.id)
                .where(Subscriber.status == "active")
                .order_by(Subscriber.id)
                .limit(subscribers)
            )
        )
        span = (now - window - start).total_seconds()
        exposed = rng.uniform(0, span, size=len(ids))
        delays = rng.uniform(0, window.total_seconds(), size=len(ids))
        draws = rng.random(size=len(ids))
        for i, sid in enumerate(ids):
            at = start + timedelta(seconds=float(exposed[i]))
            variant = assign(session, experiment, sid, at).variant
            p = base_rate + (effect if variant == "friendly" else 0.0)
            if draws[i] < p:
                opened = at + timedelta(seconds=float(delays[i]))
                support_actions.open_case(
                    session,
                    now=opened,
                    actor=ACTOR,
                    channel="phone",
                    subject="Internet problem",
                    subscriber_id=sid,
                    category="no_internet",
                    first=NewInteraction(
                        channel="phone",
                        direction="inbound",
                        author_kind="subscriber",
                        body="Called about the fault we were told about.",
                        started_at=opened,
                    ),
                )
                contacts += 1
        actions.observe(session, key, now=now)
        result = service.result_of(session, experiment)
    return SimulatedExperiment(
        key=key,
        seed=seed,
        subscribers=len(ids),
        fleet_generated=generated,
        base_rate=base_rate,
        true_effect=effect,
        contacts=contacts,
        result=result,
    )
