"""``homeport retention``: the churn-risk model — train it on the past with a time split, score
every subscriber (and send the high risks to the Retention queue), and evaluate the same
pipeline on the public IBM Telco churn data (docs/retention.md, "Churn risk")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from homeport.cli.context import fail, get, out, report
from homeport.core.errors import HomeportError

app = typer.Typer(help="Retention: churn-risk model training, scoring and evaluation.")

TELCO_DEFAULT = Path("../shared/data/telco-churn/WA_Fn-UseC_-Telco-Customer-Churn.csv")


def _print(payload: dict[str, Any], as_json: bool, title: str) -> None:
    if as_json:
        out.print_json(json.dumps(payload, default=str))
        return
    table = Table(title=title, show_header=False)
    for key, value in payload.items():
        table.add_row(
            key, json.dumps(value, default=str) if isinstance(value, dict) else str(value)
        )
    out.print(table)


@app.command()
def train(
    ctx: typer.Context,
    horizon_days: int = typer.Option(90, "--horizon-days", min=1, max=730),
    snapshots: int = typer.Option(3, "--snapshots", min=1, max=24),
    step_days: int = typer.Option(30, "--step-days", min=1, max=365),
    as_json: bool = typer.Option(False, "--json", help="Print the model's metrics as JSON."),
) -> None:
    """Train on snapshots of the past (labels: churn within the horizon), measure ROC AUC and PR
    AUC on the later period, and store the model."""
    from homeport.retention import churn

    cli = get(ctx)
    try:
        with cli.migrated_db().transaction() as session:
            row = churn.train(
                session,
                cli.clock.now(),
                horizon_days=horizon_days,
                snapshots=snapshots,
                step_days=step_days,
            )
            payload = {"model_id": row.id, "kind": row.kind, **row.metrics}
    except HomeportError as exc:
        raise report(exc) from exc
    _print(payload, as_json, "Churn model trained")


@app.command()
def score(
    ctx: typer.Context,
    high: float = typer.Option(0.5, "--high", min=0.0, max=1.0, help="High-risk threshold."),
    medium: float = typer.Option(0.2, "--medium", min=0.0, max=1.0, help="Medium-risk threshold."),
    flag: bool = typer.Option(
        False, "--flag", help="Also open Retention cases for new high risks and settle outcomes."
    ),
    limit: int = typer.Option(100, "--limit", min=0, help="At most this many new cases (--flag)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Score every subscriber with the latest model (bands and reasons in churn_scores)."""
    from homeport.retention import churn, risk_actions

    if not 0 < medium <= high:
        raise fail("--medium must be above 0 and at most --high")
    cli = get(ctx)
    try:
        with cli.migrated_db().transaction() as session:
            now = cli.clock.now()
            scored = churn.score_all(session, now, high=high, medium=medium)
            payload: dict[str, Any] = {
                "model_id": scored.model_id,
                "scored": scored.scored,
                "bands": scored.bands,
                "removed": scored.removed,
                "seconds": scored.seconds,
            }
            if flag:
                settled = risk_actions.settle(session, now)
                flagged = risk_actions.flag_at_risk(session, now, threshold=high, limit=limit)
                payload |= {"flagged": len(flagged), "saved": settled.saved, "lost": settled.lost}
    except (HomeportError, ValueError) as exc:
        if isinstance(exc, HomeportError):
            raise report(exc) from exc
        raise fail(str(exc)) from exc
    _print(payload, as_json, "Churn scores")


@app.command()
def evaluate(
    csv_path: Path = typer.Option(
        TELCO_DEFAULT, "--csv", help="The IBM Telco Customer Churn CSV (read, never copied)."
    ),
    test_share: float = typer.Option(0.25, "--test-share", min=0.05, max=0.95),
    seed: int = typer.Option(42, "--seed"),
    folds: int = typer.Option(5, "--folds", help="Cross-validation folds too (0: skip)."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Train and test the churn pipeline on the IBM Telco data through the documented column
    mapping: ROC AUC and PR AUC on a stratified held-out split."""
    from homeport.retention import telco

    if not csv_path.is_file():
        raise fail(f"--csv: no such file: {csv_path}")
    try:
        result = telco.evaluate(csv_path, test_size=test_share, seed=seed, folds=folds)
    except telco.TelcoDataError as exc:
        raise fail(str(exc)) from exc
    _print(result, as_json, "Churn model on the IBM Telco data")
