"""Regression tests for what review found, each against real servers on 127.0.0.1.

Every test here failed before the fix (commit "Fix what review found: no resend after a TLS
failure mid-request, secrets kept out of errors and tracebacks"), except the few marked as
guards: those check that a fix did not go too far (a GET is still retried, a certificate
rejection still means nothing was sent, a later token fetch is still tried).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import socket
import ssl
import threading
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import quote

import pytest
import urllib3

from py_sp_api import NO_RETRIES, LwaAuthError, RateLimit, RateLimiting, RetryPolicy
from py_sp_api.generated.messaging import (
    ApiClient,
    ApiConnectionError,
    ApiResponseError,
    ApiValueError,
    Attachment,
    Configuration,
    CreateConfirmOrderDetailsRequest,
    CreateWarrantyRequest,
    ForbiddenException,
    MessagingApi,
    TooManyRequestsException,
)
from py_sp_api.testing import MessagingSandbox
from tests.support import unused_port
from tests.support.fake_lwa import CLIENT_SECRET, REFRESH_TOKEN, FakeLwa
from tests.support.messaging import warranty_body
from tests.support.recording_proxy import RecordingProxy
from tests.support.threads import run_threads
from tests.support.throttling import (
    ACCESS_DENIED_BODY,
    QUOTA_EXCEEDED_BODY,
    TOKEN_EXPIRED_BODY,
)
from tests.support.tls import TlsServer, write_pems

ORDER_ID = "123-1234567-1234567"
MARKETPLACE = ["ATVPDKIKX0DER"]
FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)
SECRET_TOKEN = "Atza|IwEB-SECRET-ACCESS-TOKEN-4242"
DELIVERED_WARNING = "may have been delivered"

ApiFactory = Callable[..., MessagingApi]


@pytest.fixture
def make_api(open_api: ApiFactory) -> ApiFactory:
    """``make_api(host, **configuration)`` with no pacing and fast retries unless overridden."""
    return functools.partial(open_api, rate_limiting=False, retry=FAST_RETRY)


def confirm_order_details(api: MessagingApi, **kwargs: Any) -> object:
    body = CreateConfirmOrderDetailsRequest(text="Please confirm the size before we ship.")
    return api.create_confirm_order_details(ORDER_ID, MARKETPLACE, body, **kwargs)


# -- 1. a TLS failure after the request went out --------------------------------------------


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


def test_a_post_whose_tls_connection_breaks_after_sending_is_sent_once(tmp_path, make_api):
    with BrokenTlsServer(tmp_path) as tls:
        api = make_api(tls.url, ssl_ca_cert=str(tls.ca_file))
        with pytest.raises(ApiConnectionError) as caught:
            confirm_order_details(api)
        received = tls.received

    assert len(received) == 1, received
    assert received[0].startswith(b"POST ")
    assert caught.value.request_sent is None
    assert DELIVERED_WARNING in str(caught.value)


def test_a_get_whose_tls_connection_breaks_after_sending_is_retried(tmp_path, make_api):
    # Guard: a GET changes nothing, so the fix must not stop it being retried.
    with BrokenTlsServer(tmp_path) as tls:
        api = make_api(tls.url, ssl_ca_cert=str(tls.ca_file))
        with pytest.raises(ApiConnectionError) as caught:
            api.get_attributes(ORDER_ID, MARKETPLACE)
        received = tls.received

    assert len(received) > 1
    assert all(request.startswith(b"GET ") for request in received)
    assert caught.value.attempts == len(received)


def test_a_certificate_rejected_at_handshake_still_means_nothing_was_sent(tmp_path):
    # Guard: the server's certificate comes from a CA the client does not trust.
    with TlsServer(tmp_path) as tls:
        config = Configuration(host=tls.url(), rate_limiting=False, retry=NO_RETRIES)
        with ApiClient(config) as client, pytest.raises(ApiConnectionError) as caught:
            confirm_order_details(MessagingApi(client))
        assert tls.request_count == 0

    assert caught.value.request_sent is False
    assert DELIVERED_WARNING not in str(caught.value)


# -- 2. tokens and header values that a header cannot carry ---------------------------------


def test_a_static_token_with_a_line_break_is_refused_without_showing_it():
    with pytest.raises(ApiValueError) as caught:
        Configuration(access_token=SECRET_TOKEN + "\nX-Injected: 1")

    assert "SECRET-ACCESS-TOKEN" not in str(caught.value)


def test_a_token_read_with_its_trailing_newline_is_sent_without_it(server, make_api):
    # As read from a file: the line end is not part of the token.
    make_api(server.url, access_token=SECRET_TOKEN + "\n").get_attributes(ORDER_ID, MARKETPLACE)

    assert server.only_request().headers["x-amz-access-token"] == SECRET_TOKEN


def test_a_callable_token_with_crlf_raises_lwa_auth_error_and_sends_nothing(server, make_api):
    api = make_api(server.url, access_token=lambda: SECRET_TOKEN + "\r\nX-Injected: 1")

    with pytest.raises(LwaAuthError) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert "SECRET-ACCESS-TOKEN" not in str(caught.value)
    assert server.request_count == 0


def test_an_lwa_token_with_a_line_break_is_refused_and_nothing_is_sent(server, make_api):
    with FakeLwa(token_prefix="Atza|LWA-SECRET\ntoken-") as lwa:
        api = make_api(server.url, credentials=lwa.credentials())
        with pytest.raises(LwaAuthError) as caught:
            api.get_attributes(ORDER_ID, MARKETPLACE)
        issued = lwa.issued

    assert len(issued) == 1
    assert "LWA-SECRET" not in str(caught.value)
    assert server.request_count == 0


def test_a_header_value_with_a_line_break_is_refused_naming_only_the_header(server, make_api):
    api = make_api(server.url)

    with pytest.raises(ApiValueError) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE, _headers={"X-Note": "a-NOTE-VALUE\nb"})

    assert "X-Note" in str(caught.value)
    assert "NOTE-VALUE" not in str(caught.value)
    assert server.request_count == 0


# -- 3. secrets out of tracebacks that capture locals ----------------------------------------


def formatted_with_locals(exc: BaseException) -> str:
    """The whole chain, with every frame's locals, as Sentry-like error reporters record it."""
    report = traceback.TracebackException(type(exc), exc, exc.__traceback__, capture_locals=True)
    return "".join(report.format())


