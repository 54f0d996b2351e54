"""The hf backend on a real model: the embedded Qwen2.5-Coder-0.5B GGUF through transformers.

Transformers dequantises the GGUF to fp32, so greedy text is *not* expected to equal llama.cpp's
(4-bit arithmetic there); the reference for greedy decoding is plain ``model.generate`` on the
same weights. The model loads once per module (about 30 s, plus a one-time tokenizer conversion
that is cached) and every test decodes only a few tokens. Never run under pytest-xdist.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub here: a miss must fail fast, offline

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the hf extra (torch, transformers) is not installed")
pytest.importorskip("transformers", reason="the hf extra is not installed")
pytest.importorskip("gguf", reason="the hf extra (gguf) is not installed")

from codeduel.errors import CodeduelError  # noqa: E402
from codeduel.models import GenParams, Message, load_model  # noqa: E402
from codeduel.models.embedded import EMBEDDED, ensure_embedded  # noqa: E402
from codeduel.models.hf import HFModel, find_stop  # noqa: E402
from codeduel.models.tokenizers import (  # noqa: E402
    default_tokenizer_cache,
    gguf_cache_key,
    load_tokenizer_cached,
)

pytestmark = pytest.mark.timeout(400)

NAME = "qwen2.5-coder-0.5b-instruct"
PROMPT = "def add(a, b):\n"


@pytest.fixture(scope="module")
def model() -> Iterator[HFModel]:
    loaded = load_model(f"hf:embedded:{NAME}", n_threads=2, context_window=256, max_batch=4)
    assert isinstance(loaded, HFModel)
    with loaded:
        yield loaded


def test_info_describes_the_weights(model: HFModel) -> None:
    info = model.info()
    assert info.backend == "hf"
    assert info.weights_id == NAME
    assert info.sha256 == EMBEDDED[NAME].sha256
    assert info.context_window == 256
    assert info.train_context_window == 32768
    assert info.n_params is not None and 4e8 < info.n_params < 8e8
    assert info.engine_version and info.engine_version.startswith("transformers")
    # both of Qwen's end tokens stop a sample, not only the tokenizer's eos_token
    assert {151643, 151645} <= model.eos_ids


def test_gguf_tokenizer_is_cached_and_matches(model: HFModel) -> None:
    path = ensure_embedded(NAME)
    entry = default_tokenizer_cache() / gguf_cache_key(path, EMBEDDED[NAME].sha256)
    assert (entry / "tokenizer_config.json").is_file()
    start = time.perf_counter()
    cached = load_tokenizer_cached(path, sha256=EMBEDDED[NAME].sha256)
    assert time.perf_counter() - start < 10  # the conversion itself takes ~10-40 s
    text = "def f(x):\n    return x  # ünïcode <|fim_prefix|>"
    assert cached(text)["input_ids"] == model.tokenize(text)
    assert model.tokenize("<|fim_prefix|><|im_end|>") == [151659, 151645]


def test_greedy_equals_plain_generate(model: HFModel) -> None:
    params = GenParams(max_new_tokens=8, n=2)
    [[first, second]] = model.generate([PROMPT], params)
    assert first == second  # greedy is decoded once and repeated
    ids = torch.tensor([model.tokenize(PROMPT, add_special=True)])
    with torch.inference_mode():
        ref = model.model.generate(ids, max_new_tokens=8, do_sample=False)
    expected = ref[0, ids.shape[1] :].tolist()
    assert model.tokenize(first.text) == expected
    assert first.text == model.detokenize(expected)
    assert (first.finish_reason, first.completion_tokens, first.prompt_tokens) == ("length", 8, 6)
    # a token-id prompt is sent as is and decodes the same
    [[by_ids]] = model.generate([ids[0].tolist()], params.model_copy(update={"n": 1}))
    assert by_ids.text == first.text


def test_samples_stop_each_at_their_own_stop_and_reproduce(model: HFModel) -> None:
    prompt = "# Five random English words, one per line:\n"
    stops = ("\n", "e")
    params = GenParams(max_new_tokens=10, temperature=1.0, n=3, seed=14, stop=stops)
    [cut] = model.generate([prompt], params)
    assert [c.finish_reason for c in cut].count("stop") >= 2
    assert len({c.completion_tokens for c in cut}) > 1  # rows ended at different steps
    # the same seeds without stop strings: each row continues past where it was cut, and the
    # cut text is exactly its prefix before the first stop string
    free = params.model_copy(update={"stop": ()})
    [full] = model.generate([prompt], free)
    for c, f in zip(cut, full, strict=True):
        if c.finish_reason == "stop":
            assert c.stop_sequence in stops
            assert not any(s in c.text for s in stops)
            assert f.text.startswith(c.text + c.stop_sequence)
        else:
            assert c.text == f.text
    # reproducible, and independent of how many rows decode together
    model.max_batch = 1
    try:
        [again] = model.generate([prompt], params)
    finally:
        model.max_batch = 4
    assert [c.text for c in again] == [c.text for c in cut]


def test_chat_prefill_is_continued(model: HFModel) -> None:
    prefill = "```python\ndef add(a, b):\n"
    conversation = [
        Message(role="user", content="Write a Python function add(a, b) returning a + b."),
        Message(role="assistant", content=prefill),
    ]
    rendered = model.render_chat(conversation)
    assert rendered.endswith("<|im_start|>assistant\n" + prefill)
    open_turn = model.render_chat(conversation[:1])
    assert open_turn.endswith("<|im_start|>assistant\n")
    [[answer]] = model.chat([conversation], GenParams(max_new_tokens=8, stop=("\n```",)))
    assert answer.prompt_tokens == len(model.tokenize(rendered))
    assert answer.text.startswith("    ")  # the function body, not a new answer or fence


def test_loglikelihood_equals_a_forward_pass(model: HFModel) -> None:
    text = "def square(x):\n    return x * x\n"
    [scored] = model.loglikelihood([text])
    assert scored.tokens == model.tokenize(text)
    assert scored.logprobs[0] is None  # Qwen has no BOS: nothing to condition the first on
    ids = torch.tensor([scored.tokens])
    with torch.inference_mode():
        loss = model.model(input_ids=ids, labels=ids).loss  # transformers' own mean NLL
    values = [v for v in scored.logprobs[1:] if v is not None]
    assert len(values) == len(scored.tokens) - 1
    assert sum(values) / len(values) == pytest.approx(-float(loss), abs=1e-4)
    assert all(v <= 0 for v in values)


def test_prompt_longer_than_the_context_window_is_one_line(model: HFModel) -> None:
    long = "x = 1\n" * 200
    with pytest.raises(CodeduelError, match="more than the 256-token context window"):
        model.generate([long], GenParams(max_new_tokens=4))
    with pytest.raises(CodeduelError, match="context window"):
        model.loglikelihood([long])


def test_find_stop_takes_the_earliest_then_the_first_listed() -> None:
    assert find_stop("ab\ncd#", ("#", "\n")) == (2, "\n")
    assert find_stop("abc", ("bc", "b")) == (1, "bc")
    assert find_stop("abc", ("x",)) is None


def test_missing_path_is_one_line() -> None:
    with pytest.raises(CodeduelError, match="model path not found") as err:
        load_model("hf:/nonexistent/dir/model.gguf")
    assert "\n" not in str(err.value)


def test_a_folder_without_a_model_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CodeduelError, match="not a transformers model folder"):
        load_model(f"hf:{tmp_path}")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(CodeduelError, match=r"not a model folder or a \.gguf file"):
        load_model(f"hf:{text}")


def test_offline_hub_miss_is_one_line(capfd: pytest.CaptureFixture[str]) -> None:
    """No hub here: one probe says so, not five retries per file with "Retrying in 8s" lines
    (about 50 s) before the error."""
    with pytest.raises(CodeduelError, match="not in the local cache and the hub is unreachable"):
        load_model("hf:codeduel-test/no-such-model")
    assert "Retrying" not in capfd.readouterr().err


def test_bad_options_are_one_line() -> None:
    with pytest.raises(CodeduelError, match="unknown dtype"):
        load_model("hf:codeduel-test/no-such-model", dtype="int3")
    with pytest.raises(CodeduelError, match="unknown option"):
        load_model("hf:codeduel-test/no-such-model", n_ctx=10)


def test_fim_segments_encode_to_single_sentinel_ids(model: HFModel) -> None:
    """Qwen's byte-level BPE: sentinels become their own ids, text is encoded unchanged."""
    from codeduel.models.formats import CODE_LLAMA_FIM, QWEN_FIM

    prefix, suffix = "def f(x):\n    ", "\n    return y\n"
    ids = model.encode_segments(QWEN_FIM.segments(prefix, suffix, "psm"))
    sentinel = {
        t: model.tokenize(t)[0] for t in (QWEN_FIM.prefix, QWEN_FIM.suffix, QWEN_FIM.middle)
    }
    expected = [
        sentinel[QWEN_FIM.prefix],
        *model.tokenize(prefix, parse_special=False),
        sentinel[QWEN_FIM.suffix],
        *model.tokenize(suffix, parse_special=False),
        sentinel[QWEN_FIM.middle],
    ]
    assert ids == expected
    assert model.detokenize(ids) == QWEN_FIM.render(prefix, suffix, "psm")
    with pytest.raises(CodeduelError, match="is not a single token"):
        model.encode_segments(CODE_LLAMA_FIM.segments(prefix, suffix, "psm"))
