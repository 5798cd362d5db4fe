"""Benchmark: end-to-end telemetry ingest in reports per second, against the parse-only ceiling.

For each fleet size it seeds that many known gateways into a fresh database (an SQLite file in
a temporary folder and, when ``HOMEPORT_BENCH_DATABASE_URL`` names a PostgreSQL server, a
throw-away database on it), builds HTTP-sized JSON batches of realistic reports (full WAN block,
two radios, six clients, one mesh node, resources) for random devices, then measures:

- **parse-only**: ``orjson.loads`` over the same payloads (the ceiling: no Python code can
  ingest faster than it can decode);
- **parse+validate**: :func:`homeport.telemetry.ingest.parse_batch` (orjson + the pydantic
  contract with its bounds);
- **end-to-end**: parse, validate, :func:`~homeport.telemetry.actions.store_reports` (device
  lookup, time checks, batched insert, gateway and client-device refresh) and commit, one
  transaction per batch, as ``POST /api/v1/telemetry`` does; with ``--detect`` the domains'
  event handlers (``homeport.wiring``; the health detectors once they are registered) run on
  every committed batch too.

With ``--processes N`` it also runs N ingest processes at once (each its own connection and
its own share of the fleet, as N ``homeport serve`` workers or N MQTT shared-subscription
consumers would), which is the figure "with both cores" on a two-core machine; the verdict then
uses that figure. Reports are ``--profile stable`` (each home keeps its own figures, the default)
or ``--profile churn`` (every figure random: findings open and clear on every report).

It prints reports/s, the ratio to the ceiling and the process's peak memory, and for the
single-process end-to-end run the CPU time each report cost the ingest process and (when the
PostgreSQL server runs on this machine, read from ``/proc``) the server's backends: with both on
the same cores, their sum bounds what any number of ingest processes can reach.

    python bench/ingest.py                               # 1,000 and 100,000 devices
    python bench/ingest.py --sizes 1000000 --reports 200000
    python bench/ingest.py --pg-insert executemany       # compare the PostgreSQL write paths
    python bench/ingest.py --detect --processes 2        # detection on, both cores
    python bench/ingest.py --detect --processes 2 --warm 3  # 3 unmeasured reports per device
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, insert, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from homeport import migrations, wiring
from homeport.core.db import Database, normalise_url
from homeport.core.runtime import settle_gc
from homeport.core.settings import Settings
from homeport.network.models import Gateway, Home
from homeport.subscribers.models import Subscriber
from homeport.telemetry import actions
from homeport.telemetry.actions import store_reports
from homeport.telemetry.ingest import parse_batch

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
GOAL_PG = 20_000.0
SEED_CHUNK = 50_000


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


def device_id(i: int) -> str:
    return f"GW-{i:07d}"


def seed_devices(db: Database, n: int) -> float:
    """``n`` subscribers, each with a home and a gateway (ids 1..n); seconds taken."""
    started = time.perf_counter()
    for start in range(0, n, SEED_CHUNK):
        ids = range(start + 1, min(n, start + SEED_CHUNK) + 1)
        with db.transaction() as session:
            conn = session.connection()
            conn.execute(
                insert(Subscriber),
                [
                    {
                        "id": i,
                        "account_number": f"B{i:08d}",
                        "name": f"Bench {i}",
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                insert(Home), [{"id": i, "subscriber_id": i, "technology": "fttp"} for i in ids]
            )
            conn.execute(
                insert(Gateway), [{"id": i, "home_id": i, "device_id": device_id(i)} for i in ids]
            )
    if db.dialect == "postgresql":
        with db.engine.begin() as conn:
            for table in ("subscribers", "homes", "gateways"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})"))
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


#: Client kinds in the order ``--profile stable`` gives them to a home's six clients.
STABLE_KINDS = ("phone", "laptop", "tv", "iot", "phone", "tablet")


def _report(
    device: int,
    ts: datetime,
    uptime_s: int,
    wan: dict[str, Any],
    radios: tuple[tuple[int, int], tuple[int, int]],
    clients: list[tuple[int, int, float, str]],
    mesh: tuple[int, int],
    resources: tuple[int, int],
) -> dict[str, Any]:
    """One report in the contract's shape: radios are (channel, utilisation) on 2.4 and 5 GHz,
    clients (RSSI, PHY rate, retransmissions, kind), the mesh node (backhaul RSSI, Mbps),
    resources (CPU, memory)."""
    (ch24, util24), (ch5, util5) = radios
    return {
        "device_id": device_id(device),
        "ts": ts.isoformat(),
        "uptime_s": uptime_s,
        "wan": wan,
        "radios": [
            {
                "band": "2.4GHz",
                "channel": ch24,
                "width_mhz": 20,
                "utilization_pct": util24,
                "noise_dbm": -95,
            },
            {
                "band": "5GHz",
                "channel": ch5,
                "width_mhz": 80,
                "utilization_pct": util5,
                "noise_dbm": -92,
            },
        ],
        "clients": [
            {
                "mac": _mac(device, j),
                "band": "5GHz" if j % 3 else "2.4GHz",
                "rssi_dbm": rssi,
                "phy_rate_mbps": phy,
                "retrans_pct": retrans,
                "kind": kind,
            }
            for j, (rssi, phy, retrans, kind) in enumerate(clients)
        ],
        "mesh": [{"node_id": "SAT-1", "backhaul_rssi_dbm": mesh[0], "backhaul_mbps": mesh[1]}],
        "resources": {"cpu_pct": resources[0], "mem_pct": resources[1]},
    }


def make_report(rng: random.Random, device: int, ts: datetime) -> dict[str, Any]:
    """A report whose every figure is drawn afresh (``--profile churn``): a home's signal,
    utilisation and optical level jump across the detectors' thresholds from one report to the
    next, so findings open, update and clear on nearly every report. The worst case for
    detection, far from a real fleet."""
    # Drawn in the order of the report's fields, so that a seed gives the same reports.
    uptime = rng.randrange(60, 5_000_000)
    wan = {
        "status": "up",
        "down_mbps": round(rng.uniform(80, 950), 1),
        "up_mbps": round(rng.uniform(10, 110), 1),
        "latency_ms": round(rng.uniform(4, 40), 1),
        "jitter_ms": round(rng.uniform(0.2, 6), 1),
        "loss_pct": round(rng.choice((0.0, 0.0, 0.0, 0.1, 0.4)), 1),
        "optical_rx_dbm": round(rng.uniform(-24, -12), 1),
        "disconnects": 0,
    }
    ch24, util24 = rng.choice((1, 6, 11)), rng.randrange(5, 80)
    ch5, util5 = rng.choice((36, 52, 100, 149)), rng.randrange(2, 60)
    clients = [
        (
            rng.randrange(-85, -35),
            rng.randrange(20, 1200),
            round(rng.uniform(0, 8), 1),
            rng.choice(("phone", "laptop", "tv", "iot")),
        )
        for _ in range(6)
    ]
    mesh = (rng.randrange(-75, -45), rng.randrange(100, 900))
    resources = (rng.randrange(1, 90), rng.randrange(20, 85))
    return _report(
        device, ts, uptime, wan, ((ch24, util24), (ch5, util5)), clients, mesh, resources
    )


def _mac(device: int, j: int) -> str:
    return (
        f"02:{device >> 24 & 255:02x}:{device >> 16 & 255:02x}:"
        f"{device >> 8 & 255:02x}:{device & 255:02x}:{j:02x}"
    )


#: Share of homes with a standing problem in ``--profile stable`` (weak clients, a busy
#: 2.4 GHz channel): their findings open once and then only update.
STABLE_FAULTY = 0.08


def make_stable_report(rng: random.Random, device: int, ts: datetime) -> dict[str, Any]:
    """A report from a home with a steady state (``--profile stable``, the default): the home's
    own figures (seeded by its device number) with a few per cent of jitter per report, as a
    real gateway reports every five minutes. :data:`STABLE_FAULTY` of the homes have a standing
    problem, so detection still opens and updates findings, but a finding does not flap."""
    home = random.Random(device)
    faulty = home.random() < STABLE_FAULTY

    def jitter(value: float, spread: float = 0.03) -> float:
        return round(value * rng.uniform(1 - spread, 1 + spread), 1)

    down = home.uniform(300, 950)
    rssi = [home.randrange(-68, -40) for _ in range(6)]
    if faulty:
        rssi[0] = -82
    util24 = home.randrange(70, 90) if faulty else home.randrange(5, 45)
    # Drawn in the order of the report's fields, so that a seed gives the same reports.
    uptime = home.randrange(86_400, 5_000_000) + int((ts - NOW).total_seconds()) + 3600
    wan = {
        "status": "up",
        "down_mbps": jitter(down),
        "up_mbps": jitter(down / 8),
        "latency_ms": jitter(home.uniform(4, 20)),
        "jitter_ms": jitter(home.uniform(0.2, 3)),
        "loss_pct": 0.0,
        "optical_rx_dbm": round(home.uniform(-20, -14), 1),
        "disconnects": 0,
    }
    ch24 = home.choice((1, 6, 11))
    ch5, util5 = home.choice((36, 52, 100, 149)), home.randrange(2, 40)
    clients = [
        (
            rssi[j] + rng.choice((-1, 0, 0, 1)),
            home.randrange(100, 1200),
            round(home.uniform(0, 3), 1),
            STABLE_KINDS[j],
        )
        for j in range(6)
    ]
    mesh = (home.randrange(-65, -45), home.randrange(300, 900))
    resources = (home.randrange(1, 40), home.randrange(20, 60))
    return _report(
        device, ts, uptime, wan, ((ch24, util24), (ch5, util5)), clients, mesh, resources
    )


def make_batches(
    devices: int,
    reports: int,
    batch: int,
    seed: int,
    profile: str,
    part: int = 0,
    parts: int = 1,
    start: datetime = NOW - timedelta(hours=1),
) -> list[bytes]:
    """JSON batches; every (device, ts) is distinct (a timestamp per report, in the last hour).

    With ``parts`` > 1 only the devices ``d % parts == part`` report (one ingest process's share
    of the fleet, as a keyed consumer or a load balancer pinning a gateway would give it), and
    the process gets ``reports / parts`` of them."""
    rng = random.Random(seed * 1_000 + part)
    build = make_stable_report if profile == "stable" else make_report
    share = reports // parts
    mine = range(part + 1, devices + 1, parts) if parts > 1 else range(1, devices + 1)
    out: list[bytes] = []
    for b in range(0, share, batch):
        items = [
            build(rng, rng.choice(mine), start + timedelta(milliseconds=i * parts + part))
            for i in range(b, min(share, b + batch))
        ]
        out.append(orjson.dumps(items))
    return out


def warm_batches(devices: int, batch: int, seed: int, profile: str, passes: int) -> Iterator[bytes]:
    """``passes`` reports from every device (``--warm N``), one pass a minute from
    ``NOW - 1 h``. Afterwards each home has what a fleet in service has: its client devices,
    this hour's score row, and, after two or more passes, the findings of its standing problems
    opened and their one remediation queued. The measured reports follow in the same hour.
    Built one batch at a time: held all at once, 300,000 of them added about 340 MB to this
    process's peak memory (518 against 182 MB at 100,000 devices), which it then printed."""
    rng = random.Random(seed * 1_000 + 999)
    build = make_stable_report if profile == "stable" else make_report
    step = timedelta(minutes=1) / devices
    for k in range(passes):
        start = NOW - timedelta(hours=1) + timedelta(minutes=k)
        order = list(range(1, devices + 1))
        rng.shuffle(order)
        for b in range(0, devices, batch):
            yield orjson.dumps(
                [build(rng, d, start + step * i) for i, d in enumerate(order[b : b + batch], b)]
            )


