"""A misbehaving OpenAI-compatible chat server on 127.0.0.1, for tests and the benchmark: a real HTTP server
(``http.server`` in a thread of the calling process), not a mock, that fails the way real endpoints and
proxies do.

The mode is the first part of the path, so one server serves them all at once (``url(mode)`` is the base URL
to give the service), or ``mode`` sets the one used under ``url()``:

- ``ok``: a chat completion whose JSON content carries every field the service's prompts ask for;
- ``truncated``: a 200 with ``application/json`` cut off in the middle;
- ``html``: a 200 with a ``text/html`` page (a proxy's error page);
- ``empty``: a 200 with an empty body;
- ``reset``: the connection is reset (RST) without an answer;
- ``error``: a 200 carrying ``{"error": {...}}`` and no choices;
- ``hang``: the connection is accepted and never answered (until the server stops).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("ok", "truncated", "html", "empty", "reset", "error", "hang")
BROKEN = ("truncated", "html", "empty", "reset", "error")
# One answer that fits every schema the service asks for (real need, reply parts, rephrasing, FAQ drafts);
# extra fields are ignored by each.
OK_CONTENT = {"real_need": "환불 시점을 알고 싶어요.", "confirm": "환불이 언제 되는지 궁금하신 거죠?",
              "empathy": "기다리시느라 답답하셨겠어요.", "answer": "확인해 드릴게요.", "alternative": "",
              "closing": "더 궁금하신 점 있으세요?", "cited_ids": [], "question": "환불은 언제 되나요?"}


class FakeLLMServer:
    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.requests: Counter[str] = Counter()  # requests received, by mode
        self.stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-llm", daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, mode: str | None = None) -> str:
        """The base URL (``.../v1``) answering in ``mode``, or in ``self.mode`` (which can change) if None."""
        return f"http://127.0.0.1:{self.port}/{mode}/v1" if mode else f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()  # hanging handlers return and close their connections
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler(server: FakeLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet: tests and benchmarks print
            pass

        def do_POST(self) -> None:
            first = self.path.strip("/").split("/", 1)[0]
            mode = first if first in MODES else server.mode
            self.rfile.read(int(self.headers.get("content-length") or 0))
            server.requests[mode] += 1
            if mode == "hang":
                server.stopping.wait()
                self.close_connection = True
                return
            if mode == "reset":  # SO_LINGER 0: close() sends RST instead of FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                return
            body, content_type = _body(mode)
            self.send_response(200)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # /v1/models, for readiness checks
            body = json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _body(mode: str) -> tuple[bytes, str]:
    message = {"role": "assistant", "content": json.dumps(OK_CONTENT, ensure_ascii=False)}
    completion = {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": "fake",
                  "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
                  "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}}
    whole = json.dumps(completion, ensure_ascii=False).encode()
    if mode == "truncated":
        return whole[:len(whole) // 2], "application/json"
    if mode == "html":
        return b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"
    if mode == "empty":
        return b"", "application/json"
    if mode == "error":
        return json.dumps({"error": {"message": "model overloaded", "type": "server_error"}}).encode(), \
            "application/json"
    return whole, "application/json"


@contextmanager
def fake_llm_server(mode: str = "ok") -> Iterator[FakeLLMServer]:
    """A started server, stopped on exit."""
    server = FakeLLMServer(mode)
    server.start()
    try:
        yield server
    finally:
        server.stop()
