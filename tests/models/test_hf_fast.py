"""The hf backend's static engine (the GPU path) on CPU: the code path the GPU runs, uncompiled.

``engine="static"`` decodes a fixed batch of slots over a static KV cache and refills a slot as
soon as its row finishes; on CUDA the same step is compiled into a CUDA graph. Checked here on
the embedded Qwen2.5-Coder-0.5B (fp32): greedy text equals plain ``model.generate`` token for
token, stop strings cut where the loop engine cuts, seeded samples equal the loop engine's
(same per-sample generators), and sampled tokens follow the model's softmax (chi-square).
Never run under pytest-xdist; no assertion depends on timing.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the hf extra (torch, transformers) is not installed")
pytest.importorskip("transformers", reason="the hf extra is not installed")
pytest.importorskip("gguf", reason="the hf extra (gguf) is not installed")

from codeduel.errors import CodeduelError  # noqa: E402
from codeduel.models import GenParams, load_model  # noqa: E402
from codeduel.models.hf import HFModel  # noqa: E402

pytestmark = pytest.mark.timeout(400)

NAME = "qwen2.5-coder-0.5b-instruct"
PROMPTS = [
    "def add(a, b):\n",
    "# print hello world in python\nprint(",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n",
]


@pytest.fixture(scope="module")
def model() -> Iterator[HFModel]:
    loaded = load_model(
        f"hf:embedded:{NAME}", n_threads=2, context_window=256, max_batch=2, engine="static"
    )
    assert isinstance(loaded, HFModel)
    assert (loaded.engine, loaded.compile) == ("static", False)  # CPU: same path, uncompiled
    with loaded:
        yield loaded


def _plain_greedy(model: HFModel, prompt: str, n: int) -> list[int]:
    ids = torch.tensor([model.tokenize(prompt, add_special=True)])
    with torch.inference_mode():
        ref = model.model.generate(ids, max_new_tokens=n, do_sample=False)
    return [int(t) for t in ref[0, ids.shape[1] :]]


def test_static_greedy_equals_plain_generate(model: HFModel) -> None:
    """Three prompts of different lengths share 2 slots: the third refills a freed slot."""
    before = dict(model.stats)
    out = model.generate(PROMPTS, GenParams(max_new_tokens=6, n=2))
    assert model.stats["prefills"] - before["prefills"] == len(PROMPTS)
    for prompt, (first, second) in zip(PROMPTS, out, strict=True):
        assert first == second  # greedy: decoded once, repeated
        expected = _plain_greedy(model, prompt, 6)
        assert model.tokenize(first.text) == expected
        assert (first.finish_reason, first.completion_tokens) == ("length", 6)
        assert first.prompt_tokens == len(model.tokenize(prompt))


def test_refilled_slots_sample_and_stop_as_the_loop_engine(model: HFModel) -> None:
    """Five samples per prompt through 2 slots: each sample keeps its ``seed + j`` generator,
    so the static engine reproduces the loop engine's samples and cuts stops at the same place;
    the prompt is prefilled once for all its samples (prefix sharing)."""
    prompts = ["# Five random English words, one per line:\n", PROMPTS[1]]
    params = GenParams(max_new_tokens=6, temperature=1.0, n=5, seed=7, stop=("\n", "e"))
    before = dict(model.stats)
    fast = model.generate(prompts, params)
    assert model.stats["prefills"] - before["prefills"] == len(prompts)
    model.engine = "loop"
    try:
        slow = model.generate(prompts, params)
    finally:
        model.engine = "static"
    assert [len(r) for r in fast] == [5, 5]
    finishes = [c.finish_reason for r in fast for c in r]
    assert "stop" in finishes and len(set(c.completion_tokens for r in fast for c in r)) > 1
    for fast_rows, slow_rows in zip(fast, slow, strict=True):
        for f, s in zip(fast_rows, slow_rows, strict=True):
            assert (f.text, f.finish_reason, f.stop_sequence, f.completion_tokens) == (
                s.text,
                s.finish_reason,
                s.stop_sequence,
                s.completion_tokens,
            )


def _chi_square_p(counts: Counter[int], probs: torch.Tensor, total: int) -> float:
    """p-value of observed token counts against ``probs``; bins expected < 5 are pooled."""
    from scipy.stats import chisquare

    big = [t for t in range(probs.shape[0]) if probs[t] * total >= 5]
    observed = [counts.get(t, 0) for t in big]
    expected = [float(probs[t]) * total for t in big]
    rest_obs = total - sum(observed)
    rest_exp = total - sum(expected)
    if rest_exp >= 1:
        observed.append(rest_obs)
        expected.append(rest_exp)
    scale = sum(observed) / sum(expected)  # float round-off only
    return float(chisquare(observed, [e * scale for e in expected]).pvalue)


def test_static_samples_follow_the_model_distribution(model: HFModel) -> None:
    """T=1 samples: the first token (from the prefill) and the second token (from a compiled-
    shape decode step over 64 slots) match the model's softmax by a chi-square test."""
    pytest.importorskip("scipy")
    prompt = "# A random colour name:\ncolour = '"
    total = 256
    model.max_batch = 64
    try:
        [rows] = model.generate(
            [prompt], GenParams(max_new_tokens=2, temperature=1.0, n=total, seed=1234)
        )
    finally:
        model.max_batch = 2
    ids = model.tokenize(prompt, add_special=True)
    firsts = Counter(model.tokenize(r.text)[0] for r in rows if r.text)
    assert sum(firsts.values()) >= total - 5  # an immediate end token is rare here
    with torch.inference_mode():
        logits = model.model(input_ids=torch.tensor([ids])).logits[0, -1].float()
    p_first = _chi_square_p(firsts, logits.softmax(-1), sum(firsts.values()))
    # the second token, among the samples whose first token was the most common one
    top = firsts.most_common(1)[0][0]
    seconds: Counter[int] = Counter()
    for r in rows:
        pair = model.tokenize(r.text) if r.finish_reason == "length" else []
        if len(pair) == 2 and pair[0] == top:
            seconds[pair[1]] += 1
    with torch.inference_mode():
        logits2 = model.model(input_ids=torch.tensor([[*ids, top]])).logits[0, -1].float()
    p_second = _chi_square_p(seconds, logits2.softmax(-1), sum(seconds.values()))
    assert sum(seconds.values()) >= 30
    assert p_first > 1e-4 and p_second > 1e-4, (p_first, p_second)


