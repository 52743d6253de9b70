"""The local Messaging sandbox (``py_sp_api.testing``) behaves as docs/testing.md says.

Static cases are derived from the bundled spec and replayed through the client; validation,
options, recording, lifecycle and the command line are exercised with raw urllib3 requests, so
the client's own argument checks never stop a request the sandbox is meant to judge.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import pytest
import urllib3

from py_sp_api import NO_RETRIES
from py_sp_api.generated.messaging import (
    ApiClient,
    ApiException,
    BadRequestException,
    CreateConfirmOrderDetailsRequest,
    ForbiddenException,
    MessagingApi,
    NotFoundException,
    ServiceException,
    TooManyRequestsException,
    UnsupportedMediaTypeException,
)
from py_sp_api.generated.messaging.operations import OPERATIONS
from py_sp_api.testing import MessagingSandbox, SandboxRequest, messaging_sandbox

REPO = Path(__file__).resolve().parents[1]
SPEC: Dict[str, Any] = json.loads(
    (REPO / "py_sp_api" / "specs" / "messaging.json").read_text(encoding="utf-8")
)

MARKETPLACE = "ATVPDKIKX0DER"
ANY_ORDER = "902-3159896-1390916"
REQUEST_ID = "x-amzn-RequestId"
RATE_LIMIT = "x-amzn-RateLimit-Limit"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ATTACHMENT = {"uploadDestinationId": "4e936e26-7b72-4b84-af27-e6baee1d546d", "fileName": "a.pdf"}

TYPED_EXCEPTIONS = {
    400: BadRequestException,
    403: ForbiddenException,
    404: NotFoundException,
    415: UnsupportedMediaTypeException,
    429: TooManyRequestsException,
    500: ServiceException,
    503: ServiceException,
}

# A small valid body for every operation that takes one (the schemas require no field).
MINIMAL_BODIES: Dict[str, Dict[str, Any]] = {
    "confirm_customization_details": {"text": "x"},
    "create_confirm_delivery_details": {"text": "x"},
    "create_confirm_order_details": {"text": "x"},
    "create_confirm_service_details": {"text": "x"},
    "create_digital_access_key": {"text": "x"},
    "create_unexpected_problem": {"text": "x"},
    "create_amazon_motors": {"attachments": [ATTACHMENT]},
    "create_legal_disclosure": {"attachments": [ATTACHMENT]},
    "create_warranty": {"attachments": [ATTACHMENT]},
    "send_invoice": {"attachments": [ATTACHMENT]},
}


# -- what the spec says ----------------------------------------------------------------------


class SpecOperation:
    """One operation of the spec, named by its client method."""

    def __init__(self, path: str, method: str, spec: Dict[str, Any]) -> None:
        by_id = {op.operation_id: name for name, op in OPERATIONS.items()}
        self.name: str = by_id[spec["operationId"]]
        self.path = path
        self.method = method.upper()
        self.spec = spec
        body = [p for p in spec.get("parameters", []) if p["in"] == "body"]
        self.takes_body = bool(body)
        self.body_required = bool(body and body[0].get("required"))
        self.success = min(int(code) for code in spec["responses"] if code.startswith("2"))

    def url_path(self, order_id: str) -> str:
        return self.path.replace("{amazonOrderId}", order_id)


SPEC_OPERATIONS: List[SpecOperation] = [
    SpecOperation(path, method, op)
    for path, item in SPEC["paths"].items()
    for method, op in item.items()
    if isinstance(op, dict) and "operationId" in op
]
BY_NAME: Dict[str, SpecOperation] = {op.name: op for op in SPEC_OPERATIONS}
BODY_OPERATIONS = sorted(op.name for op in SPEC_OPERATIONS if op.takes_body)
POST_KINDS = sorted(op.path.rsplit("/", 1)[1] for op in SPEC_OPERATIONS if op.method == "POST")


def _static_cases() -> List[Any]:
    cases = []
    for op in SPEC_OPERATIONS:
        for code, response in sorted(op.spec["responses"].items()):
            static = response.get("x-amzn-api-sandbox", {}).get("static", [])
            for number, case in enumerate(static):
                cases.append(
                    pytest.param(op.name, int(code), case, id=f"{op.name}-{code}-{number}")
                )
    return cases


STATIC_CASES = _static_cases()


def case_call(name: str, case: Dict[str, Any]) -> Tuple[str, str, Optional[Dict[str, Any]]]:
    """The order id, marketplace and JSON body a static case stands for."""
    params = case.get("request", {}).get("parameters", {})
    order_id = params["amazonOrderId"]["value"]
    marketplace = params.get("marketplaceIds", {}).get("value", MARKETPLACE)
    if isinstance(marketplace, list):
        (marketplace,) = marketplace
    if "body" in params:
        body: Optional[Dict[str, Any]] = params["body"]["value"]
    elif BY_NAME[name].body_required:
        body = MINIMAL_BODIES[name]
    else:
        body = None
    return order_id, marketplace, body


# -- helpers ---------------------------------------------------------------------------------

TIMEOUT = urllib3.Timeout(connect=2.0, read=5.0)


class Answer:
    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.data = response.data

    @property
    def json(self) -> Any:
        return json.loads(self.data)


def send(
    sandbox: MessagingSandbox,
    method: str,
    path: str,
    *,
    query: Optional[str] = "marketplaceIds=" + MARKETPLACE,
    body: Any = None,
    raw_body: Optional[bytes] = None,
    content_type: Optional[str] = "application/json",
    headers: Optional[Mapping[str, str]] = None,
) -> Answer:
    """One raw request on a fresh connection; ``body`` is sent as JSON, ``raw_body`` as given.

    A fresh connection each time: on a kept-alive connection every sandbox answer comes
    ~40 ms late (headers and body leave in two TCP segments; Nagle meets delayed ACK).
    """
    sent_headers = dict(headers or {})
    payload = raw_body
    if body is not None:
        payload = json.dumps(body).encode()
    if payload is not None and content_type is not None:
        sent_headers["Content-Type"] = content_type
    target = sandbox.url + path + (f"?{query}" if query is not None else "")
    with urllib3.PoolManager(retries=False, timeout=TIMEOUT) as pool:
        return Answer(pool.request(method, target, body=payload, headers=sent_headers))


def send_op(
    sandbox: MessagingSandbox,
    name: str,
    order_id: str = ANY_ORDER,
    *,
    body: Any = "minimal",
    **kwargs: Any,
) -> Answer:
    op = BY_NAME[name]
    if isinstance(body, str) and body == "minimal":
        body = MINIMAL_BODIES.get(name)
    return send(sandbox, op.method, op.url_path(order_id), body=body, **kwargs)


def errors_of(answer: Answer) -> List[Dict[str, Any]]:
    """The ``errors`` of an error answer, checked to be exactly Amazon's shape."""
    assert answer.headers.get("Content-Type") == "application/json", answer.headers
    document = answer.json
    assert isinstance(document, dict)
    assert list(document) == ["errors"], document
    assert isinstance(document["errors"], list)
    assert len(document["errors"]) >= 1
    for error in document["errors"]:
        assert sorted(error) == ["code", "details", "message"], error
        assert all(isinstance(value, str) for value in error.values()), error
    errors: List[Dict[str, Any]] = document["errors"]
    return errors


