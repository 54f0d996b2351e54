"""Duplicate removal and benchmark decontamination for generated instruction data.

Why both: self-instruct data is only worth training on if it is diverse (the Code Llama paper
deduplicated its 62K generated questions down to 52K) and if it does not leak the benchmarks it
will be scored on (a question that restates a HumanEval or MBPP problem inflates pass@1).

Duplicates (questions against each other):

- *exact*: the same text after lowercasing and keeping only letters and digits;
- *near*: MinHash (``datasketch``, 128 permutations, fixed seed) over word 3-shingles, with LSH
  to find candidates and the estimated Jaccard similarity >= :data:`NEAR_DUP_THRESHOLD` (0.7) to
  confirm them. The first occurrence is kept.

Contamination (questions and solutions against benchmark problems) is n-gram *containment*: the
share of the smaller side's n-grams that the other side also has,
``|A ∩ B| / min(|A|, |B|)``. Containment rather than Jaccard because a short generated question
can restate a long HumanEval prompt (or a long one can embed a short MBPP sentence), which
Jaccard would dilute. Two profiles, both documented constants:

- text (questions vs HumanEval prompts and MBPP problem texts): lowercase words with
  :data:`STOPWORDS` removed (so the shared boilerplate "write a python function to" counts for
  nothing), word 3-grams, flagged at containment >= 0.5. Short n and stopword removal keep a
  lightly edited restatement above the threshold; measured on real data, unrelated questions
  share no content 3-gram or one at most.
- code (solutions vs HumanEval prompt+canonical solution and MBPP reference code): Python
  tokens (identifiers, numbers, single punctuation characters), 10-grams, flagged at
  containment >= 0.5. A side with fewer n-grams than :data:`MIN_NGRAMS` is never flagged: a
  one-line ``return a + b`` says nothing about where it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from codeduel.errors import CodeduelError

NEAR_DUP_THRESHOLD = 0.7
NEAR_DUP_SHINGLE = 3
NUM_PERM = 128
MINHASH_SEED = 1

TEXT_NGRAM = 3
TEXT_THRESHOLD = 0.5
CODE_NGRAM = 10
CODE_THRESHOLD = 0.5
MIN_NGRAMS = 1

#: Words that carry no problem identity in programming questions (boilerplate and function words).
STOPWORDS: frozenset[str] = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "of",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "be",
        "by",
        "with",
        "as",
        "at",
        "from",
        "that",
        "this",
        "which",
        "it",
        "its",
        "write",
        "python",
        "function",
        "program",
        "method",
        "code",
        "given",
        "input",
        "returns",
        "return",
        "should",
        "takes",
        "take",
        "accepts",
        "accept",
        "implement",
        "create",
        "define",
        "your",
        "you",
        "we",
    ]
)

_WORD = re.compile(r"[a-z0-9]+")
_CODE_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|[^\w\s]")


def normalize_text(text: str) -> str:
    """The exact-duplicate key: lowercase letters and digits separated by single spaces."""
    return " ".join(_WORD.findall(text.lower()))


def content_words(text: str) -> list[str]:
    """Lowercase words of ``text`` without :data:`STOPWORDS`."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def code_tokens(code: str) -> list[str]:
    """Python-ish tokens of ``code``: identifiers, integers and single punctuation marks."""
    return _CODE_TOKEN.findall(code)


def ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """The set of ``n``-grams of ``tokens`` (empty when there are fewer than ``n`` tokens)."""
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def containment(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    """``|a ∩ b| / min(|a|, |b|)``; 0 when either side is empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


# -- duplicates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DupResult:
    """For each input, ``None`` when kept, else ``("exact"|"near", index of the kept twin)``."""

    status: list[tuple[str, int] | None]

    @property
    def exact(self) -> int:
        return sum(1 for s in self.status if s is not None and s[0] == "exact")

    @property
    def near(self) -> int:
        return sum(1 for s in self.status if s is not None and s[0] == "near")


def _shingles(text: str) -> set[str]:
    words = normalize_text(text).split()
    if len(words) < NEAR_DUP_SHINGLE:
        return {" ".join(words)} if words else set()
    return {
        " ".join(words[i : i + NEAR_DUP_SHINGLE]) for i in range(len(words) - NEAR_DUP_SHINGLE + 1)
    }


def find_duplicates(texts: Sequence[str], threshold: float = NEAR_DUP_THRESHOLD) -> DupResult:
    """Mark exact and near duplicates in ``texts``, keeping the first of each group.

    Deterministic: the MinHash seed is fixed and texts are visited in order.
    """
    try:
        from datasketch import MinHash, MinHashLSH
    except ImportError:
        raise CodeduelError(
            "near-duplicate removal needs the datasketch package", "pip install datasketch"
        ) from None

    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    seen: dict[str, int] = {}
    hashes: dict[int, MinHash] = {}
    status: list[tuple[str, int] | None] = []
    for i, text in enumerate(texts):
        key = normalize_text(text)
        if key in seen:
            status.append(("exact", seen[key]))
            continue
        m = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED)
        for shingle in sorted(_shingles(text)):
            m.update(shingle.encode("utf-8"))
        # LSH only proposes candidates; confirm with the estimated Jaccard similarity.
        twins = sorted(int(j) for j in lsh.query(m) if hashes[int(j)].jaccard(m) >= threshold)
        if twins:
            status.append(("near", twins[0]))
            continue
        seen[key] = i
        hashes[i] = m
        lsh.insert(str(i), m)
        status.append(None)
    return DupResult(status)


# -- decontamination ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """The closest benchmark problem to a generated text, and how close it is."""

    source: str  # benchmark task_id, e.g. "HumanEval/0" or "Mbpp/11"
    score: float


@dataclass
class _Index:
    n: int
    threshold: float
    grams: dict[tuple[str, ...], set[int]] = field(default_factory=dict)
    sizes: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    def add(self, source: str, grams: set[tuple[str, ...]]) -> None:
        idx = len(self.ids)
        self.ids.append(source)
        self.sizes.append(len(grams))
        for g in grams:
            self.grams.setdefault(g, set()).add(idx)

    def best(self, grams: set[tuple[str, ...]]) -> Match | None:
        if len(grams) < MIN_NGRAMS:
            return None
        shared: dict[int, int] = {}
        for g in grams:
            for idx in self.grams.get(g, ()):
                shared[idx] = shared.get(idx, 0) + 1
        best: Match | None = None
        for idx, count in shared.items():
            if self.sizes[idx] < MIN_NGRAMS:
                continue
            score = count / min(len(grams), self.sizes[idx])
            if best is None or score > best.score:
                best = Match(self.ids[idx], score)
        return best


class Decontaminator:
    """N-gram containment indexes of benchmark problem texts and code (see module docstring)."""

    def __init__(
        self,
        *,
        text_threshold: float = TEXT_THRESHOLD,
        code_threshold: float = CODE_THRESHOLD,
    ) -> None:
        self._text = _Index(TEXT_NGRAM, text_threshold)
        self._code = _Index(CODE_NGRAM, code_threshold)
        self.sources: list[str] = []

    def add(self, source: str, text: str | None = None, code: str | None = None) -> None:
        """Index one benchmark problem's natural-language text and/or its code."""
        if text:
            self._text.add(source, ngrams(content_words(text), TEXT_NGRAM))
        if code:
            self._code.add(source, ngrams(code_tokens(code), CODE_NGRAM))
        self.sources.append(source)

    def add_problems(self, problems: Iterable[tuple[str, str | None, str | None]]) -> None:
        """Index ``(task_id, text, code)`` triples."""
        for source, text, code in problems:
            self.add(source, text, code)

    def text_match(self, text: str) -> Match | None:
        """The closest benchmark text if it is at or over the text threshold, else None."""
        best = self._text.best(ngrams(content_words(text), TEXT_NGRAM))
        return best if best is not None and best.score >= self._text.threshold else None

    def code_match(self, code: str) -> Match | None:
        """The closest benchmark program if it is at or over the code threshold, else None."""
        best = self._code.best(ngrams(code_tokens(code), CODE_NGRAM))
        return best if best is not None and best.score >= self._code.threshold else None

    def text_score(self, text: str) -> Match | None:
        """The closest benchmark text whatever its score (for reporting and calibration)."""
        return self._text.best(ngrams(content_words(text), TEXT_NGRAM))


def benchmark_decontaminator(
    benchmarks: Sequence[str] = ("humaneval", "mbpp"),
    data_dir: object = None,
    *,
    text_threshold: float = TEXT_THRESHOLD,
    code_threshold: float = CODE_THRESHOLD,
) -> Decontaminator:
    """An index over the named benchmarks' problems (all of MBPP's 974, not only its test split).

    HumanEval: text = the prompt (signature and docstring), code = prompt + canonical solution.
    MBPP: text = the problem sentence, code = the reference solution.
    """
    from pathlib import Path

    from codeduel.tasks import get_task

    deco = Decontaminator(text_threshold=text_threshold, code_threshold=code_threshold)
    for name in benchmarks:
        task = get_task(name, Path(str(data_dir)) if data_dir is not None else None)
        for p in task.problems():
            code = p.prompt + p.reference if name.startswith("humaneval") else p.reference
            deco.add(p.task_id, p.prompt, code)
    return deco
