"""How many problems a comparison needs: the exact power of the paired test codeduel uses.

Why: "are these two models really different?" has a prior question, "could this benchmark
have told them apart?". HumanEval has 164 problems; whether a 3-point gain is detectable on it
depends on how often the two models disagree, not only on the gain. This module answers it for
the greedy case (one sample per problem per model), where :func:`codeduel.scoring.stats.paired_test`
uses McNemar's exact test.

Model. Each problem is one paired trial: baseline A passes with probability ``p_base``, B with
``p_base + delta``. ``discordance`` is the probability that they disagree on a problem (A passes
and B fails, or the reverse); it must be at least ``|delta|``. Given it, the discordant count is
``Binomial(n, discordance)`` and B's share of the discordant problems is
``Binomial(d, (discordance + delta) / (2 discordance))``. Power is summed exactly over both
(no normal approximation), against the exact two-sided binomial test at ``alpha``. Without a
measured discordance the default assumes the two models fail independently, the most
discordant (and so most conservative) case for given pass rates; two runs of the same models on
the same benchmark give the real figure (``discordance_of``), usually far lower.

Several samples per problem (``samples_plan``): there is no closed form for the Wilcoxon test
``compare`` then uses, so power is simulated. Problems differ in difficulty: A's per-problem pass
probability is ``Beta(p_base * c, (1 - p_base) * c)`` (``c``, the concentration, is small for
code benchmarks, where most problems are almost always or almost never solved); B's is A's shifted
by one constant on the logit scale, chosen so that the mean gain is ``delta``. Each model draws
``n`` samples per problem, and the paired test of :func:`codeduel.scoring.stats.paired_test` is
applied to every simulated benchmark, so what is planned is exactly what ``compare`` will run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats as sps

from codeduel.errors import CodeduelError

DEFAULT_POWER = 0.8
DEFAULT_ALPHA = 0.05
MAX_PROBLEMS = 100_000


@dataclass(frozen=True)
class PowerPlan:
    """What ``codeduel plan`` reports (fractions, not percent)."""

    p_base: float
    delta: float
    discordance: float
    assumed_independent: bool
    alpha: float
    power_target: float
    problems_needed: int | None  # None: not reachable within MAX_PROBLEMS
    n_problems: int | None  # the benchmark's size, when a task was given
    power_at_n: float | None  # power of the benchmark as it is
    mdd_at_n: float | None  # smallest |delta| detectable at power_target on it
    # samples per problem -> problems needed (simulated), when asked for
    by_samples: dict[int, int | None] | None = None
    concentration: float | None = None


def independent_discordance(p_base: float, delta: float) -> float:
    """P(disagree) when the two models fail independently at their rates."""
    p_b = p_base + delta
    return p_base * (1 - p_b) + (1 - p_base) * p_b


def discordance_of(a_pass: list[bool], b_pass: list[bool]) -> float:
    """The measured share of problems on which two greedy runs disagree."""
    if len(a_pass) != len(b_pass) or not a_pass:
        raise CodeduelError("runs must be scored on the same problems", "pair runs of one task")
    return sum(a != b for a, b in zip(a_pass, b_pass, strict=True)) / len(a_pass)


@lru_cache(maxsize=4096)
def _rejection_counts(d: int, alpha: float) -> tuple[int, int]:
    """For ``d`` discordant problems: reject when B's wins are <= lo or >= hi (exact test)."""
    wins = np.arange(d + 1)
    # two-sided exact binomial p-value with p = 1/2 (symmetric: 2 x the smaller tail)
    tail = np.minimum(sps.binom.cdf(wins, d, 0.5), sps.binom.sf(wins - 1, d, 0.5))
    p = np.minimum(1.0, 2 * tail)
    reject = p <= alpha
    lo = int(wins[reject & (wins < d / 2)].max()) if (reject & (wins < d / 2)).any() else -1
    hi = int(wins[reject & (wins > d / 2)].min()) if (reject & (wins > d / 2)).any() else d + 1
    return lo, hi


