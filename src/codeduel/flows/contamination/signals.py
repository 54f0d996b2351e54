"""Signals that a model has seen a text before: verbatim recall, Min-K%, Min-K%++ and their AUC.

Why several: none proves contamination alone. Recall catches a model that reproduces a reference
solution; Min-K% and Min-K%++ catch a text that is far likelier than it should be even when the
model does not reproduce it; the AUC says how well a signal separates known-seen texts from fresh
ones, i.e. whether it can be trusted on this model at all.

- Min-K% Prob: Shi et al. 2023, "Detecting Pretraining Data from Large Language Models",
  arXiv:2310.16789.
- Min-K%++: Zhang et al. 2024, "Min-K%++: Improved Baseline for Detecting Pre-Training Data from
  Large Language Models", arXiv:2404.02936.
"""

from __future__ import annotations

import difflib
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from codeduel.execution.pyparse import parse_untrusted, unparse_untrusted
from codeduel.models.base import Model, TokenLogprobs


@dataclass(frozen=True)
class Recall:
    """How much of a reference a model's continuation reproduces.

    ``exact``: the reference's body appears verbatim (line endings and trailing whitespace
    normalised) in the continuation. ``longest_common_run``: the longest run of model tokens the
    two share. ``similarity``: 0..1 ratio after normalising both through ``ast`` (so formatting
    and quoting do not count; renamed identifiers still do).
    """

    exact: bool
    longest_common_run: int
    reference_tokens: int
    similarity: float


def _lines(text: str) -> str:
    """Line endings unified, trailing whitespace of each line and blank edges dropped."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def _canonical(text: str) -> str | None:
    """``ast.unparse`` of the code (dedented first: a body may be indented), None if it does not
    parse."""
    tree = parse_untrusted(textwrap.dedent(_lines(text)))
    return None if tree is None else unparse_untrusted(tree)


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def verbatim_recall(
    continuation: str, reference: str, tokenize: Callable[[str], list[int]]
) -> Recall:
    """Compare a model's continuation with the reference it might have memorised.

    An empty reference (after normalising) recalls nothing: all zeros, ``exact`` False. The
    longest common run is over the model's own tokens, the unit memorisation studies count in.
    """
    body = _lines(reference)
    said = _lines(continuation)
    if not body.strip():
        return Recall(exact=False, longest_common_run=0, reference_tokens=0, similarity=0.0)
    ref_tokens = list(tokenize(body))
    out_tokens = list(tokenize(said)) if said else []
    run = (
        difflib.SequenceMatcher(None, out_tokens, ref_tokens, autojunk=False)
        .find_longest_match(0, len(out_tokens), 0, len(ref_tokens))
        .size
    )
    a, b = _canonical(said), _canonical(body)
    if a is None or b is None:
        a, b = " ".join(said.split()), " ".join(body.split())
    return Recall(
        exact=body in said,
        longest_common_run=run,
        reference_tokens=len(ref_tokens),
        similarity=round(_ratio(a, b), 6),
    )


def _lowest_mean(values: Sequence[float], k: float) -> float:
    """Mean of the ``k`` fraction of lowest values (at least one; NaN when there are none)."""
    if not 0.0 < k <= 1.0:
        raise ValueError(f"k must be in (0, 1], got {k}")
    if not values:
        return math.nan
    count = max(1, int(k * len(values) + 1e-9))  # floor as the reference code, float-safe
    return float(np.mean(np.sort(np.asarray(values, dtype=np.float64))[:count]))


def min_k_percent(lp: TokenLogprobs, k: float = 0.2) -> float:
    """Min-K% Prob (Shi et al. 2023, arXiv:2310.16789): mean log-prob of the ``k`` fraction of
    tokens with the lowest log-prob. Higher means more likely seen.

    Why the lowest tokens: a fresh text contains a few outlier tokens the model finds surprising;
    a memorised one has few. Unscored tokens (``None``, the first without BOS) are skipped;
    NaN when no token is scored (an empty or one-token text), so a flow over many texts
    does not fail on one.
    """
    return _lowest_mean([x for x in lp.logprobs if x is not None], k)


def min_k_plus_plus(model: Model, texts: Sequence[str], k: float = 0.2) -> list[float] | None:
    """Min-K%++ (Zhang et al. 2024, arXiv:2404.02936) of each text, or None when the backend
    cannot give the whole next-token distribution (llama.cpp: its server returns only the top
    ``n_probs`` tokens).

    Per token ``(log p(x_t) - mu_t) / sigma_t``, with ``mu_t`` and ``sigma_t`` the mean and
    standard deviation of ``log p(z|x_<t)`` for ``z ~ p(.|x_<t)`` (the paper's expectation under
    the model); then the mean of the lowest ``k`` fraction. Why: it scores a token against what
    the model expected at that position, so a text is not "seen" merely for being predictable.
    Unscored tokens and positions with ``sigma_t == 0`` are skipped; NaN when none is left.
    """
    if not 0.0 < k <= 1.0:
        raise ValueError(f"k must be in (0, 1], got {k}")
    moments = model.next_token_moments(texts)
    if moments is None:
        return None
    scores: list[float] = []
    for m in moments:
        z = [
            (lp - mu) / sd
            for lp, mu, sd in zip(m.logprobs, m.means, m.stds, strict=True)
            if lp is not None and mu is not None and sd is not None and sd > 0.0
        ]
        scores.append(_lowest_mean(z, k))
    return scores


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """ROC AUC of a score that should be higher for ``positives``: the Mann-Whitney U over
    ``n_pos * n_neg``, ties counting half. 1.0 separates perfectly, 0.5 is chance.

    Raises ValueError when either class is empty (no AUC exists) or a score is NaN.
    """
    if not positives or not negatives:
        raise ValueError("auc needs at least one positive and one negative score")
    values = np.asarray([*positives, *negatives], dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError("auc got a NaN score")
    ranks = rankdata(values)  # average ranks: a tie counts half
    n_pos, n_neg = len(positives), len(negatives)
    u = float(ranks[:n_pos].sum()) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)
