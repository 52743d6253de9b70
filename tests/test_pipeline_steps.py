"""The request loop's named steps, each on its own: the retry decisions, the backoff, the
token a call sends (authorise, and the one renewal after an expired token), pacing, the steps
after a refused answer, and the injectable backoff sleep.

The whole loop is tested against real servers elsewhere (test_retries, test_auth,
test_journal); here each step gets exactly the inputs that decide it. The last section checks,
against a local server where a step's effect only shows in a whole call, what each step hands
on: header parameters, the 2xx bounds, the tries counted, the debug log and the hooks' reports.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import time
from typing import Dict, Iterator, List, Optional, Type

import pytest
import urllib3

from py_sp_api import (
    NO_RETRIES,
    CallableTokenProvider,
    Hooks,
    LwaCredentials,
    RateLimit,
    RateLimiting,
    RetryPolicy,
)
from py_sp_api.generated.messaging import (
    ApiClient,
    ApiConnectionError,
    Configuration,
    CreateConfirmOrderDetailsRequest,
    MessagingApi,
)
from py_sp_api.generated.messaging.exceptions import (
    ApiException,
    ApiResponseTooLargeError,
    ServiceException,
)
from py_sp_api.generated.messaging.operations import OPERATIONS
from py_sp_api.runtime.api_client import _CallToken, _SendProgress, _Sent
from py_sp_api.runtime.auth import StaticTokenProvider
from py_sp_api.runtime.events import AttemptStarted, ResponseReceived, RetryScheduled
from py_sp_api.runtime.header_params import HeaderParam
from py_sp_api.runtime.headers import ACCESS_TOKEN_HEADER
from tests.support import RecordingServer
from tests.support.throttling import RecordingSleep, ThrottlingServer

GET = OPERATIONS["get_attributes"]
POST = OPERATIONS["create_warranty"]
ORDER_ID = "123-1234567-1234567"
MARKETPLACE = ["ATVPDKIKX0DER"]
MESSAGE = CreateConfirmOrderDetailsRequest(text="Could you confirm the engraving?")
NO_JITTER = RetryPolicy(max_attempts=3, initial_backoff=0.5, max_backoff=4.0, jitter=False)
EXPIRED = json.dumps(
    {
        "errors": [
            {
                "code": "Unauthorized",
                "message": "Access to requested resource is denied.",
                "details": "The access token you provided has expired.",
            }
        ]
    }
).encode()
DENIED = json.dumps(
    {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]}
).encode()


# -- the retry decision for an answer ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "idempotent", "retried"),
    [
        (429, True, True),
        (429, False, True),  # a 429 processed nothing: even a POST is sent again
        (500, True, True),
        (502, True, True),
        (503, True, True),
        (504, True, True),
        (500, False, False),  # a POST that may have been processed is never resent
        (503, False, False),
        (400, True, False),
        (401, True, False),
        (403, False, False),
        (404, True, False),
        (501, True, False),
    ],
)
def test_the_retry_decision_for_each_status_and_method(
    status: int, idempotent: bool, retried: bool
) -> None:
    delay = NO_JITTER.delay_after_status(1, status, idempotent, {})

    assert (delay is not None) == retried
    if retried:
        assert delay == 0.5


@pytest.mark.parametrize(("attempt", "expected"), [(1, 0.5), (2, 1.0), (3, None), (4, None)])
def test_the_retry_decision_stops_at_max_attempts(attempt: int, expected: Optional[float]) -> None:
    assert NO_JITTER.delay_after_status(attempt, 429, False, {}) == expected


def test_the_backoff_doubles_up_to_max_backoff_without_retry_after() -> None:
    policy = RetryPolicy(max_attempts=10, initial_backoff=0.5, max_backoff=4.0, jitter=False)

    delays = [policy.delay_after_status(attempt, 503, True, {}) for attempt in range(1, 7)]

    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_jittered_backoff_lies_between_half_and_the_whole_delay() -> None:
    policy = RetryPolicy(max_attempts=10, initial_backoff=1.0, max_backoff=30.0, jitter=True)

    delays = [policy.delay_after_status(3, 429, False, {}) for _ in range(100)]

    assert all(delay is not None and 2.0 <= delay <= 4.0 for delay in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("2", 2.0), ("0", 0.0), ("4", 4.0), ("4.5", None), ("600", None), ("soon", 0.5)],
)
def test_retry_after_sets_the_delay_or_stops_the_retry(
    retry_after: str, expected: Optional[float]
) -> None:
    # Beyond max_backoff the answer is reported, not waited for shorter than Amazon asked;
    # an unreadable value falls back to the backoff.
    headers = {"Retry-After": retry_after}

    assert NO_JITTER.delay_after_status(1, 429, False, headers) == expected


@pytest.mark.parametrize(
    ("request_sent", "idempotent", "retried"),
    [
        (False, False, True),  # nothing left the process: even a POST is safe to send again
        (False, True, True),
        (None, True, True),
        (True, True, True),
        (None, False, False),  # may have reached Amazon: a POST is never resent
        (True, False, False),
    ],
)
def test_the_retry_decision_after_no_answer(
    request_sent: Optional[bool], idempotent: bool, retried: bool
) -> None:
    first = NO_JITTER.delay_after_transport_failure(1, request_sent, idempotent)
    last = NO_JITTER.delay_after_transport_failure(3, request_sent, idempotent)

    assert first == (0.5 if retried else None)
    assert last is None


def test_the_backoff_sleep_is_not_part_of_the_policy_value() -> None:
    recorded = RetryPolicy(sleep=RecordingSleep())

    assert recorded == RetryPolicy()
    assert hash(recorded) == hash(RetryPolicy())
    assert "sleep" not in repr(recorded)


# -- authorise, and after an auth failure ------------------------------------------------------


class Tokens:
    """A token callable that hands out ``tokens`` in turn (the last one again at the end)."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.calls = 0

    def __call__(self) -> str:
        token = self.tokens[min(self.calls, len(self.tokens) - 1)]
        self.calls += 1
        return token


