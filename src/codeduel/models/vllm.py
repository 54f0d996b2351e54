"""vLLM's offline engine (``vllm.LLM``) on CUDA GPUs: the fast path for pass@k at n = 200.

Specs: ``vllm:ORG/NAME`` (hub id or local folder), ``vllm:/path/model.gguf`` or
``vllm:embedded:NAME`` (GGUF weights; the tokenizer comes from the same converted-tokenizer
cache as the hf backend, because vLLM's own GGUF tokenizer conversion is the slow
transformers one). Options: ``dtype`` (``auto``/``bf16``/``fp16``/``fp32``),
``context_window`` (vLLM's ``max_model_len``), ``gpu_memory_utilization``,
``tensor_parallel_size``, ``enforce_eager``.

Why these settings: the ``n`` samples of one prompt go through ``SamplingParams(n=...)`` so vLLM
prefills the prompt once and forks its KV blocks; prefix caching is always on, so prompts that
share a prefix (few-shot MBPP, the same problem requested twice after a resume) reuse blocks.
Every sampler that codeduel's protocol does not name is set to its neutral value, so vLLM
decodes what ``GenParams`` says and nothing else.

vLLM is imported only inside :func:`load`; the mapping between codeduel's types and vLLM's is
kept in pure functions (:func:`sampling_kwargs`, :func:`to_completion`,
:func:`prompt_logprobs_to_list`) so it is unit-tested on machines without a GPU.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from codeduel.errors import CodeduelError
from codeduel.models.base import (
    Completion,
    GenParams,
    Message,
    Model,
    ModelInfo,
    Prompt,
    TokenLogprobs,
)

INSTALL_FIX = "run: pip install 'codeduel[vllm]' on a CUDA machine"
DTYPES = {"auto": "auto", "fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def _import_vllm() -> Any:
    """The vllm package, or the one-line hint (it is an optional extra and needs CUDA)."""
    try:
        import vllm
    except ImportError:
        raise CodeduelError("the vllm backend needs the vllm package", INSTALL_FIX) from None
    return vllm


def sampling_kwargs(
    params: GenParams, *, seed: int | None, stop_token_ids: Sequence[int] = ()
) -> dict[str, Any]:
    """``vllm.SamplingParams`` keyword arguments that decode exactly what ``params`` says.

    Greedy requests ask for one sequence (the caller repeats it ``n`` times, as the other
    backends do). ``top_k=-1`` is vLLM's "no top-k". Stop strings are cut from the text (not
    included), and special tokens stay in the text, as in the hf and llama.cpp backends.
    """
    greedy = params.greedy
    return {
        "n": 1 if greedy else params.n,
        "max_tokens": params.max_new_tokens,
        "temperature": 0.0 if greedy else params.temperature,
        "top_p": 1.0 if greedy else params.top_p,
        "top_k": -1 if greedy or params.top_k is None else params.top_k,
        "min_p": 0.0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "repetition_penalty": 1.0,
        "stop": list(params.stop),
        "stop_token_ids": sorted(set(stop_token_ids)),
        "include_stop_str_in_output": False,
        "skip_special_tokens": False,
        "spaces_between_special_tokens": False,
        "seed": None if greedy else seed,
    }


def to_completion(
    *,
    text: str,
    finish_reason: str | None,
    stop_reason: int | str | None,
    prompt_tokens: int,
    completion_tokens: int,
    seconds: float,
) -> Completion:
    """One vLLM ``CompletionOutput`` as a Completion.

    vLLM reports ``finish_reason`` "length" or "stop"; for "stop" its ``stop_reason`` is the
    matched stop string, a stop token id, or None for the model's EOS. Both token endings are
    codeduel's "eos".
    """
    if finish_reason == "length":
        return Completion(
            text=text,
            finish_reason="length",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            seconds=seconds,
        )
    word = stop_reason if isinstance(stop_reason, str) else None
    return Completion(
        text=text,
        finish_reason="stop" if word is not None else "eos",
        stop_sequence=word,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        seconds=seconds,
    )


def prompt_logprobs_to_list(
    prompt_ids: Sequence[int],
    prompt_logprobs: Sequence[Mapping[int, Any] | None],
    n_context: int,
) -> list[float | None]:
    """Per-token log-probs of the scored tokens from vLLM's ``prompt_logprobs``.

    vLLM returns one entry per prompt token: None for the first, else a mapping from token id to
    an object with ``.logprob`` (or a float) that always contains the actual prompt token. The
    first ``n_context`` tokens (BOS) are context, not scored.
    """
    values: list[float | None] = []
    for token, entry in zip(prompt_ids, prompt_logprobs, strict=True):
        if entry is None:
            values.append(None)
            continue
        value = entry[token]
        values.append(float(getattr(value, "logprob", value)))
    return values[n_context:]


class VLLMModel(Model):
    """A model served by an in-process ``vllm.LLM`` engine."""

    backend = "vllm"

    def __init__(
        self,
        target: str,
        *,
        spec: str,
        weights_id: str,
        sha256: str | None = None,
        tokenizer: str | None = None,
        dtype: str = "auto",
        context_window: int | None = None,
        gpu_memory_utilization: float = 0.9,
        tensor_parallel_size: int = 1,
        enforce_eager: bool = False,
    ) -> None:
        vllm = _import_vllm()
        import torch

        if not torch.cuda.is_available():
            raise CodeduelError(
                "the vllm backend needs a CUDA GPU and torch sees none",
                "use hf: or gguf: on this machine",
            )
        if dtype not in DTYPES:
            raise CodeduelError(f"unknown dtype {dtype!r}", "use auto, fp32, bf16 or fp16")
        try:
            self.llm = vllm.LLM(
                model=target,
                tokenizer=tokenizer,
                dtype=DTYPES[dtype],
                max_model_len=context_window,
                enable_prefix_caching=True,
                gpu_memory_utilization=gpu_memory_utilization,
                tensor_parallel_size=tensor_parallel_size,
                enforce_eager=enforce_eager,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CodeduelError(
                f"vLLM could not load {target}: {first}",
                "check the model id or path, and the GPU memory (gpu_memory_utilization)",
            ) from None
        self._vllm = vllm
        self.tokenizer = self.llm.get_tokenizer()
        self.spec = spec
        self._weights_id = weights_id
        self._sha256 = sha256
        config = self.llm.llm_engine.model_config
        self.context_window = int(config.max_model_len)
        self.train_context_window: int | None = getattr(
            config.hf_config, "max_position_embeddings", None
        )
        self.chat_template: str | None = getattr(self.tokenizer, "chat_template", None) or None
        from codeduel.models.tokenizers import end_token_ids

        self.eos_ids = end_token_ids(self.tokenizer, config.hf_config)
        self._adds_bos = len(self.tokenize("a", add_special=True)) > len(self.tokenize("a"))

    def tokenize(
        self, text: str, *, add_special: bool = False, parse_special: bool = True
    ) -> list[int]:
        """Token ids with the engine's tokenizer (``parse_special`` off: specials as text)."""
        encoded = self.tokenizer(
            text, add_special_tokens=add_special, split_special_tokens=not parse_special
        )
        return [int(t) for t in encoded["input_ids"]]

    def _inputs(self, prompt: Prompt) -> tuple[dict[str, Any], int]:
        if isinstance(prompt, str):
            n_tokens = len(self.tokenize(prompt, add_special=True))
            item: dict[str, Any] = {"prompt": prompt}
        else:
            n_tokens = len(prompt)
            item = {"prompt_token_ids": [int(t) for t in prompt]}
        if n_tokens >= self.context_window:
            raise CodeduelError(
                f"prompt has {n_tokens} tokens, more than the {self.context_window}-token "
                f"context window of {self._weights_id}",
                "shorten the prompt or load the model with a larger context_window",
            )
        return item, n_tokens

    greedy_batch = 256  # vLLM schedules whatever it is given; this bounds one call's memory

    def generate(self, prompts: Sequence[Prompt], params: GenParams) -> list[list[Completion]]:
        """All prompts in one engine call; each prompt's n samples share its prefill."""
        inputs = [self._inputs(p)[0] for p in prompts]
        seed = params.seed if params.seed is not None else random.SystemRandom().randrange(2**31)
        sampling = self._vllm.SamplingParams(
            **sampling_kwargs(params, seed=seed, stop_token_ids=sorted(self.eos_ids))
        )
        start = time.perf_counter()
        outputs = self.llm.generate(inputs, sampling, use_tqdm=False)
        seconds = time.perf_counter() - start
        result: list[list[Completion]] = []
        for out in outputs:
            row = [
                to_completion(
                    text=o.text,
                    finish_reason=o.finish_reason,
                    stop_reason=o.stop_reason,
                    prompt_tokens=len(out.prompt_token_ids),
                    completion_tokens=len(o.token_ids),
                    seconds=seconds,
                )
                for o in sorted(out.outputs, key=lambda o: o.index)
            ]
            result.append(row * params.n if params.greedy else row)
        return result

    def render_chat(self, conversation: Sequence[Message]) -> str:
        """The tokenizer's chat template; a final assistant message is a prefill."""
        from codeduel.models.tokenizers import render_chat_template

        return render_chat_template(
            self.tokenizer, conversation, weights_id=self._weights_id, adds_bos=self._adds_bos
        )

    def chat(
        self, conversations: Sequence[Sequence[Message]], params: GenParams
    ) -> list[list[Completion]]:
        return self.generate([self.render_chat(c) for c in conversations], params)

    def loglikelihood(self, texts: Sequence[str]) -> list[TokenLogprobs]:
        """Teacher-forced log-probs through ``prompt_logprobs`` (one prefill per text)."""
        context = self.tokenize("", add_special=True) if self._adds_bos else []
        items, token_lists = [], []
        for text in texts:
            tokens = self.tokenize(text, parse_special=False)
            ids = context + tokens
            if len(ids) >= self.context_window:
                raise CodeduelError(
                    f"text has {len(ids)} tokens, more than the {self.context_window}-token "
                    f"context window of {self._weights_id}",
                    "score it in windows, or load the model with a larger context_window",
                )
            items.append({"prompt_token_ids": ids})
            token_lists.append(tokens)
        sampling = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        outputs = self.llm.generate(items, sampling, use_tqdm=False)
        return [
            TokenLogprobs(
                tokens=tokens,
                logprobs=prompt_logprobs_to_list(
                    out.prompt_token_ids, out.prompt_logprobs, len(context)
                ),
            )
            for tokens, out in zip(token_lists, outputs, strict=True)
        ]

    def info(self) -> ModelInfo:
        return ModelInfo(
            backend=self.backend,
            spec=self.spec,
            weights_id=self._weights_id,
            sha256=self._sha256,
            context_window=self.context_window,
            train_context_window=self.train_context_window,
            engine_version=f"vllm {getattr(self._vllm, '__version__', 'unknown')}",
            chat_template=self.chat_template,
        )

    def close(self) -> None:
        """Drop the engine so its GPU memory can be reclaimed."""
        self.llm = None


