"""The scheduler of ``homeport worker``: the domains' periodic tasks, each on its own interval.

Detection runs as reports are committed; everything that time alone triggers runs here
(DESIGN.md section 3, "Processes"): the offline check (gateways gone silent), hourly and daily
rollups, retention, the auto-remediation check and escalation of findings no report touches,
and the expiry of remote actions never collected.

- Each run of a task is **one transaction** (``db.transaction()``): all or nothing; its events
  (a finding opened, an outage, an escalation) reach the event bus after the commit.
- A task that raises is rolled back, logged with its name and duration and counted; the other
  tasks, and the next run of the same task, go on.
- Time comes from the injected :class:`~homeport.core.clock.Clock` (intervals are seconds of that
  clock): tests drive the scheduler with a ``ManualClock`` and :meth:`Scheduler.run_due`, the
  demo with its accelerated simulation clock.

It sits beside ``wiring`` (above the domains, below the entry points) because it composes the
domains' ``tasks``; it never imports an adapter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.orm import Session

from homeport.core.clock import Clock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.health import actions as health_actions
from homeport.health import tasks as health_tasks
from homeport.journey import tasks as journey_tasks
from homeport.kpis import actions as kpi_actions
from homeport.retention import recommendations as retention_recs
from homeport.retention import risk_actions as churn_risk
from homeport.retention import segments as retention_segments
from homeport.selfservice import bot
from homeport.support import actions as support_actions
from homeport.telemetry import tasks as telemetry_tasks

log = logging.getLogger("homeport.worker")

#: ``run(session, now, last_ok)`` does the work inside the scheduler's transaction and returns a
#: short summary for the log; ``last_ok`` is the ``now`` of the task's last successful (committed)
#: run in this process, None before the first.
TaskFn = Callable[[Session, datetime, datetime | None], str]


@dataclass(frozen=True)
class Task:
    name: str
    #: Seconds of the scheduler's clock between the start of one run and the next.
    interval_s: float
    run: TaskFn


@dataclass(frozen=True)
class TaskRun:
    task: str
    ok: bool
    seconds: float
    summary: str = ""
    error: str = ""


def default_tasks(settings: Settings) -> list[Task]:
    """Every periodic task with its interval from ``[worker]``. A task whose interval is 0 is
    turned off: the scheduler's loop never runs it, ``--once`` still does (cron)."""
    w, health, tel = settings.worker, settings.health, settings.telemetry
    lookback = timedelta(seconds=w.rollup_lookback_s)

    def offline(session: Session, now: datetime, _last: datetime | None) -> str:
        result = health_actions.check_offline(
            session, now=now, health=health, report_interval_s=tel.report_interval_s
        )
        return f"{result.reports} silent, {len(result.opened)} findings opened"

    def rollup_hourly(session: Session, now: datetime, last_ok: datetime | None) -> str:
        # The first run finds where the stored rollups end (a worker that was stopped catches
        # up); later runs go back to their previous run, and at least ``lookback``.
        if last_ok is None:
            since = telemetry_tasks.rollup_start(session, now, lookback)
        else:
            since = min(last_ok, now - lookback)
        result = telemetry_tasks.rollup(session, since, now, daily=False)
        return f"{result.hourly} home-hours since {since:%Y-%m-%d %H:%M}"

    def rollup_daily(session: Session, now: datetime, last_ok: datetime | None) -> str:
        if last_ok is None:
            since = telemetry_tasks.rollup_start(session, now, lookback, daily=True)
        else:
            since = min(last_ok, now - lookback)
        result = telemetry_tasks.rollup(session, since, now, hourly=False)
        return f"{result.daily} home-days since {since:%Y-%m-%d}"

    def purge(session: Session, now: datetime, _last: datetime | None) -> str:
        result = telemetry_tasks.purge(session, now, tel)
        return f"deleted {result.raw} reports, {result.hourly} hourly, {result.daily} daily rows"

    def findings(session: Session, now: datetime, _last: datetime | None) -> str:
        result = health_tasks.sweep_findings(session, now=now, health=health)
        return (
            f"{result.checked} checked, {result.remediation_failed} fixes failed, "
            f"{result.escalated} escalated"
        )

    def expire(session: Session, now: datetime, _last: datetime | None) -> str:
        n = health_tasks.expire_actions(
            session,
            now=now,
            older_than=timedelta(seconds=w.action_expiry_s),
            sent_older_than=timedelta(seconds=w.action_result_timeout_s),
        )
        return f"{n} remote actions expired"

    def sla(session: Session, now: datetime, _last: datetime | None) -> str:
        warnings, breaches = support_actions.check_slas(session, now=now)
        return f"{warnings} SLA warnings, {breaches} breaches"

    def routing(session: Session, now: datetime, _last: datetime | None) -> str:
        return f"{support_actions.fill_capacity(session, now=now)} waiting cases assigned"

    def bot_idle(session: Session, now: datetime, _last: datetime | None) -> str:
        return f"{bot.close_idle(session, now=now)} idle chatbot conversations ended"

    def kpi_snapshots(session: Session, now: datetime, _last: datetime | None) -> str:
        run = kpi_actions.snapshot_due(session, now=now, zone=settings.timezone)
        return f"{run.rows} KPI snapshot rows for {len(run.buckets)} periods"

    def kpi_reports(session: Session, now: datetime, _last: datetime | None) -> str:
        n = kpi_actions.send_reports(
            session, now=now, zone=settings.timezone, bsp_name=settings.bsp_name
        )
        return f"{n} KPI reports queued"

    def surveys(session: Session, now: datetime, _last: datetime | None) -> str:
        return journey_tasks.run(session, now=now, settings=settings)

    def segments(session: Session, now: datetime, _last: datetime | None) -> str:
        run = retention_segments.compute_segments(session, now, zone=settings.zone)
        recs = retention_recs.refresh(
            session, now, zone=settings.zone, weak_dbm=health.weak_rssi_dbm
        )
        return (
            f"{run.rows} segments for {run.homes} homes; recommendations: {recs.created} new, "
            f"{recs.refreshed} refreshed, {recs.expired} expired"
        )

    def churn_scores(session: Session, now: datetime, _last: datetime | None) -> str:
        return churn_risk.daily(
            session, now, threshold=w.churn_high_risk, limit=w.churn_cases_per_run
        )

    return [
        Task("offline", w.offline_check_s, offline),
        Task("rollup_hourly", w.rollup_hourly_s, rollup_hourly),
        Task("rollup_daily", w.rollup_daily_s, rollup_daily),
        Task("purge", w.purge_s, purge),
        Task("findings", w.findings_s, findings),
        Task("actions", w.actions_s, expire),
        Task("sla", w.sla_s, sla),
        Task("routing", w.routing_s, routing),
        Task("bot_idle", w.bot_idle_s, bot_idle),
        Task("surveys", w.survey_s, surveys),
        Task("kpi_snapshots", w.kpi_snapshot_s, kpi_snapshots),
        Task("kpi_reports", w.kpi_reports_s, kpi_reports),
        Task("segments", w.segments_s, segments),
        Task("churn_scores", w.churn_score_s, churn_scores),
    ]