def call_token(fetch: Tokens) -> _CallToken:
    with ApiClient(Configuration()) as client:
        return _CallToken(CallableTokenProvider(fetch), client.rest_client)


def test_authorise_puts_the_current_token_into_the_headers() -> None:
    token = call_token(Tokens("Atza|first", "Atza|second"))
    headers: Dict[str, str] = {"Accept": "application/hal+json"}

    token.authorise(headers)
    assert headers[ACCESS_TOKEN_HEADER] == "Atza|first"
    token.authorise(headers)
    assert headers[ACCESS_TOKEN_HEADER] == "Atza|second"


def test_an_expired_token_is_renewed_once_and_marks_nothing_sent() -> None:
    token = call_token(Tokens("Atza|old", "Atza|new"))
    token.authorise({})
    progress = _SendProgress()
    progress.may_have_reached = True

    assert token.renewed_after(EXPIRED, POST.error_model, progress) is True
    assert progress.may_have_reached is False
    # A second expiry in the same call is reported, not renewed again.
    assert token.renewed_after(EXPIRED, POST.error_model, progress) is False


def test_a_refusal_that_is_not_an_expired_token_is_not_renewed() -> None:
    fetch = Tokens("Atza|old", "Atza|new")
    token = call_token(fetch)
    token.authorise({})
    progress = _SendProgress()
    progress.may_have_reached = True

    assert token.renewed_after(DENIED, POST.error_model, progress) is False
    assert token.renewed_after(b"The access token expired", POST.error_model, None) is False
    assert progress.may_have_reached is True
    assert fetch.calls == 1


def test_an_expired_token_is_not_resent_when_no_different_token_comes() -> None:
    token = call_token(Tokens("Atza|same"))
    token.authorise({})

    assert token.renewed_after(EXPIRED, POST.error_model, None) is False


