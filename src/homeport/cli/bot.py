"""``homeport bot``: the chatbot's intent classifier from the command line — classify messages
and measure its accuracy (docs/chatbot.md)."""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from homeport import migrations
from homeport.cli.context import console, fail, get, out
from homeport.selfservice import bot, intents

app = typer.Typer(help="Chatbot: intent classification and its accuracy.")

BITEXT_DEFAULT = Path("../shared/data/intents/Bitext_Sample_Customer_Support_Training_Dataset.csv")


def _line(prediction: intents.Prediction | None, error: str | None = None) -> str:
    if prediction is None:
        payload: dict[str, Any] = {"intent": "other", "confidence": 0.0, "error": error}
    else:
        payload = {"intent": prediction.intent, "confidence": round(prediction.confidence, 3)}
    return json.dumps(payload, ensure_ascii=False)


@app.command()
def classify(
    texts: list[str] | None = typer.Argument(
        None, help="Messages to classify; without any, one message per line on standard input."
    ),
    threshold: float = typer.Option(
        0.0,
        "--threshold",
        min=0.0,
        max=1.0,
        help="Print 'other' when the confidence is below this "
        f"(suggested: {intents.SUGGESTED_THRESHOLD}; default 0: always the top intent).",
    ),
) -> None:
    """Print one JSON object per message, {"intent": ..., "confidence": ...}, in input order.
    A blank or too long message prints {"intent": "other", "confidence": 0.0, "error": ...},
    so that output line N always answers input line N."""
    model = intents.default_classifier()
    lines = texts if texts else (line.rstrip("\r\n") for line in sys.stdin)
    for text in lines:
        try:
            p = model.classify(text)
        except ValueError as exc:
            answer = _line(None, str(exc))
        else:
            if p.confidence < threshold:
                p = intents.Prediction("other", p.confidence, p.alternatives)
            answer = _line(p)
        typer.echo(answer)
        sys.stdout.flush()  # a pipe gets each answer as soon as it is known


def _scores_table(title: str, evaluation: intents.Evaluation) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    for name in ("intent", "rows", "predicted", "precision", "recall"):
        table.add_column(name, justify="left" if name == "intent" else "right")
    for name, s in evaluation.per_intent.items():
        if s.support or s.predicted:
            table.add_row(
                name,
                str(s.support),
                str(s.predicted),
                "–" if s.precision is None else f"{s.precision:.3f}",
                "–" if s.recall is None else f"{s.recall:.3f}",
            )
    return table


