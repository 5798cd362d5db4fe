"""Writes of experiments: create, start, stop, and measuring the metric (every write audited,
in the caller's transaction).

An experiment moves ``draft → running → stopped``. Its variants and metric are fixed once it
runs (changing them would mix two experiments in one result); subscribers are assigned only
while it runs; a stopped experiment keeps its assignments, observations and result.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.experiments import metrics
from homeport.experiments.assignment import check_variants
from homeport.experiments.models import Experiment

KEY = re.compile(r"^[a-z0-9][a-z0-9-]{1,59}$")
MAX_NAME = 200
MAX_HYPOTHESIS = 4000


def get(session: Session, key: str) -> Experiment:
    experiment = session.scalar(select(Experiment).where(Experiment.key == key))
    if experiment is None:
        raise NotFound(f"no experiment {key!r}")
    return experiment


def create_experiment(
    session: Session,
    *,
    key: str,
    name: str,
    hypothesis: str,
    variants: Sequence[Mapping[str, Any]],
    metric: str,
    actor: Actor,
    now: datetime,
    salt: str | None = None,
) -> Experiment:
    """A draft experiment. ``variants``: ``[{"name": "control", "weight": 50}, {"name":
    "friendly", "weight": 50}]``, the first being the control; ``metric``: one of
    :data:`homeport.experiments.metrics.METRICS`. The assignment's ``salt`` is random unless
    given (the simulator gives one made from its seed, so that its runs repeat)."""
    key = key.strip().lower()
    name = name.strip()
    problems: list[FieldError] = []
    if not KEY.match(key):
        problems.append(
            FieldError("key", "2–60 lower-case letters, digits and '-', starting with one")
        )
    if not name or len(name) > MAX_NAME:
        problems.append(FieldError("name", f"1–{MAX_NAME} characters"))
    if len(hypothesis) > MAX_HYPOTHESIS:
        problems.append(FieldError("hypothesis", f"at most {MAX_HYPOTHESIS} characters"))
    if metric not in metrics.METRICS:
        problems.append(FieldError("metric", f"one of {', '.join(metrics.METRICS)}"))
    try:
        clean = check_variants(variants)
    except ValidationFailed as exc:
        problems += exc.errors
        clean = []
    if salt is not None and not 8 <= len(salt) <= 32:
        problems.append(FieldError("salt", "8 to 32 characters"))
    if problems:
        raise ValidationFailed("invalid experiment", problems)
    if session.scalar(select(Experiment.id).where(Experiment.key == key)) is not None:
        raise Conflict(f"an experiment {key!r} exists already")
    experiment = Experiment(
        key=key,
        name=name,
        hypothesis=hypothesis.strip(),
        variants=clean,
        metric=metric,
        salt=salt or secrets.token_hex(16),
        status="draft",
        created_at=now,
    )
    session.add(experiment)
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="experiment.created",
        entity_type="experiment",
        entity_id=experiment.id,
        key=key,
        variants=clean,
        metric=metric,
    )
    return experiment


def start(session: Session, key: str, *, actor: Actor, now: datetime) -> Experiment:
    """Start assigning subscribers (a draft only)."""
    experiment = get(session, key)
    if experiment.status != "draft":
        raise Conflict(f"experiment {key!r} is {experiment.status}: only a draft can start")
    experiment.status = "running"
    experiment.started_at = now
    record(
        session,
        at=now,
        actor=actor,
        action="experiment.started",
        entity_type="experiment",
        entity_id=experiment.id,
    )
    return experiment


def stop(session: Session, key: str, *, actor: Actor, now: datetime) -> Experiment:
    """Stop assigning subscribers; callers get their default again."""
    experiment = get(session, key)
    if experiment.status != "running":
        raise Conflict(f"experiment {key!r} is {experiment.status}: only a running one stops")
    experiment.status = "stopped"
    experiment.stopped_at = now
    record(
        session,
        at=now,
        actor=actor,
        action="experiment.stopped",
        entity_type="experiment",
        entity_id=experiment.id,
    )
    return experiment


def observe(session: Session, key: str, *, now: datetime) -> metrics.ObserveRun:
    """Measure the metric of the subscribers whose window has passed
    (:func:`homeport.experiments.metrics.observe`)."""
    return metrics.observe(session, get(session, key), now)
