"""The churn model itself: preprocessing, a logistic regression, and per-subscriber contributions.

One recipe for Homeport's own features and for the IBM Telco evaluation (only the feature
names differ). Numeric features: counts and other long-tailed values log-scaled
(``log1p``), missing values filled with the training median plus a "was missing" indicator,
all standardised; categorical features one-hot. Then an L2-regularised logistic regression,
whose log-loss fit gives calibrated probabilities (the Brier score is reported beside the AUCs).

Contributions are exact for a linear model: each transformed column's coefficient times its
distance from the training mean, summed back onto the feature it came from (a feature's
value, its missing indicator, its one-hot columns). Positive: pushes the risk up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

# scikit-learn is imported where it is used: it takes about 1.5 s to import, and the worker and
# every `homeport` command import this module (a saved pipeline imports it when unpickled).
if TYPE_CHECKING:
    from sklearn.impute import SimpleImputer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.preprocessing import OneHotEncoder, StandardScaler  # type: ignore[import-untyped]

KIND = "logistic_regression"


@dataclass
class Metrics:
    rows: int
    positives: int
    roc_auc: float
    pr_auc: float
    brier: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "positives": self.positives,
            "roc_auc": round(self.roc_auc, 4),
            "pr_auc": round(self.pr_auc, 4),
            "brier": round(self.brier, 4),
        }


def metrics(y: np.ndarray, p: np.ndarray) -> Metrics:
    """ROC AUC, PR AUC (average precision) and Brier score; needs both classes in ``y``."""
    positives = int(np.sum(y))
    if positives == 0 or positives == len(y):
        raise ValueError(
            f"cannot measure: {len(y)} rows with {positives} churned (both classes needed)"
        )
    from sklearn.metrics import (  # type: ignore[import-untyped]
        average_precision_score,
        brier_score_loss,
        roc_auc_score,
    )

    return Metrics(
        rows=len(y),
        positives=positives,
        roc_auc=float(roc_auc_score(y, p)),
        pr_auc=float(average_precision_score(y, p)),
        brier=float(brier_score_loss(y, p)),
    )


@dataclass
class ChurnPipeline:
    """A fitted model with what it needs to explain itself."""

    numeric: tuple[str, ...]
    logged: tuple[str, ...]
    categorical: tuple[str, ...]
    strength: float = 1.0
    imputer: SimpleImputer = field(init=False)
    scaler: StandardScaler = field(init=False)
    encoder: OneHotEncoder | None = field(init=False, default=None)
    classifier: LogisticRegression = field(init=False)
    #: Mean of each transformed column on the training rows.
    center: np.ndarray = field(init=False)
    #: (transformed columns, features): which feature each transformed column belongs to.
    groups: np.ndarray = field(init=False)
    #: Training medians of the raw numeric features (the "typical subscriber").
    medians: np.ndarray = field(init=False)

    @property
    def features(self) -> tuple[str, ...]:
        return (*self.numeric, *self.categorical)

    def _numeric(self, x: np.ndarray) -> np.ndarray:
        x = np.array(x, dtype=np.float64, copy=True)
        for name in self.logged:
            i = self.numeric.index(name)
            x[:, i] = np.log1p(np.clip(x[:, i], 0, None))
        return x

    def _transform(self, x: np.ndarray, cat: np.ndarray | None) -> np.ndarray:
        parts = [self.scaler.transform(self.imputer.transform(self._numeric(x)))]
        if self.encoder is not None and cat is not None:
            parts.append(self.encoder.transform(np.asarray(cat, dtype=object)))
        return np.hstack(parts).astype(np.float64)

    def fit(self, x: np.ndarray, cat: np.ndarray | None, y: np.ndarray) -> ChurnPipeline:
        if len(x) != len(y):
            raise ValueError("features and labels differ in length")
        metrics(y, np.zeros(len(y)))  # both classes present, or a clear error
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        self.imputer = SimpleImputer(
            strategy="median", add_indicator=True, keep_empty_features=True
        )
        imputed = self.imputer.fit_transform(self._numeric(x))
        self.scaler = StandardScaler().fit(imputed)
        if self.categorical:
            self.encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
            self.encoder.fit(np.asarray(cat, dtype=object))
        z = self._transform(x, cat)
        self.classifier = LogisticRegression(C=self.strength, max_iter=5000)
        self.classifier.fit(z, y)
        self.center = z.mean(axis=0)
        owners: list[int] = list(range(len(self.numeric)))
        indicator = self.imputer.indicator_
        if indicator is not None:
            owners += [int(i) for i in indicator.features_]
        if self.encoder is not None:
            for j, cats in enumerate(self.encoder.categories_):
                owners += [len(self.numeric) + j] * len(cats)
        self.groups = np.zeros((z.shape[1], len(self.features)))
        self.groups[np.arange(z.shape[1]), owners] = 1.0
        finite = np.isfinite(x)
        self.medians = np.array(
            [
                np.median(x[finite[:, j], j]) if finite[:, j].any() else np.nan
                for j in range(x.shape[1])
            ]
        )
        return self

    def predict(self, x: np.ndarray, cat: np.ndarray | None = None) -> np.ndarray:
        """Churn probability per row."""
        if not len(x):
            return np.zeros(0)
        return np.asarray(self.classifier.predict_proba(self._transform(x, cat))[:, 1])

    def explain(
        self, x: np.ndarray, cat: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, contributions (rows, features) in log-odds against the average)."""
        if not len(x):
            return np.zeros(0), np.zeros((0, len(self.features)))
        z = self._transform(x, cat)
        p = np.asarray(self.classifier.predict_proba(z)[:, 1])
        contributions = ((z - self.center) * self.classifier.coef_[0]) @ self.groups
        return p, contributions


def fit(
    x: np.ndarray,
    cat: np.ndarray | None,
    y: np.ndarray,
    *,
    numeric: Sequence[str],
    logged: Sequence[str] = (),
    categorical: Sequence[str] = (),
    strength: float = 1.0,
) -> ChurnPipeline:
    """``strength``: the inverse L2 regularisation (scikit-learn's ``C``)."""
    return ChurnPipeline(tuple(numeric), tuple(logged), tuple(categorical), strength).fit(x, cat, y)