def invalid_body(details: str) -> List[Dict[str, str]]:
    return [{"code": "InvalidInput", "message": "Invalid request body", "details": details}]


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[MessagingSandbox]:
    yield from messaging_sandbox()


@pytest.fixture
def sandbox(shared_sandbox: MessagingSandbox) -> MessagingSandbox:
    """A running sandbox with default options and nothing recorded yet."""
    shared_sandbox.reset()
    return shared_sandbox


@pytest.fixture
def make_sandbox(request: pytest.FixtureRequest) -> Any:
    def factory(**options: Any) -> MessagingSandbox:
        started = MessagingSandbox(**options).start()
        request.addfinalizer(started.stop)
        return started

    return factory


def test_the_spec_has_the_cases_the_docs_describe() -> None:
    # Derived lists are not empty and cover every operation, each with a success and a 400 case.
    assert len(SPEC_OPERATIONS) == 13 == len(OPERATIONS)
    assert sorted(MINIMAL_BODIES) == BODY_OPERATIONS
    seen = {(name, status) for name, status, _ in (p.values for p in STATIC_CASES)}
    for op in SPEC_OPERATIONS:
        assert (op.name, op.success) in seen
        assert (op.name, 400) in seen
    assert len(STATIC_CASES) == 26


# -- static cases, through the client ----------------------------------------------------------


@pytest.mark.parametrize(("name", "status", "case"), STATIC_CASES)
def test_static_case_replayed_through_the_client(
    sandbox: MessagingSandbox, name: str, status: int, case: Dict[str, Any]
) -> None:
    order_id, marketplace, body = case_call(name, case)
    args: Tuple[Any, ...] = (order_id, [marketplace])
    if BY_NAME[name].takes_body:
        model = OPERATIONS[name].body_model
        assert model is not None
        args += (model.from_dict(body),)
    expected = case.get("response", {})
    with ApiClient(sandbox.configuration(retry=NO_RETRIES)) as client:
        call = getattr(MessagingApi(client), f"{name}_with_http_info")
        if status < 300:
            response = call(*args)
            assert response.status_code == status
            assert json.loads(response.raw_data) == expected
        else:
            with pytest.raises(ApiException) as caught:
                call(*args)
            assert type(caught.value) is TYPED_EXCEPTIONS[status]
            assert caught.value.status == status
            got = [
                {"code": e.code, "message": e.message, "details": e.details}
                for e in caught.value.errors
            ]
            assert got == expected["errors"]
    (recorded,) = sandbox.requests
    assert (recorded.operation, recorded.order_id, recorded.status) == (name, order_id, status)
    assert recorded.json == body


@pytest.mark.parametrize(("name", "status", "case"), STATIC_CASES)
def test_static_case_raw_answer_and_headers(
    sandbox: MessagingSandbox, name: str, status: int, case: Dict[str, Any]
) -> None:
    order_id, marketplace, body = case_call(name, case)
    answer = send_op(sandbox, name, order_id, body=body, query=f"marketplaceIds={marketplace}")
    assert answer.status == status
    assert answer.json == case.get("response", {})
    assert UUID.match(answer.headers.get(REQUEST_ID, "")), answer.headers
    assert float(answer.headers[RATE_LIMIT]) == OPERATIONS[name].rate_limit.rate


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("GET", "/messaging/v1/orders"),
        ("GET", "/messaging/v2/orders/902-3159896-1390916/attributes"),
        ("GET", "/messaging/v1/orders/902-3159896-1390916/attributes/extra"),
        ("POST", "/messaging/v1/orders/902-3159896-1390916/messages/unknownKind"),
    ],
)
def test_unknown_path_is_404_with_an_errors_list(
    sandbox: MessagingSandbox, method: str, path: str
) -> None:
    answer = send(sandbox, method, path, body=None if method == "GET" else {"text": "x"})
    assert answer.status == 404
    (error,) = errors_of(answer)
    assert error["code"] == "NotFound"
    assert path in error["message"]
    assert sandbox.requests[-1].status == 404
    assert sandbox.requests[-1].operation is None


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("POST", "get_attributes"),
        ("DELETE", "get_attributes"),
        ("POST", "get_messaging_actions_for_order"),
        ("GET", "create_warranty"),
        ("PUT", "create_warranty"),
        ("PATCH", "send_invoice"),
        ("OPTIONS", "get_attributes"),
    ],
)
def test_wrong_method_on_a_known_path_is_405(
    sandbox: MessagingSandbox, method: str, name: str
) -> None:
    path = BY_NAME[name].url_path(ANY_ORDER)
    answer = send(sandbox, method, path)
    assert answer.status == 405, (answer.headers, answer.data)
    (error,) = errors_of(answer)
    assert f"{method} {path}" in error["message"]
    assert UUID.match(answer.headers.get(REQUEST_ID, "")), answer.headers


