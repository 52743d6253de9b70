"""A local Messaging and Solicitations sandbox: a real server on 127.0.0.1 that answers like Amazon.

Two modes:

* ``MessagingSandbox(strict=True)`` is Amazon's static sandbox (the ``sandbox.`` hosts): it
  answers only the static cases written in the bundled spec (``x-amzn-api-sandbox``); any other
  request gets 400 ``InvalidInput`` "Could not match input arguments", and a request without an
  ``x-amz-access-token`` gets 403 ``MissingAuthenticationToken``, as Amazon's sandbox answers.
* The default is a small simulator of production. It replays the same static cases exactly, and
  validates everything else against the spec (unknown paths 404, a missing or doubled
  ``marketplaceIds`` or a body that breaks the schema 400, a body that is not JSON 415, an order
  id not of Amazon's ``3-7-7`` digit form 400). Beyond that it models the rule that trips most
  sellers: each order offers some actions, message types and solicitations
  (:meth:`MessagingSandbox.set_actions`; all of them by default), each API's actions read
  (``get_messaging_actions_for_order``, ``get_solicitation_actions_for_order``) lists exactly
  those, sending one the order does not offer answers Amazon's 403 ("Invalid amazonOrderId and
  template combination." for a message, "The requested solicitation is not available for this
  amazonOrderId." for a solicitation), and an action taken once disappears from the order's
  actions. docs/testing.md says where each rule comes from.

Both APIs are served by the same server, each from its bundled spec (``py_sp_api/specs``).

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
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Optional, Set, Tuple
from urllib.parse import parse_qs, unquote, urlsplit

from typing_extensions import Self

from py_sp_api.runtime.hal import actions_operation
from py_sp_api.runtime.headers import (
    ACCESS_TOKEN_HEADER,
    CONTENT_TYPE_HEADER,
    RATE_LIMIT_HEADER,
    REQUEST_ID_HEADER,
)
from py_sp_api.testing.schema import validate

if TYPE_CHECKING:
    from py_sp_api.runtime.configuration import Configuration
    from py_sp_api.runtime.operation import Operation

SPECS = Path(__file__).resolve().parent.parent / "specs"
SPEC_FILE = SPECS / "messaging.json"
JSON_TYPE = "application/json"
HAL_TYPE = "application/hal+json"
# Three, seven and seven ASCII digits; digital orders start with a letter (D01-...).
ORDER_ID_FORM = re.compile(r"[0-9A-Z][0-9]{2}-[0-9]{7}-[0-9]{7}")
ACCESS_DENIED = "Access to requested resource is denied."
NO_MATCH = "Could not match input arguments"
TEMPLATE_COMBINATION = "Invalid amazonOrderId and template combination."
SOLICITATION_NOT_AVAILABLE = "The requested solicitation is not available for this amazonOrderId."


@dataclass(frozen=True)
class _Api:
    """One API the sandbox serves: its bundled spec, generated package and 403 wording."""

    name: str
    spec_file: Path
    package: str
    # What Amazon answers (403 Unauthorized) for an action the order does not offer now.
    not_available: str


APIS = (
    _Api("messaging", SPEC_FILE, "py_sp_api.generated.messaging", TEMPLATE_COMBINATION),
    _Api(
        "solicitations",
        SPECS / "solicitations.json",
        "py_sp_api.generated.solicitations",
        SOLICITATION_NOT_AVAILABLE,
    ),
)


def _check_api_name(api: Optional[str]) -> None:
    # A misspelt name would select no route: "nothing offered", which a test may well expect.
    if api is not None and api not in {each.name for each in APIS}:
        served = ", ".join(each.name for each in APIS)
        raise ValueError(f"the sandbox serves {served}, not {api!r}")


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
        shown = {k: ("***" if k == ACCESS_TOKEN_HEADER else v) for k, v in self.headers.items()}
        return (
            f"SandboxRequest(method={self.method!r}, path={self.path!r}, query={self.query!r}, "
            f"headers={shown!r}, body={self.body!r}, operation={self.operation!r}, "
            f"order_id={self.order_id!r}, status={self.status!r})"
        )


@dataclass
class _Route:
    api: _Api
    name: str
    operation_id: str
    method: str
    path: str
    pattern: re.Pattern[str]
    spec: Dict[str, Any]
    success_status: int
    rate: float
    burst: int
    body_schema: Optional[Dict[str, Any]]
    definitions: Dict[str, Any]
    lists_actions: bool


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
    # The simulator's orders: the actions each offers (absent: all), and those taken.
    offered: Dict[str, Set[str]] = field(default_factory=dict)
    sent: Dict[str, Set[str]] = field(default_factory=dict)


class MessagingSandbox:
    """The local sandbox. Use it as a context manager, or call :meth:`start` and :meth:`stop`.

    Args:
        port: 0 (default) picks a free port.
        strict: behave as Amazon's static sandbox (see the module docstring) instead of the
            production simulator. Strict mode always requires an access token.
        enforce_rate_limits: answer 429 ``QuotaExceeded`` beyond each operation's usage plan
            (one bucket per operation and access token, as Amazon keeps them).
        require_access_token: answer 403 unless ``x-amz-access-token`` is present.
        rate_limits: usage plans to enforce instead of the spec's, by method name.
        spec_file: the Messaging spec to serve (default: the bundled one).
        repeatable: actions (method names) an order may take more than once. Amazon does not
            publish which message types it limits, so by default every type is sent at most
            once per order, the conservative reading; a solicitation is once per order, as
            Amazon's model says.
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
        strict: bool = False,
        repeatable: Iterable[str] = (),
    ) -> None:
        self.strict = strict
        self.enforce_rate_limits = enforce_rate_limits
        self.require_access_token = require_access_token or strict
        self.repeatable = frozenset(repeatable)
        self._bind = (host, port)
        self._spec_file = spec_file
        self._rate_overrides = dict(rate_limits or {})
        self._state = _State()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._routes: List[_Route] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._state.stopped = False
        self._routes = self._load_routes(self._rate_overrides)
        sandbox: MessagingSandbox = self

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

    def __repr__(self) -> str:
        mode = "strict (Amazon's static sandbox)" if self.strict else "simulator"
        if self._server is None:
            return f"MessagingSandbox(not running, mode={mode!r})"
        limits = "enforced" if self.enforce_rate_limits else "off"
        return (
            f"MessagingSandbox(url={self.url!r}, mode={mode!r}, "
            f"requests={len(self.requests)}, rate_limits={limits!r})"
        )

    def __enter__(self) -> Self:
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
        """Forget recorded requests, injected failures, rate-limit and order state."""
        with self._state.lock:
            self._state.requests.clear()
            self._state.failures.clear()
            self._state.buckets.clear()
            self._state.offered.clear()
            self._state.sent.clear()

    def set_actions(self, order_id: str, actions: Iterable[str]) -> None:
        """Decide which actions (method names) ``order_id`` offers from now on.

        The names are message types and solicitations alike; those not named are not offered.
        ``set_actions(order, [])`` models an order that offers none (not shipped yet, or
        outside the solicitation window, say); an order never configured offers every action.
        """
        wanted = set(actions)
        known = self.action_types()
        unknown = wanted - set(known)
        if unknown:
            raise ValueError(f"not actions: {sorted(unknown)}; known: {sorted(known)}")
        with self._state.lock:
            self._state.offered[order_id] = wanted
            self._state.sent.pop(order_id, None)

    def actions(self, order_id: str, api: Optional[str] = "messaging") -> List[str]:
        """The actions ``order_id`` offers now: of ``api`` (its message types by default, as
        before the sandbox served Solicitations), ``"solicitations"``, or every API (``None``).
        """
        _check_api_name(api)
        with self._state.lock:
            return sorted(self._offered_now(order_id, api))

    def action_types(self, api: Optional[str] = None) -> List[str]:
        """The method names of the operations that act on an order: of every API, or of ``api``."""
        _check_api_name(api)
        return [
            route.name
            for route in self._all_routes()
            if route.method == "POST" and api in (None, route.api.name)
        ]

    def message_types(self) -> List[str]:
        """Every message type: the method names of the Messaging operations that send one."""
        return self.action_types("messaging")

    def solicitation_types(self) -> List[str]:
        """Every solicitation: the method names of the Solicitations operations."""
        return self.action_types("solicitations")

    def _offered_now(self, order_id: str, api: Optional[str] = None) -> Set[str]:
        offered = self._state.offered.get(order_id)
        everything = set(self.action_types(api))
        available = everything if offered is None else everything & offered
        return available - self._state.sent.get(order_id, set())

    def _all_routes(self) -> List[_Route]:
        return self._routes or self._load_routes({})

    def _load_routes(self, overrides: Dict[str, Tuple[float, int]]) -> List[_Route]:
        routes: List[_Route] = []
        for api in APIS:
            spec_file = self._spec_file if api.name == "messaging" else api.spec_file
            spec = json.loads(spec_file.read_text(encoding="utf-8"))
            routes += _routes(api, spec, overrides)
        return routes

    def _route_named(self, name: str) -> _Route:
        for route in self._all_routes():
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
            extra = {RATE_LIMIT_HEADER: f"{route.rate:g}", **extra}
            return _Answer(status, extra, payload, route.name, order_id)

        if self.require_access_token and not headers.get(ACCESS_TOKEN_HEADER):
            return answer(*_error(403, "MissingAuthenticationToken", ACCESS_DENIED, None))
        if self.enforce_rate_limits and not self._take_token(route, headers):
            quota = "You exceeded your quota for the requested resource."
            return answer(*_error(429, "QuotaExceeded", quota))
        injected = self._injected_failure(route)
        if injected is not None:
            return answer(*_error(injected, "InternalFailure", "We encountered an internal error."))
        if self.strict:
            static = self._static(route, order_id, query, body)
            return answer(*(static or _error(400, "InvalidInput", NO_MATCH)))
        problem = self._invalid(route, query, headers, body)
        if problem is not None:
            return answer(*problem)
        static = self._static(route, order_id, query, body)
        if static is not None:
            return answer(*static)
        if not ORDER_ID_FORM.fullmatch(order_id):
            form = "An Amazon order id has the form 3-7-7 digits, e.g. 123-1234567-1234567"
            return answer(*_error(400, "InvalidInput", f"Invalid amazonOrderId: {order_id}", form))
        return answer(*self._simulate(route, order_id, query))

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
        key = (route.name, headers.get(ACCESS_TOKEN_HEADER, ""))
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
        problems = validate(route.body_schema, document, route.definitions)
        if problems:
            return _error(400, "InvalidInput", "Invalid request body", "; ".join(problems))
        return None

    def _static(
        self, route: _Route, order_id: str, query: Dict[str, List[str]], body: bytes
    ) -> Optional[Tuple[int, Dict[str, str], bytes]]:
        """The spec's static case this request matches, if any."""
        try:
            document = json.loads(body) if body.strip() else None
        except ValueError:
            document = None  # a body sent to an operation that takes none is ignored
        for status, case in _static_cases(route.spec):
            params = case.get("request", {}).get("parameters", {})
            if _case_matches(params, order_id, query, document):
                return status, {}, json.dumps(case.get("response", {})).encode()
        return None

    def _simulate(
        self, route: _Route, order_id: str, query: Dict[str, List[str]]
    ) -> Tuple[int, Dict[str, str], bytes]:
        marketplace = ",".join(query.get("marketplaceIds", []))
        if route.name == "get_attributes":
            return route.success_status, {}, json.dumps({"buyer": {"locale": "en-US"}}).encode()
        with self._state.lock:
            offered = self._offered_now(order_id, route.api.name)
            if route.lists_actions:
                taking = [r for r in self._routes if r.api is route.api and r.name in offered]
                document = _actions_for(route, taking, order_id, marketplace)
                return route.success_status, {}, json.dumps(document).encode()
            if route.name not in offered:
                return _error(403, "Unauthorized", route.api.not_available)
            if route.name not in self.repeatable:
                self._state.sent.setdefault(order_id, set()).add(route.name)
        return route.success_status, {}, b"{}"


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
        self.send_header(CONTENT_TYPE_HEADER, HAL_TYPE if answer.status < 300 else JSON_TYPE)
        self.send_header("Content-Length", str(len(answer.payload)))
        self.send_header(REQUEST_ID_HEADER, str(uuid.uuid4()))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


