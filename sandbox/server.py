"""HTTP plumbing: a threading HTTP/1.1 server, request counters and fault application.

Requests under `/v2` are counted by route template, delayed, possibly faulted, and answered by
`Api`; requests under `/_sandbox/` go to the admin endpoints, which no fault ever touches.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import Counter
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from sandbox.faults import Verdict
from sandbox.model import ApiError
from sandbox.routes import Reply

if TYPE_CHECKING:
    from sandbox.app import Sandbox

logger = logging.getLogger(__name__)

UNKNOWN_ROUTE = "<unknown>"
_FAULT_CODES = {429: "RATE_LIMITED", 500: "INTERNAL_ERROR", 502: "BAD_GATEWAY"}


class Counters:
    """Thread-safe counts of `/v2` requests, in total and by (method, route template)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_route: Counter[tuple[str, str]] = Counter()

    def count(self, method: str, template: str) -> None:
        """Count one request."""
        with self._lock:
            self._by_route[(method, template)] += 1

    def total(self) -> int:
        """Return the number of requests counted since the last reset."""
        with self._lock:
            return sum(self._by_route.values())

    def by_route(self) -> dict[tuple[str, str], int]:
        """Return a copy of the counts by (method, route template)."""
        with self._lock:
            return dict(self._by_route)

    def reset(self) -> None:
        """Set every count back to zero."""
        with self._lock:
            self._by_route.clear()


class SandboxServer(ThreadingHTTPServer):
    """A threading server that remembers its open connections so `stop` can cut them."""

    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, Handler)

    def track(self, connection: socket.socket, is_open: bool) -> None:
        """Remember or forget one client connection."""
        with self._open_lock:
            if is_open:
                self._open.add(connection)
            else:
                self._open.discard(connection)

    def close_connections(self) -> None:
        """Shut down every open client connection, so kept-alive clients see the stop."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            _shutdown(connection)


def _shutdown(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class Handler(BaseHTTPRequestHandler):
    """Handle one connection: HTTP/1.1 keep-alive, one JSON answer per request."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: SandboxServer

    def setup(self) -> None:
        """Register the connection with the server."""
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        """Forget the connection."""
        self.server.track(self.connection, False)
        super().finish()

    def do_GET(self) -> None:
        """Serve GET."""
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Log the access line at DEBUG instead of writing to stderr."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s", self.address_string(), format % args)

    def _dispatch(self) -> None:
        path, _, query_string = self.path.partition("?")
        body = self._read_body()
        if body is None:
            return
        if path.startswith("/_sandbox/"):
            reply = self.server.sandbox.admin.handle(self.command, path, query_string, body)
            self._send(reply)
        elif path == "/v2" or path.startswith("/v2/"):
            self._serve_api(path, query_string, body)
        else:
            self._send(_error(404, "NOT_FOUND", "No such route"))

    def _serve_api(self, path: str, query_string: str, body: bytes) -> None:
        sandbox = self.server.sandbox
        segments = [unquote(part) for part in path[len("/v2/") :].split("/")]
        route, params = sandbox.api.resolve(segments)
        sandbox.counters.count(self.command, route.template if route else UNKNOWN_ROUTE)
        latency_ms = sandbox.faults.settings.latency_ms
        if latency_ms > 0:
            time.sleep(latency_ms / 1000)
        verdict = sandbox.faults.decide(self.command, path)
        if verdict.drop:
            self._drop()
        elif verdict.status is not None:
            self._send(_fault_reply(verdict))
        elif route is None:
            self._send(_error(404, "NOT_FOUND", "No such route"))
        else:
            request = {
                "query": parse_qs(query_string, keep_blank_values=True),
                "authorization": self.headers.get("Authorization"),
                "body": body,
            }
            reply = sandbox.api.handle(route, params, self.command, request)
            if verdict.drop_after_write:
                self._drop()
            else:
                self._send(reply)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        raw_length = self.headers.get("Content-Length", "0")
        if not raw_length.isdigit():
            self.close_connection = True
            self._send(_error(400, "INVALID_REQUEST", "Content-Length is not a number"))
            return None
        length = int(raw_length)
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _drop(self) -> None:
        """Close the connection without writing a byte of an answer."""
        self.close_connection = True
        _shutdown(self.connection)

    def _send(self, reply: Reply) -> None:
        lines = [
            f"{self.protocol_version} {reply.status} {HTTPStatus(reply.status).phrase}",
            "Server: flowretail-sandbox",
            f"Date: {self.date_time_string()}",
        ]
        payload = b""
        if reply.body is not None:
            payload = json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
            lines.append("Content-Type: application/json; charset=utf-8")
        if reply.status != 204:
            lines.append(f"Content-Length: {len(payload)}")
        lines.extend(f"{name}: {value}" for name, value in reply.headers.items())
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head if self.command == "HEAD" else head + payload)
        self.log_request(reply.status, len(payload))


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, ApiError(status, code, message).body())


def _fault_reply(verdict: Verdict) -> Reply:
    status = verdict.status or 500
    phrase = HTTPStatus(status).phrase
    code = _FAULT_CODES.get(status, phrase.upper().replace(" ", "_"))
    reply = _error(status, code, f"Injected fault: {phrase}")
    if verdict.retry_after is not None:
        reply.headers["Retry-After"] = verdict.retry_after
    return reply
