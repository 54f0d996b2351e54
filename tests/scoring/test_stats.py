"""codeduel.scoring.stats against known answers: scipy's exact tests, pass@k, simulation.

The simulations draw whole benchmarks from a known population (per-problem solve rates from a
Beta distribution, whose pass@k has a closed form) and check that the 95 % intervals cover the
true value about 95 % of the time. Seeds are fixed, so these tests are deterministic; the bands
are about three binomial standard deviations wide (200 datasets: sd ~ 1.5 points).
"""

from __future__ import annotations

from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from scipy.special import beta as beta_fn

from codeduel.scoring.passk import mean_pass_at_k, pass_at_k
from codeduel.scoring.stats import (
    Interval,
    bootstrap_pass_at_k,
    interval_verdict,
    mcnemar_exact,
    paired_bootstrap_diff,
    paired_test,
    sign_test,
    wilcoxon_rates,
)


def true_pass_at_k(a: float, b: float, k: int) -> float:
    """E[1 - (1 - p)^k] for p ~ Beta(a, b)."""
    return float(1.0 - beta_fn(a, b + k) / beta_fn(a, b))


# -- the estimate itself --------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(10, 60), st.floats(0, 1)), min_size=1, max_size=12),
    st.sampled_from([1, 2, 5, 10]),
)
def test_point_estimate_is_the_unbiased_estimator(rows: list[tuple[int, float]], k: int) -> None:
    ns = [n for n, _ in rows]
    cs = [round(n * f) for n, f in rows]
    iv = bootstrap_pass_at_k(ns, cs, k, n_boot=50)
    expected = mean_pass_at_k(ns, cs, k)
    assert expected is not None
    assert iv.estimate == pytest.approx(expected, abs=1e-12)
    assert iv.low <= iv.high


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10), st.integers(0, 10)), min_size=1, max_size=30))
def test_paired_difference_is_the_difference_of_estimates(rows: list[tuple[int, int]]) -> None:
    n = [10] * len(rows)
    a = [x for x, _ in rows]
    b = [y for _, y in rows]
    for k in (1, 3):
        diff = paired_bootstrap_diff(n, a, n, b, k, n_boot=100, seed=2)
        expected = bootstrap_pass_at_k(n, a, k, n_boot=1).estimate
        expected -= bootstrap_pass_at_k(n, b, k, n_boot=1).estimate
        assert diff.estimate == pytest.approx(expected, abs=1e-12)
        assert diff.low <= diff.high
        if a == b and k == 1:  # identical runs: every resample differs by exactly 0
            assert diff.low == diff.high == 0.0


def test_bootstrap_is_seeded() -> None:
    rng = np.random.default_rng(3)
    n = np.full(80, 20)
    c = rng.integers(0, 21, 80)
    first = bootstrap_pass_at_k(n, c, 5, seed=7)
    assert bootstrap_pass_at_k(n, c, 5, seed=7) == first
    assert bootstrap_pass_at_k(n, c, 5, seed=8) != first
    assert first.low < first.estimate < first.high


def test_degenerate_runs_give_point_intervals() -> None:
    assert bootstrap_pass_at_k([1] * 30, [1] * 30, 1) == Interval(1.0, 1.0, 1.0, 0.95, 2000)
    assert bootstrap_pass_at_k([1] * 30, [0] * 30, 1).high == 0.0


def test_bad_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="undefined"):
        bootstrap_pass_at_k([5, 20], [1, 2], 10)
    with pytest.raises(ValueError, match="no problems"):
        bootstrap_pass_at_k([], [], 1)
    with pytest.raises(ValueError, match="0 <= c <= n"):
        bootstrap_pass_at_k([3], [4], 1)
    with pytest.raises(ValueError, match="same problems"):
        paired_bootstrap_diff([1, 1], [1, 0], [1], [1], 1)


def test_the_lookup_table_matches_pass_at_k() -> None:
    # every c for a few n: the bootstrap's table must be the metrics module's estimator
    for n in (1, 7, 10, 200):
        for k in (1, 3, 10, 100):
            if n < k:
                continue
            for c in range(n + 1):
                iv = bootstrap_pass_at_k([n], [c], k, n_boot=1)
                assert iv.estimate == pytest.approx(pass_at_k(n, c, k), abs=1e-12)


# -- exact paired tests vs scipy ------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=80))
def test_mcnemar_is_the_exact_binomial_test(pairs: list[tuple[bool, bool]]) -> None:
    a = [x for x, _ in pairs]
    b = [y for _, y in pairs]
    result = mcnemar_exact(a, b)
    a_only = sum(x and not y for x, y in pairs)
    b_only = sum(y and not x for x, y in pairs)
    assert (result.a_wins, result.b_wins) == (a_only, b_only)
    if a_only + b_only == 0:
        assert result.p_value == 1.0
        return
    assert result.p_value == pytest.approx(sps.binomtest(a_only, a_only + b_only).pvalue)
    # and by hand: twice the smaller binomial tail, capped at 1
    m = a_only + b_only
    tail = sum(comb(m, i) for i in range(min(a_only, b_only) + 1)) / 2**m
    assert result.p_value == pytest.approx(min(1.0, 2 * tail))


