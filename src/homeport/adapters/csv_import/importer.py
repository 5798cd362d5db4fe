"""Importing a CSV file of plans, topology or subscribers: all rows or none.

1. **Read** (no database): decode, check the header, turn every row into the domains' input
   schemas, check keys are unique in the file and rows agree with each other (:mod:`formats`).
   A file that cannot be read as a table, or with :data:`parse.MAX_ERRORS` problems, stops here.
2. **Write**: in one transaction, read the file again and hand every good row to the domain
   actions, which look up references (unknown plan, port, bundle...) and enforce their rules
   (port capacity, node kind). Rows go in chunks of :data:`CHUNK`: the rows a chunk names are
   looked up in a few queries, then the chunk is flushed, so memory stays flat on big files.
3. If any row failed in either pass, the transaction is rolled back and every problem is
   reported with its line number (the first :data:`parse.MAX_ERRORS`, and the total). A
   database error rolls everything back too. Otherwise the import commits with one audit entry
   for the whole file. A **dry run** does all of this (flush included, so the database's own
   checks run) and rolls back instead of committing: its counts are those of the real import.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from homeport.adapters.csv_import import formats
from homeport.adapters.csv_import.formats import (
    FileChecks,
    ParsedRow,
    PlanRow,
    RowInvalid,
    SubscriberRow,
    TopologyRow,
)
from homeport.adapters.csv_import.parse import MAX_ERRORS, Problems, Table, read_table
from homeport.audit.actions import Actor, record
from homeport.core.db import Database
from homeport.core.errors import (
    Conflict,
    FieldError,
    HomeportError,
    ServiceUnavailable,
    ValidationFailed,
)
from homeport.core.events import Event, publish
from homeport.core.writes import Outcome, chunks
from homeport.network import actions as network
from homeport.subscribers import actions as subscribers

log = logging.getLogger(__name__)
#: Rows written between flushes (and looked up together).
CHUNK = 1000

#: ``progress(stage, done, total)``; stage is "reading", "writing" or "checking" (dry run).
Progress = Callable[[str, int, int], None]


class ImportResult(BaseModel):
    """What an import did (or, for a dry run, would do)."""

    kind: str
    file: str
    rows: int
    created: int
    updated: int
    unchanged: int
    dry_run: bool
    #: Per kind of record: e.g. ``{"region": {"created": 1, "updated": 0, "unchanged": 3}}``.
    entities: dict[str, dict[str, int]]


@dataclass(frozen=True)
class ImportCompleted(Event):
    kind: str
    file: str
    rows: int
    created: int
    updated: int
    unchanged: int


class _Tally:
    def __init__(self, *entities: str) -> None:
        self.counts: dict[str, Counter[str]] = {e: Counter() for e in entities}

    def add(self, entity: str, outcome: Outcome) -> None:
        self.counts[entity][outcome] += 1

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            entity: {o: counts[o] for o in ("created", "updated", "unchanged")}
            for entity, counts in self.counts.items()
        }


def _renamed(exc: HomeportError, columns: dict[str, str]) -> list[FieldError]:
    """An action's error as errors on CSV columns (the line is added by the caller)."""
    if isinstance(exc, ValidationFailed) and exc.errors:
        return [FieldError(columns.get(e.field, e.field), e.message) for e in exc.errors]
    return [FieldError("row", exc.message)]


class _RowFailed(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} errors")
        self.errors = errors