def server_cpu_s(db: Database) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend serving ``db``'s database, read from
    ``/proc`` (so only when the server runs on this machine); empty on SQLite or otherwise."""
    if db.engine.dialect.name != "postgresql":
        return {}
    with db.session() as session:
        pids = session.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).all()
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return out


def cpu_split(client_s: float, before: dict[int, float], after: dict[int, float], n: int) -> None:
    """Print the CPU each report cost the ingest process and the database server, and the rate
    that CPU allows on this machine's cores if ingest and server had them all to themselves
    (an estimate from one process: several at once share caches and locks)."""
    server_s = sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
    client_us, server_us = client_s / n * 1e6, server_s / n * 1e6
    cores = os.cpu_count() or 1
    if after:
        print(
            f"  CPU per report   {client_us:>6.0f} µs ingest + {server_us:.0f} µs PostgreSQL "
            f"= {client_us + server_us:.0f} µs: about "
            f"{cores / (client_us + server_us) * 1e6:,.0f} reports/s on {cores} cores "
            f"(the server alone: {cores / server_us * 1e6:,.0f})"
        )
    else:
        print(
            f"  CPU per report   {client_us:>6.0f} µs: about "
            f"{cores / client_us * 1e6:,.0f} reports/s on {cores} cores"
        )


def peak_mb() -> float:
    """This process's peak resident memory in MB: ``VmHWM`` from ``/proc`` on Linux, which an
    ``exec`` resets (``getrusage``'s ``ru_maxrss`` is kept across it, so a spawned ingest process
    would report its parent's peak if that was higher), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(label: str, fn: Callable[[bytes], object], batches: list[bytes], n: int) -> float:
    started = time.perf_counter()
    for body in batches:
        fn(body)
    rate = n / (time.perf_counter() - started)
    print(f"  {label:<16} {rate:>10,.0f} reports/s")
    return rate


def _insert_postgresql_executemany(
    session: Session, rows: list[tuple[Any, ...]]
) -> set[tuple[str, datetime]]:
    """The alternative write path, to compare with the arrays (``--pg-insert executemany``)."""
    table = actions._REPORTS
    stmt = (
        postgresql.insert(table)
        .on_conflict_do_nothing(index_elements=["device_id", "ts"])
        .returning(table.c.device_id, table.c.ts)
    )
    params = [
        {**dict(zip(actions.COLUMNS, row, strict=True)), "detail": orjson.loads(row[-1])}
        for row in rows
    ]
    return {(d, ts) for d, ts in session.execute(stmt, params)}


def ingest_one(db: Database, settings: Settings, body: bytes) -> int:
    """What ``POST /api/v1/telemetry`` does with one batch: parse, validate, store, commit (the
    event handlers run after the commit); the number of reports stored."""
    parsed, _ = parse_batch(body)
    with db.transaction() as session:
        result = store_reports(session, parsed, source="http", now=NOW, settings=settings.telemetry)
    return result.accepted


def _worker(
    url: str,
    args: tuple[int, int, int, bool, str, int, int],
    ready: Any,
    go: Any,
    out: Any,
) -> None:
    devices, reports, batch, detect, profile, part, parts = args
    try:
        db = Database(url)
        settings = Settings(database_url=url)
        if detect:
            wiring.connect(db, settings)
        # Later timestamps than the single-process run (which starts an hour before NOW and
        # adds a millisecond per report), so that nothing is a duplicate.
        batches = make_batches(
            devices,
            reports,
            batch,
            seed=devices + 7,
            profile=profile,
            part=part,
            parts=parts,
            start=NOW - timedelta(minutes=30),
        )
    except Exception as exc:  # report it instead of leaving the parent waiting
        ready.put(part)
        out.put((part, -1, repr(exc)))
        return
    settle_gc()  # as `homeport serve` and `homeport ingest` do before they start serving
    ready.put(part)
    go.wait()
    try:
        stored = sum(ingest_one(db, settings, body) for body in batches)
    except Exception as exc:
        out.put((part, -1, repr(exc)))
        return
    finally:
        db.dispose()
    out.put((part, stored, peak_mb()))


def measure_parallel(
    url: str, devices: int, reports: int, batch: int, detect: bool, profile: str, processes: int
) -> float:
    """End-to-end with ``processes`` ingest processes at once, each with its own connection and
    its own share of the fleet; reports/s over the wall-clock time of the slowest."""
    ctx = multiprocessing.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    workers = [
        ctx.Process(
            target=_worker,
            args=(url, (devices, reports, batch, detect, profile, k, processes), ready, go, out),
        )
        for k in range(processes)
    ]
    for w in workers:
        w.start()
    for _ in workers:
        ready.get(timeout=600)
    started = time.perf_counter()
    go.set()
    results = [out.get(timeout=3_600) for _ in workers]
    elapsed = time.perf_counter() - started
    for w in workers:
        w.join()
    failed = [r for r in results if r[1] < 0]
    if failed:
        raise SystemExit(f"ingest process {failed[0][0]} failed: {failed[0][2]}")
    stored = sum(r[1] for r in results)
    want = (reports // processes) * processes
    if stored != want:
        raise SystemExit(f"{processes} processes stored {stored:,} of {want:,} reports")
    rate = stored / elapsed
    peak = max(r[2] for r in results)
    print(
        f"  end-to-end x{processes:<5} {rate:>10,.0f} reports/s "
        f"({processes} processes; peak memory of each at most {peak:,.0f} MB)"
    )
    return rate


def run(
    url: str,
    label: str,
    devices: int,
    reports: int,
    batch: int,
    detect: bool,
    profile: str,
    processes: int = 1,
    warm: int = 0,
) -> float:
    db = Database(url)
    settings = Settings(database_url=url)
    if detect:
        wiring.connect(db, settings)
    try:
        seeded = seed_devices(db, devices)
        # After --warm N (a pass a minute from NOW - 1 h) the measured reports start after them.
        start = (
            NOW
            - timedelta(hours=1)
            + (timedelta(minutes=max(5, warm + 1)) if warm else timedelta(0))
        )
        batches = make_batches(devices, reports, batch, seed=devices, profile=profile, start=start)
        print(
            f"\n== {label}: {devices:,} known devices (seeded in {seeded:.1f} s), "
            f"{reports:,} {profile} reports in batches of {batch:,}"
            + (", with detection" if detect else "")
        )
        if warm:
            began = time.perf_counter()
            warmed = sum(
                ingest_one(db, settings, body)
                for body in warm_batches(devices, batch, devices, profile, warm)
            )
            print(
                f"  warm-up: {warm} report(s) from each of {devices:,} devices ({warmed:,}) in "
                f"{time.perf_counter() - began:.0f} s (not measured)"
            )
        settle_gc()  # as `homeport serve` and `homeport ingest` do before they start serving
        ceiling = measure("parse-only", orjson.loads, batches, reports)
        measure("parse+validate", parse_batch, batches, reports)

        stored = 0

        def ingest(body: bytes) -> None:
            nonlocal stored
            stored += ingest_one(db, settings, body)

        server_before, client_before = server_cpu_s(db), time.process_time()
        rate = measure("end-to-end", ingest, batches, reports)
        client_s = time.process_time() - client_before
        cpu_split(client_s, server_before, server_cpu_s(db), reports)
        if stored != reports:
            raise SystemExit(f"only {stored:,} of {reports:,} reports were stored")
        if processes > 1:
            parallel = measure_parallel(url, devices, reports, batch, detect, profile, processes)
            rate = parallel  # the figure with every core at work
        peak = peak_mb()
        print(f"  ratio end-to-end / parse-only: {rate / ceiling:.3f} (1/{ceiling / rate:.0f})")
        print(f"  peak memory of this process so far: {peak:,.0f} MB")
        return rate
    finally:
        db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--reports", type=int, default=50_000, help="reports per run")
    parser.add_argument("--batch", type=int, default=1_000, help="reports per batch")
    parser.add_argument("--detect", action="store_true", help="run the event handlers too")
    parser.add_argument(
        "--profile",
        choices=("stable", "churn"),
        default="stable",
        help="stable: each home keeps its own figures (a real fleet); churn: every figure random",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="also measure this many ingest processes at once (2 = both cores here)",
    )
    parser.add_argument(
        "--warm",
        type=int,
        nargs="?",
        const=1,
        default=0,
        metavar="N",
        help="first N unmeasured reports from every device (default 1): a fleet in service",
    )
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--pg-insert", choices=("arrays", "executemany"), default="arrays")
    args = parser.parse_args(argv)
    pg_server = os.environ.get("HOMEPORT_BENCH_DATABASE_URL", "")
    if args.pg_insert == "executemany":
        actions._insert_postgresql = _insert_postgresql_executemany
    print(
        f"homeport ingest benchmark: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"PostgreSQL {'yes' if pg_server else 'no (set HOMEPORT_BENCH_DATABASE_URL)'}, "
        f"PostgreSQL write path: {args.pg_insert}"
    )
    pg_rates: list[float] = []
    for size in args.sizes:
        if "sqlite" in args.backends:
            with sqlite_database() as url:
                run(
                    url,
                    "SQLite",
                    size,
                    args.reports,
                    args.batch,
                    args.detect,
                    args.profile,
                    args.processes,
                    args.warm,
                )
        if pg_server and "postgresql" in args.backends:
            with postgres_database(pg_server) as url:
                pg_rates.append(
                    run(
                        url,
                        "PostgreSQL",
                        size,
                        args.reports,
                        args.batch,
                        args.detect,
                        args.profile,
                        args.processes,
                        args.warm,
                    )
                )
    if pg_rates:
        worst = min(pg_rates)
        verdict = "meets" if worst >= GOAL_PG else "misses"
        print(f"\nPostgreSQL: slowest {worst:,.0f} reports/s; {verdict} the {GOAL_PG:,.0f}/s goal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
