"""``homeport import plans|topology|subscribers FILE.csv [--dry-run]``.

The file is imported whole or not at all: on any problem every error is printed as
``line N: column: message`` and the command exits with status 1, having changed nothing.
The formats are described in docs/import.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from homeport.adapters.csv_import.formats import FORMATS
from homeport.adapters.csv_import.importer import ImportResult, import_csv
from homeport.cli.context import CLI_ACTOR, console, fail, get, out
from homeport.core.errors import HomeportError, ValidationFailed

app = typer.Typer(
    help="Import plans, topology or subscribers from CSV files (all rows or none; "
    "see docs/import.md).",
    no_args_is_help=True,
)

#: Files with more data lines than this get a progress bar (on a terminal).
PROGRESS_FROM_LINES = 2000
_LABELS = {"reading": "reading", "writing": "importing", "checking": "checking"}


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise fail(f"cannot read {path}: no such file") from exc
    except IsADirectoryError as exc:
        raise fail(f"cannot read {path}: it is a directory, not a CSV file") from exc
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror or exc}") from exc


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with bar:
        yield bar


def _summary(result: ImportResult) -> list[str]:
    lead = "dry run, nothing written: would import" if result.dry_run else "imported"
    lines = [
        f"{lead} {result.file}: {result.rows} rows — {result.created} created, "
        f"{result.updated} updated, {result.unchanged} unchanged"
    ]
    if len(result.entities) > 1:
        for entity, counts in result.entities.items():
            done = [f"{n} {outcome}" for outcome, n in counts.items() if n]
            if done:
                lines.append(f"  {entity.replace('_', ' ')}: {', '.join(done)}")
    return lines


def _report(exc: HomeportError) -> typer.Exit:
    """Every error on its own line, ``line N: column: message``, then the summary."""
    if isinstance(exc, ValidationFailed):
        for err in exc.errors:
            console.print(str(err), highlight=False, markup=False, soft_wrap=True)
    return fail(exc.message)


def run(ctx: typer.Context, kind: str, path: Path, dry_run: bool) -> None:
    cli = get(ctx)
    data = _read_bytes(path)
    db = cli.migrated_db()
    big = data.count(b"\n") > PROGRESS_FROM_LINES and console.is_terminal
    with _progress_bar(big) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if bar is None:
                return
            if stage not in tasks:
                tasks[stage] = bar.add_task(_LABELS.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done)

        try:
            result = import_csv(
                db,
                kind,
                data,
                file_name=path.name,
                actor=CLI_ACTOR,
                now=cli.clock.now(),
                dry_run=dry_run,
                progress=progress,
            )
        except HomeportError as exc:
            raise _report(exc) from exc
    for line in _summary(result):
        out.print(line, highlight=False, markup=False, soft_wrap=True)


_FILE = typer.Argument(..., metavar="FILE.csv", help="The CSV file (UTF-8).", show_default=False)
_DRY_RUN = typer.Option(
    False, "--dry-run", help="Check everything and report what would change, without writing."
)


def _columns(kind: str) -> str:
    fmt = FORMATS[kind]
    return (
        f"Columns: {', '.join(fmt.required)}; optional: {', '.join(fmt.optional)}."
        if fmt.optional
        else f"Columns: {', '.join(fmt.required)}."
    )


@app.command("plans", help=f"Import broadband plans, matched on code. {_columns('plans')}")
def plans(ctx: typer.Context, path: Path = _FILE, dry_run: bool = _DRY_RUN) -> None:
    run(ctx, "plans", path, dry_run)


@app.command(
    "topology",
    help="Import regions, access nodes and ports (one row per port, "
    f"matched on access node and port). {_columns('topology')}",
)
def topology(ctx: typer.Context, path: Path = _FILE, dry_run: bool = _DRY_RUN) -> None:
    run(ctx, "topology", path, dry_run)


@app.command(
    "subscribers",
    help="Import subscribers, matched on account number, with their "
    f"home line and bundles. {_columns('subscribers')}",
)
def subscribers(ctx: typer.Context, path: Path = _FILE, dry_run: bool = _DRY_RUN) -> None:
    run(ctx, "subscribers", path, dry_run)
