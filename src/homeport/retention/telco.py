"""The churn model on real subscribers: the public IBM Telco Customer Churn data.

``homeport retention evaluate --csv FILE`` reads the CSV (7,043 customers, ``Churn`` Yes/No),
maps its columns onto the feature roles of Homeport's own pipeline (:data:`MAPPING`), fits the
same model (:mod:`homeport.retention.model`) on a stratified 75 % and reports ROC AUC and PR AUC
on the held-out 25 % (fixed seed). The file is read where it lies, never copied.

The data has no time stamps, so this checks the model and the feature roles, not the time
split; Homeport's own training (:mod:`homeport.retention.churn`) does the time split.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split  # type: ignore[import-untyped]

from homeport.retention import model

#: Telco column(s) → Homeport feature role. ``numeric``: a number (TotalCharges is blank for
#: the 11 customers with tenure 0: missing, imputed with an indicator); ``count``: a log-scaled
#: count; ``category``: one-hot.
MAPPING: tuple[tuple[str, str, str, str], ...] = (
    # (role, kind, Telco column(s), what it stands for in Homeport)
    ("tenure_months", "numeric", "tenure", "months since activation (Subscriber.activated_at)"),
    ("monthly_price", "numeric", "MonthlyCharges", "the plan's monthly price (Plan.monthly_price)"),
    ("total_charges", "numeric", "TotalCharges", "price × tenure (billing; not in Homeport)"),
    (
        "technology",
        "category",
        "InternetService",
        "access technology (Home.technology): DSL → adsl, Fiber optic → fttp, No → none",
    ),
    (
        "bundles",
        "count",
        "OnlineSecurity, OnlineBackup, DeviceProtection, StreamingTV, StreamingMovies, "
        "MultipleLines",
        "add-ons taken (Subscriber.bundles): how many of these are Yes",
    ),
    (
        "bundle_<service>",
        "category",
        "the same six columns",
        "which add-ons (Yes / No / no internet or phone service)",
    ),
    (
        "tech_support",
        "category",
        "TechSupport",
        "support proxy: the support relationship (Homeport counts cases and contacts)",
    ),
    ("contract", "category", "Contract", "commitment (not in Homeport's tables yet)"),
    ("billing", "category", "PaymentMethod + PaperlessBilling", "how they pay"),
    ("household", "category", "SeniorCitizen, Partner, Dependents", "household (lifestyle)"),
    ("phone", "category", "PhoneService", "a voice line with the broadband"),
)
ADDONS = (
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "StreamingTV",
    "StreamingMovies",
    "MultipleLines",
)
NUMERIC = ("tenure_months", "monthly_price", "total_charges", "bundles")
LOGGED = ("bundles",)
CATEGORICAL = (
    "technology",
    *(f"bundle_{a}" for a in ADDONS),
    "tech_support",
    "contract",
    "billing",
    "household",
    "phone",
)
REQUIRED = (
    "customerID",
    "tenure",
    "MonthlyCharges",
    "TotalCharges",
    "InternetService",
    "TechSupport",
    "Contract",
    "PaymentMethod",
    "PaperlessBilling",
    "SeniorCitizen",
    "Partner",
    "Dependents",
    "PhoneService",
    "Churn",
    *ADDONS,
)
TECHNOLOGY = {"DSL": "adsl", "Fiber optic": "fttp", "No": "none"}
DEFAULT_CSV = Path("../shared/data/telco-churn/WA_Fn-UseC_-Telco-Customer-Churn.csv")


class TelcoDataError(ValueError):
    """The file is not the Telco churn CSV (or a row cannot be read)."""


@dataclass
class TelcoData:
    numeric: np.ndarray
    categorical: np.ndarray
    churned: np.ndarray
    blank_total: int


def _number(value: str, column: str, line: int) -> float:
    text = value.strip()
    if not text:
        return float("nan")
    try:
        return float(text)
    except ValueError as exc:
        raise TelcoDataError(f"line {line}: {column} is not a number ({value!r})") from exc


def load(path: Path) -> TelcoData:
    """Read and map the CSV (see :data:`MAPPING`)."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise TelcoDataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    numeric: list[list[float]] = []
    categorical: list[list[str]] = []
    churned: list[int] = []
    blank = 0
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise TelcoDataError(
                f"{path} is not the IBM Telco churn CSV: no column {', '.join(missing)}"
            )
        for line, row in enumerate(reader, start=2):
            answer = row["Churn"].strip()
            if answer not in ("Yes", "No"):
                raise TelcoDataError(f"line {line}: Churn is {answer!r}, not Yes or No")
            total = _number(row["TotalCharges"], "TotalCharges", line)
            blank += int(np.isnan(total))
            addons = [row[a].strip() for a in ADDONS]
            numeric.append(
                [
                    _number(row["tenure"], "tenure", line),
                    _number(row["MonthlyCharges"], "MonthlyCharges", line),
                    total,
                    float(sum(a == "Yes" for a in addons)),
                ]
            )
            internet = row["InternetService"].strip()
            categorical.append(
                [
                    TECHNOLOGY.get(internet, internet),
                    *addons,
                    row["TechSupport"].strip(),
                    row["Contract"].strip(),
                    f"{row['PaymentMethod'].strip()} / paperless {row['PaperlessBilling'].strip()}",
                    f"senior {row['SeniorCitizen'].strip()} / partner {row['Partner'].strip()}"
                    f" / dependents {row['Dependents'].strip()}",
                    row["PhoneService"].strip(),
                ]
            )
            churned.append(int(answer == "Yes"))
    if not churned:
        raise TelcoDataError(f"{path} has no customers")
    return TelcoData(
        np.array(numeric, dtype=np.float64),
        np.array(categorical, dtype=object),
        np.array(churned, dtype=np.int8),
        blank,
    )