def test_a_static_token_is_never_renewed() -> None:
    with ApiClient(Configuration()) as client:
        token = _CallToken(StaticTokenProvider("Atza|fixed"), client.rest_client)
    token.authorise({})

    assert token.renewed_after(EXPIRED, POST.error_model, None) is False


# -- the steps that need a client ----------------------------------------------------------------


@pytest.fixture
def slept() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def client(slept: RecordingSleep) -> Iterator[ApiClient]:
    limiting = RateLimiting(overrides={"get_attributes": RateLimit(1.0, 1)}, sleep=slept)
    configuration = Configuration(
        retry=dataclasses.replace(NO_JITTER, sleep=slept), rate_limiting=limiting
    )
    with ApiClient(configuration) as api_client:
        yield api_client


def answer(
    status: int, body: bytes, headers: Optional[Dict[str, str]] = None
) -> urllib3.HTTPResponse:
    """An unread response, as ``call_raw`` gets it from the pool."""
    return urllib3.HTTPResponse(
        body=io.BytesIO(body), headers=headers or {}, status=status, preload_content=False
    )


def unread_sent() -> _Sent:
    """What every try of a ``call_raw`` uses (only ``preload_content=False`` matters here)."""
    return (("POST", "/", None, None), "http://127.0.0.1/", {}, None, False, "")


def test_pace_skips_the_token_taken_before_the_claim(
    client: ApiClient, slept: RecordingSleep
) -> None:
    progress = _SendProgress(paced=True)

    assert client._pace(GET, "", progress) == 0.0
    assert progress.paced is False
    assert client._pace(GET, "", progress) == 0.0  # the burst of one is still there
    assert client._pace(GET, "", progress) == pytest.approx(1.0, abs=0.05)
    assert slept.calls == [pytest.approx(1.0, abs=0.05)]


def test_after_a_429_the_post_pauses_and_keeps_the_answer_readable(
    client: ApiClient, slept: RecordingSleep
) -> None:
    progress = _SendProgress()
    progress.may_have_reached = True

    kept = client._after_refusal(
        answer(429, b'{"errors": []}'), POST, unread_sent(), 1, progress, None
    )

    assert kept is not None
    assert kept.status == 429
    assert kept.read() == b'{"errors": []}'
    assert slept.calls == [0.5]
    assert progress.may_have_reached is False  # a 429 processed nothing


def test_after_a_503_a_post_is_reported_without_a_pause(
    client: ApiClient, slept: RecordingSleep
) -> None:
    progress = _SendProgress()
    progress.may_have_reached = True

    kept = client._after_refusal(answer(503, b"busy"), POST, unread_sent(), 1, progress, None)

    assert kept is None
    assert slept.calls == []
    assert progress.may_have_reached is True


def test_after_an_expired_token_the_call_resends_once(client: ApiClient) -> None:
    token = call_token(Tokens("Atza|old", "Atza|new"))
    token.authorise({})

    first = client._after_auth_failure(
        answer(403, EXPIRED), token, POST, unread_sent(), 1, None, None
    )
    second = client._after_auth_failure(
        answer(403, EXPIRED), token, POST, unread_sent(), 2, None, None
    )

    assert first is None
    assert second is not None
    assert second.status == 403
    assert second.read() == EXPIRED


# -- the injectable backoff sleep, end to end ----------------------------------------------------


def test_the_backoff_sleep_is_injectable(sp: ThrottlingServer) -> None:
    slept = RecordingSleep()
    policy = RetryPolicy(max_attempts=3, initial_backoff=7.0, jitter=False, sleep=slept)
    sp.fail_next(2, status=503)

    with ApiClient(Configuration(host=sp.url, rate_limiting=False, retry=policy)) as api_client:
        result = MessagingApi(api_client).get_attributes(ORDER_ID, MARKETPLACE)

    assert result.buyer is not None
    assert slept.calls == [7.0, 14.0]  # recorded, not waited: the test takes milliseconds
    assert [response.status for response in sp.responses] == [503, 503, 200]