def test_mcnemar_known_answer_and_wording() -> None:
    # 10 discordant problems, all for A: p = 2 / 2**10
    a = [True] * 10 + [True] * 20 + [False] * 5
    b = [False] * 10 + [True] * 20 + [False] * 5
    result = mcnemar_exact(a, b)
    assert result.p_value == pytest.approx(2 / 1024)
    assert result.verdict == "A better"
    assert mcnemar_exact(b, a).verdict == "B better"
    # 3 vs 1 discordant: p = 0.625, not significant, said plainly
    weak = mcnemar_exact([1, 1, 1, 0, 1], [0, 0, 0, 1, 1])
    assert weak.p_value == pytest.approx(0.625)
    assert weak.verdict == "not significant"


def test_wilcoxon_and_sign_match_scipy() -> None:
    rng = np.random.default_rng(11)
    a = rng.integers(0, 11, 40) / 10
    b = np.clip(a - rng.integers(-2, 4, 40) / 10, 0, 1)
    w = wilcoxon_rates(a, b)
    ref = sps.wilcoxon(a, b, zero_method="wilcox")
    assert w.p_value == pytest.approx(float(ref.pvalue))
    assert w.statistic == pytest.approx(float(ref.statistic))
    s = sign_test(a, b)
    pos, neg = int((a > b).sum()), int((a < b).sum())
    assert s.p_value == pytest.approx(sps.binomtest(pos, pos + neg).pvalue)
    # small, tie-free differences: scipy's exact distribution
    x = np.array([0.9, 0.8, 0.7, 0.95, 0.6, 0.85])
    y = x - np.array([0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
    exact = wilcoxon_rates(x, y)
    assert exact.p_value == pytest.approx(2 / 2**6)  # all six differences positive
    assert exact.verdict == "A better"


def test_paired_test_picks_mcnemar_for_one_sample_and_wilcoxon_for_several() -> None:
    one = paired_test([1] * 6, [1, 1, 1, 0, 0, 0], [1] * 6, [0, 0, 0, 1, 1, 1])
    assert one.method.startswith("McNemar")
    several = paired_test([4] * 6, [4, 3, 2, 1, 0, 4], [4] * 6, [0, 0, 0, 0, 0, 4])
    assert several.method.startswith("Wilcoxon")
    identical = paired_test([2, 2], [1, 2], [2, 2], [1, 2])
    assert identical.p_value == 1.0 and identical.verdict == "not significant"


def test_interval_verdict() -> None:
    assert interval_verdict(Interval(0.1, 0.02, 0.2, 0.95, 10)) == "A better"
    assert interval_verdict(Interval(-0.1, -0.2, -0.01, 0.95, 10)) == "B better"
    assert interval_verdict(Interval(0.05, -0.01, 0.1, 0.95, 10)) == "not significant"


# -- simulation: coverage and error rates ---------------------------------------------------


def _coverage(
    a: float, b: float, n: int, k: int, problems: int, datasets: int, n_boot: int
) -> float:
    rng = np.random.default_rng(1234)
    truth = true_pass_at_k(a, b, k)
    hits = 0
    for d in range(datasets):
        p = rng.beta(a, b, problems)
        c = rng.binomial(n, p)
        iv = bootstrap_pass_at_k(np.full(problems, n), c, k, n_boot=n_boot, seed=d)
        hits += iv.contains(truth)
    return hits / datasets


def test_pass1_interval_covers_at_the_nominal_level() -> None:
    # 200 simulated greedy HumanEval-sized runs (164 problems, one sample each)
    coverage = _coverage(0.8, 1.2, n=1, k=1, problems=164, datasets=200, n_boot=1000)
    assert 0.91 <= coverage <= 0.99, coverage


def test_pass_at_k_interval_covers_with_within_problem_resampling() -> None:
    # k > 1: problems and samples within problems resampled; truth is E[1 - (1 - p)^k]
    coverage = _coverage(0.5, 1.0, n=20, k=5, problems=100, datasets=200, n_boot=400)
    assert 0.88 <= coverage <= 0.99, coverage


def test_paired_interval_covers_the_true_difference() -> None:
    rng = np.random.default_rng(99)
    a_, b_ = 1.0, 1.0
    truth = 0.2 * a_ / (a_ + b_)  # A solves with prob p, B with 0.8 p: E[0.2 p]
    hits = 0
    for d in range(200):
        p = rng.beta(a_, b_, 164)
        ya = rng.random(164) < p
        yb = rng.random(164) < 0.8 * p
        ones = np.ones(164, dtype=int)
        iv = paired_bootstrap_diff(
            ones, ya.astype(int), ones, yb.astype(int), 1, n_boot=500, seed=d
        )
        hits += iv.contains(truth)
    assert 0.90 <= hits / 200 <= 0.99


def test_mcnemar_false_positive_rate_is_at_most_alpha() -> None:
    # two equally good models (exchangeable outcomes): an exact test rejects <= 5 % (+ noise)
    rng = np.random.default_rng(5)
    rejections = 0
    for _ in range(400):
        p = rng.beta(1, 1, 164)
        ya = rng.random(164) < p
        yb = rng.random(164) < p
        rejections += mcnemar_exact(ya, yb).significant
    assert rejections / 400 <= 0.075