@app.command()
def evaluate(
    ctx: typer.Context,
    data: Path | None = typer.Option(
        None,
        "--data",
        help="A text,intent CSV to score (default: the shipped held-out file, never trained on).",
    ),
    bitext: Path = typer.Option(
        BITEXT_DEFAULT,
        "--bitext",
        envvar="HOMEPORT_BITEXT_CSV",
        help="The Bitext customer-support sample; skipped when the default path is missing.",
    ),
    folds: int = typer.Option(
        5, "--folds", help="Cross-validation folds on the training data (0: skip)."
    ),
    threshold: float = typer.Option(
        intents.SUGGESTED_THRESHOLD,
        "--threshold",
        min=0.0,
        max=1.0,
        help="Confidence for the 'answered' share and its accuracy.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    days: int = typer.Option(
        30, "--days", min=1, max=3650, help="Containment over the conversations of these days."
    ),
) -> None:
    """Accuracy of the shipped model on held-out messages, per-intent precision and recall,
    stratified cross-validation on the training data, and the Bitext figures when that file
    is there; and the chatbot's containment over the last ``--days`` from the database
    (conversations that ended with no person taking over and no repeat contact within 7
    days; homeport.selfservice.bot.containment)."""
    if folds == 1 or folds < 0:
        raise fail("--folds must be 0 (skip) or at least 2")
    bitext_given = bitext != BITEXT_DEFAULT
    if bitext_given and not bitext.is_file():
        raise fail(f"--bitext: no such file: {bitext}")
    try:
        training = intents.load_examples(intents.TRAINING_PATH)
        heldout = intents.load_examples(data or intents.HELDOUT_PATH)
        model = intents.default_classifier()
        result = intents.evaluate(heldout, model, threshold=threshold)
        started = time.perf_counter()
        for example in heldout:  # one at a time, as the chatbot asks
            model.classify(example.text)
        latency_ms = (time.perf_counter() - started) * 1000 / len(heldout)
        cv = intents.cross_validate(training, folds, threshold=threshold) if folds else None
        report = (
            intents.bitext_report(bitext, training, heldout, shipped=model, threshold=threshold)
            if bitext.is_file()
            else None
        )
    except intents.IntentDataError as exc:
        raise fail(str(exc)) from exc
    contained, why_not = _containment(ctx, days)
    source = str(data) if data else "shipped held-out file (intents_heldout.csv)"
    if as_json:
        payload: dict[str, Any] = {
            "data": source,
            "heldout": result.as_dict(),
            "cross_validation": None
            if cv is None
            else {
                "folds": cv.folds,
                "accuracy": round(cv.accuracy, 4),
                "fold_accuracies": [round(a, 4) for a in cv.fold_accuracies],
                "rows": cv.evaluation.rows,
                "answered": round(cv.evaluation.answered, 4),
                "answered_accuracy": _maybe(cv.evaluation.answered_accuracy),
            },
            "bitext": None if report is None else _bitext_dict(report, bitext),
            "training": {"rows": model.examples, "seconds": round(model.training_s, 3)},
            "latency_ms_per_message": round(latency_ms, 2),
            "containment": None if contained is None else {"days": days, **contained.to_json()},
        }
        out.print_json(json.dumps(payload, ensure_ascii=False))
        return
    out.print(_scores_table(f"Intents on {source}", result))
    out.print(
        f"accuracy {result.accuracy:.3f} on {result.rows} messages; at confidence ≥ "
        f"{threshold:g}: {result.answered:.1%} answered, accuracy there "
        f"{_fmt(result.answered_accuracy)}",
        highlight=False,
        soft_wrap=True,
    )
    if cv is not None:
        folds_text = ", ".join(f"{a:.3f}" for a in cv.fold_accuracies)
        out.print(
            f"cross-validation ({cv.folds} folds, {cv.evaluation.rows} training rows): "
            f"accuracy {cv.accuracy:.3f} (folds {folds_text})",
            highlight=False,
            soft_wrap=True,
        )
    if report is None:
        out.print(f"Bitext: not found at {bitext} (skipped)", highlight=False, soft_wrap=True)
    else:
        out.print(
            f"Bitext ({report.mapped_rows} mapped rows): shipped model accuracy "
            f"{report.shipped.accuracy:.3f}; with half of Bitext added to training, "
            f"{report.augmented.accuracy:.3f} on the other half"
            + (
                f" and {report.augmented_heldout.accuracy:.3f} on the held-out messages"
                if report.augmented_heldout
                else ""
            ),
            highlight=False,
            soft_wrap=True,
        )
    out.print(
        f"training: {model.examples} rows in {model.training_s:.2f} s; "
        f"classify: {latency_ms:.2f} ms per message",
        highlight=False,
        soft_wrap=True,
    )
    out.print(
        f"containment over {days} days: {_containment_text(contained, why_not)}",
        highlight=False,
        soft_wrap=True,
    )
    if result.mistakes:
        console.print(
            f"{len(result.mistakes)} wrong; --json lists them", highlight=False, soft_wrap=True
        )


def _containment(ctx: typer.Context, days: int) -> tuple[bot.Containment | None, str]:
    """Containment from the configured database, or None and why (no database yet: the
    intent figures do not need one)."""
    cli = get(ctx)
    now = cli.clock.now()
    try:
        db = cli.db
        if migrations.current_revision(db.url) != migrations.head_revision():
            return None, "not measured: the database is not set up ('homeport db upgrade')"
        with db.session() as session:
            return bot.containment(session, since=now - timedelta(days=days), until=now), ""
    except SQLAlchemyError as exc:
        return None, f"not measured: the database cannot be read ({type(exc).__name__})"


def _containment_text(contained: bot.Containment | None, why_not: str) -> str:
    if contained is None:
        return why_not
    if contained.rate is None:
        return "no chatbot conversations ended yet"
    return (
        f"{contained.rate:.1%} ({contained.contained} contained of "
        f"{contained.contained_raw + contained.handed_over} conversations that ended contained "
        f"or handed over; {contained.repeat_contacts} came back within 7 days, "
        f"{contained.abandoned} abandoned)"
    )


def _maybe(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _bitext_dict(report: intents.BitextReport, path: Path) -> dict[str, Any]:
    def brief(e: intents.Evaluation) -> dict[str, Any]:
        full = e.as_dict()
        full.pop("mistakes")
        return full

    return {
        "path": str(path),
        "mapped_rows": report.mapped_rows,
        "by_intent": report.by_intent,
        "mapping": dict(intents.BITEXT_MAPPING),
        "shipped": brief(report.shipped),
        "augmented": brief(report.augmented),
        "augmented_heldout": None
        if report.augmented_heldout is None
        else brief(report.augmented_heldout),
    }
