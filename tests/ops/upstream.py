"""Real upstream failure modes on one loopback port, for the outage tests: nothing listening
(connection refused), a black hole (connections are accepted by the kernel, nothing ever answers),
and a real HTTP server whose answers (recorded JSON, or an error status) can be switched."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

# (method, path with query, Range header or None) -> (status, body, content type[, extra headers])
Answer = tuple[int, bytes, str] | tuple[int, bytes, str, dict[str, str]]
Responder = Callable[[str, str, str | None], Answer]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def black_hole(port: int) -> Iterator[None]:
    """Listen on `port` and never accept: clients connect, send, and wait for an answer forever."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    try:
        yield
    finally:
        sock.close()


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (the hub cut a request off) is expected here, not an error."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class HttpUpstream:
    """A real HTTP server on `port` answering through `responder`, swappable while it runs."""

    def __init__(self, port: int, responder: Responder) -> None:
        self.port = port
        self.responder = responder
        self.requests: list[str] = []
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpUpstream:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._answer("GET")

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer("HEAD")

            def _answer(self, method: str) -> None:
                upstream.requests.append(self.path)
                status, body, content_type, *extra = upstream.responder(method, self.path, self.headers.get("Range"))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, value)
                self.send_header("Connection", "close")  # no kept-alive connection outlives stop()
                self.end_headers()
                if method == "GET":
                    self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = _Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def status_answer(status: int) -> Responder:
    """Every request answered with `status` and a short JSON error body (an upstream in trouble)."""
    body = b'{"error": "upstream in trouble"}'
    return lambda _method, _path, _range: (status, body, "application/json")


def files_answer(root: Path, gate: threading.Event | None = None, gated: str = "/c/") -> Responder:
    """Static files below `root` with single byte ranges (what obstore's HTTP store sends); requests
    whose path contains `gated` wait until `gate` is set - an upstream that is slow on demand."""

    def respond(_method: str, path: str, byte_range: str | None) -> Answer:
        rel = unquote(urlsplit(path).path).lstrip("/")
        if gate is not None and gated in path:
            gate.wait()
        file = (root / rel).resolve()
        if root.resolve() not in file.parents or not file.is_file():
            return 404, b"", "text/plain"
        data = file.read_bytes()
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", byte_range or "")
        if not m:
            return 200, data, "application/octet-stream"
        if m[1]:
            start, end = int(m[1]), (int(m[2]) if m[2] else len(data) - 1)
        else:
            start, end = max(0, len(data) - int(m[2])), len(data) - 1
        end = min(end, len(data) - 1)
        return 206, data[start:end + 1], "application/octet-stream", {"Content-Range": f"bytes {start}-{end}/{len(data)}"}

    return respond


@contextmanager
def answering(port: int, responder: Responder) -> Iterator[HttpUpstream]:
    upstream = HttpUpstream(port, responder).start()
    try:
        yield upstream
    finally:
        upstream.stop()
