"""Retries against a real server: what is resent, what never is, and how many times.

The rule under test: a request that may have reached Amazon is resent only if it is a GET. A
POST (a message to a buyer) is resent only when Amazon certainly did not process it: a 429, or
a connection that failed before anything was sent.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import ssl
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Callable, List, Optional

import pytest
from urllib3 import HTTPHeaderDict

from py_sp_api import NO_RETRIES, RateLimit, RateLimiting, RetryPolicy
from py_sp_api.generated.messaging import (
    ApiClient,
    ApiConnectionError,
    ApiTimeoutError,
    BadRequestException,
    Configuration,
    CreateConfirmOrderDetailsRequest,
    MessagingApi,
    ServiceException,
    TooManyRequestsException,
)
from py_sp_api.runtime.retry import parse_retry_after
from tests.support import unused_port
from tests.support.messaging import warranty_body
from tests.support.throttling import QUOTA_EXCEEDED_BODY, ThrottlingServer
from tests.support.tls import TlsServer, write_pems

ORDER_ID = "123-1234567-1234567"
MARKETPLACE = ["ATVPDKIKX0DER"]
FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)
DELIVERED_WARNING = "may have been delivered"

ApiFactory = Callable[..., MessagingApi]


@pytest.fixture
def make_api(open_api: ApiFactory) -> ApiFactory:
    """``make_api(host, **configuration)`` with no pacing and fast retries unless overridden."""
    return functools.partial(open_api, rate_limiting=False, retry=FAST_RETRY)


def call(api: MessagingApi, operation: str) -> object:
    """A GET (``get_attributes``) or a POST (``create_warranty``) with valid arguments."""
    if operation == "get_attributes":
        return api.get_attributes(ORDER_ID, MARKETPLACE)
    return api.create_warranty(ORDER_ID, MARKETPLACE, warranty_body())


def statuses(server: ThrottlingServer) -> List[int]:
    return [response.status for response in server.responses]


def retry_log_lines(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "py_sp_api.http" and "retrying in" in record.getMessage()
    ]


# -- server errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_get_hitting_5xx_twice_then_200_succeeds(
    sp: ThrottlingServer, make_api: ApiFactory, status: int
) -> None:
    sp.fail_next(2, status=status)

    result = make_api(sp.url).get_attributes(ORDER_ID, MARKETPLACE)

    assert result.buyer is not None
    assert result.buyer.locale == "en-US"
    assert sp.request_count == 3
    assert statuses(sp) == [status, status, 200]


def test_a_get_hitting_503_forever_gives_up_after_max_attempts(
    sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    sp.fail_next(10, status=503)

    with pytest.raises(ServiceException) as caught:
        make_api(sp.url).get_attributes(ORDER_ID, MARKETPLACE)

    assert sp.request_count == 4
    assert caught.value.attempts == 4
    assert "after 4 attempts" in str(caught.value)


def test_a_post_hitting_503_is_sent_once(sp: ThrottlingServer, make_api: ApiFactory) -> None:
    sp.fail_next(1, status=503)

    with pytest.raises(ServiceException) as caught:
        make_api(sp.url).create_warranty(ORDER_ID, MARKETPLACE, warranty_body())

    assert sp.request_count == 1
    exc = caught.value
    assert exc.status == 503
    assert exc.attempts == 1
    assert DELIVERED_WARNING in str(exc)
    assert "not re-sent" in str(exc)


def test_no_retries_sends_a_get_once(sp: ThrottlingServer, make_api: ApiFactory) -> None:
    sp.fail_next(1, status=503)

    with pytest.raises(ServiceException) as caught:
        make_api(sp.url, retry=NO_RETRIES).get_attributes(ORDER_ID, MARKETPLACE)

    assert sp.request_count == 1
    assert caught.value.attempts == 1


def test_a_400_is_never_retried(sp: ThrottlingServer, make_api: ApiFactory) -> None:
    sp.enqueue(400, {"errors": [{"code": "InvalidInput", "message": "bad"}]})

    with pytest.raises(BadRequestException):
        make_api(sp.url).get_attributes(ORDER_ID, MARKETPLACE)

    assert sp.request_count == 1


# -- 429 ---------------------------------------------------------------------------------------


def test_a_429_on_a_post_is_retried_and_the_same_body_resent(
    sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    sp.throttle_next(1, retry_after="0")

    make_api(sp.url).create_warranty(ORDER_ID, MARKETPLACE, warranty_body())

    assert statuses(sp) == [429, 201]
    first, second = sp.requests
    assert first.body == second.body
    assert second.json()["attachments"][0]["fileName"] == "warranty.txt"


def test_retry_after_is_honoured(
    sp: ThrottlingServer, make_api: ApiFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="py_sp_api")
    # Without Retry-After this policy would wait 5 s: the server's 0 must win.
    slow = RetryPolicy(max_attempts=3, initial_backoff=5.0, max_backoff=5.0, jitter=False)
    sp.throttle_next(1, retry_after="0")

    make_api(sp.url, retry=slow).create_warranty(ORDER_ID, MARKETPLACE, warranty_body())

    assert sp.request_count == 2
    lines = retry_log_lines(caplog)
    assert len(lines) == 1
    assert "HTTP 429" in lines[0]
    assert "retrying in 0.000s" in lines[0]


def test_a_retry_after_beyond_max_backoff_is_not_cut_short(
    sp: ThrottlingServer, make_api: ApiFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # Retrying before Amazon allows it would only spend attempts: the 429 is raised at once.
    caplog.set_level(logging.DEBUG, logger="py_sp_api")
    sp.throttle_next(1, retry_after="120")

    with pytest.raises(TooManyRequestsException) as caught:
        make_api(sp.url).get_attributes(ORDER_ID, MARKETPLACE)

    assert sp.request_count == 1
    assert caught.value.headers["Retry-After"] == "120"
    assert retry_log_lines(caplog) == []


def test_a_retry_after_within_max_backoff_is_waited(
    sp: ThrottlingServer, make_api: ApiFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="py_sp_api")
    sp.throttle_next(1, retry_after="0.04")

    make_api(sp.url).get_attributes(ORDER_ID, MARKETPLACE)

    assert sp.request_count == 2
    assert ["retrying in 0.040s" in line for line in retry_log_lines(caplog)] == [True]


@pytest.mark.parametrize("operation", ["get_attributes", "create_warranty"])
def test_429_forever_gives_up_after_max_attempts(
    make_api: ApiFactory, request: pytest.FixtureRequest, operation: str
) -> None:
    server = ThrottlingServer(rate=0.001, burst=0).start()  # an empty bucket: always 429
    request.addfinalizer(server.stop)
    api = make_api(server.url)

    with pytest.raises(TooManyRequestsException) as caught:
        call(api, operation)

    exc = caught.value
    assert server.request_count == 4
    assert server.throttled == 4
    assert exc.attempts == 4
    assert "after 4 attempts" in str(exc)
    assert [error.code for error in exc.errors] == ["QuotaExceeded"]


def test_parse_retry_after_delta_seconds() -> None:
    assert parse_retry_after(HTTPHeaderDict({"Retry-After": "3"})) == 3.0
    assert parse_retry_after(HTTPHeaderDict({"retry-after": " 7 "})) == 7.0
    assert parse_retry_after(HTTPHeaderDict({"Retry-After": "0"})) == 0.0
    assert parse_retry_after(HTTPHeaderDict({"Retry-After": "-5"})) == 0.0


def test_parse_retry_after_http_date() -> None:
    future = datetime.now(timezone.utc) + timedelta(seconds=120)
    past = datetime.now(timezone.utc) - timedelta(seconds=120)

    in_future = parse_retry_after({"Retry-After": format_datetime(future, usegmt=True)})
    in_past = parse_retry_after({"Retry-After": format_datetime(past, usegmt=True)})

    assert in_future is not None
    assert 110 <= in_future <= 121
    assert in_past == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "Thu, 99 Foo 2024 99:99:99 GMT"])
def test_parse_retry_after_ignores_missing_or_bad_values(value: Optional[str]) -> None:
    headers = HTTPHeaderDict() if value is None else HTTPHeaderDict({"Retry-After": value})
    assert parse_retry_after(headers) is None


def test_retry_policy_backoff() -> None:
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=3.0, jitter=False)
    assert [policy.delay(attempt) for attempt in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.delay(1, retry_after=2.0) == 2.0
    assert policy.delay(1, retry_after=60.0) == 3.0
    jittered = RetryPolicy(initial_backoff=1.0, max_backoff=30.0)
    for _ in range(50):
        assert 0.5 <= jittered.delay(1) <= 1.0
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


def test_the_default_policy() -> None:
    assert Configuration().retry == RetryPolicy(max_attempts=5, initial_backoff=0.5)
    assert NO_RETRIES.max_attempts == 1


# -- transport failures ------------------------------------------------------------------------


def test_a_get_whose_connection_is_reset_is_retried(
    sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    sp.reset_next(1)

    make_api(sp.url).get_attributes(ORDER_ID, MARKETPLACE)

    assert sp.request_count == 2
    assert statuses(sp) == [200]


def test_a_post_whose_connection_is_reset_is_not_retried(
    sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    sp.reset_next(1)

    with pytest.raises(ApiConnectionError) as caught:
        make_api(sp.url).create_warranty(ORDER_ID, MARKETPLACE, warranty_body())

    assert sp.request_count == 1
    exc = caught.value
    assert not isinstance(exc, ApiTimeoutError)
    assert exc.attempts == 1
    assert exc.request_sent is not False
    assert DELIVERED_WARNING in str(exc)


@pytest.mark.parametrize("operation", ["get_attributes", "create_warranty"])
def test_connection_refused_is_retried_even_for_a_post(
    make_api: ApiFactory, caplog: pytest.LogCaptureFixture, operation: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="py_sp_api")
    api = make_api(f"http://127.0.0.1:{unused_port()}")

    with pytest.raises(ApiConnectionError) as caught:
        call(api, operation)

    exc = caught.value
    assert exc.attempts == 4
    assert exc.request_sent is False
    assert "after 4 attempts" in str(exc)
    assert DELIVERED_WARNING not in str(exc)
    assert len(retry_log_lines(caplog)) == 3


def test_a_get_that_times_out_is_retried(sp: ThrottlingServer, make_api: ApiFactory) -> None:
    sp.delay_next(3.0)

    result = make_api(sp.url).get_attributes(ORDER_ID, MARKETPLACE, _request_timeout=(1, 0.3))

    assert result.buyer is not None
    assert sp.request_count == 2


def test_a_post_that_times_out_is_sent_once(sp: ThrottlingServer, make_api: ApiFactory) -> None:
    sp.delay_next(3.0)

    with pytest.raises(ApiTimeoutError) as caught:
        make_api(sp.url).create_warranty(
            ORDER_ID, MARKETPLACE, warranty_body(), _request_timeout=(1, 0.3)
        )

    assert sp.request_count == 1
    exc = caught.value
    assert exc.attempts == 1
    assert exc.request_sent is True
    assert DELIVERED_WARNING in str(exc)


# -- what the mutation run found untested (issue 9, item 13) ----------------------------------


def test_jittered_backoff_still_doubles_each_retry() -> None:
    policy = RetryPolicy(initial_backoff=1.0, max_backoff=30.0, jitter=True)
    for attempt, full in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 30.0)):
        delays = [policy.delay(attempt) for _ in range(200)]
        # Jitter spreads each delay over [full/2, full]; it never replaces the backoff.
        assert all(full / 2 <= delay <= full for delay in delays), (attempt, delays)
        # Both ends of the range are used (each check fails by chance with p < 1e-19).
        assert min(delays) < 0.6 * full, (attempt, delays)
        assert max(delays) > 0.9 * full, (attempt, delays)


def test_the_default_policy_jitters_and_caps_every_wait_at_30_seconds() -> None:
    policy = RetryPolicy()
    assert policy.max_backoff == 30.0
    assert policy.jitter is True
    assert policy.delay(1, retry_after=600.0) == 30.0
    assert all(policy.delay(20) <= 30.0 for _ in range(50))
    assert len({policy.delay(3) for _ in range(20)}) > 1, "the default policy does not jitter"


def test_a_retry_after_of_ten_minutes_is_not_slept_under_the_default_policy(
    sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    sp.throttle_next(1, retry_after="600")

    with pytest.raises(TooManyRequestsException):
        make_api(sp.url, retry=RetryPolicy()).get_attributes(ORDER_ID, MARKETPLACE)

    assert sp.request_count == 1


def test_parse_retry_after_http_date_in_the_minus_0000_zone() -> None:
    # RFC 5322 "-0000": UTC with no zone information; parsedate gives a naive datetime.
    future = datetime.now(timezone.utc) + timedelta(seconds=120)
    value = format_datetime(future).replace("+0000", "-0000")
    assert value.endswith("-0000")

    seconds = parse_retry_after({"Retry-After": value})

    assert seconds is not None
    assert 110 <= seconds <= 121


# -- a TLS failure after the request went out --------------------------------------------------


def confirm_order_details(api: MessagingApi, **kwargs: Any) -> object:
    body = CreateConfirmOrderDetailsRequest(text="Please confirm the size before we ship.")
    return api.create_confirm_order_details(ORDER_ID, MARKETPLACE, body, **kwargs)


class BrokenTlsServer:
    """HTTPS on 127.0.0.1 (the test CA's certificate) that breaks TLS once a request is in.

    Each connection completes the handshake, reads one whole request, and then gets a bogus
    TLS record instead of an answer: the client's TLS layer fails *after* the server received
    the request, as when Amazon processed a message and the connection broke on the way back.
    """

    BOGUS_RECORD = b"\x17\x03\x03\x00\x10garbage-garbage!"

    def __init__(self, directory: Path) -> None:
        self.ca_file, cert, key = write_pems(directory)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(str(cert), str(key))
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(0.02)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._received: List[bytes] = []
        self._thread = threading.Thread(target=self._serve, name="broken-tls", daemon=True)

    def __enter__(self) -> BrokenTlsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._listener.getsockname()[1]}"

    @property
    def received(self) -> List[bytes]:
        """Each complete request received: its request line, a space, and its body."""
        with self._lock:
            return list(self._received)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                raw, _ = self._listener.accept()
            except socket.timeout:
                continue
            raw.settimeout(5)
            try:
                self._break_after_request(raw)
            except OSError:
                pass  # the client rejected the handshake or went away
            finally:
                raw.close()

    def _break_after_request(self, raw: socket.socket) -> None:
        with self._context.wrap_socket(raw, server_side=True) as tls:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = tls.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                chunk = tls.recv(65536)
                if not chunk:
                    return
                body += chunk
            with self._lock:
                self._received.append(lines[0] + b" " + body)
            # The request is all here; now write garbage under the TLS layer.
            with socket.socket(fileno=os.dup(tls.fileno())) as plain:
                plain.sendall(self.BOGUS_RECORD)


def test_a_post_whose_tls_connection_breaks_after_sending_is_sent_once(
    tmp_path: Path, make_api: ApiFactory
) -> None:
    with BrokenTlsServer(tmp_path) as tls:
        api = make_api(tls.url, ssl_ca_cert=str(tls.ca_file))
        with pytest.raises(ApiConnectionError) as caught:
            confirm_order_details(api)
        received = tls.received

    assert len(received) == 1, received
    assert received[0].startswith(b"POST ")
    assert caught.value.request_sent is None
    assert DELIVERED_WARNING in str(caught.value)


def test_a_get_whose_tls_connection_breaks_after_sending_is_retried(
    tmp_path: Path, make_api: ApiFactory
) -> None:
    # Guard: a GET changes nothing, so the fix must not stop it being retried.
    with BrokenTlsServer(tmp_path) as tls:
        api = make_api(tls.url, ssl_ca_cert=str(tls.ca_file))
        with pytest.raises(ApiConnectionError) as caught:
            api.get_attributes(ORDER_ID, MARKETPLACE)
        received = tls.received

    assert len(received) > 1
    assert all(request.startswith(b"GET ") for request in received)
    assert caught.value.attempts == len(received)


def test_a_certificate_rejected_at_handshake_still_means_nothing_was_sent(tmp_path: Path) -> None:
    # Guard: the server's certificate comes from a CA the client does not trust.
    with TlsServer(tmp_path) as tls:
        config = Configuration(host=tls.url(), rate_limiting=False, retry=NO_RETRIES)
        with ApiClient(config) as client, pytest.raises(ApiConnectionError) as caught:
            confirm_order_details(MessagingApi(client))
        assert tls.request_count == 0

    assert caught.value.request_sent is False
    assert DELIVERED_WARNING not in str(caught.value)


# -- Retry-After and max_wait ------------------------------------------------------------------


def test_a_retry_after_beyond_max_backoff_raises_the_429_at_once(
    sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    sp.throttle_next(1, retry_after="120")

    with pytest.raises(TooManyRequestsException) as caught:
        make_api(sp.url).get_attributes(ORDER_ID, MARKETPLACE)

    assert sp.request_count == 1
    assert caught.value.headers["Retry-After"] == "120"


def test_a_rate_limit_wait_too_long_for_a_retry_reports_the_429(
    sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    # One request every 2 s: after the 429 the retry would wait ~2 s, beyond max_wait.
    pacing = RateLimiting(overrides={"get_attributes": RateLimit(rate=0.5, burst=1)}, max_wait=0.2)
    sp.throttle_next(1)

    with pytest.raises(TooManyRequestsException) as caught:
        make_api(sp.url, rate_limiting=pacing).get_attributes(ORDER_ID, MARKETPLACE)

    assert caught.value.status == 429
    assert sp.request_count == 1


def test_an_unread_429_reported_instead_of_a_too_long_wait_can_still_be_read(
    sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    pacing = RateLimiting(overrides={"get_attributes": RateLimit(rate=0.5, burst=1)}, max_wait=0.2)
    sp.throttle_next(1)
    api = make_api(sp.url, rate_limiting=pacing)

    response = api.get_attributes_without_preload_content(ORDER_ID, MARKETPLACE)
    try:
        assert response.status == 429
        assert json.loads(response.read()) == QUOTA_EXCEEDED_BODY
    finally:
        response.release_conn()
    assert sp.request_count == 1
