"""The statistics of an experiment: one treatment variant compared with the control.

Pure functions over counts and summary statistics (numpy and scipy), no database:

- **Binary metric** (a share: contacted support within 7 days, churned, accepted an offer):
  difference in proportions ``d = p̂_t − p̂_c`` with the Newcombe hybrid score interval (the
  Wilson intervals of both proportions combined, Newcombe 1998, method 10; good coverage even
  near 0 or 1 where the Wald interval fails) and, for reference, the Wald interval; the p-value
  of the two-proportion z-test with the pooled proportion.
- **Continuous metric** (a mean: CSAT score): Welch's t-test (unequal variances) with the
  Welch–Satterthwaite degrees of freedom and the t interval of the difference in means.
- **Relative lift**: ``d / control mean`` (none when the control mean is 0).
- **Sample size**: subscribers per variant for a two-sided test at ``alpha`` with ``power``
  to detect a difference ``delta`` (normal approximation).
- **Verdict**: a plain sentence from the comparison (see :func:`verdict` for the rules).

docs/experiments.md gives every formula with a worked example.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def _sps() -> Any:
    """scipy.stats, imported on first use: it takes over a second to import, and the CLI and the
    web app import this module."""
    from scipy import stats  # type: ignore[import-untyped]

    return stats


#: Below this many observed subscribers in either variant no comparison is made.
MIN_PER_VARIANT = 30
DEFAULT_ALPHA = 0.05
DEFAULT_POWER = 0.8

BINARY = "binary"
CONTINUOUS = "continuous"


def _z(confidence: float) -> float:
    """The two-sided standard normal quantile: 1.959964 for 95 %."""
    return float(_sps().norm.ppf(0.5 + confidence / 2))


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n``:
    ``(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)``."""
    _check_confidence(confidence)
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes}/{n}")
    z = _z(confidence)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Comparison:
    """A treatment variant against the control on one metric. ``difference`` is treatment
    minus control (a proportion for a binary metric: 0.031 is 3.1 points)."""

    kind: str
    control: str
    treatment: str
    n_control: int
    n_treatment: int
    control_mean: float
    treatment_mean: float
    difference: float
    ci_low: float
    ci_high: float
    confidence: float
    p_value: float
    #: z for a binary metric, t for a continuous one.
    statistic: float
    #: The standard error of the difference (unpooled).
    se: float
    #: Welch–Satterthwaite degrees of freedom (continuous only).
    df: float | None = None
    #: The Wald interval (binary only), shown next to the Newcombe one.
    wald_low: float | None = None
    wald_high: float | None = None
    #: Pooled standard deviation (continuous only), for the sample size.
    sd: float | None = None

    @property
    def relative_lift(self) -> float | None:
        """The difference relative to the control's mean (0.25 = 25 % higher)."""
        if self.control_mean == 0:
            return None
        return self.difference / self.control_mean

    def significant(self, alpha: float) -> bool:
        """Both the test and the interval say the difference is not zero."""
        return self.p_value < alpha and (self.ci_low > 0 or self.ci_high < 0)


def compare_proportions(
    successes_control: int,
    n_control: int,
    successes_treatment: int,
    n_treatment: int,
    *,
    confidence: float = 0.95,
    control: str = "control",
    treatment: str = "treatment",
) -> Comparison:
    """Difference in proportions with the Newcombe (Wilson) and Wald intervals and the
    two-proportion z-test's two-sided p-value."""
    _check_confidence(confidence)
    for name, x, n in (
        ("control", successes_control, n_control),
        ("treatment", successes_treatment, n_treatment),
    ):
        if n <= 0 or not 0 <= x <= n:
            raise ValueError(f"{name}: need 0 <= successes <= n and n > 0, got {x}/{n}")
    z = _z(confidence)
    pc = successes_control / n_control
    pt = successes_treatment / n_treatment
    d = pt - pc
    se = math.sqrt(pc * (1 - pc) / n_control + pt * (1 - pt) / n_treatment)
    lc, uc = wilson_interval(successes_control, n_control, confidence)
    lt, ut = wilson_interval(successes_treatment, n_treatment, confidence)
    low = d - math.sqrt((pt - lt) ** 2 + (uc - pc) ** 2)
    high = d + math.sqrt((ut - pt) ** 2 + (pc - lc) ** 2)
    pooled = (successes_control + successes_treatment) / (n_control + n_treatment)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_control + 1 / n_treatment))
    if se0 == 0:  # everyone or no one in both variants: no difference to test
        statistic, p_value = 0.0, 1.0
    else:
        statistic = d / se0
        p_value = float(2 * _sps().norm.sf(abs(statistic)))
    return Comparison(
        kind=BINARY,
        control=control,
        treatment=treatment,
        n_control=n_control,
        n_treatment=n_treatment,
        control_mean=pc,
        treatment_mean=pt,
        difference=d,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        p_value=p_value,
        statistic=statistic,
        se=se,
        wald_low=d - z * se,
        wald_high=d + z * se,
    )


