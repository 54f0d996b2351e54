"""Hugging Face transformers models on CPU or CUDA: hub ids, local folders and GGUF files.

Specs: ``hf:ORG/NAME`` (from the local hub cache, or downloaded when the hub is reachable),
``hf:/path/to/folder`` (a ``save_pretrained`` folder), ``hf:/path/to/model.gguf`` (a GGUF file
loaded through transformers' ``gguf_file``: every tensor is dequantised, so memory is about
8× the Q4 file), ``hf:embedded:NAME`` (an embedded GGUF, see ``embedded.py``), or
``hf:ORG/NAME`` with the option ``gguf_file="x.gguf"`` for a GGUF inside a hub repo.
Options: ``dtype`` (``fp32``/``bf16``/``fp16``; default fp32 on CPU, bf16 on CUDA), ``device``
(``cpu``/``cuda``/``cuda:1``; default CUDA when available), ``max_batch`` (rows decoded
together), ``context_window``, ``n_threads``, ``revision``, ``quiet``, ``engine``
(``loop``/``static``; default ``static`` on CUDA, ``loop`` on CPU) and ``compile`` (compile
the static engine's decode step; default on CUDA only).

Why a decode loop of our own instead of ``model.generate``:

* **Prefix sharing.** ``generate(num_return_sequences=n)`` repeats the prompt ``n`` times
  *before* the forward pass, so the prompt is prefilled ``n`` times. Here a prompt is prefilled
  once (batch 1) and its KV cache is repeated ``n`` times; all rows then have the same length,
  so no padding or attention mask is ever needed.
* **Per-sequence stops.** ``generate`` stops a batch only when every row is done (stop strings
  finish a row but it keeps decoding as padding). Here a row that emits an end-of-generation
  token or completes a stop string leaves the batch at once (its KV rows are dropped) and its
  text is cut exactly before the stop, as the llama.cpp backend does.
* **Seeds per sample.** Sample ``j`` of a request draws from its own (CPU) ``torch.Generator``
  seeded ``seed + j``, one uniform per token, turned into a token by inverse CDF for all rows
  at once; so a seeded result does not depend on ``max_batch``, on the engine or on which
  other rows finished first (the llama.cpp backend uses the same ``seed + j`` rule).

Greedy decoding is plain argmax over the same forward passes ``generate`` makes, which the tests
check token for token.

Two engines share prefill, sampling and stop handling (:meth:`HFModel._advance`):

* ``loop``: one prompt at a time over a ``DynamicCache``; rows leave the batch as they finish.
  Cheap on CPU, where kernel launches are not the bottleneck.
* ``static`` (the GPU path): a fixed batch of *slots* over a static KV cache (a
  transformers ``StaticLayer`` per layer whose rows write at their own positions). Each prompt
  is prefilled once and its KV copied into the slots of its samples; when a row finishes, its
  slot is refilled at once with the next pending sample of the same or the next prompt, so a
  long sample never holds the batch. Every step has the same shapes, so on CUDA the one-step
  decode is compiled with ``torch.compile(mode="reduce-overhead")`` (a CUDA graph) once per
  slot-cache shape; that cost is in :attr:`HFModel.stats` (``compile_s``). The cache holds
  ``max_batch`` (a power of two at most) slots of prompt + ``max_new_tokens`` positions,
  rounded up to 64, and only grows, so a run compiles once or a few times; on CUDA the slot
  count is halved until the cache fits in 90 % of free memory. Every step attends over the
  whole cache length (masked), so keep ``context_window``/``max_new_tokens`` tight.

GGUF tokenizers: converting one from GGUF metadata takes 10-40 s, so the converted tokenizer is
saved once (``save_pretrained``) in the user cache dir, keyed by the GGUF's content and the
transformers version, and loaded from there (under a second) afterwards.
"""

from __future__ import annotations

import copy
import functools
import inspect
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeduel.errors import CodeduelError
from codeduel.models.base import (
    Completion,
    FinishReason,
    GenParams,
    Message,
    Model,
    ModelInfo,
    Prompt,
    TokenLogprobs,
    TokenMoments,
)
from codeduel.models.formats import Segment, Special
from codeduel.models.tokenizers import (
    _hub_error,
    _quiet,
    end_token_ids,
    load_tokenizer_cached,
    render_chat_template,
)
from codeduel.models.tokenizers import (
    import_torch as _import_torch,
)

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DTYPES = {
    "fp32": "float32",
    "float32": "float32",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "float16": "float16",
}
#: Decode engines: ``loop`` (a DynamicCache per prompt, rows dropped as they finish) and
#: ``static`` (a fixed batch of slots over a static KV cache, refilled as rows finish).
ENGINES = ("loop", "static")
#: Slot-cache lengths are rounded up to this, so nearby request shapes share one compiled step.
_CACHE_BUCKET = 64
_HUB_ID = re.compile(r"^[\w.\-]+(/[\w.\-]+)?$")


