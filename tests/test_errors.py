"""Error answers and transport failures from a real HTTP server become the documented
exceptions, with everything the server sent kept on them."""

from __future__ import annotations

import functools
import http
import json
import re
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Type

import pytest
from pydantic import BaseModel, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from py_sp_api import NO_RETRIES, RetryPolicy
from py_sp_api.generated.messaging import (
    ApiClient,
    Configuration,
    CreateConfirmOrderDetailsRequest,
    CreateUnexpectedProblemRequest,
    Error,
    MessagingApi,
    rest,
)
from py_sp_api.generated.messaging.exceptions import (
    ActionNotAvailableException,
    ApiConnectionError,
    ApiException,
    ApiResponseError,
    ApiResponseTooLargeError,
    ApiTimeoutError,
    BadRequestException,
    ConflictException,
    DuplicateSendError,
    ForbiddenException,
    LwaAuthError,
    ModelValidationError,
    NotFoundException,
    OpenApiException,
    PayloadTooLargeException,
    RateLimitStoreError,
    ServiceException,
    TooManyRequestsException,
    UnauthorizedException,
    UnprocessableEntityException,
    UnsupportedMediaTypeException,
)
from py_sp_api.generated.messaging.operations import OPERATIONS
from py_sp_api.generated.messaging.rest import RESTClientObject, RESTResponse
from py_sp_api.runtime.journal import JournalEntry
from tests.support import RecordingServer, unused_port
from tests.support.messaging import MARKETPLACE, NAMES, ORDER_ID, REQUEST_ID_HEADER, invoke

EXPECTED_CLASS: Dict[int, Type[ApiException]] = {
    400: BadRequestException,
    401: UnauthorizedException,
    403: ForbiddenException,
    404: NotFoundException,
    409: ConflictException,
    413: PayloadTooLargeException,
    415: UnsupportedMediaTypeException,
    422: UnprocessableEntityException,
    429: TooManyRequestsException,
    500: ServiceException,
    502: ServiceException,
    503: ServiceException,
    504: ServiceException,
}

CREATED_NAMES = [name for name in NAMES if OPERATIONS[name].success_status == 201]

FAST_RETRIES = RetryPolicy(max_attempts=3, initial_backoff=0.01, jitter=False)


def _client(server_url: str, **config: Any) -> ApiClient:
    return ApiClient(Configuration(host=server_url, **config))


@pytest.fixture
def strict_api(server: RecordingServer) -> Iterator[MessagingApi]:
    """A client with retries off, so every answer reaches the caller as it came."""
    with _client(server.url, retry=NO_RETRIES) as client:
        yield MessagingApi(client)


@pytest.fixture
def fast_retry_api(server: RecordingServer) -> Iterator[MessagingApi]:
    """A client that retries like the default policy but with 10 ms backoff, 3 tries."""
    with _client(server.url, retry=FAST_RETRIES) as client:
        yield MessagingApi(client)


def test_the_exception_classes_form_the_documented_hierarchy() -> None:
    for cls in set(EXPECTED_CLASS.values()):
        assert issubclass(cls, ApiException)
        assert issubclass(cls, OpenApiException)
    assert rest.ApiException is ApiException
    assert issubclass(ApiTimeoutError, ApiConnectionError)
    assert issubclass(ApiConnectionError, OpenApiException)
    assert issubclass(ApiResponseError, OpenApiException)
    assert not issubclass(ApiResponseError, ApiException)
    assert not issubclass(ApiConnectionError, ApiException)


@pytest.mark.parametrize("name", ["get_attributes", "create_confirm_order_details"])
@pytest.mark.parametrize("status", sorted(EXPECTED_CLASS))
def test_an_error_status_raises_its_typed_exception_with_everything_the_server_sent(
    status: int, name: str, strict_api: MessagingApi, server: RecordingServer
) -> None:
    payload = {
        "errors": [
            {"code": "InvalidInput", "message": "Invalid Input", "details": "marketplaceIds"},
            {"code": "QuotaExceeded", "message": "You exceeded your quota"},
        ]
    }
    request_id = f"req-{status}-{name}"
    server.enqueue(
        status,
        payload,
        {REQUEST_ID_HEADER: request_id, "x-amzn-RateLimit-Limit": "1.0"},
    )

    with pytest.raises(ApiException) as info:
        invoke(strict_api, name)

    exc = info.value
    assert type(exc) is EXPECTED_CLASS[status]
    assert exc.status == status
    assert exc.reason == http.HTTPStatus(status).phrase
    assert exc.headers[REQUEST_ID_HEADER] == request_id
    assert exc.headers["content-type"] == "application/json"
    assert exc.request_id == request_id
    assert exc.body == json.dumps(payload)
    assert exc.data == payload
    assert exc.errors == [
        Error(code="InvalidInput", message="Invalid Input", details="marketplaceIds"),
        Error(code="QuotaExceeded", message="You exceeded your quota", details=None),
    ]
    assert all(type(error) is Error for error in exc.errors)
    assert exc.attempts == 1
    assert request_id in str(exc)
    assert "InvalidInput: Invalid Input (marketplaceIds)" in str(exc)
    assert server.request_count == 1


