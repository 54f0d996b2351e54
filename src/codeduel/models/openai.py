"""Any OpenAI-compatible server (OpenAI, llama.cpp server, Ollama, vLLM) via the openai client.

Why the official client: it already speaks every dialect detail (auth headers, error bodies,
``Retry-After``) and retries 408/409/429/5xx, timeouts and dropped connections with exponential
backoff and jitter. This module adds what an evaluation needs on top: bounded concurrency
across prompts and samples, ``n`` samples even from servers that return fewer choices, more
than four stop sequences, codeduel's finish reasons, and one-line errors instead of tracebacks.

Server differences this backend has to live with (checked against llama.cpp's server):

* ``finish_reason == "stop"`` means *either* an end-of-generation token *or* a stop sequence.
  It is reported as ``stop`` (with ``stop_sequence`` when the server names it, as vLLM does via
  ``stop_reason``) when stop sequences were sent, and as ``eos`` when none were.
* ``usage`` counts all choices of a request together; with ``n > 1`` the completion tokens are
  shared out in proportion to each choice's text length (their sum is exact).
* A final assistant message (prefill) is sent as is. llama.cpp's server continues it and echoes
  it at the start of the answer, which is stripped here; OpenAI's own API does not continue it
  (the model starts a fresh reply), so prefill prompts mean something else there.
* Prompt log-probs need ``echo`` with ``logprobs`` on the completions endpoint; llama.cpp's
  server ignores ``echo``, so :meth:`OpenAIModel.loglikelihood` then raises "not supported".
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

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
    not_supported,
)
from codeduel.models.postprocess import truncate_at_stops

BACKEND = "openai"
OPENAI_URL = "https://api.openai.com/v1"
#: OpenAI accepts at most four stop sequences; the rest are applied client-side.
MAX_SERVER_STOPS = 4
#: OpenAI's limit on ``n`` per request; larger ``n`` is split into several requests.
MAX_N_PER_REQUEST = 128
DEFAULT_CONTEXT_WINDOW = 4096
#: Placeholder key for local servers that do not check one (the client refuses an empty key).
NO_KEY = "sk-no-key-needed"

_OPTIONS = frozenset(
    {
        "base_url",
        "api_key",
        "concurrency",
        "max_retries",
        "timeout",
        "context_window",
        "extra_body",
        "spec",
    }
)

T = TypeVar("T")


def _import_openai() -> Any:
    try:
        import openai
    except ImportError:
        raise CodeduelError(
            "the openai backend needs the openai package", "run: pip install 'codeduel[openai]'"
        ) from None
    return openai


class _NotServed(CodeduelError):
    """A 404 or an answer that is not OpenAI JSON: the route or model is not served there."""


def _one_line(text: str, limit: int = 200) -> str:
    """Server messages can span lines or run long; codeduel errors are one short line."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _server_message(exc: Any) -> str:
    """The human part of an API error body (``{"error": {"message": ...}}`` or a plain string)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return _one_line(inner["message"])
        if isinstance(inner, str):
            return _one_line(inner)
    if isinstance(body, str) and body:
        return _one_line(body)
    return _one_line(getattr(exc, "message", "") or type(exc).__name__)


def _split_tokens(total: int, texts: Sequence[str]) -> list[int]:
    """Share ``total`` tokens among choices in proportion to text length; the sum is exact."""
    if len(texts) == 1:
        return [total]
    weights = [max(1, len(t)) for t in texts]
    share = [total * w // sum(weights) for w in weights]
    for i in range(total - sum(share)):
        share[i % len(share)] += 1
    return share


class OpenAIModel(Model):
    """A model behind an OpenAI-compatible HTTP API.

    ``concurrency`` bounds the requests in flight (across prompts, samples and threads);
    ``max_retries`` is the client's retry budget per request for 408/409/429/5xx, timeouts and
    dropped connections; ``timeout`` is per request, in seconds. ``context_window`` overrides
    the window from the preset or the server's own report (llama.cpp's ``/v1/models``).
    ``extra_body`` is merged into every generation request (e.g. llama.cpp's ``min_p``).
    """

    backend = BACKEND

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 8,
        max_retries: int = 5,
        timeout: float = 600.0,
        context_window: int | None = None,
        extra_body: dict[str, Any] | None = None,
        spec: str | None = None,
    ) -> None:
        openai = _import_openai()
        self._errors = openai
        if concurrency < 1 or max_retries < 0 or timeout <= 0:
            raise CodeduelError(
                "invalid openai backend options",
                "need concurrency >= 1, max_retries >= 0, timeout > 0",
            )
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL).rstrip("/")
        host = urllib.parse.urlsplit(self.base_url).hostname or ""
        self.is_openai = host == "api.openai.com"
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if self.is_openai:
                raise CodeduelError(
                    "OPENAI_API_KEY is not set", "export OPENAI_API_KEY=sk-... (your OpenAI key)"
                )
            key = NO_KEY
        self.concurrency = concurrency
        self.greedy_batch = concurrency  # the server batches concurrent requests itself
        self.max_retries = max_retries
        self.timeout = float(timeout)
        self.extra_body = dict(extra_body or {})
        self.spec = spec or f"openai:{model}"
        self._slots = threading.BoundedSemaphore(concurrency)
        self._client: Any = openai.OpenAI(
            api_key=key, base_url=self.base_url, timeout=self.timeout, max_retries=max_retries
        )
        self._tokenize_route: bool | None = None
        self._weights_id, served_ctx = self._describe_server()
        self.context_window = context_window or _preset_window(model) or served_ctx
        self.context_window = self.context_window or DEFAULT_CONTEXT_WINDOW
        self._engine_version = str(getattr(openai, "__version__", "unknown"))

    # -- transport ---------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], T], *, retries: int | None = None) -> T:
        """Run one API call inside the concurrency bound, turning failures into one line.

        The client has already retried what is retryable by the time an error reaches here.
        """
        openai = self._errors
        tries = 1 + (self.max_retries if retries is None else retries)
        with self._slots:
            try:
                return fn()
            except openai.APITimeoutError:
                raise CodeduelError(
                    f"no answer from {self.base_url} within {self.timeout:g} s ({tries} tries)",
                    "check that the server is up and not overloaded, or raise the timeout option",
                ) from None
            except openai.APIConnectionError:
                raise CodeduelError(
                    f"cannot reach the OpenAI-compatible server at {self.base_url} "
                    f"({what}, {tries} tries)",
                    "start the server, or fix --base-url",
                ) from None
            except openai.AuthenticationError as exc:
                raise CodeduelError(
                    f"{self.base_url} rejected the API key (401: {_server_message(exc)})",
                    "set OPENAI_API_KEY to a key this server accepts",
                ) from None
            except openai.PermissionDeniedError as exc:
                raise CodeduelError(
                    f"{self.base_url} refused access (403: {_server_message(exc)})",
                    "set OPENAI_API_KEY to a key with access to this model",
                ) from None
            except openai.NotFoundError as exc:
                raise _NotServed(
                    f"model {self.model!r} or route not found at {self.base_url} "
                    f"(404: {_server_message(exc)})",
                    "check the name after openai: and that --base-url ends in /v1",
                ) from None
            except openai.RateLimitError as exc:
                raise CodeduelError(
                    f"rate-limited by {self.base_url} after {tries} tries "
                    f"(429: {_server_message(exc)})",
                    "lower the concurrency option, or retry later",
                ) from None
            except openai.BadRequestError as exc:
                message = _server_message(exc)
                if "context" in message.lower():
                    raise CodeduelError(
                        f"prompt is longer than the context window of {self.model} ({message})",
                        "shorten the prompt or max_new_tokens, or use a longer-context model",
                    ) from None
                raise CodeduelError(
                    f"{self.base_url} rejected the request (400: {message})",
                    "check the generation parameters this server accepts",
                ) from None
            except openai.APIStatusError as exc:
                raise CodeduelError(
                    f"{self.base_url} failed {what} with HTTP {exc.status_code} after {tries} "
                    f"tries ({_server_message(exc)})",
                    "check the server's log, or retry later",
                ) from None
            except openai.APIResponseValidationError:
                raise  # a 200 with a body the client cannot parse: retried by the caller
            except openai.APIError as exc:
                raise _NotServed(
                    f"unreadable answer from {self.base_url} for {what} ({_server_message(exc)})",
                    "check that --base-url points at an OpenAI-compatible API",
                ) from None

    def _with_malformed_retries(self, what: str, fn: Callable[[], T]) -> T:
        """Retry answers the client accepts but cannot parse (a 200 with a broken body).

        Why: the client retries only on status codes and transport errors; a proxy or an
        overloaded server can still return a truncated or non-JSON body with status 200.
        """
        openai = self._errors
        for attempt in range(self.max_retries + 1):
            try:
                return fn()
            except (openai.APIResponseValidationError, json.JSONDecodeError):
                if attempt == self.max_retries:
                    break
                time.sleep(min(8.0, 0.5 * 2**attempt) * (1 - 0.25 * random.random()))
        raise CodeduelError(
            f"{self.base_url} kept returning malformed answers for {what} "
            f"({self.max_retries + 1} tries)",
            "check the server's log, or that --base-url points at an OpenAI-compatible API",
        )

    def _describe_server(self) -> tuple[str, int | None]:
        """Check the server answers (one quick try) and learn the served model's name and window.

        Why at load: an unreachable server or a bad key should fail before a run starts, in
        seconds rather than after the full retry budget of the first generation request.
        """
        quick = self._client.with_options(max_retries=1, timeout=min(self.timeout, 30.0))
        try:
            listed = self._call("listing models", lambda: list(quick.models.list()), retries=1)
        except _NotServed:
            return self.model, None  # a server without /models: trust the given name
        ids = [str(getattr(m, "id", "")) for m in listed]
        if self.model in ids:
            chosen = listed[ids.index(self.model)]
        elif len(listed) == 1:
            chosen = listed[0]  # a local server serving one model under any name
        else:
            return self.model, None
        meta = (getattr(chosen, "model_extra", None) or {}).get("meta") or {}
        served_ctx = meta.get("n_ctx") if isinstance(meta, dict) else None
        return str(chosen.id), int(served_ctx) if served_ctx else None

    # -- requests ----------------------------------------------------------------------------

    def _stops_and_extra(self, params: GenParams) -> tuple[list[str] | None, dict[str, Any]]:
        extra = dict(self.extra_body)
        if params.top_k is not None:
            if self.is_openai:
                raise CodeduelError(
                    "top-k sampling is not supported by OpenAI's API", "leave --top-k unset"
                )
            extra["top_k"] = params.top_k
        stops = list(params.stop[:MAX_SERVER_STOPS]) or None
        return stops, extra

    def _finish(
        self, text: str, reason: str | None, server_stop: Any, params: GenParams
    ) -> tuple[str, FinishReason, str | None]:
        cut = truncate_at_stops(text, params.stop)
        if cut.stop is not None:
            return cut.text, "stop", cut.stop
        if reason == "length":
            return text, "length", None
        if reason == "stop" and params.stop:
            named = server_stop if isinstance(server_stop, str) else None
            return text, "stop", named
        return text, "eos", None

    def _request(
        self, kind: str, payload: Any, params: GenParams, n: int, seed: int | None
    ) -> list[Completion]:
        """One API request for ``n`` choices; may return fewer (the caller tops up)."""
        stops, extra = self._stops_and_extra(params)
        args: dict[str, Any] = {
            "model": self.model,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "n": n,
        }
        if not params.greedy:
            args["top_p"] = params.top_p
        if stops:
            args["stop"] = stops
        if seed is not None:
            args["seed"] = seed
        if extra:
            args["extra_body"] = extra
        prefill = ""
        if kind == "chat":
            args["messages"] = [m.model_dump() for m in payload]
            if payload and payload[-1].role == "assistant":
                prefill = payload[-1].content
            create = self._client.chat.completions.create
        else:
            args["prompt"] = payload if isinstance(payload, str) else [int(t) for t in payload]
            create = self._client.completions.create

        def send() -> Any:
            return self._call(
                f"/{'chat/' if kind == 'chat' else ''}completions", lambda: create(**args)
            )

        start = time.perf_counter()
        response = self._with_malformed_retries("a completion", send)
        seconds = time.perf_counter() - start
        choices = sorted(getattr(response, "choices", None) or [], key=lambda c: c.index or 0)
        texts: list[str] = []
        for choice in choices:
            if kind == "chat":
                text = (choice.message.content if choice.message else None) or ""
                if prefill and text.startswith(prefill):
                    text = text[len(prefill) :]  # llama.cpp echoes the continued prefill
            else:
                text = choice.text or ""
            texts.append(text)
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        shares = _split_tokens(int(getattr(usage, "completion_tokens", 0) or 0), texts or [""])
        out = []
        for choice, text, tokens in zip(choices, texts, shares, strict=False):
            extra_fields = getattr(choice, "model_extra", None) or {}
            final, reason, stop = self._finish(
                text, choice.finish_reason, extra_fields.get("stop_reason"), params
            )
            out.append(
                Completion(
                    text=final,
                    finish_reason=reason,
                    stop_sequence=stop,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=tokens,
                    seconds=seconds,
                )
            )
        return out

    def _samples(
        self, kind: str, payload: Any, params: GenParams, count: int, seed: int | None
    ) -> list[Completion]:
        """Exactly ``count`` samples: ask for the rest again when a server returns fewer.

        Follow-up requests are seeded past the samples already drawn, so a seeded run stays
        reproducible. A server that returns no choices at all, repeatedly, is an error.
        """
        got: list[Completion] = []
        empty = 0
        while len(got) < count:
            next_seed = None if seed is None else seed + len(got)
            batch = self._request(kind, payload, params, count - len(got), next_seed)
            if not batch:
                empty += 1
                if empty > self.max_retries:
                    raise CodeduelError(
                        f"{self.base_url} returned no choices ({empty} tries)",
                        "check the server's log and that it supports this endpoint",
                    )
                time.sleep(min(8.0, 0.5 * 2 ** (empty - 1)) * (1 - 0.25 * random.random()))
                continue
            got.extend(batch[: count - len(got)])
        return got

    def _run(self, kind: str, payloads: Sequence[Any], params: GenParams) -> list[list[Completion]]:
        """Fan the requests of all payloads out over at most ``concurrency`` threads.

        Greedy decoding is requested once per payload and repeated ``n`` times (as the other
        backends do); sampled ``n`` goes out in requests of up to ``MAX_N_PER_REQUEST``.
        """
        base_seed = params.seed
        total = 1 if params.greedy else params.n
        jobs: list[tuple[int, int, int]] = []  # (payload index, first sample, count)
        for i in range(len(payloads)):
            for first in range(0, total, MAX_N_PER_REQUEST):
                jobs.append((i, first, min(MAX_N_PER_REQUEST, total - first)))
        out: list[list[Completion]] = [[] for _ in payloads]
        if not jobs:
            return out
        with ThreadPoolExecutor(
            min(len(jobs), self.concurrency), thread_name_prefix="codeduel-openai"
        ) as pool:
            # On the first failure, queued requests are cancelled; the pool still waits for
            # those in flight, which end within their timeout and retry budget.
            futures = [
                pool.submit(
                    self._samples,
                    kind,
                    payloads[i],
                    params,
                    count,
                    None if base_seed is None else base_seed + first,
                )
                for i, first, count in jobs
            ]
            try:
                for (i, _, _), future in zip(jobs, futures, strict=True):
                    out[i].extend(future.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        if params.greedy and params.n > 1:
            out = [row * params.n for row in out]
        return out

    # -- primitives --------------------------------------------------------------------------

    def generate(self, prompts: Sequence[Prompt], params: GenParams) -> list[list[Completion]]:
        """Complete each prompt ``params.n`` times through ``/completions``."""
        return self._run("completion", list(prompts), params)

    def chat(
        self, conversations: Sequence[Sequence[Message]], params: GenParams
    ) -> list[list[Completion]]:
        """Answer each conversation through ``/chat/completions`` (the server's chat template)."""
        return self._run("chat", [list(c) for c in conversations], params)

    def loglikelihood(self, texts: Sequence[str]) -> list[TokenLogprobs]:
        """Prompt log-probs via ``echo`` + ``logprobs`` on ``/completions``, where served.

        Token ids come from servers that report tokens as ``token_id:N`` (vLLM's
        ``return_tokens_as_token_ids``); a server that ignores ``echo`` (llama.cpp) or reports
        only token strings gets the one-line "not supported" error.
        """
        with ThreadPoolExecutor(
            max(1, min(len(texts), self.concurrency)), thread_name_prefix="codeduel-openai"
        ) as pool:
            return list(pool.map(self._loglikelihood_one, texts))

    def _loglikelihood_one(self, text: str) -> TokenLogprobs:
        extra = {} if self.is_openai else {"return_tokens_as_token_ids": True}
        args: dict[str, Any] = {
            "model": self.model,
            "prompt": text,
            "echo": True,
            "logprobs": 0,
            "max_tokens": 1,
            "temperature": 0.0,
        }
        if extra:
            args["extra_body"] = extra
        response = self._with_malformed_retries(
            "log-probs",
            lambda: self._call("log-probs", lambda: self._client.completions.create(**args)),
        )
        n_prompt = int(getattr(response.usage, "prompt_tokens", 0) or 0)
        logprobs = response.choices[0].logprobs if response.choices else None
        tokens = getattr(logprobs, "tokens", None) or []
        values = getattr(logprobs, "token_logprobs", None) or []
        if not n_prompt or len(tokens) < n_prompt or len(values) < n_prompt:
            raise self._no_logprobs()
        ids = []
        for token in tokens[:n_prompt]:
            if not str(token).startswith("token_id:"):
                raise self._no_logprobs()
            ids.append(int(str(token).removeprefix("token_id:")))
        return TokenLogprobs(
            tokens=ids, logprobs=[None if v is None else float(v) for v in values[:n_prompt]]
        )

    def _no_logprobs(self) -> CodeduelError:
        return not_supported(
            BACKEND,
            f"loglikelihood (prompt log-probs with token ids from {self.base_url})",
            "use a server that honours echo with logprobs (vLLM), or the llamacpp/hf backend",
        )

    def _server_root(self) -> str:
        """The server's root URL: llama.cpp and vLLM serve ``/tokenize`` beside ``/v1``."""
        return self.base_url.removesuffix("/v1")

    def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
        """Token ids from the server's ``/tokenize`` route (llama.cpp, vLLM), if it has one."""
        if self._tokenize_route is False or self.is_openai:
            raise self._no_tokenize()
        body = {
            "content": text,  # llama.cpp
            "prompt": text,  # vLLM
            "model": self.model,
            "add_special": add_special,
            "add_special_tokens": add_special,
        }
        url = self._server_root() + "/tokenize"
        try:
            data = self._call("tokenize", lambda: self._client.post(url, cast_to=object, body=body))
        except _NotServed:
            self._tokenize_route = False
            raise self._no_tokenize() from None
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
            self._tokenize_route = False
            raise self._no_tokenize()
        self._tokenize_route = True
        return [int(t) for t in tokens]

    def _no_tokenize(self) -> CodeduelError:
        return not_supported(
            BACKEND,
            f"tokenize (no /tokenize route at {self._server_root()})",
            "use a server with one (llama.cpp, vLLM), or the llamacpp/hf backend",
        )

    def info(self) -> ModelInfo:
        return ModelInfo(
            backend=self.backend,
            spec=self.spec,
            weights_id=self._weights_id,
            context_window=self.context_window,
            engine_version=f"openai-python {self._engine_version} @ {self.base_url}",
        )

    def close(self) -> None:
        """Close the client's connection pool."""
        self._client.close()


def _preset_window(model: str) -> int | None:
    """The context window a preset records for this model name (gpt-3.5-turbo, gpt-4)."""
    from codeduel.models.presets import list_presets

    for preset in list_presets():
        if preset.backend == BACKEND and preset.weights_id == model:
            return preset.context_window
    return None


def load(target: str, **options: Any) -> OpenAIModel:
    """Registry entry point: ``target`` is the model name the server knows."""
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise CodeduelError(
            f"unknown option(s) for the openai backend: {', '.join(unknown)}",
            f"use {', '.join(sorted(_OPTIONS))}",
        )
    return OpenAIModel(target, **options)
