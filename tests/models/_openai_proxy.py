"""A small fault-injecting HTTP proxy in front of the real llama.cpp server.

Why: the openai backend must survive what real servers and networks do (rate limits, 5xx,
stalls, dropped connections, short answers). This proxy forwards every request unchanged to the
real server, except the next ``count`` requests after :meth:`FaultProxy.inject`, which get the
chosen fault instead:

* ``429`` / ``500``: an HTTP error with an OpenAI-style JSON body, server never asked;
* ``stall``: read the request, then send nothing until the client gives up;
* ``drop``: read the request, then close the connection without a byte of answer;
* ``fewer``: forward, then keep only the first choice of the real answer (a server that
  returns fewer than ``n`` choices).

One request per connection (HTTP/1.0 answers), so every request the client makes is counted.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class FaultProxy:
    """Forwards to ``upstream`` (``http://host:port``); see the module docstring for faults."""

    def __init__(self, upstream: str) -> None:
        url = urllib.parse.urlsplit(upstream)
        self.upstream_host = url.hostname or "127.0.0.1"
        self.upstream_port = url.port or 80
        self.lock = threading.Lock()
        self.mode: str | None = None
        self.remaining = 0
        self.requests: list[str] = []  # "METHOD path -> outcome" for every request seen
        self.released = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy._handle(self)

            def do_POST(self) -> None:
                proxy._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.root + "/v1"

    def inject(self, mode: str, count: int) -> None:
        """Answer the next ``count`` requests with fault ``mode``; then forward again."""
        with self.lock:
            self.mode, self.remaining = mode, count
            self.requests.clear()

    def _next_fault(self) -> str | None:
        with self.lock:
            if self.remaining <= 0:
                return None
            self.remaining -= 1
            return self.mode

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        fault = self._next_fault()
        with self.lock:
            self.requests.append(f"{handler.command} {handler.path} -> {fault or 'forward'}")
        if fault in ("429", "500"):
            payload = json.dumps({"error": {"message": f"injected {fault}", "type": "test"}})
            self._answer(handler, int(fault), payload.encode(), "application/json")
        elif fault == "stall":
            self.released.wait(60)  # until the test ends; the client times out long before
            self._drop(handler)
        elif fault == "drop":
            self._drop(handler)
        else:
            status, headers, data = self._forward(handler, body)
            if fault == "fewer" and status == 200:
                answer = json.loads(data)
                answer["choices"] = answer["choices"][:1]
                data = json.dumps(answer).encode()
            self._answer(handler, status, data, headers.get("content-type", "application/json"))

    def _forward(
        self, handler: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=120)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_HEADERS}
            conn.request(handler.command, handler.path, body=body or None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        except OSError:
            return 502, {}, b'{"error": {"message": "upstream unreachable"}}'
        finally:
            conn.close()

    @staticmethod
    def _answer(
        handler: BaseHTTPRequestHandler, status: int, data: bytes, content_type: str
    ) -> None:
        with contextlib.suppress(OSError):  # the client may have given up already
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)

    @staticmethod
    def _drop(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
