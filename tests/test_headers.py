"""Request headers: checked on every path, merged case-insensitively, a per-call token wins.

Every test talks to a real :class:`RecordingServer` on 127.0.0.1 and checks what it received
(or that it received nothing).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, List

import pytest

from py_sp_api import LwaAuthError, RetryPolicy
from py_sp_api.generated.messaging import (
    ApiClient,
    ApiTypeError,
    ApiValueError,
    Configuration,
    ForbiddenException,
    MessagingApi,
)
from tests.support import RecordingServer
from tests.support.fake_lwa import FakeLwa
from tests.support.throttling import TOKEN_EXPIRED_BODY

ORDER_ID = "123-1234567-1234567"
MARKETPLACE = ["ATVPDKIKX0DER"]
CONFIGURED_TOKEN = "Atza|CONFIGURED-LWA-TOKEN"
RESTRICTED_DATA_TOKEN = "Atz.sprdt|PER-CALL-RDT"
SECRET = "SECRET-HEADER-VALUE"

# Each bad value hides the secret around the offending character.
BAD_VALUES = {
    "carriage return": f"{SECRET}\r",
    "line feed": f"{SECRET}\nx",
    "NUL": f"{SECRET}\x00",
    "DEL": f"{SECRET}\x7f",
    "escape": f"\x1b{SECRET}",
    "euro sign (not Latin-1)": f"{SECRET}\u20ac",
    "emoji (not Latin-1)": f"{SECRET}\U0001f600",
}
BAD_NAMES = {"space": "a b", "colon": "x:y", "empty": "", "line feed": "X-A\nB", "non-ASCII": "X-é"}


def get_attributes(api: MessagingApi, **kwargs: Any) -> None:
    api.get_attributes(ORDER_ID, MARKETPLACE, **kwargs)


# -- how headers merge ---------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["x-amz-access-token", "X-Amz-Access-Token"])
def test_a_per_call_access_token_is_the_one_and_only_token_sent(
    server: RecordingServer, spelling: str
) -> None:
    config = Configuration(host=server.url, access_token=CONFIGURED_TOKEN)
    with ApiClient(config) as client:
        get_attributes(MessagingApi(client), _headers={spelling: RESTRICTED_DATA_TOKEN})

    assert server.only_request().headers.get_all("x-amz-access-token") == [RESTRICTED_DATA_TOKEN]


def test_the_configured_token_is_sent_when_no_per_call_token_is_given(
    server: RecordingServer,
) -> None:
    config = Configuration(host=server.url, access_token=CONFIGURED_TOKEN)
    with ApiClient(config) as client:
        get_attributes(MessagingApi(client), _headers={"X-Trace": "t-1"})

    assert server.only_request().headers.get_all("x-amz-access-token") == [CONFIGURED_TOKEN]


def test_a_per_call_token_is_not_refreshed_when_amazon_says_it_expired(
    server: RecordingServer,
) -> None:
    asked: List[str] = []

    def configured_token() -> str:
        asked.append(CONFIGURED_TOKEN)
        return CONFIGURED_TOKEN

    server.enqueue(403, TOKEN_EXPIRED_BODY)
    config = Configuration(host=server.url, access_token=configured_token)
    with ApiClient(config) as client, pytest.raises(ForbiddenException):
        get_attributes(MessagingApi(client), _headers={"x-amz-access-token": RESTRICTED_DATA_TOKEN})

    # An expired RDT must be replaced by the caller: resending with the LWA token would make
    # a restricted call with the wrong kind of token.
    assert server.only_request().headers.get_all("x-amz-access-token") == [RESTRICTED_DATA_TOKEN]
    assert asked == []


def test_a_default_access_token_header_gives_way_to_the_configured_provider(
    server: RecordingServer,
) -> None:
    config = Configuration(host=server.url, access_token=CONFIGURED_TOKEN)
    with ApiClient(config, "X-Amz-Access-Token", "Atza|DEFAULT-HEADER") as client:
        get_attributes(MessagingApi(client))

    assert server.only_request().headers.get_all("x-amz-access-token") == [CONFIGURED_TOKEN]


def test_a_per_call_header_replaces_a_default_one_in_any_capitalisation(
    server: RecordingServer,
) -> None:
    with ApiClient(Configuration(host=server.url), "X-Client", "default") as client:
        get_attributes(
            MessagingApi(client), _headers={"x-client": "per-call", "user-agent": "my-agent/1"}
        )

    headers = server.only_request().headers
    assert headers.get_all("X-Client") == ["per-call"]
    assert headers.get_all("User-Agent") == ["my-agent/1"]


def test_set_default_header_replaces_a_header_in_any_capitalisation(
    server: RecordingServer,
) -> None:
    with ApiClient(Configuration(host=server.url), "X-Client", "one") as client:
        client.set_default_header("x-client", "two")
        client.default_headers["ACCEPT"] = "application/json"
        get_attributes(MessagingApi(client))

    headers = server.only_request().headers
    assert headers.get_all("X-Client") == ["two"]
    assert headers.get_all("Accept") == ["application/json"]


def test_the_same_per_call_header_twice_in_two_spellings_is_refused(
    server: RecordingServer,
) -> None:
    api = MessagingApi(ApiClient(Configuration(host=server.url)))
    with api.api_client, pytest.raises(ApiValueError) as caught:
        get_attributes(api, _headers={"X-Trace": "a", "x-trace": "b"})

    assert "x-trace" in str(caught.value).lower()
    assert server.request_count == 0


def test_a_latin_1_value_is_sent(server: RecordingServer) -> None:
    with ApiClient(Configuration(host=server.url, user_agent="café-agent/1")) as client:
        get_attributes(MessagingApi(client), _headers={"X-Note": "crème\tbrûlée"})

    headers = server.only_request().headers
    assert headers["User-Agent"] == "café-agent/1"
    assert headers["X-Note"] == "crème\tbrûlée"


# -- every path refuses a bad header, naming only the header ------------------------------------

HeaderPath = Callable[[str, str, str], None]
"""``path(server_url, name, value)``: set the header that way, then make one call."""


def via_client_constructor(url: str, name: str, value: str) -> None:
    with ApiClient(Configuration(host=url), header_name=name, header_value=value) as client:
        get_attributes(MessagingApi(client))


def via_set_default_header(url: str, name: str, value: str) -> None:
    with ApiClient(Configuration(host=url)) as client:
        client.set_default_header(name, value)
        get_attributes(MessagingApi(client))


def via_default_headers_item(url: str, name: str, value: str) -> None:
    with ApiClient(Configuration(host=url)) as client:
        client.default_headers[name] = value
        get_attributes(MessagingApi(client))


def via_per_call_headers(url: str, name: str, value: str) -> None:
    with ApiClient(Configuration(host=url)) as client:
        get_attributes(MessagingApi(client), _headers={name: value})


def via_user_agent_setter(url: str, name: str, value: str) -> None:
    with ApiClient(Configuration(host=url)) as client:
        client.user_agent = value
        get_attributes(MessagingApi(client))


def via_configuration_user_agent(url: str, name: str, value: str) -> None:
    with ApiClient(Configuration(host=url, user_agent=value)) as client:
        get_attributes(MessagingApi(client))


NAMED_PATHS = [
    via_client_constructor,
    via_set_default_header,
    via_default_headers_item,
    via_per_call_headers,
]
ALL_PATHS = [*NAMED_PATHS, via_user_agent_setter, via_configuration_user_agent]


@pytest.mark.parametrize("value", list(BAD_VALUES.values()), ids=list(BAD_VALUES))
@pytest.mark.parametrize("path", ALL_PATHS, ids=lambda path: path.__name__)
def test_a_bad_header_value_is_refused_naming_only_the_header(
    server: RecordingServer, path: HeaderPath, value: str
) -> None:
    sets_user_agent = path in (via_user_agent_setter, via_configuration_user_agent)
    name = "User-Agent" if sets_user_agent else "X-Note"

    with pytest.raises(ApiValueError) as caught:
        path(server.url, name, value)

    message = str(caught.value)
    assert name in message
    assert SECRET not in message
    assert server.request_count == 0


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
@pytest.mark.parametrize("path", NAMED_PATHS, ids=lambda path: path.__name__)
def test_a_bad_header_name_is_refused(server: RecordingServer, path: HeaderPath, name: str) -> None:
    with pytest.raises(ApiValueError) as caught:
        path(server.url, name, SECRET)

    assert SECRET not in str(caught.value)
    assert server.request_count == 0


@pytest.mark.parametrize("path", NAMED_PATHS, ids=lambda path: path.__name__)
def test_a_header_value_that_is_not_a_str_is_refused(
    server: RecordingServer, path: HeaderPath
) -> None:
    with pytest.raises(ApiTypeError) as caught:
        path(server.url, "X-Count", 42)  # type: ignore[arg-type]  # an int on purpose

    assert "X-Count" in str(caught.value)
    assert server.request_count == 0


def test_a_header_name_without_a_value_is_refused(server: RecordingServer) -> None:
    with pytest.raises(ApiValueError, match="header_name"):
        ApiClient(Configuration(host=server.url), header_name="X-Client")


# -- tokens and header values that a header cannot carry ---------------------------------------

SECRET_TOKEN = "Atza|IwEB-SECRET-ACCESS-TOKEN-4242"
PROXY_SECRET = "Basic dXNlcjpTM0NSM1Q="
FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)

ApiFactory = Callable[..., MessagingApi]


@pytest.fixture
def make_api(open_api: ApiFactory) -> ApiFactory:
    """``make_api(host, **configuration)`` with no pacing and fast retries unless overridden."""
    return functools.partial(open_api, rate_limiting=False, retry=FAST_RETRY)


def test_a_static_token_with_a_line_break_is_refused_without_showing_it() -> None:
    with pytest.raises(ApiValueError) as caught:
        Configuration(access_token=SECRET_TOKEN + "\nX-Injected: 1")

    assert "SECRET-ACCESS-TOKEN" not in str(caught.value)


def test_a_token_read_with_its_trailing_newline_is_sent_without_it(
    server: RecordingServer, make_api: ApiFactory
) -> None:
    # As read from a file: the line end is not part of the token.
    make_api(server.url, access_token=SECRET_TOKEN + "\n").get_attributes(ORDER_ID, MARKETPLACE)

    assert server.only_request().headers["x-amz-access-token"] == SECRET_TOKEN


def test_a_callable_token_with_crlf_raises_lwa_auth_error_and_sends_nothing(
    server: RecordingServer, make_api: ApiFactory
) -> None:
    api = make_api(server.url, access_token=lambda: SECRET_TOKEN + "\r\nX-Injected: 1")

    with pytest.raises(LwaAuthError) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert "SECRET-ACCESS-TOKEN" not in str(caught.value)
    assert server.request_count == 0


def test_an_lwa_token_with_a_line_break_is_refused_and_nothing_is_sent(
    server: RecordingServer, make_api: ApiFactory
) -> None:
    with FakeLwa(token_prefix="Atza|LWA-SECRET\ntoken-") as lwa:
        api = make_api(server.url, credentials=lwa.credentials())
        with pytest.raises(LwaAuthError) as caught:
            api.get_attributes(ORDER_ID, MARKETPLACE)
        issued = lwa.issued

    assert len(issued) == 1
    assert "LWA-SECRET" not in str(caught.value)
    assert server.request_count == 0


def test_a_header_value_with_a_line_break_is_refused_naming_only_the_header(
    server: RecordingServer, make_api: ApiFactory
) -> None:
    api = make_api(server.url)

    with pytest.raises(ApiValueError) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE, _headers={"X-Note": "a-NOTE-VALUE\nb"})

    assert "X-Note" in str(caught.value)
    assert "NOTE-VALUE" not in str(caught.value)
    assert server.request_count == 0


@pytest.mark.parametrize("value", [PROXY_SECRET + "\n", PROXY_SECRET + "\r", "B\u20acsic x"])
def test_a_proxy_header_http_cannot_carry_is_refused_naming_only_the_header(value: str) -> None:
    with pytest.raises(ApiValueError) as caught:
        Configuration(proxy="http://127.0.0.1:9", proxy_headers={"Proxy-Authorization": value})
    assert "Proxy-Authorization" in str(caught.value)
    assert "dXNlcjpTM0NSM1Q" not in str(caught.value)
