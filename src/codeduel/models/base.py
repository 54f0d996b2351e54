"""The one model interface every backend implements: three primitives plus tokenizer access.

Why three primitives (after lm-evaluation-harness): every task in the Code Llama protocol reduces
to text completion (HumanEval, MBPP, infilling, key retrieval), chat (instruct models) or
per-token log-probabilities (perplexity). Infilling is deliberately *not* a primitive: it is a
prompt format (see ``formats.py``) on top of ``generate``, so a backend never needs to know FIM.

Everything a run stores is a pydantic model, so ``GenParams`` and ``Completion`` serialise to
JSON for the results store unchanged.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from codeduel.errors import CodeduelError

if TYPE_CHECKING:
    from codeduel.models.formats import Segment

#: A prompt is either text (tokenised by the backend, special tokens parsed) or token ids
#: (sent as-is: the only way to get token-exact formats such as Code Llama infilling).
Prompt = str | Sequence[int]

FinishReason = Literal["eos", "stop", "length"]


class GenParams(BaseModel):
    """Decoding parameters for one request; frozen and hashable so runs can be keyed on them.

    ``temperature == 0`` means greedy decoding (then top_p/top_k/seed are irrelevant and the n
    samples are identical). ``top_k=None`` disables top-k, as in the paper's protocol
    (T=0.8, top-p 0.95, no top-k). Samplers apply temperature first, then top-k, then top-p,
    the order of the Code Llama reference code and of transformers.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_new_tokens: int = Field(512, ge=1)
    temperature: float = Field(0.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=1)
    n: int = Field(1, ge=1)
    stop: tuple[str, ...] = ()
    seed: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _no_empty_stop(self) -> Self:
        if any(s == "" for s in self.stop):
            raise ValueError("stop sequences must be non-empty")
        return self

    @property
    def greedy(self) -> bool:
        """True when decoding is deterministic argmax."""
        return self.temperature == 0.0

    def to_json(self) -> str:
        """Canonical JSON (sorted keys) for the results store and cache keys."""
        return self.model_dump_json()


def check_params(**values: object) -> GenParams:
    """Decoding parameters from user input, checked before anything is loaded, or a one-line
    error naming the option and its valid range (never a multi-line pydantic report)."""
    try:
        return GenParams(**values)  # type: ignore[arg-type]
    except ValidationError as err:
        first = err.errors()[0]
        name = str(first["loc"][0]) if first.get("loc") else "parameter"
        raise CodeduelError(
            f"invalid --{name.replace('_', '-')} {first.get('input')!r}: {first['msg'].lower()}",
            "see `codeduel run --help` for the valid values",
        ) from None


class Completion(BaseModel):
    """One generated sample with what the report needs: why it ended, its size and cost.

    ``finish_reason`` is ``eos`` when the model emitted an end-of-generation token, ``stop``
    when a stop sequence matched (``text`` then excludes it, ``stop_sequence`` names it) and
    ``length`` when ``max_new_tokens`` ran out. ``seconds`` is wall time of the request that
    produced it (shared by the samples decoded together).
    """

    model_config = ConfigDict(frozen=True)

    text: str
    finish_reason: FinishReason
    stop_sequence: str | None = None
    prompt_tokens: int
    completion_tokens: int
    seconds: float


class Message(BaseModel):
    """One chat turn. A final ``assistant`` message is a prefill the model continues."""

    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class TokenLogprobs(BaseModel):
    """Per-token log-probabilities of a given text (natural log).

    ``logprobs[i]`` is log p(tokens[i] | tokens[:i]); the first is ``None`` when there is no
    preceding context to condition on.
    """

    model_config = ConfigDict(frozen=True)

    tokens: list[int]
    logprobs: list[float | None]


class TokenMoments(TokenLogprobs):
    """Per-token log-probs plus the moments of the whole next-token distribution, for Min-K%++.

    ``means[i]`` and ``stds[i]`` are the mean and standard deviation of log p(z | tokens[:i])
    for z drawn from that same distribution (``None`` where ``logprobs[i]`` is).
    """

    means: list[float | None]
    stds: list[float | None]


class ModelInfo(BaseModel):
    """What identifies the weights and engine of a run, stored beside its results."""

    model_config = ConfigDict(frozen=True)

    backend: str
    spec: str
    weights_id: str
    sha256: str | None = None
    context_window: int
    train_context_window: int | None = None
    n_params: int | None = None
    engine_version: str | None = None
    chat_template: str | None = None


class Model(abc.ABC):
    """A loaded model. Use as a context manager (or call ``close``) to free engine memory."""

    backend: str = "abstract"
    #: How many greedy prompts the runner may hand over in one call. 1 means one problem per
    #: call; backends that decode many prompts together (vLLM, the hf static engine, a server
    #: taking concurrent requests) raise it, or a GPU would decode a pass@1 run at batch 1.
    greedy_batch: int = 1
    #: Whether :meth:`encode_segments` turns FIM segments into exact token ids (sentinels as
    #: single ids, a suffix without the tokenizer's dummy space). Backends that only take text
    #: leave it False and receive the prompt's text.
    exact_segments: bool = False

    def encode_segments(self, segments: Sequence[Segment]) -> list[int]:
        """FIM segments as token ids (only where :attr:`exact_segments` is True)."""
        raise not_supported(self.backend, "exact token segments", "send the prompt as text")

    @abc.abstractmethod
    def generate(self, prompts: Sequence[Prompt], params: GenParams) -> list[list[Completion]]:
        """Complete each prompt ``params.n`` times; the result is aligned with ``prompts``."""

    @abc.abstractmethod
    def chat(
        self, conversations: Sequence[Sequence[Message]], params: GenParams
    ) -> list[list[Completion]]:
        """Answer each conversation through the model's own chat template."""

    @abc.abstractmethod
    def loglikelihood(self, texts: Sequence[str]) -> list[TokenLogprobs]:
        """Per-token log-probs of each text (teacher forcing), for perplexity and retrieval."""

    def next_token_moments(self, texts: Sequence[str]) -> list[TokenMoments] | None:
        """Teacher-forced log-probs with the moments of each next-token distribution, or None
        where the backend cannot see the whole distribution (llama.cpp, OpenAI-style servers:
        only the top few log-probs come back). Min-K%++ needs it; only hf overrides it."""
        return None

    @abc.abstractmethod
    def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
        """Token ids of ``text`` with the model's own tokenizer (special tokens parsed)."""

    @abc.abstractmethod
    def info(self) -> ModelInfo:
        """Backend, weights identity and context window."""

    def close(self) -> None:  # noqa: B027 - optional hook, default is nothing to free
        """Release engine resources; backends with native memory override this."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def not_supported(backend: str, what: str, fix: str) -> CodeduelError:
    """The one-line error for a primitive a backend cannot provide."""
    return CodeduelError(f"{what} is not supported by the {backend} backend", fix)