def mcnemar_power(
    n: int,
    p_base: float,
    delta: float,
    *,
    discordance: float | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> float:
    """Exact power of McNemar's exact test on ``n`` problems (see the module doc)."""
    _check(p_base, delta, alpha)
    psi = independent_discordance(p_base, delta) if discordance is None else discordance
    _check_discordance(psi, delta, p_base)
    if n < 1 or psi == 0:
        return 0.0
    q = (psi + delta) / (2 * psi)  # B's share of the discordant problems
    ds = np.arange(n + 1)
    weight = sps.binom.pmf(ds, n, psi)
    power = 0.0
    for d in ds[weight > 1e-12]:
        lo, hi = _rejection_counts(int(d), alpha)
        p_reject = sps.binom.cdf(lo, d, q) + sps.binom.sf(hi - 1, d, q)
        power += float(weight[d]) * float(p_reject)
    return min(1.0, power)


def problems_needed(
    p_base: float,
    delta: float,
    *,
    discordance: float | None = None,
    power: float = DEFAULT_POWER,
    alpha: float = DEFAULT_ALPHA,
) -> int | None:
    """The fewest problems with at least ``power`` (None beyond MAX_PROBLEMS). The exact test
    is discrete, so power is not monotone in n: this is the first n that reaches it."""
    if delta == 0:
        return None

    def enough(n: int) -> bool:
        return mcnemar_power(n, p_base, delta, discordance=discordance, alpha=alpha) >= power

    hi = 8
    while not enough(hi):
        if hi >= MAX_PROBLEMS:
            return None
        hi = min(MAX_PROBLEMS, hi * 2)
    hi = _first_reaching(hi // 2, hi, enough)
    for _ in range(64):  # a dip just below the boundary may still reach it
        if hi > 1 and enough(hi - 1):
            hi -= 1
        else:
            break
    return hi


def minimum_detectable_difference(
    n: int,
    p_base: float,
    *,
    discordance: float | None = None,
    power: float = DEFAULT_POWER,
    alpha: float = DEFAULT_ALPHA,
) -> float | None:
    """The smallest gain over ``p_base`` (to 0.1 point) detectable on ``n`` problems (power
    grows with the gain, so a bisection over the grid finds it)."""

    def enough(tenths: int) -> bool:
        delta = tenths / 1000
        if discordance is not None and not _possible(discordance, delta, p_base):
            return False
        return mcnemar_power(n, p_base, delta, discordance=discordance, alpha=alpha) >= power

    largest = 1 - p_base
    if discordance is not None:  # the gains that much disagreement allows
        largest = min(largest, discordance, 2 * (1 - p_base) - discordance)
    top = int(largest * 1000 + 1e-9)
    if top < 1 or not enough(top):
        return None
    return _first_reaching(0, top, enough) / 1000


def _first_reaching(lo: int, hi: int, enough: Callable[[int], bool]) -> int:
    """Bisection: the smallest x in (lo, hi] with ``enough(x)``, given ``enough(hi)``."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if enough(mid):
            hi = mid
        else:
            lo = mid
    return hi


DEFAULT_CONCENTRATION = 1.0
SIMULATIONS = 400
MAX_SIMULATED_PROBLEMS = 20_000
MIN_WILCOXON_PROBLEMS = 14
_GRID = 4000


def _population(p_base: float, delta: float, concentration: float) -> tuple[float, float, float]:
    """(a, b, logit shift) of the problem-difficulty model (see the module doc)."""
    if concentration <= 0:
        raise CodeduelError(
            f"invalid concentration {concentration:g}", "give a positive number, e.g. 1"
        )
    p = min(max(p_base, 1e-4), 1 - 1e-4)
    a, b = p * concentration, (1 - p) * concentration
    grid = np.clip(sps.beta.ppf((np.arange(_GRID) + 0.5) / _GRID, a, b), 1e-9, 1 - 1e-9)
    logit = np.log(grid) - np.log1p(-grid)
    target = float(grid.mean()) + delta

    def gained(shift: float) -> float:
        return float((1 / (1 + np.exp(-(logit + shift)))).mean())

    lo, hi = -40.0, 40.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gained(mid) < target else (lo, mid)
    return a, b, (lo + hi) / 2


def simulated_power(
    problems: int,
    samples: int,
    p_base: float,
    delta: float,
    *,
    concentration: float = DEFAULT_CONCENTRATION,
    alpha: float = DEFAULT_ALPHA,
    simulations: int = SIMULATIONS,
    seed: int = 0,
) -> float:
    """The share of simulated benchmarks (``problems`` x ``samples`` per model) on which the
    paired test ``compare`` uses rejects at ``alpha`` (see the module doc)."""
    from codeduel.scoring.stats import paired_test

    _check(p_base, delta, alpha)
    a, b, shift = _population(p_base, delta, concentration)
    rng = np.random.default_rng(seed)
    p_a = np.clip(rng.beta(a, b, size=(simulations, problems)), 1e-9, 1 - 1e-9)
    p_b = 1 / (1 + np.exp(-(np.log(p_a) - np.log1p(-p_a) + shift)))
    c_a = rng.binomial(samples, p_a)
    c_b = rng.binomial(samples, p_b)
    ns = np.full(problems, samples)
    rejected = sum(
        paired_test(ns, c_b[i], ns, c_a[i], alpha=alpha).p_value < alpha for i in range(simulations)
    )
    return rejected / simulations


def samples_plan(
    p_base: float,
    delta: float,
    samples: tuple[int, ...] = (1, 5, 10, 20),
    *,
    concentration: float = DEFAULT_CONCENTRATION,
    power: float = DEFAULT_POWER,
    alpha: float = DEFAULT_ALPHA,
    simulations: int = SIMULATIONS // 2,
    seed: int = 0,
) -> dict[int, int | None]:
    """For each number of samples per problem, the fewest problems whose simulated power
    reaches ``power`` (None beyond MAX_SIMULATED_PROBLEMS; at least MIN_WILCOXON_PROBLEMS for
    more than one sample). The same seed serves every size, so the curve is smooth enough to
    bisect."""
    if any(n < 1 for n in samples):
        raise CodeduelError(f"invalid samples {samples}", "give positive samples per problem")
    out: dict[int, int | None] = {}
    for n in samples:

        def enough(m: int, n: int = n) -> bool:
            found = simulated_power(
                m, n, p_base, delta, concentration=concentration, alpha=alpha,
                simulations=simulations, seed=seed,
            )  # fmt: skip
            return found >= power

        # Below 14 problems scipy's Wilcoxon with ties runs a permutation test (~0.3 s each, so
        # minutes per size); no plan below that size is offered for several samples.
        lo = 0 if n == 1 else MIN_WILCOXON_PROBLEMS - 1
        hi = 8 if n == 1 else 16
        while not enough(hi) and hi < MAX_SIMULATED_PROBLEMS:
            lo, hi = hi, min(MAX_SIMULATED_PROBLEMS, hi * 2)
        out[n] = _first_reaching(lo, hi, enough) if enough(hi) else None
    return out


def plan(
    p_base: float,
    delta: float,
    *,
    discordance: float | None = None,
    power: float = DEFAULT_POWER,
    alpha: float = DEFAULT_ALPHA,
    n_problems: int | None = None,
    samples: tuple[int, ...] = (),
    concentration: float = DEFAULT_CONCENTRATION,
) -> PowerPlan:
    """Problems needed to detect ``delta`` over ``p_base``, and what a benchmark of
    ``n_problems`` can detect as it is; with ``samples``, also the problems needed at each
    number of samples per problem (simulated, see the module doc)."""
    _check(p_base, delta, alpha)
    if not 0 < power < 1:
        raise CodeduelError(f"invalid power {power}", "give a power between 0 and 1, e.g. 0.8")
    if delta == 0:
        raise CodeduelError("delta is 0", "give the smallest difference worth detecting")
    psi = independent_discordance(p_base, delta) if discordance is None else discordance
    _check_discordance(psi, delta, p_base)
    at_n = mdd = None
    if n_problems is not None:
        at_n = mcnemar_power(n_problems, p_base, delta, discordance=psi, alpha=alpha)
        mdd = minimum_detectable_difference(
            n_problems, p_base, discordance=discordance, power=power, alpha=alpha
        )
    return PowerPlan(
        p_base=p_base,
        delta=delta,
        discordance=psi,
        assumed_independent=discordance is None,
        alpha=alpha,
        power_target=power,
        problems_needed=problems_needed(p_base, delta, discordance=psi, power=power, alpha=alpha),
        n_problems=n_problems,
        power_at_n=at_n,
        mdd_at_n=mdd,
        by_samples=(
            samples_plan(
                p_base, delta, samples, concentration=concentration, power=power, alpha=alpha
            )
            if samples
            else None
        ),
        concentration=concentration if samples else None,
    )


def _check(p_base: float, delta: float, alpha: float) -> None:
    if not 0 <= p_base <= 1:
        raise CodeduelError(
            f"invalid baseline {p_base}", "give the baseline pass@1 as a fraction, e.g. 0.45"
        )
    if not 0 <= p_base + delta <= 1:
        raise CodeduelError(
            f"baseline {p_base} + delta {delta} is outside 0..1", "give a smaller delta"
        )
    if not 0 < alpha < 1:
        raise CodeduelError(f"invalid alpha {alpha}", "give a level between 0 and 1, e.g. 0.05")


def _possible(psi: float, delta: float, p_base: float) -> bool:
    """A-only = (psi - delta) / 2 <= p_base and B-only = (psi + delta) / 2 <= 1 - p_base."""
    eps = 1e-12
    return (
        abs(delta) <= psi + eps
        and (psi - delta) / 2 <= p_base + eps
        and (psi + delta) / 2 <= 1 - p_base + eps
    )


def _check_discordance(psi: float, delta: float, p_base: float) -> None:
    if not _possible(psi, delta, p_base):
        raise CodeduelError(
            f"discordance {psi:g} is impossible for baseline {p_base:g} and delta {delta:g}",
            "give a share of disagreeing problems of at least |delta| that the pass rates allow",
        )