@pytest.mark.parametrize("name", ["get_attributes", "create_confirm_order_details"])
@pytest.mark.parametrize("query", [None, "", "marketplaceIds=", "other=ATVPDKIKX0DER"])
def test_missing_marketplace_ids_is_400(
    sandbox: MessagingSandbox, name: str, query: Optional[str]
) -> None:
    answer = send_op(sandbox, name, query=query)
    assert answer.status == 400
    assert errors_of(answer) == [
        {
            "code": "InvalidInput",
            "message": "Missing required parameter: marketplaceIds",
            "details": "",
        }
    ]


def test_two_comma_separated_marketplace_ids_are_400(sandbox: MessagingSandbox) -> None:
    answer = send_op(sandbox, "get_attributes", query="marketplaceIds=ATVPDKIKX0DER,A2EUQ1WTGCTBG2")
    assert answer.status == 400
    assert errors_of(answer) == [
        {
            "code": "InvalidInput",
            "message": "marketplaceIds accepts one marketplace",
            "details": "Got 2: ATVPDKIKX0DER,A2EUQ1WTGCTBG2",
        }
    ]


@pytest.mark.parametrize("name", ["get_attributes", "create_warranty"])
def test_repeated_marketplace_ids_parameter_is_400(sandbox: MessagingSandbox, name: str) -> None:
    # Two ids sent the other common way (a repeated parameter) are still two ids.
    query = "marketplaceIds=ATVPDKIKX0DER&marketplaceIds=A2EUQ1WTGCTBG2"
    answer = send_op(sandbox, name, query=query)
    assert answer.status == 400, answer.data
    (error,) = errors_of(answer)
    assert error["code"] == "InvalidInput"
    assert "marketplaceIds" in error["message"]


@pytest.mark.parametrize(
    ("name", "body", "details"),
    [
        pytest.param(
            "create_confirm_order_details",
            {"text": "x" * 2001},
            "body.text must be at most 2000 characters long",
            id="text-over-2000",
        ),
        pytest.param(
            "confirm_customization_details",
            {"text": "x" * 801},
            "body.text must be at most 800 characters long",
            id="text-over-800",
        ),
        pytest.param(
            "create_digital_access_key",
            {"text": "x" * 401},
            "body.text must be at most 400 characters long",
            id="text-over-400",
        ),
        pytest.param(
            "create_unexpected_problem",
            {"text": ""},
            "body.text must be at least 1 character(s) long",
            id="text-empty",
        ),
        pytest.param(
            "send_invoice",
            {"attachments": [ATTACHMENT] * 6},
            "body.attachments must have at most 5 item(s)",
            id="six-attachments",
        ),
        pytest.param(
            "create_warranty",
            {"attachments": []},
            "body.attachments must have at least 1 item(s)",
            id="no-attachment",
        ),
        pytest.param(
            "create_legal_disclosure",
            {"attachments": [ATTACHMENT, {"uploadDestinationId": "u-1"}]},
            "body.attachments[1].fileName is required",
            id="attachment-without-fileName",
        ),
        pytest.param(
            "create_amazon_motors",
            {"attachments": [{}]},
            "body.attachments[0].fileName is required; "
            "body.attachments[0].uploadDestinationId is required",
            id="empty-attachment",
        ),
        pytest.param(
            "create_confirm_delivery_details",
            ["text"],
            "body must be of type object",
            id="array-instead-of-object",
        ),
        pytest.param(
            "create_confirm_service_details",
            {"text": 42},
            "body.text must be of type string",
            id="number-instead-of-string",
        ),
        pytest.param(
            "send_invoice",
            {"attachments": "invoice.pdf"},
            "body.attachments must be of type array",
            id="string-instead-of-array",
        ),
        pytest.param(
            "create_amazon_motors",
            {"attachments": [{"uploadDestinationId": "u-1", "fileName": True}]},
            "body.attachments[0].fileName must be of type string",
            id="boolean-instead-of-string",
        ),
        pytest.param(
            "create_warranty",
            {"attachments": [ATTACHMENT], "coverageStartDate": "next Monday"},
            "body.coverageStartDate must be an ISO 8601 date-time with an offset",
            id="not-a-date-time",
        ),
        pytest.param(
            "create_warranty",
            {"attachments": [ATTACHMENT], "coverageEndDate": "2025-01-01T00:00:00"},
            "body.coverageEndDate must be an ISO 8601 date-time with an offset",
            id="date-time-without-offset",
        ),
    ],
)
def test_body_breaking_the_schema_is_400_naming_the_field(
    sandbox: MessagingSandbox, name: str, body: Any, details: str
) -> None:
    answer = send_op(sandbox, name, body=body)
    assert answer.status == 400
    assert errors_of(answer) == invalid_body(details)
    assert sandbox.requests[-1].operation == name


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("create_confirm_order_details", {"text": "x" * 2000}),
        ("confirm_customization_details", {"text": "x" * 800, "attachments": [ATTACHMENT] * 5}),
        ("create_digital_access_key", {"text": "\u00e9" * 400}),
        ("send_invoice", {"attachments": [ATTACHMENT] * 5}),
        ("create_legal_disclosure", {}),
    ],
)
def test_body_at_the_schema_limits_is_accepted(
    sandbox: MessagingSandbox, name: str, body: Any
) -> None:
    answer = send_op(sandbox, name, body=body)
    assert answer.status == 201
    assert answer.json == {}


