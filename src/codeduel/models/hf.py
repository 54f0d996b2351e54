"""Hugging Face transformers models on CPU or CUDA: hub ids, local folders and GGUF files.

Specs: ``hf:ORG/NAME`` (from the local hub cache, or downloaded when the hub is reachable),
``hf:/path/to/folder`` (a ``save_pretrained`` folder), ``hf:/path/to/model.gguf`` (a GGUF file
loaded through transformers' ``gguf_file``: every tensor is dequantised, so memory is about
8× the Q4 file), ``hf:embedded:NAME`` (an embedded GGUF, see ``embedded.py``), or
``hf:ORG/NAME`` with the option ``gguf_file="x.gguf"`` for a GGUF inside a hub repo.
Options: ``dtype`` (``fp32``/``bf16``/``fp16``; default fp32 on CPU, bf16 on CUDA), ``device``
(``cpu``/``cuda``/``cuda:1``; default CUDA when available), ``max_batch`` (rows decoded
together), ``context_window``, ``n_threads``, ``revision``, ``quiet``.

Why a decode loop of our own instead of ``model.generate``:

* **Prefix sharing.** ``generate(num_return_sequences=n)`` repeats the prompt ``n`` times
  *before* the forward pass, so the prompt is prefilled ``n`` times. Here a prompt is prefilled
  once (batch 1) and its KV cache is repeated ``n`` times; all rows then have the same length,
  so no padding or attention mask is ever needed.
* **Per-sequence stops.** ``generate`` stops a batch only when every row is done (stop strings
  finish a row but it keeps decoding as padding). Here a row that emits an end-of-generation
  token or completes a stop string leaves the batch at once (its KV rows are dropped) and its
  text is cut exactly before the stop, as the llama.cpp backend does.
* **Seeds per sample.** Sample ``j`` of a request draws from its own ``torch.Generator``
  seeded ``seed + j``, so a seeded result does not depend on ``max_batch`` or on which other
  rows finished first (the llama.cpp backend uses the same ``seed + j`` rule).

Greedy decoding is plain argmax over the same forward passes ``generate`` makes, which the tests
check token for token. The loop is split into :meth:`HFModel._prefill` and
:meth:`HFModel._decode` around a ``DynamicCache`` so the GPU work of issue #7 (static or paged
KV cache, compiled decode, refilling finished rows) can replace those two steps without
touching stop handling, sampling or the public interface.

GGUF tokenizers: converting one from GGUF metadata takes 10-40 s, so the converted tokenizer is
saved once (``save_pretrained``) in the user cache dir, keyed by the GGUF's content and the
transformers version, and loaded from there (under a second) afterwards.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import inspect
import io
import os
import random
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

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
)
from codeduel.models.formats import Segment, Special

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

INSTALL_FIX = "run: pip install 'codeduel[hf]'"
DTYPES = {
    "fp32": "float32",
    "float32": "float32",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "float16": "float16",
}
#: Special tokens that end a turn or a document in the families codeduel evaluates. The
#: tokenizer's own ``eos_token`` is only one of them (Qwen instruct models may end with
#: ``<|endoftext|>`` as well as ``<|im_end|>``; llama.cpp treats all of these as end of
#: generation too), so every one present in the vocabulary as a special token stops a row.
END_TOKENS = (
    "<|endoftext|>",
    "<|im_end|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end_of_text|>",
    "<end_of_turn>",
    "<|end|>",
    "<|EOT|>",
    "<EOT>",
    "</s>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
)
_HUB_ID = re.compile(r"^[\w.\-]+(/[\w.\-]+)?$")
_HASH_PREFIX = 64 << 20  # GGUF metadata (tokenizer included) sits at the start of the file


def _import_torch() -> tuple[Any, Any]:
    """torch and transformers, or the one-line install hint (they are the ``hf`` extra)."""
    try:
        import torch
        import transformers
    except ImportError:
        raise CodeduelError("the hf backend needs torch and transformers", INSTALL_FIX) from None
    return torch, transformers


def default_tokenizer_cache() -> Path:
    """Where converted GGUF tokenizers are kept: the user cache dir, beside the embedded GGUFs."""
    return Path(platformdirs.user_cache_dir("codeduel")) / "hf-tokenizers"


def gguf_cache_key(path: Path, sha256: str | None = None) -> str:
    """A key for what a GGUF's tokenizer converts to: its content, size and transformers version.

    Hashing a multi-GB file on every load would cost seconds, so unless the full sha256 is
    already known (embedded models pin it) only the first 64 MiB are hashed: the GGUF header,
    which holds all tokenizer metadata, comes before the tensor data.
    """
    _, transformers = _import_torch()
    size = path.stat().st_size
    if sha256 is None:
        digest = hashlib.sha256()
        with path.open("rb") as f:
            digest.update(f.read(_HASH_PREFIX))
        sha256 = digest.hexdigest()
    return f"{sha256[:24]}-{size}-tf{transformers.__version__}"


@contextlib.contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    """Silence transformers' progress bars and warnings while loading, then restore them.

    Errors still surface: they are exceptions, turned into one-line messages by :func:`load`.
    """
    from transformers.utils import logging as hf_logging

    if not enabled:
        yield
        return
    bars = hf_logging.is_progress_bar_enabled()
    level = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        # the GGUF dequantisation bar is a plain tqdm on stderr that ignores the switch above
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _hub_error(name: str, exc: BaseException) -> CodeduelError:
    """Turn transformers' multi-line hub failures into one line."""
    text = str(exc)
    if "not a valid model identifier" in text or "Repository Not Found" in text:
        return CodeduelError(
            f"no model {name!r} on the Hugging Face hub (and no local folder of that name)",
            "check the spelling, or pass a local folder or .gguf path after hf:",
        )
    if "gated" in text.lower() or "401" in text or "403" in text:
        return CodeduelError(
            f"{name} needs a Hugging Face token to download",
            "accept its licence on the hub and run `hf auth login` (or set HF_TOKEN)",
        )
    return CodeduelError(
        f"{name} is not in the local cache and the hub is unreachable",
        f"download it once with network access (hf download {name}) or pass a local folder",
    )


