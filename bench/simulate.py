"""Benchmark: how fast ``homeport simulate`` generates and writes a fleet.

Goal: 100,000 subscribers in under 60 s on SQLite (the demo's database) on a 2-core machine.
Each run writes into a fresh database: an SQLite file in a temporary folder and, when
``HOMEPORT_BENCH_DATABASE_URL`` names a PostgreSQL server, a throw-away database created on it
(and dropped afterwards).

    python bench/simulate.py                      # 10,000 and 100,000 subscribers
    python bench/simulate.py --sizes 2000 --days 30
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from homeport import migrations
from homeport.core.db import Database, normalise_url
from homeport.simulator.fleet import FleetSummary, generate_fleet

GOAL_S = 60.0
GOAL_SUBSCRIBERS = 100_000
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="homeport-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        migrations.upgrade(url)
        yield url


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    name = f"homeport_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = (
        make_url(normalise_url(server_url)).set(database=name).render_as_string(hide_password=False)
    )
    try:
        migrations.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(
    url: str, subscribers: int, seed: int, days: int
) -> tuple[FleetSummary, float, dict[str, float]]:
    db = Database(url)
    marks: dict[str, float] = {}
    started = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        marks[stage] = time.perf_counter() - started

    try:
        summary = generate_fleet(
            db, subscribers=subscribers, seed=seed, now=NOW, days=days, progress=progress
        )
        elapsed = time.perf_counter() - started
    finally:
        db.dispose()
    stages: dict[str, float] = {}
    previous = 0.0
    for stage, at in sorted(marks.items(), key=lambda kv: kv[1]):
        stages[stage] = at - previous
        previous = at
    stages["commit"] = elapsed - previous
    return summary, elapsed, stages


def report(backend: str, summary: FleetSummary, elapsed: float, stages: dict[str, float]) -> None:
    n = summary.subscribers
    budget = GOAL_S * n / GOAL_SUBSCRIBERS
    print(
        f"\n== {backend}: {n:,} subscribers (seed {summary.seed}, {summary.days} days: "
        f"+{summary.signups:,} sign-ups, {summary.churned:,} churned)"
    )
    print(
        f"elapsed {elapsed:.1f} s | {n / elapsed:,.0f} subscribers/s | "
        f"{summary.total_rows:,} rows, {summary.total_rows / elapsed:,.0f} rows/s"
    )
    verdict = "within the goal" if elapsed <= budget else "OVER the goal"
    if backend != "SQLite":
        verdict += ", which is set for SQLite"
    print(
        f"goal: {GOAL_SUBSCRIBERS:,} in {GOAL_S:.0f} s = {budget:.1f} s for this size; "
        f"ratio {elapsed / budget:.2f} ({verdict})"
    )
    print("rows:   " + ", ".join(f"{t} {c:,}" for t, c in summary.counts.items()))
    print("stages: " + ", ".join(f"{s} {t:.1f}s" for s, t in stages.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=0)
    args = parser.parse_args(argv)
    pg_server = os.environ.get("HOMEPORT_BENCH_DATABASE_URL", "")
    pg_note = "yes" if pg_server else "no (set HOMEPORT_BENCH_DATABASE_URL)"
    print(
        f"homeport simulate benchmark: {os.cpu_count()} CPUs, Python "
        f"{sys.version.split()[0]}, PostgreSQL {pg_note}"
    )
    missed = False
    for size in args.sizes:
        with sqlite_database() as url:
            summary, elapsed, stages = run(url, size, args.seed, args.days)
        report("SQLite", summary, elapsed, stages)
        missed |= elapsed > GOAL_S * size / GOAL_SUBSCRIBERS
        if pg_server:
            with postgres_database(pg_server) as url:
                summary, elapsed, stages = run(url, size, args.seed, args.days)
            report("PostgreSQL", summary, elapsed, stages)
    if missed:
        print("\nSQLite missed the goal for at least one size", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