def test_bad_engine_is_one_line(model: HFModel) -> None:
    with pytest.raises(CodeduelError, match="unknown engine 'turbo'") as err:
        HFModel(model.model, model.tokenizer, spec="hf:x", weights_id="x", engine="turbo")
    assert "\n" not in str(err.value)


def test_runner_sends_greedy_problems_together(
    model: HFModel, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A greedy run hands the static engine as many problems per call as it has slots, and
    stores exactly what one problem per call stores (same text, one record per problem)."""
    from codeduel.flows.generate import run
    from codeduel.records.store import Store

    calls: list[int] = []
    chat = model.chat

    def counting_chat(conversations: Any, params: GenParams) -> Any:
        calls.append(len(conversations))
        return chat(conversations, params)

    monkeypatch.setattr(model, "chat", counting_chat)
    monkeypatch.setattr(model, "context_window", 1024)  # chat prompts of HumanEval/0-2 fit
    args: dict[str, Any] = {"limit": 3, "max_new_tokens": 12, "data_dir": data_dir, "workers": 1}
    together = run(None, **args, store=tmp_path / "a.sqlite", loaded_model=model)
    assert model.greedy_batch == 2 and calls == [2, 1]
    calls.clear()
    monkeypatch.setattr(model, "greedy_batch", 1)
    alone = run(None, **args, store=tmp_path / "b.sqlite", loaded_model=model)
    assert calls == [1, 1, 1]

    def texts(store: Path, run_id: int) -> list[tuple[str, str]]:
        with Store(store) as db:
            return [(s.task_id, s.raw_output) for s in db.samples(run_id)]

    a, b = texts(tmp_path / "a.sqlite", together.run_id), texts(tmp_path / "b.sqlite", alone.run_id)
    assert len(a) == 3 and sorted(a) == sorted(b)
    assert together.counts == alone.counts
