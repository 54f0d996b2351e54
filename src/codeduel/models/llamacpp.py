"""GGUF models in-process through llama.cpp, via the ``xllamacpp`` binary wheel.

Why xllamacpp and not llama-cpp-python: llama-cpp-python ships only an sdist for Linux, so every
fresh machine compiles llama.cpp (16.5 min on 2 cores, measured); xllamacpp is a 34 MB binary
wheel that installs in seconds. Its CPU build is 5-30 % slower per stream than a native build,
but it embeds llama.cpp's server with continuous batching, which gives exactly what pass@k needs:
the ``n`` samples of one prompt share one prompt evaluation (``n_cmpl``) and decode in parallel
slots.

How it is driven: ``xllamacpp.Server`` runs llama.cpp's server inside this process and also
listens on a random 127.0.0.1 port. Its in-process Python entry points speak only the OpenAI
dialect, which drops per-sample token counts and stop reasons when ``n > 1``, so requests go to
the same in-process server through its loopback HTTP routes (``/completion``, ``/tokenize``,
``/apply-template``), which return them. Nothing leaves the machine, and the listener requires a
random per-process API key.

Log-likelihood: llama.cpp's server refuses ``echo`` and has no prompt log-probs, so
:meth:`LlamaCppModel.loglikelihood` forces the text's own tokens with a token-level grammar and
reads each forced token's raw log-prob (see its docstring). It runs at decode speed, several
times slower than a prompt pass would be.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import secrets
import signal
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeduel.errors import CodeduelError
from codeduel.machine import CpuMeter, usable_cpus
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
    from codeduel.models.spec import ModelSpec

DEFAULT_MAX_CTX = 8192
_VOCAB_SPM = 1  # llama.cpp's LLAMA_VOCAB_TYPE_SPM (SentencePiece, implicit leading space)
_FINISH: dict[str, FinishReason] = {"eos": "eos", "word": "stop", "limit": "length"}
# Neutral values for every llama.cpp sampler we do not use: its server defaults (top-k 40,
# min-p 0.05, ...) would silently change the paper's decoding protocol.
_NEUTRAL_SAMPLING: dict[str, Any] = {
    "min_p": 0.0,
    "typical_p": 1.0,
    "repeat_penalty": 1.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "dry_multiplier": 0.0,
    "xtc_probability": 0.0,
    "top_n_sigma": -1.0,
    "mirostat": 0,
}


_GGUF_SCALARS: dict[int, str] = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}


def gguf_context_length(path: Path) -> int | None:
    """``{arch}.context_length`` from a GGUF header, read without loading the model.

    Why: the default context window must come from the file (a model trained on 2K tokens must
    not get 8K) before llama.cpp allocates its KV cache. Returns None when the key is absent;
    raises a one-line error when the file is not GGUF at all.
    """
    with path.open("rb") as f:

        def take(fmt: str) -> Any:
            size = struct.calcsize(fmt)
            return struct.unpack(fmt, f.read(size))[0]

        def text() -> str:
            return f.read(take("<Q")).decode("utf-8", "replace")

        def skip(kind: int) -> None:
            if kind in _GGUF_SCALARS:
                f.seek(struct.calcsize(_GGUF_SCALARS[kind]), 1)
            elif kind == 8:
                f.seek(take("<Q"), 1)
            elif kind == 9:
                item, count = take("<I"), take("<Q")
                if item in _GGUF_SCALARS:
                    f.seek(struct.calcsize(_GGUF_SCALARS[item]) * count, 1)
                else:
                    for _ in range(count):
                        skip(item)
            else:
                raise ValueError(f"unknown GGUF value type {kind}")

        try:
            if f.read(4) != b"GGUF":
                raise ValueError("bad magic")
            take("<I")  # version
            take("<Q")  # tensor count
            arch = None
            for _ in range(take("<Q")):
                key, kind = text(), take("<I")
                if key == "general.architecture" and kind == 8:
                    arch = text()
                elif arch and key == f"{arch}.context_length" and kind in _GGUF_SCALARS:
                    return int(take(_GGUF_SCALARS[kind]))
                else:
                    skip(kind)
        except (ValueError, struct.error):
            raise CodeduelError(
                f"{path} is not a valid GGUF file", "check the path, or download the file again"
            ) from None
    return None


USAGE_KEYS = ("prompt_n", "prompt_ms", "predicted_n", "predicted_ms", "draft_n", "draft_n_accepted")
#: Seconds between two looks at the machine's load (``n_threads=None``).
RETUNE_EVERY_S = 5.0


def free_cores(usable: int, others: float) -> int:
    """Threads to run when other processes keep ``others`` cores busy: the cores left, at least
    one. Rounded, so the judge's short bursts (a fraction of a core) do not cost a thread."""
    return max(1, min(usable, usable - int(others + 0.5)))