# -- after no answer, and the headers of a call -------------------------------------------------


def test_after_a_connection_refused_even_a_post_pauses_and_counts_as_not_sent(
    client: ApiClient, slept: RecordingSleep
) -> None:
    progress = _SendProgress()
    progress.may_have_reached = True
    refused = ApiConnectionError("could not connect", request_sent=False)

    client._after_transport_failure(refused, POST, 1, progress, None)

    assert slept.calls == [0.5]
    assert progress.may_have_reached is False


def test_after_a_dropped_post_the_final_error_says_it_may_have_been_delivered(
    client: ApiClient, slept: RecordingSleep
) -> None:
    dropped = ApiConnectionError("connection dropped", request_sent=None)

    with pytest.raises(ApiConnectionError, match="may have been delivered") as raised:
        client._after_transport_failure(dropped, POST, 1, None, None)

    assert raised.value.attempts == 1
    assert slept.calls == []


def test_a_per_call_token_replaces_the_configured_one_for_the_whole_call() -> None:
    configuration = Configuration(access_token="Atza|configured")
    with ApiClient(configuration) as api_client:
        configured, token = api_client._request_headers("application/json", None, None)
        given, no_token = api_client._request_headers(
            None, {"X-Amz-Access-Token": "Atza|restricted"}, None
        )

    assert token is not None
    assert configured["Content-Type"] == "application/json"
    assert no_token is None  # a Restricted Data Token is sent as given, never refreshed
    assert given["X-Amz-Access-Token"] == "Atza|restricted"
    assert "Content-Type" not in given


# -- what each step hands on: headers, statuses, counts, reports (mutation testing) --------------


def paced_unread_sent() -> _Sent:
    """What every try of a ``call_raw`` uses with rate limiting on: a rate-limit identity."""
    return (("POST", "/", None, None), "http://127.0.0.1/", {}, None, False, "host|anonymous")


def test_an_operations_header_parameters_go_out_with_the_per_call_headers(
    server: RecordingServer,
) -> None:
    # Messaging declares no header parameter; other APIs do (an idempotency token, say).
    with_token = dataclasses.replace(
        GET, header_params=(HeaderParam("x-amzn-idempotency-token", "idempotency_token"),)
    )
    server.enqueue(200, {"buyer": {"locale": "en-US"}})
    configuration = Configuration(host=server.url, rate_limiting=False, retry=NO_RETRIES)
    with ApiClient(configuration) as api_client:
        result = api_client.call(
            with_token, (ORDER_ID, MARKETPLACE, "token-1"), headers={"X-Trace": "trace-1"}
        )

    assert result.status_code == 200
    (request,) = server.requests
    assert request.headers["x-amzn-idempotency-token"] == "token-1"
    assert request.headers["X-Trace"] == "trace-1"


@pytest.mark.parametrize("status", [200, 299])
def test_every_2xx_is_a_result(server: RecordingServer, status: int) -> None:
    server.enqueue(status, {"buyer": {"locale": "en-US"}})
    configuration = Configuration(host=server.url, rate_limiting=False, retry=NO_RETRIES)
    with ApiClient(configuration) as api_client:
        result = MessagingApi(api_client).get_attributes_with_http_info(ORDER_ID, MARKETPLACE)

    assert result.status_code == status
    assert result.data.buyer is not None
    assert result.data.buyer.locale == "en-US"


def test_a_300_is_an_error_not_a_result(server: RecordingServer) -> None:
    server.enqueue(300, {"buyer": {"locale": "en-US"}})
    configuration = Configuration(host=server.url, rate_limiting=False, retry=NO_RETRIES)
    with ApiClient(configuration) as api_client, pytest.raises(ApiException) as raised:
        MessagingApi(api_client).get_attributes(ORDER_ID, MARKETPLACE)

    assert raised.value.status == 300
    assert len(server.requests) == 1  # a 300 is not retried either


