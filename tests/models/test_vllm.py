"""The vllm backend: its parameter mapping everywhere, the real engine only on a CUDA machine.

vLLM needs a CUDA GPU and is an optional extra, so most machines (and CI) test the pure
functions that translate between codeduel's types and vLLM's, plus the one-line error a user
gets without vllm. The engine test runs only where vllm imports and a GPU is present.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from codeduel.errors import CodeduelError
from codeduel.models import GenParams, load_model
from codeduel.models.vllm import prompt_logprobs_to_list, sampling_kwargs, to_completion

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@pytest.mark.skipif(HAS_VLLM, reason="vllm is installed here")
def test_without_vllm_load_is_one_line_install_hint() -> None:
    with pytest.raises(CodeduelError) as err:
        load_model("vllm:Qwen/Qwen2.5-Coder-0.5B-Instruct")
    message = str(err.value)
    assert "pip install 'codeduel[vllm]' on a CUDA machine" in message
    assert "\n" not in message


def test_greedy_maps_to_one_argmax_sequence() -> None:
    kwargs = sampling_kwargs(GenParams(max_new_tokens=7, n=5, stop=("\ndef",)), seed=3)
    assert kwargs["n"] == 1  # repeated n times by the backend, as the other backends do
    assert kwargs["temperature"] == 0.0
    assert kwargs["seed"] is None
    assert kwargs["max_tokens"] == 7
    assert kwargs["stop"] == ["\ndef"]
    assert kwargs["include_stop_str_in_output"] is False


def test_sampling_maps_every_knob_and_neutralises_the_rest() -> None:
    params = GenParams(max_new_tokens=300, temperature=0.8, top_p=0.95, n=200, seed=7)
    kwargs = sampling_kwargs(params, seed=7, stop_token_ids=[151645, 151643, 151645])
    assert (kwargs["n"], kwargs["temperature"], kwargs["top_p"]) == (200, 0.8, 0.95)
    assert kwargs["top_k"] == -1  # no top-k in the paper's protocol
    assert kwargs["seed"] == 7
    assert kwargs["stop_token_ids"] == [151643, 151645]
    assert (kwargs["min_p"], kwargs["repetition_penalty"]) == (0.0, 1.0)
    assert (kwargs["presence_penalty"], kwargs["frequency_penalty"]) == (0.0, 0.0)
    assert sampling_kwargs(params.model_copy(update={"top_k": 40}), seed=1)["top_k"] == 40


def test_finish_reasons_map_to_codeduels() -> None:
    common = {"prompt_tokens": 5, "completion_tokens": 3, "seconds": 0.5}
    length = to_completion(text="ab", finish_reason="length", stop_reason=None, **common)
    assert (length.finish_reason, length.stop_sequence) == ("length", None)
    word = to_completion(text="ab", finish_reason="stop", stop_reason="\ndef", **common)
    assert (word.finish_reason, word.stop_sequence) == ("stop", "\ndef")
    eos = to_completion(text="ab", finish_reason="stop", stop_reason=None, **common)
    assert (eos.finish_reason, eos.stop_sequence) == ("eos", None)
    token = to_completion(text="ab", finish_reason="stop", stop_reason=151643, **common)
    assert token.finish_reason == "eos"


def test_prompt_logprobs_pick_the_actual_tokens() -> None:
    entries = [None, {2: -0.5, 9: -1.0}, {3: -2.25}]
    assert prompt_logprobs_to_list([1, 2, 3], entries, n_context=0) == [None, -0.5, -2.25]
    assert prompt_logprobs_to_list([1, 2, 3], entries, n_context=1) == [-0.5, -2.25]


@pytest.mark.skipif(not HAS_VLLM, reason="vllm is not installed (it needs a CUDA machine)")
def test_sampling_kwargs_are_accepted_by_vllm() -> None:
    import vllm

    params = GenParams(max_new_tokens=16, temperature=0.8, top_p=0.95, n=4, stop=("\n",))
    sampling = vllm.SamplingParams(**sampling_kwargs(params, seed=1, stop_token_ids=[2]))
    assert sampling.n == 4


@pytest.fixture(scope="module")
def engine() -> Iterator[object]:
    if not HAS_VLLM or not _has_cuda():
        pytest.skip("the vllm engine needs vllm installed and a CUDA GPU")
    model = load_model(
        "vllm:embedded:qwen2.5-coder-0.5b-instruct",
        context_window=1024,
        gpu_memory_utilization=0.4,
    )
    with model:
        yield model


def test_engine_generates_n_samples_with_stops(engine: object) -> None:
    from codeduel.models.vllm import VLLMModel

    assert isinstance(engine, VLLMModel)
    prompt = "def add(a, b):\n"
    [greedy] = engine.generate([prompt], GenParams(max_new_tokens=16, n=2))
    assert greedy[0] == greedy[1]
    params = GenParams(max_new_tokens=16, temperature=0.8, top_p=0.95, n=4, seed=5, stop=("\n",))
    [first] = engine.generate([prompt], params)
    [second] = engine.generate([prompt], params)
    assert [c.text for c in first] == [c.text for c in second]
    assert len(first) == 4
    assert all("\n" not in c.text for c in first)
    [scored] = engine.loglikelihood(["def f(x):\n    return x\n"])
    assert scored.logprobs[0] is None
    assert all(v is not None and v <= 0 for v in scored.logprobs[1:])