def _ngram_drafts(xllamacpp: Any, params: Any) -> None:
    """Prompt-lookup drafts: up to 16 tokens that followed the last earlier occurrence of the
    current 4-token n-gram (in the prompt or the text so far), checked by the model in one batch.

    Greedy text is the model's own argmax either way, but the batched check rounds differently
    from one-token decoding, so a near-tie can flip (HumanEval, 0.5B, chat without pre-fill:
    1.49x faster, 19 of 20 texts identical, verdicts identical). It pays only where the answer
    copies its prompt; with the signature pre-filled 57 of 343 drafts were kept: 1.01x.
    """
    kind = xllamacpp.common_speculative_type.COMMON_SPECULATIVE_TYPE_NGRAM_SIMPLE
    params.speculative.types = [kind]
    params.speculative.ngram_simple.size_n = 4
    params.speculative.ngram_simple.size_m = 16
    params.speculative.draft.n_max = 16


#: Speculative decoding a model may be loaded with (``speculative=NAME``).
SPECULATIVE: dict[str, Callable[[Any, Any], None]] = {"ngram": _ngram_drafts}


def check_speculative(name: str, spec: ModelSpec) -> None:
    """Fail in one line, before any load, on a speculative decoding this model cannot take."""
    if name not in SPECULATIVE:
        raise CodeduelError(
            f"unknown --speculative {name!r}", f"use one of: {', '.join(SPECULATIVE)}"
        )
    if not spec.in_process_cpu:
        raise CodeduelError(
            f"--speculative applies to llama.cpp models in this process, not {spec.prefix}:",
            "use a gguf: or embedded model, or drop --speculative",
        )


def default_threads() -> int:
    """Cores this process may use: llama.cpp collapses when threads exceed free cores."""
    return usable_cpus()


def _import_xllamacpp() -> Any:
    try:
        import xllamacpp
    except ImportError:
        raise CodeduelError(
            "the llamacpp backend needs the xllamacpp package",
            "run: pip install 'codeduel[llamacpp]'",
        ) from None
    return xllamacpp


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while llama.cpp's server starts: a signal landing in its start-up
    waits (EINTR) left the constructor blocked forever, so `codeduel sweep` never exited on
    SIGTERM. Held signals are delivered the moment it returns; the server's threads, created
    meanwhile, inherit the mask and never take them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