def test_the_repr_says_whether_calls_are_paced_and_never_shows_a_secret() -> None:
    credentials = LwaCredentials("client-id", "the-client-secret", "Atzr|the-refresh-token")
    paced = Configuration(credentials=credentials)
    unpaced = Configuration(access_token="Atza|the-access-token", rate_limiting=False)
    shown = []
    for configuration in (paced, unpaced):
        with ApiClient(configuration) as api_client:
            shown.append(repr(api_client))

    assert "rate_limiting='on'" in shown[0]
    assert "rate_limiting='off'" in shown[1]
    for secret in ("the-client-secret", "Atzr|the-refresh-token", "Atza|the-access-token"):
        assert all(secret not in text for text in shown)


def test_a_retried_answer_too_large_to_read_is_its_status_error_with_the_tries_made(
    slept: RecordingSleep,
) -> None:
    configuration = Configuration(
        retry=dataclasses.replace(NO_JITTER, sleep=slept), rate_limiting=False, max_response_bytes=8
    )
    with ApiClient(configuration) as api_client, pytest.raises(ServiceException) as raised:
        api_client._after_refusal(answer(503, b"x" * 100), GET, unread_sent(), 2, None, None)

    assert raised.value.status == 503
    assert raised.value.attempts == 2
    assert "max_response_bytes" in str(raised.value)
    assert slept.calls == []  # not waited for: the answer is reported


def test_after_a_refused_token_an_unread_answer_stays_readable_with_pacing_on(
    client: ApiClient,
) -> None:
    token = call_token(Tokens("Atza|only"))
    token.authorise({})

    kept = client._after_auth_failure(
        answer(403, DENIED), token, POST, paced_unread_sent(), 1, None, None
    )

    assert kept is not None
    assert kept.status == 403
    assert kept.read() == DENIED  # the client read it; the caller still can


