"""Response bodies are bounded: no decoding the client did not ask for, and a size limit.

Real servers on 127.0.0.1 send a gzip bomb, a body over the limit with a ``Content-Length``,
and a chunked body over the limit without one; the client must fail with a typed error
without holding the body in memory.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import json
import pickle
import time
import tracemalloc
import zlib
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable, Dict, Iterator, Tuple, TypeVar

import pytest

from py_sp_api import NO_RETRIES, LwaAuthError, LwaCredentials
from py_sp_api.generated.messaging import (
    ApiClient,
    ApiConnectionError,
    ApiException,
    ApiResponseError,
    ApiTypeError,
    ApiValueError,
    BadRequestException,
    Configuration,
    ForbiddenException,
    MessagingApi,
    ServiceException,
)
from py_sp_api.generated.messaging.operations import (
    CREATE_CONFIRM_ORDER_DETAILS,
    GET_ATTRIBUTES,
)
from py_sp_api.runtime.api_client import _final_transport_error, _too_large_outcome
from py_sp_api.runtime.exceptions import ApiResponseTooLargeError
from py_sp_api.runtime.operation import Operation
from tests.support import RecordingServer
from tests.support.background import BackgroundServer, LocalHTTPServer
from tests.support.messaging import SAMPLE_BODIES

ORDER_ID = "123-1234567-1234567"
MARKETPLACE = ["ATVPDKIKX0DER"]
LIMIT = 64 * 1024
MiB = 1024 * 1024
INFLATED_SIZE = 200 * MiB

T = TypeVar("T")


@functools.cache
def gzip_bomb() -> bytes:
    """About 200 KiB of gzip that inflates to 200 MiB of zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    zeros = bytes(MiB)
    parts = [compressor.compress(zeros) for _ in range(INFLATED_SIZE // MiB)]
    return b"".join([*parts, compressor.flush()])


def peak_memory(action: Callable[[], T]) -> Tuple[T, int]:
    """What ``action`` returned (or raised, as the value), and the peak bytes it allocated."""
    tracemalloc.start()
    try:
        try:
            outcome: Any = action()
        except Exception as exc:
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def make_api(host: str, **configuration: Any) -> MessagingApi:
    return MessagingApi(ApiClient(Configuration(host=host, **configuration)))


def confirm_order_details(api: MessagingApi) -> object:
    # The wire dict: the runtime takes it as well as the model the signature names.
    body: Any = SAMPLE_BODIES["create_confirm_order_details"]
    return api.create_confirm_order_details(ORDER_ID, MARKETPLACE, body)


# -- a server that answers with a chunked body (no Content-Length) --------------------------------


class ChunkedServer:
    """Answers every request ``status`` with ``total`` bytes of JSON-ish text, chunked."""

    def __init__(self, status: int, total: int, chunk: int = 64 * 1024) -> None:
        self.status, self.total, self.chunk = status, total, chunk
        self.requests = 0
        self.connections = 0
        self.bytes_sent = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                owner.connections += 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.requests += 1
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for piece in owner.pieces():
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        owner.bytes_sent += len(piece)
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:  # the client stopped reading and closed: expected
                    self.close_connection = True

            do_POST = do_GET

        self._server = BackgroundServer(LocalHTTPServer(Handler))
        self.url = f"http://127.0.0.1:{self._server.port}"

    def pieces(self) -> Iterator[bytes]:
        if self.total < 64:
            yield b"{}"
            return
        head, tail = b'{"payload": "', b'"}'
        yield head
        remaining = self.total - len(head) - len(tail)
        while remaining > 0:
            size = min(self.chunk, remaining)
            yield b"a" * size
            remaining -= size
        yield tail

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture
def chunked() -> Iterator[Callable[..., ChunkedServer]]:
    servers = []

    def start(status: int, total: int) -> ChunkedServer:
        servers.append(ChunkedServer(status, total))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


# -- Content-Encoding -----------------------------------------------------------------------------


def test_a_gzip_bomb_is_not_inflated(server: RecordingServer) -> None:
    bomb = gzip_bomb()
    server.enqueue(200, bomb, {"Content-Encoding": "gzip", "Content-Type": "application/json"})
    api = make_api(server.url)

    with api.api_client:
        error, peak = peak_memory(lambda: api.get_attributes(ORDER_ID, MARKETPLACE))

    assert server.only_request().headers["Accept-Encoding"] == "identity"
    assert isinstance(error, ApiResponseError)
    assert "gzip" in str(error)
    assert error.body == bomb  # what came over the wire, not 200 MiB of zeros
    assert peak < 16 * MiB, f"the client allocated {peak / MiB:.0f} MiB"


def test_a_gzip_error_answer_is_not_inflated(server: RecordingServer) -> None:
    bomb = gzip_bomb()
    server.enqueue(400, bomb, {"Content-Encoding": "gzip", "Content-Type": "application/json"})
    api = make_api(server.url)

    with api.api_client:
        error, peak = peak_memory(lambda: api.get_attributes(ORDER_ID, MARKETPLACE))

    assert isinstance(error, BadRequestException)
    assert "gzip" in str(error)
    assert error.body is None
    assert peak < 16 * MiB, f"the client allocated {peak / MiB:.0f} MiB"


def test_call_raw_hands_back_the_body_as_sent(server: RecordingServer) -> None:
    document: Dict[str, Any] = {"_embedded": {"actions": []}}
    compressed = gzip.compress(json.dumps(document).encode())
    server.enqueue(200, compressed, {"Content-Encoding": "gzip"})
    api = make_api(server.url)

    with api.api_client:
        response = api.get_messaging_actions_for_order_without_preload_content(
            ORDER_ID, MARKETPLACE
        )
        raw = response.read()
        response.release_conn()

    assert raw == compressed
    assert json.loads(gzip.decompress(raw)) == document


# -- the size limit -------------------------------------------------------------------------------


def test_a_2xx_body_over_the_limit_with_a_content_length_is_not_read(
    server: RecordingServer,
) -> None:
    size = 4 * LIMIT
    server.enqueue(201, json.dumps({"padding": "a" * size}).encode())
    api = make_api(server.url, max_response_bytes=LIMIT, retry=NO_RETRIES)

    with api.api_client, pytest.raises(ApiResponseTooLargeError) as caught:
        confirm_order_details(api)

    error = caught.value
    assert isinstance(error, ApiResponseError)  # the call succeeded: same family
    assert (error.status, error.limit, error.body) == (201, LIMIT, b"")
    assert error.content_length is not None
    assert error.content_length > size
    assert "the message was sent" in str(error)
    assert "do not send it again" in str(error)
    assert server.request_count == 1


def test_a_chunked_body_over_the_limit_is_not_read_to_the_end(
    chunked: Callable[..., ChunkedServer],
) -> None:
    source = chunked(200, 64 * MiB)
    api = make_api(source.url, max_response_bytes=LIMIT)

    started = time.monotonic()
    with api.api_client:
        error, peak = peak_memory(lambda: api.get_attributes(ORDER_ID, MARKETPLACE))

    assert isinstance(error, ApiResponseTooLargeError), error
    assert (error.status, error.limit, error.content_length) == (200, LIMIT, None)
    assert peak < 4 * MiB, f"the client allocated {peak / MiB:.1f} MiB"
    assert time.monotonic() - started < 2.0
    assert source.requests == 1
    assert source.bytes_sent < 64 * MiB


def test_a_chunked_body_under_the_limit_is_read(chunked: Callable[..., ChunkedServer]) -> None:
    source = chunked(200, 2)  # "{}"
    api = make_api(source.url, max_response_bytes=LIMIT)

    with api.api_client:
        result = api.get_attributes(ORDER_ID, MARKETPLACE)

    assert result.buyer is None


def test_a_body_of_exactly_the_limit_is_read(server: RecordingServer) -> None:
    document = json.dumps({"padding": ""}).encode()
    body = document[:-2] + b" " * (LIMIT - len(document)) + document[-2:]
    server.enqueue(200, body)
    api = make_api(server.url, max_response_bytes=LIMIT)

    with api.api_client:
        response = api.get_attributes_with_http_info(ORDER_ID, MARKETPLACE)

    assert len(response.raw_data) == LIMIT


def test_a_5xx_over_the_limit_on_a_post_says_the_message_may_have_been_delivered(
    server: RecordingServer,
) -> None:
    server.enqueue(503, b"x" * (4 * LIMIT))
    api = make_api(server.url, max_response_bytes=LIMIT)

    with api.api_client, pytest.raises(ServiceException) as caught:
        confirm_order_details(api)

    assert "may have been delivered" in str(caught.value)
    assert "max_response_bytes" in str(caught.value)
    assert caught.value.body is None
    assert isinstance(caught.value.__cause__, ApiResponseTooLargeError)
    assert server.request_count == 1


def test_a_4xx_over_the_limit_is_still_the_status_exception(
    chunked: Callable[..., ChunkedServer],
) -> None:
    source = chunked(400, 4 * LIMIT)
    api = make_api(source.url, max_response_bytes=LIMIT)

    with api.api_client, pytest.raises(BadRequestException) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert caught.value.status == 400
    assert "max_response_bytes" in str(caught.value)


def test_call_raw_bounds_a_body_the_client_reads_itself(server: RecordingServer) -> None:
    # The client reads a 403 to see whether the token expired: that read is bounded too.
    server.enqueue(403, b"x" * (4 * LIMIT))
    api = make_api(server.url, access_token="Atza|token", max_response_bytes=LIMIT)

    with api.api_client, pytest.raises(ForbiddenException) as caught:
        api.get_attributes_without_preload_content(ORDER_ID, MARKETPLACE)

    assert isinstance(caught.value.__cause__, ApiResponseTooLargeError)
    assert server.request_count == 1


def test_an_lwa_answer_over_the_limit_is_an_lwa_error(server: RecordingServer) -> None:
    token = json.dumps({"access_token": "Atza|t", "expires_in": 3600, "pad": "a" * 4 * LIMIT})
    server.enqueue(200, token.encode())
    credentials = LwaCredentials("id", "secret", "Atzr|x", endpoint=f"{server.url}/auth/o2/token")
    api = make_api(server.url, credentials=credentials, max_response_bytes=LIMIT)

    with api.api_client, pytest.raises(LwaAuthError) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert caught.value.status == 200
    assert "max_response_bytes" in str(caught.value)
    assert server.request_count == 1  # the token request only


@pytest.mark.parametrize(
    ("value", "error"),
    [(0, ApiValueError), (-1, ApiValueError), (True, ApiTypeError), (1.5, ApiTypeError)],
)
def test_max_response_bytes_must_be_a_positive_int(value: object, error: type) -> None:
    with pytest.raises(error, match="max_response_bytes"):
        Configuration(max_response_bytes=value)  # type: ignore[arg-type]  # on purpose


def test_the_default_limit_is_generous() -> None:
    assert Configuration().max_response_bytes == 10 * MiB


def test_the_too_large_error_survives_pickling() -> None:
    error = ApiResponseTooLargeError(
        "too large",
        status=201,
        reason="Created",
        headers={"x-amzn-RequestId": "r-1"},
        limit=LIMIT,
        content_length=5 * LIMIT,
        attempts=2,
    )

    copy = pickle.loads(pickle.dumps(error))

    assert str(copy) == str(error)
    assert (copy.status, copy.reason, copy.limit, copy.content_length, copy.attempts) == (
        201,
        "Created",
        LIMIT,
        5 * LIMIT,
        2,
    )
    assert (copy.request_id, copy.body) == ("r-1", b"")


def test_the_client_works_on_after_a_body_over_the_limit(server: RecordingServer) -> None:
    server.enqueue(200, b"x" * (4 * LIMIT))
    api = make_api(server.url, max_response_bytes=LIMIT)

    with api.api_client:
        with pytest.raises(ApiResponseTooLargeError):
            api.get_attributes(ORDER_ID, MARKETPLACE)
        api.get_attributes(ORDER_ID, MARKETPLACE)  # spec-faithful answer, on a new connection

    assert server.request_count == 2
    assert len(server.connections) == 2  # the half-read connection was not reused


def test_a_chunked_answer_under_the_limit_leaves_its_connection_reusable(
    chunked: Callable[..., ChunkedServer],
) -> None:
    source = chunked(200, 2)  # "{}"
    api = make_api(source.url, max_response_bytes=LIMIT)

    with api.api_client:
        for _ in range(3):
            api.get_attributes(ORDER_ID, MARKETPLACE)

    assert source.requests == 3
    assert source.connections == 1


# -- what an answer the client could not read still tells the caller --------------------------

BIG_OPERATIONS: Dict[str, Operation[Any]] = {
    "GET": GET_ATTRIBUTES,
    "POST": CREATE_CONFIRM_ORDER_DETAILS,
}


@pytest.mark.parametrize(
    ("status", "method", "expected"),
    [
        (201, "POST", ApiResponseTooLargeError),
        (200, "GET", ApiResponseTooLargeError),
        (299, "GET", ApiResponseTooLargeError),  # still a success
        (300, "GET", ApiException),  # not a success: the status's error
        (400, "GET", BadRequestException),
        (503, "POST", ServiceException),
    ],
)
def test_a_body_over_the_limit_keeps_the_answers_reason_request_id_and_attempts(
    status: int, method: str, expected: type
) -> None:
    # A success over the limit is ApiResponseTooLargeError, anything else the status's own
    # error; either way the caller still gets the reason, request id and tries of the answer.
    answer = ApiResponseTooLargeError(
        "over the limit",
        status=status,
        reason="Custom Reason",
        headers={"x-amzn-RequestId": "rid-large-7"},
        limit=LIMIT,
        content_length=4 * LIMIT,
    )

    error = _too_large_outcome(answer, BIG_OPERATIONS[method], 3)

    assert type(error) is expected
    assert isinstance(error, (ApiException, ApiResponseTooLargeError))  # narrows for mypy
    assert (error.status, error.reason, error.attempts) == (status, "Custom Reason", 3)
    assert error.request_id == "rid-large-7"
    assert error.headers["x-amzn-RequestId"] == "rid-large-7"
    assert "rid-large-7" in str(error)
    assert str(LIMIT) in str(error)
    if isinstance(error, ApiException):
        assert error.note is not None
        assert "None" not in error.note  # no placeholder for a status without an outcome note


def test_a_read_over_the_limit_does_not_claim_a_message_was_sent() -> None:
    # A GET that succeeded sent nothing; a POST that succeeded did send its message.
    def too_large(status: int) -> ApiResponseTooLargeError:
        return ApiResponseTooLargeError("x", status=status, headers={}, limit=LIMIT)

    read = str(_too_large_outcome(too_large(200), GET_ATTRIBUTES, 1))
    sent = str(_too_large_outcome(too_large(201), CREATE_CONFIRM_ORDER_DETAILS, 1))

    assert "message was sent" not in read
    assert "send it again" not in read
    assert "message was sent" in sent
    assert "unknown" in sent.lower()  # Amazon gave no request id: said so, not left blank


def test_call_raw_turns_a_retryable_5xx_over_the_limit_into_the_status_error(
    server: RecordingServer,
) -> None:
    # The client reads a retryable refusal before pausing: that read is bounded, and a body
    # over the limit ends the call with the 503's own error (not a crash).
    server.enqueue(503, b"x" * (4 * LIMIT), {"x-amzn-RequestId": "rid-503"})
    api = make_api(server.url, max_response_bytes=LIMIT, rate_limiting=False)

    with api.api_client, pytest.raises(ServiceException) as caught:
        api.get_attributes_without_preload_content(ORDER_ID, MARKETPLACE)

    assert caught.value.status == 503
    assert caught.value.request_id == "rid-503"
    assert "max_response_bytes" in str(caught.value)
    assert isinstance(caught.value.__cause__, ApiResponseTooLargeError)
    assert server.request_count == 1


def test_call_raw_hands_back_a_refusal_it_read_as_it_came(server: RecordingServer) -> None:
    # The client reads a 403 to see whether the token expired; the response the caller gets
    # still has the status line, headers and the body as sent (never inflated).
    compressed = gzip.compress(b'{"errors": [{"code": "Unauthorized", "message": "no"}]}')
    headers = {"Content-Encoding": "gzip", "x-amzn-RequestId": "rid-403"}
    server.enqueue(403, compressed, headers, reason="Go Away")
    api = make_api(server.url, access_token="Atza|token", rate_limiting=False)

    with api.api_client:
        response = api.get_attributes_without_preload_content(ORDER_ID, MARKETPLACE)
        raw = response.read()
        response.release_conn()

    assert (response.status, response.reason) == (403, "Go Away")
    assert response.headers["x-amzn-RequestId"] == "rid-403"
    assert response.headers["Content-Encoding"] == "gzip"
    assert raw == compressed
    assert server.request_count == 1


@pytest.mark.parametrize("encoding", ["identity", "IDENTITY", " identity ", ""])
def test_an_identity_encoded_error_answer_is_read(server: RecordingServer, encoding: str) -> None:
    # identity (or an empty value) means "not encoded": the error body is read and parsed.
    document = {"errors": [{"code": "InvalidInput", "message": "bad marketplace"}]}
    server.enqueue(400, document, {"Content-Encoding": encoding})
    api = make_api(server.url, retry=NO_RETRIES)

    with api.api_client, pytest.raises(BadRequestException) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert [error.code for error in caught.value.errors] == ["InvalidInput"]
    assert "bad marketplace" in str(caught.value)
    assert caught.value.note is None or "None" not in caught.value.note


def test_an_identity_encoded_success_that_does_not_parse_names_the_invalid_field(
    server: RecordingServer,
) -> None:
    server.enqueue(200, {"buyer": {"locale": 7}}, {"Content-Encoding": "identity"})
    api = make_api(server.url, retry=NO_RETRIES)

    with api.api_client, pytest.raises(ApiResponseError) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE)

    message = str(caught.value)
    assert "locale" in message
    assert "encoded" not in message
    assert "errors.pydantic.dev" not in message  # the problem, without pydantic's doc links


# -- answers the spec declares without a body ---------------------------------------------------


def test_a_bodiless_success_status_returns_none(server: RecordingServer) -> None:
    # An operation whose spec declares a 204 without a body (as some of Amazon's APIs do).
    operation = dataclasses.replace(GET_ATTRIBUTES, bodiless_statuses=(204,))
    server.enqueue(204)

    with ApiClient(Configuration(host=server.url, retry=NO_RETRIES)) as client:
        answer = client.call(operation, (ORDER_ID, MARKETPLACE))

    assert answer.status_code == 204
    assert answer.data is None


def test_an_operation_without_a_response_model_returns_none_whatever_came(
    server: RecordingServer,
) -> None:
    operation = dataclasses.replace(GET_ATTRIBUTES, response=None)
    server.enqueue(200, b"not json at all")

    with ApiClient(Configuration(host=server.url, retry=NO_RETRIES)) as client:
        answer = client.call(operation, (ORDER_ID, MARKETPLACE))

    assert answer.data is None
    assert answer.raw_data == b"not json at all"


# -- a failure with no answer: the tries it took ------------------------------------------------


def test_a_final_transport_error_after_retries_says_how_many_tries() -> None:
    # The count of tries is part of the final message, not only of the ``attempts`` attribute.
    failure = ApiConnectionError("connection refused", request_sent=False)

    error = _final_transport_error(failure, GET_ATTRIBUTES, 2)

    assert "2 attempts" in str(error)
    assert error.attempts == 2
    assert error.request_sent is False
