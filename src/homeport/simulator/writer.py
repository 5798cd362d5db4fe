"""Bulk loading of a freshly generated fleet, in large batches inside the caller's transaction.

This is a fixture loader, not a domain write path: it inserts hundreds of thousands of rows
that the simulator generated itself, with explicit primary keys, into empty tables. Columns
are converted in bulk first (numpy datetimes become what :class:`homeport.core.db.UTCDateTime`
stores: naive UTC text on SQLite, UTC text with its offset for PostgreSQL's COPY), because
per-value type processing would cost most of the time budget. Then, per batch:

* SQLite: the table's INSERT as SQLAlchemy compiles it for the
  dialect, run through the driver's executemany (``Connection.exec_driver_sql``);
* PostgreSQL: ``COPY ... FROM STDIN`` through psycopg on the same connection, several times
  faster than an INSERT per row.

Unique and foreign-key constraints are enforced as rows arrive; on SQLite, CHECK constraints and
secondary indexes are applied once after the load (:meth:`BulkWriter.bulk_load`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import CheckConstraint, Connection, Table, func, select, text
from sqlalchemy.exc import IntegrityError

from homeport.core.db import UTCDateTime

Progress = Callable[[str, int, int], None]
ColumnData = np.ndarray | Sequence[Any]


class BulkWriter:
    def __init__(
        self, conn: Connection, progress: Progress | None = None, batch_rows: int = 20_000
    ) -> None:
        if conn.dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(
                f"bulk loading supports SQLite and PostgreSQL, not {conn.dialect.name}"
            )
        self.conn = conn
        self.dialect = conn.dialect
        self.progress = progress
        self.batch_rows = batch_rows
        self.counts: dict[str, int] = {}

    def _values(self, table: Table, name: str, data: ColumnData) -> list[Any]:
        column = table.c[name]
        if isinstance(column.type, UTCDateTime):
            return self._datetimes(data)
        if isinstance(data, np.ndarray):
            if data.dtype.kind == "M":
                raise TypeError(f"{table.name}.{name} is not a datetime column")
            values: list[Any] = data.tolist()
            return values
        return list(data)

    def _datetimes(self, data: ColumnData) -> list[Any]:
        """datetime64 (NaT = NULL) → text in UTC: naive "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite
        (SQLAlchemy's storage format there), the same with "+00:00" for PostgreSQL's COPY."""
        arr = np.asarray(data)
        if arr.dtype.kind != "M":
            raise TypeError("datetime columns take numpy datetime64 arrays (UTC)")
        arr = arr.astype("datetime64[us]")
        text_values = np.char.replace(np.datetime_as_string(arr, unit="us"), "T", " ")
        if self.dialect.name != "sqlite":
            text_values = np.char.add(text_values, "+00:00")
        missing = np.isnat(arr).tolist()
        return [None if gone else v for v, gone in zip(text_values.tolist(), missing, strict=True)]

    def insert(
        self,
        table: Table,
        columns: Mapping[str, ColumnData],
        *,
        stage: str,
        done_before: int = 0,
        total: int | None = None,
    ) -> int:
        """Insert the rows given column-wise; returns how many. ``done_before``/``total`` let
        several calls (chunks) report one stage's progress."""
        names = list(columns)
        unknown = [c for c in names if c not in table.c]
        if unknown:
            raise ValueError(f"{table.name} has no column(s) {unknown}")
        required = [c.name for c in table.c if not c.nullable and c.name not in columns]
        if required:
            raise ValueError(f"{table.name}: no values for NOT NULL column(s) {required}")
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"{table.name}: columns of different lengths {sorted(lengths)}")
        n = lengths.pop() if lengths else 0
        values = [self._values(table, name, columns[name]) for name in names]
        total = total if total is not None else n
        if self.dialect.name == "postgresql":
            send = self._copy(table, names)
        else:
            send = self._executemany(table, names)
        rows = list(zip(*values, strict=True))
        for start in range(0, n, self.batch_rows):
            batch = rows[start : start + self.batch_rows]
            send(batch)
            if self.progress:
                self.progress(stage, done_before + start + len(batch), total)
        if self.progress and n == 0:
            self.progress(stage, done_before, total)
        self.counts[table.name] = self.counts.get(table.name, 0) + n
        return n

    def _executemany(
        self, table: Table, names: list[str]
    ) -> Callable[[list[tuple[Any, ...]]], None]:
        """The table's INSERT as SQLAlchemy compiles it for this dialect, run as the driver's
        executemany (no per-value type processing: values are converted already)."""
        compiled = table.insert().compile(dialect=self.dialect, column_keys=names)
        defaulted = [key for key in compiled.params if key not in names]
        if defaulted:  # Python-side defaults are not applied on this path: pass them
            raise ValueError(f"{table.name}: give values for {defaulted} explicitly")
        positions = [names.index(key) for key in compiled.positiontup or ()]

        def send(batch: list[tuple[Any, ...]]) -> None:
            if compiled.positional:
                params: list[Any] = [tuple(row[i] for i in positions) for row in batch]
            else:
                params = [dict(zip(names, row, strict=True)) for row in batch]
            self.conn.exec_driver_sql(compiled.string, params)

        return send

    def _copy(self, table: Table, names: list[str]) -> Callable[[list[tuple[Any, ...]]], None]:
        """PostgreSQL: COPY FROM STDIN through psycopg, on this transaction's connection."""
        import psycopg
        from psycopg import sql

        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(n) for n in names)
        )
        driver = self.conn.connection.driver_connection
        if driver is None:  # pragma: no cover - a live connection always has one
            raise RuntimeError("no database connection")

        def send(batch: list[tuple[Any, ...]]) -> None:
            try:
                with driver.cursor() as cur, cur.copy(statement) as copy:
                    for row in batch:
                        copy.write_row(row)
            except psycopg.IntegrityError as exc:  # as SQLAlchemy would have raised it
                raise IntegrityError(f"COPY {table.name}", None, exc) from exc

        return send

    def insert_rows(
        self,
        table: Table,
        rows: list[dict[str, Any]],
        *,
        stage: str,
        done_before: int = 0,
        total: int | None = None,
    ) -> int:
        """A few rows through SQLAlchemy's own type processing (catalogue tables)."""
        if rows:
            self.conn.execute(table.insert(), rows)
        if self.progress:
            self.progress(stage, done_before + len(rows), total or len(rows))
        self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)
        return len(rows)

    def ensure_transaction(self) -> None:
        """Open the transaction at the driver level now. Python's sqlite3 module only opens one
        implicitly before INSERT/UPDATE/DELETE, so reads and DDL issued earlier would run (and
        DDL would commit) outside it; an explicit BEGIN makes them part of it."""
        driver = self.conn.connection.driver_connection
        if self.dialect.name == "sqlite" and driver is not None and not driver.in_transaction:
            self.conn.exec_driver_sql("BEGIN")

    @contextmanager
    def bulk_load(self, tables: Sequence[Table]) -> Iterator[None]:
        """Check constraints and build secondary indexes once, after the load, on SQLite.

        SQLite evaluates CHECK constraints and updates every index row by row, which dominates
        a bulk load. For the duration of the block this connection skips CHECKs
        (``ignore_check_constraints``) and the non-unique indexes of ``tables`` are dropped;
        afterwards the indexes are recreated from their own stored SQL and every CHECK of
        ``tables`` is verified with one counting query. A violation raises, so the caller's
        transaction rolls back and the schema and data stay as they were (SQLite DDL is
        transactional). Unique and foreign-key constraints are enforced throughout.
        PostgreSQL checks cheaply as it inserts, so there the block changes nothing.
        """
        if self.dialect.name != "sqlite":
            yield
            return
        self.ensure_transaction()
        names = ", ".join(f"'{t.name}'" for t in tables)
        query = f"SELECT name, sql FROM sqlite_master WHERE tbl_name IN ({names}) "  # noqa: S608
        found = self.conn.exec_driver_sql(query + "AND type = 'index' AND sql IS NOT NULL").all()
        indexes = [(n, sql) for n, sql in found if not sql.upper().startswith("CREATE UNIQUE")]
        quote = self.dialect.identifier_preparer.quote
        for name, _ in indexes:
            self.conn.exec_driver_sql(f"DROP INDEX {quote(name)}")
        self.conn.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
        try:
            yield
        finally:
            self.conn.exec_driver_sql("PRAGMA ignore_check_constraints = OFF")
        checks = [(t, c) for t in tables for c in t.constraints if isinstance(c, CheckConstraint)]
        steps = len(indexes) + len(checks)
        for i, (_, sql) in enumerate(indexes):
            self.conn.exec_driver_sql(sql)
            if self.progress:
                self.progress("indexes, checks", i + 1, steps)
        for i, (table, check) in enumerate(checks, start=len(indexes)):
            name = self.dialect.identifier_preparer.format_table(table)
            bad = self.conn.execute(
                text(
                    f"SELECT count(*) FROM {name} "  # noqa: S608
                    f"WHERE NOT ({check.sqltext})"
                )
            ).scalar_one()
            if bad:
                message = f"{bad} rows of {table.name} violate {check.name}"
                raise IntegrityError(message, None, ValueError(message))
            if self.progress:
                self.progress("indexes, checks", i + 1, steps)

    def reset_sequences(self, tables: Sequence[Table]) -> None:
        """PostgreSQL: move each ``id`` sequence past the explicit ids just inserted."""
        if self.dialect.name != "postgresql":
            return
        for table in tables:
            if "id" not in table.c or not table.c.id.autoincrement:
                continue
            top = self.conn.execute(select(func.max(table.c.id))).scalar()
            if top is not None:
                self.conn.execute(
                    text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v)"),
                    {"t": table.name, "v": int(top)},
                )


def as_aware(value: np.datetime64) -> datetime | None:
    """A numpy UTC datetime as a timezone-aware :class:`datetime` (NaT → None)."""
    if np.isnat(value):
        return None
    naive: datetime = value.astype("datetime64[us]").item()
    return naive.replace(tzinfo=UTC)


def to_datetime64(value: datetime) -> np.datetime64:
    """An aware datetime as a numpy UTC datetime64[us]."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: Homeport works in timezone-aware UTC")
    return np.datetime64(value.astimezone(UTC).replace(tzinfo=None), "us")