def compare_means(
    mean_control: float,
    sd_control: float,
    n_control: int,
    mean_treatment: float,
    sd_treatment: float,
    n_treatment: int,
    *,
    confidence: float = 0.95,
    control: str = "control",
    treatment: str = "treatment",
) -> Comparison:
    """Welch's t-test from summary statistics (sample standard deviations, ``ddof=1``):
    ``SE = √(s_c²/n_c + s_t²/n_t)``, ``df = SE⁴ / ((s_c²/n_c)²/(n_c−1) + (s_t²/n_t)²/(n_t−1))``,
    ``t = d / SE``, interval ``d ± t_{df} · SE``."""
    _check_confidence(confidence)
    if n_control < 2 or n_treatment < 2:
        raise ValueError("Welch's test needs at least 2 observations per variant")
    if sd_control < 0 or sd_treatment < 0:
        raise ValueError("standard deviations cannot be negative")
    d = mean_treatment - mean_control
    vc = sd_control**2 / n_control
    vt = sd_treatment**2 / n_treatment
    se = math.sqrt(vc + vt)
    pooled_sd = math.sqrt(
        ((n_control - 1) * sd_control**2 + (n_treatment - 1) * sd_treatment**2)
        / (n_control + n_treatment - 2)
    )
    if se == 0:  # no spread at all: the difference is exact
        return Comparison(
            kind=CONTINUOUS,
            control=control,
            treatment=treatment,
            n_control=n_control,
            n_treatment=n_treatment,
            control_mean=mean_control,
            treatment_mean=mean_treatment,
            difference=d,
            ci_low=d,
            ci_high=d,
            confidence=confidence,
            p_value=1.0 if d == 0 else 0.0,
            statistic=0.0 if d == 0 else math.copysign(math.inf, d),
            se=0.0,
            df=float(n_control + n_treatment - 2),
            sd=pooled_sd,
        )
    df = (vc + vt) ** 2 / (vc**2 / (n_control - 1) + vt**2 / (n_treatment - 1))
    t = d / se
    p_value = float(2 * _sps().t.sf(abs(t), df))
    half = float(_sps().t.ppf(0.5 + confidence / 2, df)) * se
    return Comparison(
        kind=CONTINUOUS,
        control=control,
        treatment=treatment,
        n_control=n_control,
        n_treatment=n_treatment,
        control_mean=mean_control,
        treatment_mean=mean_treatment,
        difference=d,
        ci_low=d - half,
        ci_high=d + half,
        confidence=confidence,
        p_value=p_value,
        statistic=t,
        se=se,
        df=df,
        sd=pooled_sd,
    )


def compare_samples(
    control_values: Sequence[float] | np.ndarray,
    treatment_values: Sequence[float] | np.ndarray,
    *,
    kind: str,
    confidence: float = 0.95,
    control: str = "control",
    treatment: str = "treatment",
) -> Comparison:
    """Compare two variants' observed values (0/1 for a binary metric)."""
    c = np.asarray(control_values, dtype=float)
    t = np.asarray(treatment_values, dtype=float)
    if kind == BINARY:
        for values in (c, t):
            if not np.isin(values, (0.0, 1.0)).all():
                raise ValueError("a binary metric's values are 0 or 1")
        return compare_proportions(
            int(c.sum()),
            c.size,
            int(t.sum()),
            t.size,
            confidence=confidence,
            control=control,
            treatment=treatment,
        )
    if kind == CONTINUOUS:
        if c.size < 2 or t.size < 2:
            raise ValueError("Welch's test needs at least 2 observations per variant")
        return compare_means(
            float(c.mean()),
            float(c.std(ddof=1)),
            c.size,
            float(t.mean()),
            float(t.std(ddof=1)),
            t.size,
            confidence=confidence,
            control=control,
            treatment=treatment,
        )
    raise ValueError(f"unknown metric kind {kind!r}")