def _routes(
    api: _Api, spec: Dict[str, Any], overrides: Dict[str, Tuple[float, int]]
) -> List[_Route]:
    # Names and usage plans come from the generated operation table, itself from this spec.
    operations: Dict[str, Operation[Any]] = import_module(f"{api.package}.operations").OPERATIONS
    by_id = {op.operation_id: op for op in operations.values()}
    lister = actions_operation(operations)
    definitions = spec.get("definitions", {})
    routes = []
    for item in spec["paths"].values():
        for method, op_spec in item.items():
            op = by_id[op_spec["operationId"]]
            rate, burst = overrides.get(op.name, (op.rate_limit.rate, op.rate_limit.burst))
            body = next((p for p in op_spec.get("parameters", []) if p["in"] == "body"), None)
            routes.append(
                _Route(
                    api=api,
                    name=op.name,
                    operation_id=op.operation_id,
                    method=method.upper(),
                    path=op.path,
                    pattern=op.path_pattern,
                    spec=op_spec,
                    success_status=op.success_status,
                    rate=rate,
                    burst=burst,
                    body_schema=body["schema"] if body else None,
                    definitions=definitions,
                    lists_actions=op is lister,
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


def _actions_for(
    lister: _Route, taking: List[_Route], order_id: str, marketplace_id: str
) -> Dict[str, Any]:
    """HAL links to the actions an order offers, the way Amazon lists them."""
    base = lister.path.replace("{amazonOrderId}", order_id)
    actions, embedded = [], []
    for route in sorted(taking, key=lambda r: r.name):
        path = route.path.replace("{amazonOrderId}", order_id)
        kind = path.rsplit("/", 1)[1]
        href = f"{path}?marketplaceIds={marketplace_id}"
        actions.append({"href": href, "name": kind})
        embedded.append(
            {
                "_links": {
                    "self": {"href": href, "name": kind},
                    "schema": {"href": f"{path}/schema", "name": kind},
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
    status: int, code: str, message: str, details: Optional[str] = ""
) -> Tuple[int, Dict[str, str], bytes]:
    """Amazon's error body; ``details=None`` leaves the field out, as some answers do."""
    error = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return status, {}, json.dumps({"errors": [error]}).encode()
