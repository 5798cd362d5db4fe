"""Reading a CSV file: encoding, header, rows, with the physical line number of every row.

Nothing here knows what the columns mean; :mod:`formats` does. Problems are collected in a
:class:`Problems` list (capped) rather than raised one at a time, so a user fixes a file in one
pass rather than one error per attempt.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from homeport.core.errors import FieldError, ValidationFailed

#: Errors listed at most; the message still gives the total.
MAX_ERRORS = 100
BOM = codecs.BOM_UTF8


@dataclass
class Problems:
    """Errors found so far: the first :data:`MAX_ERRORS` kept, all counted."""

    limit: int = MAX_ERRORS
    errors: list[FieldError] = field(default_factory=list)
    count: int = 0
    #: The search stopped before the end of the file, so there may be more.
    incomplete: bool = False

    def add(self, column: str, message: str, line: int | None) -> None:
        self.count += 1
        if len(self.errors) < self.limit:
            self.errors.append(FieldError(column, message, line))

    def extend(self, errors: Sequence[FieldError]) -> None:
        for err in errors:
            self.add(err.field, err.message, err.line)

    @property
    def full(self) -> bool:
        return self.count >= self.limit

    def __bool__(self) -> bool:
        return self.count > 0

    def failure(self, file_name: str) -> ValidationFailed:
        noun = "error" if self.count == 1 else "errors"
        many = f"at least {self.count}" if self.incomplete else str(self.count)
        shown = (
            f"; the first {len(self.errors)} are listed" if self.count > len(self.errors) else ""
        )
        return ValidationFailed(
            f"{file_name}: {many} {noun}{shown}; nothing was imported",
            sorted(self.errors, key=lambda e: e.line or 0),
        )


@dataclass(frozen=True)
class Row:
    """One record: ``line`` is the physical line it starts on (the header is line 1)."""

    line: int
    cells: dict[str, str]


@dataclass(frozen=True)
class Table:
    """A file whose header is right. Its rows are read on demand, as often as needed, so a big
    file is never held as a list of rows."""

    text: str
    columns: tuple[str, ...]
    header_line: int
    #: Physical lines in the file (for progress).
    lines: int

    def rows(self, problems: Problems) -> Iterator[Row]:
        """The data rows; unreadable ones are noted in ``problems`` and left out."""
        reader = csv.reader(io.StringIO(self.text, newline=""), strict=True)
        while reader.line_num < self.header_line:
            next(reader)
        count = 0
        while True:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                problems.add("row", f"cannot read the row: {exc} (an unclosed quote?)", start)
                break
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # a blank line
            count += 1
            if len(record) != len(self.columns):
                problems.add(
                    "row",
                    f"has {len(record)} values but the header has {len(self.columns)} columns",
                    start,
                )
                continue
            yield Row(
                start, {col: cell.strip() for col, cell in zip(self.columns, record, strict=True)}
            )
        if count == 0:
            problems.add("file", "there are no data rows below the header", self.header_line)


def decode(data: bytes, problems: Problems) -> str | None:
    """The text of a UTF-8 file (a byte-order mark is accepted), else ``None`` with the line
    and byte of every undecodable line noted."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 1].hex().upper()
            problems.add(
                "file",
                f"not UTF-8: byte 0x{bad} at byte {exc.start + 1} of the line "
                "(a Latin-1 or Windows-1252 export?); save the file as UTF-8",
                number,
            )
    return None


def _header_hint(header: list[str]) -> str:
    if len(header) == 1:
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if sep in header[0]:
                return f" (the file seems to separate values with {name}; use commas)"
    return ""


def read_table(
    data: bytes,
    *,
    required: Sequence[str],
    optional: Sequence[str],
    problems: Problems,
    guess: Callable[[list[str]], str] | None = None,
) -> Table | None:
    """Decode ``data`` and check its header against the expected columns.

    Column names are matched without regard to case or surrounding spaces; cells are stripped.
    Blank lines are skipped. Returns ``None`` when the file cannot be read as a table at all
    (encoding, empty, header). ``guess`` turns a wrong header into a hint (such as which kind
    of file it looks like).
    """
    text = decode(data, problems)
    if text is None:
        return None
    expected = f"{', '.join(required)}" + (
        f" (and optionally {', '.join(optional)})" if optional else ""
    )
    if not text.strip():
        problems.add("file", f"the file is empty; expected a header line with {expected}", None)
        return None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
        while not header:  # blank lines before the header
            header = next(reader)
    except csv.Error as exc:
        problems.add("header", f"cannot read the header: {exc}", reader.line_num)
        return None
    header_line = reader.line_num
    columns = [name.strip().lower() for name in header]
    hint = _header_hint(header) or (guess(columns) if guess else "")
    if not _check_header(columns, required, optional, header_line, problems, hint):
        return None
    return Table(text, tuple(columns), header_line, len(text.splitlines()))


def _check_header(
    columns: list[str],
    required: Sequence[str],
    optional: Sequence[str],
    line: int,
    problems: Problems,
    hint: str,
) -> bool:
    before = problems.count
    known = set(required) | set(optional)
    seen: set[str] = set()
    unknown: list[str] = []
    for position, name in enumerate(columns, start=1):
        if not name:
            problems.add("header", f"column {position} has no name (a trailing comma?)", line)
        elif name in seen:
            problems.add("header", f"column {name!r} appears more than once", line)
        elif name not in known:
            unknown.append(repr(name))
        seen.add(name)
    missing = [name for name in required if name not in seen]
    if missing:
        problems.add(
            "header",
            f"missing required column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}{hint}",
            line,
        )
    if unknown:
        problems.add(
            "header",
            f"unknown column{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)}{'' if missing else hint}; the columns "
            f"are {', '.join(required)} (required) and "
            f"{', '.join(optional) or 'none'} (optional)",
            line,
        )
    return problems.count == before
