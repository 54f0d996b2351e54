"""A real OpenAI-compatible server for the openai backend's tests: llama.cpp's server.

Why a child process: the tests must be able to kill the server mid-run (``SIGKILL``), as a
crashed or restarted server would be. The child runs ``xllamacpp.Server`` (llama.cpp's own
HTTP server, with its ``/v1/completions``, ``/v1/chat/completions``, ``/v1/models`` and
``/tokenize`` routes) on the embedded GGUF, prints the address it listens on and waits for
its stdin to close.

Run as ``python _openai_server.py GGUF API_KEY N_THREADS``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ServerProcess:
    """A running llama.cpp server child and the OpenAI base URL it serves."""

    process: subprocess.Popen[str]
    root: str
    api_key: str

    @property
    def base_url(self) -> str:
        return self.root + "/v1"

    def kill(self) -> None:
        """Kill it the hard way (no shutdown handshake), as a crash would."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """Close its stdin so it exits, killing it if it does not within a few seconds."""
        if self.process.poll() is None:
            try:
                if self.process.stdin:
                    self.process.stdin.close()
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


def start_server(
    gguf: Path, api_key: str, *, n_threads: int = 2, timeout: float = 120.0
) -> ServerProcess:
    """Start the server child and wait until it prints its address."""
    process = subprocess.Popen(
        [sys.executable, __file__, str(gguf), api_key, str(n_threads)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("LISTENING "):
            return ServerProcess(process, line.split()[1].rstrip("/"), api_key)
        if not line and process.poll() is not None:
            break
    process.kill()
    raise RuntimeError(f"llama.cpp server did not start (exit code {process.poll()})")


def _serve(gguf: str, api_key: str, n_threads: int) -> None:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = gguf
    params.n_ctx = 1024
    params.n_parallel = 4
    params.kv_unified = True
    params.warmup = False
    params.cpuparams.n_threads = n_threads
    params.cpuparams_batch.n_threads = n_threads
    params.n_threads_http = 8
    params.cache_ram_mib = 0
    params.verbosity = -1
    params.api_keys = [api_key]
    server = xllamacpp.Server(params)
    print("LISTENING", server.listening_address, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    os._exit(0)  # skip native teardown: the parent only needs us gone


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], int(sys.argv[3]))
