"""Bulk write paths for telemetry ingest, on the session's own connection and transaction,
each measured faster than SQLAlchemy's executemany (``bench/ingest.py``):

- PostgreSQL: ``COPY`` into a temporary table, then one ``INSERT … SELECT … ON CONFLICT`` into
  the real table; or, for the batches of ingest, one ``INSERT … SELECT … FROM unnest(…)`` with
  a binary array per column;
- SQLite: multi-row ``INSERT … VALUES (…), (…) ON CONFLICT …`` statements with the values already
  in SQLite's storage format (the same text SQLAlchemy writes for a ``UTCDateTime``), which skips
  the per-value type processing that dominated the profile.

Table and column names come from the models, never from input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, String, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine


def _cursor(session: Session) -> Any:
    return session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]


def copy_merge(
    session: Session,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    conflict: str,
) -> list[tuple[Any, ...]]:
    """COPY ``rows`` into a per-connection staging table shaped like ``table`` and insert them
    with ``conflict`` (``ON CONFLICT … [RETURNING …]``); the returned rows, if any."""
    stage = f"{table}_in"
    cols = ", ".join(columns)
    with _cursor(session) as cur:
        # ON COMMIT DELETE ROWS empties it at each commit; DELETE covers a second call in the
        # same transaction. A rolled-back transaction drops it with everything else.
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT {cols} FROM {table} WITH NO DATA"
        )
        cur.execute(f"DELETE FROM {stage}")  # noqa: S608
        with cur.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} {conflict}")  # noqa: S608
        out: list[tuple[Any, ...]] = cur.fetchall() if cur.description else []
    return out


def unnest_merge(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    conflict: str,
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` with one ``INSERT … SELECT … FROM unnest(arrays) {conflict}``: a column
    each as an array parameter in binary format. For the few thousand rows of an ingest batch it
    takes less of the client's CPU than :func:`copy_merge` (whose ``write_row`` formats every
    value in Python; here psycopg's C dumpers turn whole lists into arrays) and one round trip
    instead of four. The returned rows, if any."""
    if not rows:
        return []
    types = [_array_type(table.c[name].type) for name in columns]
    values = ", ".join(
        f"{name}::json" if isinstance(table.c[name].type, JSON) else name for name in columns
    )
    names = ", ".join(columns)
    arrays = ", ".join(f"%b::{t}[]" for t in types)
    with _cursor(session) as cur:
        cur.execute(
            f"INSERT INTO {table.name} ({names}) SELECT {values} "  # noqa: S608 (model names)
            f"FROM unnest({arrays}) AS v({names}) {conflict}",
            [list(column) for column in zip(*rows, strict=True)],
            binary=True,
        )
        out: list[tuple[Any, ...]] = cur.fetchall() if cur.description else []
    return out


_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]


def _array_type(type_: TypeEngine[Any]) -> str:
    """The PostgreSQL element type an array parameter of a column is sent as (JSON as text,
    cast back in the SELECT so the stored text is the one sent)."""
    if isinstance(type_, JSON | String):
        return "text"
    return str(type_.compile(dialect=_POSTGRESQL))


def gateways_by_device(session: Session, device_ids: list[str]) -> list[tuple[str, int, int]]:
    """``(device_id, gateway id, home id)`` of the known devices among ``device_ids``.

    ``gateways.device_id`` has both a unique B-tree and a trigram GIN index (for search). For a
    long ``= ANY(array)`` list the planner picks a bitmap scan of the GIN index, which costs
    about 1 ms per id; with bitmap scans off for this one statement it uses the B-tree
    (about 10 ms for 1,000 ids, flat as the fleet grows).
    """
    with _cursor(session) as cur:
        cur.execute("SELECT current_setting('enable_bitmapscan')")
        (previous,) = cur.fetchone()
        cur.execute("SET LOCAL enable_bitmapscan = off")
        try:
            cur.execute(
                "SELECT device_id, id, home_id FROM gateways WHERE device_id = ANY(%s)",
                (device_ids,),
            )
            rows: list[tuple[str, int, int]] = cur.fetchall()
        finally:
            cur.execute("SELECT set_config('enable_bitmapscan', %s, true)", (previous,))
    return rows


def touch_gateways(session: Session, newest: dict[int, Any]) -> None:
    """Move ``gateways.last_seen_at`` forward to ``newest[gateway id]``, in one statement."""
    with _cursor(session) as cur:
        cur.execute(
            "UPDATE gateways AS g SET last_seen_at = v.ts "
            "FROM unnest(%s::integer[], %s::timestamptz[]) AS v(id, ts) "
            "WHERE g.id = v.id AND (g.last_seen_at IS NULL OR g.last_seen_at < v.ts)",
            (list(newest), list(newest.values())),
        )


#: SQLite's limit on bound values in one statement is 32,766; stay well under it.
SQLITE_MAX_VALUES = 30_000
#: How SQLAlchemy stores a DateTime on SQLite (naive UTC for ``UTCDateTime``).
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(SQLITE_DATETIME)
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


def sqlite_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def sqlite_insert(
    session: Session,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    conflict: str,
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` with multi-row VALUES statements ending in ``conflict``; the rows any
    ``RETURNING`` clause gave back."""
    per_statement = max(1, SQLITE_MAX_VALUES // len(columns))
    cols = ", ".join(columns)
    one = "(" + ", ".join("?" * len(columns)) + ")"
    out: list[tuple[Any, ...]] = []
    cur = _cursor(session)
    try:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            values = ", ".join([one] * len(chunk))
            cur.execute(
                f"INSERT INTO {table} ({cols}) VALUES {values} {conflict}",  # noqa: S608
                [sqlite_value(v) for row in chunk for v in row],
            )
            out.extend(cur.fetchall())
    finally:
        cur.close()
    return out
