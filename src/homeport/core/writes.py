"""Helpers for write actions that work alone or in batches (the CSV import).

``Saved`` says what an upsert did; ``apply`` changes only what differs and returns the changes
for the audit trail; ``load_by_key`` and ``cached`` let a batch look rows up once instead of once
per action.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

T = TypeVar("T")
K = TypeVar("K")
Outcome = Literal["created", "updated", "unchanged"]
#: Rows per ``IN (...)`` list when loading many rows by key.
CHUNK = 500


@dataclass(frozen=True)
class Saved(Generic[T]):
    """What an upsert did: the row, whether it was created, and which fields changed."""

    row: T
    created: bool
    changed: tuple[str, ...] = ()

    @property
    def outcome(self) -> Outcome:
        if self.created:
            return "created"
        return "updated" if self.changed else "unchanged"


def chunks(keys: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    batch: list[T] = []
    for key in keys:
        batch.append(key)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def load_by_key(
    session: Session, model: Any, column: Any, keys: Iterable[str], into: dict[str, Any]
) -> None:
    wanted = sorted(set(keys) - set(into))
    for key in wanted:
        into[key] = None
    for batch in chunks(wanted):
        for row in session.scalars(select(model).where(column.in_(batch))):
            into[getattr(row, column.key)] = row


def cached(cache: dict[K, T | None] | None, key: K, look_up: Callable[[], T | None]) -> T | None:
    """``cache[key]`` if known, else ``look_up()`` (remembered in ``cache`` if there is one)."""
    if cache is not None and key in cache:
        return cache[key]
    row = look_up()
    if cache is not None:
        cache[key] = row
    return row


def _jsonable(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def apply(row: object, values: dict[str, Any]) -> dict[str, list[object]]:
    """Set the values that differ; returns ``{field: [old, new]}`` for the audit trail."""
    changes: dict[str, list[object]] = {}
    for name, new in values.items():
        old = getattr(row, name)
        if old != new:
            setattr(row, name, new)
            changes[name] = [_jsonable(old), _jsonable(new)]
    return changes


def given(**values: Any) -> dict[str, Any]:
    """The values that were given (``None`` means "keep what is stored")."""
    return {k: v for k, v in values.items() if v is not None}