def cached_tokenizer_dir(
    path: Path, *, sha256: str | None = None, cache_dir: Path | None = None
) -> Path:
    """A folder holding the tokenizer of a GGUF file, converted on first use and then reused.

    The converted tokenizer is written to a temporary folder and renamed into place, so a
    killed run never leaves a half-written entry that a later run would trust. The vllm
    backend passes this folder to vLLM as its tokenizer.
    """
    from transformers import AutoTokenizer

    root = cache_dir or default_tokenizer_cache()
    target = root / gguf_cache_key(path, sha256)
    if (target / "tokenizer_config.json").is_file():
        return target
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
        tokenizer.save_pretrained(str(tmp))
        try:
            os.replace(tmp, target)
        except OSError:  # another process cached it first
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        raise CodeduelError(
            f"cannot write the tokenizer cache at {root}: {exc.strerror}",
            "free disk space or pass tokenizer_cache_dir= a writable folder",
        ) from None
    return target


def load_tokenizer_cached(
    path: Path, *, sha256: str | None = None, cache_dir: Path | None = None
) -> PreTrainedTokenizerBase:
    """The tokenizer of a GGUF file, through :func:`cached_tokenizer_dir`.

    A cache entry that no longer loads (a truncated copy, a removed file) is converted again.
    """
    from transformers import AutoTokenizer

    folder = cached_tokenizer_dir(path, sha256=sha256, cache_dir=cache_dir)
    try:
        return AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError):
        shutil.rmtree(folder, ignore_errors=True)
        folder = cached_tokenizer_dir(path, sha256=sha256, cache_dir=cache_dir)
        return AutoTokenizer.from_pretrained(str(folder))


def end_token_ids(tokenizer: PreTrainedTokenizerBase, *configs: Any) -> set[int]:
    """Every token id that ends a sample: the configs' EOS ids plus known end-of-turn tokens."""
    ids: set[int] = set()
    for source in (*configs, tokenizer):
        value = getattr(source, "eos_token_id", None)
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(int(v) for v in value)
    special = {tok.content: i for i, tok in tokenizer.added_tokens_decoder.items() if tok.special}
    ids.update(special[name] for name in END_TOKENS if name in special)
    return ids


