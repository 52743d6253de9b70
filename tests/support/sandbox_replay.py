"""Replaying the static sandbox cases of Amazon's models (``x-amzn-api-sandbox``).

Each case names an operation's parameters and the answer Amazon's sandbox gives for them. This
module reads them from a model, works out from the spec alone (not from the generator) what the
request must look like on the wire, and serves the answers from a real HTTP server on
``127.0.0.1`` that checks each request it receives against the case being replayed.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import parse_qs, quote, urlsplit

from dateutil.parser import isoparse

from tests.support.background import BackgroundServer, LocalHTTPServer

METHODS = ("get", "put", "post", "delete", "patch")


@dataclass
class Case:
    """One static sandbox case: where it is, its parameters (wire name -> value) and answer."""

    model: str  # the model's file name
    operation_id: str
    method: str
    path: str
    index: int  # the case's position among the operation's cases, counted across statuses
    status: int
    parameters: Dict[str, Any]
    spec_parameters: List[Dict[str, Any]]
    response: Any
    problem: Optional[str] = None  # set when the case cannot be replayed as written

    @property
    def id(self) -> str:
        return f"{self.model}:{self.operation_id}#{self.index}"


def cases(spec: Dict[str, Any], model: str) -> Iterator[Case]:
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method not in METHODS:
                continue
            merged = {(p["in"], p["name"]): p for p in [*shared, *op.get("parameters", [])]}
            index = 0
            for code, response in sorted(op["responses"].items()):
                for raw in response.get("x-amzn-api-sandbox", {}).get("static", []):
                    yield _case(model, op, method, path, index, code, raw, list(merged.values()))
                    index += 1


def _case(
    model: str,
    op: Dict[str, Any],
    method: str,
    path: str,
    index: int,
    code: str,
    raw: Dict[str, Any],
    spec_parameters: List[Dict[str, Any]],
) -> Case:
    case = Case(
        model=model,
        operation_id=op["operationId"],
        method=method.upper(),
        path=path,
        index=index,
        status=int(code),
        parameters={},
        spec_parameters=spec_parameters,
        response=raw.get("response"),
    )
    body_name = next((p["name"] for p in spec_parameters if p["in"] == "body"), "body")
    for name, given in raw.get("request", {}).get("parameters", {}).items():
        if not isinstance(given, dict) or "value" not in given:
            case.problem = f"parameter {name!r} has no 'value' (the case's own format)"
            continue
        # Cases name the body "body" whatever the spec calls its body parameter ("payload").
        case.parameters[body_name if name == "body" else name] = given["value"]
    return case


def wire_form(spec_param: Dict[str, Any], value: Any) -> List[str]:
    """The value(s) Amazon expects on the wire for a query or header parameter, decoded."""
    if spec_param.get("type") == "array":
        items = value if isinstance(value, list) else str(value).split(",")
        texts = [_scalar_text(spec_param.get("items", {}), item) for item in items]
        return texts if spec_param.get("collectionFormat") == "multi" else [",".join(texts)]
    return [_scalar_text(spec_param, value)]


def _scalar_text(schema: Dict[str, Any], value: Any) -> str:
    kind = schema.get("type", "string")
    if kind == "boolean":
        return "true" if value in (True, "true", "True") else "false"
    if kind == "integer":
        return str(int(value))
    if kind == "number":
        return str(float(value))
    return str(value)


_MARKETPLACE = "ATVPDKIKX0DER"


def placeholder(schema: Dict[str, Any], definitions: Dict[str, Any], depth: int = 0) -> Any:
    """A valid value for a parameter or schema the case leaves open (the sandbox takes any)."""
    if "$ref" in schema:
        return placeholder(definitions[schema["$ref"].rsplit("/", 1)[1]], definitions, depth + 1)
    if "allOf" in schema:
        merged: Dict[str, Any] = {}
        for part in schema["allOf"]:
            value = placeholder(part, definitions, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [placeholder(schema.get("items", {}), definitions, depth + 1)] * count
    if kind == "object":
        if depth > 12:
            return {}
        required = schema.get("required", [])
        properties = schema.get("properties", {})
        return {
            name: placeholder(properties.get(name, {}), definitions, depth + 1) for name in required
        }
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if schema.get("format") == "date-time":
        return "2024-05-01T10:00:00Z"
    if schema.get("format") == "date":
        return "2024-05-01"
    if schema.get("name") in ("marketplaceIds", "marketplaceId"):
        return _MARKETPLACE
    return "x" * max(1, int(schema.get("minLength", 7)))


def python_value(spec_param: Dict[str, Any], value: Any) -> Any:
    """The case's value as a Python caller passes it: an int for an integer, a list for arrays."""
    if spec_param.get("type") == "array":
        items = value if isinstance(value, list) else str(value).split(",")
        return [_python_scalar(spec_param.get("items", {}), item) for item in items]
    return _python_scalar(spec_param, value)


def _python_scalar(schema: Dict[str, Any], value: Any) -> Any:
    kind = schema.get("type", "string")
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "integer":
        return int(value)
    if kind == "number":
        return float(value)
    return value if isinstance(value, str) else json.dumps(value)


