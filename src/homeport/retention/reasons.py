"""The top reasons behind a churn-risk score, in words an agent can use on the phone.

The model gives each feature's contribution to a subscriber's risk (log-odds against the
average subscriber, :meth:`homeport.retention.model.ChurnPipeline.explain`). The features that
push the risk up the most become sentences about the subscriber's own figures ("3 contacts
about slow speed in 30 days", "experience score fell from 82 to 54"). A feature whose value
says nothing worth telling (tenure of four years pushing up a little) gives no sentence.
"""

from __future__ import annotations

import math

import numpy as np

from homeport.retention.features import CATEGORICAL, FEATURES

#: Contributions below this (log-odds) are too small to mention.
MIN_CONTRIBUTION = 0.05
TOP = 3
TECHNOLOGY_WORDS = {
    "adsl": "an ADSL copper line",
    "vdsl": "a VDSL line",
    "fttc": "a fibre-to-the-cabinet line",
    "cable": "a cable line",
    "fwa": "fixed wireless",
}


def _n(count: float, one: str, many: str | None = None) -> str:
    k = round(count)
    return f"{k} {one if k == 1 else (many or one + 's')}"


def _category(name: str) -> str:
    return name.replace("_", " ") if name else "their service"


def sentence(
    feature: str, values: dict[str, float], top_category: str = "", technology: str = ""
) -> str | None:
    """One reason in words for ``feature``, from the subscriber's ``values`` (feature → value,
    NaN when unknown), or ``None`` when the value gives nothing an agent could use."""
    v = values.get(feature, math.nan)

    def known(x: float) -> bool:
        return not math.isnan(x)

    recent, previous = values.get("score_recent", math.nan), values.get("score_previous", math.nan)
    match feature:
        case "score_recent" | "score_previous" | "score_change":
            if known(recent) and known(previous) and previous - recent >= 3:
                return f"experience score fell from {previous:.0f} to {recent:.0f}"
            if known(recent) and recent < 70:
                return f"experience score only {recent:.0f} this week"
            return None
        case "tenure_months":
            if v < 6:
                return "tenure under 6 months"
            if v < 12:
                return "tenure under a year"
            return None
        case "contacts_30d":
            return (
                f"{_n(v, 'contact')} about {_category(top_category)} in 30 days" if v >= 1 else None
            )
        case "cases_30d":
            return f"{_n(v, 'case')} about {_category(top_category)} in 30 days" if v >= 1 else None
        case "cases_90d":
            return f"{_n(v, 'case')} in 90 days" if v >= 2 else None
        case "cancel_requests_90d":
            return "asked to cancel in the last 90 days" if v >= 1 else None
        case "truck_rolls_90d":
            return f"{_n(v, 'technician visit')} in 90 days" if v >= 1 else None
        case "findings_open":
            return f"{_n(v, 'unresolved problem')} on the home network" if v >= 1 else None
        case "findings_severe":
            return f"{_n(v, 'serious unresolved problem')} on the home network" if v >= 1 else None
        case "nps":
            return f"gave an NPS of {v:.0f} out of 10" if known(v) and v <= 6 else None
        case "csat":
            return f"rated support {v:.0f} out of 5" if known(v) and v <= 3 else None
        case "days_since_app" | "app_events_30d":
            days = values.get("days_since_app", math.nan)
            if known(days) and days >= 90:
                return "no app use for 90 days"
            if known(days) and days >= 30:
                return f"no app use for {days:.0f} days"
            return None
        case "outages_90d":
            return f"{_n(v, 'area outage')} in 90 days" if v >= 1 else None
        case "monthly_price":
            return f"pays {v:.2f} a month for the plan" if known(v) else None
        case "down_mbps":
            return f"on a {v:.0f} Mbps plan" if known(v) else None
        case "bundles":
            return "no bundles or add-ons" if v < 1 else None
        case "technology":
            words = TECHNOLOGY_WORDS.get(technology)
            return f"on {words}" if words else None
    return None


def top_reasons(
    contributions: np.ndarray,
    numeric: np.ndarray,
    categorical: np.ndarray,
    top_category: np.ndarray,
    *,
    top: int = TOP,
) -> list[list[str]]:
    """Up to ``top`` sentences per row, the largest contributions first."""
    names = (*FEATURES, *CATEGORICAL)
    if not len(contributions):
        return []
    order = np.argsort(-contributions, axis=1)[:, : min(len(names), top + 6)]
    strong = np.take_along_axis(contributions, order, axis=1) >= MIN_CONTRIBUTION
    tech_col = CATEGORICAL.index("technology")
    out: list[list[str]] = []
    for r in range(len(contributions)):
        values: dict[str, float] | None = None
        said: list[str] = []
        for j, ok in zip(order[r].tolist(), strong[r].tolist(), strict=True):
            if not ok or len(said) >= top:
                break
            if values is None:
                values = dict(zip(FEATURES, numeric[r].tolist(), strict=True))
            text = sentence(names[j], values, str(top_category[r]), str(categorical[r, tech_col]))
            if text and text not in said:
                said.append(text)
        out.append(said)
    return out