def sample_size_proportions(
    baseline: float, delta: float, *, alpha: float = DEFAULT_ALPHA, power: float = DEFAULT_POWER
) -> int:
    """Subscribers per variant to detect ``baseline → baseline + delta`` (two-sided):
    ``n = (z_{1−α/2}·√(2·p̄(1−p̄)) + z_{power}·√(p₁(1−p₁) + p₂(1−p₂)))² / δ²``."""
    if delta == 0:
        raise ValueError("the difference to detect cannot be 0")
    p1 = min(max(baseline, 0.0), 1.0)
    p2 = min(max(baseline + delta, 0.0), 1.0)
    if p1 == p2:
        raise ValueError("the difference to detect leaves the 0–1 range")
    bar = (p1 + p2) / 2
    za = float(_sps().norm.ppf(1 - alpha / 2))
    zb = float(_sps().norm.ppf(power))
    root = za * math.sqrt(2 * bar * (1 - bar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return max(2, math.ceil(root**2 / (p2 - p1) ** 2))


def sample_size_means(
    sd: float, delta: float, *, alpha: float = DEFAULT_ALPHA, power: float = DEFAULT_POWER
) -> int:
    """Subscribers per variant to detect a difference in means ``delta`` with standard
    deviation ``sd``: ``n = 2·(z_{1−α/2} + z_{power})²·σ² / δ²``."""
    if delta == 0:
        raise ValueError("the difference to detect cannot be 0")
    za = float(_sps().norm.ppf(1 - alpha / 2))
    zb = float(_sps().norm.ppf(power))
    return max(2, math.ceil(2 * (za + zb) ** 2 * sd**2 / delta**2))


@dataclass(frozen=True)
class Verdict:
    """``status``: ``better`` / ``worse`` (a difference unlikely to be chance, good or bad for
    the metric's direction), ``no_evidence`` (could be chance), ``insufficient_data`` (too few
    subscribers to compare). ``text`` says it in a sentence."""

    status: str
    text: str
    #: Subscribers per variant a test would need to detect ``target_effect`` (no evidence).
    needed_per_variant: int | None = None
    #: How many more than the smaller variant has now.
    more_per_variant: int | None = None
    target_effect: float | None = None


def _fmt(value: float, kind: str) -> str:
    """A difference in words: points for a share, two decimals for a mean."""
    if kind == BINARY:
        return f"{abs(value) * 100:.1f} points"
    return f"{abs(value):.2f}"


def _bound(value: float, kind: str) -> str:
    return f"{value * 100:.1f}" if kind == BINARY else f"{value:.2f}"


def minimum_effect(comparison: Comparison) -> float:
    """The smallest difference worth detecting when the observed one is smaller: 10 % of the
    control's rate (at least 1 point) for a share, 0.2 standard deviations for a mean."""
    if comparison.kind == BINARY:
        return max(0.01, 0.1 * comparison.control_mean)
    return max(0.2 * (comparison.sd or 0.0), 1e-9)


def needed_sample(
    comparison: Comparison, *, alpha: float = DEFAULT_ALPHA, power: float = DEFAULT_POWER
) -> tuple[int, float]:
    """(subscribers per variant, the effect it is sized for): the observed difference, or the
    :func:`minimum_effect` when that is larger."""
    target = max(abs(comparison.difference), minimum_effect(comparison))
    if comparison.kind == BINARY:
        base = comparison.control_mean
        # Size for the direction that stays inside 0–1.
        delta = -target if base + target > 1 else target
        return sample_size_proportions(base, delta, alpha=alpha, power=power), target
    return sample_size_means(comparison.sd or 0.0, target, alpha=alpha, power=power), target


def verdict(
    comparison: Comparison,
    *,
    metric_label: str,
    lower_is_better: bool,
    alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
    min_per_variant: int = MIN_PER_VARIANT,
) -> Verdict:
    """The rules, in order:

    1. fewer than ``min_per_variant`` observed subscribers in either variant →
       ``insufficient_data``;
    2. p < ``alpha`` and the interval excludes 0 → ``better`` or ``worse`` (by the metric's
       direction): "friendly lowers the share who contacted support within 7 days by 3.1
       points (95 % CI 1.2 to 5.0) compared with control; this is unlikely to be chance";
    3. otherwise → ``no_evidence``: "not enough evidence yet: … need about N more subscribers
       per variant", N from :func:`needed_sample`.
    """
    c = comparison
    level = f"{c.confidence * 100:g} %"
    smallest = min(c.n_control, c.n_treatment)
    if smallest < min_per_variant:
        return Verdict(
            "insufficient_data",
            f"not enough data yet: {c.n_control} subscribers observed in {c.control} and "
            f"{c.n_treatment} in {c.treatment}; a comparison needs at least "
            f"{min_per_variant} in each",
            more_per_variant=min_per_variant - smallest,
        )
    if c.significant(alpha):
        raised = c.difference > 0
        good = raised != lower_is_better
        verb = "raises" if raised else "lowers"
        low, high = sorted((abs(c.ci_low), abs(c.ci_high)))
        text = (
            f"{c.treatment} {verb} {metric_label} by {_fmt(c.difference, c.kind)} "
            f"({level} CI {_bound(low, c.kind)} to {_bound(high, c.kind)}) compared with "
            f"{c.control}; this is unlikely to be chance (p = {c.p_value:.3g})"
        )
        return Verdict("better" if good else "worse", text)
    needed, target = needed_sample(c, alpha=alpha, power=power)
    more = max(0, needed - smallest)
    direction = "higher" if c.difference > 0 else "lower"
    observed = (
        f"{c.treatment} is {_fmt(c.difference, c.kind)} {direction} than {c.control}"
        if c.difference != 0
        else f"{c.treatment} and {c.control} are level"
    )
    text = (
        f"not enough evidence yet: {observed} on {metric_label} "
        f"({level} CI {_bound(c.ci_low, c.kind)} to {_bound(c.ci_high, c.kind)}), which could "
        f"be chance (p = {c.p_value:.2g}); "
        + (
            f"need about {more:,} more subscribers per variant to detect a difference of "
            f"{_fmt(target, c.kind)}"
            if more
            else f"with {smallest:,} per variant a difference of {_fmt(target, c.kind)} would "
            "most likely have shown: there is probably no effect that large"
        )
    )
    return Verdict("no_evidence", text, needed, more, target)