def same_json(sent: Any, expected: Any) -> bool:
    """Equal as JSON documents; numbers by value, date-times by the instant they name."""
    if isinstance(expected, dict):
        return (
            isinstance(sent, dict)
            and sent.keys() == expected.keys()
            and all(same_json(sent[k], expected[k]) for k in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(sent, list)
            and len(sent) == len(expected)
            and all(same_json(a, b) for a, b in zip(sent, expected))
        )
    if isinstance(expected, str) and isinstance(sent, str) and sent != expected:
        return _instant(sent) is not None and _instant(sent) == _instant(expected)
    return bool(sent == expected) and isinstance(sent, bool) == isinstance(expected, bool)


_LOOKS_LIKE_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T")


def _instant(text: str) -> Optional[datetime]:
    if not _LOOKS_LIKE_DATE_TIME.match(text):
        return None
    try:
        return isoparse(text)
    except ValueError:
        return None


@dataclass
class Expected:
    """What the server must receive for the case being replayed, and what it answers."""

    case: Case
    mismatches: List[str] = field(default_factory=list)
    received: int = 0


class ReplayServer:
    """Answers each request with the current case's response after checking the request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expected: Optional[Expected] = None
        self.errors: List[BaseException] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else each answer waits out a delayed ACK (~40 ms)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                try:
                    owner._answer(self)
                except BaseException as exc:  # reported by the test, not lost in a thread
                    owner.errors.append(exc)
                    raise

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._server = BackgroundServer(LocalHTTPServer(Handler), name="replay")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    def stop(self) -> None:
        self._server.stop()

    def expect(self, case: Case) -> Expected:
        with self._lock:
            self._expected = Expected(case)
            return self._expected

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            expected = self._expected
        if expected is None:
            status, payload = 500, b'{"errors":[{"code":"NoCase","message":"no case"}]}'
        else:
            expected.received += 1
            expected.mismatches += check_request(expected.case, handler, body)
            status, payload = expected.case.status, _payload(expected.case.response)
        if status in (204, 304):
            payload = b""  # these answers never have a body
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)


def _payload(response: Any) -> bytes:
    return b"" if response is None else json.dumps(response).encode()


def check_request(case: Case, handler: BaseHTTPRequestHandler, body: bytes) -> List[str]:
    """How the request differs from the case (empty when it matches)."""
    problems: List[str] = []
    if handler.command != case.method:
        problems.append(f"method {handler.command}, expected {case.method}")
    split = urlsplit(handler.path)
    expected_path = case.path
    query: Dict[str, List[str]] = {}
    declared = {p["name"] for p in case.spec_parameters if p["in"] == "query"}
    for param in case.spec_parameters:
        name, place = param["name"], param["in"]
        if name not in case.parameters or case.parameters[name] is None:
            if place == "path":
                expected_path = expected_path.replace("{" + name + "}", "[^/]+")
            continue
        value = case.parameters[name]
        if place == "path":
            expected_path = expected_path.replace("{" + name + "}", _path_text(param, value))
        elif place == "query":
            query[name] = wire_form(param, value)
        elif place == "header":
            sent = handler.headers.get(name)
            if sent != wire_form(param, value)[0]:
                problems.append(f"header {name}: {sent!r}, expected {value!r}")
        elif place == "body":
            try:
                document = json.loads(body) if body else None
            except ValueError:
                document = "<not JSON>"
            if not same_json(document, value):
                problems.append(f"body {document!r}, expected {value!r}")
    # Compared still encoded: "a%2Fb" (one segment) and "a/b" (two) are different paths.
    pattern = "[^/]+".join(re.escape(part) for part in expected_path.split("[^/]+"))
    if not re.fullmatch(pattern, split.path):
        problems.append(f"path {split.path}, expected {expected_path}")
    sent_query = parse_qs(split.query, keep_blank_values=True)
    if not _same_query(sent_query, query, declared):
        problems.append(f"query {sent_query}, expected {query}")
    return problems


def _path_text(spec_param: Dict[str, Any], value: Any) -> str:
    """A path parameter's value as Amazon expects it on the wire: percent-encoded."""
    if spec_param.get("x-amazon-spds-greedy-path-parameter"):  # a path of its own
        return "/".join(quote(part, safe="") for part in str(value).lstrip("/").split("/"))
    return quote(str(value), safe="")


def _same_query(sent: Dict[str, List[str]], expected: Dict[str, List[str]], declared: Any) -> bool:
    if not set(sent) <= set(declared):
        return False
    for name, values in expected.items():
        if name not in sent:
            return False
        if sent[name] != values and not _same_numbers(sent[name], values):
            return False
    return True


def _same_numbers(sent: List[str], expected: List[str]) -> bool:
    try:
        return [float(v) for v in sent] == [float(v) for v in expected]
    except ValueError:
        return [_instant(v) for v in sent] == [_instant(v) for v in expected] and all(
            _instant(v) is not None for v in expected
        )


def split_arguments(
    case: Case, python_names: Dict[Tuple[str, str], str], definitions: Dict[str, Any]
) -> Tuple[Dict[str, Any], Any]:
    """``(keyword arguments, body)`` for the generated method, from the case's parameters.

    A required parameter the case leaves out gets a placeholder: Amazon's sandbox matches a
    case on the parameters it names and takes anything for the others.
    """
    kwargs: Dict[str, Any] = {}
    body: Any = None
    for param in case.spec_parameters:
        name = param["name"]
        if name in case.parameters:
            value = case.parameters[name]
        elif name in ("marketplaceIds", "marketplaceId"):
            value = [_MARKETPLACE] if param.get("type") == "array" else _MARKETPLACE
        elif param.get("required") or param["in"] == "path":
            value = placeholder(param.get("schema", param), definitions)
        else:
            continue
        if param["in"] == "body":
            body = value
        elif value is not None:
            kwargs[python_names[(param["in"], name)]] = python_value(param, value)
    return kwargs, body
