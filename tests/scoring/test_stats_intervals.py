"""Small-sample intervals: Wilson and Jeffreys against scipy, and the rule that picks them.

Known values: scipy's ``binomtest(...).proportion_ci(method="wilson")`` (the score interval
without continuity correction) and the Beta quantiles of the Jeffreys prior.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from codeduel.scoring.stats import (
    BOOTSTRAP,
    SMALL_N,
    WILSON,
    bootstrap_pass_at_k,
    interval_method,
    jeffreys_interval,
    pass_at_k_interval,
    wilson_interval,
)


@pytest.mark.parametrize("x", [0, 1, 5, 9, 10])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_wilson_matches_scipy(x: int, level: float) -> None:
    ref = sps.binomtest(x, 10).proportion_ci(confidence_level=level, method="wilson")
    iv = wilson_interval(x, 10, level=level)
    assert iv.estimate == pytest.approx(x / 10)
    assert (iv.low, iv.high) == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert iv.method == WILSON


def test_wilson_known_values() -> None:
    """0/10, 10/10 and 5/10 at 95 %: none of them collapses to a point."""
    assert wilson_interval(0, 10).high == pytest.approx(0.2775327998628893)
    assert (wilson_interval(0, 10).low, wilson_interval(10, 10).high) == (0.0, 1.0)
    assert wilson_interval(10, 10).low == pytest.approx(0.7224672001371107)
    five = wilson_interval(5, 10)
    assert (five.low, five.high) == pytest.approx((0.236593090512564, 0.7634069094874361))


def test_jeffreys_known_values() -> None:
    for x in (1, 5, 9):
        iv = jeffreys_interval(x, 10)
        assert iv.low == pytest.approx(sps.beta.ppf(0.025, x + 0.5, 10 - x + 0.5))
        assert iv.high == pytest.approx(sps.beta.ppf(0.975, x + 0.5, 10 - x + 0.5))
    none, every = jeffreys_interval(0, 10), jeffreys_interval(10, 10)
    assert none.low == 0.0 and 0.0 < none.high < 0.3
    assert every.high == 1.0 and 0.7 < every.low < 1.0
    assert every.low == pytest.approx(sps.beta.ppf(0.025, 10.5, 0.5))


def test_bad_binomial_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="no trials"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="successes"):
        jeffreys_interval(11, 10)
    with pytest.raises(ValueError, match="level"):
        wilson_interval(1, 10, level=1.0)


def test_all_passing_greedy_run_does_not_collapse() -> None:
    """The bug: a percentile bootstrap of 6 problems that all pass says [100, 100]."""
    ones = [1] * 6
    boot = bootstrap_pass_at_k(ones, ones, 1, n_boot=500)
    assert (boot.low, boot.high) == (1.0, 1.0)
    iv = pass_at_k_interval(ones, ones, 1, n_boot=500)
    assert iv.method == WILSON and iv.estimate == 1.0 and iv.high == 1.0
    assert iv.low == pytest.approx(wilson_interval(6, 6).low) and iv.low < 0.7


def test_the_rule() -> None:
    many = SMALL_N + 20
    rng = np.random.default_rng(1)
    ns = [10] * many
    cs = rng.integers(0, 11, size=many).tolist()
    # several samples per problem, enough problems, outcomes that vary: the bootstrap
    assert interval_method(ns, cs, 1) == BOOTSTRAP
    iv = pass_at_k_interval(ns, cs, 1, n_boot=300, seed=3)
    assert iv == bootstrap_pass_at_k(ns, cs, 1, n_boot=300, seed=3)
    # binary outcomes (one sample each), however many problems: Wilson on problems
    binary = (rng.random(many) < 0.4).astype(int).tolist()
    assert interval_method([1] * many, binary, 1) == WILSON
    iv = pass_at_k_interval([1] * many, binary, 1)
    ref = wilson_interval(sum(binary), many)
    assert (iv.low, iv.high) == pytest.approx((ref.low, ref.high))
    # few problems: Wilson, with the mean pass rate as the (fractional) successes
    few_n, few_c = [10] * 5, [2, 4, 6, 8, 10]
    assert interval_method(few_n, few_c, 1) == WILSON
    iv = pass_at_k_interval(few_n, few_c, 1)
    assert iv.estimate == pytest.approx(0.6)
    ref = wilson_interval(3.0, 5)
    assert (iv.low, iv.high) == pytest.approx((ref.low, ref.high))
    # every problem alike (all solved at every k): Wilson, not a zero-width bootstrap
    assert interval_method([10] * many, [10] * many, 5) == WILSON
    assert pass_at_k_interval([10] * many, [10] * many, 5).low < 1.0


def test_wilson_on_problems_covers_at_the_nominal_level() -> None:
    """Greedy runs of 8 problems from a 90 % population: the interval holds the truth about
    95 % of the time; the bootstrap misses whenever all 8 pass (0.9^8, 43 % of runs)."""
    rng = np.random.default_rng(7)
    hits_wilson = hits_boot = 0
    trials = 400
    for i in range(trials):
        c = (rng.random(8) < 0.9).astype(int)
        w = pass_at_k_interval([1] * 8, c, 1)
        b = bootstrap_pass_at_k([1] * 8, c, 1, n_boot=400, seed=i)
        hits_wilson += w.low <= 0.9 <= w.high
        hits_boot += b.low <= 0.9 <= b.high
    assert hits_wilson / trials >= 0.92
    assert hits_boot / trials < 0.65
