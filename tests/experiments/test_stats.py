"""The experiment statistics against hand-worked examples and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps  # type: ignore[import-untyped]

from homeport.experiments import stats


def test_binary_matches_the_hand_worked_example() -> None:
    """Control 120 of 1000 contacted support, treatment 90 of 1000 (z = 1.959964 for 95 %).

    p̂_c = 0.12, p̂_t = 0.09, d = p̂_t − p̂_c = −0.03.

    Wald: SE = √(0.12·0.88/1000 + 0.09·0.91/1000) = √(0.0001056 + 0.0000819) = √0.0001875
    = 0.013693; d ± 1.959964·0.013693 = −0.03 ± 0.026838 → (−0.0568, −0.0032).

    Wilson (z²/n = 0.0038415, denominator 1.0038415):
      control:   centre (0.12 + 0.0019207)/1.0038415 = 0.121454,
                 half 1.959964·√(0.0001056 + 0.00000096)/1.0038415 = 0.020155
                 → (0.101299, 0.141609)
      treatment: centre (0.09 + 0.0019207)/1.0038415 = 0.091569, half 0.017773
                 → (0.073796, 0.109342)
    Newcombe: lower = d − √((p̂_t − l_t)² + (u_c − p̂_c)²) = −0.03 − √(0.016204² + 0.021609²)
              = −0.03 − 0.027009 = −0.0570
              upper = d + √((u_t − p̂_t)² + (p̂_c − l_c)²) = −0.03 + √(0.019342² + 0.018701²)
              = −0.03 + 0.026904 = −0.0031

    z-test: pooled p̂ = 210/2000 = 0.105; SE₀ = √(0.105·0.895·(1/1000 + 1/1000)) = 0.013709;
    z = −0.03/0.013709 = −2.1883; p = 2·(1 − Φ(2.1883)) = 0.0287.
    Relative lift: −0.03/0.12 = −25 %.
    """
    c = stats.compare_proportions(120, 1000, 90, 1000)
    assert c.difference == pytest.approx(-0.03, abs=1e-12)
    assert c.se == pytest.approx(0.013693, abs=5e-7)
    assert round(c.wald_low or 0, 4) == -0.0568
    assert round(c.wald_high or 0, 4) == -0.0032
    assert stats.wilson_interval(120, 1000) == pytest.approx((0.101299, 0.141609), abs=5e-7)
    assert stats.wilson_interval(90, 1000) == pytest.approx((0.073796, 0.109342), abs=5e-7)
    assert round(c.ci_low, 4) == -0.0570
    assert round(c.ci_high, 4) == -0.0031
    assert round(c.statistic, 4) == -2.1883
    assert round(c.p_value, 4) == 0.0287
    assert c.relative_lift == pytest.approx(-0.25)
    v = stats.verdict(
        c, metric_label="the share who contacted support within 7 days", lower_is_better=True
    )
    assert v.status == "better"
    assert v.text == (
        "treatment lowers the share who contacted support within 7 days by 3.0 points "
        "(95 % CI 0.3 to 5.7) compared with control; this is unlikely to be chance "
        "(p = 0.0287)"
    )
    # The same difference is bad news when higher is better.
    assert stats.verdict(c, metric_label="x", lower_is_better=False).status == "worse"


def test_welch_matches_the_hand_worked_example_and_scipy() -> None:
    """Control CSAT answers 3, 4, 5, 4, 4; treatment 4, 5, 5, 4, 5, 5.

    Means 4.0 and 28/6 = 4.6667, d = 0.6667; sample variances 2/4 = 0.5 and 1.3333/5 = 0.26667.
    s_c²/n_c = 0.1, s_t²/n_t = 0.044444; SE = √0.144444 = 0.380058.
    df = 0.144444² / (0.1²/4 + 0.044444²/5) = 0.0208642 / 0.0028951 = 7.2068.
    t = 0.6667 / 0.380058 = 1.7541; p = 2·P(T₇.₂₀₇ > 1.7541) = 0.1216.
    t₀.₉₇₅ at 7.2068 df = 2.3509; CI 0.6667 ± 0.8935 → (−0.2268, 1.5602).
    """
    control = [3, 4, 5, 4, 4]
    treatment = [4, 5, 5, 4, 5, 5]
    c = stats.compare_samples(control, treatment, kind=stats.CONTINUOUS)
    assert c.difference == pytest.approx(2 / 3)
    assert round(c.se, 6) == 0.380058
    assert round(c.df or 0, 4) == 7.2068
    assert round(c.statistic, 4) == 1.7541
    assert round(c.p_value, 4) == 0.1216
    assert round(c.ci_low, 4) == -0.2268
    assert round(c.ci_high, 4) == 1.5602
    reference = sps.ttest_ind(treatment, control, equal_var=False)
    assert c.p_value == pytest.approx(reference.pvalue)
    assert c.statistic == pytest.approx(reference.statistic)
    ci = reference.confidence_interval()
    assert (c.ci_low, c.ci_high) == pytest.approx((ci.low, ci.high))


def test_newcombe_interval_covers_the_truth_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    covered = 0
    runs = 2000
    for _ in range(runs):
        xc = int(rng.binomial(400, 0.10))
        xt = int(rng.binomial(400, 0.07))
        c = stats.compare_proportions(xc, 400, xt, 400)
        covered += c.ci_low <= -0.03 <= c.ci_high
    assert 0.93 <= covered / runs <= 0.97


def test_z_test_rejects_about_alpha_of_the_time_without_an_effect() -> None:
    rng = np.random.default_rng(11)
    runs = 2000
    rejected = sum(
        stats.compare_proportions(
            int(rng.binomial(500, 0.2)), 500, int(rng.binomial(500, 0.2)), 500
        ).p_value
        < 0.05
        for _ in range(runs)
    )
    assert 0.03 <= rejected / runs <= 0.07


def test_sample_size_matches_the_textbook_formula() -> None:
    """12 % → 9 %, α 0.05 two-sided, power 0.8: p̄ = 0.105,
    n = (1.959964·√(2·0.105·0.895) + 0.841621·√(0.12·0.88 + 0.09·0.91))² / 0.03²
      = (1.959964·0.433532 + 0.841621·0.433013)² / 0.0009 = (0.849707 + 0.364433)² / 0.0009
      = 1637.7 → 1638."""
    assert stats.sample_size_proportions(0.12, -0.03) == 1638
    # Means: n = 2·(1.959964 + 0.841621)²·1² / 0.5² = 62.8 → 63.
    assert stats.sample_size_means(1.0, 0.5) == 63


def test_no_evidence_says_how_many_more_are_needed() -> None:
    c = stats.compare_proportions(60, 500, 55, 500, control="control", treatment="friendly")
    v = stats.verdict(
        c, metric_label="the share who contacted support within 7 days", lower_is_better=True
    )
    assert v.status == "no_evidence"
    assert v.text.startswith("not enough evidence yet: friendly is 1.0 points lower than control")
    assert v.needed_per_variant is not None and v.more_per_variant is not None
    assert v.more_per_variant == v.needed_per_variant - 500
    assert f"need about {v.more_per_variant:,} more subscribers per variant" in v.text
    # The target is the observed difference (1 point) or 10 % of 12 % (1.2 points): 1.2.
    assert v.target_effect == pytest.approx(0.012)
    assert v.needed_per_variant == stats.sample_size_proportions(0.12, 0.012)


def test_too_few_subscribers_gives_no_comparison() -> None:
    c = stats.compare_proportions(2, 10, 1, 12)
    v = stats.verdict(c, metric_label="x", lower_is_better=True)
    assert v.status == "insufficient_data"
    assert "at least 30 in each" in v.text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((5, 0, 1, 10), "n > 0"),
        ((11, 10, 1, 10), "successes <= n"),
        ((-1, 10, 1, 10), "successes <= n"),
    ],
)
def test_bad_counts_are_refused(args: tuple[int, int, int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        stats.compare_proportions(*args)


def test_edge_cases_stay_defined() -> None:
    nobody = stats.compare_proportions(0, 100, 0, 100)
    assert nobody.p_value == 1.0 and nobody.ci_low <= 0 <= nobody.ci_high
    flat = stats.compare_means(4.0, 0.0, 10, 4.0, 0.0, 10)
    assert flat.p_value == 1.0 and flat.difference == 0
    with pytest.raises(ValueError, match="binary"):
        stats.compare_samples([0, 2], [1, 0], kind=stats.BINARY)
    with pytest.raises(ValueError, match="confidence"):
        stats.compare_proportions(1, 10, 1, 10, confidence=1.5)
    assert math.isfinite(stats.compare_proportions(100, 100, 0, 100).p_value)