def load(target: str, **options: Any) -> VLLMModel:
    """Registry entry point for ``vllm:`` specs; fails in one line when vllm is missing."""
    _import_vllm()
    spec = options.pop("spec", None) or f"vllm:{target}"
    weights_id = options.pop("weights_id", None)
    sha256 = options.pop("sha256", None)
    gguf: Path | None = None
    if target.startswith("embedded:"):
        from codeduel.models import embedded

        name = target.removeprefix("embedded:") or embedded.DEFAULT_EMBEDDED
        gguf = embedded.ensure_embedded(name)
        weights_id = weights_id or name
        sha256 = sha256 or embedded.EMBEDDED[name].sha256
    elif target.lower().endswith(".gguf"):
        gguf = Path(target).expanduser()
        if not gguf.is_file():
            raise CodeduelError(f"GGUF file not found: {gguf}", "check the path after vllm:")
    if gguf is not None and "tokenizer" not in options:
        from codeduel.models.tokenizers import cached_tokenizer_dir

        options["tokenizer"] = str(cached_tokenizer_dir(gguf, sha256=sha256))
    model_target = str(gguf) if gguf is not None else target
    return VLLMModel(
        model_target,
        spec=spec,
        weights_id=str(weights_id or (gguf.name if gguf else target)),
        sha256=sha256,
        **options,
    )
