"""Shared fixtures. Database tests run on SQLite and, when HOMEPORT_TEST_DATABASE_URL points at a
PostgreSQL server, on PostgreSQL too (a throw-away database is created and dropped)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from homeport import migrations
from homeport.audit.actions import Actor
from homeport.core.clock import ManualClock
from homeport.core.db import Base, Database, normalise_url
from homeport.core.settings import Settings
from homeport.identity import actions as identity_actions
from homeport.identity.models import StaffUser

PG_URL = os.environ.get("HOMEPORT_TEST_DATABASE_URL", "")
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
TEST_ACTOR = Actor("system", None, "tests")

migrations.import_all_models()


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> Iterator[None]:
    """Real Argon2id with its cheapest parameters: the tests check behaviour, not strength."""
    from argon2 import PasswordHasher

    from homeport.identity import passwords

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    patch = pytest.MonkeyPatch()
    patch.setattr(passwords, "_hasher", cheap)
    patch.setattr(passwords, "_DUMMY_HASH", cheap.hash("dummy"))
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def _isolated_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's homeport.toml or HOMEPORT_* variables."""
    for key in list(os.environ):
        if key.startswith("HOMEPORT_") and key != "HOMEPORT_TEST_DATABASE_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOMEPORT_CONFIG", str(tmp_path / "absent-homeport.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture(autouse=True)
def _fresh_dashboard_cache() -> None:
    """Every test's database is emptied under the same URL: no dashboard cached by one test
    may answer the next (homeport.kpis.service.cached)."""
    from homeport.kpis import service

    service.forget_dashboards()


def _backends() -> list[object]:
    return [
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(not PG_URL, reason="HOMEPORT_TEST_DATABASE_URL is not set"),
        ),
    ]


@pytest.fixture(scope="session", params=_backends())
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database for the whole session, per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        migrations.upgrade(url)
        yield url
        return
    name = f"homeport_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
    try:
        migrations.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _empty_all_tables(db: Database) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    # DELETE, children first, rather than one TRUNCATE: a test leaves a few rows in a few tables,
    # and TRUNCATE of every table costs about 230 ms on PostgreSQL against about 15 ms for DELETE.
    with db.engine.begin() as conn:
        for t in tables:
            conn.execute(text(f'DELETE FROM "{t}"'))
        if db.dialect == "postgresql":
            # As TRUNCATE ... RESTART IDENTITY did: every identity starts again at 1.
            conn.execute(
                text("SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S'")
            )


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    _empty_all_tables(database)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret-key-not-for-production",
        timezone="Europe/London",
        log_format="text",
    )


@pytest.fixture
def app(settings: Settings, db: Database, clock: ManualClock) -> FastAPI:
    from homeport.web.app import create_app

    return create_app(settings, db=db, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c


def make_staff(
    db: Database,
    clock: ManualClock,
    *,
    email: str = "agent@example.net",
    role: str = "agent",
    password: str = PASSWORD,
) -> StaffUser:
    with db.transaction() as session:
        return identity_actions.create_staff_user(
            session, email=email, role=role, password=password, actor=TEST_ACTOR, now=clock.now()
        )


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign in through the real form; returns the session's CSRF token."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "csrf_token": csrf_from(page.text),
            "next": "/",
        },
    )
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/login").text)


@pytest.fixture
def staff_client(client: TestClient, db: Database, clock: ManualClock) -> TestClient:
    """A client signed in as an agent."""
    make_staff(db, clock)
    login(client, "agent@example.net")
    return client