def test_lwa_secrets_stay_out_of_a_traceback_with_locals(server, lwa, make_api):
    lwa.invalid_grant()
    api = make_api(server.url, credentials=lwa.credentials())

    with pytest.raises(LwaAuthError) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE)
    report = formatted_with_locals(caught.value)

    assert "in _fetch" in report  # the frame that held the token request body
    assert CLIENT_SECRET not in report
    assert REFRESH_TOKEN not in report
    assert quote(REFRESH_TOKEN, safe="") not in report  # as form-encoded in the body


def test_the_access_token_stays_out_of_a_traceback_with_locals(sp, lwa, make_api):
    sp.reset_next()
    api = make_api(sp.url, credentials=lwa.credentials(), retry=NO_RETRIES)

    with pytest.raises(ApiConnectionError) as caught:
        api.create_warranty(ORDER_ID, MARKETPLACE, warranty_body())
    report = formatted_with_locals(caught.value)

    assert "x-amz-access-token" in report  # the request headers were captured
    assert lwa.issued == ["Atza|token-1"]
    for secret in (*lwa.issued, CLIENT_SECRET, REFRESH_TOKEN):
        assert secret not in report


# -- 4. user:password@ in the host and in the proxy URL --------------------------------------


def test_a_password_in_the_host_is_not_in_a_connection_error(make_api):
    api = make_api(f"http://user:hunter2-PW@127.0.0.1:{unused_port()}", retry=NO_RETRIES)

    with pytest.raises(ApiConnectionError) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert caught.value.request_sent is False
    assert "hunter2-PW" not in str(caught.value)


