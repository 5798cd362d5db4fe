"""Reading CSV files and the per-row checks of each format, without a database."""

from __future__ import annotations

import pytest

from homeport.adapters.csv_import import formats
from homeport.adapters.csv_import.formats import FileChecks, RowInvalid
from homeport.adapters.csv_import.parse import Problems, Row, Table, read_table
from homeport.core.errors import FieldError

REQUIRED = ("code", "name")
OPTIONAL = ("note",)


def _table(data: bytes) -> tuple[Table | None, Problems]:
    problems = Problems()
    return read_table(data, required=REQUIRED, optional=OPTIONAL, problems=problems), problems


def _rows(data: bytes) -> tuple[list[Row], list[FieldError]]:
    table, problems = _table(data)
    assert table is not None, problems.errors
    return list(table.rows(problems)), problems.errors


def test_rows_carry_the_physical_line_they_start_on() -> None:
    data = (
        b"code,name,note\n"
        b'A,"first\nsecond\nthird",x\n'
        b"\n"
        b'B,plain,"one ""quoted"" word"\r\n'
        b'C,"trailing\r\nCRLF",\n'
    )
    rows, errors = _rows(data)
    assert errors == []
    assert [(r.line, r.cells["code"]) for r in rows] == [(2, "A"), (6, "B"), (7, "C")]
    assert rows[0].cells["name"] == "first\nsecond\nthird"
    assert rows[1].cells["note"] == 'one "quoted" word'


def test_a_utf8_bom_and_header_spelling_are_accepted() -> None:
    rows, errors = _rows("\ufeff Code , NAME \nÅ-1,Zoë\n".encode())
    assert errors == [] and rows[0].cells == {"code": "Å-1", "name": "Zoë"}


def test_non_utf8_bytes_are_located() -> None:
    table, problems = _table(b"code,name\nA,ok\nB,caf\xe9\nC,fine\nD,\xff\xfe\n")
    assert table is None
    assert [(e.line, e.field) for e in problems.errors] == [(3, "file"), (5, "file")]
    assert "byte 0xE9 at byte 6 of the line" in problems.errors[0].message
    assert "save the file as UTF-8" in problems.errors[0].message


@pytest.mark.parametrize("data", [b"", b"   \n\n", b"\xef\xbb\xbf"])
def test_an_empty_file_says_what_header_is_expected(data: bytes) -> None:
    table, problems = _table(data)
    assert table is None
    assert problems.errors == [
        FieldError(
            "file",
            "the file is empty; expected a header line with code, name (and optionally note)",
            None,
        )
    ]


def test_a_header_without_rows_is_an_error() -> None:
    rows, errors = _rows(b"code,name\n\n\n")
    assert rows == [] and errors == [
        FieldError("file", "there are no data rows below the header", 1)
    ]


def test_header_problems_are_all_reported() -> None:
    table, problems = _table(b"code,Code,colour,,x\n")
    assert table is None
    messages = [e.message for e in problems.errors]
    assert all(e.line == 1 and e.field == "header" for e in problems.errors)
    assert "column 'code' appears more than once" in messages[0]
    assert "column 4 has no name" in messages[1]
    assert messages[2] == "missing required column: name"
    assert messages[3].startswith(
        "unknown columns 'colour', 'x'; the columns are code, name (required) and note (optional)"
    )


def test_a_semicolon_file_gets_a_hint() -> None:
    _, problems = _table(b"code;name\nA;B\n")
    assert "separate values with semicolons; use commas" in problems.errors[0].message


def test_a_file_of_another_kind_is_named() -> None:
    problems = Problems()
    read_table(
        b"code,name,down_mbps,up_mbps,monthly_price\n",
        required=formats.SUBSCRIBERS.required,
        optional=formats.SUBSCRIBERS.optional,
        problems=problems,
        guess=formats.guess_kind("subscribers"),
    )
    assert "this looks like a plans file" in problems.errors[0].message


def test_ragged_rows_and_unclosed_quotes() -> None:
    rows, errors = _rows(b'code,name\nA,B,C\nD\nE,F\nG,"never closed\nH,I\n')
    assert [r.line for r in rows] == [4]
    assert errors == [
        FieldError("row", "has 3 values but the header has 2 columns", 2),
        FieldError("row", "has 1 values but the header has 2 columns", 3),
        FieldError("row", "cannot read the row: unexpected end of data (an unclosed quote?)", 5),
    ]