def test_the_request_id_header_is_found_whatever_its_case(
    strict_api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(404, {"errors": []}, {"X-AMZN-REQUESTID": "upper-case-id"})

    with pytest.raises(NotFoundException) as info:
        strict_api.get_attributes(ORDER_ID, [MARKETPLACE])

    assert info.value.request_id == "upper-case-id"
    assert info.value.errors == []


def test_the_spec_faithful_server_answers_an_unknown_path_with_a_typed_404(
    server: RecordingServer,
) -> None:
    # A client whose host carries a path prefix the API does not have: every call is unknown.
    client = _client(server.url + "/not-the-api", retry=NO_RETRIES)
    with client, pytest.raises(NotFoundException) as info:
        MessagingApi(client).get_attributes(ORDER_ID, [MARKETPLACE])
    exc = info.value
    assert exc.status == 404
    assert [e.code for e in exc.errors] == ["NotFound"]
    assert exc.request_id == server.responses[0].headers[REQUEST_ID_HEADER]
    assert server.only_request().path == f"/not-the-api/messaging/v1/orders/{ORDER_ID}/attributes"


def test_an_html_502_gives_a_typed_exception_with_no_errors(
    strict_api: MessagingApi, server: RecordingServer
) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    server.enqueue(502, page, {"Content-Type": "text/html", REQUEST_ID_HEADER: "rid-502"})

    with pytest.raises(ServiceException) as info:
        strict_api.get_attributes(ORDER_ID, [MARKETPLACE])

    exc = info.value
    assert type(exc) is ServiceException
    assert exc.status == 502
    assert exc.body == page
    assert exc.data is None
    assert exc.errors == []
    assert exc.request_id == "rid-502"
    assert "nginx" in str(exc)


@pytest.mark.parametrize("name", ["get_attributes", "create_confirm_order_details"])
def test_an_empty_503_gives_a_typed_exception_with_no_errors(
    name: str, strict_api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(503, b"", {REQUEST_ID_HEADER: "rid-503"})

    with pytest.raises(ServiceException) as info:
        invoke(strict_api, name)

    exc = info.value
    assert exc.status == 503
    assert exc.reason == "Service Unavailable"
    assert exc.body is None
    assert exc.data is None
    assert exc.errors == []
    assert exc.request_id == "rid-503"


@pytest.mark.parametrize(
    ("body", "expected_codes"),
    [
        (b'{"errors": "not a list"}', []),
        (b'{"message": "Internal failure"}', []),
        (b"[1, 2]", []),
        (b"\xff\xfe not utf-8", []),
        (b'{"errors": [{"code": "A", "message": "m"}, {"code": 5}, "x", {"message": "?"}]}', ["A"]),
    ],
)
def test_an_odd_error_body_never_breaks_the_typed_exception(
    body: bytes, expected_codes: List[str], strict_api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(400, body, {REQUEST_ID_HEADER: "rid-odd"})

    with pytest.raises(BadRequestException) as info:
        strict_api.get_attributes(ORDER_ID, [MARKETPLACE])

    exc = info.value
    assert [e.code for e in exc.errors] == expected_codes
    assert exc.body == body.decode("utf-8", errors="replace")
    assert exc.request_id == "rid-odd"


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b"<html>OK</html>",
        b'{"buyer": {"locale": "en-US"',
        b"[]",
        b'"a string"',
        b"42",
        b"null",
        b'{"errors": "not a list"}',
        b'{"errors": [{"message": "an error without a code"}]}',
    ],
)
@pytest.mark.parametrize("name", ["get_attributes", "create_warranty"])
def test_a_2xx_body_that_is_not_the_response_model_raises_api_response_error(
    name: str, body: bytes, strict_api: MessagingApi, server: RecordingServer
) -> None:
    status = OPERATIONS[name].success_status
    server.enqueue(status, body, {REQUEST_ID_HEADER: "rid-bad-2xx"})

    with pytest.raises(ApiResponseError) as info:
        invoke(strict_api, name)

    exc = info.value
    assert exc.body == body
    assert type(exc.body) is bytes
    assert exc.status == status
    assert exc.request_id == "rid-bad-2xx"
    assert exc.headers[REQUEST_ID_HEADER] == "rid-bad-2xx"
    assert isinstance(exc.__cause__, ValidationError)
    assert OPERATIONS[name].response_model.__name__ in str(exc)
    assert server.request_count == 1


@pytest.mark.parametrize("body", [b"", b"  \r\n"])
@pytest.mark.parametrize("name", CREATED_NAMES)
def test_an_empty_201_parses_to_the_all_optional_response_model(
    name: str, body: bytes, api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(201, body, {REQUEST_ID_HEADER: "rid-201"})

    response = invoke(api, name, variant="_with_http_info")

    assert response.status_code == 201
    assert type(response.data) is OPERATIONS[name].response_model
    assert response.data == OPERATIONS[name].response_model()
    assert response.data.errors is None
    assert response.raw_data == body
    assert response.request_id == "rid-201"


def test_connection_refused_raises_api_connection_error_before_sending() -> None:
    client = _client(f"http://127.0.0.1:{unused_port()}", retry=NO_RETRIES)
    with client, pytest.raises(ApiConnectionError) as info:
        MessagingApi(client).get_attributes(ORDER_ID, [MARKETPLACE])
    exc = info.value
    assert type(exc) is ApiConnectionError
    assert exc.__cause__ is not None
    assert exc.request_sent is False
    assert exc.attempts == 1


@pytest.mark.parametrize("name", ["get_attributes", "create_confirm_order_details"])
def test_connection_refused_is_retried_because_nothing_was_sent(name: str) -> None:
    client = _client(f"http://127.0.0.1:{unused_port()}", retry=FAST_RETRIES)
    with client, pytest.raises(ApiConnectionError) as info:
        invoke(MessagingApi(client), name)
    assert type(info.value) is ApiConnectionError
    assert info.value.request_sent is False
    assert info.value.attempts == 3
    assert info.value.__cause__ is not None


def test_a_post_that_times_out_raises_api_timeout_error_and_is_never_resent(
    api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(201, b"{}", delay=3.0)
    started = time.monotonic()

    with pytest.raises(ApiTimeoutError) as info:
        invoke(api, "create_confirm_order_details", _request_timeout=0.2)

    exc = info.value
    assert isinstance(exc, ApiConnectionError)
    assert exc.__cause__ is not None
    assert exc.request_sent is True
    assert exc.attempts == 1
    assert time.monotonic() - started < 2.0
    assert server.request_count == 1


def test_a_get_that_times_out_is_retried_then_raises_api_timeout_error(
    fast_retry_api: MessagingApi, server: RecordingServer
) -> None:
    for _ in range(3):
        server.enqueue(200, b"{}", delay=3.0)

    with pytest.raises(ApiTimeoutError) as info:
        fast_retry_api.get_attributes(ORDER_ID, [MARKETPLACE], _request_timeout=0.15)

    assert info.value.__cause__ is not None
    assert info.value.attempts == 3
    assert server.request_count == 3


def test_a_reset_connection_raises_api_connection_error_and_a_post_is_not_resent(
    api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(reset=True)

    with pytest.raises(ApiConnectionError) as info:
        invoke(api, "create_confirm_order_details")

    exc = info.value
    assert type(exc) is ApiConnectionError
    assert exc.__cause__ is not None
    assert exc.request_sent is not False
    assert exc.attempts == 1
    assert server.request_count == 1
    assert server.only_request().json() == {
        "text": "Please confirm the size (EU 42) before we ship."
    }


def test_a_truncated_response_body_raises_api_connection_error(
    strict_api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(200, b'{"buyer": {"loc', content_length=200)

    with pytest.raises(ApiConnectionError) as info:
        strict_api.get_attributes(ORDER_ID, [MARKETPLACE])

    assert info.value.__cause__ is not None
    assert server.request_count == 1


def test_a_get_whose_connection_was_reset_is_retried(
    fast_retry_api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(reset=True)

    result = fast_retry_api.get_attributes(ORDER_ID, [MARKETPLACE])

    assert result.buyer is not None
    assert result.buyer.locale == "en-US"
    assert server.request_count == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_post_that_hit_a_5xx_was_sent_exactly_once(
    status: int, api: MessagingApi, server: RecordingServer
) -> None:
    # Retry-After: 0 would make any (wrong) retry instant rather than hide it behind backoff.
    server.enqueue(status, b"", {REQUEST_ID_HEADER: "rid-5xx", "Retry-After": "0"})

    with pytest.raises(ServiceException) as info:
        invoke(api, "create_confirm_order_details")

    assert info.value.status == status
    assert info.value.attempts == 1
    assert server.request_count == 1
    assert server.pending == 0


def test_a_get_that_hit_503_is_retried_until_it_succeeds(
    api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(503, b"", {"Retry-After": "0"})
    server.enqueue(503, b"", {"Retry-After": "0"})

    result = api.get_attributes(ORDER_ID, [MARKETPLACE])

    assert result.buyer is not None
    assert result.buyer.locale == "en-US"
    assert server.request_count == 3
    assert len({r.raw_path for r in server.requests}) == 1


def test_a_get_that_keeps_failing_reports_the_attempts(
    fast_retry_api: MessagingApi, server: RecordingServer
) -> None:
    for _ in range(3):
        server.enqueue(503, b"", {REQUEST_ID_HEADER: "rid-again"})

    with pytest.raises(ServiceException) as info:
        fast_retry_api.get_attributes(ORDER_ID, [MARKETPLACE])

    assert info.value.attempts == 3
    assert "after 3 attempts" in str(info.value)
    assert server.request_count == 3


@pytest.mark.parametrize("name", ["get_attributes", "create_confirm_order_details"])
def test_a_429_is_retried_for_every_operation(
    name: str, api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(
        429, {"errors": [{"code": "QuotaExceeded", "message": "m"}]}, {"Retry-After": "0"}
    )

    response = invoke(api, name, variant="_with_http_info")

    assert response.status_code == OPERATIONS[name].success_status
    assert server.request_count == 2
    assert server.requests[0].body == server.requests[1].body


@pytest.mark.parametrize("status", [400, 403, 404, 409, 413, 415, 422])
def test_a_4xx_other_than_429_is_never_retried(
    status: int, api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(status, b"", {"Retry-After": "0"})

    with pytest.raises(EXPECTED_CLASS[status]):
        api.get_attributes(ORDER_ID, [MARKETPLACE])

    assert server.request_count == 1


@pytest.mark.parametrize("name", ["get_attributes", "create_confirm_order_details"])
def test_a_429_that_never_clears_raises_too_many_requests_after_the_retry_budget(
    name: str, fast_retry_api: MessagingApi, server: RecordingServer
) -> None:
    body = {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota"}]}
    for i in range(3):
        server.enqueue(429, body, {REQUEST_ID_HEADER: f"rid-429-{i}", "Retry-After": "0"})

    with pytest.raises(TooManyRequestsException) as info:
        invoke(fast_retry_api, name)

    exc = info.value
    assert exc.attempts == 3
    assert exc.request_id == "rid-429-2"
    assert exc.errors == [Error(code="QuotaExceeded", message="You exceeded your quota")]
    assert server.request_count == 3


# -- a model refusing a value --------------------------------------------------------------

LONG_NOTE = "Private note for the buyer. " * 72  # 2,016 characters: over the 2,000 limit


def _refusals() -> Dict[str, Any]:
    from py_sp_api.generated.messaging import CreateUnexpectedProblemRequest

    def assign() -> None:
        request = CreateUnexpectedProblemRequest(text="fine")
        request.text = LONG_NOTE

    return {
        "constructor": lambda: CreateUnexpectedProblemRequest(text=LONG_NOTE),
        "assignment": assign,
        "from_dict": lambda: CreateUnexpectedProblemRequest.from_dict({"text": LONG_NOTE}),
        "from_json": lambda: CreateUnexpectedProblemRequest.from_json(
            json.dumps({"text": LONG_NOTE})
        ),
    }


@pytest.mark.parametrize("how", ["constructor", "assignment", "from_dict", "from_json"])
def test_a_model_refusing_a_value_raises_an_open_api_exception_with_a_short_message(
    how: str,
) -> None:
    from py_sp_api.generated.messaging.exceptions import ApiValueError

    with pytest.raises(OpenApiException) as caught:
        _refusals()[how]()

    error = caught.value
    assert isinstance(error, ApiValueError)
    assert isinstance(error, ValueError)
    assert isinstance(error, ValidationError)  # still pydantic's, for code that catches it
    assert [problem["type"] for problem in error.errors()] == ["string_too_long"]
    assert str(error) == (
        "invalid CreateUnexpectedProblemRequest: text: String should have at most 2000 characters"
    )


def test_a_nested_or_custom_model_error_names_the_field_and_not_the_value() -> None:
    from py_sp_api.generated.messaging import CreateWarrantyRequest

    with pytest.raises(OpenApiException) as caught:
        CreateWarrantyRequest(
            coverage_start_date="2024-05-02T11:30:00",
            attachments=[{"uploadDestinationId": "secret-upload-id"}],
        )

    message = str(caught.value)
    assert message.startswith("invalid CreateWarrantyRequest: ")
    assert "attachments.0.fileName: Field required" in message
    assert "coverage_start_date: Value error, date-time must carry a timezone offset" in message
    assert "secret-upload-id" not in message
    assert "2024-05-02T11:30:00" not in message


# -- what the mutation run found untested (issue 9, item 13) ----------------------------------

DELIVERED_NOTE = "may have been delivered"


@pytest.mark.parametrize("status", [402, 405, 408, 418, 451])
def test_a_status_without_its_own_class_raises_a_plain_api_exception(
    status: int, strict_api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(status, {"errors": [{"code": "Odd", "message": "odd status"}]})

    with pytest.raises(ApiException) as info:
        strict_api.get_attributes(ORDER_ID, [MARKETPLACE])

    assert type(info.value) is ApiException
    assert info.value.status == status
    assert info.value.errors == [Error(code="Odd", message="odd status")]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_post_answered_5xx_says_the_message_may_have_been_delivered(
    status: int, api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(status, b"")

    with pytest.raises(ServiceException) as info:
        invoke(api, "create_confirm_order_details")

    assert DELIVERED_NOTE in str(info.value)
    assert info.value.note is not None
    assert server.request_count == 1


@pytest.mark.parametrize("status", [400, 403, 404, 409, 413, 415, 422])
def test_a_post_answered_4xx_does_not_say_the_message_may_have_been_delivered(
    status: int, api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(status, b"")

    with pytest.raises(ApiException) as info:
        invoke(api, "create_confirm_order_details")

    assert DELIVERED_NOTE not in str(info.value)
    if status == 403:  # this client sent no token: the only note is that it has none
        assert info.value.note is not None
        assert info.value.note.startswith("This client has no credentials configured")
    else:
        assert info.value.note is None


def test_a_get_answered_5xx_does_not_say_a_message_may_have_been_delivered(
    strict_api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(500, b"")

    with pytest.raises(ServiceException) as info:
        strict_api.get_attributes(ORDER_ID, [MARKETPLACE])

    assert DELIVERED_NOTE not in str(info.value)
    assert info.value.note is None


def test_a_post_that_times_out_keeps_the_transport_error_and_adds_the_note(
    api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(201, b"{}", delay=3.0)

    with pytest.raises(ApiTimeoutError) as info:
        invoke(api, "create_confirm_order_details", _request_timeout=0.2)

    message = str(info.value)
    assert message.startswith("POST http://127.0.0.1:")
    assert "read timeout" in message
    assert DELIVERED_NOTE in message


def test_a_refused_connection_keeps_its_own_text_after_the_retries() -> None:
    client = _client(f"http://127.0.0.1:{unused_port()}", retry=FAST_RETRIES)
    with client, pytest.raises(ApiConnectionError) as info:
        invoke(MessagingApi(client), "create_confirm_order_details")

    message = str(info.value)
    assert message.startswith("could not connect to http://127.0.0.1:")
    assert "refused" in message.lower()
    assert message.endswith("(after 3 attempts)")
    assert DELIVERED_NOTE not in message


def test_a_429_that_is_given_up_on_says_nothing_was_processed(
    strict_api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(429, {"errors": [{"code": "QuotaExceeded", "message": "m"}]})

    with pytest.raises(TooManyRequestsException) as info:
        invoke(strict_api, "create_confirm_order_details")

    assert info.value.note is not None
    assert "nothing was processed" in info.value.note
    assert DELIVERED_NOTE not in str(info.value)


# -- an unreadable or cut-off 2xx answer -------------------------------------------------------

ApiFactory = Callable[..., MessagingApi]


@pytest.fixture
def make_api(open_api: ApiFactory) -> ApiFactory:
    """``make_api(host, **configuration)`` with no pacing and fast retries unless overridden."""
    return functools.partial(open_api, rate_limiting=False, retry=FAST_RETRIES)


def confirm_order_details(api: MessagingApi, **kwargs: Any) -> object:
    body = CreateConfirmOrderDetailsRequest(text="Please confirm the size before we ship.")
    return api.create_confirm_order_details(ORDER_ID, [MARKETPLACE], body, **kwargs)


def test_an_unreadable_2xx_answer_to_a_post_says_the_message_was_sent(
    server: RecordingServer, make_api: ApiFactory
) -> None:
    server.enqueue(201, b"<html>Created</html>", {"Content-Type": "text/html"})

    with pytest.raises(ApiResponseError) as caught:
        confirm_order_details(make_api(server.url))

    assert "the message was sent" in str(caught.value)
    assert "do not send it again" in str(caught.value)
    assert server.request_count == 1


def test_an_unreadable_2xx_answer_to_a_get_does_not_say_a_message_was_sent(
    server: RecordingServer, make_api: ApiFactory
) -> None:
    # Guard: a GET sends no message, so it must not claim one was sent.
    server.enqueue(200, b"{not json", {"Content-Type": "application/json"})

    with pytest.raises(ApiResponseError) as caught:
        make_api(server.url).get_attributes(ORDER_ID, [MARKETPLACE])

    assert "message was sent" not in str(caught.value)
    assert "do not send" not in str(caught.value)


def test_a_success_whose_body_is_cut_off_says_the_request_succeeded(
    server: RecordingServer,
) -> None:
    # 201 arrives, then the connection drops before the announced body: the message was sent.
    server.enqueue(201, b'{"err', content_length=100)
    body = CreateConfirmOrderDetailsRequest(text="Your engraving is ready.")
    config = Configuration(host=server.url, retry=NO_RETRIES)
    with ApiClient(config) as client, pytest.raises(ApiConnectionError) as caught:
        MessagingApi(client).create_confirm_order_details(ORDER_ID, [MARKETPLACE], body)
    text = str(caught.value)
    assert "answered 201 (the request succeeded)" in text
    assert "no response" not in text
    assert caught.value.request_sent is True
    assert len(server.requests) == 1  # and it was not sent again


# -- what the second mutation run found untested (issue 16, item 4) ---------------------------
# Each test pins content a user relies on: the status, reason, request id, Amazon's errors, the
# body the server sent, the notes, the attempts made. Exact wording is deliberately not pinned.


def _rest_response(server: RecordingServer, status: int, body: bytes) -> RESTResponse:
    """A real answer from the server, read the way the generated ``rest`` module reads one."""
    server.enqueue(status, body, {REQUEST_ID_HEADER: "rid-compat"})
    rest_client = RESTClientObject(Configuration(host=server.url))
    try:
        return RESTResponse(rest_client.request("GET", server.url + "/compat"))
    finally:
        rest_client.close()


@pytest.mark.parametrize(
    ("body", "expected_body"), [(b"gateway trouble", "gateway trouble"), (b"", None)]
)
def test_an_exception_built_from_a_rest_response_takes_everything_from_it(
    server: RecordingServer, body: bytes, expected_body: Optional[str]
) -> None:
    # ApiException(http_resp=...) is openapi-generator's constructor; code written for those
    # clients still calls it.
    exc = ApiException(http_resp=_rest_response(server, 404, body))

    assert exc.status == 404
    assert exc.reason == "Not Found"
    assert exc.request_id == "rid-compat"
    assert exc.headers[REQUEST_ID_HEADER] == "rid-compat"
    assert exc.body == expected_body
    assert "404" in str(exc)
    assert "rid-compat" in str(exc)


def test_values_given_with_a_rest_response_win_over_the_response(
    server: RecordingServer,
) -> None:
    response = _rest_response(server, 404, b"what the server said")

    exc = ApiException(
        499,
        "Given Reason",
        response,
        body="what the caller said",
        headers={REQUEST_ID_HEADER: "rid-given"},
    )

    assert (exc.status, exc.reason, exc.body) == (499, "Given Reason", "what the caller said")
    assert exc.request_id == "rid-given"


def test_an_exception_built_by_hand_reports_one_attempt_and_no_headers() -> None:
    # Code that builds these itself (its own tests, compat shims) must get a sane exception.
    built = ApiException(404, "Not Found")
    factored = ApiException.from_response(status=404, reason="Not Found", headers={}, body=b"")
    too_large = ApiResponseTooLargeError("the body is too large")

    for exc in (built, factored):
        assert exc.attempts == 1
        assert exc.request_id is None
        assert "404" in str(exc)
        assert "Not Found" in str(exc)
    assert built.headers == {}
    assert too_large.headers == {}
    assert too_large.request_id is None
    assert too_large.attempts == 1


def test_the_rest_client_used_directly_reports_its_single_attempt(
    server: RecordingServer,
) -> None:
    server.enqueue(200, b"x" * 64, {REQUEST_ID_HEADER: "rid-big"})
    rest_client = RESTClientObject(Configuration(host=server.url, max_response_bytes=16))
    try:
        with pytest.raises(ApiResponseTooLargeError) as too_large:
            rest_client.request("GET", server.url + "/big")
        with pytest.raises(ApiConnectionError) as refused:
            rest_client.request("GET", f"http://127.0.0.1:{unused_port()}/")
    finally:
        rest_client.close()

    assert too_large.value.attempts == 1
    assert too_large.value.request_id == "rid-big"
    assert refused.value.attempts == 1
    assert refused.value.request_sent is False


def test_an_error_given_up_on_after_two_tries_says_its_status_and_both_tries(
    server: RecordingServer, open_api: ApiFactory
) -> None:
    for _ in range(2):
        server.enqueue(503, b"", {REQUEST_ID_HEADER: "rid-twice"})
    retry_once = RetryPolicy(max_attempts=2, initial_backoff=0.01, jitter=False)

    with pytest.raises(ServiceException) as info:
        open_api(server.url, retry=retry_once).get_attributes(ORDER_ID, [MARKETPLACE])

    text = str(info.value)
    assert info.value.attempts == 2
    assert "503" in text
    assert "Service Unavailable" in text
    assert "2 attempts" in text
    assert "rid-twice" in text


def _html_502(strict_api: MessagingApi, server: RecordingServer, body: str) -> ServiceException:
    server.enqueue(502, body, {"Content-Type": "text/html", REQUEST_ID_HEADER: "rid-page"})
    with pytest.raises(ServiceException) as info:
        strict_api.get_attributes(ORDER_ID, [MARKETPLACE])
    return info.value


def test_a_body_that_fits_the_preview_ends_the_message_whole_after_status_and_request_id(
    strict_api: MessagingApi, server: RecordingServer
) -> None:
    page = "<p>" + "b" * 1993 + "</p>"  # exactly the 2,000 characters the preview shows
    assert len(page) == 2000

    exc = _html_502(strict_api, server, page)

    text = str(exc)
    assert text.endswith(page)  # nothing added after what the server sent
    assert "502" in text
    assert "Bad Gateway" in text
    assert "rid-page" in text
    # repr() and args (what loggers using %r and task queues such as Celery keep) carry it too.
    assert "rid-page" in repr(exc)
    assert exc.args == (text,)


def test_a_body_longer_than_the_preview_is_cut_and_the_cut_is_marked(
    strict_api: MessagingApi, server: RecordingServer
) -> None:
    page = "c" * 2000 + "\N{SECTION SIGN}tail"

    text = str(_html_502(strict_api, server, page))

    assert page[:2000] in text
    assert "\N{SECTION SIGN}" not in text
    assert not text.endswith(page[:2000])  # the reader is told the body goes on
    assert "rid-page" in text


@pytest.mark.parametrize(("status", "expected"), [(599, ServiceException), (600, ApiException)])
def test_the_edges_of_the_5xx_range(
    status: int, expected: Type[ApiException], strict_api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(status, b"")

    with pytest.raises(ApiException) as info:
        strict_api.get_attributes(ORDER_ID, [MARKETPLACE])

    assert type(info.value) is expected
    assert info.value.status == status


NOT_OFFERED = "Invalid amazonOrderId and template combination."


def test_an_action_not_available_note_starts_with_the_explanation(
    server: RecordingServer, open_api: ApiFactory
) -> None:
    server.enqueue(403, {"errors": [{"code": "Unauthorized", "message": NOT_OFFERED}]})
    api = open_api(server.url, access_token="Atza|x", retry=NO_RETRIES)

    with pytest.raises(ActionNotAvailableException) as info:
        invoke(api, "create_confirm_order_details")

    assert info.value.note is not None
    assert "does not offer this message type" in info.value.note.splitlines()[0]


def test_an_action_not_available_keeps_the_note_it_was_given() -> None:
    exc = ApiException.from_response(
        status=403,
        reason="Forbidden",
        headers={},
        body=json.dumps({"errors": [{"code": "Unauthorized", "message": NOT_OFFERED}]}).encode(),
        error_model=Error,
        note="an earlier note from the caller",
    )

    assert type(exc) is ActionNotAvailableException
    assert exc.note is not None
    assert "an earlier note from the caller" in exc.note
    assert "does not offer this message type" in exc.note


def test_a_refusal_without_a_token_keeps_the_encoding_note_next_to_the_credentials_note(
    server: RecordingServer, open_api: ApiFactory
) -> None:
    server.enqueue(403, b"\x1f\x8b\x08\x00 compressed", {"Content-Encoding": "gzip"})
    api = open_api(server.url, retry=NO_RETRIES)

    with pytest.raises(ForbiddenException) as info:
        api.get_attributes(ORDER_ID, [MARKETPLACE])

    text = str(info.value)
    assert "gzip" in text
    assert "no credentials configured" in text


def test_a_malformed_error_entry_does_not_hide_the_well_formed_ones_after_it(
    strict_api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(400, {"errors": [{"code": 5}, {"code": "B", "message": "kept"}]})

    with pytest.raises(BadRequestException) as info:
        strict_api.get_attributes(ORDER_ID, [MARKETPLACE])

    assert info.value.errors == [Error(code="B", message="kept")]
    assert "B: kept" in str(info.value)


def test_an_unreadable_2xx_answer_names_its_request_id(
    strict_api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(200, b"<html>OK</html>", {REQUEST_ID_HEADER: "rid-unreadable"})

    with pytest.raises(ApiResponseError) as info:
        strict_api.get_attributes(ORDER_ID, [MARKETPLACE])

    assert "rid-unreadable" in str(info.value)


def test_an_access_token_callable_that_gives_nothing_fails_after_one_attempt(
    server: RecordingServer, open_api: ApiFactory
) -> None:
    api = open_api(server.url, access_token=lambda: "", retry=NO_RETRIES)

    with pytest.raises(LwaAuthError) as info:
        api.get_attributes(ORDER_ID, [MARKETPLACE])

    assert info.value.attempts == 1
    assert server.request_count == 0


# -- a model refusing a value: errors() and the message ----------------------------------------


def test_a_built_in_rule_keeps_its_context_in_errors() -> None:
    with pytest.raises(ModelValidationError) as caught:
        CreateUnexpectedProblemRequest(text=LONG_NOTE)

    (problem,) = caught.value.errors()
    assert problem["type"] == "string_too_long"
    assert problem.get("ctx") == {"max_length": 2000}  # code can read the limit, not parse it


class _PoliteRequest(CreateUnexpectedProblemRequest):
    """A caller's own rule on a generated model, raising pydantic's custom error type."""

    @field_validator("text")
    @classmethod
    def _no_shouting(cls, value: str) -> str:
        if value.isupper():
            raise PydanticCustomError("shouting", "text must not be all capitals")
        return value


def test_a_custom_rule_still_raises_the_model_error_with_its_type_field_and_message() -> None:
    with pytest.raises(ModelValidationError) as caught:
        _PoliteRequest(text="PLEASE CONFIRM")

    error = caught.value
    assert error.title == "_PoliteRequest"
    assert [(p["type"], p["loc"], p["msg"], p["input"]) for p in error.errors()] == [
        ("shouting", ("text",), "text must not be all capitals", "PLEASE CONFIRM")
    ]
    message = str(error)
    assert "text: text must not be all capitals" in message
    assert "PLEASE CONFIRM" not in message


class _SixNumbers(BaseModel):
    n1: int
    n2: int
    n3: int
    n4: int
    n5: int
    n6: int


def _refusal_of(count: int) -> ModelValidationError:
    values = {f"n{i}": ("x" if i <= count else 0) for i in range(1, 7)}
    with pytest.raises(ValidationError) as caught:
        _SixNumbers(**values)
    return ModelValidationError.of(caught.value)


def test_a_message_with_more_problems_than_shown_says_how_many_more() -> None:
    message = str(_refusal_of(6))

    assert all(f"n{i}:" in message for i in range(1, 6))
    assert "n6:" not in message
    assert re.search(r"(?<!\d)1 more", message)  # one more, not eleven


def test_a_message_showing_every_problem_claims_no_more() -> None:
    message = str(_refusal_of(5))

    assert all(f"n{i}:" in message for i in range(1, 6))
    assert "more" not in message


# -- the journal and rate-limit store errors -------------------------------------------------


def _journal_entry(state: str, request_id: Optional[str]) -> JournalEntry:
    return JournalEntry(
        key='["lwa:0123","ATVPDKIKX0DER","113-7654321-7654321","createWarranty",null]',
        identity="lwa:0123",
        marketplace_id="ATVPDKIKX0DER",
        order_id="113-7654321-7654321",
        operation="createWarranty",
        caller_key=None,
        state=state,
        claim_id="c0ffee",
        owner="worker-1:1",
        created_at=1_800_000_000.0,
        updated_at=1_800_000_000.0,
        lease_until=1_800_003_600.0,
        request_id=request_id,
    )


@pytest.mark.parametrize(
    ("state", "meaning"),
    [
        ("sent", "already sent"),
        ("in_flight", "another caller"),
        ("unknown", "journal.resolve"),  # the way to settle it
        ("paused", "paused"),  # a state this version does not know is still named
    ],
)
def test_a_duplicate_send_names_the_message_the_order_the_state_and_the_request_id(
    state: str, meaning: str
) -> None:
    message = str(DuplicateSendError(state, _journal_entry(state, "rid-first-send")))

    assert "createWarranty" in message
    assert "113-7654321-7654321" in message
    assert meaning in message.lower()
    assert "rid-first-send" in message
    assert "nothing was sent" in message.lower()
    assert "None" not in message


def test_a_duplicate_send_without_a_request_id_does_not_mention_one() -> None:
    message = str(DuplicateSendError("in_flight", _journal_entry("in_flight", None)))

    assert "request id" not in message
    assert "None" not in message
    assert "113-7654321-7654321" in message


def test_a_rate_limit_store_error_keeps_the_stores_answer() -> None:
    answer = "WRONGTYPE Operation against a key holding the wrong kind of value"

    error = RateLimitStoreError("py-sp-api:bucket:getAttributes", answer)

    assert error.reason == answer
    assert error.key == "py-sp-api:bucket:getAttributes"
    assert answer in str(error)
    assert "py-sp-api:bucket:getAttributes" in str(error)
