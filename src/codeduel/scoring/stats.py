"""Uncertainty for pass@k: bootstrap intervals and paired tests between two models.

Why: a leaderboard of bare numbers cannot say whether 48.8 beats 45.1 on 164 problems. Here
every pass@k comes with a 95 % percentile-bootstrap interval, and two models scored on the same
problems are compared *paired* (the same resampled problems for both), which is far tighter
than comparing two independent intervals because problem difficulty is shared.

Resampling scheme. Problems are the unit of replication: each bootstrap draw picks problems with
replacement. For k > 1 the samples of each drawn problem are resampled too (``c* ~ Binomial(n,
c / n)``, the same as drawing ``n`` samples with replacement from its ``n`` verdicts) and the
unbiased estimator is applied to the resampled counts, so the interval also reflects that only
``n`` samples per problem were drawn. For k = 1 only problems are resampled.

Paired tests (pass@1 / pass rate):

- One sample per problem in both runs (greedy): McNemar's exact test, i.e. a two-sided binomial
  test with p = 1/2 on the discordant problems (A passes and B fails vs the reverse).
- Several samples per problem: the per-problem pass rates ``c / n`` are paired and tested with
  the Wilcoxon signed-rank test (two-sided, zero differences dropped; scipy picks the exact
  distribution for small samples without ties, else the normal approximation). The sign test on
  the same differences is reported beside it as a robustness check.

Small samples. A percentile bootstrap collapses where the data cannot vary: every problem
passing gives [100, 100], and with few problems it is too narrow. :func:`pass_at_k_interval`
therefore uses the Wilson score interval (Wilson 1927; recommended for binomial proportions by
Brown, Cai & DasGupta, Statistical Science 16(2), 2001) with problems as the trials when every
problem has one sample (binary outcomes), when fewer than :data:`SMALL_N` problems were scored,
or when every problem has the same pass@k; otherwise the percentile bootstrap above. With several
samples per problem the per-problem pass@k values lie in [0, 1], so their variance is at most
p(1 - p) and the Wilson interval on problems is the conservative end. :func:`jeffreys_interval`
(equal-tailed Beta(x + 1/2, n - x + 1/2)) is the Bayesian alternative.

Everything is seeded: the same inputs and seed give the same interval, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from scipy import stats as sps

DEFAULT_LEVEL = 0.95
DEFAULT_N_BOOT = 2000
DEFAULT_ALPHA = 0.05
#: Below this many problems :func:`pass_at_k_interval` uses Wilson, not the bootstrap.
SMALL_N = 20
BOOTSTRAP = "percentile bootstrap"
WILSON = "Wilson score"

Verdict = Literal["A better", "B better", "not significant"]
ArrayLike = Sequence[int] | np.ndarray


@dataclass(frozen=True)
class Interval:
    """A point estimate with its two-sided bootstrap interval (fractions, not percent)."""

    estimate: float
    low: float
    high: float
    level: float
    n_boot: int
    method: str = BOOTSTRAP

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class PairedTest:
    """An exact (or rank) paired test of A against B on the same problems."""

    method: str
    statistic: float
    p_value: float
    n_pairs: int
    a_wins: int  # problems where A's pass rate is higher
    b_wins: int  # problems where B's pass rate is higher
    mean_diff: float  # mean per-problem pass rate of A minus B: the direction of an effect
    alpha: float

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha

    @property
    def verdict(self) -> Verdict:
        """``"not significant"`` unless p < alpha; then the side with more wins."""
        if not self.significant or self.mean_diff == 0:
            return "not significant"
        return "A better" if self.mean_diff > 0 else "B better"


def _counts(n: ArrayLike, c: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    ns = np.asarray(n, dtype=np.int64)
    cs = np.asarray(c, dtype=np.int64)
    if ns.ndim != 1 or ns.shape != cs.shape:
        raise ValueError("n and c must be 1-D and of the same length")
    if ns.size == 0:
        raise ValueError("no problems to estimate from")
    if (cs < 0).any() or (cs > ns).any():
        raise ValueError("need 0 <= c <= n for every problem")
    return ns, cs


def _tables(ns: np.ndarray, k: int) -> dict[int, np.ndarray]:
    """For each distinct n, pass@k for c = 0..n (the stable product form)."""
    out: dict[int, np.ndarray] = {}
    for n in np.unique(ns).tolist():
        if n < k:
            raise ValueError(f"pass@{k} is undefined for a problem with only {n} sample(s)")
        # 1 - prod_{i=n-c+1}^{n} (1 - k/i): cumulative product from i = n downwards.
        factors = 1.0 - k / np.arange(n, 0, -1, dtype=np.float64)  # i = n, n-1, ..., 1
        prods = np.concatenate(([1.0], np.cumprod(factors)))  # prods[c] over i = n..n-c+1
        table = 1.0 - prods
        table[np.arange(n + 1) > n - k] = 1.0
        out[n] = table
    return out


def _per_problem(ns: np.ndarray, cs: np.ndarray, tables: dict[int, np.ndarray]) -> np.ndarray:
    """pass@k per cell of (possibly 2-D) count arrays, by table look-up."""
    out = np.empty(cs.shape, dtype=np.float64)
    for n, table in tables.items():
        mask = ns == n
        out[mask] = table[cs[mask]]
    return out


def _resample_counts(
    ns: np.ndarray, cs: np.ndarray, idx: np.ndarray, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of the problems ``idx`` picks, with samples resampled within problems if k > 1."""
    bn = ns[idx]
    bc = cs[idx]
    if k > 1:
        bc = rng.binomial(bn, bc / bn)
    return bn, bc