def test_proxy_credentials_in_the_url_become_a_proxy_authorization_header(server):
    user, password = "proxy-user", "p@ss:w0rd-PW"
    with RecordingProxy() as proxy:
        proxy_url = proxy.url.replace("://", f"://{user}:{quote(password, safe='')}@", 1)
        config = Configuration(
            host=server.url, proxy=proxy_url, rate_limiting=False, retry=NO_RETRIES
        )
        with ApiClient(config) as client:
            MessagingApi(client).get_attributes(ORDER_ID, MARKETPLACE)
            shown = [
                repr(config),
                str(config),
                config.to_debug_report(),
                repr(client.rest_client.pool_manager.proxy),
            ]
        relayed = proxy.requests

    assert len(relayed) == 1
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    assert relayed[0].header("Proxy-Authorization") == expected
    assert "Proxy-Authorization" not in server.only_request().headers  # not relayed upstream
    for text in shown:
        assert "w0rd-PW" not in text
        assert quote(password, safe="") not in text


# -- 5. the sandbox's recorded requests -----------------------------------------------------


def test_a_recorded_sandbox_request_hides_the_access_token():
    with MessagingSandbox() as sandbox:
        config = sandbox.configuration(access_token=SECRET_TOKEN, rate_limiting=False)
        with ApiClient(config) as client:
            MessagingApi(client).get_attributes(ORDER_ID, MARKETPLACE)
        recorded = sandbox.requests

    assert recorded[0].headers["x-amz-access-token"] == SECRET_TOKEN  # still there to check
    assert "'x-amz-access-token': '***'" in repr(recorded[0])
    for text in (repr(recorded[0]), str(recorded[0]), repr(recorded)):
        assert "SECRET-ACCESS-TOKEN" not in text


# -- 6. fields the models do not declare ----------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "make_body", "field"),
    [
        pytest.param(
            "create_confirm_order_details",
            lambda: CreateConfirmOrderDetailsRequest(txt="hi"),  # type: ignore[call-arg]
            "txt",
            id="model-typo",
        ),
        pytest.param(
            "create_warranty",
            lambda: {"coverageStartDate": "2024-01-01T00:00:00Z", "coverage_end": "2025"},
            "coverage_end",
            id="dict-typo",
        ),
        pytest.param(
            "create_warranty",
            lambda: CreateWarrantyRequest(
                attachments=[
                    Attachment(upload_destination_id="u-1", file_name="w.txt", **{"fileNmae": "x"})
                ]
            ),
            "fileNmae",
            id="nested-attachment-extra",
        ),
    ],
)
def test_a_body_with_an_unknown_field_is_refused_naming_it(
    server, make_api, operation, make_body, field
):
    api = make_api(server.url)

    with pytest.raises(ApiValueError) as caught:
        getattr(api, operation)(ORDER_ID, MARKETPLACE, make_body())

    assert field in str(caught.value)
    assert server.request_count == 0

    # The same call without the stray field goes out.
    fine: Dict[str, Any] = {
        "create_confirm_order_details": {"text": "hi"},
        "create_warranty": {"coverageStartDate": "2024-01-01T00:00:00Z"},
    }
    method = getattr(api, f"{operation}_with_http_info")
    assert method(ORDER_ID, MARKETPLACE, fine[operation]).status_code == 201
    assert server.request_count == 1


# -- 7. expired tokens and unread 401/403 bodies --------------------------------------------


def test_an_expired_token_that_does_not_change_is_not_resent(sp, make_api):
    calls: List[int] = []

    def same_token() -> str:
        calls.append(1)
        return "Atza|same-cached-token"

    sp.expire_token("Atza|same-cached-token")
    api = make_api(sp.url, access_token=same_token)

    with pytest.raises(ForbiddenException):
        confirm_order_details(api)

    assert sp.request_count == 1
    assert sp.tokens_seen == ["Atza|same-cached-token"]