@pytest.mark.parametrize(
    "moment",
    [
        "2024-05-01T00:00:00Z",
        "2024-05-01T00:00:00+02:00",
        "2024-05-01T00:00:00.618-08:00",
        "2024-05-01T00:00:00.5Z",
        "2024-05-01T00:00:00.123456789Z",
    ],
)
def test_rfc3339_date_times_are_accepted(sandbox: MessagingSandbox, moment: str) -> None:
    # Any RFC 3339 date-time (Swagger's date-time) is valid, whatever the Python version.
    body = {"attachments": [ATTACHMENT], "coverageStartDate": moment, "coverageEndDate": moment}
    answer = send_op(sandbox, "create_warranty", body=body)
    assert answer.status == 201, answer.data


@pytest.mark.parametrize(
    ("name", "raw_body", "message"),
    [
        ("create_confirm_order_details", b'{"text": ', "The request body is not valid JSON"),
        ("send_invoice", b"attachments=a.pdf", "The request body is not valid JSON"),
        ("create_warranty", b"\xff\xfe{}", "The request body is not valid JSON"),
        ("create_confirm_order_details", b"", "The request body is required"),
        ("create_warranty", b"  \n", "The request body is required"),
        ("send_invoice", b"null", "The request body is required"),
    ],
)
def test_unreadable_or_missing_body_is_400(
    sandbox: MessagingSandbox, name: str, raw_body: bytes, message: str
) -> None:
    op = BY_NAME[name]
    answer = send(sandbox, op.method, op.url_path(ANY_ORDER), raw_body=raw_body)
    assert answer.status == 400
    assert errors_of(answer) == [{"code": "InvalidInput", "message": message, "details": ""}]


