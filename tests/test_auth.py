"""LWA authentication against a real fake-LWA endpoint and a real SP-API test server.

Covers: the ``x-amz-access-token`` on every call, lazy first fetch, caching, a single fetch for
32 concurrent first calls, refresh before expiry, one refresh-and-resend on an "expired token"
answer, LWA errors (not retried when retrying cannot help, retried on 5xx and connection
failures, bounded by a timeout), fixed and callable tokens, and reading credentials from the
environment.
"""

from __future__ import annotations

import functools
import json
import logging
import pickle
import re
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union
from urllib.parse import parse_qs

import pytest
import urllib3

from py_sp_api import LwaAuthError, LwaCredentials, LwaTokenProvider, RetryPolicy
from py_sp_api.generated.messaging import (
    ApiClient,
    ApiConnectionError,
    ApiTimeoutError,
    ApiValueError,
    Configuration,
    CreateConfirmOrderDetailsRequest,
    ForbiddenException,
    MessagingApi,
    UnauthorizedException,
)
from py_sp_api.runtime.auth import (
    CallableTokenProvider,
    HttpSender,
    SecretBytes,
    SecretStr,
    StaticTokenProvider,
    TokenProvider,
)
from py_sp_api.runtime.docs_links import DOCS_URL
from tests.support import RecordingServer, unused_port
from tests.support.fake_lwa import (
    CLIENT_ID,
    CLIENT_SECRET,
    INVALID_CLIENT_DESCRIPTION,
    INVALID_GRANT_DESCRIPTION,
    REFRESH_TOKEN,
    TOKEN_PATH,
    FakeLwa,
)
from tests.support.messaging import warranty_body
from tests.support.threads import run_threads
from tests.support.throttling import (
    ACCESS_DENIED_BODY,
    TOKEN_EXPIRED_BODY,
    FakeClock,
    ThrottlingServer,
)

ORDER_ID = "123-1234567-1234567"
MARKETPLACE = ["ATVPDKIKX0DER"]
FAST_RETRY = RetryPolicy(max_attempts=5, initial_backoff=0.01, max_backoff=0.05)

ApiFactory = Callable[..., MessagingApi]


@pytest.fixture
def make_api(sp: ThrottlingServer, open_api: ApiFactory) -> ApiFactory:
    """Builds a MessagingApi on the test server (no pacing, fast retries unless overridden)."""
    return functools.partial(open_api, sp.url, rate_limiting=False, retry=FAST_RETRY)


# -- the token on the wire ---------------------------------------------------------------------


