"""The openai backend against a real OpenAI-compatible server: llama.cpp's, on loopback.

The server is llama.cpp's own HTTP server (``xllamacpp.Server`` in a child process) serving the
embedded Qwen2.5-Coder-0.5B GGUF; faults come from a small proxy that forwards to it
(``_openai_proxy.py``). No fake server answers in place of the real one.

Kept short (few tokens, 2 threads, one server at a time generating): llama.cpp collapses when
the CPU is oversubscribed. Never run under pytest-xdist.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _openai_proxy import FaultProxy
from _openai_server import ServerProcess, start_server

from codeduel.errors import CodeduelError
from codeduel.models import GenParams, Message, load_model
from codeduel.models.embedded import ensure_embedded
from codeduel.models.openai import OpenAIModel

pytest.importorskip("openai", reason="the openai backend's optional dependency")

pytestmark = pytest.mark.timeout(300)

PROMPT = "def add(a, b):\n"
SHORT = GenParams(max_new_tokens=6)
ONE = GenParams(max_new_tokens=1)  # requests through the fault proxy stay well inside its timeout


def one_line(err: pytest.ExceptionInfo[CodeduelError]) -> str:
    text = str(err.value)
    assert "\n" not in text and "Traceback" not in text
    return text


@pytest.fixture(scope="module")
def gguf() -> Path:
    return ensure_embedded()


@pytest.fixture(scope="module")
def server(gguf: Path) -> Iterator[ServerProcess]:
    proc = start_server(gguf, "test-" + secrets.token_hex(8), n_threads=2)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def proxy(server: ServerProcess) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(server.root)
    try:
        yield fault_proxy
    finally:
        fault_proxy.close()


@pytest.fixture(scope="module")
def model(server: ServerProcess) -> Iterator[OpenAIModel]:
    loaded = load_model(
        "openai:qwen-coder", base_url=server.base_url, api_key=server.api_key, max_retries=2
    )
    assert isinstance(loaded, OpenAIModel)
    with loaded:
        yield loaded


@pytest.fixture
def proxied(proxy: FaultProxy, server: ServerProcess) -> Iterator[OpenAIModel]:
    """The model through the fault proxy: 2 retries, 8 s per request (one token takes < 3 s)."""
    loaded = load_model(
        "openai:qwen-coder",
        base_url=proxy.base_url,
        api_key=server.api_key,
        max_retries=2,
        timeout=8,
    )
    assert isinstance(loaded, OpenAIModel)
    with loaded:
        yield loaded


# -- the real server -----------------------------------------------------------------------


def test_server_serves_the_openai_routes_and_info(model: OpenAIModel, gguf: Path) -> None:
    info = model.info()
    assert info.backend == "openai"
    assert info.spec == "openai:qwen-coder"
    assert info.weights_id.endswith(gguf.name)  # the name llama.cpp reports for its model
    assert info.context_window == 1024  # from the server's /v1/models meta
    # /v1/completions and /v1/chat/completions answer (each test below uses one of them)
    assert model.generate([PROMPT], GenParams(max_new_tokens=1))[0][0].completion_tokens == 1
    chat = model.chat([[Message(role="user", content="Hi")]], GenParams(max_new_tokens=1))
    assert chat[0][0].completion_tokens == 1


def test_greedy_generate_is_repeatable_with_usage_counts(model: OpenAIModel) -> None:
    first = model.generate([PROMPT], SHORT)[0]
    second = model.generate([PROMPT], SHORT)[0]
    assert len(first) == 1 and first[0].text == second[0].text
    assert "return" in first[0].text
    assert first[0].finish_reason == "length"
    assert first[0].completion_tokens == 6
    assert first[0].prompt_tokens == len(model.tokenize(PROMPT, add_special=True))
    assert first[0].seconds > 0
    ids = model.tokenize(PROMPT)  # token-id prompts go to the server as they are
    assert model.generate([ids], SHORT)[0][0].text == first[0].text


def test_n_samples_are_all_returned(model: OpenAIModel) -> None:
    params = GenParams(max_new_tokens=4, temperature=0.8, top_p=0.95, top_k=40, n=3, seed=1)
    out = model.generate([PROMPT, "def sub(a, b):\n"], params)
    assert [len(row) for row in out] == [3, 3]
    assert all(c.finish_reason in ("length", "stop", "eos") for row in out for c in row)
    assert sum(c.completion_tokens for c in out[0]) <= 12
    greedy = model.generate([PROMPT], GenParams(max_new_tokens=2, n=3))[0]
    assert len(greedy) == 3 and len({c.text for c in greedy}) == 1


def test_stop_sequences_cut_on_the_server_and_past_the_fourth(model: OpenAIModel) -> None:
    server_cut = model.generate([PROMPT], GenParams(max_new_tokens=12, stop=("\n",)))[0][0]
    assert server_cut.finish_reason == "stop" and "\n" not in server_cut.text
    assert "return" in server_cut.text
    # OpenAI takes 4 stops; the 5th ("+") is applied here, after the server's answer.
    stops = ("zzz1", "zzz2", "zzz3", "zzz4", "+")
    client_cut = model.generate([PROMPT], GenParams(max_new_tokens=8, stop=stops))[0][0]
    assert client_cut.finish_reason == "stop" and client_cut.stop_sequence == "+"
    assert client_cut.text.strip() == "return a"


def test_chat_answers_ends_with_eos_and_continues_a_prefill(model: OpenAIModel) -> None:
    ask = [Message(role="user", content="Reply with exactly the word: yes")]
    answer = model.chat([ask], GenParams(max_new_tokens=8))[0][0]
    assert "yes" in answer.text.lower() and answer.finish_reason == "eos"
    prefill = [
        Message(role="user", content="Write a Python function add(a, b)."),
        Message(role="assistant", content="def add(a, b):\n    return"),
    ]
    cont = model.chat([prefill], GenParams(max_new_tokens=3))[0][0]
    assert not cont.text.startswith("def add")  # llama.cpp's echo of the prefill is stripped
    assert "a" in cont.text and cont.completion_tokens == 3


def test_tokenize_uses_the_server_route(model: OpenAIModel) -> None:
    assert model.tokenize("hello world") == [14990, 1879]
    assert model.tokenize("<|im_end|>") == [151645]


def test_loglikelihood_is_not_supported_by_llamacpp_server(model: OpenAIModel) -> None:
    with pytest.raises(CodeduelError, match="not supported by the openai backend") as err:
        model.loglikelihood(["def f(): pass"])
    one_line(err)


def test_prompt_longer_than_the_context_is_one_line(model: OpenAIModel) -> None:
    with pytest.raises(CodeduelError, match="longer than the context window") as err:
        model.generate(["x " * 1500], SHORT)
    one_line(err)


def test_bad_api_key_is_one_line(server: ServerProcess) -> None:
    with pytest.raises(CodeduelError, match="OPENAI_API_KEY") as err:
        load_model("openai:qwen-coder", base_url=server.base_url, api_key="wrong")
    assert "401" in one_line(err)


def test_key_comes_from_the_environment(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    with load_model("openai:qwen-coder") as loaded:
        assert loaded.generate([PROMPT], GenParams(max_new_tokens=1))[0][0].text


def test_unknown_route_is_one_line_404(server: ServerProcess) -> None:
    with (
        load_model(
            "openai:qwen-coder", base_url=server.root + "/nope/v1", api_key=server.api_key
        ) as loaded,
        pytest.raises(CodeduelError, match="404") as err,
    ):
        loaded.generate([PROMPT], SHORT)
    assert "--base-url" in one_line(err)


def test_unreachable_port_is_one_line_and_quick() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}/v1"
    started = time.monotonic()
    with pytest.raises(CodeduelError, match="cannot reach") as err:
        load_model("openai:any", base_url=url)
    assert url in one_line(err) and "--base-url" in str(err.value)
    assert time.monotonic() - started < 15


def test_bad_options_are_one_line() -> None:
    with pytest.raises(CodeduelError, match="unknown option") as err:
        load_model("openai:any", base_url="http://127.0.0.1:9/v1", n_ctx=5)
    one_line(err)


# -- injected faults -----------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["429", "500", "drop", "stall"])
def test_transient_faults_are_retried(
    proxied: OpenAIModel, proxy: FaultProxy, model: OpenAIModel, fault: str
) -> None:
    expected = model.generate([PROMPT], ONE)[0][0].text
    proxy.inject(fault, 2 if fault != "stall" else 1)
    got = proxied.generate([PROMPT], ONE)[0][0]
    assert got.text == expected
    outcomes = [r.rsplit(" ", 1)[1] for r in proxy.requests]
    assert outcomes.count(fault) == (2 if fault != "stall" else 1)
    assert outcomes[-1] == "forward"


@pytest.mark.parametrize(("fault", "message"), [("429", "rate-limited"), ("500", "HTTP 500")])
def test_retry_budget_exhausted_is_one_line(
    proxied: OpenAIModel, proxy: FaultProxy, fault: str, message: str
) -> None:
    proxy.inject(fault, 3)  # 1 try + 2 retries, all failing
    with pytest.raises(CodeduelError, match=message) as err:
        proxied.generate([PROMPT], ONE)
    assert "3 tries" in one_line(err)
    assert len(proxy.requests) == 3


def test_dropped_connections_past_the_budget_are_one_line(
    proxied: OpenAIModel, proxy: FaultProxy
) -> None:
    proxy.inject("drop", 3)
    with pytest.raises(CodeduelError, match="cannot reach") as err:
        proxied.generate([PROMPT], ONE)
    assert proxy.base_url in one_line(err)


def test_fewer_choices_than_n_are_topped_up(proxied: OpenAIModel, proxy: FaultProxy) -> None:
    proxy.inject("fewer", 1)
    params = GenParams(max_new_tokens=1, temperature=0.8, n=3, seed=7)
    out = proxied.generate([PROMPT], params)[0]
    assert len(out) == 3
    outcomes = [r.rsplit(" ", 1)[1] for r in proxy.requests]
    assert outcomes == ["fewer", "forward"]  # the second request asked for the missing 2


def test_server_killed_mid_run_is_one_line_and_nothing_hangs(gguf: Path) -> None:
    doomed = start_server(gguf, "doomed", n_threads=1)
    try:
        loaded = load_model(
            "openai:qwen-coder", base_url=doomed.base_url, api_key="doomed", max_retries=2
        )
        outcome: dict[str, BaseException | None] = {}

        def generate() -> None:
            try:
                loaded.generate([PROMPT] * 4, GenParams(max_new_tokens=200))
                outcome["error"] = None
            except BaseException as exc:
                outcome["error"] = exc

        worker = threading.Thread(target=generate, daemon=True)
        worker.start()
        time.sleep(1.5)  # requests are in flight on the server
        killed_at = time.monotonic()
        doomed.kill()
        worker.join(timeout=30)
        assert not worker.is_alive(), "generate() hung after the server died"
        assert time.monotonic() - killed_at < 30
        error = outcome["error"]
        assert isinstance(error, CodeduelError)
        assert "cannot reach" in str(error) and "\n" not in str(error)
        loaded.close()
    finally:
        doomed.stop()


# -- end to end through the CLI ------------------------------------------------------------


def test_codeduel_run_with_base_url(server: ServerProcess, data_dir: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CODEDUEL_STORE": str(tmp_path / "results.sqlite"),
        "CODEDUEL_DATA_DIR": str(data_dir),
        "OPENAI_API_KEY": server.api_key,
    }
    cmd = [
        sys.executable,
        "-m",
        "codeduel.cli",
        "run",
        "--model",
        "openai:qwen-coder",
        "--base-url",
        server.base_url,
        "--limit",
        "2",
        "--max-new-tokens",
        "24",
        "--json",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["model"] == "openai:qwen-coder"
    assert summary["n_problems"] == 2 and summary["n_samples"] == 2
    assert summary["spec"]["weights_id"].endswith(".gguf")
    assert 0.0 <= summary["pass@1"] <= 1.0
    assert summary["generated_tokens"] > 0


def test_base_url_with_another_backend_is_one_line(data_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "CODEDUEL_DATA_DIR": str(data_dir)}
    cmd = [sys.executable, "-m", "codeduel.cli", "run", "--model", "gguf:/x.gguf"]
    done = subprocess.run(
        [*cmd, "--base-url", "http://127.0.0.1:9/v1", "--limit", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--base-url applies only to openai" in done.stderr
    assert "Traceback" not in done.stderr