def test_problems_are_capped_but_counted() -> None:
    problems = Problems(limit=3)
    for line in range(10, 0, -1):
        problems.add("x", "bad", line)
    failure = problems.failure("f.csv")
    assert problems.full and problems.count == 10
    assert failure.message == "f.csv: 10 errors; the first 3 are listed; nothing was imported"
    assert [e.line for e in failure.errors] == [8, 9, 10]  # sorted by line


def _parse(
    fmt: formats.Format, line: int, cells: dict[str, str], checks: FileChecks | None = None
) -> formats.ParsedRow:
    return fmt.parse(Row(line, cells), checks or FileChecks())


def _refusal(
    fmt: formats.Format, cells: dict[str, str], checks: FileChecks | None = None
) -> list[tuple[str, str]]:
    with pytest.raises(RowInvalid) as caught:
        _parse(fmt, 5, cells, checks)
    assert all(e.line == 5 for e in caught.value.errors)
    return [(e.field, e.message) for e in caught.value.errors]


PLAN = {"code": "P1", "name": "Plan", "down_mbps": "100", "up_mbps": "20", "monthly_price": "30"}
SUB = {
    "account_number": "A-1",
    "name": "Ann",
    "email": "",
    "plan_code": "P1",
    "status": "active",
    "journey_stage": "established",
}
TOPO = {
    "region_code": "N",
    "region_name": "North",
    "access_node_code": "OLT-1",
    "access_node_kind": "olt",
    "port": "1",
}


def test_empty_cells_in_required_columns_are_refused_by_column() -> None:
    assert _refusal(formats.PLANS, {**PLAN, "name": "", "up_mbps": ""}) == [
        ("name", "is empty; a value is required"),
        ("up_mbps", "is empty; a value is required"),
    ]


def test_empty_optional_cells_keep_or_clear() -> None:
    empty = ("phone", "preferred_channel", "consent_sms", "bundles", "technology")
    row = _parse(formats.SUBSCRIBERS, 2, {**SUB, **dict.fromkeys(empty, "")})
    assert isinstance(row, formats.SubscriberRow)
    assert row.subscriber.phone == ""  # text: cleared
    assert row.subscriber.preferred_channel is None and row.subscriber.consent_sms is None
    assert row.bundles is not None and row.bundles.codes == ()  # no bundles
    assert row.home is None  # nothing said about the line
    plan = _parse(formats.PLANS, 2, {**PLAN, "currency": "", "is_active": ""})
    assert isinstance(plan, formats.PlanRow) and plan.plan.currency is None


def test_bundles_are_split_on_semicolons() -> None:
    row = _parse(formats.SUBSCRIBERS, 2, {**SUB, "bundles": " MESH ; SECURE;"})
    assert isinstance(row, formats.SubscriberRow) and row.bundles is not None
    assert row.bundles.codes == ("MESH", "SECURE")
    assert _refusal(formats.SUBSCRIBERS, {**SUB, "bundles": "MESH;MESH"}) == [
        ("bundles", "MESH listed more than once")
    ]


def test_an_empty_plan_code_means_no_plan() -> None:
    assert _refusal(formats.SUBSCRIBERS, {**SUB, "plan_code": ""}) == [
        ("plan_code", "is empty; a subscriber with status 'active' needs a plan")
    ]


def test_duplicate_keys_name_both_lines() -> None:
    checks = FileChecks()
    _parse(formats.TOPOLOGY, 3, TOPO, checks)
    assert _refusal(formats.TOPOLOGY, TOPO, checks) == [
        ("port", "duplicate 'OLT-1 1': also on line 3")
    ]


def test_topology_rows_must_agree_about_shared_nodes_and_regions() -> None:
    checks = FileChecks()
    _parse(formats.TOPOLOGY, 2, {**TOPO, "vendor": "Nokia"}, checks)
    changed = {"port": "2", "region_name": "Nord", "access_node_kind": "dslam"}
    errors = _refusal(formats.TOPOLOGY, {**TOPO, **changed, "vendor": "Nokia"}, checks)
    assert errors == [
        ("region_name", "region N is named 'Nord' here but 'North' on line 2"),
        (
            "access_node_kind",
            "access node OLT-1 has access_node_kind 'dslam' here but 'olt' on line 2",
        ),
    ]


def test_topology_column_names_are_used_in_errors() -> None:
    bad = {"region_code": "bad code", "port": "a b", "capacity": "0"}
    errors = dict(_refusal(formats.TOPOLOGY, {**TOPO, **bad}))
    assert set(errors) == {"region_code", "port", "capacity"}