def test_an_expired_token_is_resent_once_with_the_new_token(sp, make_api):
    # Guard: a callable that does hand out a new token still gets the one resend.
    handed_out: List[str] = []

    def rotating_token() -> str:
        handed_out.append("Atza|old" if not handed_out else "Atza|new")
        return handed_out[-1]

    sp.expire_token("Atza|old")
    confirm_order_details(make_api(sp.url, access_token=rotating_token))

    assert sp.tokens_seen == ["Atza|old", "Atza|new"]


@pytest.mark.parametrize(
    "body", [ACCESS_DENIED_BODY, TOKEN_EXPIRED_BODY], ids=["denied", "expired"]
)
def test_an_unread_403_to_a_call_with_a_token_can_still_be_read(server, make_api, body):
    server.enqueue(403, body)
    api = make_api(server.url, access_token=SECRET_TOKEN)

    response = api.get_attributes_without_preload_content(ORDER_ID, MARKETPLACE)
    try:
        assert response.status == 403
        assert json.loads(response.read()) == body
    finally:
        response.release_conn()
    assert server.request_count == 1


# -- 8. a failed LWA fetch is shared, not repeated by every waiting thread -------------------

HERD = 16


def herd_errors(lwa: FakeLwa, api: MessagingApi) -> List[Optional[str]]:
    """Start HERD calls at once; the LWA ``error`` each got (None for a success)."""
    barrier = threading.Barrier(HERD)
    lock = threading.Lock()
    errors: List[Optional[str]] = []

    def call() -> None:
        barrier.wait(timeout=10)
        try:
            api.get_attributes(ORDER_ID, MARKETPLACE)
            error = None
        except LwaAuthError as exc:
            error = exc.error
        with lock:
            errors.append(error)

    run_threads(HERD, call)
    return errors


def test_threads_starting_together_share_one_failed_lwa_fetch(server, make_api):
    with FakeLwa(delay=0.2) as lwa:
        lwa.invalid_grant(HERD)
        errors = herd_errors(lwa, make_api(server.url, credentials=lwa.credentials()))
        assert lwa.token_requests == 1

    assert errors == ["invalid_grant"] * HERD


def test_threads_starting_together_do_not_each_repeat_a_failed_lwa_fetch(server, make_api):
    with FakeLwa(delay=0.2) as lwa:
        lwa.invalid_grant(HERD)
        errors = herd_errors(lwa, make_api(server.url, credentials=lwa.credentials()))
        herd_requests = lwa.token_requests

    assert errors == ["invalid_grant"] * HERD
    assert herd_requests <= 2, "each waiting thread asked LWA again"
    assert server.request_count == 0


def test_a_call_after_a_failed_lwa_fetch_asks_lwa_again(server, lwa, make_api):
    # Guard: a shared failure must not be cached for later calls.
    lwa.invalid_grant(1)
    api = make_api(server.url, credentials=lwa.credentials())
    with pytest.raises(LwaAuthError):
        api.get_attributes(ORDER_ID, MARKETPLACE)

    api.get_attributes(ORDER_ID, MARKETPLACE)

    assert lwa.token_requests == 2
    assert server.only_request().headers["x-amz-access-token"] == "Atza|token-1"


# -- 9. Retry-After and max_wait ------------------------------------------------------------


def test_a_retry_after_beyond_max_backoff_raises_the_429_at_once(sp, make_api):
    sp.throttle_next(1, retry_after="120")

    with pytest.raises(TooManyRequestsException) as caught:
        make_api(sp.url).get_attributes(ORDER_ID, MARKETPLACE)

    assert sp.request_count == 1
    assert caught.value.headers["Retry-After"] == "120"


