"""``homeport import plans|topology|subscribers FILE.csv`` through Typer's runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.progress import Progress, TaskID
from typer.testing import CliRunner

from homeport.cli import imports
from homeport.cli.context import console
from homeport.cli.main import app
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from tests.adapters.csv_import.conftest import FIXTURES, make_bundles, snapshot

runner = CliRunner()


@pytest.fixture
def cli_db(db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("HOMEPORT_DATABASE_URL", database_url)
    return db


def _import(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["import", *args])
    return result.exit_code, result.stdout, result.stderr


def test_imports_print_a_summary(cli_db: Database, clock: ManualClock) -> None:
    make_bundles(cli_db, clock)
    code, out, _ = _import("plans", str(FIXTURES / "plans.csv"))
    assert code == 0
    assert out == "imported plans.csv: 5 rows — 5 created, 0 updated, 0 unchanged\n"
    code, out, _ = _import("topology", str(FIXTURES / "topology.csv"))
    assert code == 0 and "region: 2 created, 3 unchanged" in out
    code, out, _ = _import("subscribers", str(FIXTURES / "subscribers.csv"))
    assert code == 0 and "6 rows — 6 created" in out and "home: 5 created" in out
    code, out, _ = _import("subscribers", str(FIXTURES / "subscribers.csv"))
    assert code == 0 and "0 created, 0 updated, 6 unchanged" in out


def test_dry_run_says_so_and_writes_nothing(cli_db: Database) -> None:
    before = snapshot(cli_db)
    code, out, _ = _import("plans", str(FIXTURES / "plans.csv"), "--dry-run")
    assert code == 0
    assert out.startswith("dry run, nothing written: would import plans.csv: 5 rows — 5 created")
    assert snapshot(cli_db) == before


def test_errors_are_listed_by_line_and_nothing_changes(cli_db: Database, tmp_path: Path) -> None:
    _import("plans", str(FIXTURES / "plans.csv"))
    before = snapshot(cli_db)
    bad = tmp_path / "plans.csv"
    bad.write_text(
        "code,name,down_mbps,up_mbps,monthly_price\n"
        "FTTP-900,Renamed,900,110,45.00\n"
        'X,"multi\nline",1,1,1\n'
        "Y,Y,one,1,1\n"
        "FTTP-900,Again,900,110,45.00\n",
        encoding="utf-8",
    )
    code, out, err = _import("plans", str(bad))
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "line 3: name: contains a line break or control character",
        "line 5: down_mbps: 'one' is not a whole number",
        "line 6: code: duplicate 'FTTP-900': also on line 2",
        "error: plans.csv: 3 errors; nothing was imported",
    ]
    assert snapshot(cli_db) == before


def test_unreadable_files_get_a_clean_message(
    cli_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = _import("plans", str(tmp_path / "missing.csv"))
    assert code == 1 and err == f"error: cannot read {tmp_path / 'missing.csv'}: no such file\n"
    code, _, err = _import("plans", str(tmp_path))
    assert code == 1 and "it is a directory" in err
    locked = tmp_path / "locked.csv"
    locked.write_text("code\n")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)  # root reads any file, so pretend
    code, _, err = _import("plans", str(locked))
    assert code == 1 and err == f"error: cannot read {locked}: Permission denied\n"


def test_a_non_utf8_file_says_where(cli_db: Database, tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("code,name,down_mbps,up_mbps,monthly_price\nP,Café,1,1,1\n".encode("latin-1"))
    code, _, err = _import("plans", str(latin))
    assert code == 1
    assert err.startswith("line 2: file: not UTF-8: byte 0xE9 at byte 6 of the line")


def test_an_old_schema_is_refused_before_reading(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOMEPORT_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    code, _, err = _import("plans", str(FIXTURES / "plans.csv"))
    assert code == 1 and "homeport db upgrade" in err


def test_big_files_get_a_progress_bar_on_a_terminal(
    cli_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, float]] = []

    class Recording(Progress):
        def update(self, task_id: TaskID, **kwargs: Any) -> None:
            seen.append((self.tasks[task_id].description, kwargs["completed"]))
            super().update(task_id, **kwargs)

    monkeypatch.setattr(imports, "Progress", Recording)
    monkeypatch.setattr(imports, "PROGRESS_FROM_LINES", 2)
    monkeypatch.setattr(console, "_force_terminal", True)
    code, out, _ = _import("plans", str(FIXTURES / "plans.csv"))
    assert code == 0 and "5 created" in out
    assert ("reading", 6) in seen and ("importing", 6) in seen  # 6 lines, both passes
    seen.clear()
    monkeypatch.setattr(imports, "PROGRESS_FROM_LINES", 100)
    assert _import("plans", str(FIXTURES / "plans.csv"))[0] == 0
    assert seen == []  # a small file gets no bar


def test_help_lists_the_columns() -> None:
    result = runner.invoke(app, ["import", "subscribers", "--help"])
    assert result.exit_code == 0
    assert "account_number" in result.stdout and "--dry-run" in result.stdout
