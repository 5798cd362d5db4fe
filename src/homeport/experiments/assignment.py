"""Random and stable assignment of subscribers to an experiment's variants.

A subscriber's position in ``[0, 1)`` is the first 64 bits of ``SHA-256("<salt>:<subscriber
id>")`` divided by 2⁶⁴; the variants' weights cut ``[0, 1)`` into consecutive slices and the
subscriber gets the variant whose slice holds the position. So:

- the same subscriber always gets the same variant of the same experiment (no state needed to
  know it, and it is stored anyway on first exposure, :func:`assign`);
- SHA-256 spreads positions uniformly, so the variants' shares follow the weights;
- each experiment has its own random salt, so assignments of two experiments are independent
  (being in *friendly* in one says nothing about the next one).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.experiments.models import Experiment, ExperimentAssignment
from homeport.subscribers.models import Subscriber

MAX_VARIANTS = 10
MAX_WEIGHT = 10_000
VARIANT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_SCALE = float(2**64)


def position(salt: str, subscriber_id: int) -> float:
    """The subscriber's uniform position in ``[0, 1)`` for this salt."""
    digest = hashlib.sha256(f"{salt}:{subscriber_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def check_variants(variants: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``[{"name": "control", "weight": 50}, …]`` checked and normalised (names lower case,
    weights whole numbers); the first variant is the control. Raises
    :class:`ValidationFailed` with every problem."""
    problems: list[FieldError] = []
    clean: list[dict[str, Any]] = []
    if not 2 <= len(variants) <= MAX_VARIANTS:
        problems.append(FieldError("variants", f"2 to {MAX_VARIANTS} variants"))
    seen: set[str] = set()
    for i, item in enumerate(variants):
        name = str(item.get("name", "")).strip().lower()
        weight = item.get("weight", 1)
        if not VARIANT_NAME.match(name):
            problems.append(
                FieldError(
                    f"variants[{i}].name",
                    "1–40 lower-case letters, digits, '_' or '-', starting with a letter",
                )
            )
        elif name in seen:
            problems.append(FieldError(f"variants[{i}].name", f"{name!r} is given twice"))
        seen.add(name)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight != weight:
            problems.append(FieldError(f"variants[{i}].weight", "a whole number"))
            continue
        if weight != int(weight) or not 1 <= weight <= MAX_WEIGHT:
            problems.append(FieldError(f"variants[{i}].weight", f"a whole number 1–{MAX_WEIGHT}"))
            continue
        clean.append({"name": name, "weight": int(weight)})
    if problems:
        raise ValidationFailed("invalid variants", problems)
    return clean


def choose(variants: Sequence[Mapping[str, Any]], u: float) -> str:
    """The variant whose slice of ``[0, 1)`` (by weight, in order) holds ``u``."""
    total = sum(int(v["weight"]) for v in variants)
    edge = 0
    for v in variants:
        edge += int(v["weight"])
        if u * total < edge:
            return str(v["name"])
    return str(variants[-1]["name"])  # u < 1 always lands above; guards float rounding


def variant_of(experiment: Experiment, subscriber_id: int) -> str:
    """The variant the hash gives this subscriber (whether or not they were exposed yet)."""
    return choose(experiment.variants, position(experiment.salt, subscriber_id))


def assignment_of(
    session: Session, experiment_id: int, subscriber_id: int
) -> ExperimentAssignment | None:
    return session.scalar(
        select(ExperimentAssignment).where(
            ExperimentAssignment.experiment_id == experiment_id,
            ExperimentAssignment.subscriber_id == subscriber_id,
        )
    )


def assign(
    session: Session, experiment: Experiment, subscriber_id: int, now: datetime
) -> ExperimentAssignment:
    """Record the subscriber's first exposure to a running experiment (their variant and when),
    or return the stored assignment. A concurrent first exposure of the same subscriber keeps
    one row (the unique constraint, inside a savepoint)."""
    existing = assignment_of(session, experiment.id, subscriber_id)
    if existing is not None:
        return existing
    if experiment.status != "running":
        raise Conflict(f"experiment {experiment.key!r} is {experiment.status}, not running")
    if session.scalar(select(Subscriber.id).where(Subscriber.id == subscriber_id)) is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    row = ExperimentAssignment(
        experiment_id=experiment.id,
        subscriber_id=subscriber_id,
        variant=variant_of(experiment, subscriber_id),
        assigned_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        stored = assignment_of(session, experiment.id, subscriber_id)
        if stored is None:  # pragma: no cover - the conflict was something else
            raise
        return stored
    return row


def variant_for(session: Session, key: str, subscriber_id: int, now: datetime) -> str | None:
    """For callers (a notification's wording, an offer, a self-service flow): the subscriber's
    variant of the running experiment ``key``, assigned on this first exposure; ``None`` when
    there is no such running experiment (the caller then does what it did before). A
    subscriber assigned before the experiment stopped keeps nothing: after the stop everyone
    gets the caller's default."""
    experiment = session.scalar(select(Experiment).where(Experiment.key == key))
    if experiment is None or experiment.status != "running":
        return None
    return assign(session, experiment, subscriber_id, now).variant


def parse_variants(text: str) -> list[dict[str, Any]]:
    """``"control:50, friendly:50"`` (commas or new lines; a missing weight is 1) as the list
    :func:`check_variants` takes; a weight that is not a number is passed on as written so
    that the check names it."""
    variants: list[dict[str, Any]] = []
    for part in re.split(r"[,\n]", text):
        part = part.strip()
        if not part:
            continue
        name, _, weight = part.partition(":")
        raw = weight.strip()
        value: Any = int(raw) if raw.isdigit() else (raw or 1)
        variants.append({"name": name.strip(), "weight": value})
    return variants
