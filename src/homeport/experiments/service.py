"""Reads of experiments: the list, and an experiment's result — per variant the subscribers
assigned and observed and the metric's mean, and each treatment variant against the control
with its confidence interval, p-value, relative lift and plain verdict.

With more than one treatment variant, each is compared with the control at ``alpha / (number
of treatments)`` (Bonferroni), so that the chance of any false "better" stays at ``alpha``; the
intervals are widened to match (98.3 % each for three treatments).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from homeport.experiments import metrics, stats
from homeport.experiments.actions import get
from homeport.experiments.models import (
    Experiment,
    ExperimentAssignment,
    ExperimentObservation,
)


def list_experiments(session: Session) -> list[Experiment]:
    return list(
        session.scalars(select(Experiment).order_by(Experiment.created_at.desc(), Experiment.id))
    )


def assigned_counts(session: Session, experiment_id: int) -> dict[str, int]:
    rows = session.execute(
        select(ExperimentAssignment.variant, func.count())
        .where(ExperimentAssignment.experiment_id == experiment_id)
        .group_by(ExperimentAssignment.variant)
    )
    return {str(v): int(n) for v, n in rows}


@dataclass(frozen=True)
class VariantSummary:
    name: str
    weight: int
    assigned: int
    observed: int
    mean: float | None
    sd: float | None


@dataclass(frozen=True)
class Outcome:
    comparison: stats.Comparison | None
    verdict: stats.Verdict
    treatment: str


@dataclass
class ExperimentResult:
    experiment: Experiment
    metric: metrics.Metric
    variants: list[VariantSummary]
    outcomes: list[Outcome] = field(default_factory=list)
    alpha: float = stats.DEFAULT_ALPHA

    @property
    def control(self) -> str:
        return self.variants[0].name

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (API, CLI ``--json``)."""
        e = self.experiment

        def when(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        def comparison(c: stats.Comparison | None) -> dict[str, Any] | None:
            if c is None:
                return None
            return {
                "control_mean": c.control_mean,
                "treatment_mean": c.treatment_mean,
                "difference": c.difference,
                "ci_low": c.ci_low,
                "ci_high": c.ci_high,
                "confidence": c.confidence,
                "p_value": c.p_value,
                "statistic": c.statistic,
                "se": c.se,
                "df": c.df,
                "wald_low": c.wald_low,
                "wald_high": c.wald_high,
                "relative_lift": c.relative_lift,
                "method": "newcombe-wilson, two-proportion z-test"
                if c.kind == stats.BINARY
                else "welch t-test",
            }

        return {
            "key": e.key,
            "name": e.name,
            "hypothesis": e.hypothesis,
            "status": e.status,
            "started_at": when(e.started_at),
            "stopped_at": when(e.stopped_at),
            "metric": {
                "name": self.metric.name,
                "kind": self.metric.kind,
                "window_days": self.metric.window.days,
                "lower_is_better": self.metric.lower_is_better,
                "description": self.metric.description,
            },
            "alpha": self.alpha,
            "control": self.control,
            "variants": [
                {
                    "name": v.name,
                    "weight": v.weight,
                    "assigned": v.assigned,
                    "observed": v.observed,
                    "mean": v.mean,
                    "sd": v.sd,
                }
                for v in self.variants
            ],
            "comparisons": [
                {
                    "treatment": o.treatment,
                    "control": self.control,
                    **(comparison(o.comparison) or {}),
                    "verdict": o.verdict.status,
                    "verdict_text": o.verdict.text,
                    "needed_per_variant": o.verdict.needed_per_variant,
                    "more_per_variant": o.verdict.more_per_variant,
                }
                for o in self.outcomes
            ],
        }


def _values(session: Session, experiment_id: int) -> dict[str, np.ndarray]:
    rows = session.execute(
        select(ExperimentAssignment.variant, ExperimentObservation.value)
        .join(
            ExperimentObservation,
            (ExperimentObservation.experiment_id == ExperimentAssignment.experiment_id)
            & (ExperimentObservation.subscriber_id == ExperimentAssignment.subscriber_id),
        )
        .where(ExperimentAssignment.experiment_id == experiment_id)
    ).all()
    grouped: dict[str, list[float]] = {}
    for variant, value in rows:
        grouped.setdefault(str(variant), []).append(float(value))
    return {k: np.asarray(v, dtype=float) for k, v in grouped.items()}


def result_of(
    session: Session, experiment: Experiment, *, alpha: float = stats.DEFAULT_ALPHA
) -> ExperimentResult:
    m = metrics.metric(experiment.metric)
    counts = assigned_counts(session, experiment.id)
    values = _values(session, experiment.id)
    empty = np.asarray([], dtype=float)
    summaries = []
    for v in experiment.variants:
        name = str(v["name"])
        observed = values.get(name, empty)
        summaries.append(
            VariantSummary(
                name=name,
                weight=int(v["weight"]),
                assigned=counts.get(name, 0),
                observed=int(observed.size),
                mean=float(observed.mean()) if observed.size else None,
                sd=float(observed.std(ddof=1)) if observed.size > 1 else None,
            )
        )
    result = ExperimentResult(experiment, m, summaries, alpha=alpha)
    treatments = summaries[1:]
    each_alpha = alpha / max(1, len(treatments))
    control = summaries[0]
    for t in treatments:
        c_values = values.get(control.name, empty)
        t_values = values.get(t.name, empty)
        smallest = min(c_values.size, t_values.size)
        if smallest < stats.MIN_PER_VARIANT:
            text = (
                f"not enough data yet: {c_values.size} subscribers observed in {control.name} "
                f"and {t_values.size} in {t.name}; a comparison needs at least "
                f"{stats.MIN_PER_VARIANT} in each"
            )
            verdict = stats.Verdict(
                "insufficient_data", text, more_per_variant=stats.MIN_PER_VARIANT - smallest
            )
            result.outcomes.append(Outcome(None, verdict, t.name))
            continue
        comparison = stats.compare_samples(
            c_values,
            t_values,
            kind=m.kind,
            confidence=1 - each_alpha,
            control=control.name,
            treatment=t.name,
        )
        verdict = stats.verdict(
            comparison,
            metric_label=m.label,
            lower_is_better=m.lower_is_better,
            alpha=each_alpha,
        )
        result.outcomes.append(Outcome(comparison, verdict, t.name))
    return result


def result(session: Session, key: str, *, alpha: float = stats.DEFAULT_ALPHA) -> ExperimentResult:
    return result_of(session, get(session, key), alpha=alpha)