@pytest.mark.parametrize(
    ("content_type", "got"),
    [
        ("text/plain", "text/plain"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        ("application/xml; charset=utf-8", "application/xml"),
        (None, "none"),
    ],
)
def test_body_that_is_not_json_is_415(
    sandbox: MessagingSandbox, content_type: Optional[str], got: str
) -> None:
    answer = send_op(
        sandbox, "create_confirm_order_details", body={"text": "x"}, content_type=content_type
    )
    assert answer.status == 415
    assert errors_of(answer) == [
        {
            "code": "UnsupportedMediaType",
            "message": "Content-Type must be application/json",
            "details": f"Got {got}",
        }
    ]


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON"])
def test_json_content_type_with_parameters_or_other_case_is_accepted(
    sandbox: MessagingSandbox, content_type: str
) -> None:
    answer = send_op(sandbox, "create_unexpected_problem", content_type=content_type)
    assert answer.status == 201


def test_415_through_the_client_is_typed(sandbox: MessagingSandbox) -> None:
    model = OPERATIONS["create_confirm_order_details"].body_model
    assert model is not None
    assert issubclass(model, CreateConfirmOrderDetailsRequest)
    body = model.from_dict({"text": "x"})
    with ApiClient(sandbox.configuration(retry=NO_RETRIES)) as client:
        api = MessagingApi(client)
        with pytest.raises(UnsupportedMediaTypeException) as caught:
            api.create_confirm_order_details_with_http_info(
                ANY_ORDER, [MARKETPLACE], body, _headers={"Content-Type": "text/plain"}
            )
    assert caught.value.status == 415
    assert [e.code for e in caught.value.errors] == ["UnsupportedMediaType"]


def test_chunked_json_body_is_read(sandbox: MessagingSandbox) -> None:
    # A valid body sent with Transfer-Encoding: chunked (no Content-Length) is still a body.
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "Your parcel '
        yield b'ships today."}'

    op = BY_NAME["create_confirm_order_details"]
    with urllib3.PoolManager(retries=False, timeout=TIMEOUT) as pool:
        response = pool.request(
            "POST",
            f"{sandbox.url}{op.url_path(ANY_ORDER)}?marketplaceIds={MARKETPLACE}",
            body=chunks(),
            headers={"Content-Type": "application/json"},
            chunked=True,
        )
    assert response.status == 201, response.data
    assert sandbox.requests[-1].json == {"text": "Your parcel ships today."}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_valid_request_for_any_order_id_succeeds(sandbox: MessagingSandbox, name: str) -> None:
    answer = send_op(sandbox, name, ANY_ORDER)
    assert answer.status == BY_NAME[name].success == OPERATIONS[name].success_status
    assert answer.headers["Content-Type"] == "application/hal+json"
    if name == "get_attributes":
        assert answer.json == {"buyer": {"locale": "en-US"}}
    elif name != "get_messaging_actions_for_order":
        assert answer.json == {}
    (recorded,) = sandbox.requests
    assert (recorded.operation, recorded.order_id, recorded.status) == (
        name,
        ANY_ORDER,
        answer.status,
    )


def _hrefs(document: Any) -> List[str]:
    if isinstance(document, dict):
        found = [document["href"]] if isinstance(document.get("href"), str) else []
        return found + [h for v in document.values() for h in _hrefs(v)]
    if isinstance(document, list):
        return [h for v in document for h in _hrefs(v)]
    return []


@pytest.mark.parametrize(
    ("order_id", "marketplace"),
    [(ANY_ORDER, MARKETPLACE), ("205-0000001-7654321", "A1PA6795UKMFR9")],
)
def test_messaging_actions_are_hal_links_for_that_order(
    sandbox: MessagingSandbox, order_id: str, marketplace: str
) -> None:
    answer = send_op(
        sandbox, "get_messaging_actions_for_order", order_id, query=f"marketplaceIds={marketplace}"
    )
    assert answer.status == 200
    document = answer.json
    base = f"/messaging/v1/orders/{order_id}"
    links = document["_links"]
    assert sorted(links) == ["actions", "self"]
    assert links["self"] == {"href": f"{base}?marketplaceIds={marketplace}"}
    assert sorted(links["actions"], key=lambda a: a["name"]) == [
        {"href": f"{base}/messages/{kind}?marketplaceIds={marketplace}", "name": kind}
        for kind in POST_KINDS
    ]
    hrefs = _hrefs(document)
    assert len(hrefs) > len(POST_KINDS)
    assert all(h.startswith(base + "?") or h.startswith(base + "/") for h in hrefs), hrefs

    # The links are usable: each action link answers with its operation's success.
    for action in document["_links"]["actions"]:
        name = next(op.name for op in SPEC_OPERATIONS if op.path.endswith("/" + action["name"]))
        path, query = action["href"].split("?", 1)
        followed = send(sandbox, "POST", path, query=query, body=MINIMAL_BODIES.get(name))
        assert followed.status == 201, (action, followed.data)
        assert sandbox.requests[-1].operation == name
        assert sandbox.requests[-1].order_id == order_id


def test_messaging_actions_through_the_client_name_every_post_operation(
    sandbox: MessagingSandbox,
) -> None:
    with ApiClient(sandbox.configuration()) as client:
        api = MessagingApi(client)
        actions = api.get_messaging_actions_for_order(ANY_ORDER, [MARKETPLACE])
        allowed = api.available_actions(actions)
    assert sorted(allowed) == sorted(op.name for op in SPEC_OPERATIONS if op.method == "POST")


def _answers_of_every_kind(sandbox: MessagingSandbox) -> Dict[str, Answer]:
    sandbox.fail("create_amazon_motors", status=503)
    return {
        "200": send_op(sandbox, "get_attributes"),
        "201": send_op(sandbox, "send_invoice"),
        "400 static": send_op(sandbox, "get_attributes", "123-1234567-0000000"),
        "400 marketplace": send_op(sandbox, "get_attributes", query=None),
        "400 body": send_op(sandbox, "send_invoice", body={"attachments": []}),
        "415": send_op(sandbox, "create_warranty", content_type="text/plain"),
        "503": send_op(sandbox, "create_amazon_motors"),
        "404": send(sandbox, "GET", "/messaging/v1/nothing-here"),
        "405": send(sandbox, "DELETE", BY_NAME["get_attributes"].url_path(ANY_ORDER)),
    }


def test_every_answer_carries_request_id_and_rate_limit(sandbox: MessagingSandbox) -> None:
    # docs/testing.md: every answer has a request id; answers for an operation (any path but
    # an unknown one, and any method the path takes) also state the operation's rate limit.
    answers = _answers_of_every_kind(sandbox)
    missing = {
        kind: [
            h
            for h in (REQUEST_ID, RATE_LIMIT)
            if h not in answer.headers and not (h == RATE_LIMIT and kind in ("404", "405"))
        ]
        for kind, answer in answers.items()
    }
    assert missing == {kind: [] for kind in answers}
    assert RATE_LIMIT not in answers["404"].headers
    request_ids = [answer.headers[REQUEST_ID] for answer in answers.values()]
    assert all(UUID.match(r) for r in request_ids), request_ids
    assert len(set(request_ids)) == len(request_ids)


def test_every_error_body_is_an_errors_list(sandbox: MessagingSandbox) -> None:
    answers = _answers_of_every_kind(sandbox)
    statuses = {kind: answer.status for kind, answer in answers.items()}
    assert statuses == {
        "200": 200,
        "201": 201,
        "400 static": 400,
        "400 marketplace": 400,
        "400 body": 400,
        "415": 415,
        "503": 503,
        "404": 404,
        "405": 405,
    }
    for kind, answer in answers.items():
        if answer.status >= 400:
            assert len(errors_of(answer)) == 1, kind


# -- options -----------------------------------------------------------------------------------


def test_enforced_usage_plan_answers_429_after_the_burst(make_sandbox: Any) -> None:
    sandbox = make_sandbox(enforce_rate_limits=True)
    statuses = [send_op(sandbox, "get_attributes").status for _ in range(5)]
    throttled = send_op(sandbox, "get_attributes")
    assert statuses == [200] * 5
    assert throttled.status == 429
    assert errors_of(throttled) == [
        {
            "code": "QuotaExceeded",
            "message": "You exceeded your quota for the requested resource.",
            "details": "",
        }
    ]
    assert float(throttled.headers[RATE_LIMIT]) == 1.0
    assert UUID.match(throttled.headers.get(REQUEST_ID, ""))
    # One bucket per operation: another operation still has its whole burst.
    assert send_op(sandbox, "get_messaging_actions_for_order").status == 200
    assert [r.status for r in sandbox.requests_for("get_attributes")] == [200] * 5 + [429]


def test_enforced_usage_plan_through_the_client_is_typed(make_sandbox: Any) -> None:
    sandbox = make_sandbox(enforce_rate_limits=True)
    config = sandbox.configuration(retry=NO_RETRIES, rate_limiting=False)
    with ApiClient(config) as client:
        api = MessagingApi(client)
        for _ in range(5):
            assert api.get_attributes_with_http_info(ANY_ORDER, [MARKETPLACE]).status_code == 200
        with pytest.raises(TooManyRequestsException) as caught:
            api.get_attributes(ANY_ORDER, [MARKETPLACE])
    assert caught.value.status == 429
    assert [e.code for e in caught.value.errors] == ["QuotaExceeded"]


def test_rate_limits_override_the_burst(make_sandbox: Any) -> None:
    sandbox = make_sandbox(enforce_rate_limits=True, rate_limits={"get_attributes": (0.001, 2)})
    assert [send_op(sandbox, "get_attributes").status for _ in range(3)] == [200, 200, 429]
    others = [send_op(sandbox, "get_messaging_actions_for_order").status for _ in range(6)]
    assert others == [200] * 5 + [429]


def test_rate_limits_override_the_rate(make_sandbox: Any) -> None:
    sandbox = make_sandbox(enforce_rate_limits=True, rate_limits={"get_attributes": (20.0, 5)})
    first = send_op(sandbox, "get_attributes")
    assert first.headers[RATE_LIMIT] == "20"
    assert send_op(sandbox, "get_messaging_actions_for_order").headers[RATE_LIMIT] == "1"
    statuses = [first.status]
    while statuses[-1] != 429 and len(statuses) < 100:
        statuses.append(send_op(sandbox, "get_attributes").status)
    assert statuses[-1] == 429
    assert statuses[:5] == [200] * 5
    time.sleep(0.2)  # 20 req/s: at least 4 tokens back
    assert send_op(sandbox, "get_attributes").status == 200


def test_rate_limits_without_enforcement_never_throttle(make_sandbox: Any) -> None:
    sandbox = make_sandbox(rate_limits={"get_attributes": (0.001, 1)})
    assert [send_op(sandbox, "get_attributes").status for _ in range(8)] == [200] * 8


def test_buckets_are_per_access_token(make_sandbox: Any) -> None:
    sandbox = make_sandbox(enforce_rate_limits=True)

    def burst(token: Optional[str]) -> List[int]:
        headers = {} if token is None else {"x-amz-access-token": token}
        return [send_op(sandbox, "get_attributes", headers=headers).status for _ in range(6)]

    assert burst("Atza|seller-one") == [200] * 5 + [429]
    assert burst("Atza|seller-two") == [200] * 5 + [429]
    assert burst(None) == [200] * 5 + [429]
    one = {"x-amz-access-token": "Atza|seller-one"}
    assert send_op(sandbox, "get_attributes", headers=one).status == 429


def test_required_access_token(make_sandbox: Any) -> None:
    sandbox = make_sandbox(require_access_token=True)
    denied = send_op(sandbox, "get_attributes")
    assert denied.status == 403
    # Amazon's answer to a missing token has no "details" (amzn/selling-partner-api-models
    # issues 736 and 1227 quote it).
    assert denied.json == {
        "errors": [
            {
                "code": "MissingAuthenticationToken",
                "message": "Access to requested resource is denied.",
            }
        ]
    }
    assert float(denied.headers[RATE_LIMIT]) == 1.0
    assert send_op(sandbox, "get_attributes", headers={"x-amz-access-token": ""}).status == 403
    token = {"x-amz-access-token": "Atza|abc"}
    assert send_op(sandbox, "get_attributes", headers=token).status == 200
    assert send_op(sandbox, "create_warranty", headers=token).status == 201
    assert [r.status for r in sandbox.requests] == [403, 403, 200, 201]


def test_access_token_not_required_by_default(sandbox: MessagingSandbox) -> None:
    assert send_op(sandbox, "create_warranty").status == 201


def test_injected_failures_hit_only_that_operation(sandbox: MessagingSandbox) -> None:
    sandbox.fail("create_warranty", status=503, times=2)
    model = OPERATIONS["create_warranty"].body_model
    assert model is not None
    warranty = model.from_dict(MINIMAL_BODIES["create_warranty"])
    config = sandbox.configuration(retry=NO_RETRIES, rate_limiting=False)
    with ApiClient(config) as client:
        api = MessagingApi(client)
        for _ in range(2):
            with pytest.raises(ServiceException) as caught:
                api.create_warranty(ANY_ORDER, [MARKETPLACE], warranty)
            assert caught.value.status == 503
            got = [(e.code, e.message, e.details) for e in caught.value.errors]
            assert got == [("InternalFailure", "We encountered an internal error.", "")]
            assert api.get_attributes_with_http_info(ANY_ORDER, [MARKETPLACE]).status_code == 200
        response = api.create_warranty_with_http_info(ANY_ORDER, [MARKETPLACE], warranty)
        assert response.status_code == 201
    assert [r.status for r in sandbox.requests_for("create_warranty")] == [503, 503, 201]
    assert [r.status for r in sandbox.requests_for("get_attributes")] == [200, 200]


@pytest.mark.parametrize("status", [500, 503])
def test_injected_failure_defaults_to_once(sandbox: MessagingSandbox, status: int) -> None:
    sandbox.fail("get_attributes", status=status)
    assert [send_op(sandbox, "get_attributes").status for _ in range(3)] == [status, 200, 200]


def test_injected_failure_default_status_is_503(sandbox: MessagingSandbox) -> None:
    sandbox.fail("send_invoice")
    answer = send_op(sandbox, "send_invoice")
    assert answer.status == 503
    assert errors_of(answer)[0]["code"] == "InternalFailure"
    assert send_op(sandbox, "send_invoice").status == 201


def test_fail_with_an_unknown_operation_raises_value_error() -> None:
    sandbox = MessagingSandbox()
    with pytest.raises(ValueError, match="unknown operation 'send_postcard'"):
        sandbox.fail("send_postcard")
    with sandbox, pytest.raises(ValueError, match="unknown operation 'getAttributesX'"):
        sandbox.fail("getAttributesX", status=500)


def test_fail_accepting_an_operation_id_makes_it_fail(sandbox: MessagingSandbox) -> None:
    # fail() accepts the spec's operationId as well as the method name; accepted means applied.
    sandbox.fail("CreateWarranty", status=500)
    assert [send_op(sandbox, "create_warranty").status for _ in range(2)] == [500, 201]


# -- recording ---------------------------------------------------------------------------------


def test_requests_are_recorded_in_order(sandbox: MessagingSandbox) -> None:
    send_op(
        sandbox,
        "get_attributes",
        headers={"X-Amz-Access-Token": "Atza|rec", "X-Trace-Id": "t-1"},
    )
    body = {"text": "Your order ships \u2014 today."}
    send_op(sandbox, "create_confirm_order_details", "902-1234567-7654321", body=body)
    send(sandbox, "GET", "/messaging/v1/orders/ab%20c%2Fd/attributes", query="marketplaceIds=A&x=")
    send(sandbox, "GET", "/nothing", query=None)

    recorded = sandbox.requests
    assert [r.method for r in recorded] == ["GET", "POST", "GET", "GET"]
    assert [r.path for r in recorded] == [
        f"/messaging/v1/orders/{ANY_ORDER}/attributes",
        "/messaging/v1/orders/902-1234567-7654321/messages/confirmOrderDetails",
        "/messaging/v1/orders/ab%20c%2Fd/attributes",
        "/nothing",
    ]
    assert [r.query for r in recorded] == [
        {"marketplaceIds": MARKETPLACE},
        {"marketplaceIds": MARKETPLACE},
        {"marketplaceIds": "A", "x": ""},
        {},
    ]
    assert [r.operation for r in recorded] == [
        "get_attributes",
        "create_confirm_order_details",
        "get_attributes",
        None,
    ]
    assert [r.order_id for r in recorded] == [ANY_ORDER, "902-1234567-7654321", "ab c/d", None]
    # "ab c/d" is not an order id of Amazon's form: the simulator refuses it, as Amazon does.
    assert [r.status for r in recorded] == [200, 201, 400, 404]
    assert [r.body for r in recorded] == [b"", json.dumps(body).encode(), b"", b""]
    assert [r.json for r in recorded] == [None, body, None, None]
    for r in recorded:
        assert isinstance(r, SandboxRequest)
        assert all(name == name.lower() for name in r.headers), r.headers
    assert recorded[0].headers["x-amz-access-token"] == "Atza|rec"
    assert recorded[0].headers["x-trace-id"] == "t-1"
    assert recorded[1].headers["content-type"] == "application/json"
    assert recorded[1].headers["content-length"] == str(len(json.dumps(body).encode()))

    assert sandbox.requests_for("get_attributes") == [recorded[0], recorded[2]]
    assert sandbox.requests_for("create_confirm_order_details") == [recorded[1]]
    assert sandbox.requests_for("send_invoice") == []


def test_requests_from_the_client_are_recorded(sandbox: MessagingSandbox) -> None:
    model = OPERATIONS["create_confirm_order_details"].body_model
    assert model is not None
    assert issubclass(model, CreateConfirmOrderDetailsRequest)
    with ApiClient(sandbox.configuration()) as client:
        MessagingApi(client).create_confirm_order_details(
            "902-1234567-1234567", [MARKETPLACE], model.from_dict({"text": "Which colour?"})
        )
    (sent,) = sandbox.requests_for("create_confirm_order_details")
    assert sent.method == "POST"
    assert sent.order_id == "902-1234567-1234567"
    assert sent.query == {"marketplaceIds": MARKETPLACE}
    assert sent.json == {"text": "Which colour?"}
    assert sent.status == 201


def test_recorded_list_is_a_snapshot(sandbox: MessagingSandbox) -> None:
    snapshot = sandbox.requests
    send_op(sandbox, "get_attributes")
    assert snapshot == []
    snapshot.clear()
    assert len(sandbox.requests) == 1


def test_reset_forgets_requests_failures_and_buckets(make_sandbox: Any) -> None:
    sandbox = make_sandbox(enforce_rate_limits=True)
    assert [send_op(sandbox, "get_attributes").status for _ in range(6)][-1] == 429
    sandbox.fail("get_attributes", status=500, times=3)
    sandbox.fail("send_invoice", status=503)
    sandbox.reset()
    assert sandbox.requests == []
    assert sandbox.requests_for("get_attributes") == []
    assert [send_op(sandbox, "get_attributes").status for _ in range(5)] == [200] * 5
    assert send_op(sandbox, "send_invoice").status == 201
    assert [r.status for r in sandbox.requests] == [200] * 5 + [201]


# -- lifecycle ---------------------------------------------------------------------------------


def _connects(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def _port(url: str) -> int:
    match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)", url)
    assert match, url
    return int(match.group(1))


def test_context_manager_starts_and_stops() -> None:
    sandbox = MessagingSandbox()
    with pytest.raises(RuntimeError, match="not running"):
        _ = sandbox.url
    with sandbox as running:
        assert running is sandbox
        port = _port(sandbox.url)
        assert port != 0
        assert _connects(port)
        assert send_op(sandbox, "get_attributes").status == 200
    assert not _connects(port)
    with pytest.raises(RuntimeError, match="not running"):
        _ = sandbox.url
    with pytest.raises(RuntimeError):
        sandbox.configuration()


def test_start_twice_is_one_server_and_stop_twice_is_harmless() -> None:
    sandbox = MessagingSandbox()
    assert sandbox.start() is sandbox
    try:
        url = sandbox.url
        assert sandbox.start() is sandbox
        assert sandbox.url == url
    finally:
        sandbox.stop()
    sandbox.stop()
    assert not _connects(_port(url))


def test_stopped_sandbox_does_not_answer_on_a_kept_alive_connection() -> None:
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2.0, read=2.0))
    with MessagingSandbox() as sandbox:
        op = BY_NAME["get_attributes"]
        target = f"{sandbox.url}{op.url_path(ANY_ORDER)}?marketplaceIds={MARKETPLACE}"
        assert pool.request("GET", target).status == 200
    late: Optional[int] = None
    try:
        late = pool.request("GET", target).status
    except urllib3.exceptions.HTTPError:
        pass  # refused or dropped: stopped
    finally:
        pool.clear()
    assert late is None, f"a stopped sandbox answered {late} on a kept-alive connection"
    assert len(sandbox.requests) == 1