class Metrics:
    """Prometheus metrics of one scheduler, in their own registry (``--metrics-port``)."""

    def __init__(self, registry: CollectorRegistry, names: Iterable[str]) -> None:
        self.registry = registry
        self.runs = Counter(
            "homeport_worker_task_runs",
            "Runs of each periodic task, by outcome (ok, failed).",
            ["task", "outcome"],
            registry=registry,
        )
        self.failures = Counter(
            "homeport_worker_task_failures",
            "Runs of each periodic task that raised (rolled back and logged).",
            ["task"],
            registry=registry,
        )
        self.seconds = Histogram(
            "homeport_worker_task_seconds",
            "Duration of one run of a periodic task, transaction included.",
            ["task"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=registry,
        )
        self.last_success = Gauge(
            "homeport_worker_task_last_success_timestamp_seconds",
            "Unix time (wall clock) of the task's last successful run: alert when it is old.",
            ["task"],
            registry=registry,
        )
        for name in names:
            self.runs.labels(name, "ok")
            self.runs.labels(name, "failed")
            self.failures.labels(name)
            self.seconds.labels(name)


class Scheduler:
    """Runs each task when it is due by ``clock``: every task is due at the start, then
    ``interval_s`` after the start of its previous run (a clock that jumps ahead runs a task
    once, not once per missed interval). A task with an interval of 0 is never due."""

    def __init__(
        self,
        db: Database,
        tasks: Sequence[Task],
        clock: Clock,
        *,
        registry: CollectorRegistry | None = None,
    ) -> None:
        names = [t.name for t in tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"task names must be unique: {names}")
        self.db = db
        self.tasks = list(tasks)
        self.clock = clock
        self.metrics = Metrics(registry or CollectorRegistry(), names)
        self.next_due: dict[str, datetime] = {}
        #: The clock time of each task's last committed run.
        self.last_ok: dict[str, datetime] = {}

    def due(self) -> list[Task]:
        now = self.clock.now()
        return [t for t in self.tasks if t.interval_s > 0 and self.next_due.get(t.name, now) <= now]

    def run_task(self, task: Task) -> TaskRun:
        """One run in one transaction; an exception is logged, counted and returned, never
        raised."""
        now = self.clock.now()
        self.next_due[task.name] = now + timedelta(seconds=task.interval_s)
        started = time.perf_counter()
        try:
            with self.db.transaction() as session:
                summary = task.run(session, now, self.last_ok.get(task.name))
        except Exception as exc:
            seconds = time.perf_counter() - started
            self.metrics.runs.labels(task.name, "failed").inc()
            self.metrics.failures.labels(task.name).inc()
            self.metrics.seconds.labels(task.name).observe(seconds)
            log.error(
                "worker task %s failed after %.2f s: %s",
                task.name,
                seconds,
                exc,
                exc_info=True,
                extra={"task": task.name, "duration_s": round(seconds, 3), "outcome": "failed"},
            )
            return TaskRun(task.name, False, seconds, error=f"{type(exc).__name__}: {exc}")
        seconds = time.perf_counter() - started
        self.last_ok[task.name] = now
        self.metrics.runs.labels(task.name, "ok").inc()
        self.metrics.seconds.labels(task.name).observe(seconds)
        self.metrics.last_success.labels(task.name).set(time.time())
        log.info(
            "worker task %s: %s (%.2f s)",
            task.name,
            summary,
            seconds,
            extra={"task": task.name, "duration_s": round(seconds, 3), "outcome": "ok"},
        )
        return TaskRun(task.name, True, seconds, summary)

    def run_due(self) -> list[TaskRun]:
        """Run every task that is due now, in the order they were given."""
        return [self.run_task(t) for t in self.due()]

    def run_all(self) -> list[TaskRun]:
        """Run every task once, due or not (``homeport worker --once``)."""
        return [self.run_task(t) for t in self.tasks]

    def run_forever(self, stop: threading.Event, *, poll_s: float = 1.0) -> None:
        """Run due tasks until ``stop`` is set, looking every ``poll_s`` seconds of real time.
        A task in progress finishes (its transaction commits) before the loop returns."""
        log.info(
            "worker started: %s",
            ", ".join(f"{t.name} every {t.interval_s:g} s" for t in self.tasks if t.interval_s > 0)
            or "no task is turned on",
        )
        while not stop.is_set():
            for task in self.due():
                if stop.is_set():
                    break
                self.run_task(task)
            stop.wait(poll_s)
        log.info("worker stopped")
