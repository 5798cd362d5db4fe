"""Churn risk: train on the past with a time split, score every subscriber with reasons.

**Labels.** A subscriber in force at a cut-off T (activated, not churned) is a positive when
their ``churned_at`` falls in (T, T + horizon] (:func:`homeport.retention.features.labels`).

**Time split.** With ``now`` and a horizon H (90 days by default), the test cut-off is
``now − H``: its labels (churn up to ``now``) are complete. The training cut-offs are
``now − 2H``, ``now − 2H − step``, … (three by default, a month apart), so every training
label window ends at or before the test cut-off: nothing of the test period is learned. The
held-out ROC AUC and PR AUC go into ``churn_models.metrics``; the stored model is then refit on
the training and test snapshots together (the same recipe, the most recent data).

**Scoring.** :func:`score_all` computes the features of every subscriber in force now in
arrays, scores them with the latest model, and upserts ``churn_scores`` in batches with a band
and the top reasons in words (:mod:`homeport.retention.reasons`).
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import joblib  # type: ignore[import-untyped]
import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.errors import Conflict, NotFound
from homeport.retention import features, model, reasons
from homeport.retention.models import ChurnModel, ChurnScore
from homeport.subscribers.models import Subscriber
from homeport.telemetry.bulk import copy_merge

HORIZON_DAYS = 90
SNAPSHOTS = 3
STEP_DAYS = 30
#: Risk bands: high at or above HIGH, medium at or above MEDIUM.
HIGH = 0.5
MEDIUM = 0.2
BATCH = 20_000
ACTOR = Actor("system", None, "churn model")


@dataclass(frozen=True)
class Plan:
    """The cut-offs of one training run."""

    train: tuple[datetime, ...]
    test: datetime
    horizon: timedelta

    def as_dict(self) -> dict[str, Any]:
        return {
            "train_cutoffs": [t.isoformat() for t in self.train],
            "test_cutoff": self.test.isoformat(),
            "horizon_days": self.horizon.days,
        }


def plan(
    now: datetime,
    *,
    horizon_days: int = HORIZON_DAYS,
    snapshots: int = SNAPSHOTS,
    step_days: int = STEP_DAYS,
) -> Plan:
    """Training cut-offs whose label windows end by the test cut-off ``now − horizon``."""
    if horizon_days < 1 or snapshots < 1 or step_days < 1:
        raise ValueError("horizon, snapshots and step must be at least 1")
    horizon = timedelta(days=horizon_days)
    test = now - horizon
    latest = test - horizon
    train = tuple(latest - timedelta(days=step_days * k) for k in range(snapshots))
    return Plan(tuple(sorted(train)), test, horizon)


@dataclass
class Snapshot:
    frame: features.FeatureFrame
    y: np.ndarray


def snapshot(session: Session, at: datetime, horizon: timedelta) -> Snapshot:
    frame = features.compute(session, at)
    return Snapshot(frame, features.labels(session, frame, horizon))


def _stack(parts: list[Snapshot]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.vstack([p.frame.numeric for p in parts]),
        np.vstack([p.frame.categorical for p in parts]),
        np.concatenate([p.y for p in parts]),
    )


def _fit(x: np.ndarray, cat: np.ndarray, y: np.ndarray) -> model.ChurnPipeline:
    return model.fit(
        x,
        cat,
        y,
        numeric=features.FEATURES,
        logged=(*features.COUNTS, "days_since_app"),
        categorical=features.CATEGORICAL,
    )


def _check(name: str, y: np.ndarray) -> None:
    positives = int(y.sum())
    if len(y) == 0 or positives == 0 or positives == len(y):
        raise Conflict(
            f"not enough history to train: the {name} has {len(y)} subscribers of whom "
            f"{positives} churned; both churned and kept subscribers are needed"
        )


def train(
    session: Session,
    now: datetime,
    *,
    horizon_days: int = HORIZON_DAYS,
    snapshots: int = SNAPSHOTS,
    step_days: int = STEP_DAYS,
    actor: Actor = ACTOR,
) -> ChurnModel:
    """Train on past snapshots, measure on the later period, store the model (refit on all
    snapshots) with its held-out metrics."""
    started = time.perf_counter()
    cuts = plan(now, horizon_days=horizon_days, snapshots=snapshots, step_days=step_days)
    train_parts = [snapshot(session, t, cuts.horizon) for t in cuts.train]
    test_part = snapshot(session, cuts.test, cuts.horizon)
    x, cat, y = _stack(train_parts)
    _check("training period", y)
    _check("test period", test_part.y)
    held_out = _fit(x, cat, y)
    p = held_out.predict(test_part.frame.numeric, test_part.frame.categorical)
    measured = model.metrics(test_part.y, p)
    x_all, cat_all, y_all = _stack([*train_parts, test_part])
    final = _fit(x_all, cat_all, y_all)
    buffer = io.BytesIO()
    joblib.dump(final, buffer, compress=3)
    row = ChurnModel(
        created_at=now,
        trained_until=now,
        kind=model.KIND,
        features=list(final.features),
        metrics={
            **measured.as_dict(),
            "test": "the later period",
            "train_rows": len(y),
            "train_positives": int(y.sum()),
            **cuts.as_dict(),
            "seconds": round(time.perf_counter() - started, 2),
        },
        blob=buffer.getvalue(),
    )
    session.add(row)
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="churn_model.trained",
        entity_type="churn_model",
        entity_id=row.id,
        roc_auc=row.metrics["roc_auc"],
        pr_auc=row.metrics["pr_auc"],
    )
    return row


def latest_model(session: Session) -> ChurnModel | None:
    return session.scalars(
        select(ChurnModel).order_by(ChurnModel.created_at.desc(), ChurnModel.id.desc()).limit(1)
    ).first()


def load_pipeline(row: ChurnModel) -> model.ChurnPipeline:
    fitted = joblib.load(io.BytesIO(row.blob))
    if not isinstance(fitted, model.ChurnPipeline) or fitted.features != (
        *features.FEATURES,
        *features.CATEGORICAL,
    ):
        raise Conflict(f"churn model {row.id} was trained on other features: train it again")
    return fitted


def band(score: np.ndarray, *, high: float = HIGH, medium: float = MEDIUM) -> np.ndarray:
    return np.where(score >= high, "high", np.where(score >= medium, "medium", "low"))


@dataclass
class Scored:
    """The outcome of one scoring run."""

    model_id: int
    scored: int
    bands: dict[str, int] = field(default_factory=dict)
    removed: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


_COLUMNS = ("subscriber_id", "model_id", "score", "band", "reasons", "scored_at")
#: The upsert's conflict clause, on both databases.
_ON_CONFLICT = (
    "ON CONFLICT (subscriber_id) DO UPDATE SET "
    "model_id = excluded.model_id, score = excluded.score, band = excluded.band, "
    "reasons = excluded.reasons, scored_at = excluded.scored_at"
)
_SQLITE_UPSERT = (  # constants only, no user input
    f"INSERT INTO churn_scores ({', '.join(_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?) {_ON_CONFLICT}"  # noqa: S608
)


def _upsert_sqlite(
    session: Session,
    ids: list[int],
    model_id: int,
    scores: list[float],
    bands: list[str],
    said: list[list[str]],
    now: datetime,
    batch: int,
) -> None:
    """SQLite: the driver's executemany of one upsert, values already in stored form (JSON
    text, naive UTC time as :class:`homeport.core.db.UTCDateTime` keeps it)."""
    at = now.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    dumps = json.dumps
    conn = session.connection()
    for start in range(0, len(ids), batch):
        end = min(start + batch, len(ids))
        conn.exec_driver_sql(
            _SQLITE_UPSERT,
            [
                (ids[i], model_id, scores[i], bands[i], dumps(said[i]), at)
                for i in range(start, end)
            ],
        )


def _upsert_copy(
    session: Session,
    ids: list[int],
    model_id: int,
    scores: list[float],
    bands: list[str],
    said: list[list[str]],
    now: datetime,
) -> None:
    """PostgreSQL: COPY the scores into a staging table, then one INSERT … ON CONFLICT
    (:func:`homeport.telemetry.bulk.copy_merge`; an INSERT per row, even batched, costs ten
    times more at a million rows)."""
    dumps = json.dumps
    copy_merge(
        session,
        "churn_scores",
        _COLUMNS,
        ((sid, model_id, scores[i], bands[i], dumps(said[i]), now) for i, sid in enumerate(ids)),
        _ON_CONFLICT,
    )


def score_all(
    session: Session,
    now: datetime,
    *,
    churn_model: ChurnModel | None = None,
    high: float = HIGH,
    medium: float = MEDIUM,
    batch: int = BATCH,
) -> Scored:
    """Score every subscriber in force at ``now`` and upsert ``churn_scores``; scores of
    subscribers who have churned since are removed."""
    if not 0 < medium <= high <= 1:
        raise ValueError("bands need 0 < medium <= high <= 1")
    row = churn_model or latest_model(session)
    if row is None:
        raise NotFound("no churn model yet: run 'homeport retention train' first")
    fitted = load_pipeline(row)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    frame = features.compute(session, now)
    timings["features"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    probability, contributions = fitted.explain(frame.numeric, frame.categorical)
    bands = band(probability, high=high, medium=medium)
    timings["model"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    said = reasons.top_reasons(contributions, frame.numeric, frame.categorical, frame.top_category)
    timings["reasons"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ids = frame.subscriber_ids.tolist()
    scores = np.round(probability, 4).tolist()
    band_list = bands.tolist()
    if session.get_bind().dialect.name == "postgresql":
        _upsert_copy(session, ids, row.id, scores, band_list, said, now)
    else:
        _upsert_sqlite(session, ids, row.id, scores, band_list, said, now, batch)
    gone = session.execute(
        delete(ChurnScore).where(
            ChurnScore.subscriber_id.in_(
                select(Subscriber.id).where(
                    Subscriber.churned_at.is_not(None), Subscriber.churned_at <= now
                )
            )
        )
    )
    timings["write"] = time.perf_counter() - t0
    names, counts = np.unique(bands, return_counts=True)
    return Scored(
        model_id=row.id,
        scored=len(ids),
        bands={str(k): int(v) for k, v in zip(names.tolist(), counts.tolist(), strict=True)},
        removed=int(getattr(gone, "rowcount", 0) or 0),
        seconds={k: round(v, 2) for k, v in timings.items()},
    )