def _percentile(values: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


def _check(level: float, n_boot: int, k: int) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def bootstrap_pass_at_k(
    n: ArrayLike,
    c: ArrayLike,
    k: int,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> Interval:
    """Mean pass@k over problems with a percentile-bootstrap interval (see module doc)."""
    _check(level, n_boot, k)
    ns, cs = _counts(n, c)
    tables = _tables(ns, k)
    estimate = float(_per_problem(ns, cs, tables).mean())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, ns.size, size=(n_boot, ns.size))
    bn, bc = _resample_counts(ns, cs, idx, k, rng)
    boots = _per_problem(bn, bc, tables).mean(axis=1)
    low, high = _percentile(boots, level)
    return Interval(estimate, low, high, level, n_boot)


def _binomial_args(successes: float, trials: int, level: float) -> float:
    """Checks shared by the binomial intervals; returns the observed proportion."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if trials < 1:
        raise ValueError("no trials to estimate from")
    if not 0.0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    return successes / trials


def wilson_interval(successes: float, trials: int, *, level: float = DEFAULT_LEVEL) -> Interval:
    """Wilson score interval for a proportion; ``successes`` may be fractional (a mean of
    per-problem rates times the number of problems). Never zero-width for trials >= 1."""
    p = _binomial_args(successes, trials, level)
    z = float(sps.norm.ppf(0.5 + level / 2.0))
    z2n = z * z / trials
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * float(np.sqrt(p * (1.0 - p) / trials + z2n / (4.0 * trials)))
    # at p = 0 or 1 one bound is exactly 0 or 1 (the formula leaves rounding noise there)
    low = 0.0 if p == 0.0 else max(0.0, centre - half)
    high = 1.0 if p == 1.0 else min(1.0, centre + half)
    return Interval(p, low, high, level, 0, WILSON)


def jeffreys_interval(successes: float, trials: int, *, level: float = DEFAULT_LEVEL) -> Interval:
    """Equal-tailed Jeffreys interval: Beta(x + 1/2, n - x + 1/2) quantiles, with the bound at
    0 (none passing) or 1 (all passing) set to it, as Brown, Cai & DasGupta (2001) advise."""
    p = _binomial_args(successes, trials, level)
    tail = (1.0 - level) / 2.0
    a, b = successes + 0.5, trials - successes + 0.5
    low = 0.0 if p == 0.0 else float(sps.beta.ppf(tail, a, b))
    high = 1.0 if p == 1.0 else float(sps.beta.ppf(1.0 - tail, a, b))
    return Interval(p, low, high, level, 0, "Jeffreys")


def interval_method(n: ArrayLike, c: ArrayLike, k: int) -> str:
    """Which interval :func:`pass_at_k_interval` uses for these counts (see module doc)."""
    ns, cs = _counts(n, c)
    return _method(ns, _per_problem(ns, cs, _tables(ns, k)))


def _method(ns: np.ndarray, values: np.ndarray) -> str:
    if (ns == 1).all() or ns.size < SMALL_N or np.ptp(values) == 0.0:
        return WILSON
    return BOOTSTRAP


def pass_at_k_interval(
    n: ArrayLike,
    c: ArrayLike,
    k: int,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> Interval:
    """Mean pass@k with an interval that does not collapse on small or uniform data: Wilson
    on problems (one sample each, fewer than SMALL_N problems, or all alike), else the
    percentile bootstrap of :func:`bootstrap_pass_at_k`."""
    _check(level, n_boot, k)
    ns, cs = _counts(n, c)
    values = _per_problem(ns, cs, _tables(ns, k))
    if _method(ns, values) == BOOTSTRAP:
        return bootstrap_pass_at_k(ns, cs, k, n_boot=n_boot, level=level, seed=seed)
    estimate = float(values.mean())
    iv = wilson_interval(min(estimate * ns.size, float(ns.size)), int(ns.size), level=level)
    return replace(iv, estimate=estimate)


def paired_bootstrap_diff(
    a_n: ArrayLike,
    a_c: ArrayLike,
    b_n: ArrayLike,
    b_c: ArrayLike,
    k: int,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> Interval:
    """pass@k(A) - pass@k(B) on the same problems (same order), with a paired interval.

    Each draw resamples one set of problem indices used for both models; for k > 1 each
    model's samples are then resampled within the drawn problems independently.
    """
    _check(level, n_boot, k)
    an, ac = _counts(a_n, a_c)
    bn_, bc_ = _counts(b_n, b_c)
    if an.shape != bn_.shape:
        raise ValueError("A and B must be scored on the same problems")
    ta, tb = _tables(an, k), _tables(bn_, k)
    estimate = float(_per_problem(an, ac, ta).mean() - _per_problem(bn_, bc_, tb).mean())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, an.size, size=(n_boot, an.size))
    ra_n, ra_c = _resample_counts(an, ac, idx, k, rng)
    rb_n, rb_c = _resample_counts(bn_, bc_, idx, k, rng)
    boots = _per_problem(ra_n, ra_c, ta).mean(axis=1) - _per_problem(rb_n, rb_c, tb).mean(axis=1)
    low, high = _percentile(boots, level)
    return Interval(estimate, low, high, level, n_boot)


def mcnemar_exact(
    a_pass: ArrayLike, b_pass: ArrayLike, *, alpha: float = DEFAULT_ALPHA
) -> PairedTest:
    """McNemar's exact test: two-sided binomial test (p = 1/2) on the discordant problems."""
    a = np.asarray(a_pass, dtype=bool)
    b = np.asarray(b_pass, dtype=bool)
    if a.shape != b.shape:
        raise ValueError("A and B must be scored on the same problems")
    a_only = int((a & ~b).sum())
    b_only = int((b & ~a).sum())
    discordant = a_only + b_only
    p = 1.0 if discordant == 0 else float(sps.binomtest(a_only, discordant, 0.5).pvalue)
    return PairedTest(
        method="McNemar exact (binomial test on discordant problems)",
        statistic=float(a_only),
        p_value=min(1.0, p),
        n_pairs=int(a.size),
        a_wins=a_only,
        b_wins=b_only,
        mean_diff=(a_only - b_only) / a.size if a.size else 0.0,
        alpha=alpha,
    )


def sign_test(a_rate: ArrayLike, b_rate: ArrayLike, *, alpha: float = DEFAULT_ALPHA) -> PairedTest:
    """Exact two-sided sign test on per-problem differences (ties dropped)."""
    d = np.asarray(a_rate, dtype=np.float64) - np.asarray(b_rate, dtype=np.float64)
    pos, neg = int((d > 0).sum()), int((d < 0).sum())
    p = 1.0 if pos + neg == 0 else float(sps.binomtest(pos, pos + neg, 0.5).pvalue)
    mean = float(d.mean()) if d.size else 0.0
    return PairedTest(
        "sign test on per-problem pass rates", float(pos), p, int(d.size), pos, neg, mean, alpha
    )


def wilcoxon_rates(
    a_rate: ArrayLike, b_rate: ArrayLike, *, alpha: float = DEFAULT_ALPHA
) -> PairedTest:
    """Wilcoxon signed-rank test on per-problem pass rates (two-sided, zeros dropped)."""
    a = np.asarray(a_rate, dtype=np.float64)
    b = np.asarray(b_rate, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError("A and B must be scored on the same problems")
    d = a - b
    pos, neg = int((d > 0).sum()), int((d < 0).sum())
    if pos + neg == 0:
        stat, p = 0.0, 1.0
    else:
        res = sps.wilcoxon(a, b, zero_method="wilcox", alternative="two-sided")
        stat, p = float(res.statistic), float(res.pvalue)
    mean = float(d.mean()) if d.size else 0.0
    return PairedTest(
        "Wilcoxon signed-rank on per-problem pass rates",
        stat,
        p,
        int(d.size),
        pos,
        neg,
        mean,
        alpha,
    )


def paired_test(
    a_n: ArrayLike,
    a_c: ArrayLike,
    b_n: ArrayLike,
    b_c: ArrayLike,
    *,
    alpha: float = DEFAULT_ALPHA,
) -> PairedTest:
    """The paired test for pass@1: McNemar exact when every problem has one sample per model,
    else Wilcoxon signed-rank on per-problem pass rates (see module doc)."""
    an, ac = _counts(a_n, a_c)
    bn, bc = _counts(b_n, b_c)
    if an.shape != bn.shape:
        raise ValueError("A and B must be scored on the same problems")
    if (an == 1).all() and (bn == 1).all():
        return mcnemar_exact(ac == 1, bc == 1, alpha=alpha)
    return wilcoxon_rates(ac / an, bc / bn, alpha=alpha)


def interval_verdict(diff: Interval) -> Verdict:
    """A verdict from a paired interval of A - B: better only if the interval excludes 0."""
    if diff.low > 0:
        return "A better"
    if diff.high < 0:
        return "B better"
    return "not significant"
