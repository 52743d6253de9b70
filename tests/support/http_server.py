"""A real HTTP/1.1 server for tests: records every request and answers like Amazon's spec.

The server runs :class:`http.server.ThreadingHTTPServer` on ``127.0.0.1`` (an OS-chosen port) in
a background thread, with keep-alive. Every request is recorded exactly as received (method, raw
request target, parsed path and query, headers, body bytes) together with the TCP connection it
arrived on, so tests can check both what the client sent and how it used its connections.

A test can queue scripted answers (:meth:`RecordingServer.enqueue`), each with a status, headers,
body, an optional delay and an optional "reset the connection without answering" fault. With
nothing queued the server is *spec-faithful*: it routes the request by the spec's path templates
and methods and answers the way the Selling Partner API would (see :class:`SpecRouter`).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import json
import re
import socket
import struct
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import (
    Any,
    Deque,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)
from urllib.parse import parse_qs, unquote

from typing_extensions import Self

import py_sp_api
from tests.support.background import BackgroundServer, LocalHTTPServer

SPEC_PATH = Path(py_sp_api.__file__).resolve().parent / "specs" / "messaging.json"

REQUEST_ID_HEADER = "x-amzn-RequestId"
RATE_LIMIT_HEADER = "x-amzn-RateLimit-Limit"

JsonBody = Union[Dict[str, Any], List[Any]]


class Headers(Mapping[str, str]):
    """Request headers in the order received, looked up case-insensitively.

    Iteration yields the names as the client spelled them; ``get_all`` returns every value of a
    repeated header.
    """

    def __init__(self, pairs: Sequence[Tuple[str, str]]) -> None:
        self._pairs: Tuple[Tuple[str, str], ...] = tuple(pairs)

    def get_all(self, name: str) -> List[str]:
        wanted = name.lower()
        return [value for key, value in self._pairs if key.lower() == wanted]

    def __getitem__(self, name: str) -> str:
        values = self.get_all(name)
        if not values:
            raise KeyError(name)
        if len(values) > 1:
            raise KeyError(f"{name} was sent {len(values)} times: {values}")
        return values[0]

    def __iter__(self) -> Iterator[str]:
        seen = set()
        for key, _ in self._pairs:
            if key.lower() not in seen:
                seen.add(key.lower())
                yield key

    def __len__(self) -> int:
        return len({key.lower() for key, _ in self._pairs})

    def __repr__(self) -> str:
        return f"Headers({list(self._pairs)!r})"


@dataclass(frozen=True)
class RecordedRequest:
    """One request exactly as the server received it."""

    method: str
    raw_path: str
    """The request target from the request line, byte for byte (path and query)."""
    path: str
    """The path part of ``raw_path``, still percent-encoded."""
    query_string: str
    """The query part of ``raw_path`` (without ``?``), still percent-encoded."""
    query: Dict[str, List[str]]
    """The query decoded into name -> list of values (blank values kept)."""
    headers: Headers
    body: bytes
    connection_id: int
    client_address: Tuple[str, int]
    http_version: str

    @property
    def path_segments(self) -> List[str]:
        """The path split on ``/`` and then percent-decoded, one entry per segment."""
        return [unquote(segment, errors="strict") for segment in self.path.split("/")]

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass(frozen=True)
class ScriptedResponse:
    """An answer queued by a test; sent instead of the spec-faithful one."""

    status: int = 200
    headers: Tuple[Tuple[str, str], ...] = ()
    body: bytes = b""
    delay: float = 0.0
    reset: bool = False
    reason: Optional[str] = None
    content_length: Optional[int] = None
    """Announce this ``Content-Length`` instead of the real one, then close the connection."""


@dataclass(frozen=True)
class SentResponse:
    """An answer the server sent (not recorded for resets)."""

    status: int
    headers: Headers
    body: bytes


@dataclass
class ConnectionInfo:
    """One TCP connection accepted by the server."""

    id: int
    client_address: Tuple[str, int]
    closed: threading.Event = field(default_factory=threading.Event)
    request_count: int = 0


class SpecRouter:
    """Matches requests to the spec's operations and builds the spec-faithful answer.

    * unknown path, or a method the path does not declare: 404 ``NotFound``;
    * ``marketplaceIds`` missing, repeated, empty or with more than one comma-separated value:
      400 ``InvalidInput``;
    * an operation that takes a body, called without a JSON ``Content-Type``: 415;
    * otherwise the operation's success status (200/201) with the spec's
      ``x-amzn-api-sandbox`` static response (or ``{}``).

    Every answer carries a fresh ``x-amzn-RequestId`` and ``x-amzn-RateLimit-Limit: 1.0``.
    """

    def __init__(self, spec_path: Path = SPEC_PATH) -> None:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        self.routes: List[Tuple[str, re.Pattern[str], Dict[str, Dict[str, Any]]]] = []
        for template, methods in spec["paths"].items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            operations = {
                method.upper(): operation
                for method, operation in methods.items()
                if isinstance(operation, dict) and "operationId" in operation
            }
            self.routes.append((template, re.compile(f"^{pattern}$"), operations))

    def operation_for(self, method: str, path: str) -> Optional[Dict[str, Any]]:
        for _template, pattern, operations in self.routes:
            if pattern.match(path):
                return operations.get(method)
        return None

    def answer(self, request: RecordedRequest) -> Tuple[int, Dict[str, str], bytes]:
        headers = {
            "Content-Type": "application/json",
            REQUEST_ID_HEADER: str(uuid.uuid4()),
            RATE_LIMIT_HEADER: "1.0",
        }
        operation = self.operation_for(request.method, request.path)
        if operation is None:
            message = f"No operation matches {request.method} {request.path}"
            return 404, headers, _errors_body("NotFound", message)
        marketplace_ids = request.query.get("marketplaceIds")
        if not marketplace_ids or len(marketplace_ids) != 1:
            return 400, headers, _errors_body("InvalidInput", "marketplaceIds is required once")
        values = marketplace_ids[0].split(",")
        if len(values) != 1 or not values[0]:
            return (
                400,
                headers,
                _errors_body("InvalidInput", "marketplaceIds accepts exactly one marketplace"),
            )
        takes_body = any(p.get("in") == "body" for p in operation.get("parameters", []))
        content_type = request.headers.get("Content-Type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if takes_body and media_type != "application/json":
            return (
                415,
                headers,
                _errors_body(
                    "UnsupportedMediaType", f"Content-Type {content_type!r} is not application/json"
                ),
            )
        status = next(code for code in ("200", "201") if code in operation["responses"])
        sandbox = operation["responses"][status].get("x-amzn-api-sandbox", {})
        static = sandbox.get("static") or [{"response": {}}]
        headers["Content-Type"] = "application/hal+json"
        return int(status), headers, json.dumps(static[0].get("response", {})).encode("utf-8")


@functools.cache
def _default_router() -> SpecRouter:
    # The router only reads the spec, so one parsed copy serves every server.
    return SpecRouter()


def _errors_body(code: str, message: str, details: str = "") -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message, "details": details}]}).encode()


class _HTTPServer(LocalHTTPServer):
    def __init__(self, owner: RecordingServer) -> None:
        self.owner = owner
        super().__init__(_Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.owner._handler_error()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stalls
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.conn_info = self.server.owner._connection_opened(self.connection, self.client_address)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._connection_closed(self.conn_info)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: List[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        owner = self.server.owner
        body = self._read_body()
        raw_path = self.path
        path, _, query_string = raw_path.partition("?")
        request = RecordedRequest(
            method=self.command,
            raw_path=raw_path,
            path=path,
            query_string=query_string,
            query=parse_qs(query_string, keep_blank_values=True),
            headers=Headers(list(self.headers.items())),
            body=body,
            connection_id=self.conn_info.id,
            client_address=self.client_address,
            http_version=self.request_version,
        )
        scripted = owner._record(request, self.conn_info)
        if scripted is None:
            status, headers, payload = owner.router.answer(request)
            self._respond(status, list(headers.items()), payload)
            return
        if scripted.delay and owner._stopping.wait(scripted.delay):
            self.close_connection = True
            return
        if scripted.reset:
            self._reset()
            return
        self._respond(
            scripted.status,
            list(scripted.headers),
            scripted.body,
            reason=scripted.reason,
            content_length=scripted.content_length,
        )

    def _respond(
        self,
        status: int,
        headers: Sequence[Tuple[str, str]],
        body: bytes,
        *,
        reason: Optional[str] = None,
        content_length: Optional[int] = None,
    ) -> None:
        self.server.owner._sent(SentResponse(status, Headers(headers), body))
        self.send_response(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        length = len(body) if content_length is None else content_length
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        if content_length is not None and content_length != len(body):
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class RecordingServer:
    """A recording, scriptable, spec-faithful HTTP/1.1 server on ``127.0.0.1``.

    Use :meth:`start`/:meth:`stop` or the context manager. ``url`` is ``http://127.0.0.1:PORT``.
    """

    def __init__(self, router: Optional[SpecRouter] = None) -> None:
        self.router = router if router is not None else _default_router()
        self._lock = threading.Lock()
        self._requests: List[RecordedRequest] = []
        self._responses: List[SentResponse] = []
        self._queue: Deque[ScriptedResponse] = collections.deque()
        self._connections: List[ConnectionInfo] = []
        self._sockets: Dict[int, socket.socket] = {}
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._unexpected_errors: List[BaseException] = []
        self._server: Optional[BackgroundServer] = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        self._server = BackgroundServer(
            _HTTPServer(self), name="recording-server", poll_interval=0.002
        )
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.stop()
        with self._lock:
            live = list(self._sockets.values())
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting -------------------------------------------------------------------------
    def enqueue(
        self,
        status: int = 200,
        body: Union[bytes, str, JsonBody] = b"",
        headers: Optional[Mapping[str, str]] = None,
        *,
        delay: float = 0.0,
        reset: bool = False,
        reason: Optional[str] = None,
        content_length: Optional[int] = None,
    ) -> ScriptedResponse:
        """Queue the answer to the next request. A dict/list body is sent as JSON."""
        header_pairs = list((headers or {}).items())
        if isinstance(body, (dict, list)):
            payload = json.dumps(body).encode("utf-8")
            if not any(name.lower() == "content-type" for name, _ in header_pairs):
                header_pairs.append(("Content-Type", "application/json"))
        elif isinstance(body, str):
            payload = body.encode("utf-8")
        else:
            payload = bytes(body)
        scripted = ScriptedResponse(
            status=status,
            headers=tuple(header_pairs),
            body=payload,
            delay=delay,
            reset=reset,
            reason=reason,
            content_length=content_length,
        )
        with self._lock:
            self._queue.append(scripted)
        return scripted

    @property
    def pending(self) -> int:
        """Scripted answers not used yet."""
        with self._lock:
            return len(self._queue)

    # -- inspection ------------------------------------------------------------------------
    @property
    def requests(self) -> List[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    def only_request(self) -> RecordedRequest:
        """The single request received; fails if there were none or several."""
        requests = self.requests
        assert len(requests) == 1, f"expected exactly one request, got {len(requests)}"
        return requests[0]

    @property
    def responses(self) -> List[SentResponse]:
        """The answers sent, in order (a reset or an aborted delay sends none)."""
        with self._lock:
            return list(self._responses)

    @property
    def connections(self) -> List[ConnectionInfo]:
        with self._lock:
            return list(self._connections)

    def wait_for_connections_closed(self, timeout: float = 2.0) -> bool:
        """``True`` once every accepted connection has been closed by the client."""
        deadline = time.monotonic() + timeout
        for connection in self.connections:
            if not connection.closed.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    @property
    def unexpected_errors(self) -> List[BaseException]:
        """Errors inside the server other than a client going away (bugs in this helper)."""
        with self._lock:
            return list(self._unexpected_errors)

    # -- called by the handler -------------------------------------------------------------
    def _connection_opened(self, sock: socket.socket, address: Tuple[str, int]) -> ConnectionInfo:
        with self._lock:
            info = ConnectionInfo(id=next(self._ids), client_address=address)
            self._connections.append(info)
            self._sockets[info.id] = sock
        return info

    def _connection_closed(self, info: ConnectionInfo) -> None:
        with self._lock:
            self._sockets.pop(info.id, None)
        info.closed.set()

    def _record(self, request: RecordedRequest, info: ConnectionInfo) -> Optional[ScriptedResponse]:
        with self._lock:
            self._requests.append(request)
            info.request_count += 1
            return self._queue.popleft() if self._queue else None

    def _sent(self, response: SentResponse) -> None:
        with self._lock:
            self._responses.append(response)

    def _handler_error(self) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)) or error is None:
            return  # the client went away (timed out, closed): expected in fault tests
        with self._lock:
            self._unexpected_errors.append(error)


def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
