"""Subscriber lifecycle over time: the state of the base, sign-ups and churn.

Each subscriber gets a timeline — order (sign-up), installation (activation) and perhaps churn —
and the stored status and journey stage are read off that timeline at ``now``. The fleet is an
established BSP at ``start = now - days``; during the ``days`` that follow, new customers order
and move through signup → installation → onboarding → established, and customers leave at a
realistic monthly rate. With ``days = 0`` the timeline is simply the base at ``now``.

Defaults (plausible UK figures, not measurements): about 1.2 % of customers leave each month
(Ofcom reports annual fixed-broadband switching around 10-15 %); gross additions of 1.6 % a
month, so the base grows slowly; 30 days of onboarding ("early life") after activation.
Subscribers at risk churn four times and suspended ones three times as often as the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

US_PER_DAY = 86_400_000_000
MONTH_DAYS = 30.4375
MONTHLY_CHURN = 0.012
MONTHLY_GROSS_ADDS = 0.016
ONBOARDING_DAYS = 30
ORDER_PROCESSING_DAYS = (1.0, 3.0)
#: Tenure of established customers: 30 days + exponential with this mean, at most 15 years.
MEAN_TENURE_DAYS = 1100.0
MAX_TENURE_DAYS = 15 * 365.0
#: How recently the already-churned accounts in the base left.
CHURNED_WITHIN_DAYS = 90.0

#: State of the base at ``start``.
BASE_STATES = (
    "established",
    "onboarding",
    "installation",
    "signup",
    "at_risk",
    "suspended",
    "churned",
)
BASE_STATE_P = (0.885, 0.030, 0.012, 0.006, 0.035, 0.010, 0.022)
CHURN_MULTIPLIER = {"at_risk": 4.0, "suspended": 3.0}


def _days(x: np.ndarray | float) -> np.ndarray:
    """Days (float) → timedelta64[us]."""
    return (np.asarray(x, dtype=float) * US_PER_DAY).astype("timedelta64[us]")


def base_daily_hazard() -> float:
    """Daily churn hazard of an ordinary subscriber so that the active base averages
    :data:`MONTHLY_CHURN` once the at-risk and suspended multipliers are included."""
    active = {
        s: p
        for s, p in zip(BASE_STATES, BASE_STATE_P, strict=True)
        if s in ("established", "onboarding", "at_risk", "suspended")
    }
    mean_mult = sum(p * CHURN_MULTIPLIER.get(s, 1.0) for s, p in active.items()) / sum(
        active.values()
    )
    monthly = MONTHLY_CHURN / mean_mult
    return -float(np.log1p(-monthly)) / MONTH_DAYS


def signup_count(rng: np.random.Generator, base: int, days: int) -> int:
    """New orders placed during ``days`` by a base of ``base`` subscribers (Poisson)."""
    if days <= 0:
        return 0
    return int(rng.poisson(base * MONTHLY_GROSS_ADDS * days / MONTH_DAYS))


@dataclass(frozen=True)
class Lifecycle:
    """Per subscriber (base first, then new sign-ups in order): timeline and state at ``now``."""

    signup_at: np.ndarray  # datetime64[us]
    activated_at: np.ndarray  # datetime64[us], NaT until installed
    churned_at: np.ndarray  # datetime64[us], NaT unless churned
    updated_at: np.ndarray  # datetime64[us]
    status: np.ndarray  # str
    journey_stage: np.ndarray  # str

    @property
    def installed(self) -> np.ndarray:
        return np.asarray(~np.isnat(self.activated_at), dtype=bool)

    @property
    def churned(self) -> np.ndarray:
        return np.asarray(~np.isnat(self.churned_at), dtype=bool)


def simulate(
    rng: np.random.Generator,
    *,
    base: int,
    signups: int,
    lead_days: np.ndarray,
    now: np.datetime64,
    days: int,
) -> Lifecycle:
    """Timelines for ``base + signups`` subscribers; ``lead_days`` is each one's order to
    installation time (it depends on the technology)."""
    n = base + signups
    if len(lead_days) != n:
        raise ValueError("lead_days needs one value per subscriber")
    now = now.astype("datetime64[us]")
    start = now - _days(days)
    st = np.array(BASE_STATES)[rng.choice(len(BASE_STATES), size=base, p=BASE_STATE_P)]
    processing = rng.uniform(*ORDER_PROCESSING_DAYS, size=n)
    lead = np.maximum(lead_days, processing + 0.5)
    tenure = np.minimum(
        ONBOARDING_DAYS + rng.exponential(MEAN_TENURE_DAYS, size=n), MAX_TENURE_DAYS
    )
    u = rng.uniform(size=n)

    # Activation relative to start, in days (negative: before start), for the base.
    act = np.empty(n)
    churn_before = np.full(n, np.nan)
    b = slice(0, base)  # the base; new sign-ups follow it
    est = np.isin(st, ("established", "at_risk", "suspended"))
    act[b] = np.where(est, -tenure[b], 0.0)
    act[b] = np.where(st == "onboarding", -u[b] * ONBOARDING_DAYS, act[b])
    pending = np.isin(st, ("installation", "signup"))
    elapsed = np.where(
        st == "installation", processing[b] + u[b] * (lead[b] - processing[b]), u[b] * processing[b]
    )
    act[b] = np.where(pending, lead[b] - elapsed, act[b])
    gone = st == "churned"
    churn_before[b] = np.where(gone, -u[b] * CHURNED_WITHIN_DAYS, np.nan)
    act[b] = np.where(gone, churn_before[b] - tenure[b], act[b])
    # New sign-ups: orders spread over the simulated days, in time order.
    order_day = np.sort(rng.uniform(0.0, float(days), size=signups))
    act[base:] = order_day + lead[base:]

    signup = start + _days(act - lead)
    activation = start + _days(act)

    # Churn after start, for everyone active by now: exponential time from max(start, act).
    mult = np.ones(n)
    for name, m in CHURN_MULTIPLIER.items():
        mult[b] = np.where(st == name, m, mult[b])
    wait = rng.exponential(1.0, size=n) / (base_daily_hazard() * mult)
    churn_day = np.maximum(act, 0.0) + wait
    churned = (act <= days) & (churn_day <= days)
    churned[b] |= gone
    churn_day = np.where(np.isnan(churn_before), churn_day, churn_before)
    churned_at = np.where(
        churned, start + _days(np.where(churned, churn_day, 0.0)), np.datetime64("NaT", "us")
    )
    installed = activation <= now
    activated_at = np.where(installed, activation, np.datetime64("NaT", "us"))

    at_risk = np.zeros(n, dtype=bool)
    suspended = np.zeros(n, dtype=bool)
    at_risk[b] = st == "at_risk"
    suspended[b] = st == "suspended"
    status, stage = _state_at(
        now, signup, processing, activation, installed, churned, at_risk, suspended
    )

    processed = signup + _days(processing)
    events = [
        signup,
        np.where(processed <= now, processed, signup),
        np.where(installed, activation, signup),
        np.where(
            activation + _days(ONBOARDING_DAYS) <= now, activation + _days(ONBOARDING_DAYS), signup
        ),
    ]
    updated = np.maximum.reduce(events)
    updated = np.where(churned, churned_at, updated)
    return Lifecycle(signup, activated_at, churned_at, updated, status, stage)


def _state_at(
    now: np.datetime64,
    signup: np.ndarray,
    processing: np.ndarray,
    activation: np.ndarray,
    installed: np.ndarray,
    churned: np.ndarray,
    at_risk: np.ndarray,
    suspended: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    n = len(signup)
    status = np.full(n, "active", dtype=object)
    stage = np.full(n, "established", dtype=object)
    early = installed & (now - activation < _days(ONBOARDING_DAYS))
    stage[early] = "onboarding"
    stage[at_risk & ~early] = "at_risk"
    status[suspended] = "suspended"
    waiting = ~installed
    status[waiting] = "onboarding"
    ordered = now - signup < _days(processing)
    stage[waiting & ordered] = "signup"
    stage[waiting & ~ordered] = "installation"
    status[churned] = "churned"
    stage[churned] = "churned"
    return status, stage