@dataclass
class _Row:
    """One sample being decoded: its tokens, generator, and where stop scanning got to."""

    generator: Any
    tokens: list[int] = field(default_factory=list)
    text: str | None = None
    scanned: int = 0
    finish: FinishReason | None = None
    stop: str | None = None


@functools.cache
def _slot_layer_type() -> type:
    """A transformers ``StaticLayer`` whose rows are written at their own positions.

    ``StaticLayer`` keeps one write position for the whole batch; slots refilled at different
    times sit at different positions, so each decode step scatters row ``b``'s new key/value
    to ``positions[b]`` (a tensor shared by all layers, updated in place between steps so a
    CUDA graph replays it). Prompts are not written through here: their KV is copied in.
    """
    from transformers.cache_utils import StaticLayer

    class SlotLayer(StaticLayer):  # type: ignore[misc]
        def __init__(self, max_cache_len: int, positions: Any) -> None:
            super().__init__(max_cache_len=max_cache_len)
            self.positions = positions

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> Any:
            where = self.positions.view(-1, 1, 1, 1)
            k_index = where.expand(-1, key_states.shape[1], 1, key_states.shape[3])
            v_index = where.expand(-1, value_states.shape[1], 1, value_states.shape[3])
            assert self.keys is not None and self.values is not None  # initialised lazily
            self.keys.scatter_(2, k_index, key_states)
            self.values.scatter_(2, v_index, value_states)
            return self.keys, self.values

    return SlotLayer


@dataclass
class _Slots:
    """The static engine's fixed-shape state: ``size`` slots of ``length`` KV positions each.

    Shapes never change while it lives, so the one-step decode compiles (and on CUDA is
    captured as a CUDA graph) once and is replayed for every step of every request.
    """

    size: int
    length: int
    cache: Any
    positions: Any  # [size] long: where each slot's next token is written
    step: Callable[[Any], Any]
    bytes: int


def find_stop(text: str, stops: Sequence[str], start: int = 0) -> tuple[int, str] | None:
    """Earliest stop string in ``text`` at or after ``start`` (ties go to the first listed)."""
    best: tuple[int, str] | None = None
    for s in stops:
        j = text.find(s, start)
        if j >= 0 and (best is None or j < best[0]):
            best = (j, s)
    return best