def http_log(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [record.getMessage() for record in caplog.records if record.name == "py_sp_api.http"]


def test_the_debug_log_names_the_operation_resent_after_an_expired_token(
    client: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = call_token(Tokens("Atza|old", "Atza|new"))
    token.authorise({})

    with caplog.at_level(logging.DEBUG, logger="py_sp_api.http"):
        resend = client._after_auth_failure(
            answer(403, EXPIRED), token, POST, unread_sent(), 1, None, None
        )

    assert resend is None
    (message,) = http_log(caplog)
    assert POST.operation_id in message
    assert "expired" in message


def test_the_debug_log_of_a_pause_names_the_operation_the_try_the_reason_and_the_delay(
    client: ApiClient, slept: RecordingSleep, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="py_sp_api.http"):
        client._pause(0.25, GET, 2, "HTTP 503")

    (message,) = http_log(caplog)
    assert GET.operation_id in message
    assert "attempt 2" in message
    assert "HTTP 503" in message
    assert "0.25" in message
    assert slept.calls == [0.25]


def test_a_refusal_whose_retry_would_wait_too_long_counts_only_the_tries_sent(
    server: RecordingServer, slept: RecordingSleep
) -> None:
    server.enqueue(429, {"errors": [{"code": "QuotaExceeded", "message": "Slow down"}]})
    limiting = RateLimiting(
        overrides={"get_attributes": RateLimit(0.01, 1)}, max_wait=0, sleep=slept
    )
    retry = dataclasses.replace(NO_JITTER, sleep=slept)
    configuration = Configuration(host=server.url, rate_limiting=limiting, retry=retry)
    with ApiClient(configuration) as api_client, pytest.raises(ApiException) as raised:
        MessagingApi(api_client).get_attributes(ORDER_ID, MARKETPLACE)

    assert raised.value.status == 429
    assert raised.value.attempts == 1
    assert len(server.requests) == 1


def test_an_encoded_refusal_of_a_post_still_says_it_may_have_been_delivered(
    server: RecordingServer,
) -> None:
    server.enqueue(503, b"\x1f\x8b\x08\x00not-really-gzip", {"Content-Encoding": "gzip"})
    configuration = Configuration(host=server.url, rate_limiting=False, retry=NO_RETRIES)
    with ApiClient(configuration) as api_client, pytest.raises(ServiceException) as raised:
        MessagingApi(api_client).create_confirm_order_details(ORDER_ID, MARKETPLACE, MESSAGE)

    text = str(raised.value)
    assert "may have been delivered" in text
    assert "gzip" in text


def test_with_hooks_a_call_still_sends_its_own_headers_and_timeout(
    server: RecordingServer,
) -> None:
    # The server answers after 0.2 s: the client's default timeout (0.05 s) would give up,
    # the call's own (5 s) does not.
    attempts: List[AttemptStarted] = []
    server.enqueue(200, {"buyer": {"locale": "en-US"}}, delay=0.2)
    configuration = Configuration(
        host=server.url,
        timeout=0.05,
        rate_limiting=False,
        retry=NO_RETRIES,
        hooks=Hooks(on_attempt=attempts.append),
    )
    with ApiClient(configuration) as api_client:
        result = MessagingApi(api_client).get_attributes(
            ORDER_ID, MARKETPLACE, _request_timeout=5, _headers={"X-Trace": "trace-1"}
        )

    assert result.buyer is not None
    assert [event.attempt for event in attempts] == [1]
    (request,) = server.requests
    assert request.headers["X-Trace"] == "trace-1"


def test_hooks_see_the_resend_after_an_expired_token_as_a_retry_of_attempt_one(
    sp: ThrottlingServer,
) -> None:
    retries: List[RetryScheduled] = []
    sp.expire_token("Atza|old")
    configuration = Configuration(
        host=sp.url,
        token_provider=CallableTokenProvider(Tokens("Atza|old", "Atza|new")),
        rate_limiting=False,
        hooks=Hooks(on_retry=retries.append),
    )
    with ApiClient(configuration) as api_client:
        MessagingApi(api_client).get_attributes(ORDER_ID, MARKETPLACE)

    assert [(e.attempt, e.reason, e.status) for e in retries] == [(1, "access token expired", 403)]
    assert sp.tokens_seen == ["Atza|old", "Atza|new"]


@pytest.mark.parametrize(
    ("answer_kind", "error"),
    [("cut off", ApiConnectionError), ("too large", ApiResponseTooLargeError)],
)
def test_a_2xx_whose_body_was_not_read_is_reported_as_answering_that_attempt(
    server: RecordingServer, answer_kind: str, error: Type[Exception]
) -> None:
    # Amazon accepted the message: whoever counts answers must see this 201, on attempt 1,
    # with how long the answer took (within the call's own duration).
    if answer_kind == "cut off":
        server.enqueue(201, b'{"err', {"x-amzn-RequestId": "rid-1"}, content_length=100)
    else:
        server.enqueue(201, b"x" * 20_000, {"x-amzn-RequestId": "rid-1"})
    answers: List[ResponseReceived] = []
    configuration = Configuration(
        host=server.url,
        rate_limiting=False,
        retry=NO_RETRIES,
        max_response_bytes=10_000,
        hooks=Hooks(on_response=answers.append),
    )
    with ApiClient(configuration) as api_client:
        started = time.monotonic()
        with pytest.raises(error):
            MessagingApi(api_client).create_confirm_order_details(ORDER_ID, MARKETPLACE, MESSAGE)
        took = time.monotonic() - started

    (received,) = answers
    assert (received.attempt, received.status, received.request_id) == (1, 201, "rid-1")
    assert 0.0 <= received.duration <= took
