from __future__ import annotations

from datetime import timedelta

import pytest

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import Conflict, Throttled, ValidationFailed
from homeport.identity import actions
from homeport.subscribers.models import Subscriber
from tests.conftest import PASSWORD, TEST_ACTOR

THROTTLE = actions.Throttle(3, timedelta(minutes=15))


@pytest.fixture
def subscriber_id(db: Database, clock: ManualClock) -> int:
    with db.transaction() as s:
        sub = Subscriber(
            account_number="ACC-1",
            name="Ann",
            email="ann@example.net",
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        s.add(sub)
        s.flush()
        return sub.id


def test_account_signs_in_and_is_throttled(
    db: Database, clock: ManualClock, subscriber_id: int
) -> None:
    with db.transaction() as s:
        actions.create_subscriber_account(
            s,
            subscriber_id=subscriber_id,
            email="Ann@Example.net",
            password=PASSWORD,
            actor=TEST_ACTOR,
            now=clock.now(),
        )

    def attempt(password: str) -> int | None:
        with db.transaction() as s:
            account = actions.authenticate_subscriber(
                s,
                email="ann@example.net",
                password=password,
                client="10.0.0.9",
                now=clock.now(),
                throttle=THROTTLE,
            )
            return account.subscriber_id if account else None

    assert attempt(PASSWORD) == subscriber_id
    assert [attempt("wrong password") for _ in range(3)] == [None, None, None]
    with pytest.raises(Throttled):
        attempt(PASSWORD)
    clock.advance(timedelta(minutes=16))
    assert attempt(PASSWORD) == subscriber_id


def test_staff_and_subscriber_throttles_are_separate(
    db: Database, clock: ManualClock, subscriber_id: int
) -> None:
    with db.transaction() as s:
        actions.create_subscriber_account(
            s,
            subscriber_id=subscriber_id,
            email="ann@example.net",
            password=PASSWORD,
            actor=TEST_ACTOR,
            now=clock.now(),
        )
    for _ in range(3):
        with db.transaction() as s:
            assert (
                actions.authenticate_staff(
                    s,
                    email="ann@example.net",
                    password="nope nope 1",
                    client="10.0.0.9",
                    now=clock.now(),
                    throttle=THROTTLE,
                )
                is None
            )
    with db.transaction() as s:
        assert (
            actions.authenticate_subscriber(
                s,
                email="ann@example.net",
                password=PASSWORD,
                client="10.0.0.9",
                now=clock.now(),
                throttle=THROTTLE,
            )
            is not None
        )


def test_account_rules(db: Database, clock: ManualClock, subscriber_id: int) -> None:
    with db.transaction() as s:
        actions.create_subscriber_account(
            s,
            subscriber_id=subscriber_id,
            email="ann@example.net",
            password=None,
            actor=TEST_ACTOR,
            now=clock.now(),
        )
    with pytest.raises(Conflict), db.transaction() as s:
        actions.create_subscriber_account(
            s,
            subscriber_id=subscriber_id,
            email="ANN@example.net",
            password=PASSWORD,
            actor=TEST_ACTOR,
            now=clock.now(),
        )
    with pytest.raises(ValidationFailed, match="e-mail"), db.transaction() as s:
        actions.create_subscriber_account(
            s,
            subscriber_id=subscriber_id,
            email="not-an-email",
            password=PASSWORD,
            actor=TEST_ACTOR,
            now=clock.now(),
        )
    # An account without a password (a one-time-link account) cannot sign in with one.
    with db.transaction() as s:
        assert (
            actions.authenticate_subscriber(
                s,
                email="ann@example.net",
                password="",
                client="x",
                now=clock.now(),
                throttle=THROTTLE,
            )
            is None
        )
