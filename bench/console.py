"""Benchmark: the agent console's subscriber 360, queue view and case search under 50 users.

Goal (issue 4): on PostgreSQL with 100,000 subscribers, 1,000,000 cases and 5,000,000
interactions, **p99 under 150 ms** for the subscriber 360 and the queue view with 50 agents
working at once.

What it does:

1. **Load** a throw-away database (``homeport_bench_console`` on the server that
   ``HOMEPORT_BENCH_DATABASE_URL`` names; dropped at the end unless ``--keep``): the migrations,
   the simulator's fleet (:func:`homeport.simulator.fleet.generate_fleet`: plans, bundles,
   topology, subscribers, homes, gateways, client devices), 10 teams with one queue each, 200
   agents with their routing profiles, SLA policies, then cases, interactions and tags with
   ``COPY`` (:class:`homeport.simulator.writer.BulkWriter`). Cases are skewed over subscribers
   (a gamma-weighted draw: most have a few, some dozens), spread over two years, mostly solved
   or closed with about 2 % live; interactions average five a case across the case's channel and
   a few others, with bodies built from real-sounding sentences. The secondary indexes of the
   support tables are dropped for the load and rebuilt afterwards (as ``pg_restore`` does), and
   foreign-key triggers are skipped for the load (``session_replication_role = replica``, the
   rows are generated consistent); then ``VACUUM ANALYZE``. The hourly experience scores of
   the last week are loaded for the homes the bench will open (all 100,000 homes would be 17
   million rows), so the 360's history chart has data.
2. **Serve** the real app (:func:`homeport.web.app.create_app`) with uvicorn in a subprocess,
   ``--workers`` processes (2 by default: the machine's two cores).
3. **Drive** it from this process with ``--users`` concurrent agents (httpx, one client and
   one signed-in session each, signed in through ``POST /login``), one endpoint at a time for
   ``--seconds``, each agent waiting ``--think`` seconds on average (exponential) between
   requests (``--think 0``: back-to-back, the saturation figure). Per endpoint it prints p50,
   p95, p99, max, throughput, errors and the ratio of p99 to the 150 ms goal.
4. **Explain**: the statements the support service runs for each endpoint, timed in this
   process, and ``EXPLAIN (ANALYZE, BUFFERS)`` of the slowest (``--plans FILE`` keeps them all).

The endpoints are the agent console's: the case page with the subscriber 360
(``/console/cases/{id}``, a live case), the queue (``/console``: the team's live cases, mine,
new unassigned), the counters it polls every 5 s (``/console/poll``) and its ``?q=`` search.

    python bench/console.py                      # full size (about 10 minutes to load)
    python bench/console.py --scale 0.01 --seconds 15
    python bench/console.py --keep               # keep the database ...
    python bench/console.py --reuse              # ... and measure it again without loading
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import os
import random
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Table as SaTable
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from starlette.datastructures import QueryParams

from homeport import migrations
from homeport.core.db import Base, Database, normalise_url
from homeport.health.models import ExperienceScore
from homeport.identity.models import StaffUser, Team
from homeport.identity.passwords import hash_password
from homeport.journey.models import Survey
from homeport.journey.surveys import MOMENTS, SCALES
from homeport.simulator.fleet import generate_fleet
from homeport.simulator.writer import BulkWriter
from homeport.support import console as reads
from homeport.support import service
from homeport.support.models import (
    AgentProfile,
    Case,
    CaseTag,
    Interaction,
    SlaPolicy,
    SupportQueue,
)
from homeport.web.views.console import QueueQuery

#: The load's "now" (this hour), so that the server's clock sees live cases and a fresh score
#: history.
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
GOAL_P99_MS = 150.0
DATABASE = "homeport_bench_console"
SUBSCRIBERS, CASES, INTERACTIONS_PER_CASE = 100_000, 1_000_000, 5.0
TEAMS, AGENTS = 10, 200
PASSWORD = "bench-console-password"  # noqa: S105 - a throw-away database's agents
SECRET = "bench-console-secret-key-not-for-production"  # noqa: S105
CASE_CHUNK = 50_000
YEARS = 2

console = Console(highlight=False, width=None if sys.stdout.isatty() else 130)

# --------------------------------------------------------------------------------------------
# What the cases look like

#: (category, share, subjects, the team that takes it)
CATEGORIES: list[tuple[str, float, tuple[str, ...]]] = [
    (
        "connectivity",
        0.22,
        (
            "Internet keeps dropping",
            "No internet since this morning",
            "Connection drops every evening",
            "Broadband down again",
            "Lost connection after the storm",
        ),
    ),
    (
        "wifi",
        0.18,
        (
            "Wi-Fi does not reach the bedroom",
            "Wi-Fi slow upstairs",
            "Devices keep disconnecting from Wi-Fi",
            "Mesh satellite not working",
            "Cannot connect the printer to Wi-Fi",
        ),
    ),
    (
        "speed",
        0.14,
        (
            "Speed much lower than my plan",
            "Slow speeds in the evening",
            "Speed test shows 20 Mbps",
            "Upload speed very slow",
            "Gaming lag and high ping",
        ),
    ),
    (
        "billing",
        0.14,
        (
            "Charged twice this month",
            "Question about my bill",
            "Refund for the outage",
            "Direct debit failed",
            "Price rise letter",
        ),
    ),
    (
        "installation",
        0.07,
        (
            "Engineer did not turn up",
            "Rearrange my installation",
            "ONT installed in the wrong room",
            "Installation date",
        ),
    ),
    ("outage", 0.06, ("Is there an outage in my area?", "Area outage", "Whole street down")),
    (
        "equipment",
        0.07,
        (
            "Router lights flashing red",
            "Replacement router",
            "Router overheating",
            "Return old equipment",
        ),
    ),
    (
        "account",
        0.06,
        ("Change my email address", "Add a second account holder", "Reset portal password"),
    ),
    ("moving", 0.04, ("Moving house next month", "Transfer service to new address")),
    ("other", 0.02, ("General enquiry", "Complaint", "Feedback on your service")),
]
CATEGORY_NAMES = [c[0] for c in CATEGORIES]
CATEGORY_P = np.array([c[1] for c in CATEGORIES]) / sum(c[1] for c in CATEGORIES)
CHANNELS = ("phone", "email", "live_chat", "async_chat", "app", "sms", "chatbot")
CHANNEL_P = np.array([0.36, 0.26, 0.15, 0.05, 0.08, 0.04, 0.06])
PRIORITIES = ("low", "normal", "high", "urgent")
PRIORITY_P = np.array([0.15, 0.65, 0.15, 0.05])
LIVE = ("new", "open", "pending_subscriber", "pending_field")
LIVE_P = np.array([0.2, 0.45, 0.2, 0.15])
OUTCOMES = ("self_service", "remote_fix", "truck_roll", "no_fault_found", "duplicate")
OUTCOME_P = np.array([0.25, 0.4, 0.12, 0.2, 0.03])
TAGS = (
    "vip",
    "repeat-contact",
    "complaint",
    "vulnerable",
    "escalated",
    "callback",
    "wifi-extender",
    "fttp",
    "fttc",
    "refund",
    "goodwill",
    "ofcom",
    "new-customer",
    "retention",
    "engineer-visit",
    "billing-error",
    "outage-2026",
    "mesh",
    "router-swap",
    "speed-guarantee",
)

INBOUND = (
    "Hi, my internet has been dropping out several times a day since {day}.",
    "The Wi-Fi is really slow in the {room}, it's fine next to the router.",
    "I've restarted the router {n} times and it still isn't working.",
    "The lights on the router are flashing {colour}, what does that mean?",
    "I'm paying for {speed} Mbps but I only get about {low} Mbps on a speed test.",
    "My {device} keeps disconnecting, the other devices seem fine.",
    "I was charged £{amount} on my last bill, I think that is wrong.",
    "Could you tell me when the engineer will arrive? Reference {ref}.",
    "Is there a problem in my area? My neighbours have no broadband either.",
    "I work from home and the video calls keep freezing in the afternoon.",
    "Can I get a refund for the days the service was down?",
    "I'm moving to {town} next month and want to take my broadband with me.",
    "The password for the portal doesn't work any more.",
    "The mesh satellite in the {room} shows an orange light.",
    "Thanks, that fixed it!",
    "It's still not working after what you suggested.",
    "My kids can't play online games, the ping is over {ping} ms.",
    "Please call me back on my mobile, I'm free after {hour}pm.",
)
OUTBOUND = (
    "Thanks for getting in touch. I've checked your line and it looks {state} from here.",
    "I can see your router restarted {n} times in the last day; I've sent a remote reboot.",
    "I've moved your 2.4 GHz Wi-Fi to channel {channel}, which is less crowded.",
    "Could you try the speed test again with a cable plugged into the router?",
    "I've booked an engineer visit for {day} between {hour}am and {hour2}pm.",
    "I've applied a credit of £{amount} to your account as a goodwill gesture.",
    "There is a known outage in your area; we expect it to be fixed by {hour}pm.",
    "Your {device} is connected on 2.4 GHz with a weak signal; a mesh satellite would help.",
    "I've reset your portal password; you'll get an email with a link shortly.",
    "Your move to {town} is booked, the service will switch over on {day}.",
    "Is everything working well now? If so I'll close this case.",
    "I'm sorry about the trouble; I've raised it with our network team (ref {ref}).",
)
INTERNAL = (
    "Line test passed, optical level {optical} dBm.",
    "Customer vulnerable, call before visiting.",
    "Second contact this week about the same problem.",
    "Checked the port: {n} other homes on the same splitter reporting errors.",
    "Escalated to network operations.",
    "Goodwill credit approved by supervisor.",
)
ROOMS = ("bedroom", "kitchen", "loft", "garden office", "living room", "conservatory")
DEVICES = ("laptop", "smart TV", "iPad", "PlayStation", "work laptop", "printer", "doorbell")
TOWNS = ("Leeds", "Bristol", "Norwich", "Cardiff", "York", "Derby", "Bath", "Exeter")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "yesterday")

#: ``?q=`` search terms for the search endpoint, from common to rare in the bodies/subjects.
SEARCH_TERMS = ("router", "refund", "engineer", "mesh satellite", "PlayStation", "Norwich")


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        day=rng.choice(DAYS),
        room=rng.choice(ROOMS),
        n=rng.randrange(2, 9),
        colour=rng.choice(("red", "orange", "white", "blue")),
        speed=rng.choice((80, 150, 500, 900)),
        low=rng.randrange(5, 60),
        device=rng.choice(DEVICES),
        amount=f"{rng.randrange(5, 120)}.{rng.randrange(100):02d}",
        ref=f"R{rng.randrange(100_000, 999_999)}",
        town=rng.choice(TOWNS),
        ping=rng.randrange(80, 400),
        hour=rng.randrange(1, 6),
        hour2=rng.randrange(1, 6),
        state=rng.choice(("healthy", "unstable", "fine")),
        channel=rng.choice((1, 6, 11)),
        optical=f"-{rng.randrange(14, 27)}.{rng.randrange(10)}",
    )


def body_pool(templates: Sequence[str], size: int, seed: int, sentences: tuple[int, int]) -> Any:
    """``size`` message bodies of 1..n filled-in sentences (a numpy object array)."""
    rng = random.Random(seed)
    out = [
        " ".join(_fill(rng.choice(templates), rng) for _ in range(rng.randint(*sentences)))
        for _ in range(size)
    ]
    return np.array(out, dtype=object)


# --------------------------------------------------------------------------------------------
# The database


@dataclass
class Sizes:
    subscribers: int
    cases: int
    agents: int
    teams: int

    @classmethod
    def of(cls, scale: float) -> Sizes:
        return cls(
            subscribers=max(200, int(SUBSCRIBERS * scale)),
            cases=max(2_000, int(CASES * scale)),
            agents=AGENTS,
            teams=TEAMS,
        )


def database_url(server_url: str, name: str) -> str:
    return make_url(normalise_url(server_url)).set(database=name).render_as_string(False)


def admin_engine(server_url: str) -> Engine:
    return create_engine(normalise_url(server_url), isolation_level="AUTOCOMMIT")


def database_exists(server_url: str, name: str) -> bool:
    admin = admin_engine(server_url)
    try:
        with admin.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            return found is not None
    finally:
        admin.dispose()


def recreate_database(server_url: str, name: str) -> None:
    admin = admin_engine(server_url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def drop_database(server_url: str, name: str) -> None:
    admin = admin_engine(server_url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextlib.contextmanager
def stage_progress() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar per stage; yields ``progress(stage, done, total)``."""
    with Progress(
        TextColumn("  {task.description:<24}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed:>12,.0f} / {task.total:,.0f}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        yield progress


def support_indexes(conn: Connection, tables: Sequence[str]) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the secondary, non-unique indexes of ``tables``."""
    rows = conn.execute(
        text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "JOIN pg_class c ON c.relname = i.indexname "
            "JOIN pg_index x ON x.indexrelid = c.oid "
            "WHERE i.tablename = ANY(:t) AND NOT x.indisunique AND NOT x.indisprimary"
        ),
        {"t": list(tables)},
    ).all()
    return [(r[0], r[1]) for r in rows]


@dataclass
class Loaded:
    """What the load made that the measurement needs."""

    agents: list[tuple[int, str, int]] = field(default_factory=list)  # (id, email, team id)
    queues: dict[int, int] = field(default_factory=dict)  # team id -> queue id
    counts: dict[str, int] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)


def load_staff(db: Database, sizes: Sizes) -> None:
    """Teams, a queue per team, agents with routing profiles, SLA policies."""
    pw_hash = hash_password(PASSWORD)  # one hash for every agent: argon2 is slow on purpose
    with db.transaction() as session:
        writer = BulkWriter(session.connection())
        writer.insert_rows(
            table(Team),
            [
                {
                    "id": t,
                    "name": f"Support {CATEGORY_NAMES[t - 1]}",
                    "kind": "support",
                    "created_at": NOW - timedelta(days=800),
                }
                for t in range(1, sizes.teams + 1)
            ],
            stage="teams",
        )
        writer.insert_rows(
            table(StaffUser),
            [
                {
                    "id": a,
                    "email": f"agent{a}@bench.example",
                    "name": f"Agent {a}",
                    "role": "agent",
                    "password_hash": pw_hash,
                    "is_active": True,
                    "team_id": team_of_agent(a, sizes),
                    "created_at": NOW - timedelta(days=800),
                }
                for a in range(1, sizes.agents + 1)
            ],
            stage="agents",
        )
        writer.insert_rows(
            table(AgentProfile),
            [
                {
                    "staff_user_id": a,
                    "skills": CATEGORY_NAMES[team_of_agent(a, sizes) - 1],
                    "capacity": 8,
                    "available": a % 5 != 0,
                    "updated_at": NOW,
                }
                for a in range(1, sizes.agents + 1)
            ],
            stage="agent profiles",
        )
        writer.insert_rows(
            table(SupportQueue),
            [
                {
                    "id": t,
                    "name": f"{CATEGORY_NAMES[t - 1].title()} queue",
                    "team_id": t,
                    "categories": CATEGORY_NAMES[t - 1],
                    "channels": "",
                    "skill": CATEGORY_NAMES[t - 1],
                    "strategy": "least_loaded",
                    "rank": 100 if t == sizes.teams else t,
                    "is_default": t == sizes.teams,
                    "created_at": NOW - timedelta(days=800),
                }
                for t in range(1, sizes.teams + 1)
            ],
            stage="queues",
        )
        writer.insert_rows(
            table(SlaPolicy),
            [
                {
                    "id": i + 1,
                    "name": f"{p.title()} priority",
                    "priority": p,
                    "plan_id": None,
                    "first_response_s": fr,
                    "resolution_s": rs,
                    "business_hours": "mon-fri 08:00-20:00; sat 09:00-13:00",
                    "timezone": "Europe/London",
                    "warn_fraction": 0.8,
                }
                for i, (p, fr, rs) in enumerate(
                    [
                        ("low", 86_400, 5 * 86_400),
                        ("normal", 14_400, 3 * 86_400),
                        ("high", 3_600, 86_400),
                        ("urgent", 900, 14_400),
                    ]
                )
            ],
            stage="SLA policies",
        )
        writer.reset_sequences([table(Team), table(StaffUser), table(SupportQueue)])
        session.connection().execute(
            text("SELECT setval(pg_get_serial_sequence('sla_policies', 'id'), 4)")
        )


def table(model: type[Base]) -> SaTable:
    found = model.__table__
    assert isinstance(found, SaTable)
    return found


def team_of_agent(agent: int, sizes: Sizes) -> int:
    return (agent - 1) % sizes.teams + 1


def _us(delta_s: np.ndarray) -> np.ndarray:
    return (delta_s * 1e6).astype("timedelta64[us]")


def load_cases(
    db: Database, sizes: Sizes, seed: int, progress: Callable[[str, int, int], None]
) -> dict[str, int]:
    """Cases, interactions and tags with COPY, in one transaction with the support tables'
    secondary indexes dropped and rebuilt; returns the row counts."""
    rng = np.random.default_rng(seed)
    now64 = np.datetime64(NOW.replace(tzinfo=None), "us")
    span_s = YEARS * 365 * 86_400
    n = sizes.cases
    # Skewed: a gamma weight per subscriber (shape 0.5: a long tail of frequent callers).
    weights = rng.gamma(0.5, 1.0, sizes.subscribers)
    weights /= weights.sum()
    # Ids follow opening time, as they would in a live system.
    age_s = np.sort(rng.uniform(0, span_s, n))[::-1]
    opened = now64 - _us(age_s)
    age_days = age_s / 86_400
    live = rng.random(n) < np.where(age_days < 45, 0.8 * np.exp(-age_days / 12), 0.002)
    live_status = np.array(LIVE, dtype=object)[rng.choice(len(LIVE), n, p=LIVE_P)]
    solved_after_s = rng.exponential(2 * 86_400, n) + 600
    solved_at = opened + _us(solved_after_s)
    recently = solved_at > now64 - np.timedelta64(7, "D")
    status = np.where(live, live_status, np.where(recently, "solved", "closed")).astype(object)
    # Cases that would still be open by their dates are live or were solved "just now".
    solved_at = np.where(live, np.datetime64("NaT"), np.minimum(solved_at, now64))
    closed_at = np.where(
        status == "closed", solved_at + np.timedelta64(7, "D"), np.datetime64("NaT")
    )
    category_idx = rng.choice(len(CATEGORIES), n, p=CATEGORY_P)
    team = category_idx + 1
    proactive = rng.random(n) < 0.08
    channel = np.array(CHANNELS, dtype=object)[rng.choice(len(CHANNELS), n, p=CHANNEL_P)]
    channel = np.where(proactive, "system", channel).astype(object)
    subscriber = rng.choice(sizes.subscribers, n, p=weights) + 1
    # One live proactive case per (subscriber, category): later duplicates become reactive.
    live_pro = np.flatnonzero(proactive & live)
    keys = subscriber[live_pro].astype(np.int64) * 100 + category_idx[live_pro]
    _, first = np.unique(keys, return_index=True)
    dup = np.setdiff1d(live_pro, live_pro[first])
    proactive[dup] = False
    channel[dup] = "phone"
    # Agents: team t has agents t, t + teams, t + 2 teams, ...
    per_team = sizes.agents // sizes.teams
    assignee = team + sizes.teams * rng.integers(0, per_team, n)
    unassigned = (status == "new") & (rng.random(n) < 0.8)
    assignee_col = np.where(unassigned, None, assignee).astype(object)
    priority_idx = rng.choice(len(PRIORITIES), n, p=PRIORITY_P)
    first_response_s = rng.exponential(3 * 3600, n) + 60
    responded = ~((status == "new") & unassigned)
    first_response_at = np.where(
        responded, opened + _us(np.minimum(first_response_s, age_s)), np.datetime64("NaT")
    )
    resolution_s = np.array([5 * 86_400, 3 * 86_400, 86_400, 14_400])[priority_idx]
    fr_due_s = np.array([86_400, 14_400, 3_600, 900])[priority_idx]
    breached = (solved_after_s > resolution_s * 1.4) & (rng.random(n) < 0.5)
    breached_at = np.where(breached, opened + _us(resolution_s * 1.4), np.datetime64("NaT"))
    outcome = np.array(OUTCOMES, dtype=object)[rng.choice(len(OUTCOMES), n, p=OUTCOME_P)]
    outcome = np.where(live, None, outcome).astype(object)
    updated = np.where(live, now64 - _us(rng.uniform(0, 86_400, n)), solved_at)
    updated = np.where(status == "closed", closed_at, updated)
    subjects = [
        (
            CATEGORIES[c][2][int(r * len(CATEGORIES[c][2]))]
            if not p
            else f"Proactive: {CATEGORY_NAMES[c]} problem detected"
        )
        for c, r, p in zip(category_idx.tolist(), rng.random(n).tolist(), proactive, strict=True)
    ]
    inbound = body_pool(INBOUND, 20_000, seed + 1, (1, 3))
    outbound = body_pool(OUTBOUND, 20_000, seed + 2, (1, 3))
    internal = body_pool(INTERNAL, 2_000, seed + 3, (1, 2))
    desc = inbound[rng.integers(0, len(inbound), n)]

    counts = {"cases": 0, "interactions": 0, "case_tags": 0}
    tables = ("cases", "interactions", "case_tags")
    with db.transaction() as session:
        conn = session.connection()
        writer = BulkWriter(conn, progress, batch_rows=50_000)
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("SET LOCAL maintenance_work_mem = '2GB'"))
        indexes = support_indexes(conn, tables)
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
        total_interactions = 0
        next_interaction = 1
        for start in range(0, n, CASE_CHUNK):
            s = slice(start, min(n, start + CASE_CHUNK))
            ids = np.arange(s.start + 1, s.stop + 1)
            m = len(ids)
            counts["cases"] += writer.insert(
                table(Case),
                {
                    "id": ids,
                    "subscriber_id": subscriber[s],
                    "contact": [""] * m,
                    "origin": np.where(proactive[s], "proactive", "reactive").tolist(),
                    "channel": channel[s],
                    "category": np.array(CATEGORY_NAMES, dtype=object)[category_idx[s]],
                    "priority": np.array(PRIORITIES, dtype=object)[priority_idx[s]],
                    "status": status[s],
                    "subject": subjects[s],
                    "description": desc[s],
                    "queue_id": team[s],
                    "team_id": team[s],
                    "assignee_id": assignee_col[s],
                    "outcome": outcome[s],
                    "resolution_notes": np.where(live[s], "", "Resolved, see interactions."),
                    "sla_policy_id": priority_idx[s] + 1,
                    "first_response_due_at": opened[s] + _us(fr_due_s[s]),
                    "resolution_due_at": opened[s] + _us(resolution_s[s]),
                    "first_response_at": first_response_at[s],
                    "sla_breached_at": breached_at[s],
                    "opened_at": opened[s],
                    "updated_at": updated[s],
                    "solved_at": solved_at[s],
                    "closed_at": closed_at[s],
                },
                stage="cases",
                done_before=start,
                total=n,
            )
            # Interactions: 1 + Poisson(4) a case (mean 5), spread after the opening.
            k = np.minimum(1 + rng.poisson(INTERACTIONS_PER_CASE - 1, m), 40)
            total = int(k.sum())
            case_of = np.repeat(ids, k)
            local = np.repeat(np.arange(m), k)
            firsts = np.cumsum(k) - k
            pos = np.arange(total) - np.repeat(firsts, k)
            gaps = np.where(pos == 0, 0.0, rng.exponential(4 * 3600, total))
            cum = np.cumsum(gaps)
            cum -= np.repeat(cum[firsts], k)
            started = opened[s][local] + _us(cum)
            started = np.minimum(started, now64)
            roll = rng.random(total)
            direction = np.where(
                pos == 0,
                "inbound",
                np.where(roll < 0.1, "internal", np.where(pos % 2 == 1, "outbound", "inbound")),
            ).astype(object)
            is_pro = proactive[s][local]
            author = np.where(
                direction == "inbound",
                np.where(is_pro & (pos == 0), "system", "subscriber"),
                "agent",
            ).astype(object)
            direction = np.where(author == "system", "internal", direction).astype(object)
            ch = channel[s][local]
            other = np.array(("email", "phone", "sms"), dtype=object)[rng.integers(0, 3, total)]
            ch = np.where((pos > 0) & (rng.random(total) < 0.15), other, ch).astype(object)
            ch = np.where((ch == "system") & (pos > 0), "email", ch).astype(object)
            body = np.where(
                direction == "inbound",
                inbound[rng.integers(0, len(inbound), total)],
                np.where(
                    direction == "outbound",
                    outbound[rng.integers(0, len(outbound), total)],
                    internal[rng.integers(0, len(internal), total)],
                ),
            )
            iid = np.arange(next_interaction, next_interaction + total)
            next_interaction += total
            email = ch == "email"
            external = np.full(total, None, dtype=object)
            external[email] = [f"<{i}@mail.bench.example>" for i in iid[email].tolist()]
            phone = ch == "phone"
            handle_s = rng.integers(60, 1800, total)
            handle = np.where(phone, handle_s, None).astype(object)
            ended = np.where(phone, started + _us(handle_s.astype(float)), np.datetime64("NaT"))
            subscriber_of = subscriber[s][local]
            address = np.where(
                email & (direction == "inbound"),
                np.char.add(np.char.add("sub", subscriber_of.astype(str)), "@example.net"),
                "",
            )
            total_interactions += writer.insert(
                table(Interaction),
                {
                    "id": iid,
                    "case_id": case_of,
                    "channel": ch,
                    "direction": direction,
                    "author_kind": author,
                    "author_id": np.where(author == "agent", assignee[s][local], None),
                    "address": address.tolist(),
                    "subject": np.where(pos == 0, np.array(subjects[s], dtype=object)[local], ""),
                    "body": body,
                    "body_html": [""] * total,
                    "external_id": external,
                    "meta": ["{}"] * total,
                    "started_at": started,
                    "ended_at": ended,
                    "handle_time_s": handle,
                },
                stage="interactions",
                done_before=total_interactions,
                total=int(n * INTERACTIONS_PER_CASE),
            )
            # Tags on about 30 % of the cases, one or two each.
            tagged = ids[rng.random(m) < 0.3]
            first_tag = rng.integers(0, len(TAGS), len(tagged))
            second = rng.random(len(tagged)) < 0.3
            offset = rng.integers(1, len(TAGS), len(tagged))
            tag_case = np.concatenate([tagged, tagged[second]])
            tag_idx = np.concatenate([first_tag, (first_tag[second] + offset[second]) % len(TAGS)])
            counts["case_tags"] += writer.insert(
                table(CaseTag),
                {"case_id": tag_case, "tag": np.array(TAGS, dtype=object)[tag_idx]},
                stage="tags",
                done_before=counts["case_tags"],
                total=int(n * 0.39),
            )
        counts["interactions"] = total_interactions
        for i, (_, ddl) in enumerate(indexes):
            conn.execute(text(ddl))
            progress("rebuild indexes", i + 1, len(indexes))
        writer.reset_sequences([table(Case), table(Interaction)])
    return counts


def load_scores(db: Database, homes: Sequence[int], seed: int) -> int:
    """Hourly experience scores of the last week for ``homes`` (the 360's history chart)."""
    rng = np.random.default_rng(seed)
    hours = 7 * 24 + 1
    start = np.datetime64(NOW.replace(tzinfo=None), "h") - np.timedelta64(hours - 1, "h")
    periods = (start + np.arange(hours)).astype("datetime64[us]")
    home_col = np.repeat(np.asarray(homes), hours)
    period_col = np.tile(periods, len(homes))
    base = np.repeat(rng.uniform(55, 98, len(homes)), hours)
    score = np.clip(base + rng.normal(0, 4, len(home_col)), 0, 100).round(1)
    explanation = '{"pulled_down_by": []}'
    with db.transaction() as session:
        writer = BulkWriter(session.connection(), batch_rows=50_000)
        return writer.insert(
            table(ExperienceScore),
            {
                "home_id": home_col,
                "period_start": period_col,
                "score": score,
                "wan_service": np.minimum(100, score + 3),
                "wan_continuity": np.minimum(100, score + 5),
                "wifi_coverage": score,
                "wifi_efficiency": np.minimum(100, score + 2),
                "device_health": np.minimum(100, score + 6),
                "explanation": [explanation] * len(home_col),
            },
            stage="experience scores",
        )


SURVEY_COMMENTS = (
    "The engineer was great but it took three calls to get one booked.",
    "Wi-Fi upstairs is still patchy.",
    "Quick and friendly, thank you.",
    "Price went up again and nobody told me.",
    "Sorted on the first call.",
)


def load_surveys(db: Database, subscribers: Sequence[int], seed: int) -> int:
    """Survey invitations over two years for ``subscribers`` (the 360's survey card): 1 +
    Poisson(1.5) each, every question of the moment one row, a third answered, half of the
    answers with a comment on the first question."""
    rng = random.Random(seed)
    invitations = np.random.default_rng(seed).poisson(1.5, len(subscribers)) + 1
    cols: dict[str, list[Any]] = {
        k: [] for k in ("subscriber_id", "kind", "moment", "channel", "score", "comment", "theme")
    }
    sent: list[np.datetime64] = []
    expires: list[np.datetime64] = []
    answered: list[np.datetime64] = []
    now = np.datetime64(NOW.replace(tzinfo=None), "s")
    nat = np.datetime64("NaT", "s")
    moments = list(MOMENTS)
    for sub, count in zip(subscribers, invitations.tolist(), strict=True):
        for _ in range(count):
            moment = rng.choice(moments)
            at = now - np.timedelta64(rng.randrange(2 * 365 * 86_400), "s")
            done = rng.random() < 0.35
            comment = rng.choice(SURVEY_COMMENTS) if done and rng.random() < 0.5 else ""
            for n, kind in enumerate(MOMENTS[moment]):
                low, high = SCALES[kind]
                cols["subscriber_id"].append(sub)
                cols["kind"].append(kind)
                cols["moment"].append(moment)
                cols["channel"].append(rng.choice(("email", "portal")))
                cols["score"].append(rng.randint(low, high) if done else None)
                cols["comment"].append(comment if n == 0 else "")
                cols["theme"].append(None)
                sent.append(at)
                expires.append(at + np.timedelta64(14 * 86_400, "s"))
                answered.append(
                    at + np.timedelta64(rng.randrange(3 * 86_400), "s") if done else nat
                )
    with db.transaction() as session:
        writer = BulkWriter(session.connection(), batch_rows=50_000)
        return writer.insert(
            table(Survey),
            {
                "id": np.arange(1, len(sent) + 1),
                **cols,
                "sent_at": np.array(sent, dtype="datetime64[s]"),
                "expires_at": np.array(expires, dtype="datetime64[s]"),
                "answered_at": np.array(answered, dtype="datetime64[s]"),
            },
            stage="surveys",
        )


def vacuum_analyze(url: str) -> None:
    engine = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
    finally:
        engine.dispose()


def load(url: str, sizes: Sizes, seed: int) -> Loaded:
    loaded = Loaded()
    db = Database(url)
    try:
        with stage_progress() as progress:
            started = time.perf_counter()
            migrations.upgrade(url)
            loaded.stages["migrations"] = time.perf_counter() - started
            t = time.perf_counter()
            fleet = generate_fleet(
                db, subscribers=sizes.subscribers, seed=seed, now=NOW, progress=progress
            )
            loaded.stages["fleet (simulator)"] = time.perf_counter() - t
            loaded.counts["subscribers"] = fleet.subscribers
            t = time.perf_counter()
            load_staff(db, sizes)
            loaded.stages["teams, agents, queues"] = time.perf_counter() - t
            t = time.perf_counter()
            loaded.counts |= load_cases(db, sizes, seed, progress)
            loaded.stages["cases, interactions, tags"] = time.perf_counter() - t
            t = time.perf_counter()
            homes = sample_subscribers(db, seed, 3_000)
            loaded.counts["experience_scores"] = load_scores(db, [h for _, h in homes], seed)
            loaded.stages["experience scores"] = time.perf_counter() - t
            t = time.perf_counter()
            loaded.counts["surveys"] = load_surveys(db, [sub for sub, _ in homes], seed)
            loaded.stages["surveys"] = time.perf_counter() - t
        t = time.perf_counter()
        console.print("  VACUUM (ANALYZE) ...")
        vacuum_analyze(url)
        loaded.stages["vacuum analyze"] = time.perf_counter() - t
    finally:
        db.dispose()
    return loaded


def sample_subscribers(db: Database, seed: int, k: int) -> list[tuple[int, int]]:
    """(subscriber id, home id) of the subscribers of the cases the bench opens: those of live
    cases first (the agents' work), then any."""
    from homeport.network.models import Home

    with db.session() as session:
        rows = session.execute(
            select(Case.subscriber_id, Home.id)
            .join(Home, Home.subscriber_id == Case.subscriber_id)
            .where(Case.status.in_(LIVE))
            .order_by(Case.id.desc())
            .limit(k)
        ).all()
    return sorted({(int(s), int(h)) for s, h in rows})


# --------------------------------------------------------------------------------------------
# The server


def make_app() -> Any:
    """uvicorn factory (``--serve``): the real app on the bench database."""
    from homeport.core.runtime import settle_gc
    from homeport.core.settings import Settings
    from homeport.web.app import create_app

    url = os.environ["HOMEPORT_BENCH_CONSOLE_URL"]
    app = create_app(Settings(database_url=url, secret_key=SECRET))
    settle_gc()  # as `homeport serve` does before it serves
    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def server(url: str, workers: int) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ, HOMEPORT_BENCH_CONSOLE_URL=url)
    proc = subprocess.Popen(  # noqa: S603 - this very script
        [sys.executable, __file__, "--serve", str(port), "--workers", str(workers)],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited with {proc.returncode}")
            login = base + "/login"  # http on loopback, built here
            with contextlib.suppress(OSError), urllib.request.urlopen(login, timeout=5):  # noqa: S310
                break
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start within 180 s")
            time.sleep(0.2)
        time.sleep(3)  # the other workers finish starting
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def serve(port: int, workers: int) -> None:
    import uvicorn

    sys.path.insert(0, str(Path(__file__).parent))
    uvicorn.run(
        "console:make_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        # A worker imports the whole app (and this script) before it answers the supervisor's
        # first health check: allow for a busy machine.
        timeout_worker_healthcheck=120,
    )


# --------------------------------------------------------------------------------------------
# The load


@dataclass
class Target:
    key: str
    name: str
    what: str
    urls: Callable[[random.Random, int], str]  # (rng, agent index) -> path


@dataclass
class Result:
    name: str
    latencies_ms: list[float]
    errors: int
    elapsed_s: float
    statuses: dict[int, int]

    def pct(self, p: float) -> float:
        return float(np.percentile(self.latencies_ms, p)) if self.latencies_ms else float("nan")


@dataclass
class Workload:
    agents: list[tuple[int, str, int]]  # (id, email, team)
    case_ids: list[int]
    subscriber_ids: list[int]


def workload(url: str, sizes: Sizes, users: int, seed: int) -> Workload:
    db = Database(url)
    try:
        with db.session() as session:
            agents = [
                (int(a.id), a.email, int(a.team_id or 0))
                for a in session.scalars(
                    select(StaffUser).where(StaffUser.role == "agent").order_by(StaffUser.id)
                )
            ][:users]
            live = [
                int(i)
                for i in session.scalars(
                    select(Case.id).where(Case.status.in_(LIVE)).order_by(Case.id.desc())
                )
            ]
        rng = random.Random(seed)
        cases = rng.sample(live, min(len(live), 3_000))
        subs = [s for s, _ in sample_subscribers(db, seed, 3_000)]
    finally:
        db.dispose()
    if len(agents) < users:
        raise SystemExit(f"only {len(agents)} agents for {users} users")
    return Workload(agents, cases, subs)


def targets(work: Workload) -> list[Target]:
    """The agent console's pages, as an agent uses them."""

    def queue(r: random.Random, a: int) -> str:
        return r.choices(
            ("/console", "/console?assigned=me", "/console?status=new&assigned=none"),
            weights=(0.4, 0.4, 0.2),
        )[0]

    def search(r: random.Random, a: int) -> str:
        term = r.choice(SEARCH_TERMS).replace(" ", "+")
        return f"/console?q={term}" + ("&scope=all" if r.random() < 0.5 else "")

    return [
        Target(
            "case",
            "case + 360",
            "GET /console/cases/{id}: the case page with the subscriber 360 (a live case)",
            lambda r, a: f"/console/cases/{r.choice(work.case_ids)}",
        ),
        Target(
            "queue",
            "queue",
            "GET /console: my team's live cases (40 %), mine (40 %), new unassigned (20 %)",
            queue,
        ),
        Target(
            "poll",
            "queue poll",
            "GET /console/poll: the counters the queue page polls every 5 s",
            lambda r, a: "/console/poll",
        ),
        Target(
            "search",
            "search ?q=",
            f"GET /console?q=...: {', '.join(SEARCH_TERMS)}; half with scope=all",
            search,
        ),
    ]


async def sign_in(client: Any, email: str) -> None:
    page = await client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if not found:
        raise SystemExit("no CSRF token on /login")
    answer = await client.post(
        "/login",
        data={
            "email": email,
            "password": PASSWORD,
            "csrf_token": html.unescape(found.group(1)),
            "next": "/",
        },
    )
    if answer.status_code != 303:
        raise SystemExit(f"sign-in of {email} answered {answer.status_code}")


async def drive(
    base: str,
    work: Workload,
    plan: list[Target],
    users: int,
    seconds: float,
    warmup: float,
    think: float,
    seed: int,
) -> list[Result]:
    import httpx2 as httpx

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(base_url=base, limits=limits, timeout=60.0) for _ in range(users)]
    try:
        await asyncio.gather(*(sign_in(c, work.agents[i][1]) for i, c in enumerate(clients)))
        results = []
        for target in plan:
            results.append(await run_target(clients, target, seconds, warmup, think, seed))
        return results
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


async def run_target(
    clients: list[Any], target: Target, seconds: float, warmup: float, think: float, seed: int
) -> Result:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    start = time.perf_counter()
    measure_from = start + warmup
    end = measure_from + seconds

    async def user(i: int) -> None:
        nonlocal errors
        rng = random.Random(seed * 1_000 + i)
        if think:
            await asyncio.sleep(rng.uniform(0, think))
        while True:
            now = time.perf_counter()
            if now >= end:
                return
            path = target.urls(rng, i)
            t0 = time.perf_counter()
            try:
                answer = await clients[i].get(path, headers={"accept": "text/html"})
                code = answer.status_code
            except Exception:  # a timeout or a refused connection is an error, not a crash
                code = 0
            t1 = time.perf_counter()
            if t0 >= measure_from and t1 <= end:
                latencies.append((t1 - t0) * 1000)
                statuses[code] = statuses.get(code, 0) + 1
                if code != 200:
                    errors += 1
            if think:
                pause = rng.expovariate(1 / think)
                await asyncio.sleep(min(pause, max(0.0, end - time.perf_counter())))

    with Progress(
        TextColumn("  {task.description:<18}"),
        BarColumn(),
        TextColumn("{task.fields[done]:>7,} requests"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(target.name, total=warmup + seconds, done=0)
        runner = asyncio.gather(*(user(i) for i in range(len(clients))))
        while not runner.done():
            await asyncio.sleep(0.25)
            bar.update(task, completed=time.perf_counter() - start, done=len(latencies))
        await runner
    return Result(target.name, latencies, errors, seconds, statuses)


def report(results: list[Result], plan: list[Target], users: int, think: float) -> Table:
    table = Table(
        title=f"{users} concurrent agents, think time {think:g} s (exponential mean)",
        title_justify="left",
    )
    for col in ("endpoint", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="left" if col == "endpoint" else "right")
    table.add_column("p99 / goal", justify="right")
    table.add_column("errors", justify="right")
    for r in results:
        p99 = r.pct(99)
        table.add_row(
            r.name,
            f"{len(r.latencies_ms):,}",
            f"{len(r.latencies_ms) / r.elapsed_s:,.1f}",
            f"{r.pct(50):,.1f}",
            f"{r.pct(95):,.1f}",
            f"{p99:,.1f}",
            f"{max(r.latencies_ms, default=float('nan')):,.1f}",
            f"[{'green' if p99 <= GOAL_P99_MS else 'red'}]{p99 / GOAL_P99_MS:.2f}[/]",
            str(r.errors) + (f" {r.statuses}" if r.errors else ""),
        )
    return table


# --------------------------------------------------------------------------------------------
# The query plans


@dataclass
class Statement:
    endpoint: str
    sql: str
    params: Any
    ms: float


def capture_statements(url: str, work: Workload, seed: int) -> list[Statement]:
    """Run each endpoint's service reads in this process, with a cursor hook recording every
    statement and its time (the slowest of three runs with different ids)."""
    db = Database(url)
    seen: list[Statement] = []
    current = {"endpoint": ""}
    started: dict[int, float] = {}

    @event.listens_for(db.engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        started[id(cursor)] = time.perf_counter()

    @event.listens_for(db.engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        ms = (time.perf_counter() - started.pop(id(cursor), time.perf_counter())) * 1000
        if statement.lstrip().upper().startswith("SELECT") and "pg_" not in statement:
            seen.append(Statement(current["endpoint"], statement, params, ms))

    rng = random.Random(seed)
    now = datetime.now(UTC)
    try:
        for _ in range(3):
            agent_id = rng.choice(work.agents)[0]
            case_id = rng.choice(work.case_ids)
            with db.session() as session:
                me = session.get(StaffUser, agent_id)
                assert me is not None
                current["endpoint"] = "case + 360"
                page = reads.case_page(session, case_id, now)
                if page.case.subscriber_id is not None:
                    reads.subscriber_panel(session, page.case.subscriber_id, now=now)
                for label, params in (
                    ("queue: team live", {}),
                    ("queue: mine", {"assigned": "me"}),
                    ("queue: new unassigned", {"status": "new", "assigned": "none"}),
                    ("search ?q=", {"q": rng.choice(SEARCH_TERMS)}),
                    ("search ?q= scope=all", {"q": rng.choice(SEARCH_TERMS), "scope": "all"}),
                ):
                    current["endpoint"] = label
                    f = QueueQuery.from_params(QueryParams(params)).case_filter(me)
                    cases = service.list_cases(session, f, limit=reads.PAGE_SIZE + 1)
                    reads.queue_rows(session, cases[: reads.PAGE_SIZE], now)
                    reads.live_counts(session, f)
    finally:
        db.dispose()
    return seen


def explain(url: str, statements: Sequence[Statement], top: int, out: Path | None) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the ``top`` slowest distinct statements."""
    slowest: dict[tuple[str, str], Statement] = {}
    for st in statements:
        key = (st.endpoint, st.sql)
        if key not in slowest or st.ms > slowest[key].ms:
            slowest[key] = st
    ranked = sorted(slowest.values(), key=lambda s: -s.ms)
    table = Table(title="Slowest statements (in-process, one connection)", title_justify="left")
    table.add_column("endpoint")
    table.add_column("ms", justify="right")
    table.add_column("statement")
    for st in ranked[:12]:
        table.add_row(st.endpoint, f"{st.ms:,.1f}", " ".join(st.sql.split())[:110])
    console.print(table)
    engine = create_engine(normalise_url(url))
    texts: list[str] = []
    try:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            for i, st in enumerate(ranked):
                with raw.cursor() as cur:
                    cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + st.sql, st.params)
                    plan = "\n".join(r[0] for r in cur.fetchall())
                raw.rollback()
                block = (
                    f"-- {st.endpoint}: {st.ms:.1f} ms in the run\n"
                    f"{' '.join(st.sql.split())}\n-- params: {st.params}\n{plan}\n"
                )
                texts.append(block)
                if i < top:
                    console.print(block, markup=False)
    finally:
        engine.dispose()
    if out:
        out.write_text("\n".join(texts))
        console.print(f"  every plan ({len(texts)}) written to {out}")


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="share of the full size (0.1: 10,000 subscribers)"
    )
    parser.add_argument("--users", type=int, default=50, help="concurrent agents")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured time per endpoint")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured start per endpoint")
    parser.add_argument(
        "--think", type=float, default=1.0, help="mean pause of an agent between requests, s"
    )
    parser.add_argument(
        "--endpoints",
        nargs="+",
        choices=("case", "queue", "poll", "search"),
        default=["case", "queue", "poll", "search"],
        help="which console endpoints to measure",
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--database", default=DATABASE, help="name of the throw-away database")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument(
        "--reuse", action="store_true", help="measure an existing database (from --keep)"
    )
    parser.add_argument("--no-load-test", action="store_true", help="load (and explain) only")
    parser.add_argument("--plans", type=Path, help="write every EXPLAIN ANALYZE to this file")
    parser.add_argument("--explain", type=int, default=3, help="plans to print (slowest first)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.workers)
        return 0
    server_url = os.environ.get("HOMEPORT_BENCH_DATABASE_URL", "")
    if not server_url.startswith("postgres"):
        console.print("set HOMEPORT_BENCH_DATABASE_URL to a PostgreSQL server (trust or password)")
        return 2
    sizes = Sizes.of(args.scale)
    url = database_url(server_url, args.database)
    console.print(
        f"homeport console benchmark: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"database {args.database}; {sizes.subscribers:,} subscribers, {sizes.cases:,} cases, "
        f"~{int(sizes.cases * INTERACTIONS_PER_CASE):,} interactions, {sizes.agents} agents"
    )
    reuse = args.reuse and database_exists(server_url, args.database)
    try:
        if not reuse:
            recreate_database(server_url, args.database)
            started = time.perf_counter()
            loaded = load(url, sizes, args.seed)
            elapsed = time.perf_counter() - started
            rows = sum(loaded.counts.values())
            support_s = loaded.stages["cases, interactions, tags"]
            support_rate = loaded.counts["interactions"] / support_s
            console.print(
                f"\n[bold]Loaded[/] in {elapsed:,.1f} s: "
                + ", ".join(f"{v:,} {k}" for k, v in loaded.counts.items())
            )
            console.print(
                "  "
                + "; ".join(f"{k} {v:,.1f} s" for k, v in loaded.stages.items())
                + f"; {support_rate:,.0f} interactions/s in the support stage"
                + f"; about {rows / elapsed:,.0f} rows/s overall"
            )
        else:
            console.print("  reusing the existing database (no load)")
        work = workload(url, sizes, args.users, args.seed)
        statements = capture_statements(url, work, args.seed)
        explain(url, statements, args.explain, args.plans)
        if args.no_load_test:
            return 0
        plan = [t for t in targets(work) if t.key in args.endpoints]
        console.print(
            f"\nServing with uvicorn, {args.workers} worker process(es); {args.users} agents, "
            f"{args.seconds:g} s per endpoint after {args.warmup:g} s warm-up, think time "
            f"{args.think:g} s"
        )
        for t in plan:
            console.print(f"  {t.name}: {t.what}")
        with server(url, args.workers) as base:
            results = asyncio.run(
                drive(
                    base,
                    work,
                    plan,
                    args.users,
                    args.seconds,
                    args.warmup,
                    args.think,
                    args.seed,
                )
            )
        console.print(report(results, plan, args.users, args.think))
        worst = max(r.pct(99) for r in results)
        verdict = "meets" if worst <= GOAL_P99_MS else "misses"
        console.print(
            f"Worst p99 {worst:,.1f} ms: {verdict} the {GOAL_P99_MS:.0f} ms goal "
            f"(ratio {worst / GOAL_P99_MS:.2f})"
        )
        return 0 if all(r.errors == 0 for r in results) else 1
    finally:
        if not args.keep:
            drop_database(server_url, args.database)
            console.print(f"  dropped {args.database}")


if __name__ == "__main__":
    sys.exit(main())
