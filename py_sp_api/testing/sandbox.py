"""A local Messaging sandbox: a real HTTP server on 127.0.0.1 that answers like Amazon's.

It replays every static sandbox case written in the bundled spec (``x-amzn-api-sandbox``)
exactly, and validates anything else against the spec: unknown paths get 404, a missing or
doubled ``marketplaceIds`` or a body that breaks the operation's schema gets 400 with an
``errors`` list naming the problem, a body that is not JSON gets 415. Valid requests that match
no static case succeed, so any order id can be used.

Optional behaviours for tests: enforce each operation's usage plan (429 ``QuotaExceeded``),
require an ``x-amz-access-token``, and inject 500/503 answers for an operation. Every request is
recorded for assertions.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Set, Tuple
from urllib.parse import parse_qs, unquote, urlsplit

from py_sp_api.testing.schema import validate

if TYPE_CHECKING:
    from py_sp_api.runtime.configuration import Configuration

SPEC_FILE = Path(__file__).resolve().parent.parent / "specs" / "messaging.json"
JSON_TYPE = "application/json"
HAL_TYPE = "application/hal+json"


@dataclass(frozen=True)
class SandboxRequest:
    """One request the sandbox received, and what it answered."""

    method: str
    path: str
    query: Dict[str, str]
    headers: Dict[str, str]
    body: bytes
    operation: Optional[str]
    order_id: Optional[str]
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def __repr__(self) -> str:
        # Recorded requests get printed by failing assertions: never show the access token.
        shown = {k: ("***" if k == "x-amz-access-token" else v) for k, v in self.headers.items()}
        return (
            f"SandboxRequest(method={self.method!r}, path={self.path!r}, query={self.query!r}, "
            f"headers={shown!r}, body={self.body!r}, operation={self.operation!r}, "
            f"order_id={self.order_id!r}, status={self.status!r})"
        )


@dataclass
class _Route:
    name: str
    operation_id: str
    method: str
    pattern: re.Pattern[str]
    spec: Dict[str, Any]
    success_status: int
    rate: float
    burst: int
    body_schema: Optional[Dict[str, Any]]


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Dict[str, str]
    payload: bytes
    operation: Optional[str] = None
    order_id: Optional[str] = None


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class _Failure:
    status: int
    remaining: int


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: List[SandboxRequest] = field(default_factory=list)
    buckets: Dict[Tuple[str, str], _Bucket] = field(default_factory=dict)
    failures: Dict[str, _Failure] = field(default_factory=dict)
    connections: Set[socket.socket] = field(default_factory=set)
    stopped: bool = False


class MessagingSandbox:
    """The local sandbox. Use it as a context manager, or call :meth:`start` and :meth:`stop`.

    Args:
        port: 0 (default) picks a free port.
        enforce_rate_limits: answer 429 ``QuotaExceeded`` beyond each operation's usage plan
            (one bucket per operation and access token, as Amazon keeps them).
        require_access_token: answer 403 unless ``x-amz-access-token`` is present.
        rate_limits: usage plans to enforce instead of the spec's, by method name.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        enforce_rate_limits: bool = False,
        require_access_token: bool = False,
        rate_limits: Optional[Dict[str, Tuple[float, int]]] = None,
        spec_file: Path = SPEC_FILE,
    ) -> None:
        self.enforce_rate_limits = enforce_rate_limits
        self.require_access_token = require_access_token
        self._bind = (host, port)
        self._spec_file = spec_file
        self._rate_overrides = dict(rate_limits or {})
        self._state = _State()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._routes: List[_Route] = []
        self._definitions: Dict[str, Any] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> MessagingSandbox:
        if self._server is not None:
            return self
        self._state.stopped = False
        spec = json.loads(self._spec_file.read_text(encoding="utf-8"))
        self._definitions = spec.get("definitions", {})
        self._routes = _routes(spec, self._rate_overrides)
        sandbox = self

        class Handler(_Handler):
            owner = sandbox

        self._server = ThreadingHTTPServer(self._bind, Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="messaging-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        # Kept-alive connections would otherwise go on being answered by their threads.
        with self._state.lock:
            self._state.stopped = True
            open_connections = list(self._state.connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> MessagingSandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: pass it as the ``Configuration`` host."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return f"http://{self._bind[0]}:{self._server.server_port}"

    def configuration(self, **options: Any) -> Configuration:
        """A client ``Configuration`` pointed at this sandbox (options go to Configuration)."""
        from py_sp_api.runtime.configuration import Configuration

        return Configuration(host=self.url, **options)

    # -- test controls ---------------------------------------------------------------------

    @property
    def requests(self) -> List[SandboxRequest]:
        """Every request received so far, oldest first."""
        with self._state.lock:
            return list(self._state.requests)

    def requests_for(self, operation: str) -> List[SandboxRequest]:
        """The requests for one operation (method name, e.g. ``"create_warranty"``)."""
        return [r for r in self.requests if r.operation == operation]

    def fail(self, operation: str, status: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` requests for ``operation`` with ``status`` (500 or 503)."""
        name = self._route_named(operation).name
        with self._state.lock:
            self._state.failures[name] = _Failure(status, times)

    def reset(self) -> None:
        """Forget recorded requests, injected failures and rate-limit state."""
        with self._state.lock:
            self._state.requests.clear()
            self._state.failures.clear()
            self._state.buckets.clear()

    def _route_named(self, name: str) -> _Route:
        for route in self._routes or _routes(json.loads(self._spec_file.read_text()), {}):
            if name in (route.name, route.operation_id):
                return route
        raise ValueError(f"unknown operation {name!r}")

    # -- answering -------------------------------------------------------------------------

    def _answer(self, method: str, target: str, headers: Dict[str, str], body: bytes) -> _Answer:
        parts = urlsplit(target)
        query = _query(parts.query)
        route, order_id, allowed = self._match(method, parts.path)
        if route is None or order_id is None:
            unknown = f"No operation at {method} {parts.path}"
            if not allowed:
                return _Answer(*_error(404, "NotFound", unknown))
            details = f"Allowed: {', '.join(allowed)}"
            status, _, payload = _error(405, "MethodNotAllowed", unknown, details)
            return _Answer(status, {"Allow": ", ".join(allowed)}, payload)

        def answer(status: int, extra: Dict[str, str], payload: bytes) -> _Answer:
            extra = {"x-amzn-RateLimit-Limit": f"{route.rate:g}", **extra}
            return _Answer(status, extra, payload, route.name, order_id)

        if self.require_access_token and not headers.get("x-amz-access-token"):
            denied = "Access to requested resource is denied."
            return answer(*_error(403, "Unauthorized", denied, "No access token was sent."))
        if self.enforce_rate_limits and not self._take_token(route, headers):
            quota = "You exceeded your quota for the requested resource."
            return answer(*_error(429, "QuotaExceeded", quota))
        injected = self._injected_failure(route)
        if injected is not None:
            return answer(*_error(injected, "InternalFailure", "We encountered an internal error."))
        problem = self._invalid(route, query, headers, body)
        if problem is not None:
            return answer(*problem)
        status, payload = self._static_or_default(route, order_id, query, body)
        return answer(status, {}, payload)

    def _match(self, method: str, path: str) -> Tuple[Optional[_Route], Optional[str], List[str]]:
        """The route and order id for a request, or the methods the path does allow."""
        allowed = []
        for route in self._routes:
            found = route.pattern.fullmatch(path)
            if found is None:
                continue
            if route.method == method:
                return route, unquote(found.group(1)), []
            allowed.append(route.method)
        return None, None, allowed

    def _take_token(self, route: _Route, headers: Dict[str, str]) -> bool:
        key = (route.name, headers.get("x-amz-access-token", ""))
        now = time.monotonic()
        with self._state.lock:
            bucket = self._state.buckets.get(key)
            if bucket is None:
                bucket = self._state.buckets[key] = _Bucket(float(route.burst), now)
            bucket.tokens = min(route.burst, bucket.tokens + (now - bucket.updated) * route.rate)
            bucket.updated = now
            if bucket.tokens < 1.0:
                return False
            bucket.tokens -= 1.0
            return True

    def _injected_failure(self, route: _Route) -> Optional[int]:
        with self._state.lock:
            failure = self._state.failures.get(route.name)
            if failure is None or failure.remaining <= 0:
                return None
            failure.remaining -= 1
            return failure.status

    def _invalid(
        self, route: _Route, query: Dict[str, List[str]], headers: Dict[str, str], body: bytes
    ) -> Optional[Tuple[int, Dict[str, str], bytes]]:
        ids = [i for value in query.get("marketplaceIds", []) for i in value.split(",") if i]
        if not ids:
            return _error(400, "InvalidInput", "Missing required parameter: marketplaceIds")
        if len(ids) > 1:
            many = f"Got {len(ids)}: {','.join(ids)}"
            return _error(400, "InvalidInput", "marketplaceIds accepts one marketplace", many)
        if route.body_schema is None:
            return None
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != JSON_TYPE:
            got = f"Got {content_type or 'none'}"
            return _error(415, "UnsupportedMediaType", f"Content-Type must be {JSON_TYPE}", got)
        try:
            document = json.loads(body) if body.strip() else None
        except ValueError:
            return _error(400, "InvalidInput", "The request body is not valid JSON")
        if document is None:
            return _error(400, "InvalidInput", "The request body is required")
        problems = validate(route.body_schema, document, self._definitions)
        if problems:
            return _error(400, "InvalidInput", "Invalid request body", "; ".join(problems))
        return None

    def _static_or_default(
        self, route: _Route, order_id: str, query: Dict[str, List[str]], body: bytes
    ) -> Tuple[int, bytes]:
        try:
            document = json.loads(body) if body.strip() else None
        except ValueError:
            document = None  # a body sent to an operation that takes none is ignored
        for status, case in _static_cases(route.spec):
            params = case.get("request", {}).get("parameters", {})
            if _case_matches(params, order_id, query, document):
                return status, json.dumps(case.get("response", {})).encode()
        return route.success_status, json.dumps(_default_body(route, order_id, query)).encode()


class _Handler(BaseHTTPRequestHandler):
    owner: MessagingSandbox
    protocol_version = "HTTP/1.1"
    server_version = "py-sp-api-sandbox"
    # Headers and body go out in two writes; without this, delayed ACKs stall every answer
    # on a kept-alive connection by ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests read ``requests`` instead

    def setup(self) -> None:
        super().setup()
        with self.owner._state.lock:
            self.owner._state.connections.add(self.connection)

    def finish(self) -> None:
        with self.owner._state.lock:
            self.owner._state.connections.discard(self.connection)
        super().finish()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: List[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        body = self._read_body()
        if self.owner._state.stopped:
            self.close_connection = True
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.owner._answer(self.command, self.path, headers, body)
        parts = urlsplit(self.path)
        record = SandboxRequest(
            method=self.command,
            path=parts.path,
            query={name: ",".join(values) for name, values in _query(parts.query).items()},
            headers=headers,
            body=body,
            operation=answer.operation,
            order_id=answer.order_id,
            status=answer.status,
        )
        with self.owner._state.lock:
            self.owner._state.requests.append(record)
        self.send_response(answer.status)
        self.send_header("Content-Type", HAL_TYPE if answer.status < 300 else JSON_TYPE)
        self.send_header("Content-Length", str(len(answer.payload)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


def _routes(spec: Dict[str, Any], overrides: Dict[str, Tuple[float, int]]) -> List[_Route]:
    # Names and usage plans come from the generated operation table, itself from this spec.
    from py_sp_api.generated.messaging.operations import OPERATIONS

    by_id = {op.operation_id: op for op in OPERATIONS.values()}
    routes = []
    for item in spec["paths"].values():
        for method, op_spec in item.items():
            op = by_id[op_spec["operationId"]]
            pattern = op.path_pattern
            rate, burst = overrides.get(op.name, (op.rate_limit.rate, op.rate_limit.burst))
            body = next((p for p in op_spec.get("parameters", []) if p["in"] == "body"), None)
            routes.append(
                _Route(
                    name=op.name,
                    operation_id=op.operation_id,
                    method=method.upper(),
                    pattern=pattern,
                    spec=op_spec,
                    success_status=op.success_status,
                    rate=rate,
                    burst=burst,
                    body_schema=body["schema"] if body else None,
                )
            )
    return routes


def _static_cases(op_spec: Dict[str, Any]) -> Iterator[Tuple[int, Dict[str, Any]]]:
    for code, response in sorted(op_spec["responses"].items()):
        for case in response.get("x-amzn-api-sandbox", {}).get("static", []):
            yield int(code), case


def _query(text: str) -> Dict[str, List[str]]:
    """The query's parameters, each with all of its values (a repeated name is kept)."""
    return parse_qs(text, keep_blank_values=True)


def _case_matches(
    params: Dict[str, Any], order_id: str, query: Dict[str, List[str]], document: Any
) -> bool:
    for name, spec in params.items():
        expected = spec.get("value")
        if name == "amazonOrderId":
            actual: Any = order_id
        elif name == "body":
            actual = document
        elif name == "marketplaceIds":
            actual = [i for value in query.get(name, []) for i in value.split(",")]
            expected = expected if isinstance(expected, list) else [expected]
        else:
            actual = ",".join(query.get(name, [])) or None
        if actual != expected:
            return False
    return True


def _default_body(route: _Route, order_id: str, query: Dict[str, List[str]]) -> Dict[str, Any]:
    if route.name == "get_attributes":
        return {"buyer": {"locale": "en-US"}}
    if route.name == "get_messaging_actions_for_order":
        return _actions_for(order_id, ",".join(query.get("marketplaceIds", [])))
    return {}


def _actions_for(order_id: str, marketplace_id: str) -> Dict[str, Any]:
    """HAL links to every message type, the way Amazon lists the actions an order allows."""
    from py_sp_api.generated.messaging.operations import OPERATIONS

    base = f"/messaging/v1/orders/{order_id}"
    actions, embedded = [], []
    for op in OPERATIONS.values():
        if op.method != "POST":
            continue
        kind = op.path.rsplit("/", 1)[1]
        href = f"{base}/messages/{kind}?marketplaceIds={marketplace_id}"
        actions.append({"href": href, "name": kind})
        embedded.append(
            {
                "_links": {
                    "self": {"href": href, "name": kind},
                    "schema": {"href": f"{base}/messages/{kind}/schema", "name": kind},
                }
            }
        )
    return {
        "_links": {
            "self": {"href": f"{base}?marketplaceIds={marketplace_id}"},
            "actions": actions,
        },
        "_embedded": {"actions": embedded},
    }


def _error(
    status: int, code: str, message: str, details: str = ""
) -> Tuple[int, Dict[str, str], bytes]:
    payload = {"errors": [{"code": code, "message": message, "details": details}]}
    return status, {}, json.dumps(payload).encode()