def render_chat_template(
    tokenizer: PreTrainedTokenizerBase,
    conversation: Sequence[Message],
    *,
    weights_id: str,
    adds_bos: bool,
) -> str:
    """A conversation through a tokenizer's own chat template (shared with the vllm backend).

    A final assistant message is a prefill: the template is rendered with
    ``continue_final_message`` so the model continues exactly that text. A BOS the template
    writes is removed when the tokenizer adds one itself, so it is not doubled.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise CodeduelError(
            f"{weights_id} has no chat template",
            "use generate() with a completion prompt, or a chat/instruct model",
        )
    if not conversation:
        raise CodeduelError("a chat needs at least one message", "pass a user message")
    messages = [m.model_dump() for m in conversation]
    prefill = conversation[-1].role == "assistant"
    rendered = str(
        tokenizer.apply_chat_template(
            messages,
            tokenize=False,
            add_generation_prompt=not prefill,
            continue_final_message=prefill,
        )
    )
    bos = tokenizer.bos_token or ""
    if adds_bos and bos and rendered.startswith(bos):
        rendered = rendered[len(bos) :]
    return rendered


@dataclass
class _Row:
    """One sample being decoded: its tokens, generator, and where stop scanning got to."""

    generator: Any
    tokens: list[int] = field(default_factory=list)
    text: str | None = None
    scanned: int = 0
    finish: FinishReason | None = None
    stop: str | None = None


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
        row's own generator (so each sample's randomness is independent of the batch)."""
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
        probs = scores.softmax(dim=-1)
        picks = [
            torch.multinomial(probs[i], 1, generator=row.generator) for i, row in enumerate(rows)
        ]
        return torch.cat(picks)

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
        rows = [_Row(generator=torch.Generator(device=self.device).manual_seed(s)) for s in seeds]
        if len(rows) > 1:
            cache.batch_repeat_interleave(len(rows))
            logits = logits.expand(len(rows), -1)
        active = list(range(len(rows)))
        for _ in range(budget):
            picked = self._sample(logits, params, [rows[i] for i in active])
            keep: list[int] = []
            for pos, (i, token) in enumerate(zip(active, picked.tolist(), strict=True)):
                row = rows[i]
                row.tokens.append(int(token))
                if token in self.eos_ids:
                    row.finish = "eos"
                elif params.stop and self._check_stop(row, params.stop):
                    row.finish = "stop"
                elif len(row.tokens) >= budget:
                    row.finish = "length"
                else:
                    keep.append(pos)
            if not keep:
                break
            if len(keep) < len(active):
                index = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index)
                picked = picked[index]
                active = [active[p] for p in keep]
            logits = self._decode(picked, cache)
        return rows

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
            return TokenLogprobs(tokens=tokens, logprobs=[None] * len(tokens))
        with torch.inference_mode():
            input_ids = torch.tensor([ids], dtype=torch.long, device=self.device)
            logits = self.model(input_ids=input_ids, use_cache=False).logits[0, :-1].float()
            logprobs = logits.log_softmax(dim=-1)
            picked = logprobs.gather(-1, input_ids[0, 1:, None])[:, 0].tolist()
        scored: list[float | None] = [float(x) for x in picked]
        # With BOS: position len(context)-1 predicts the first text token; without: it has none.
        scored = scored[len(context) - 1 :] if context else [None, *scored]
        return TokenLogprobs(tokens=tokens, logprobs=scored)

    def info(self) -> ModelInfo:
        return ModelInfo(
            backend=self.backend,
            spec=self.spec,
            weights_id=self._weights_id,
            sha256=self._sha256,
            context_window=self.context_window,
            train_context_window=self.train_context_window,
            n_params=sum(p.numel() for p in self.model.parameters()),
            engine_version=self._engine,
            chat_template=self.chat_template,
        )

    def close(self) -> None:
        """Drop the weights so their memory (host or GPU) can be freed."""
        self.model = None  # type: ignore[assignment]
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
    keep = {k: options.pop(k) for k in ("context_window", "max_batch") if k in options}
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
                extra = {"revision": revision} if revision else {}
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