def test_every_call_carries_the_lwa_access_token(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    api = make_api(credentials=lwa.credentials())

    result = api.get_attributes(ORDER_ID, MARKETPLACE)
    api.create_warranty(ORDER_ID, MARKETPLACE, warranty_body())
    api.get_messaging_actions_for_order(ORDER_ID, MARKETPLACE)

    assert result.buyer is not None
    assert result.buyer.locale == "en-US"
    assert lwa.issued == ["Atza|token-1"]
    assert sp.tokens_seen == ["Atza|token-1"] * 3
    for request in sp.requests:
        assert request.headers.get_all("x-amz-access-token") == ["Atza|token-1"]
        assert "Authorization" not in request.headers
    # The token request carried exactly the grant and the three credentials.
    (token_request,) = lwa.requests
    assert token_request.path == TOKEN_PATH
    assert token_request.form == {
        "grant_type": ["refresh_token"],
        "refresh_token": [REFRESH_TOKEN],
        "client_id": [CLIENT_ID],
        "client_secret": [CLIENT_SECRET],
    }


def test_the_default_lwa_provider_settings(lwa: FakeLwa) -> None:
    provider = Configuration(credentials=lwa.credentials()).token_provider

    assert isinstance(provider, LwaTokenProvider)
    assert provider.refresh_margin == 60.0
    assert provider.max_attempts == 3
    assert provider.timeout.connect_timeout == 5.0
    assert provider.timeout.read_timeout == 15.0


def test_the_token_is_fetched_on_first_use_not_at_construction(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    api = make_api(credentials=lwa.credentials())
    MessagingApi(api.api_client)

    assert lwa.token_requests == 0
    assert sp.request_count == 0

    api.get_attributes(ORDER_ID, MARKETPLACE)

    assert lwa.token_requests == 1
    assert sp.tokens_seen == ["Atza|token-1"]


def test_the_token_is_cached_across_calls(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    api = make_api(credentials=lwa.credentials())

    for _ in range(10):
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert lwa.token_requests == 1
    assert sp.tokens_seen == ["Atza|token-1"] * 10


def test_32_threads_making_their_first_call_together_fetch_one_token(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    lwa.delay = 0.3  # keep the first fetch in flight while the other threads arrive
    api = make_api(credentials=lwa.credentials(), connection_pool_maxsize=32)
    barrier = threading.Barrier(32)
    errors: List[BaseException] = []

    def first_call() -> None:
        try:
            barrier.wait(timeout=10)
            api.get_attributes(ORDER_ID, MARKETPLACE)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    run_threads(32, first_call, timeout=20)

    assert errors == []
    assert lwa.token_requests == 1
    assert sp.request_count == 32
    assert sp.tokens_seen == ["Atza|token-1"] * 32


@pytest.mark.parametrize("expires_in", [3600, 61])
def test_a_token_is_refreshed_once_it_is_inside_the_refresh_margin(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory, expires_in: int
) -> None:
    clock = FakeClock()
    lwa.expires_in = expires_in
    provider = lwa.provider(clock=clock)  # refresh_margin defaults to 60 s
    api = make_api(token_provider=provider)
    valid_for = expires_in - 60

    api.get_attributes(ORDER_ID, MARKETPLACE)
    clock.advance(valid_for - 0.5)
    api.get_attributes(ORDER_ID, MARKETPLACE)
    assert lwa.token_requests == 1

    clock.advance(1.0)
    api.get_attributes(ORDER_ID, MARKETPLACE)
    api.get_attributes(ORDER_ID, MARKETPLACE)

    assert lwa.token_requests == 2
    assert sp.tokens_seen == ["Atza|token-1", "Atza|token-1", "Atza|token-2", "Atza|token-2"]


def seconds_until_refetch(
    api: MessagingApi, clock: FakeClock, lwa: FakeLwa, step: float = 0.5
) -> float:
    """Call every ``step`` seconds of the fake clock; how long the first token was used."""
    api.get_attributes(ORDER_ID, MARKETPLACE)
    start = clock()
    while lwa.token_requests == 1 and clock() - start < 7200:
        clock.advance(step)
        api.get_attributes(ORDER_ID, MARKETPLACE)
    return clock() - start


def test_a_token_is_used_until_expires_in_minus_refresh_margin(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    clock = FakeClock()
    lwa.expires_in = 3
    api = make_api(token_provider=lwa.provider(clock=clock, refresh_margin=1))

    assert seconds_until_refetch(api, clock, lwa) == 2.0
    assert sp.tokens_seen[-2:] == ["Atza|token-1", "Atza|token-2"]


@pytest.mark.parametrize("expires_in", [0, -5, "NaN"])
def test_a_nonsense_expires_in_counts_as_the_documented_hour(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory, expires_in: Any
) -> None:
    clock = FakeClock()
    lwa.expires_in = expires_in
    api = make_api(token_provider=lwa.provider(clock=clock))  # refresh_margin 60 s

    assert seconds_until_refetch(api, clock, lwa, step=60.0) == 3600 - 60


@pytest.mark.parametrize("refresh_margin", [3, 10])
def test_a_token_with_no_life_left_serves_its_own_call_and_is_not_reused(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory, refresh_margin: int
) -> None:
    clock = FakeClock()
    lwa.expires_in = 3
    provider = lwa.provider(clock=clock, refresh_margin=refresh_margin)
    api = make_api(token_provider=provider)

    for _ in range(3):
        api.get_attributes(ORDER_ID, MARKETPLACE)  # the clock does not move

    # One token request per call: never a stale token, never a loop within a call.
    assert lwa.token_requests == 3
    assert sp.tokens_seen == ["Atza|token-1", "Atza|token-2", "Atza|token-3"]


@pytest.mark.parametrize("refresh_margin", [-1.0, float("nan"), float("inf"), "60"])
def test_a_nonsensical_refresh_margin_is_refused(lwa: FakeLwa, refresh_margin: Any) -> None:
    with pytest.raises(ApiValueError, match="refresh_margin"):
        lwa.provider(refresh_margin=refresh_margin)


# -- "the access token you provided has expired" -----------------------------------------------


@pytest.mark.parametrize("operation", ["get_attributes", "create_warranty"])
def test_an_expired_token_answer_triggers_one_refresh_and_one_resend(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory, operation: str
) -> None:
    # No retries at all: the resend must come from the expired-token rule, not the retry policy.
    api = make_api(credentials=lwa.credentials(), retry=RetryPolicy(max_attempts=1))
    sp.expire_token("Atza|token-1")

    if operation == "get_attributes":
        api.get_attributes(ORDER_ID, MARKETPLACE)
    else:
        api.create_warranty(ORDER_ID, MARKETPLACE, warranty_body())

    success = 200 if operation == "get_attributes" else 201
    assert [response.status for response in sp.responses] == [403, success]
    assert sp.request_count == 2
    assert sp.tokens_seen == ["Atza|token-1", "Atza|token-2"]
    assert lwa.token_requests == 2
    first, resent = sp.requests
    assert (resent.method, resent.raw_path, resent.body) == (
        first.method,
        first.raw_path,
        first.body,
    )
    # The next call keeps using the fresh token.
    api.get_attributes(ORDER_ID, MARKETPLACE)
    assert sp.tokens_seen[-1] == "Atza|token-2"
    assert lwa.token_requests == 2


def test_an_expired_token_401_also_triggers_one_refresh_and_resend(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    api = make_api(credentials=lwa.credentials(), retry=RetryPolicy(max_attempts=1))
    sp.enqueue(401, TOKEN_EXPIRED_BODY)

    api.get_attributes(ORDER_ID, MARKETPLACE)

    assert sp.request_count == 2
    assert sp.tokens_seen == ["Atza|token-1", "Atza|token-2"]
    assert lwa.token_requests == 2


def test_a_server_that_keeps_saying_expired_does_not_loop(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    sp.throttle.expire_every_token = True
    api = make_api(credentials=lwa.credentials(), retry=FAST_RETRY)

    with pytest.raises(ForbiddenException) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert caught.value.status == 403
    assert [error.code for error in caught.value.errors] == ["Unauthorized"]
    assert sp.request_count == 2
    assert sp.tokens_seen == ["Atza|token-1", "Atza|token-2"]
    assert lwa.token_requests == 2


def test_a_403_that_is_not_about_expiry_is_not_refreshed(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    api = make_api(credentials=lwa.credentials(), retry=FAST_RETRY)
    sp.enqueue(403, ACCESS_DENIED_BODY)

    with pytest.raises(ForbiddenException):
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert sp.request_count == 1
    assert lwa.token_requests == 1


NOT_ABOUT_THE_ACCESS_TOKEN: Dict[str, Tuple[int, Union[bytes, Dict[str, Any]]]] = {
    "403-token-of-thanks": (
        403,
        {
            "errors": [
                {
                    "code": "InvalidInput",
                    "message": "The order's token-of-thanks period has expired.",
                }
            ]
        },
    ),
    "401-unauthorized-other-token": (
        401,
        {
            "errors": [
                {
                    "code": "Unauthorized",
                    "message": "Access to requested resource is denied.",
                    "details": "The gift token of this order has expired.",
                }
            ]
        },
    ),
    "403-not-json": (
        403,
        b"<html><body>Your session token has expired. Access token expired.</body></html>",
    ),
    "403-words-outside-errors": (
        403,
        {"note": "the access token you provided has expired", "errors": []},
    ),
}


@pytest.mark.parametrize("case", sorted(NOT_ABOUT_THE_ACCESS_TOKEN))
def test_an_answer_that_only_mentions_expired_and_token_is_not_refreshed(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory, case: str
) -> None:
    status, body = NOT_ABOUT_THE_ACCESS_TOKEN[case]
    api = make_api(credentials=lwa.credentials(), retry=RetryPolicy(max_attempts=1))
    sp.enqueue(status, body)

    with pytest.raises((ForbiddenException, UnauthorizedException)) as caught:
        api.create_warranty(ORDER_ID, MARKETPLACE, warranty_body())

    assert caught.value.status == status
    assert sp.request_count == 1  # not resent
    assert lwa.token_requests == 1  # not refreshed


def test_amazons_expired_token_answer_is_refreshed_and_resent_exactly_once(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    api = make_api(credentials=lwa.credentials(), retry=RetryPolicy(max_attempts=1))
    sp.enqueue(403, TOKEN_EXPIRED_BODY)

    api.create_warranty(ORDER_ID, MARKETPLACE, warranty_body())

    assert [response.status for response in sp.responses] == [403, 201]
    assert sp.tokens_seen == ["Atza|token-1", "Atza|token-2"]
    assert lwa.token_requests == 2


def test_a_fixed_token_is_not_refreshed_when_the_server_says_it_expired(
    sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    api = make_api(access_token="Atza|fixed")
    sp.expire_token("Atza|fixed")

    with pytest.raises(ForbiddenException):
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert sp.tokens_seen == ["Atza|fixed"]


# -- LWA errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "status", "error", "description"),
    [
        ("invalid_grant", 400, "invalid_grant", INVALID_GRANT_DESCRIPTION),
        ("invalid_client", 401, "invalid_client", INVALID_CLIENT_DESCRIPTION),
        ("wrong_secret", 401, "invalid_client", "unknown client"),
        ("wrong_refresh_token", 400, "invalid_grant", "bad refresh token"),
    ],
)
def test_lwa_refusals_raise_lwa_auth_error_and_are_not_retried(
    lwa: FakeLwa,
    sp: ThrottlingServer,
    make_api: ApiFactory,
    scenario: str,
    status: int,
    error: str,
    description: str,
) -> None:
    credentials = lwa.credentials()
    if scenario == "invalid_grant":
        lwa.invalid_grant(1)
    elif scenario == "invalid_client":
        lwa.invalid_client(1)
    elif scenario == "wrong_secret":
        credentials = LwaCredentials(CLIENT_ID, "not-the-secret", REFRESH_TOKEN, endpoint=lwa.url)
    else:
        credentials = LwaCredentials(CLIENT_ID, CLIENT_SECRET, "Atzr|revoked", endpoint=lwa.url)
    api = make_api(credentials=credentials, retry=FAST_RETRY)

    with pytest.raises(LwaAuthError) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE)

    exc = caught.value
    assert exc.error == error
    assert exc.error_description == description
    assert exc.status == status
    assert exc.attempts == 1
    assert error in str(exc)
    assert lwa.token_requests == 1
    assert sp.request_count == 0


def test_a_failed_token_fetch_does_not_poison_the_provider(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    api = make_api(credentials=lwa.credentials())
    lwa.invalid_grant(1)

    with pytest.raises(LwaAuthError):
        api.get_attributes(ORDER_ID, MARKETPLACE)
    api.get_attributes(ORDER_ID, MARKETPLACE)

    assert lwa.token_requests == 2
    assert sp.tokens_seen == ["Atza|token-1"]


def test_lwa_5xx_is_retried_until_a_token_comes(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    lwa.server_error(2, status=500)
    api = make_api(token_provider=lwa.provider(backoff=0.01))

    api.get_attributes(ORDER_ID, MARKETPLACE)

    assert lwa.token_requests == 3
    assert sp.tokens_seen == ["Atza|token-1"]


def test_lwa_always_503_gives_up_after_max_attempts(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    lwa.server_error(100, status=503)
    api = make_api(token_provider=lwa.provider(backoff=0.01))

    with pytest.raises(LwaAuthError) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert caught.value.attempts == 3
    assert caught.value.status == 503
    assert "after 3 attempts" in str(caught.value)
    assert lwa.token_requests == 3
    assert sp.request_count == 0


def test_lwa_connection_refused_raises_lwa_auth_error_with_a_cause(
    sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    endpoint = f"http://127.0.0.1:{unused_port()}{TOKEN_PATH}"
    credentials = LwaCredentials(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, endpoint=endpoint)
    api = make_api(token_provider=LwaTokenProvider(credentials, backoff=0.01))

    with pytest.raises(LwaAuthError) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE)

    exc = caught.value
    assert isinstance(exc.__cause__, ApiConnectionError)
    assert exc.__cause__.request_sent is False
    assert exc.attempts == 3
    assert exc.status is None
    assert sp.request_count == 0


def test_a_hanging_token_request_times_out(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    lwa.delay = 3.0
    provider = lwa.provider(timeout=urllib3.Timeout(connect=1, read=0.3), max_attempts=1)
    api = make_api(token_provider=provider)

    with pytest.raises(LwaAuthError) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert isinstance(caught.value.__cause__, ApiTimeoutError)
    assert caught.value.attempts == 1
    assert lwa.token_requests == 1
    assert sp.request_count == 0


# -- fixed and callable tokens -----------------------------------------------------------------


def test_a_fixed_access_token_is_sent_as_is_without_lwa(
    lwa: FakeLwa, sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    api = make_api(access_token="Atza|fixed")

    api.get_attributes(ORDER_ID, MARKETPLACE)
    api.create_warranty(ORDER_ID, MARKETPLACE, warranty_body())

    assert sp.tokens_seen == ["Atza|fixed", "Atza|fixed"]
    assert lwa.token_requests == 0


def test_a_callable_access_token_is_called_before_every_request(
    sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    calls: List[int] = []

    def fetch() -> str:
        calls.append(1)
        return f"Atza|callable-{len(calls)}"

    api = make_api(access_token=fetch)
    assert calls == []

    for _ in range(3):
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert len(calls) == 3
    assert sp.tokens_seen == ["Atza|callable-1", "Atza|callable-2", "Atza|callable-3"]


def test_a_callable_that_returns_no_token_fails_before_sending(
    sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    api = make_api(access_token=lambda: "")

    with pytest.raises(LwaAuthError):
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert sp.request_count == 0


def test_without_credentials_no_token_header_is_sent(
    sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    make_api().get_attributes(ORDER_ID, MARKETPLACE)

    assert sp.tokens_seen == [None]


def test_only_one_kind_of_credential_may_be_given(lwa: FakeLwa) -> None:
    with pytest.raises(ApiValueError):
        Configuration(credentials=lwa.credentials(), access_token="Atza|fixed")


def test_unauthorized_without_expiry_is_a_typed_error(
    sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    api = make_api(access_token="Atza|fixed")
    sp.enqueue(401, ACCESS_DENIED_BODY)

    with pytest.raises(UnauthorizedException):
        api.get_attributes(ORDER_ID, MARKETPLACE)
    assert sp.request_count == 1


# -- credentials from the environment ----------------------------------------------------------


def test_credentials_from_env() -> None:
    credentials = LwaCredentials.from_env(
        environ={
            "LWA_CLIENT_ID": CLIENT_ID,
            "LWA_CLIENT_SECRET": CLIENT_SECRET,
            "LWA_REFRESH_TOKEN": REFRESH_TOKEN,
        }
    )

    assert credentials.client_id == CLIENT_ID
    form = parse_qs(bytes(credentials.token_request_body()).decode())
    assert form == {
        "grant_type": ["refresh_token"],
        "refresh_token": [REFRESH_TOKEN],
        "client_id": [CLIENT_ID],
        "client_secret": [CLIENT_SECRET],
    }
    assert credentials.endpoint == "https://api.amazon.com/auth/o2/token"


@pytest.mark.parametrize(
    ("environ", "missing"),
    [
        ({}, ["LWA_CLIENT_ID", "LWA_CLIENT_SECRET", "LWA_REFRESH_TOKEN"]),
        ({"LWA_CLIENT_ID": CLIENT_ID, "LWA_CLIENT_SECRET": CLIENT_SECRET}, ["LWA_REFRESH_TOKEN"]),
        (
            {"LWA_CLIENT_ID": CLIENT_ID, "LWA_REFRESH_TOKEN": REFRESH_TOKEN},
            ["LWA_CLIENT_SECRET"],
        ),
        (
            {
                "LWA_CLIENT_ID": "  ",
                "LWA_CLIENT_SECRET": CLIENT_SECRET,
                "LWA_REFRESH_TOKEN": REFRESH_TOKEN,
            },
            ["LWA_CLIENT_ID"],
        ),
    ],
)
def test_credentials_from_env_name_the_missing_variables(
    environ: Dict[str, str], missing: List[str]
) -> None:
    with pytest.raises(ApiValueError) as caught:
        LwaCredentials.from_env(environ=environ)

    message = str(caught.value)
    for name in ("LWA_CLIENT_ID", "LWA_CLIENT_SECRET", "LWA_REFRESH_TOKEN"):
        assert (name in message) == (name in missing), message
    assert CLIENT_SECRET not in message
    assert REFRESH_TOKEN not in message
    assert CLIENT_ID not in message


# -- what the mutation run found untested (issue 9, item 13) ----------------------------------


@pytest.mark.parametrize("field", ["client_id", "client_secret", "refresh_token"])
@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_a_blank_credential_is_refused(field: str, blank: str) -> None:
    values = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
    }
    values[field] = blank

    with pytest.raises(ApiValueError) as caught:
        LwaCredentials(**values)

    assert f"LWA {field} must" in str(caught.value)
    assert CLIENT_SECRET not in str(caught.value)
    assert REFRESH_TOKEN not in str(caught.value)


def test_an_lwa_connection_failure_is_retried_until_a_token_comes(
    server: RecordingServer, sp: ThrottlingServer, make_api: ApiFactory
) -> None:
    # The "LWA endpoint" is a recording server: the first token request gets its connection
    # reset, the second a token.
    server.enqueue(reset=True)
    server.enqueue(200, {"access_token": "Atza|after-reset", "expires_in": 3600})
    endpoint = f"{server.url}{TOKEN_PATH}"
    credentials = LwaCredentials(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, endpoint=endpoint)
    api = make_api(token_provider=LwaTokenProvider(credentials, backoff=0.01))

    api.get_attributes(ORDER_ID, MARKETPLACE)

    assert server.request_count == 2
    assert sp.tokens_seen == ["Atza|after-reset"]


def test_a_token_answer_without_expires_in_lasts_the_documented_hour(
    server: RecordingServer,
) -> None:
    # docs/authentication.md: cached until 60 s before it expires; an answer without
    # expires_in counts as LWA's usual hour.
    server.enqueue(200, {"access_token": "Atza|no-expiry", "token_type": "bearer"})
    server.enqueue(200, {"access_token": "Atza|second", "token_type": "bearer"})
    endpoint = f"{server.url}{TOKEN_PATH}"
    credentials = LwaCredentials(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, endpoint=endpoint)
    clock = FakeClock()
    provider = LwaTokenProvider(credentials, clock=clock, max_attempts=1)

    with ApiClient(Configuration(host=server.url)) as client:
        assert provider.get_token(client.rest_client) == "Atza|no-expiry"
        clock.advance(3600 - 60 - 0.5)
        assert provider.get_token(client.rest_client) == "Atza|no-expiry"
        assert server.request_count == 1
        clock.advance(1.0)
        assert provider.get_token(client.rest_client) == "Atza|second"
    assert server.request_count == 2


def test_threads_waiting_on_a_later_failed_fetch_share_its_error(lwa: FakeLwa) -> None:
    # The first fetch succeeds; when its token has expired, the fetch that replaces it fails
    # while 12 threads wait for it: they get its error instead of each asking LWA again.
    clock = FakeClock()
    lwa.delay = 0.2
    provider = lwa.provider(clock=clock, max_attempts=1)
    herd = 12
    errors: List[str] = []
    lock = threading.Lock()
    with ApiClient(Configuration()) as client:
        assert provider.get_token(client.rest_client) == "Atza|token-1"
        clock.advance(3600)
        lwa.invalid_grant(herd)
        barrier = threading.Barrier(herd)

        def fetch() -> None:
            barrier.wait(timeout=10)
            try:
                provider.get_token(client.rest_client)
            except LwaAuthError as exc:
                with lock:
                    errors.append(str(exc.error))

        run_threads(herd, fetch)

    assert errors == ["invalid_grant"] * herd
    later_requests = lwa.token_requests - 1
    assert later_requests <= 2, f"{later_requests} token requests: each waiting thread asked LWA"


# -- expired tokens and unread 401/403 bodies --------------------------------------------------

SECRET_TOKEN = "Atza|IwEB-SECRET-ACCESS-TOKEN-4242"


@pytest.fixture
def make_api_at(open_api: ApiFactory) -> ApiFactory:
    """``make_api_at(host, **configuration)``: ``make_api`` on any server, not only ``sp``."""
    return functools.partial(open_api, rate_limiting=False, retry=FAST_RETRY)


def confirm_order_details(api: MessagingApi, **kwargs: Any) -> object:
    body = CreateConfirmOrderDetailsRequest(text="Please confirm the size before we ship.")
    return api.create_confirm_order_details(ORDER_ID, MARKETPLACE, body, **kwargs)


def test_an_expired_token_that_does_not_change_is_not_resent(
    sp: ThrottlingServer, make_api_at: ApiFactory
) -> None:
    calls: List[int] = []

    def same_token() -> str:
        calls.append(1)
        return "Atza|same-cached-token"

    sp.expire_token("Atza|same-cached-token")
    api = make_api_at(sp.url, access_token=same_token)

    with pytest.raises(ForbiddenException):
        confirm_order_details(api)

    assert sp.request_count == 1
    assert sp.tokens_seen == ["Atza|same-cached-token"]


def test_an_expired_token_is_resent_once_with_the_new_token(
    sp: ThrottlingServer, make_api_at: ApiFactory
) -> None:
    # Guard: a callable that does hand out a new token still gets the one resend.
    handed_out: List[str] = []

    def rotating_token() -> str:
        handed_out.append("Atza|old" if not handed_out else "Atza|new")
        return handed_out[-1]

    sp.expire_token("Atza|old")
    confirm_order_details(make_api_at(sp.url, access_token=rotating_token))

    assert sp.tokens_seen == ["Atza|old", "Atza|new"]


@pytest.mark.parametrize(
    "body", [ACCESS_DENIED_BODY, TOKEN_EXPIRED_BODY], ids=["denied", "expired"]
)
def test_an_unread_403_to_a_call_with_a_token_can_still_be_read(
    server: RecordingServer, make_api_at: ApiFactory, body: Dict[str, Any]
) -> None:
    server.enqueue(403, body)
    api = make_api_at(server.url, access_token=SECRET_TOKEN)

    response = api.get_attributes_without_preload_content(ORDER_ID, MARKETPLACE)
    try:
        assert response.status == 403
        assert json.loads(response.read()) == body
    finally:
        response.release_conn()
    assert server.request_count == 1


# -- a failed LWA fetch is shared, not repeated by every waiting thread ------------------------

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


def test_threads_starting_together_share_one_failed_lwa_fetch(
    server: RecordingServer, make_api_at: ApiFactory
) -> None:
    with FakeLwa(delay=0.2) as lwa:
        lwa.invalid_grant(HERD)
        errors = herd_errors(lwa, make_api_at(server.url, credentials=lwa.credentials()))
        assert lwa.token_requests == 1

    assert errors == ["invalid_grant"] * HERD


def test_threads_starting_together_do_not_each_repeat_a_failed_lwa_fetch(
    server: RecordingServer, make_api_at: ApiFactory
) -> None:
    with FakeLwa(delay=0.2) as lwa:
        lwa.invalid_grant(HERD)
        errors = herd_errors(lwa, make_api_at(server.url, credentials=lwa.credentials()))
        herd_requests = lwa.token_requests

    assert errors == ["invalid_grant"] * HERD
    assert herd_requests <= 2, "each waiting thread asked LWA again"
    assert server.request_count == 0


def test_a_call_after_a_failed_lwa_fetch_asks_lwa_again(
    server: RecordingServer, lwa: FakeLwa, make_api_at: ApiFactory
) -> None:
    # Guard: a shared failure must not be cached for later calls.
    lwa.invalid_grant(1)
    api = make_api_at(server.url, credentials=lwa.credentials())
    with pytest.raises(LwaAuthError):
        api.get_attributes(ORDER_ID, MARKETPLACE)

    api.get_attributes(ORDER_ID, MARKETPLACE)

    assert lwa.token_requests == 2
    assert server.only_request().headers["x-amz-access-token"] == "Atza|token-1"


# -- nonsense token lifetimes ------------------------------------------------------------------


@pytest.mark.parametrize("expires_in", [0, -5, "NaN"])
def test_a_nonsense_token_lifetime_does_not_mean_a_token_request_per_call(
    server: RecordingServer, make_api_at: ApiFactory, expires_in: Any
) -> None:
    lifetime: Any = expires_in
    with FakeLwa(expires_in=lifetime) as lwa:
        api = make_api_at(server.url, credentials=lwa.credentials())
        for _ in range(3):
            api.get_attributes(ORDER_ID, MARKETPLACE)
        token_requests = lwa.token_requests

    assert token_requests == 1
    assert server.request_count == 3


# -- what the second mutation run found untested (issue 16, item 4) ---------------------------
#
# Messages are pinned by what they must say (which source or field, that nothing was sent, that
# no secret is in them), not by their wording.

LWA_IDENTITY = re.compile(r"lwa:[0-9a-f]{16}")
DOCS_DIR = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture
def http() -> Iterator[HttpSender]:
    """The transport a token provider is handed (the API client's own pool)."""
    with ApiClient(Configuration()) as client:
        yield client.rest_client


def provider_at(server: RecordingServer, **kwargs: Any) -> LwaTokenProvider:
    """An LwaTokenProvider whose token endpoint is ``server``."""
    endpoint = f"{server.url}{TOKEN_PATH}"
    credentials = LwaCredentials(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, endpoint=endpoint)
    return LwaTokenProvider(credentials, **kwargs)


def lwa_refusal(provider: LwaTokenProvider, http: HttpSender) -> LwaAuthError:
    with pytest.raises(LwaAuthError) as caught:
        provider.get_token(http)
    return caught.value


def test_secrets_show_as_stars_in_any_repr() -> None:
    # Error reporters record local variables and header dicts by their repr.
    token = SecretStr("Atza|IwEB-secret")
    body = LwaCredentials(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN).token_request_body()

    assert token == "Atza|IwEB-secret"
    assert repr(token) == "'***'"
    assert repr({"x-amz-access-token": token}) == "{'x-amz-access-token': '***'}"
    assert isinstance(body, SecretBytes)
    assert repr(body) == "b'***'"
    assert repr([body]) == "[b'***']"


def test_the_lwa_identity_is_the_documented_lasting_name() -> None:
    # Redis bucket keys and send-journal keys carry it (docs/rate-limits-redis.md: "lwa:" and 16
    # hex digits): a release that named the same seller otherwise would pace against fresh
    # buckets and not recognise what an earlier process recorded.
    identity = LwaCredentials(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN).identity

    assert LWA_IDENTITY.fullmatch(identity), identity
    assert identity == "lwa:9785ba21b1d69d7a"  # the name every earlier release gave this seller
    assert LwaCredentials(CLIENT_ID, "a-rotated-secret", REFRESH_TOKEN).identity == identity
    assert LwaCredentials(CLIENT_ID, CLIENT_SECRET, "Atzr|another-seller").identity != identity


@pytest.mark.parametrize("token", ["", "   ", "Atza|line\nbreak", "Atza|bell\x07"])
def test_a_refused_fixed_token_names_the_argument_and_hides_the_value(token: str) -> None:
    with pytest.raises(ApiValueError) as caught:
        StaticTokenProvider(token)

    message = str(caught.value)
    assert "access_token" in message
    assert "Atza|" not in message
    if token.strip():
        assert "control character" in message
        assert "nothing was sent" in message


@pytest.mark.parametrize("returned", ["", None, "Atza|split\r\nX-Injected: 1"])
def test_a_callable_token_refusal_names_the_callable_and_hides_the_value(
    http: HttpSender, returned: Any
) -> None:
    provider = CallableTokenProvider(lambda: returned)

    with pytest.raises(LwaAuthError) as caught:
        provider.get_token(http)

    message = str(caught.value)
    assert "callable" in message
    assert "Atza|" not in message
    if returned:
        assert "nothing was sent" in message


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ({"token_type": "bearer", "expires_in": 3600}, "access_token"),
        ({"access_token": "   ", "expires_in": 3600}, "no access token"),
        ({"access_token": "Atza|bad\nline", "expires_in": 3600}, "nothing was sent"),
    ],
    ids=["missing", "blank", "control-character"],
)
def test_an_unusable_token_answer_after_a_retry_is_an_lwa_200_error_counting_both_attempts(
    server: RecordingServer, http: HttpSender, answer: Dict[str, Any], says: str
) -> None:
    server.enqueue(503, {"error": "server_error"})
    server.enqueue(200, answer)
    provider = provider_at(server, sleep=lambda seconds: None)

    exc = lwa_refusal(provider, http)

    message = str(exc)
    assert "LWA" in message
    assert says in message
    assert "Atza|" not in message
    assert exc.status == 200
    assert exc.attempts == 2
    assert server.request_count == 2


def test_an_lwa_refusal_after_a_retry_says_what_lwa_answered_and_counts_both_attempts(
    server: RecordingServer, http: HttpSender, caplog: pytest.LogCaptureFixture
) -> None:
    server.enqueue(503, {"error": "server_error"})
    server.enqueue(400, {"error": "invalid_grant", "error_description": INVALID_GRANT_DESCRIPTION})
    provider = provider_at(server, sleep=lambda seconds: None)

    with caplog.at_level(logging.DEBUG, logger="py_sp_api.auth"):
        exc = lwa_refusal(provider, http)

    message = str(exc)
    assert "LWA answered 400" in message
    assert "invalid_grant" in message
    assert INVALID_GRANT_DESCRIPTION in message
    assert "after 2 attempts" in message
    assert (exc.status, exc.error, exc.attempts) == (400, "invalid_grant", 2)
    # The debug log shows what each token request was answered with.
    logged = [record.getMessage() for record in caplog.records]
    assert any("503" in line for line in logged), logged
    assert any("400" in line for line in logged), logged


def test_lwa_giving_up_after_retries_says_what_lwa_answered(
    server: RecordingServer, http: HttpSender
) -> None:
    for _ in range(2):
        server.enqueue(503, {"error": "server_error", "error_description": "try later"})
    provider = provider_at(server, max_attempts=2, sleep=lambda seconds: None)

    exc = lwa_refusal(provider, http)

    message = str(exc)
    assert "LWA answered 503" in message
    assert "server_error" in message
    assert "after 2 attempts" in message
    assert (exc.status, exc.attempts) == (503, 2)


@pytest.mark.parametrize(
    "body",
    [b"<html>Service Unavailable</html>", {"error": 123, "error_description": ""}, ["x"]],
    ids=["not-json", "not-strings", "not-an-object"],
)
def test_an_lwa_refusal_that_is_not_lwa_json_has_no_error_code(
    server: RecordingServer, http: HttpSender, body: Any
) -> None:
    # exc.error is LWA's error code or None: never a number, an empty string or a made-up code.
    server.enqueue(400, body)
    provider = provider_at(server)

    exc = lwa_refusal(provider, http)

    assert exc.error is None
    assert exc.error_description is None
    assert "LWA answered 400" in str(exc)


def test_an_oversized_token_answer_after_a_retry_counts_both_attempts(
    server: RecordingServer,
) -> None:
    server.enqueue(503, {"error": "server_error"})
    server.enqueue(200, {"access_token": "Atza|" + "x" * 500, "expires_in": 3600})
    provider = provider_at(server, sleep=lambda seconds: None)

    with ApiClient(Configuration(max_response_bytes=100)) as client:
        exc = lwa_refusal(provider, client.rest_client)

    assert "max_response_bytes" in str(exc)
    assert (exc.status, exc.attempts) == (200, 2)


def test_an_unreachable_lwa_endpoint_is_named_in_the_error(http: HttpSender) -> None:
    endpoint = f"http://127.0.0.1:{unused_port()}{TOKEN_PATH}"
    credentials = LwaCredentials(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, endpoint=endpoint)

    exc = lwa_refusal(LwaTokenProvider(credentials, max_attempts=1), http)

    assert "could not reach the LWA endpoint" in str(exc)
    assert CLIENT_SECRET not in str(exc)
    assert REFRESH_TOKEN not in str(exc)


def test_lwa_retries_wait_the_backoff_doubling_each_time(
    server: RecordingServer, http: HttpSender
) -> None:
    server.enqueue(503, {"error": "server_error"})
    server.enqueue(500, {"error": "server_error"})
    server.enqueue(200, {"access_token": "Atza|third-time", "expires_in": 3600})
    waits: List[float] = []
    provider = provider_at(server, backoff=1.0, sleep=waits.append)

    assert provider.get_token(http) == "Atza|third-time"

    assert provider.backoff == 1.0
    # Jitter spreads each delay over [delay/2, delay]: 1 s before the 2nd try, 2 s before the 3rd.
    assert len(waits) == 2, waits
    assert 0.5 <= waits[0] <= 1.0
    assert 1.0 <= waits[1] <= 2.0


def test_lwa_retries_wait_half_a_second_by_default(
    server: RecordingServer, http: HttpSender
) -> None:
    server.enqueue(503, {"error": "server_error"})
    server.enqueue(200, {"access_token": "Atza|second-time", "expires_in": 3600})
    waits: List[float] = []
    provider = provider_at(server, sleep=waits.append)

    assert provider.get_token(http) == "Atza|second-time"

    assert len(waits) == 1, waits
    assert 0.25 <= waits[0] <= 0.5


def test_the_token_request_asks_for_json(lwa: FakeLwa, http: HttpSender) -> None:
    lwa.provider().get_token(http)

    (request,) = lwa.requests
    accept = [value for name, value in request.headers if name.lower() == "accept"]
    assert [value.lower() for value in accept] == ["application/json"]


def test_a_one_second_lifetime_is_honoured_with_no_refresh_margin(
    server: RecordingServer, http: HttpSender
) -> None:
    # Only a missing, zero, negative or non-number expires_in counts as the documented hour.
    server.enqueue(200, {"access_token": "Atza|one-second", "expires_in": 1})
    server.enqueue(200, {"access_token": "Atza|next", "expires_in": 3600})
    clock = FakeClock()
    provider = provider_at(server, clock=clock, refresh_margin=0)

    assert provider.get_token(http) == "Atza|one-second"
    clock.advance(0.5)
    assert provider.get_token(http) == "Atza|one-second"
    clock.advance(0.6)
    assert provider.get_token(http) == "Atza|next"
    assert server.request_count == 2


@pytest.mark.parametrize("refresh_margin", [0, 0.5])
def test_a_refresh_margin_under_a_second_is_accepted(lwa: FakeLwa, refresh_margin: float) -> None:
    assert lwa.provider(refresh_margin=refresh_margin).refresh_margin == refresh_margin


def test_invalidating_a_token_other_than_the_cached_one_keeps_the_cached_one(
    lwa: FakeLwa, http: HttpSender
) -> None:
    provider = lwa.provider()
    assert provider.invalidate("Atza|never-handed-out") is True  # nothing cached yet

    assert provider.get_token(http) == "Atza|token-1"
    # A late "expired" answer to a request sent with an older token.
    provider.invalidate("Atza|token-0")
    assert provider.get_token(http) == "Atza|token-1"
    assert lwa.token_requests == 1

    provider.invalidate("Atza|token-1")
    assert provider.get_token(http) == "Atza|token-2"


def test_threads_waiting_on_a_fetch_whose_token_is_already_spent_fetch_their_own(
    lwa: FakeLwa, http: HttpSender
) -> None:
    # expires_in below refresh_margin: each token serves only the call that fetched it, so a
    # thread that waited for another's successful fetch fetches again (and does not fail).
    lwa.expires_in = 3
    lwa.delay = 0.15
    provider = lwa.provider(refresh_margin=10)
    barrier = threading.Barrier(2)
    lock = threading.Lock()
    tokens: List[str] = []
    errors: List[BaseException] = []

    def call() -> None:
        barrier.wait(timeout=10)
        try:
            token = provider.get_token(http)
        except Exception as exc:  # any failure is the finding
            with lock:
                errors.append(exc)
        else:
            with lock:
                tokens.append(token)

    run_threads(2, call)

    assert errors == []
    assert sorted(tokens) == ["Atza|token-1", "Atza|token-2"]


def test_a_fixed_token_says_no_fresh_one_can_come() -> None:
    assert StaticTokenProvider("Atza|fixed").invalidate("Atza|fixed") is False


@pytest.mark.parametrize(
    "provider",
    [
        CallableTokenProvider(lambda: "Atza|from-a-cache", identity="seller-42"),
        StaticTokenProvider("Atza|fixed", identity="seller-42"),
    ],
    ids=["callable", "fixed"],
)
def test_a_provider_given_an_identity_can_key_a_send_journal(provider: TokenProvider) -> None:
    configuration = Configuration(
        host="https://sellingpartnerapi-na.amazon.com", token_provider=provider
    )

    assert configuration.journal_identity.endswith("|seller-42")


class _Seller:
    def __init__(self, name: str) -> None:
        self.name = name

    def token(self) -> str:
        return f"Atza|{self.name}"

    def other_token(self) -> str:
        return f"Atza|{self.name}-other"

    def __call__(self) -> str:
        return self.token()


def _token_from(seller: str = "", *, region: str = "na") -> str:
    return f"Atza|{seller}|{region}"


def _other_token_from(seller: str = "", *, region: str = "na") -> str:
    return f"Atza|other|{seller}|{region}"


def _fetcher_for(seller: _Seller) -> Callable[[], str]:
    return lambda: seller.token()


def callable_identity(fetch: Callable[[], str]) -> str:
    return CallableTokenProvider(fetch).identity


def test_callables_that_pick_different_sellers_have_different_identities() -> None:
    # Two sellers sharing one rate-limit bucket would pace each other; one seller under two
    # names would send twice its plan.
    a, b = _Seller("A"), _Seller("B")
    different: List[Tuple[Callable[[], str], Callable[[], str]]] = [
        (functools.partial(_token_from, region="na"), functools.partial(_token_from, region="eu")),
        (functools.partial(_token_from, "A"), functools.partial(_other_token_from, "A")),
        (a.token, a.other_token),
        (_fetcher_for(a), _fetcher_for(b)),
        (a, b),
    ]
    for first, second in different:
        assert callable_identity(first) != callable_identity(second), (first, second)

    same: List[Tuple[Callable[[], str], Callable[[], str]]] = [
        (functools.partial(_token_from, region="na"), functools.partial(_token_from, region="na")),
        (a.token, a.token),
        (_fetcher_for(a), _fetcher_for(a)),
        (a, a),
    ]
    for first, second in same:
        assert callable_identity(first) == callable_identity(second), (first, second)


# -- reading credentials from the environment --


@pytest.fixture
def no_lwa_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("LWA_CLIENT_ID", "LWA_CLIENT_SECRET", "LWA_REFRESH_TOKEN", "LWA_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


FULL_ENV = {
    "LWA_CLIENT_ID": CLIENT_ID,
    "LWA_CLIENT_SECRET": CLIENT_SECRET,
    "LWA_REFRESH_TOKEN": REFRESH_TOKEN,
}


def test_credentials_come_from_the_process_environment_by_default(
    no_lwa_env: pytest.MonkeyPatch,
) -> None:
    assert LwaCredentials.available_in_env() is False
    for name, value in FULL_ENV.items():
        no_lwa_env.setenv(name, value)

    assert LwaCredentials.available_in_env() is True
    assert LwaCredentials.from_env().client_id == CLIENT_ID

    no_lwa_env.setenv("LWA_REFRESH_TOKEN", "  ")
    assert LwaCredentials.available_in_env() is False


@pytest.mark.parametrize(
    ("environ", "available"),
    [
        (FULL_ENV, True),
        ({}, False),
        ({**FULL_ENV, "LWA_CLIENT_SECRET": " "}, False),
        ({k: v for k, v in FULL_ENV.items() if k != "LWA_CLIENT_ID"}, False),
    ],
    ids=["all", "none", "blank-secret", "no-client-id"],
)
def test_available_in_env_reads_the_mapping_given_not_the_process(
    no_lwa_env: pytest.MonkeyPatch, environ: Dict[str, str], available: bool
) -> None:
    assert LwaCredentials.available_in_env(environ) is available
    for name, value in FULL_ENV.items():
        no_lwa_env.setenv(name, value)
    assert LwaCredentials.available_in_env(environ) is available


def test_lwa_endpoint_from_the_environment_unless_one_is_given(lwa: FakeLwa) -> None:
    other = f"http://127.0.0.1:{unused_port()}{TOKEN_PATH}"
    environ = {**FULL_ENV, "LWA_ENDPOINT": lwa.url}

    assert LwaCredentials.from_env(environ).endpoint == lwa.url
    assert LwaCredentials.from_env(environ, endpoint=other).endpoint == other
    assert LwaCredentials.from_env(FULL_ENV, endpoint=other).endpoint == other


def test_missing_credentials_point_at_a_docs_page_that_exists() -> None:
    with pytest.raises(ApiValueError) as caught:
        LwaCredentials.from_env({})

    message = str(caught.value)
    assert DOCS_URL in message
    page = message.split(DOCS_URL + "/", 1)[1].split()[0]
    assert (DOCS_DIR / page).is_file(), page


def test_an_insecure_lwa_endpoint_is_refused_by_name() -> None:
    with pytest.raises(ApiValueError) as caught:
        LwaCredentials(
            CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, endpoint="http://lwa.example.com/token"
        )

    message = str(caught.value)
    assert "LWA endpoint" in message
    assert "https://" in message
    assert CLIENT_SECRET not in message
    assert REFRESH_TOKEN not in message


def test_pickling_credentials_says_why_it_is_refused(lwa: FakeLwa) -> None:
    with pytest.raises(TypeError) as caught:
        pickle.dumps(lwa.credentials())

    message = str(caught.value)
    assert "pickled" in message
    assert "secrets" in message
    assert CLIENT_SECRET not in message