def test_two_sandboxes_get_different_free_ports() -> None:
    with MessagingSandbox() as one, MessagingSandbox() as two:
        assert _port(one.url) != _port(two.url)
        send_op(one, "get_attributes")
        send_op(two, "send_invoice")
        send_op(two, "send_invoice")
        assert [r.operation for r in one.requests] == ["get_attributes"]
        assert [r.operation for r in two.requests] == ["send_invoice", "send_invoice"]


def test_explicit_port_is_used() -> None:
    port = _free_port()
    with MessagingSandbox(port=port) as sandbox:
        assert sandbox.url == f"http://127.0.0.1:{port}"
        assert send_op(sandbox, "get_attributes").status == 200


def test_configuration_points_the_client_at_the_sandbox() -> None:
    with MessagingSandbox() as sandbox:
        config = sandbox.configuration(retry=NO_RETRIES, rate_limiting=False)
        assert config.host == sandbox.url
        assert config.retry is NO_RETRIES
        assert config.rate_limiting.enabled is False


def test_messaging_sandbox_generator_yields_a_running_sandbox_and_stops_it() -> None:
    generator = messaging_sandbox(require_access_token=True)
    sandbox = next(generator)
    assert isinstance(sandbox, MessagingSandbox)
    port = _port(sandbox.url)
    assert send_op(sandbox, "get_attributes").status == 403  # the options reached it
    assert send_op(sandbox, "get_attributes", headers={"x-amz-access-token": "t"}).status == 200
    generator.close()
    assert not _connects(port)
    with pytest.raises(RuntimeError):
        _ = sandbox.url