class LlamaCppModel(Model):
    """A GGUF file served by an in-process llama.cpp server.

    ``n_ctx`` is the context window this model gets (shared by all slots: ``kv_unified``, so one
    long prompt can use all of it); by default the GGUF's training context, capped at
    ``DEFAULT_MAX_CTX`` to keep the KV cache small (pass more for long-context tasks).
    ``n_parallel`` is how many sequences decode together, which also bounds how many samples
    share one prompt evaluation.

    ``n_threads``: None (the default) fits the thread count to the cores other processes leave
    free, looked at on load and again between calls every ``retune_every_s`` seconds (see
    :class:`~codeduel.machine.CpuMeter`); a number fixes it; neither changes the text.
    ``prefix_reuse``: a request starts from the KV cache of the longest prefix it shares with the
    slot's previous text (~13 % faster on HumanEval). The rest of the prompt is then evaluated in
    a batch of another size, which rounds differently, so a problem's text can depend on the
    problem before it (2 of 20 HumanEval answers changed). Off makes the text depend on the
    prompt alone, but it stays on by default: with it off, xllamacpp's server shutdown hung after
    a SIGTERM mid-run (2 of 3 tries of `codeduel sweep`), an engine bug not yet worked around.
    ``speculative``: a name in :data:`SPECULATIVE`, off by default (see there what it changes).
    ``flash_attention``: llama.cpp's (auto) flash attention, a few % faster on 2 cores, but then the
    text depends on the thread count, so it is off by default and, when on, the thread count
    stays as loaded (all usable cores unless ``n_threads`` says otherwise).
    """

    backend = "llamacpp"

    def __init__(
        self,
        path: str | Path,
        *,
        n_ctx: int | None = None,
        n_parallel: int = 8,
        n_threads: int | None = None,
        quiet: bool = True,
        spec: str | None = None,
        weights_id: str | None = None,
        sha256: str | None = None,
        speculative: str | None = None,
        prefix_reuse: bool = True,
        retune_every_s: float = RETUNE_EVERY_S,
        flash_attention: bool = False,
    ) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise CodeduelError(
                f"GGUF file not found: {self.path}", "check the path after gguf: (or pick a preset)"
            )
        train_ctx = gguf_context_length(self.path)
        if n_ctx is None:
            n_ctx = min(train_ctx or DEFAULT_MAX_CTX, DEFAULT_MAX_CTX)
        xllamacpp = _import_xllamacpp()
        if speculative is not None and speculative not in SPECULATIVE:
            raise CodeduelError(
                f"unknown speculative decoding {speculative!r}",
                f"use one of: {', '.join(SPECULATIVE)} (or none)",
            )
        self._usable = default_threads()
        adaptive = n_threads is None and not flash_attention
        self._meter = CpuMeter() if adaptive else None
        self.retune_every_s = retune_every_s
        if self._meter is not None:
            time.sleep(0.2)  # one short look at what else is running before choosing threads
            others = self._meter.others()
            threads = self._usable if others is None else free_cores(self._usable, others)
        else:
            threads = n_threads or self._usable
        params = xllamacpp.CommonParams()
        params.model.path = str(self.path)
        params.n_ctx = n_ctx
        params.n_parallel = n_parallel
        params.kv_unified = True
        params.warmup = False
        # llama.cpp's CPU flash attention splits a decoded token's attention sum across the
        # threads, so the text depends on the thread count (HumanEval/0 changed at its 9th
        # token between 1 and 2 threads); without it the text is the same for any count (and
        # on any machine with the same kernels), at a few per cent of speed on 2 cores.
        kinds = xllamacpp.llama_flash_attn_type
        params.flash_attn_type = (
            kinds.LLAMA_FLASH_ATTN_TYPE_AUTO
            if flash_attention
            else kinds.LLAMA_FLASH_ATTN_TYPE_DISABLED
        )
        self.flash_attention = flash_attention
        params.n_threads_http = n_parallel + 2
        params.cache_ram_mib = 0  # no prompt cache in RAM beyond each slot's own KV
        params.verbosity = -1 if quiet else 3
        if speculative is not None:
            SPECULATIVE[speculative](xllamacpp, params)
        self.speculative = speculative
        #: llama.cpp's own counters summed over every completion since load: prompt tokens
        #: evaluated (``prompt_n``) and their milliseconds, tokens decoded (``predicted_n``) and
        #: theirs, speculative draft tokens proposed (``draft_n``) and kept
        self.usage: dict[str, float] = dict.fromkeys(USAGE_KEYS, 0.0)
        self.prefix_reuse = prefix_reuse
        # The server also listens on 127.0.0.1; a per-process random key keeps other local
        # users from using (or reading prompts through) it.
        self._api_key = secrets.token_urlsafe(24)
        params.api_keys = [self._api_key]
        self._params = params
        self._lock = threading.Lock()
        self._in_flight = 0
        self.threads = 0
        #: (seconds since load, threads) each time the thread count was set
        self.thread_changes: list[tuple[float, int]] = []
        self._loaded_at = time.monotonic()
        self._server: Any = None
        self._start(threads)
        self.n_parallel = n_parallel
        self.spec = spec or f"gguf:{self.path}"
        self._weights_id = weights_id or self.path.name
        self._sha256 = sha256
        self._engine_version = str(getattr(xllamacpp, "__version__", "unknown"))
        props = self._get("/props")
        meta = self._get("/v1/models")["data"][0].get("meta", {})
        self.context_window = int(meta.get("n_ctx") or n_ctx)
        self.train_context_window = meta.get("n_ctx_train") or train_ctx
        self.n_params = meta.get("n_params")
        self.vocab_type = int(meta.get("vocab_type", 0))
        self.chat_template: str | None = props.get("chat_template") or None
        self.bos_token: str = props.get("bos_token") or ""
        self._adds_bos = len(self.tokenize("a", add_special=True)) > len(self.tokenize("a"))

    # -- threads -----------------------------------------------------------------------------

    def _start(self, threads: int) -> None:
        """(Re)start the in-process server with ``threads`` CPU threads; the weights are
        memory-mapped, so a restart re-reads nothing from disk (about a second)."""
        self._params.cpuparams.n_threads = threads
        self._params.cpuparams_batch.n_threads = threads
        xllamacpp = _import_xllamacpp()
        try:
            # Both the old server's shutdown and the new one's start wait on threads: a signal
            # landing there blocked forever (SIGTERM during a retune hung `codeduel sweep`).
            with _signals_held():
                self._server = None  # stop the old server first: its threads must not compete
                server = xllamacpp.Server(self._params)
        except (RuntimeError, ValueError):
            raise CodeduelError(
                f"llama.cpp could not load {self.path}",
                "check that it is a complete GGUF file (quiet=False shows llama.cpp's log)",
            ) from None
        url = urllib.parse.urlsplit(server.listening_address)
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port or 80
        self._server = server
        self.threads = threads
        self.thread_changes.append((round(time.monotonic() - self._loaded_at, 3), threads))

    def _retune(self) -> None:
        """Fit the thread count to the cores other processes left free since the last look.

        Only with ``n_threads=None`` (and flash attention off), at most every
        ``retune_every_s`` seconds, and only between calls (never under a request in flight).
        With flash attention off the thread count does not change the text: each output value
        is one thread's dot product, whatever the count (``tests/models/test_llamacpp_threads.py``
        checks it on HumanEval/0).
        """
        meter = self._meter
        if meter is None or meter.elapsed() < self.retune_every_s:
            return
        with self._lock:
            if self._in_flight or self._meter is None:  # busy, or closed meanwhile
                return
            others = meter.others()
            if others is None:
                return
            target = free_cores(self._usable, others)
            if target != self.threads:
                self._start(target)

    @contextlib.contextmanager
    def _call(self) -> Iterator[None]:
        """One public call: retune first, then count it as in flight."""
        self._retune()
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    # -- transport ---------------------------------------------------------------------------

    def _request(self, method: str, route: str, body: dict[str, Any] | None = None) -> Any:
        """One loopback HTTP exchange with the in-process server (a fresh connection each)."""
        if self._server is None:
            raise CodeduelError("this model was closed", "load it again with load_model()")
        payload = None if body is None else json.dumps(body).encode()
        conn = http.client.HTTPConnection(self._host, self._port, timeout=None)
        try:
            headers = {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self._api_key}",
            }
            conn.request(method, route, body=payload, headers=headers)
            response = conn.getresponse()
            data = json.loads(response.read() or b"null")
        except (http.client.HTTPException, OSError):
            raise CodeduelError(
                "lost the connection to the in-process llama.cpp server",
                "rerun; if it repeats, load the model with quiet=False to see its log",
            ) from None
        finally:
            conn.close()
        if response.status >= 400:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            if error.get("type") == "exceed_context_size_error":
                raise CodeduelError(
                    f"prompt has {error.get('n_prompt_tokens')} tokens, more than the "
                    f"{error.get('n_ctx')}-token context window of {self._weights_id}",
                    "shorten the prompt or load the model with a larger n_ctx",
                )
            raise CodeduelError(
                f"llama.cpp rejected the request: {error.get('message', response.reason)}",
                "check the generation parameters",
            )
        return data

    def _get(self, route: str) -> Any:
        return self._request("GET", route)

    def _post(self, route: str, body: dict[str, Any]) -> Any:
        return self._request("POST", route, body)

    # -- primitives --------------------------------------------------------------------------

    def tokenize(
        self, text: str, *, add_special: bool = False, parse_special: bool = True
    ) -> list[int]:
        """Token ids with the GGUF's tokenizer; special-token text such as ``<|fim_prefix|>``
        becomes the special token (as in a prompt) unless ``parse_special`` is off."""
        out = self._post(
            "/tokenize",
            {"content": text, "add_special": add_special, "parse_special": parse_special},
        )
        return [int(t) for t in out["tokens"]]

    def detokenize(self, tokens: Sequence[int]) -> str:
        """Text of token ids (for tests and token-level prompt building)."""
        return str(self._post("/detokenize", {"tokens": list(tokens)})["content"])

    exact_segments = True

    def encode_segments(self, segments: Sequence[Segment]) -> list[int]:
        """Token ids of a FIM layout from ``formats`` (the token-exact way to prompt infilling).

        Sentinels must be single tokens of this vocabulary. For SentencePiece vocabularies
        (Code Llama) a ``Text`` without ``implicit_space`` is encoded as the reference's
        ``encode_infilling`` does: encode ``"☺" + text`` and drop the marker's tokens, which
        removes the dummy leading space. Byte-level BPE vocabularies (Qwen, StarCoder,
        DeepSeek) add no space, so their text is encoded as is. Only the BPE path is tested
        here (no Code Llama GGUF is at hand offline).
        """
        ids: list[int] = []
        for seg in segments:
            if isinstance(seg, Special):
                token = self.tokenize(seg.token)
                if len(token) != 1:
                    raise CodeduelError(
                        f"{seg.token!r} is not a single token of {self._weights_id}",
                        "use the infilling format of this model's family (see its preset)",
                    )
                ids += token
            elif seg.implicit_space or self.vocab_type != _VOCAB_SPM:
                ids += self.tokenize(seg.text, parse_special=False)
            else:
                marker = len(self.tokenize("\u263a", parse_special=False))
                ids += self.tokenize("\u263a" + seg.text, parse_special=False)[marker:]
        return ids

    def _sampling(self, params: GenParams) -> dict[str, Any]:
        if params.greedy:
            # top-k 1 as the last sampler makes llama.cpp use its argmax sampler.
            return {**_NEUTRAL_SAMPLING, "samplers": ["top_k"], "top_k": 1, "temperature": 0.0}
        return {
            **_NEUTRAL_SAMPLING,
            "samplers": ["temperature", "top_k", "top_p"],
            "temperature": params.temperature,
            "top_k": params.top_k or 0,
            "top_p": params.top_p,
        }

    def _check_length(self, prompt: Prompt) -> None:
        if isinstance(prompt, str):
            n_tokens = len(self.tokenize(prompt, add_special=True))
        else:
            n_tokens = len(prompt)
        if n_tokens >= self.context_window:
            raise CodeduelError(
                f"prompt has {n_tokens} tokens, more than the {self.context_window}-token context "
                f"window of {self._weights_id}",
                "shorten the prompt or load the model with a larger n_ctx",
            )

    def _complete(self, prompt: Prompt, params: GenParams, n: int, seed: int) -> list[Completion]:
        body: dict[str, Any] = {
            "prompt": prompt if isinstance(prompt, str) else [int(t) for t in prompt],
            "n_predict": params.max_new_tokens,
            "stop": list(params.stop),
            "n_cmpl": n,
            "seed": seed,
            "cache_prompt": self.prefix_reuse,
            **self._sampling(params),
        }
        start = time.perf_counter()
        data = self._post("/completion", body)
        seconds = time.perf_counter() - start
        results = data if isinstance(data, list) else [data]
        results.sort(key=lambda r: int(r.get("index", 0)))
        completions = []
        for r in results:
            timings = r.get("timings") or {}
            with self._lock:
                for key in self.usage:
                    self.usage[key] += float(timings.get(key, 0))
            word = r.get("stopping_word") or None
            completions.append(
                Completion(
                    text=r["content"],
                    finish_reason=_FINISH.get(r.get("stop_type", ""), "length"),
                    stop_sequence=word if r.get("stop_type") == "word" else None,
                    prompt_tokens=int(r.get("tokens_evaluated", 0)),
                    completion_tokens=int(r.get("tokens_predicted", 0)),
                    seconds=seconds,
                )
            )
        return completions

    def generate(self, prompts: Sequence[Prompt], params: GenParams) -> list[list[Completion]]:
        """Complete every prompt ``params.n`` times.

        Samples of one prompt go in requests of up to ``n_parallel`` completions that share one
        prompt evaluation; sample ``j`` is seeded with ``seed + j``, so a seeded run is
        reproducible however it is chunked. Greedy decoding runs once and is repeated ``n`` times.
        """
        with self._call():
            return self._generate(prompts, params)

    def _generate(self, prompts: Sequence[Prompt], params: GenParams) -> list[list[Completion]]:
        for prompt in prompts:
            self._check_length(prompt)
        base_seed = params.seed
        if base_seed is None:
            base_seed = random.SystemRandom().randrange(2**31)
        jobs: list[tuple[int, int, int]] = []  # (prompt index, first sample, count)
        for i in range(len(prompts)):
            total = 1 if params.greedy else params.n
            for first in range(0, total, self.n_parallel):
                jobs.append((i, first, min(self.n_parallel, total - first)))
        out: list[list[Completion]] = [[] for _ in prompts]
        workers = max(1, min(len(jobs), self.n_parallel))
        with ThreadPoolExecutor(workers, thread_name_prefix="codeduel-llamacpp") as pool:
            futures = [
                pool.submit(self._complete, prompts[i], params, count, base_seed + first)
                for i, first, count in jobs
            ]
            for (i, _, _), future in zip(jobs, futures, strict=True):
                out[i].extend(future.result())
        if params.greedy and params.n > 1:
            out = [row * params.n for row in out]
        return out

    def render_chat(self, conversation: Sequence[Message]) -> str:
        """The prompt text the GGUF's own chat template makes of a conversation.

        A final assistant message is left open so the model continues it (prefill).
        """
        if not self.chat_template:
            raise CodeduelError(
                f"{self._weights_id} has no chat template",
                "use generate() with a completion prompt, or a chat/instruct model",
            )
        messages = [m.model_dump() for m in conversation]
        rendered = str(self._post("/apply-template", {"messages": messages})["prompt"])
        if self._adds_bos and self.bos_token and rendered.startswith(self.bos_token):
            rendered = rendered[len(self.bos_token) :]  # the tokenizer adds BOS itself
        return rendered

    def chat(
        self, conversations: Sequence[Sequence[Message]], params: GenParams
    ) -> list[list[Completion]]:
        """Render each conversation with the GGUF's chat template, then complete it."""
        return self.generate([self.render_chat(c) for c in conversations], params)

    def loglikelihood(self, texts: Sequence[str]) -> list[TokenLogprobs]:
        """Teacher-forced per-token log-probs of each text, one request per text.

        llama.cpp's server has no prompt log-probs (it refuses ``echo``), so the text's own
        tokens are *generated* under a token-level grammar (``<[id]>`` terminals) that allows
        exactly them, and the server reports each chosen token's log-prob from the raw logits
        (``post_sampling_probs`` off), i.e. log p(token | preceding text). Special-token text in
        ``texts`` is treated as plain characters. Costs decode speed, not prompt speed.
        """
        with (
            self._call(),
            ThreadPoolExecutor(
                max(1, min(len(texts), self.n_parallel)), thread_name_prefix="codeduel-llamacpp"
            ) as pool,
        ):
            return list(pool.map(self._loglikelihood_one, texts))

    def _loglikelihood_one(self, text: str) -> TokenLogprobs:
        tokens = self.tokenize(text, parse_special=False)
        context = self.tokenize("", add_special=True)  # [BOS] for models that use one
        if not context:
            context, targets = tokens[:1], tokens[1:]
            first: list[float | None] = [None] if tokens else []
        else:
            targets, first = tokens, []
        if len(context) + len(targets) >= self.context_window:
            raise CodeduelError(
                f"text has {len(context) + len(targets)} tokens, more than the "
                f"{self.context_window}-token context window of {self._weights_id}",
                "score it in windows, or load the model with a larger n_ctx",
            )
        if not targets:
            return TokenLogprobs(tokens=tokens, logprobs=first)
        body = {
            "prompt": context,
            "n_predict": len(targets),
            "grammar": "root ::= " + " ".join(f"<[{t}]>" for t in targets),
            "n_probs": 1,
            "post_sampling_probs": False,
            "cache_prompt": False,
            "return_tokens": True,
            **self._sampling(GenParams()),
        }
        data = self._post("/completion", body)
        got = [int(t) for t in data.get("tokens", [])]
        probs = data.get("completion_probabilities", [])
        if got != targets or len(probs) != len(targets):
            raise CodeduelError(
                "llama.cpp did not follow the forced tokens while scoring a text",
                "report this with the text; use the hf backend for perplexity meanwhile",
            )
        return TokenLogprobs(tokens=tokens, logprobs=first + [float(p["logprob"]) for p in probs])

    def info(self) -> ModelInfo:
        return ModelInfo(
            backend=self.backend,
            spec=self.spec,
            weights_id=self._weights_id,
            sha256=self._sha256,
            context_window=self.context_window,
            train_context_window=self.train_context_window,
            n_params=self.n_params,
            engine_version=f"xllamacpp {self._engine_version}",
            chat_template=self.chat_template,
        )

    def close(self) -> None:
        """Stop the in-process server and free the weights and KV cache."""
        self._meter = None  # a closed model is never restarted by a retune
        self._server = None


def load(target: str, **options: Any) -> LlamaCppModel:
    """Registry entry point: ``target`` is a GGUF path or ``embedded:NAME``."""
    from codeduel.models import embedded

    if target.startswith("embedded:") or target in embedded.EMBEDDED:
        name = target.removeprefix("embedded:") or embedded.DEFAULT_EMBEDDED
        cache_dir = options.pop("cache_dir", None)
        path = embedded.ensure_embedded(name, cache_dir)
        options.setdefault("spec", f"embedded:{name}")
        options.setdefault("weights_id", name)
        options.setdefault("sha256", embedded.EMBEDDED[name].sha256)
        return LlamaCppModel(path, **options)
    return LlamaCppModel(target, **options)
