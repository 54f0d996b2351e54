"""Perplexity by context position: sliding windows, buckets, bad input, a tiny real run.

The window arithmetic is checked on a fake one-character-per-token model (instant); the real
run scores the first 200 tokens of one long stdlib file with the embedded Qwen2.5-Coder-0.5B
model on 1 thread (llama.cpp scores at decode speed, so it is kept short; one thread also
stays steady when other work shares the 2 cores, where two threads spin against each other).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from codeduel.errors import CodeduelError
from codeduel.flows.longcontext.perplexity import (
    bucket_edges,
    bucket_label,
    bucket_table,
    run_perplexity,
    score_text,
)
from codeduel.models.base import (
    Completion,
    GenParams,
    Message,
    Model,
    ModelInfo,
    Prompt,
    TokenLogprobs,
    not_supported,
)
from codeduel.records.store import Store

pytestmark = pytest.mark.timeout(300)


class CharModel(Model):
    """One token per character; log p = -(position in the text + 1) / 1000, to trace positions."""

    backend = "fake"

    def __init__(self, window: int = 100, scores: bool = True) -> None:
        self.window = window
        self.scores = scores
        self.calls: list[str] = []

    def generate(self, prompts: Sequence[Prompt], params: GenParams) -> list[list[Completion]]:
        raise NotImplementedError

    def chat(
        self, conversations: Sequence[Sequence[Message]], params: GenParams
    ) -> list[list[Completion]]:
        raise NotImplementedError

    def loglikelihood(self, texts: Sequence[str]) -> list[TokenLogprobs]:
        if not self.scores:
            raise not_supported(self.backend, "loglikelihood", "use the hf or llamacpp backend")
        self.calls.extend(texts)
        out = []
        for text in texts:
            assert len(text) < self.window
            lps: list[float | None] = [None] + [-(i + 1) / 1000 for i in range(1, len(text))]
            out.append(TokenLogprobs(tokens=[ord(c) for c in text], logprobs=lps))
        return out

    def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
        return [ord(c) for c in text]

    def info(self) -> ModelInfo:
        return ModelInfo(backend="fake", spec="fake", weights_id="fake", context_window=self.window)


TEXT = "".join(f"line {i:03d} " + "x" * (i % 7) + "\n" for i in range(60))


def test_single_window_scores_every_token_but_the_first() -> None:
    fake = CharModel(window=10_000)
    scored = score_text(fake, TEXT, window=5000, stride=2500)
    assert scored.windows == 1 and scored.tokens == len(TEXT)
    assert [p for p, _ in scored.losses] == list(range(1, len(TEXT)))


def test_sliding_window_scores_each_token_once_with_context() -> None:
    fake = CharModel(window=100)
    scored = score_text(fake, TEXT, window=80, stride=40)
    assert scored.windows > 5
    # every character after the first is scored exactly once, none twice
    assert len(scored.losses) == len(TEXT) - 1
    assert all(len(call) <= 80 for call in fake.calls)
    # after the first window, scored tokens had at least window - stride - one line of context
    first = len(fake.calls[0])
    later = scored.losses[first - 1 :]
    assert later and min(p for p, _ in later) >= 80 - 40 - 16
    assert max(p for p, _ in scored.losses) < 80


def test_max_tokens_cuts_at_a_line_end() -> None:
    fake = CharModel(window=10_000)
    scored = score_text(fake, TEXT, window=5000, stride=2500, max_tokens=100)
    assert 80 <= scored.tokens <= 100
    assert fake.calls[0].endswith("\n")


def test_bucket_edges_and_labels() -> None:
    assert bucket_edges(16384) == [0, 1024, 2048, 4096, 8192, 16384]
    assert bucket_edges(600) == [0, 1024]
    assert bucket_edges(600, [64, 128]) == [0, 64, 128, 600]
    assert bucket_label(1024, 2048) == "1K-2K" and bucket_label(0, 64) == "0-64"
    rows = bucket_table([(0, 1.0), (63, 3.0), (64, 2.0), (700, 0.5)], [0, 64, 128, 600])
    assert [r["tokens"] for r in rows] == [2, 1, 1]
    assert rows[0]["perplexity"] == pytest.approx(math.exp(2.0))


def _long_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "big.py").write_text(TEXT * 300)  # > 50 kB
    (corpus / "small.py").write_text(TEXT)
    return corpus


def test_backend_without_loglikelihood_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CodeduelError, match="loglikelihood is not supported by the fake backend"):
        run_perplexity(
            "fake",
            corpus=_long_corpus(tmp_path),
            n_files=1,
            max_tokens=50,
            loaded_model=CharModel(scores=False),
            store=tmp_path / "s.sqlite",
        )


def test_fake_run_records_buckets_that_add_up(tmp_path: Path) -> None:
    result = run_perplexity(
        "fake",
        corpus=_long_corpus(tmp_path),
        n_files=1,
        max_tokens=300,
        window=90,
        edges=[20, 40],
        loaded_model=CharModel(window=100),
        store=tmp_path / "s.sqlite",
    )
    assert [f["file"] for f in result.files] == ["big.py"]
    assert sum(b["tokens"] for b in result.buckets) == result.overall["tokens"]
    assert result.overall["tokens"] == result.files[0]["tokens"] > 250
    assert [b["bucket"] for b in result.buckets] == ["0-20", "20-40", "40-90"]


def test_bad_corpus_is_one_line(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    (small / "a.py").write_text("x = 1\n")
    with pytest.raises(CodeduelError, match="no Python file of 50000 bytes or more"):
        run_perplexity(corpus=small, loaded_model=CharModel(), store=tmp_path / "s.sqlite")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CodeduelError, match="is empty"):
        run_perplexity(corpus=empty, loaded_model=CharModel(), store=tmp_path / "s.sqlite")


def test_real_model_tiny_run(tmp_path: Path) -> None:
    store = tmp_path / "ppl.sqlite"
    env = {**os.environ, "CODEDUEL_STORE": str(store)}
    args = ["perplexity", "--files", "1", "--max-tokens", "200", "--buckets", "0,64,128"]
    proc = subprocess.run(
        [sys.executable, "-m", "codeduel.cli", *args, "--threads", "1", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    buckets = result["buckets"]
    assert [b["bucket"] for b in buckets] == ["0-64", "64-128", "128-200"]
    assert all(b["tokens"] > 0 for b in buckets)
    assert all(0 < b["perplexity"] < 1e4 and math.isfinite(b["perplexity"]) for b in buckets)
    total = sum(b["tokens"] for b in buckets)
    assert total == result["overall"]["tokens"] == result["files"][0]["tokens"]
    assert 150 < total < 200  # the first token has no context and is not scored
    assert result["files"][0]["bytes"] >= 50_000
    with Store(store) as db:
        run = db.get_run(result["run_id"])
        assert run.kind == "perplexity" and run.status == "finished"
        assert len(db.samples(run.id)) == 1
    bad = subprocess.run(
        [sys.executable, "-m", "codeduel.cli", "perplexity", "--window", "99999"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "exceeds the" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