def _step(columns: dict[str, str], action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return action(*args, **kwargs)
    except HomeportError as exc:
        raise _RowFailed(_renamed(exc, columns)) from exc


class _Writer:
    entities: tuple[str, ...] = ()

    def __init__(self, session: Session, actor: Actor, now: datetime) -> None:
        self.session, self.actor, self.now = session, actor, now
        self.tally = _Tally(*self.entities)

    def prepare(self, rows: Sequence[Any]) -> None:
        """Look up what the next chunk of rows refers to."""
        raise NotImplementedError

    def write(self, row: Any) -> Outcome:
        raise NotImplementedError

    @property
    def _common(self) -> dict[str, Any]:
        return {"actor": self.actor, "now": self.now, "audit": False}


class _PlanWriter(_Writer):
    entities = ("plan",)

    def __init__(self, session: Session, actor: Actor, now: datetime) -> None:
        super().__init__(session, actor, now)
        self.known = subscribers.Known()

    def prepare(self, rows: Sequence[PlanRow]) -> None:
        self.known.fetch(self.session, plans=[r.plan.code for r in rows])

    def write(self, row: PlanRow) -> Outcome:
        saved = _step(
            {}, subscribers.upsert_plan, self.session, row.plan, known=self.known, **self._common
        )
        self.tally.add("plan", saved.outcome)
        return saved.outcome  # type: ignore[no-any-return]


class _TopologyWriter(_Writer):
    entities = ("region", "access_node", "port")

    def __init__(self, session: Session, actor: Actor, now: datetime) -> None:
        super().__init__(session, actor, now)
        self.known = network.Known()

    def prepare(self, rows: Sequence[TopologyRow]) -> None:
        self.known.fetch(
            self.session,
            regions=[r.region.code for r in rows],
            nodes=[r.node.code for r in rows],
            ports=[(r.port.access_node_code, r.port.name) for r in rows],
        )

    def write(self, row: TopologyRow) -> Outcome:
        common = {"known": self.known, **self._common}
        region = _step(
            {"code": "region_code", "name": "region_name"},
            network.upsert_region,
            self.session,
            row.region,
            **common,
        )
        node = _step(
            {"kind": "access_node_kind", "name": "access_node_name"},
            network.upsert_access_node,
            self.session,
            row.node,
            **common,
        )
        port = _step({"name": "port"}, network.upsert_port, self.session, row.port, **common)
        for entity, saved in (("region", region), ("access_node", node), ("port", port)):
            self.tally.add(entity, saved.outcome)
        if port.created:
            return "created"
        return "updated" if region.changed or node.changed or port.changed else "unchanged"


class _SubscriberWriter(_Writer):
    entities = ("subscriber", "home", "bundles")

    def __init__(self, session: Session, actor: Actor, now: datetime) -> None:
        super().__init__(session, actor, now)
        self.known = subscribers.Known()
        self.network = network.Known()

    def prepare(self, rows: Sequence[SubscriberRow]) -> None:
        # Subscribers and homes are looked up per chunk and then forgotten (keys are unique in
        # a file, so no later row needs them); plans, bundles and ports stay known.
        self.known.subscribers.clear()
        self.network.homes.clear()
        self.known.fetch(
            self.session,
            plans=[r.subscriber.plan_code for r in rows if r.subscriber.plan_code],
            bundles=[c for r in rows if r.bundles for c in r.bundles.codes],
            subscribers=[r.subscriber.account_number for r in rows],
        )
        self.network.fetch(
            self.session,
            homes_of=[s for s in self.known.subscribers.values() if s is not None],
            ports=[
                (r.home.access_node_code, r.home.port)
                for r in rows
                if r.home and r.home.access_node_code and r.home.port
            ],
            nodes=[r.home.access_node_code for r in rows if r.home and r.home.access_node_code],
        )

    def write(self, row: SubscriberRow) -> Outcome:
        saved = _step(
            {},
            subscribers.upsert_subscriber,
            self.session,
            row.subscriber,
            known=self.known,
            **self._common,
        )
        sub = saved.row
        if saved.created:
            self.network.homes[sub.account_number] = None  # a new subscriber has no home yet
        changed = bool(saved.changed)
        self.tally.add("subscriber", saved.outcome)
        failures: list[FieldError] = []
        if row.bundles is not None:
            try:
                bundles = _step(
                    {},
                    subscribers.set_subscriber_bundles,
                    self.session,
                    sub,
                    row.bundles,
                    known=self.known,
                    **self._common,
                )
            except _RowFailed as exc:
                failures.extend(exc.errors)
            else:
                self.tally.add("bundles", bundles.outcome)
                changed = changed or bool(bundles.changed)
        if row.home is not None:
            try:
                home = _step(
                    {},
                    network.attach_home,
                    self.session,
                    sub,
                    row.home,
                    known=self.network,
                    **self._common,
                )
            except _RowFailed as exc:
                failures.extend(exc.errors)
            else:
                self.tally.add("home", home.outcome)
                changed = changed or home.created or bool(home.changed)
        if failures:
            raise _RowFailed(failures)
        if saved.created:
            return "created"
        return "updated" if changed else "unchanged"


_WRITERS: dict[str, type[_Writer]] = {
    "plans": _PlanWriter,
    "topology": _TopologyWriter,
    "subscribers": _SubscriberWriter,
}


class _Ticker:
    """Calls ``progress`` about 200 times per pass, not once per row."""

    def __init__(self, progress: Progress | None, stage: str, total: int) -> None:
        self.progress, self.stage, self.total = progress, stage, total
        self.step = max(1, total // 200)
        self.next = 0

    def __call__(self, done: int) -> None:
        if self.progress is not None and (done >= self.next or done == self.total):
            self.progress(self.stage, min(done, self.total), self.total)
            self.next = done + self.step

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(self.stage, self.total, self.total)


def _parsed(
    table: Table, fmt: formats.Format, problems: Problems, tick: _Ticker | None = None
) -> Iterator[ParsedRow]:
    """The rows of ``table`` that are valid on their own; problems noted in ``problems``."""
    checks = FileChecks()
    for row in table.rows(problems):
        try:
            yield fmt.parse(row, checks)
        except RowInvalid as exc:
            problems.extend(exc.errors)
        if tick is not None:
            tick(row.line)


class _DatabaseFailed(Exception):
    """A database error while writing, with the line being written (rows are flushed in
    chunks, so the row at fault is this one or one of the chunk before it)."""

    def __init__(self, error: IntegrityError | OperationalError, line: int) -> None:
        super().__init__(str(error))
        self.error, self.line = error, line


def _database_error(exc: Exception, file_name: str, line: int | None) -> HomeportError:
    orig = getattr(exc, "orig", None)
    reason = ((str(orig) if orig else str(exc)).strip().splitlines() or ["unknown"])[0]
    where = f"{file_name} near line {line}" if line else f"{file_name}"
    if isinstance(exc, IntegrityError):
        return Conflict(
            f"{where}: the database refused a row ({reason}), perhaps because "
            "someone changed the same records meanwhile; nothing was imported, "
            "try again"
        )
    return ServiceUnavailable(f"{where}: database error ({reason}); nothing was imported")


def import_csv(
    db: Database,
    kind: str,
    data: bytes,
    *,
    file_name: str,
    actor: Actor,
    now: datetime,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import ``data`` (the bytes of a CSV file) as ``kind`` ("plans", "topology" or
    "subscribers"). Raises :class:`ValidationFailed` listing the problems, having changed
    nothing; a database failure rolls back and raises :class:`Conflict` or
    :class:`ServiceUnavailable`."""
    fmt = formats.FORMATS.get(kind)
    if fmt is None:
        raise ValidationFailed(
            "unknown import kind",
            [FieldError("kind", f"{kind!r} is not one of {', '.join(formats.KINDS)}")],
        )
    problems = Problems(limit=MAX_ERRORS)
    table = read_table(
        data,
        required=fmt.required,
        optional=fmt.optional,
        problems=problems,
        guess=formats.guess_kind(kind),
    )
    if table is None:
        raise problems.failure(file_name)
    reading = _Ticker(progress, "reading", table.lines)
    for _ in _parsed(table, fmt, problems, reading):
        pass
    reading.finish()
    if problems.full:
        raise problems.failure(file_name)
    try:
        with db.transaction() as session:
            result = _write(
                session,
                table,
                fmt,
                problems,
                file_name=file_name,
                actor=actor,
                now=now,
                dry_run=dry_run,
                progress=progress,
            )
            if dry_run:
                session.flush()  # let the database check every row too
                session.rollback()  # then undo it all; the commit that follows is empty
    except _DatabaseFailed as failed:
        log.warning("import of %s failed near line %d", file_name, failed.line, exc_info=True)
        raise _database_error(failed.error, file_name, failed.line) from failed.error
    except (IntegrityError, OperationalError) as exc:
        log.warning("import of %s failed at commit", file_name, exc_info=True)
        raise _database_error(exc, file_name, None) from exc
    log.info(
        "%s %s",
        "checked" if dry_run else "imported",
        file_name,
        extra={
            "import_kind": kind,
            "import_rows": result.rows,
            "import_created": result.created,
            "import_updated": result.updated,
            "import_unchanged": result.unchanged,
            "import_dry_run": dry_run,
        },
    )
    return result


def _write(
    session: Session,
    table: Table,
    fmt: formats.Format,
    problems: Problems,
    *,
    file_name: str,
    actor: Actor,
    now: datetime,
    dry_run: bool,
    progress: Progress | None,
) -> ImportResult:
    """The second pass, in the caller's transaction; raises if any row failed."""
    writer = _WRITERS[fmt.kind](session, actor, now)
    outcomes: Counter[str] = Counter()
    tick = _Ticker(progress, "checking" if dry_run else "writing", table.lines)
    # Problems of the first pass are already counted: the rows are read again quietly.
    for chunk in chunks(_parsed(table, fmt, Problems()), CHUNK):
        line = chunk[0].line
        try:
            writer.prepare(chunk)
            for row in chunk:
                line = row.line
                try:
                    outcomes[writer.write(row)] += 1
                except _RowFailed as exc:
                    problems.extend([FieldError(e.field, e.message, row.line) for e in exc.errors])
                    if problems.full:  # enough to fix; spare the database the rest
                        problems.incomplete = True
                        raise problems.failure(file_name) from None
                tick(row.line)
            session.flush()
        except (IntegrityError, OperationalError) as exc:
            raise _DatabaseFailed(exc, line) from exc
    tick.finish()
    if problems:
        raise problems.failure(file_name)
    result = ImportResult(
        kind=fmt.kind,
        file=file_name,
        rows=sum(outcomes.values()),
        created=outcomes["created"],
        updated=outcomes["updated"],
        unchanged=outcomes["unchanged"],
        dry_run=dry_run,
        entities=writer.tally.as_dict(),
    )
    record(
        session,
        at=now,
        actor=actor,
        action="import.completed",
        entity_type="csv_import",
        entity_id=fmt.kind,
        file=file_name,
        rows=result.rows,
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        entities=result.entities,
    )
    publish(
        session,
        ImportCompleted(
            fmt.kind, file_name, result.rows, result.created, result.updated, result.unchanged
        ),
    )
    return result
