from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from homeport.audit.models import AuditEntry
from homeport.core.db import Database, normalise_url
from homeport.core.errors import ServiceUnavailable
from homeport.core.events import Event, publish
from homeport.identity.models import Team


@dataclass(frozen=True)
class Happened(Event):
    name: str


def test_events_are_delivered_only_after_commit(db: Database) -> None:
    seen: list[str] = []

    def handler(ev: Happened) -> None:
        # The row the event speaks of is visible to a new session when the handler runs.
        with db.session() as s:
            seen.append(f"{ev.name}:{s.scalar(select(Team.name).where(Team.name == ev.name))}")

    db.bus.subscribe(Happened, handler)
    with db.transaction() as session:
        session.add(Team(name="tier1", kind="support", created_at=datetime.now(UTC)))
        publish(session, Happened("tier1"))
        session.flush()
        assert seen == []  # not before the commit
    assert seen == ["tier1:tier1"]


def test_events_are_discarded_on_rollback(db: Database) -> None:
    seen: list[Event] = []
    db.bus.subscribe(Happened, seen.append)
    with pytest.raises(RuntimeError), db.transaction() as session:
        session.add(Team(name="noc", kind="noc", created_at=datetime.now(UTC)))
        publish(session, Happened("noc"))
        raise RuntimeError("boom")
    assert seen == []
    with db.session() as s:
        assert s.scalar(select(Team).where(Team.name == "noc")) is None
    # The next transaction does not inherit the discarded event.
    with db.transaction() as session:
        publish(session, Happened("later"))
    assert seen == [Happened("later")]


def test_a_failing_handler_does_not_stop_the_others(db: Database) -> None:
    seen: list[Event] = []

    def broken(_: Happened) -> None:
        raise ValueError("handler bug")

    db.bus.subscribe(Happened, broken)
    db.bus.subscribe(Happened, seen.append)
    with db.transaction() as session:
        publish(session, Happened("x"))
    assert seen == [Happened("x")]


def test_times_round_trip_as_aware_utc(db: Database) -> None:
    local = datetime(2026, 6, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    with db.transaction() as session:
        session.add(
            AuditEntry(at=local, actor_kind="system", action="t", entity_type="t", detail={})
        )
    with db.session() as session:
        at = session.scalar(select(AuditEntry.at))
    assert at == local and at is not None and at.tzinfo == UTC and at.hour == 12


def test_naive_times_are_refused(db: Database) -> None:
    naive = datetime(2026, 1, 1)  # noqa: DTZ001 - the point of the test
    with pytest.raises(Exception, match="naive"), db.transaction() as session:
        session.add(
            AuditEntry(
                at=naive,
                actor_kind="system",
                action="t",
                entity_type="t",
                detail={},
            )
        )
        session.flush()


def test_unreachable_database_gives_a_readable_error() -> None:
    db = Database("postgresql://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    with pytest.raises(ServiceUnavailable, match=r"cannot reach the database at .*127\.0\.0\.1"):
        db.ping()


def test_postgres_urls_use_psycopg3() -> None:
    assert normalise_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_postgresql_sessions_run_without_jit(db: Database) -> None:
    """The console's searches would pay 10–35 ms of JIT compiling (docs/benchmarks.md)."""
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL only")
    with db.session() as session:
        assert session.scalar(text("SHOW jit")) == "off"
        assert session.scalar(text("SHOW timezone")) == "UTC"
