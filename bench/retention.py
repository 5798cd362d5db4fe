"""Benchmark: churn-risk scoring of 1,000,000 subscribers (issue 7: goal under 60 s).

What it does, per size and backend (SQLite in a temporary folder; PostgreSQL too when
``HOMEPORT_BENCH_DATABASE_URL`` names a server: a throw-away ``homeport_bench_retention``
database, dropped at the end):

1. **Load** (not timed against the goal) with :class:`homeport.simulator.writer.BulkWriter`:
   three plans, two bundles (a third of the subscribers have one), N subscribers (activated
   over five years, 3 % churned in the last 90 days) with a home each, and the signals the
   features read: cases for about a third of the subscribers over 90 days with one inbound
   interaction each, experience scores (four per home in the last 28 days: two in the last
   week, two in the three before; the real hourly history would be 672 rows a home), 5 % of
   homes with an open finding, 3 % with a repair visit, 10 % with an NPS answer, half an
   engagement event per subscriber.
2. **Model**: the features at "now" on the whole fleet and synthetic labels (a logistic of
   contacts, score change and tenure) fitted into a model row, as ``homeport retention train``
   would store it.
3. **Score** (timed): :func:`homeport.retention.churn.score_all` — features for every
   subscriber in force, probabilities, contributions, reasons in words, the upsert of
   ``churn_scores`` in batches — and the commit. Printed per stage, with the ratio to 60 s.

    .venv/bin/python bench/retention.py                      # 100,000 and 1,000,000
    .venv/bin/python bench/retention.py --sizes 100000
    HOMEPORT_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/retention.py
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import joblib  # type: ignore[import-untyped]
import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import Table as SaTable
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from homeport import migrations
from homeport.core.db import Base, Database, normalise_url
from homeport.health.models import ExperienceScore, Finding
from homeport.journey.models import Survey
from homeport.network.models import Home
from homeport.retention import churn, features, model
from homeport.retention.models import ChurnModel
from homeport.selfservice.models import EngagementEvent
from homeport.simulator.writer import BulkWriter, to_datetime64
from homeport.subscribers.models import Bundle, Plan, Subscriber, subscriber_bundles
from homeport.support.models import Case, Interaction, WorkOrder

GOAL_S = 60.0
DATABASE = "homeport_bench_retention"
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
DAY = np.timedelta64(86_400_000_000, "us")
console = Console(highlight=False)


def table(model_cls: type[Base]) -> SaTable:
    t = model_cls.__table__
    assert isinstance(t, SaTable)
    return t


def _ago(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    """``n`` times between ``high`` and ``low`` days before NOW."""
    days = rng.uniform(low, high, n)
    return to_datetime64(NOW) - (days * 86_400_000_000).astype("timedelta64[us]")


def load(db: Database, n: int, seed: int) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1)
    with db.transaction() as session:
        w = BulkWriter(session.connection(), batch_rows=50_000)
        w.ensure_transaction()
        tables = [
            table(m)
            for m in (
                Plan,
                Bundle,
                Subscriber,
                Home,
                Case,
                Interaction,
                ExperienceScore,
                Finding,
                WorkOrder,
                Survey,
                EngagementEvent,
            )
        ] + [subscriber_bundles]
        with w.bulk_load(tables):
            w.insert(
                table(Plan),
                {
                    "id": [1, 2, 3],
                    "code": ["fibre-100", "fibre-500", "fibre-1000"],
                    "name": ["Fibre 100", "Fibre 500", "Gigabit"],
                    "down_mbps": [100, 500, 1000],
                    "up_mbps": [20, 75, 115],
                    "monthly_price": [25.0, 35.0, 49.99],
                    "currency": ["GBP"] * 3,
                    "is_active": [True] * 3,
                },
                stage="plans",
            )
            w.insert(
                table(Bundle),
                {
                    "id": [1, 2],
                    "code": ["mesh", "security"],
                    "name": ["Whole-home Wi-Fi", "Security"],
                    "lifestyle": ["work_from_home", "family_safety"],
                    "description": ["", ""],
                    "monthly_price": [5.0, 3.0],
                },
                stage="bundles",
            )
            activated = _ago(rng, n, 20, 5 * 365)
            churned = rng.random(n) < 0.03
            churned_at = np.where(churned, _ago(rng, n, 0, 90), np.datetime64("NaT", "us"))
            status = np.where(churned, "churned", "active")
            w.insert(
                table(Subscriber),
                {
                    "id": ids,
                    "account_number": [f"B{i:08d}" for i in ids.tolist()],
                    "name": [f"Subscriber {i}" for i in ids.tolist()],
                    "email": [f"s{i}@bench.test" for i in ids.tolist()],
                    "phone": [""] * n,
                    "address": [""] * n,
                    "city": [""] * n,
                    "postcode": [""] * n,
                    "status": status.tolist(),
                    "journey_stage": np.where(churned, "churned", "established").tolist(),
                    "plan_id": rng.integers(1, 4, n),
                    "preferred_channel": ["email"] * n,
                    "consent_email": [True] * n,
                    "consent_sms": [False] * n,
                    "consent_marketing": [False] * n,
                    "consent_updated_at": activated,
                    "activated_at": activated,
                    "churned_at": churned_at,
                    "created_at": activated - 10 * DAY,
                    "updated_at": activated,
                },
                stage="subscribers",
            )
            with_bundle = ids[rng.random(n) < 0.33]
            w.insert(
                subscriber_bundles,
                {
                    "subscriber_id": with_bundle,
                    "bundle_id": rng.integers(1, 3, len(with_bundle)),
                },
                stage="bundles",
            )
            w.insert(
                table(Home),
                {
                    "id": ids,
                    "subscriber_id": ids,
                    "port_id": [None] * n,
                    "technology": rng.choice(["fttp", "fttc", "adsl", "cable"], n).tolist(),
                    "installed_at": activated,
                },
                stage="homes",
            )
            # Cases: a third of the subscribers, 1-4 each over 90 days.
            who = ids[rng.random(n) < 0.33]
            per = rng.integers(1, 5, len(who))
            case_sub = np.repeat(who, per)
            m = len(case_sub)
            opened = _ago(rng, m, 0, 90)
            categories = rng.choice(
                ["slow_speed", "wifi", "no_internet", "billing", "cancel_service"],
                m,
                p=[0.3, 0.25, 0.2, 0.2, 0.05],
            )
            case_ids = np.arange(1, m + 1)
            w.insert(
                table(Case),
                {
                    "id": case_ids,
                    "subscriber_id": case_sub,
                    "contact": [""] * m,
                    "origin": ["reactive"] * m,
                    "channel": ["phone"] * m,
                    "category": categories.tolist(),
                    "priority": ["normal"] * m,
                    "status": ["solved"] * m,
                    "subject": ["Contact"] * m,
                    "description": [""] * m,
                    "resolution_notes": [""] * m,
                    "opened_at": opened,
                    "updated_at": opened,
                    "solved_at": opened + DAY,
                },
                stage="cases",
            )
            w.insert(
                table(Interaction),
                {
                    "id": case_ids,
                    "case_id": case_ids,
                    "channel": ["phone"] * m,
                    "direction": ["inbound"] * m,
                    "author_kind": ["subscriber"] * m,
                    "address": [""] * m,
                    "subject": [""] * m,
                    "body": [""] * m,
                    "body_html": [""] * m,
                    "meta": ["{}"] * m,
                    "started_at": opened,
                },
                stage="interactions",
            )
            # Experience scores: days 1, 4 (last week) and 10, 20 (the three before).
            home_col = np.repeat(ids, 4)
            offsets = np.tile(np.array([1, 4, 10, 20]), n)
            base = np.repeat(rng.uniform(50, 98, n), 4)
            drop = np.repeat(rng.random(n) < 0.1, 4) & (offsets < 7)
            score = np.clip(base - 25 * drop + rng.normal(0, 3, len(home_col)), 0, 100).round(1)
            w.insert(
                table(ExperienceScore),
                {
                    "home_id": home_col,
                    "period_start": to_datetime64(NOW.replace(minute=0)) - offsets * DAY,
                    "score": score,
                    "wan_service": score,
                    "wan_continuity": score,
                    "wifi_coverage": score,
                    "wifi_efficiency": score,
                    "device_health": score,
                    "explanation": ["{}"] * len(home_col),
                },
                stage="experience scores",
            )
            sick = ids[rng.random(n) < 0.05]
            k = len(sick)
            seen = _ago(rng, k, 0, 30)
            w.insert(
                table(Finding),
                {
                    "id": np.arange(1, k + 1),
                    "home_id": sick,
                    "kind": ["wifi_weak_signal"] * k,
                    "subject": [""] * k,
                    "severity": rng.choice(["info", "warning", "critical"], k).tolist(),
                    "status": ["open"] * k,
                    "consecutive_bad": [3] * k,
                    "consecutive_clear": [0] * k,
                    "first_seen_at": seen,
                    "opened_at": seen,
                    "last_seen_at": seen,
                    "summary": [""] * k,
                    "evidence": ["{}"] * k,
                    "remediation": [""] * k,
                },
                stage="findings",
            )
            visited = ids[rng.random(n) < 0.03]
            k = len(visited)
            created = _ago(rng, k, 0, 90)
            w.insert(
                table(WorkOrder),
                {
                    "id": np.arange(1, k + 1),
                    "subscriber_id": visited,
                    "kind": ["repair"] * k,
                    "status": ["completed"] * k,
                    "window_start": created + DAY,
                    "window_end": created + DAY + DAY // 6,
                    "notes": [""] * k,
                    "quality_check": ["{}"] * k,
                    "created_at": created,
                },
                stage="work orders",
            )
            answered = ids[rng.random(n) < 0.10]
            k = len(answered)
            at = _ago(rng, k, 0, 180)
            w.insert(
                table(Survey),
                {
                    "id": np.arange(1, k + 1),
                    "subscriber_id": answered,
                    "kind": ["nps"] * k,
                    "moment": ["relationship"] * k,
                    "channel": ["email"] * k,
                    "sent_at": at - DAY,
                    "expires_at": at + 13 * DAY,
                    "answered_at": at,
                    "score": rng.integers(0, 11, k),
                    "comment": [""] * k,
                },
                stage="surveys",
            )
            k = n // 2
            w.insert(
                table(EngagementEvent),
                {
                    "id": np.arange(1, k + 1),
                    "subscriber_id": rng.integers(1, n + 1, k),
                    "at": _ago(rng, k, 0, 120),
                    "channel": ["app"] * k,
                    "kind": ["page"] * k,
                    "detail": ["{}"] * k,
                },
                stage="engagement",
            )
        w.reset_sequences(tables)
        return dict(w.counts)


def fit_model(db: Database, seed: int) -> tuple[int, float]:
    """A model on the fleet's features now, with synthetic labels; returns (id, seconds)."""
    started = time.perf_counter()
    with db.transaction() as session:
        frame = features.compute(session, NOW)
        f = {name: frame.column(name) for name in features.FEATURES}
        logit = (
            -3.0
            + 0.5 * f["contacts_30d"]
            + 1.5 * f["cancel_requests_90d"]
            - 0.04 * np.nan_to_num(f["score_change"])
            - 0.02 * f["tenure_months"]
        )
        rng = np.random.default_rng(seed)
        y = (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(np.int8)
        sample = rng.choice(len(frame), size=min(len(frame), 200_000), replace=False)
        fitted = churn._fit(frame.numeric[sample], frame.categorical[sample], y[sample])
        buffer = io.BytesIO()
        joblib.dump(fitted, buffer, compress=3)
        row = ChurnModel(
            created_at=NOW,
            trained_until=NOW,
            kind=model.KIND,
            features=list(fitted.features),
            metrics={"bench": True},
            blob=buffer.getvalue(),
        )
        session.add(row)
        session.flush()
        return row.id, time.perf_counter() - started


def measure(url: str, n: int, seed: int) -> dict[str, float]:
    migrations.upgrade(url)
    db = Database(url)
    try:
        t = time.perf_counter()
        counts = load(db, n, seed)
        load_s = time.perf_counter() - t
        console.print(
            f"  loaded in {load_s:.0f} s: "
            + ", ".join(f"{k} {v:,}" for k, v in counts.items() if v > 10)
        )
        if db.dialect == "postgresql":
            with create_engine(db.url, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text("VACUUM (ANALYZE)"))
        else:
            with db.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        _model_id, fit_s = fit_model(db, seed)
        started = time.perf_counter()
        with db.transaction() as session:
            run = churn.score_all(session, NOW)
            t = time.perf_counter()
        commit_s = time.perf_counter() - t
        total = time.perf_counter() - started
        console.print(
            f"  scored {run.scored:,} in {total:.1f} s "
            + ", ".join(f"{k} {v:.1f} s" for k, v in run.seconds.items())
            + f", commit {commit_s:.1f} s (model fitted in {fit_s:.0f} s, not timed)"
        )
        return {
            "scored": run.scored,
            "high": run.bands.get("high", 0),
            "fit_s": fit_s,
            **{f"{k}_s": v for k, v in run.seconds.items()},
            "commit_s": commit_s,
            "total_s": total,
        }
    finally:
        db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args(argv)
    server = os.environ.get("HOMEPORT_BENCH_DATABASE_URL", "")
    results: list[tuple[str, int, dict[str, float]]] = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            console.print(f"[bold]SQLite, {n:,} subscribers[/]")
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            results.append(("SQLite", n, measure(url, n, args.seed)))
        if server and not args.sqlite_only:
            console.print(f"[bold]PostgreSQL, {n:,} subscribers[/]")
            admin = create_engine(normalise_url(server), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
            url = (
                make_url(normalise_url(server))
                .set(database=DATABASE)
                .render_as_string(hide_password=False)
            )
            try:
                results.append(("PostgreSQL", n, measure(url, n, args.seed)))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
                admin.dispose()
    out = Table(title=f"Churn scoring (goal: 1,000,000 subscribers in {GOAL_S:.0f} s)")
    for col in (
        "backend",
        "subscribers",
        "features",
        "model",
        "reasons",
        "write",
        "commit",
        "total",
        "per 1M",
        "ratio to goal",
    ):
        out.add_column(col, justify="right")
    for backend, n, r in results:
        per_million = r["total_s"] * 1_000_000 / n
        out.add_row(
            backend,
            f"{int(r['scored']):,}",
            f"{r['features_s']:.1f} s",
            f"{r['model_s']:.1f} s",
            f"{r['reasons_s']:.1f} s",
            f"{r['write_s']:.1f} s",
            f"{r['commit_s']:.1f} s",
            f"{r['total_s']:.1f} s",
            f"{per_million:.1f} s",
            f"{per_million / GOAL_S:.2f}",
        )
    console.print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
