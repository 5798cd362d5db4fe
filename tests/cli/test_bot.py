"""``homeport bot``: classify answers one JSON line per input line; evaluate prints the
held-out, cross-validation and Bitext figures, with a place for containment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from homeport.cli.context import out
from homeport.cli.main import app as cli
from homeport.selfservice import intents
from tests.selfservice.test_intents import BITEXT

runner = CliRunner()


def test_classify_answers_one_json_line_per_input_line() -> None:
    lines = [
        "net keeps droping every evening",
        "",
        "wifi dosnt reach the bedroom",
        "   ",
        "my ps5 wont connect",
        "x" * (intents.MAX_TEXT_CHARS + 1),
        "i want to cancel",
    ]
    result = runner.invoke(cli, ["bot", "classify"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.output.splitlines()]
    assert len(answers) == len(lines)
    assert [a["intent"] for a in answers] == [
        "no_connection",
        "other",
        "wifi_coverage",
        "other",
        "device_cannot_connect",
        "other",
        "cancel_service",
    ]
    for a in answers:
        assert 0.0 <= a["confidence"] <= 1.0
        assert a["confidence"] == round(a["confidence"], 3)
    assert answers[1] == {"intent": "other", "confidence": 0.0, "error": answers[1]["error"]}
    assert "empty message" in answers[1]["error"]
    assert "too long" in answers[5]["error"]
    assert set(answers[0]) == {"intent", "confidence"}


def test_classify_arguments_and_threshold() -> None:
    plain = runner.invoke(cli, ["bot", "classify", "why is my bill so high", "banana"])
    assert plain.exit_code == 0, plain.output
    first, second = (json.loads(line) for line in plain.output.splitlines())
    assert first["intent"] == "billing"
    strict = runner.invoke(cli, ["bot", "classify", "--threshold", "0.99", "banana"])
    assert json.loads(strict.output) == {"intent": "other", "confidence": second["confidence"]}
    bad = runner.invoke(cli, ["bot", "classify", "--threshold", "2", "x"])
    assert bad.exit_code != 0


def test_evaluate_json_on_a_given_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default Bitext path (../shared/…) is not there
    data = tmp_path / "mine.csv"
    data.write_text(
        "text,intent\n"
        '"my internet is down, nothing loads",no_connection\n'
        "why was i charged twice,billing\n"
        "hello,other\n",
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["bot", "evaluate", "--data", str(data), "--folds", "2", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload) == {
        "data",
        "heldout",
        "cross_validation",
        "bitext",
        "training",
        "latency_ms_per_message",
        "containment",
    }
    assert payload["bitext"] is None
    assert payload["containment"] is None  # no database set up here: intents need none
    assert payload["heldout"]["rows"] == 3 and payload["heldout"]["accuracy"] == 1.0
    assert set(payload["heldout"]["per_intent"]) == set(intents.INTENTS)
    assert payload["heldout"]["per_intent"]["billing"] == {
        "support": 1,
        "predicted": 1,
        "precision": 1.0,
        "recall": 1.0,
    }
    assert payload["cross_validation"]["folds"] == 2
    assert payload["cross_validation"]["accuracy"] >= 0.8
    assert payload["training"]["rows"] >= 500 and payload["training"]["seconds"] > 0


def test_evaluate_text_on_the_shipped_held_out_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(out, "width", 200)
    result = runner.invoke(cli, ["bot", "evaluate", "--folds", "0"])
    assert result.exit_code == 0, result.output
    assert "Intents on shipped held-out file" in result.output
    accuracy = float(result.output.split("accuracy ", 1)[1].split()[0])
    assert accuracy >= 0.90
    assert "Bitext: not found" in result.output
    assert "containment over 30 days: not measured: the database is not set up" in result.output
    assert "cross-validation" not in result.output


def test_evaluate_refuses_bad_input(tmp_path: Path) -> None:
    missing = runner.invoke(cli, ["bot", "evaluate", "--data", str(tmp_path / "none.csv")])
    assert missing.exit_code == 1 and "cannot read" in missing.output
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("text,intent\nhello,greeting\n", encoding="utf-8")
    bad = runner.invoke(cli, ["bot", "evaluate", "--data", str(wrong), "--folds", "0"])
    assert bad.exit_code == 1 and "unknown intent 'greeting'" in bad.output
    folds = runner.invoke(cli, ["bot", "evaluate", "--folds", "1"])
    assert folds.exit_code == 1 and "--folds" in folds.output
    nobitext = runner.invoke(cli, ["bot", "evaluate", "--bitext", str(tmp_path / "b.csv")])
    assert nobitext.exit_code == 1 and "no such file" in nobitext.output


@pytest.mark.skipif(not BITEXT.is_file(), reason="the Bitext sample is not beside the repository")
def test_evaluate_with_the_bitext_sample() -> None:
    result = runner.invoke(
        cli, ["bot", "evaluate", "--bitext", str(BITEXT), "--folds", "0", "--json"]
    )
    assert result.exit_code == 0, result.output
    bitext = json.loads(result.output)["bitext"]
    assert bitext["mapped_rows"] > 3000
    assert bitext["mapping"]["contact_human_agent"] == "human_agent"
    assert bitext["mapping"]["cancel_order"] is None
    assert bitext["augmented"]["accuracy"] >= 0.95
    assert bitext["augmented_heldout"]["accuracy"] >= 0.90
    assert 0.0 < bitext["shipped"]["accuracy"] <= 1.0


def test_evaluate_measures_containment_from_the_conversations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two conversations the bot answered alone and one it handed over: 2 of 3 contained."""
    from datetime import UTC, datetime, timedelta

    from homeport import migrations
    from homeport.core.db import Database
    from homeport.selfservice import bot
    from tests.factories import build_fleet, filler

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("HOMEPORT_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    migrations.upgrade(url)
    db = Database(url)
    now = datetime.now(UTC).replace(microsecond=0)
    fleet = build_fleet(db, now - timedelta(days=3), filler(3))
    said = [
        ("FIL-0001", "is there an outage in my area"),
        ("FIL-0002", "is there an outage near me?"),
        ("FIL-0003", "let me speak to a real person"),
    ]
    start = now - timedelta(days=2)
    for account, text in said:
        with db.transaction() as s:
            bot.converse(
                s,
                subscriber_id=fleet.subscribers[account],
                body=text,
                client_id="c1",
                now=start,
                zone=UTC,
            )
    with db.transaction() as s:
        assert bot.close_idle(s, now=now) == 2
    db.dispose()
    result = runner.invoke(cli, ["bot", "evaluate", "--folds", "0", "--json", "--days", "7"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["containment"] == {
        "days": 7,
        "conversations": 3,
        "contained": 2,
        "handed_over": 1,
        "abandoned": 0,
        "repeat_contacts": 0,
        "containment_rate": 0.6667,
    }
