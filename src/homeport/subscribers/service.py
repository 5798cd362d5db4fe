"""Reads of the subscribers domain: subscribers, plans, bundles and the text search over them.

Searches that also need the home network or topology (technology, port, gateway device id)
live in :mod:`homeport.network.service`, which sits above this domain and composes the
conditions built here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, func, literal_column, or_, select
from sqlalchemy.orm import Session

from homeport.core.errors import FieldError, NotFound, ValidationFailed
from homeport.subscribers.models import JOURNEY_STAGES, STATUSES, Plan, Subscriber

#: Ids are 32-bit integer columns on every backend.
MAX_ID = 2**31 - 1
#: The longest search text accepted: longer input is a mistake or an attack, not a search.
MAX_QUERY_LENGTH = 100
#: At most this many words of a name query are matched (each must appear in the name).
MAX_NAME_WORDS = 5
#: A phone search needs at least this many digits, so "1" does not match every number.
MIN_PHONE_DIGITS = 4
#: Characters people type inside phone numbers and postcodes, ignored when matching.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PHONE_SEPARATORS = (" ", "-", "(", ")", "+", ".", "/")


def get_subscriber(session: Session, subscriber_id: int) -> Subscriber:
    """The subscriber with its plan (joined) and bundles (one extra query); 404 if unknown."""
    if not 1 <= subscriber_id <= MAX_ID:  # out of the column's range: SQLite would overflow
        raise NotFound(f"no subscriber with id {subscriber_id}")
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise NotFound(f"no subscriber with id {subscriber_id}")
    return subscriber


@dataclass(frozen=True)
class PlanRow:
    plan: Plan
    subscriber_count: int


def list_plans(session: Session, *, active_only: bool = False) -> list[PlanRow]:
    """Every plan (cheapest first) with how many subscribers are on it, in one query."""
    counts = (
        select(Subscriber.plan_id, func.count().label("n"))
        .where(Subscriber.plan_id.is_not(None))
        .group_by(Subscriber.plan_id)
        .subquery()
    )
    stmt = (
        select(Plan, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.plan_id == Plan.id)
        .order_by(Plan.monthly_price, Plan.down_mbps, Plan.name, Plan.id)
    )
    if active_only:
        stmt = stmt.where(Plan.is_active.is_(True))
    return [PlanRow(plan, int(n)) for plan, n in session.execute(stmt).all()]


def plan_choices(session: Session) -> list[tuple[int, str]]:
    """(id, name) of every plan, for filter menus."""
    rows = session.execute(select(Plan.id, Plan.name).order_by(Plan.name, Plan.id)).all()
    return [(int(pid), str(name)) for pid, name in rows]


def check_choice(field: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    """``value`` if it is one of ``allowed`` (empty means "any"), else a 422 with the choices."""
    if value is None or value == "":
        return None
    if value not in allowed:
        raise ValidationFailed(
            f"unknown {field.replace('_', ' ')} {value!r}",
            [FieldError(field, f"choose one of {', '.join(allowed)}")],
        )
    return value


def check_status(value: str | None) -> str | None:
    return check_choice("status", value, STATUSES)


def check_journey_stage(value: str | None) -> str | None:
    return check_choice("journey_stage", value, JOURNEY_STAGES)


def clean_query(q: str | None) -> str:
    """Drop control characters (PostgreSQL refuses NUL), trim and collapse whitespace; reject
    over-long input with a clear message."""
    text = " ".join(_CONTROL.sub(" ", q or "").split())
    if len(text) > MAX_QUERY_LENGTH:
        raise ValidationFailed(
            "search text too long", [FieldError("q", f"at most {MAX_QUERY_LENGTH} characters")]
        )
    return text


def _without(column: SQLColumnExpression[str], chars: tuple[str, ...]) -> ColumnElement[str]:
    """``column`` with each of ``chars`` removed (nested ``replace``: SQLite and PostgreSQL)."""
    # The characters are SQL constants, not bound parameters, so that the expression is the
    # same text every time and a PostgreSQL expression index on it can be used.
    empty: ColumnElement[str] = literal_column("''")
    expr: ColumnElement[str] = func.replace(column, literal_column(f"'{chars[0]}'"), empty)
    for ch in chars[1:]:
        expr = func.replace(expr, literal_column(f"'{ch}'"), empty)
    return expr


def phone_digits(column: SQLColumnExpression[str]) -> ColumnElement[str]:
    """A stored phone number with its usual separators removed, as SQL."""
    return _without(column, _PHONE_SEPARATORS)


def postcode_compact(column: SQLColumnExpression[str]) -> ColumnElement[str]:
    """A stored postcode without spaces, as SQL ("SW1A 1AA" → "SW1A1AA")."""
    return _without(column, (" ",))


def text_match(q: str) -> ColumnElement[bool] | None:
    """SQL that is true when a subscriber's own fields match the search text ``q``.

    Case-insensitive (``ILIKE`` on PostgreSQL, ``lower() LIKE lower()`` on SQLite; SQLite folds
    ASCII letters only), with ``%`` and ``_`` in the input taken literally:

    - name: every word of ``q`` appears in the name, in any order ("smith ali" finds
      "Alice Smith");
    - account number, e-mail: contain ``q``;
    - postcode: contains ``q`` with spaces ignored on both sides;
    - phone: when ``q`` is a number (separators such as spaces, ``+`` and ``-`` ignored) of at
      least four digits, the stored number with its separators removed contains it; a leading
      0 (a national trunk prefix) is dropped so "020 7946 0001" finds "+44 20 7946 0001".

    ``None`` for an empty query.
    """
    q = clean_query(q)
    if not q:
        return None
    words = q.split(" ")[:MAX_NAME_WORDS]
    branches: list[ColumnElement[bool]] = [
        and_(*(Subscriber.name.icontains(word, autoescape=True) for word in words)),
        Subscriber.account_number.icontains(q, autoescape=True),
        Subscriber.email.icontains(q.lower(), autoescape=True),
    ]
    compact = q.replace(" ", "")
    if compact:
        branches.append(postcode_compact(Subscriber.postcode).icontains(compact, autoescape=True))
    digits = q
    for ch in _PHONE_SEPARATORS:
        digits = digits.replace(ch, "")
    # Only a query that is a number searches phones ("Flat 12" does not look for "12").
    if digits.isascii() and digits.isdigit():
        if digits.startswith("0"):
            digits = digits[1:]
        if len(digits) >= MIN_PHONE_DIGITS:
            branches.append(phone_digits(Subscriber.phone).contains(digits, autoescape=True))
    return or_(*branches)