def test_messaging_sandbox_generator_stops_on_a_failing_test() -> None:
    generator = messaging_sandbox()
    sandbox = next(generator)
    port = _port(sandbox.url)
    with pytest.raises(AssertionError):
        generator.throw(AssertionError("the test failed"))
    assert not _connects(port)


# -- command line ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cli:
    """``python -m py_sp_api.testing`` in a subprocess, with its stdout read line by line."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "py_sp_api.testing", *args],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("LWA_")},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        stdout = self.process.stdout

        def read_lines() -> None:
            for line in stdout:
                self.lines.put(line)

        threading.Thread(target=read_lines, daemon=True).start()

    def first_line(self) -> str:
        try:
            return self.lines.get(timeout=15)
        except queue.Empty:
            self.process.kill()
            _, err = self.process.communicate(timeout=5)
            raise AssertionError(f"no output from the CLI; stderr: {err}") from None

    def interrupt(self) -> Tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=10)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        assert self.process.stderr is not None
        return code, self.process.stderr.read()


class _At:
    """Enough of a MessagingSandbox for ``send``: a url."""

    def __init__(self, url: str) -> None:
        self.url = url


def test_cli_on_port_0_prints_the_real_url_and_stops_on_sigint(tmp_path: Path) -> None:
    cli = Cli(tmp_path, "--port", "0")
    try:
        line = cli.first_line()
        match = re.fullmatch(
            r"Messaging sandbox on (http://127\.0\.0\.1:(\d+)) \(Ctrl-C to stop\)\n", line
        )
        assert match, line
        assert int(match.group(2)) != 0
        server: Any = _At(match.group(1))
        assert send_op(server, "get_attributes").json == {"buyer": {"locale": "en-US"}}
        assert send_op(server, "get_attributes", "123-1234567-0000000").status == 400
    finally:
        code, stderr = cli.interrupt()
    assert code == 0
    assert stderr == ""
    assert not _connects(int(match.group(2)))


def test_cli_on_a_chosen_port_with_both_switches(tmp_path: Path) -> None:
    port = _free_port()
    cli = Cli(tmp_path, "--port", str(port), "--enforce-rate-limits", "--require-access-token")
    try:
        line = cli.first_line()
        assert line == f"Messaging sandbox on http://127.0.0.1:{port} (Ctrl-C to stop)\n"
        server: Any = _At(f"http://127.0.0.1:{port}")
        assert send_op(server, "send_invoice").status == 403
        token = {"x-amz-access-token": "Atza|cli"}
        orders = [f"123-1234567-000000{i}" for i in range(6)]  # each order takes one invoice
        statuses = [
            send_op(server, "send_invoice", order, headers=token).status for order in orders
        ]
        assert statuses == [201] * 5 + [429]
    finally:
        code, stderr = cli.interrupt()
    assert code == 0
    assert stderr == ""


def test_cli_help_names_its_switches(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "py_sp_api.testing", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    for flag in ("--port", "--enforce-rate-limits", "--require-access-token", "--strict"):
        assert flag in result.stdout


# -- the sandbox's recorded requests -----------------------------------------------------------

SECRET_TOKEN = "Atza|IwEB-SECRET-ACCESS-TOKEN-4242"


def test_a_recorded_sandbox_request_hides_the_access_token() -> None:
    with MessagingSandbox() as sandbox:
        config = sandbox.configuration(access_token=SECRET_TOKEN, rate_limiting=False)
        with ApiClient(config) as client:
            MessagingApi(client).get_attributes(ANY_ORDER, [MARKETPLACE])
        recorded = sandbox.requests

    assert recorded[0].headers["x-amz-access-token"] == SECRET_TOKEN  # still there to check
    assert "'x-amz-access-token': '***'" in repr(recorded[0])
    for text in (repr(recorded[0]), str(recorded[0]), repr(recorded)):
        assert "SECRET-ACCESS-TOKEN" not in text


# -- the sandbox and a body sent where none is expected ----------------------------------------

SANDBOX_ODDITIES = [
    ("POST", "/messages/negativeFeedbackRemoval", b'{"text": "hi"}', 201),
    ("POST", "/messages/negativeFeedbackRemoval", b"not json", 201),
    ("GET", "/attributes", b'{"a": 1}', 200),
    ("GET", "/attributes", b"{bad", 200),
]


@pytest.mark.parametrize(
    ("method", "suffix", "body", "status"),
    SANDBOX_ODDITIES,
    ids=["post-json", "post-not-json", "get-json", "get-not-json"],
)
def test_the_sandbox_answers_a_body_sent_to_an_operation_without_one(
    method: str, suffix: str, body: bytes, status: int
) -> None:
    http = urllib3.PoolManager(retries=False)
    path = f"/messaging/v1/orders/{ANY_ORDER}{suffix}?marketplaceIds=ATVPDKIKX0DER"
    with MessagingSandbox() as sandbox:
        response = http.request(
            method,
            sandbox.url + path,
            body=body,
            headers={"Content-Type": "application/json"},
            timeout=5,
        )
        recorded = sandbox.requests
    http.clear()

    assert response.status == status
    assert len(recorded) == 1
    assert (recorded[0].method, recorded[0].body) == (method, body)