def _fit(data: TelcoData, rows: np.ndarray) -> model.ChurnPipeline:
    return model.fit(
        data.numeric[rows],
        data.categorical[rows],
        data.churned[rows],
        numeric=NUMERIC,
        logged=LOGGED,
        categorical=CATEGORICAL,
    )


def cross_validate(data: TelcoData, folds: int, seed: int) -> list[float]:
    """ROC AUC of each of ``folds`` stratified folds (every customer held out once)."""
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    aucs = []
    for train, test in split.split(data.numeric, data.churned):
        p = _fit(data, train).predict(data.numeric[test], data.categorical[test])
        aucs.append(model.metrics(data.churned[test], p).roc_auc)
    return aucs


def evaluate(
    path: Path, *, test_size: float = 0.25, seed: int = 42, folds: int = 5
) -> dict[str, Any]:
    """Fit on a stratified split and measure on the held-out part; with ``folds`` ≥ 2, also
    the ROC AUC of stratified cross-validation (how much the split alone moves the figure)."""
    if not 0 < test_size < 1:
        raise TelcoDataError("the test share must be between 0 and 1")
    if folds == 1 or folds < 0:
        raise TelcoDataError("folds must be 0 (skip) or at least 2")
    data = load(path)
    idx = np.arange(len(data.churned))
    try:
        train, test = train_test_split(
            idx, test_size=test_size, random_state=seed, stratify=data.churned
        )
    except ValueError as exc:
        raise TelcoDataError(f"cannot split {len(idx)} customers: {exc}") from exc
    fitted = _fit(data, train)
    p = fitted.predict(data.numeric[test], data.categorical[test])
    held_out = model.metrics(data.churned[test], p)
    cv = cross_validate(data, folds, seed) if folds else []
    return {
        "data": str(path),
        "rows": len(idx),
        "positives": int(data.churned.sum()),
        "blank_total_charges": data.blank_total,
        "split": {
            "method": "stratified",
            "test_share": test_size,
            "seed": seed,
            "train_rows": len(train),
            "test_rows": len(test),
            "test_positives": held_out.positives,
        },
        "model": model.KIND,
        "roc_auc": round(held_out.roc_auc, 4),
        "pr_auc": round(held_out.pr_auc, 4),
        "brier": round(held_out.brier, 4),
        "cv_roc_auc": (
            {
                "folds": folds,
                "mean": round(float(np.mean(cv)), 4),
                "min": round(min(cv), 4),
                "max": round(max(cv), 4),
            }
            if cv
            else None
        ),
    }