def test_a_rate_limit_wait_too_long_for_a_retry_reports_the_429(sp, make_api):
    # One request every 2 s: after the 429 the retry would wait ~2 s, beyond max_wait.
    pacing = RateLimiting(overrides={"get_attributes": RateLimit(rate=0.5, burst=1)}, max_wait=0.2)
    sp.throttle_next(1)

    with pytest.raises(TooManyRequestsException) as caught:
        make_api(sp.url, rate_limiting=pacing).get_attributes(ORDER_ID, MARKETPLACE)

    assert caught.value.status == 429
    assert sp.request_count == 1


def test_an_unread_429_reported_instead_of_a_too_long_wait_can_still_be_read(sp, make_api):
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


# -- 10. nonsense rates and token lifetimes -------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": 0, "burst": 1},
        {"rate": -1, "burst": 3},
        {"rate": float("nan"), "burst": 1},
        {"rate": float("inf"), "burst": 1},
        {"rate": 1, "burst": 0},
    ],
    ids=["rate-0", "rate-negative", "rate-nan", "rate-inf", "burst-0"],
)
def test_a_rate_limit_that_is_not_positive_is_refused(kwargs):
    with pytest.raises(ApiValueError):
        RateLimit(**kwargs)


@pytest.mark.parametrize("expires_in", [0, -5, "NaN"])
def test_a_nonsense_token_lifetime_does_not_mean_a_token_request_per_call(
    server, make_api, expires_in
):
    lifetime: Any = expires_in
    with FakeLwa(expires_in=lifetime) as lwa:
        api = make_api(server.url, credentials=lwa.credentials())
        for _ in range(3):
            api.get_attributes(ORDER_ID, MARKETPLACE)
        token_requests = lwa.token_requests

    assert token_requests == 1
    assert server.request_count == 3


# -- 11. the sandbox and a body sent where none is expected ---------------------------------

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
def test_the_sandbox_answers_a_body_sent_to_an_operation_without_one(method, suffix, body, status):
    http = urllib3.PoolManager(retries=False)
    path = f"/messaging/v1/orders/{ORDER_ID}{suffix}?marketplaceIds=ATVPDKIKX0DER"
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


# -- 12. *.localhost is not loopback --------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["http://foo.localhost", "http://foo.localhost:8080", "http://a.b.localhost"]
)
def test_a_localhost_subdomain_is_not_trusted_with_credentials(host, lwa):
    with pytest.raises(ApiValueError):
        Configuration(host=host, access_token=SECRET_TOKEN)
    with pytest.raises(ApiValueError):
        Configuration(host=host, credentials=lwa.credentials())
    config = Configuration(host="http://127.0.0.1:1", access_token=SECRET_TOKEN)
    with pytest.raises(ApiValueError):
        config.host = host

    # Loopback names and addresses still are.
    for loopback in ("http://localhost:1", "http://127.0.0.1:1", "http://[::1]:1"):
        assert Configuration(host=loopback, access_token=SECRET_TOKEN).host == loopback


# -- 13. an unreadable 2xx answer -----------------------------------------------------------


def test_an_unreadable_2xx_answer_to_a_post_says_the_message_was_sent(server, make_api):
    server.enqueue(201, b"<html>Created</html>", {"Content-Type": "text/html"})

    with pytest.raises(ApiResponseError) as caught:
        confirm_order_details(make_api(server.url))

    assert "the message was sent" in str(caught.value)
    assert "do not send it again" in str(caught.value)
    assert server.request_count == 1


def test_an_unreadable_2xx_answer_to_a_get_does_not_say_a_message_was_sent(server, make_api):
    # Guard: a GET sends no message, so it must not claim one was sent.
    server.enqueue(200, b"{not json", {"Content-Type": "application/json"})

    with pytest.raises(ApiResponseError) as caught:
        make_api(server.url).get_attributes(ORDER_ID, MARKETPLACE)

    assert "message was sent" not in str(caught.value)
    assert "do not send" not in str(caught.value)