class HFModel(Model):
    """A transformers causal LM with its tokenizer, decoded by codeduel's own sampling loop."""

    backend = "hf"

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        spec: str,
        weights_id: str,
        sha256: str | None = None,
        context_window: int | None = None,
        max_batch: int = 16,
        engine: str | None = None,
        compile: bool | None = None,
    ) -> None:
        self.torch, transformers = _import_torch()
        self.model = model
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device
        self.spec = spec
        self._weights_id = weights_id
        self._sha256 = sha256
        self.train_context_window: int | None = getattr(
            model.config, "max_position_embeddings", None
        )
        self.context_window = int(context_window or self.train_context_window or 2048)
        self.max_batch = max(1, max_batch)
        self.eos_ids = end_token_ids(
            tokenizer, getattr(model, "generation_config", None), model.config
        )
        self.chat_template: str | None = getattr(tokenizer, "chat_template", None) or None
        self._engine = f"transformers {transformers.__version__}, torch {self.torch.__version__}"
        self._adds_bos = len(self.tokenize("a", add_special=True)) > len(self.tokenize("a"))
        # transformers 5.2x renamed ``past_key_values`` to ``cache`` (the old name warns).
        forward = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in forward else "past_key_values"
        self._takes_cache_position = "cache_position" in forward
        on_cuda = self.device.type == "cuda"
        self.engine = engine or ("static" if on_cuda else "loop")
        # The static engine fills its slots from every prompt of a call; the loop engine
        # decodes one prompt at a time, so more prompts per call would gain nothing.
        self.greedy_batch = self.max_batch if self.engine == "static" else 1
        if self.engine not in ENGINES:
            raise CodeduelError(f"unknown engine {self.engine!r}", "use engine='loop' or 'static'")
        self.compile = on_cuda if compile is None else bool(compile)
        self._slots: _Slots | None = None
        #: What the static engine cost and did: compile seconds (paid once per slot-cache
        #: shape), decode steps, prefills; kept so runs and benches can report it.
        self.stats: dict[str, float] = {"compile_s": 0.0, "compiles": 0, "steps": 0, "prefills": 0}

    # -- tokenizer ---------------------------------------------------------------------------

    def tokenize(
        self, text: str, *, add_special: bool = False, parse_special: bool = True
    ) -> list[int]:
        """Token ids; special-token text becomes the special token unless ``parse_special``
        is off (then it is encoded as plain characters, as log-likelihood scoring needs)."""
        encoded = self.tokenizer(
            text, add_special_tokens=add_special, split_special_tokens=not parse_special
        )
        return [int(t) for t in encoded["input_ids"]]

    def detokenize(self, tokens: Sequence[int]) -> str:
        """Text of token ids, special tokens included, spaces exactly as encoded."""
        return str(
            self.tokenizer.decode(
                list(tokens), skip_special_tokens=False, clean_up_tokenization_spaces=False
            )
        )

    exact_segments = True

    def encode_segments(self, segments: Sequence[Segment]) -> list[int]:
        """Token ids of a FIM layout from ``formats``: sentinels as their single ids, text as is.

        A SentencePiece tokenizer that adds a dummy leading space (Code Llama: the first token
        of ``"a"`` is ``"▁a"``) encodes a ``Text`` without ``implicit_space`` as the reference's
        ``encode_infilling`` does: ``"☺" + text`` with the marker's tokens dropped. Byte-level
        BPE tokenizers (Qwen, StarCoder, DeepSeek) add no space and encode text unchanged.
        """
        first = self.tokenizer.convert_ids_to_tokens(self.tokenize("a")[:1])
        dummy_space = bool(first) and str(first[0]).startswith("\u2581")
        marker = len(self.tokenize("\u263a", parse_special=False)) if dummy_space else 0
        ids: list[int] = []
        for seg in segments:
            if isinstance(seg, Special):
                token = self.tokenize(seg.token)
                if len(token) != 1 or token[0] == self.tokenizer.unk_token_id:
                    raise CodeduelError(
                        f"{seg.token!r} is not a single token of {self._weights_id}",
                        "use the infilling format of this model's family (see its preset)",
                    )
                ids += token
            elif seg.implicit_space or not dummy_space:
                ids += self.tokenize(seg.text, parse_special=False)
            else:
                ids += self.tokenize("\u263a" + seg.text, parse_special=False)[marker:]
        return ids

    def _prompt_ids(self, prompt: Prompt) -> list[int]:
        ids = self.tokenize(prompt, add_special=True) if isinstance(prompt, str) else list(prompt)
        if not ids:
            raise CodeduelError("the prompt is empty", "pass at least one token of prompt")
        if len(ids) >= self.context_window:
            raise CodeduelError(
                f"prompt has {len(ids)} tokens, more than the {self.context_window}-token "
                f"context window of {self._weights_id}",
                "shorten the prompt or load the model with a larger context_window",
            )
        return [int(t) for t in ids]

    # -- decoding ----------------------------------------------------------------------------

    def _prefill(self, ids: list[int]) -> tuple[Any, torch.Tensor]:
        """Run the prompt once (batch 1); returns its KV cache and next-token logits [1, V]."""
        from transformers import DynamicCache

        torch = self.torch
        cache = DynamicCache(config=self.model.config)
        input_ids = torch.tensor([ids], dtype=torch.long, device=self.device)
        kwargs = {self._cache_kw: cache, "use_cache": True, "logits_to_keep": 1}
        out = self.model(input_ids=input_ids, **kwargs)
        return cache, out.logits[:, -1, :].float()

    def _decode(self, tokens: torch.Tensor, cache: Any) -> torch.Tensor:
        """One decode step for every row still running: logits [rows, V] of the next token."""
        out = self.model(input_ids=tokens[:, None], **{self._cache_kw: cache, "use_cache": True})
        return out.logits[:, -1, :].float()

    def _sample(self, logits: torch.Tensor, params: GenParams, rows: list[_Row]) -> torch.Tensor:
        """Next token of each row: argmax, or temperature → top-k → top-p, then a draw from the
        row's own generator (so each sample's randomness is independent of the batch).

        The draw is by inverse CDF: each row takes one uniform from its own CPU generator and
        all rows are searched in the cumulative distribution at once, so a step costs a few
        kernels whatever the batch (a ``multinomial`` per row would cost one launch per row).
        """
        torch = self.torch
        if params.greedy:
            return logits.argmax(dim=-1)
        scores = logits / params.temperature
        if params.top_k is not None and params.top_k < scores.shape[-1]:
            kth = torch.topk(scores, params.top_k, dim=-1).values[:, -1:]
            scores = scores.masked_fill(scores < kth, float("-inf"))
        if params.top_p < 1.0:
            ordered, order = scores.sort(dim=-1, descending=True)
            probs = ordered.softmax(dim=-1)
            before = probs.cumsum(dim=-1) - probs  # mass of the strictly more likely tokens
            drop = before >= params.top_p
            drop[:, 0] = False
            scores = scores.scatter(-1, order, ordered.masked_fill(drop, float("-inf")))
        cdf = scores.softmax(dim=-1).double().cumsum(dim=-1)
        draws = torch.cat(
            [torch.rand(1, generator=row.generator, dtype=torch.float64) for row in rows]
        )
        target = draws.to(cdf.device)[:, None] * cdf[:, -1:]
        # the first token whose cumulative mass exceeds the draw: never a zero-probability one
        picked = torch.searchsorted(cdf, target, right=True)[:, 0]
        return picked.clamp_(max=cdf.shape[-1] - 1)

    def _check_stop(self, row: _Row, stops: Sequence[str]) -> bool:
        """Decode the row's text and cut it at the first stop string that has appeared."""
        text = self.detokenize(row.tokens)
        if text.endswith("\ufffd"):
            return False  # an incomplete UTF-8 character: wait for its remaining bytes
        longest = max(len(s) for s in stops)
        hit = find_stop(text, stops, max(0, row.scanned - longest))
        row.scanned = len(text)
        if hit is None:
            return False
        row.text, row.stop = text[: hit[0]], hit[1]
        return True

    def _advance(self, row: _Row, token: int, params: GenParams, budget: int) -> bool:
        """Append a sampled token to its row; True when the row has finished (eos, stop, length).

        Both engines end rows through here, so stop handling is identical between them.
        """
        row.tokens.append(int(token))
        if token in self.eos_ids:
            row.finish = "eos"
        elif params.stop and self._check_stop(row, params.stop):
            row.finish = "stop"
        elif len(row.tokens) >= budget:
            row.finish = "length"
        return row.finish is not None

    def _run_rows(
        self,
        cache: Any,
        logits: torch.Tensor,
        params: GenParams,
        seeds: list[int],
        budget: int,
    ) -> list[_Row]:
        """Decode ``len(seeds)`` rows from one prompt's cache until each ends on its own."""
        torch = self.torch
        rows = [_Row(generator=torch.Generator().manual_seed(s)) for s in seeds]
        if len(rows) > 1:
            cache.batch_repeat_interleave(len(rows))
            logits = logits.expand(len(rows), -1)
        active = list(range(len(rows)))
        for _ in range(budget):
            picked = self._sample(logits, params, [rows[i] for i in active])
            keep = [
                pos
                for pos, (i, token) in enumerate(zip(active, picked.tolist(), strict=True))
                if not self._advance(rows[i], token, params, budget)
            ]
            if not keep:
                break
            if len(keep) < len(active):
                index = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index)
                picked = picked[index]
                active = [active[p] for p in keep]
            logits = self._decode(picked, cache)
        return rows

    # -- static engine (GPU path) -----------------------------------------------------------

    def _slot_cache(self, size: int, length: int, prefix: Any) -> _Slots:
        """The slot cache for ``size`` slots of ``length`` positions: the current one when it
        fits, else a new one (compiled and warmed up here, so that cost is paid once per shape).

        ``prefix`` (a prefilled DynamicCache) gives the per-layer KV shapes and dtype. On CUDA
        the slot count is halved until the cache fits in 90 % of free memory.
        """
        torch = self.torch
        old = self._slots
        if old is not None and old.size == size and old.length >= length:
            return old
        layers = prefix.layers
        types = getattr(self.model.config.get_text_config(), "layer_types", None) or []
        if any(t != "full_attention" for t in types):
            raise CodeduelError(
                f"engine='static' needs a model with full attention in every layer; "
                f"{self._weights_id} has {sorted(set(types))}",
                "load it with engine='loop'",
            )
        per_token = sum(
            (
                layer.keys.shape[1] * layer.keys.shape[3]
                + layer.values.shape[1] * layer.values.shape[3]
            )
            * layer.keys.element_size()
            for layer in layers
        )
        self._slots = None  # free the old cache before allocating the new one
        del old
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
            free = torch.cuda.mem_get_info(self.device)[0]
            while size > 1 and size * length * per_token > 0.9 * free:
                size //= 2
        positions = torch.zeros(size, dtype=torch.long, device=self.device)
        layer_type = _slot_layer_type()
        from transformers.cache_utils import Cache

        cache = Cache(layers=[layer_type(length, positions) for _ in layers])
        init: Any = getattr(layer_type, "lazy_initialization")  # noqa: B009 - typed per version
        two_args = len(inspect.signature(init).parameters) > 2
        slot_layers: list[Any] = list(cache.layers)
        for slot_layer, layer in zip(slot_layers, layers, strict=True):
            k = layer.keys[:, :, :1].expand(size, -1, -1, -1)
            v = layer.values[:, :, :1].expand(size, -1, -1, -1)
            # transformers < 5.2x sized both tensors from the keys alone
            slot_layer.lazy_initialization(*((k, v) if two_args else (k,)))
        if self.compile:
            torch._dynamo.mark_static_address(positions)
        step = self._make_step(cache, positions, length)
        slots = _Slots(size, length, cache, positions, step, size * length * per_token)
        if self.compile:
            start = time.perf_counter()
            tokens = torch.zeros(size, dtype=torch.long, device=self.device)
            for _ in range(3):  # compile, then (CUDA) warm up and record the graph
                step(tokens)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.stats["compile_s"] += time.perf_counter() - start
            self.stats["compiles"] += 1
        self._slots = slots
        return slots

    def _make_step(self, cache: Any, positions: Any, length: int) -> Callable[[Any], Any]:
        """One decode step over every slot: token ids [size] -> next-token logits [size, V].

        Each slot attends to its positions ``0..positions[b]`` only (an additive mask built
        from ``positions``), so stale KV left by an earlier occupant is never read.
        """
        torch = self.torch
        model, kw = self.model, self._cache_kw
        arange = torch.arange(length, device=self.device)
        dtype = next(model.parameters()).dtype
        lowest = torch.finfo(dtype).min
        # older transformers derive cache_position from the cache's length (a data-dependent
        # value) when it is not passed; the slot layers ignore it, so any 1-element tensor does
        extra = {"cache_position": positions[:1]} if self._takes_cache_position else {}

        def step(tokens: Any) -> Any:
            allowed = arange[None, :] <= positions[:, None]
            zero = torch.zeros((), dtype=dtype, device=arange.device)
            mask = torch.where(allowed, zero, lowest)[:, None, None, :]
            out = model(
                input_ids=tokens[:, None],
                position_ids=positions[:, None],
                attention_mask=mask,  # 4D: transformers uses a prepared mask as is
                use_cache=True,
                **{kw: cache},
                **extra,
            )
            return out.logits[:, -1, :].float()

        if not self.compile:
            return step
        mode = "reduce-overhead" if self.device.type == "cuda" else None
        # each slot-cache shape is one more compiled entry of this function; past dynamo's
        # default limit (8) it would silently fall back to eager
        config = torch._dynamo.config
        if hasattr(config, "recompile_limit"):
            config.recompile_limit = max(config.recompile_limit, 64)
        return torch.compile(step, mode=mode, dynamic=False)  # type: ignore[no-any-return]

    @staticmethod
    def _copy_prefix(slots: _Slots, prefix: Any, targets: list[int]) -> None:
        """Prefix sharing: copy one prompt's prefilled KV into the slots of its samples."""
        index = slots.positions.new_tensor(targets)
        for slot_layer, layer in zip(slots.cache.layers, prefix.layers, strict=True):
            n = layer.keys.shape[2]
            slot_layer.keys[index, :, :n] = layer.keys[0].to(slot_layer.keys.dtype)
            slot_layer.values[index, :, :n] = layer.values[0].to(slot_layer.values.dtype)

    def _run_static(
        self, all_ids: list[list[int]], params: GenParams, base_seed: int
    ) -> list[list[Completion]]:
        """Every sample of every prompt through a fixed batch of slots; a finished row's slot
        is refilled at once with the next pending sample (of this prompt or the next one).

        A prompt is prefilled once (batch 1, as in the loop engine) and its KV copied into the
        slots of its samples; sampling, seeds and stop handling are the loop engine's.
        """
        torch = self.torch
        per_prompt = 1 if params.greedy else params.n
        budgets = [min(params.max_new_tokens, self.context_window - len(ids)) for ids in all_ids]
        need = max(len(ids) + b for ids, b in zip(all_ids, budgets, strict=True))
        length = min(self.context_window, -(-need // _CACHE_BUCKET) * _CACHE_BUCKET)
        total = per_prompt * len(all_ids)
        size = min(self.max_batch, 1 << (total - 1).bit_length())  # powers of 2: few shapes
        pending = deque((p, j) for p in range(len(all_ids)) for j in range(per_prompt))
        rows: list[list[_Row]] = [[] for _ in all_ids]
        started: dict[int, float] = {}
        ended: dict[int, float] = {}
        slots: _Slots | None = None
        occupant: list[tuple[int, _Row] | None] = []
        where: list[int] = []
        logits: Any = None  # a torch.Tensor once the first step ran
        held: tuple[int, Any, Any] | None = None
        with torch.inference_mode():
            while True:
                # refill free slots, prompt by prompt (one prefill shared by its samples)
                while pending and (slots is None or None in occupant):
                    p = pending[0][0]
                    if held is None or held[0] != p:  # kept until all its samples are placed
                        started[p] = time.perf_counter()
                        held = (p, *self._prefill(all_ids[p]))
                        self.stats["prefills"] += 1
                    _, prefix, first = held
                    if slots is None:
                        slots = self._slot_cache(size, length, prefix)
                        occupant = [None] * slots.size
                        where = [0] * slots.size
                        logits = first.new_zeros(slots.size, first.shape[-1])
                    assert logits is not None
                    targets: list[int] = []
                    while pending and pending[0][0] == p and None in occupant:
                        _, j = pending.popleft()
                        s = occupant.index(None)
                        gen = torch.Generator().manual_seed(base_seed + j)
                        row = _Row(generator=gen)
                        rows[p].append(row)
                        occupant[s], where[s] = (p, row), len(all_ids[p])
                        logits[s] = first[0]
                        targets.append(s)
                    self._copy_prefix(slots, prefix, targets)
                    if not pending or pending[0][0] != p:
                        held = None
                active = [s for s, o in enumerate(occupant) if o is not None]
                if not active or slots is None or logits is None:
                    break
                picked = self._sample(
                    logits[active],
                    params,
                    [occupant[s][1] for s in active],  # type: ignore[index]
                )
                feed = [0] * slots.size
                fed = False
                for s, token in zip(active, picked.tolist(), strict=True):
                    p, row = occupant[s]  # type: ignore[misc]
                    if self._advance(row, token, params, budgets[p]):
                        occupant[s], where[s] = None, 0
                        ended[p] = time.perf_counter()
                    else:
                        feed[s], fed = int(token), True
                if not fed:
                    continue
                slots.positions.copy_(torch.tensor(where))
                out = slots.step(torch.tensor(feed, device=self.device))
                self.stats["steps"] += 1
                logits = out.clone() if self.compile else out
                where = [
                    w + 1 if o is not None else 0 for w, o in zip(where, occupant, strict=True)
                ]
        results: list[list[Completion]] = []
        for p, prompt_rows in enumerate(rows):
            seconds = ended[p] - started[p]
            out_rows = [self._completion(row, len(all_ids[p]), seconds) for row in prompt_rows]
            results.append(out_rows * params.n if params.greedy else out_rows)
        return results

    def _completion(self, row: _Row, n_prompt: int, seconds: float) -> Completion:
        if row.text is None:
            body = row.tokens[:-1] if row.finish == "eos" else row.tokens
            row.text = self.detokenize(body)
        return Completion(
            text=row.text,
            finish_reason=row.finish or "length",
            stop_sequence=row.stop,
            prompt_tokens=n_prompt,
            completion_tokens=len(row.tokens),
            seconds=seconds,
        )

    def _generate_one(self, ids: list[int], params: GenParams, base_seed: int) -> list[Completion]:
        """All samples of one prompt: one prefill, then rows in chunks of ``max_batch``."""
        start = time.perf_counter()
        total = 1 if params.greedy else params.n
        budget = min(params.max_new_tokens, self.context_window - len(ids))
        with self.torch.inference_mode():
            prefix, logits = self._prefill(ids)
            rows: list[_Row] = []
            for first in range(0, total, self.max_batch):
                count = min(self.max_batch, total - first)
                last = first + count >= total
                cache = prefix if last else copy.deepcopy(prefix)
                seeds = [base_seed + first + j for j in range(count)]
                rows += self._run_rows(cache, logits, params, seeds, budget)
        seconds = time.perf_counter() - start
        out = [self._completion(row, len(ids), seconds) for row in rows]
        return out * params.n if params.greedy else out

    def generate(self, prompts: Sequence[Prompt], params: GenParams) -> list[list[Completion]]:
        """Complete every prompt ``params.n`` times; the prompt is prefilled once per prompt.

        Sample ``j`` uses seed ``seed + j`` (a random base seed when ``seed`` is None). Greedy
        decoding runs once and is repeated ``n`` times, as in the llama.cpp backend.
        """
        all_ids = [self._prompt_ids(p) for p in prompts]
        base_seed = params.seed
        if base_seed is None:
            base_seed = random.SystemRandom().randrange(2**31)
        if self.engine == "static":
            return self._run_static(all_ids, params, base_seed)
        return [self._generate_one(ids, params, base_seed) for ids in all_ids]

    # -- chat --------------------------------------------------------------------------------

    def render_chat(self, conversation: Sequence[Message]) -> str:
        """The prompt text the tokenizer's chat template makes of a conversation (a final
        assistant message is a prefill the model continues)."""
        return render_chat_template(
            self.tokenizer, conversation, weights_id=self._weights_id, adds_bos=self._adds_bos
        )

    def chat(
        self, conversations: Sequence[Sequence[Message]], params: GenParams
    ) -> list[list[Completion]]:
        """Render each conversation with the chat template, then complete it."""
        return self.generate([self.render_chat(c) for c in conversations], params)

    # -- scoring -----------------------------------------------------------------------------

    def loglikelihood(self, texts: Sequence[str]) -> list[TokenLogprobs]:
        """Teacher-forced per-token log-probs, one forward pass per text.

        The text's tokens are conditioned on BOS when the tokenizer adds one; otherwise the
        first token has no context and its log-prob is None. Special-token text in ``texts``
        is scored as plain characters.
        """
        return [self._loglikelihood_one(text) for text in texts]

    def _loglikelihood_one(self, text: str) -> TokenLogprobs:
        tokens, scored, _, _ = self._score_one(text, moments=False)
        return TokenLogprobs(tokens=tokens, logprobs=scored)

    def next_token_moments(self, texts: Sequence[str]) -> list[TokenMoments] | None:
        """Teacher-forced log-probs with the mean and std of log p over each position's whole
        next-token distribution (for Min-K%++, arXiv:2404.02936), one forward pass per text."""
        out = []
        for text in texts:
            tokens, scored, means, stds = self._score_one(text, moments=True)
            out.append(TokenMoments(tokens=tokens, logprobs=scored, means=means, stds=stds))
        return out

    def _score_one(
        self, text: str, *, moments: bool
    ) -> tuple[list[int], list[float | None], list[float | None], list[float | None]]:
        """Tokens, their log-probs and (with ``moments``) E[log p] and its std under p at each
        position; the lists align with the tokens (None where a token has no context)."""
        torch = self.torch
        tokens = self.tokenize(text, parse_special=False)
        context = self.tokenize("", add_special=True) if self._adds_bos else []
        ids = context + tokens
        if len(ids) > self.context_window:
            raise CodeduelError(
                f"text has {len(ids)} tokens, more than the {self.context_window}-token "
                f"context window of {self._weights_id}",
                "score it in windows, or load the model with a larger context_window",
            )
        if len(ids) < 2:
            none: list[float | None] = [None] * len(tokens)
            return tokens, none, list(none), list(none)
        with torch.inference_mode():
            input_ids = torch.tensor([ids], dtype=torch.long, device=self.device)
            logits = self.model(input_ids=input_ids, use_cache=False).logits[0, :-1].float()
            logprobs = logits.log_softmax(dim=-1)
            picked = logprobs.gather(-1, input_ids[0, 1:, None])[:, 0].tolist()
            if moments:
                probs = logprobs.exp()
                # 0 * -inf (a masked-out token) is NaN; such a token contributes nothing
                lp = logprobs.masked_fill(probs == 0, 0.0)
                mean = (probs * lp).sum(-1)
                var = (probs * (lp - mean[:, None]).square()).sum(-1)
                mu, sd = mean.tolist(), var.sqrt().tolist()
            else:
                mu = sd = []

        def align(values: list[float]) -> list[float | None]:
            # With BOS: position len(context)-1 predicts the first text token; without: it has
            # none.
            got: list[float | None] = [float(x) for x in values]
            return got[len(context) - 1 :] if context else [None, *got]

        return tokens, align(picked), align(mu) if moments else [], align(sd) if moments else []

    def info(self) -> ModelInfo:
        return ModelInfo(
            backend=self.backend,
            spec=self.spec,
            weights_id=self._weights_id,
            sha256=self._sha256,
            context_window=self.context_window,
            train_context_window=self.train_context_window,
            n_params=sum(p.numel() for p in self.model.parameters()),
            engine_version=f"{self._engine}, engine {self.engine}"
            + (" (compiled)" if self.engine == "static" and self.compile else ""),
            chat_template=self.chat_template,
        )

    def close(self) -> None:
        """Drop the weights so their memory (host or GPU) can be freed."""
        self.model = None  # type: ignore[assignment]
        self._slots = None
        if self.device.type == "cuda":
            self.torch.cuda.empty_cache()


# -- loading ---------------------------------------------------------------------------------


def _device_and_dtype(device: str | None, dtype: str | None) -> tuple[Any, Any]:
    torch, _ = _import_torch()
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise CodeduelError(f"unknown device {device!r}", "use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise CodeduelError(
            "device cuda was asked for but torch sees no CUDA GPU",
            "use device='cpu', or install a CUDA build of torch on a GPU machine",
        )
    name = dtype or ("bf16" if dev.type == "cuda" else "fp32")
    if name not in DTYPES:
        raise CodeduelError(f"unknown dtype {name!r}", "use fp32, bf16 or fp16")
    return dev, getattr(torch, DTYPES[name])


def _resolve_target(target: str, gguf_file: str | None) -> tuple[Path | None, str | None]:
    """(local folder or GGUF path, hub id): exactly one is set, or a one-line error."""
    path = Path(target).expanduser()
    if path.exists():
        if path.is_file():
            if gguf_file is not None or path.suffix.lower() != ".gguf":
                raise CodeduelError(
                    f"{path} is not a model folder or a .gguf file",
                    "pass a folder with config.json, or a GGUF file",
                )
            return path, None
        if gguf_file is not None:
            gguf = path / gguf_file
            if not gguf.is_file():
                raise CodeduelError(f"GGUF file not found: {gguf}", "check gguf_file")
            return gguf, None
        if not (path / "config.json").is_file():
            raise CodeduelError(
                f"{path} is not a transformers model folder (no config.json)",
                "pass a folder written by save_pretrained, or a .gguf file",
            )
        return path, None
    looks_like_path = target.startswith(("/", ".", "~")) or target.lower().endswith(".gguf")
    if looks_like_path or not _HUB_ID.match(target):
        raise CodeduelError(f"model path not found: {path}", "check the path after hf:")
    return None, target


def _hub_reachable(timeout_s: float = 5.0) -> bool:
    """Whether the hub's host (``HF_ENDPOINT``) accepts a connection within ``timeout_s``.

    Why: offline, transformers asks the hub for each file with five retries and growing
    back-off, about 50 s and ten "Retrying" lines before the one-line error; one probe answers
    the same question at once. The probe runs in a thread so a name lookup that hangs cannot
    stall the load either."""
    from urllib.parse import urlparse

    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    host = url.hostname or "huggingface.co"
    port = url.port or (80 if url.scheme == "http" else 443)
    reached: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            reached.append(True)
        except OSError:
            reached.append(False)

    worker = threading.Thread(target=probe, name="codeduel-hub-probe", daemon=True)
    worker.start()
    worker.join(timeout_s)
    return bool(reached and reached[0])


def _hub_offline_options(hub: str, revision: str | None) -> dict[str, Any]:
    """``{"local_files_only": True}`` when the hub cannot be reached but ``hub`` is cached (no
    retries against an unreachable hub); ``{}`` when it can; a one-line error when neither."""
    from huggingface_hub import constants, try_to_load_from_cache

    if constants.HF_HUB_OFFLINE:
        return {"local_files_only": True}
    if _hub_reachable():
        return {}
    cached = try_to_load_from_cache(hub, "config.json", revision=revision)
    if isinstance(cached, str):
        return {"local_files_only": True}
    raise _hub_error(hub, OSError("hub unreachable"))


def load(target: str, **options: Any) -> HFModel:
    """Registry entry point for ``hf:`` specs (see the module docstring for targets/options)."""
    torch, _ = _import_torch()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device, dtype = _device_and_dtype(options.pop("device", None), options.pop("dtype", None))
    quiet = bool(options.pop("quiet", True))
    gguf_file: str | None = options.pop("gguf_file", None)
    revision: str | None = options.pop("revision", None)
    n_threads: int | None = options.pop("n_threads", None)
    tokenizer_cache = options.pop("tokenizer_cache_dir", None)
    spec = options.pop("spec", None) or f"hf:{target}"
    weights_id: str | None = options.pop("weights_id", None)
    sha256: str | None = options.pop("sha256", None)
    keep = {
        k: options.pop(k)
        for k in ("context_window", "max_batch", "engine", "compile")
        if k in options
    }
    if options:
        raise CodeduelError(
            f"unknown option(s) for the hf backend: {', '.join(sorted(options))}",
            "see docs/models.md for the hf options",
        )
    if n_threads:
        torch.set_num_threads(int(n_threads))

    if target.startswith("embedded:"):
        from codeduel.models import embedded

        name = target.removeprefix("embedded:") or embedded.DEFAULT_EMBEDDED
        local: Path | None = embedded.ensure_embedded(name)
        hub = None
        weights_id = weights_id or name
        sha256 = sha256 or embedded.EMBEDDED[name].sha256
    else:
        local, hub = _resolve_target(target, gguf_file)
    load_kwargs: dict[str, Any] = {"dtype": dtype, "device_map": str(device)}
    try:
        with _quiet(quiet):
            if local is not None and local.suffix.lower() == ".gguf":
                weights_id = weights_id or local.name
                tokenizer = load_tokenizer_cached(
                    local,
                    sha256=sha256,
                    cache_dir=Path(tokenizer_cache) if tokenizer_cache else None,
                )
                model = AutoModelForCausalLM.from_pretrained(
                    str(local.parent), gguf_file=local.name, **load_kwargs
                )
            else:
                source = str(local) if local is not None else str(hub)
                weights_id = weights_id or (local.name if local is not None else str(hub))
                extra: dict[str, Any] = {"revision": revision} if revision else {}
                if hub is not None:
                    extra.update(_hub_offline_options(hub, revision))
                if gguf_file:
                    extra["gguf_file"] = gguf_file
                tokenizer = AutoTokenizer.from_pretrained(source, **extra)
                model = AutoModelForCausalLM.from_pretrained(source, **extra, **load_kwargs)
    except OSError as exc:
        if hub is not None:
            raise _hub_error(hub, exc) from None
        raise CodeduelError(
            f"transformers could not read {local}: {str(exc).splitlines()[0]}",
            "check that the folder or GGUF file is complete",
        ) from None
    except (ValueError, KeyError) as exc:
        raise CodeduelError(
            f"transformers cannot load {target} as a causal LM: {str(exc).splitlines()[0]}",
            "check that it is a text-generation model this transformers version supports",
        ) from None
    model.eval()
    return HFModel(model, tokenizer, spec=spec, weights_id=str(weights_id), sha256=sha256, **keep)
