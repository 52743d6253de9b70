"""Secrets stay secret, credentials only travel over safe channels, and TLS is verified.

* no access token, refresh token or client secret in any log record (root, urllib3, py_sp_api at
  DEBUG), in any repr/str of the objects holding them, or in any exception raised;
* importing the package configures no logging;
* DEBUG logs are still useful (request line, status, attempt, waits);
* credentials are refused for plain-http hosts and LWA endpoints other than loopback;
* TLS verification is on by default, and TLS/proxy settings reach urllib3, for the API calls and
  for the LWA token request alike.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import logging
import pickle
import re
import ssl
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable, List
from urllib.parse import quote

import pytest
import urllib3

from py_sp_api import (
    NO_RETRIES,
    CallableTokenProvider,
    LocalBucketStore,
    LwaAuthError,
    LwaCredentials,
    RateLimiting,
    RetryPolicy,
    StaticTokenProvider,
)
from py_sp_api.generated.messaging import (
    ApiClient,
    ApiConnectionError,
    ApiValueError,
    Configuration,
    CreateConfirmOrderDetailsRequest,
    ForbiddenException,
    MessagingApi,
)
from py_sp_api.generated.messaging.exceptions import DuplicateSendError
from py_sp_api.generated.messaging.operations import GET_ATTRIBUTES
from py_sp_api.runtime.api_client import _report_answer
from py_sp_api.runtime.header_params import HeaderParam
from py_sp_api.runtime.journal import SendJournal
from py_sp_api.runtime.operation import Operation
from tests.support import RecordingServer, unused_port
from tests.support.fake_lwa import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, TOKEN_PATH, FakeLwa
from tests.support.messaging import warranty_body
from tests.support.recording_proxy import RecordingProxy
from tests.support.throttling import FakeClock, RecordingSleep, ThrottlingServer
from tests.support.tls import TlsServer

ORDER_ID = "123-1234567-1234567"
MARKETPLACE = ["ATVPDKIKX0DER"]
FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05)


def exception_chain(exc: BaseException) -> List[BaseException]:
    """``exc`` and every exception it was raised from or during."""
    chain: List[BaseException] = []
    current: Any = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def assert_no_secret(texts: Iterable[str], secrets: Iterable[str]) -> None:
    secrets = [secret for secret in secrets if secret]
    assert secrets, "nothing to look for"
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"a secret leaked into: {text[:300]!r}"


# -- no secret in logs, reprs or exceptions ----------------------------------------------------


def test_no_secret_appears_in_logs_reprs_or_exceptions(
    caplog: pytest.LogCaptureFixture, lwa: FakeLwa, sp: ThrottlingServer
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    caplog.set_level(logging.DEBUG, logger="py_sp_api")
    clock = FakeClock()
    limiting = RateLimiting(store=LocalBucketStore(clock), sleep=RecordingSleep(clock))
    provider = lwa.provider(backoff=0.01)
    config = Configuration(
        host=sp.url, token_provider=provider, rate_limiting=limiting, retry=FAST_RETRY
    )
    client = ApiClient(config)
    api = MessagingApi(client)
    raised: List[BaseException] = []

    # A token fetch and a call.
    api.get_attributes(ORDER_ID, MARKETPLACE)
    # An expired token: refresh and resend.
    sp.expire_token("Atza|token-1")
    api.get_attributes(ORDER_ID, MARKETPLACE)
    # A 429, retried; a POST.
    sp.throttle_next(1, retry_after="0")
    api.create_warranty(ORDER_ID, MARKETPLACE, warranty_body())
    # LWA refuses the refresh (invalid_grant).
    sp.expire_token("Atza|token-2")
    lwa.invalid_grant(1)
    with pytest.raises(LwaAuthError) as lwa_error:
        api.get_attributes(ORDER_ID, MARKETPLACE)
    raised.append(lwa_error.value)
    # LWA fails once with a 500, then hands out a token (rate limiting makes this call wait).
    lwa.server_error(1)
    api.get_attributes(ORDER_ID, MARKETPLACE)
    # The server rejects every token: a ForbiddenException after one refresh.
    sp.throttle.expire_every_token = True
    with pytest.raises(ForbiddenException) as forbidden:
        api.get_attributes(ORDER_ID, MARKETPLACE)
    raised.append(forbidden.value)
    sp.throttle.expire_every_token = False
    # A dropped connection on a POST.
    sp.reset_next(1)
    with pytest.raises(ApiConnectionError) as dropped:
        api.create_warranty(ORDER_ID, MARKETPLACE, warranty_body())
    raised.append(dropped.value)
    client.close()

    secrets = lwa.secrets()
    assert len(lwa.issued) == 4, lwa.issued  # the flow above did hand out tokens to leak
    records = caplog.records
    assert any(record.name.startswith("urllib3") for record in records)
    assert any(record.name == "py_sp_api.http" for record in records)
    assert any(record.name == "py_sp_api.auth" for record in records)
    assert any(record.name == "py_sp_api.ratelimit" for record in records)
    texts: List[str] = [caplog.text]
    for record in records:
        texts.append(record.getMessage())
        texts.append(str(record.msg))
        texts.append(repr(record.args))
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    assert_no_secret(texts, secrets)

    objects: List[object] = [
        config,
        provider,
        provider.credentials,
        client,
        client.rest_client,
        limiting,
        api,
    ]
    reprs = [repr(obj) for obj in objects] + [str(obj) for obj in objects]
    for exc in raised:
        for link in exception_chain(exc):
            reprs.extend([repr(link), str(link), repr(link.args)])
            reprs.extend(str(value) for value in vars(link).values())
    assert_no_secret(reprs, secrets)


def test_reprs_of_credentials_and_token_providers_hide_the_secrets(lwa: FakeLwa) -> None:
    credentials = lwa.credentials()
    configs = [
        Configuration(credentials=credentials),
        Configuration(access_token="Atza|fixed-secret-token"),
        Configuration(access_token=lambda: "Atza|callable-secret-token"),
    ]
    objects: List[object] = [
        credentials,
        StaticTokenProvider("Atza|fixed-secret-token"),
        CallableTokenProvider(lambda: "Atza|callable-secret-token"),
        *configs,
        *(config.token_provider for config in configs),
        *(ApiClient(config) for config in configs),
    ]
    texts = [repr(obj) for obj in objects] + [str(obj) for obj in objects]
    texts += [config.rate_limit_identity for config in configs]

    assert_no_secret(
        texts,
        [CLIENT_SECRET, REFRESH_TOKEN, "Atza|fixed-secret-token", "Atza|callable-secret-token"],
    )
    assert CLIENT_ID in repr(credentials)


def test_credentials_cannot_be_pickled(lwa: FakeLwa) -> None:
    with pytest.raises(TypeError):
        pickle.dumps(lwa.credentials())


def test_a_proxy_password_is_not_shown() -> None:
    config = Configuration(proxy="http://user:proxy-p4ssw0rd@127.0.0.1:3128")
    assert "proxy-p4ssw0rd" not in repr(config)
    assert "proxy-p4ssw0rd" not in str(config)


def test_lwa_errors_never_echo_the_credentials(lwa: FakeLwa, sp: ThrottlingServer) -> None:
    endpoint_error = None
    try:
        LwaCredentials(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, endpoint="http://api.amazon.com/x")
    except ApiValueError as exc:
        endpoint_error = exc
    assert endpoint_error is not None
    assert_no_secret([str(endpoint_error), repr(endpoint_error)], [CLIENT_SECRET, REFRESH_TOKEN])


# -- importing configures no logging ------------------------------------------------------------

_IMPORT_PROBE = r"""
import json, logging
import urllib3, pydantic, dateutil  # third-party imports may configure their own loggers

def handlers():
    found = {"<root>": len(logging.getLogger().handlers)}
    for name, logger in logging.root.manager.loggerDict.items():
        found[name] = len(getattr(logger, "handlers", []))
    return found

before = handlers()
root_before = list(logging.getLogger().handlers)
root_level = logging.getLogger().level

import py_sp_api
import py_sp_api.generated.messaging as messaging
for name in py_sp_api.__all__:
    getattr(py_sp_api, name)
for name in messaging.__all__:
    getattr(messaging, name)
messaging.MessagingApi(messaging.ApiClient(messaging.Configuration()))

after = handlers()
print(json.dumps({
    "added": {n: c for n, c in after.items() if c != before.get(n, 0)},
    "root_unchanged": logging.getLogger().handlers == root_before,
    "root_level_unchanged": logging.getLogger().level == root_level,
    "package_loggers": sorted(n for n in after if n.startswith("py_sp_api")),
    "package_levels": {
        n: logging.getLogger(n).level for n in after if n.startswith("py_sp_api")
    },
}))
"""


def test_importing_the_package_adds_no_logging_handlers() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(Path(__file__).resolve().parent.parent),
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)

    assert report["added"] == {}
    assert report["root_unchanged"] is True
    assert report["root_level_unchanged"] is True
    assert "py_sp_api.http" in report["package_loggers"]  # the probe did load the runtime
    assert set(report["package_levels"].values()) == {logging.NOTSET}


# -- DEBUG logs are useful ----------------------------------------------------------------------


def test_debug_logs_show_request_line_status_attempt_and_waits(
    caplog: pytest.LogCaptureFixture, sp: ThrottlingServer
) -> None:
    caplog.set_level(logging.DEBUG, logger="py_sp_api")
    clock = FakeClock()
    limiting = RateLimiting(store=LocalBucketStore(clock), sleep=RecordingSleep(clock))
    client = ApiClient(Configuration(host=sp.url, rate_limiting=limiting, retry=FAST_RETRY))
    api = MessagingApi(client)

    sp.fail_next(1, status=503)
    api.get_attributes(ORDER_ID, MARKETPLACE)  # attempt 1 -> 503, attempt 2 -> 200
    for _ in range(3):
        api.get_attributes(ORDER_ID, MARKETPLACE)  # the last one waits for a token
    client.close()

    http = [r.getMessage() for r in caplog.records if r.name == "py_sp_api.http"]
    line = f"GET /messaging/v1/orders/{ORDER_ID}/attributes?marketplaceIds=ATVPDKIKX0DER"
    assert any(m.startswith(f"{line} -> 503") and "attempt=1" in m for m in http), http
    assert any(m.startswith(f"{line} -> 200") and "attempt=2" in m for m in http), http
    assert any("HTTP 503" in m and "retrying in" in m for m in http), http
    assert any("operation=GetAttributes" in m for m in http), http
    assert any("rate-limit wait=1.000s" in m for m in http), http
    waits = [r.getMessage() for r in caplog.records if r.name == "py_sp_api.ratelimit"]
    assert any("waiting 1.000s" in m for m in waits), waits


# -- credentials only over https (or to loopback) ------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "http://sellingpartnerapi-na.amazon.com",
        "HTTP://sellingpartnerapi-na.amazon.com",
        "http://127.0.0.1.nip.io",
        "http://localhost.evil.example",
        "http://127.0.0.1@evil.example",
        "http://evil.example#@127.0.0.1",
        "http://evil.example?@127.0.0.1",
        "http://10.0.0.1:8080",
    ],
)
@pytest.mark.parametrize("auth", ["credentials", "access_token", "token_provider"])
def test_credentials_are_refused_over_plain_http(host: str, auth: str) -> None:
    credentials = LwaCredentials(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
    kwargs: Any = {
        "credentials": {"credentials": credentials},
        "access_token": {"access_token": "Atza|fixed"},
        "token_provider": {"token_provider": StaticTokenProvider("Atza|fixed")},
    }[auth]

    with pytest.raises(ApiValueError) as caught:
        Configuration(host=host, **kwargs)
    assert "https" in str(caught.value)


def test_switching_to_a_plain_http_host_later_is_refused() -> None:
    config = Configuration(access_token="Atza|fixed")

    with pytest.raises(ApiValueError):
        config.host = "http://sellingpartnerapi-na.amazon.com"

    assert config.host == "https://sellingpartnerapi-na.amazon.com"


@pytest.mark.parametrize(
    "host",
    [
        "http://127.0.0.1:8080",
        "http://localhost:8080",
        "http://LOCALHOST",
        "http://[::1]:8080",
        "http://127.0.0.2",
        "https://sellingpartnerapi-eu.amazon.com",
    ],
)
def test_credentials_are_allowed_over_https_and_to_loopback(host: str) -> None:
    config = Configuration(host=host, access_token="Atza|fixed")
    assert config.host == host
    config.host = host + "/"
    assert config.host == host


def test_plain_http_without_credentials_is_allowed() -> None:
    assert Configuration(host="http://sandbox.example").host == "http://sandbox.example"


@pytest.mark.parametrize(
    "host",
    [
        "http://sellingpartnerapi-na.amazon.com\\@127.0.0.1",
        "http://sellingpartnerapi-na.amazon.com\\@localhost/",
    ],
)
def test_a_loopback_lookalike_that_urllib3_sends_elsewhere_is_refused(host: str) -> None:
    # urllib3 reads the authority up to the backslash: the token would go to amazon.com over
    # plain http even though urlsplit() reports a loopback hostname.
    assert urllib3.util.parse_url(host).host == "sellingpartnerapi-na.amazon.com"

    with pytest.raises(ApiValueError):
        Configuration(host=host, access_token="Atza|fixed")


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://api.amazon.com/auth/o2/token",
        "http://api.amazon.com\\@127.0.0.1/auth/o2/token",
        "ftp://api.amazon.com/auth/o2/token",
        "api.amazon.com/auth/o2/token",
    ],
)
def test_a_plain_http_lwa_endpoint_is_refused(endpoint: str) -> None:
    with pytest.raises(ApiValueError):
        LwaCredentials(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, endpoint=endpoint)


def test_loopback_and_https_lwa_endpoints_are_allowed() -> None:
    for endpoint in (
        "https://api.amazon.com/auth/o2/token",
        "http://127.0.0.1:8080/auth/o2/token",
        "http://localhost:8080/auth/o2/token",
    ):
        credentials = LwaCredentials(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, endpoint=endpoint)
        assert credentials.endpoint == endpoint


# -- TLS and proxy settings reach urllib3 --------------------------------------------------------


def test_tls_verification_is_on_by_default() -> None:
    client = ApiClient(Configuration())
    pool_kw = client.rest_client.pool_manager.connection_pool_kw

    assert pool_kw["cert_reqs"] == ssl.CERT_REQUIRED
    assert pool_kw["ca_certs"] is None  # the system trust store
    assert not isinstance(client.rest_client.pool_manager, urllib3.ProxyManager)
    client.close()


def test_tls_settings_are_passed_to_urllib3(tmp_path: Path) -> None:
    ca, cert, key = (tmp_path / name for name in ("ca.pem", "client.pem", "client.key"))
    for path in (ca, cert, key):
        path.write_text("placeholder")
    config = Configuration(
        ssl_ca_cert=str(ca),
        cert_file=str(cert),
        key_file=str(key),
        assert_hostname="sellingpartnerapi-na.amazon.com",
    )
    pool_kw = ApiClient(config).rest_client.pool_manager.connection_pool_kw

    assert pool_kw["cert_reqs"] == ssl.CERT_REQUIRED
    assert pool_kw["ca_certs"] == str(ca)
    assert pool_kw["cert_file"] == str(cert)
    assert pool_kw["key_file"] == str(key)
    assert pool_kw["assert_hostname"] == "sellingpartnerapi-na.amazon.com"

    unverified = ApiClient(Configuration(verify_ssl=False)).rest_client.pool_manager
    assert unverified.connection_pool_kw["cert_reqs"] == ssl.CERT_NONE


def test_a_proxy_and_its_headers_are_passed_to_urllib3() -> None:
    headers = {"Proxy-Authorization": "Basic dXNlcjpwYXNz"}
    config = Configuration(proxy="http://127.0.0.1:3128", proxy_headers=headers)
    manager = ApiClient(config).rest_client.pool_manager

    assert isinstance(manager, urllib3.ProxyManager)
    assert manager.proxy is not None
    assert manager.proxy.url == "http://127.0.0.1:3128"
    assert manager.proxy_headers == headers
    assert manager.connection_pool_kw["cert_reqs"] == ssl.CERT_REQUIRED


def test_an_untrusted_certificate_is_rejected_by_default(tmp_path: Path) -> None:
    with TlsServer(tmp_path) as server:
        config = Configuration(host=server.url(), rate_limiting=False, retry=FAST_RETRY)
        with ApiClient(config) as client, pytest.raises(ApiConnectionError) as caught:
            MessagingApi(client).get_attributes(ORDER_ID, MARKETPLACE)

        assert "TLS" in str(caught.value)
        assert caught.value.request_sent is False
        assert server.request_count == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_ca_bundle_makes_the_certificate_trusted(tmp_path: Path, host: str) -> None:
    with TlsServer(tmp_path) as server:
        config = Configuration(
            host=server.url(host),
            ssl_ca_cert=str(server.ca_file),
            access_token="Atza|fixed",
            rate_limiting=False,
            retry=FAST_RETRY,
        )
        with ApiClient(config) as client:
            result = MessagingApi(client).get_attributes(ORDER_ID, MARKETPLACE)

        assert result.buyer is not None
        assert result.buyer.locale == "en-US"
        assert server.request_count == 1


def test_verify_ssl_false_accepts_the_certificate(tmp_path: Path) -> None:
    with TlsServer(tmp_path) as server:
        config = Configuration(
            host=server.url(), verify_ssl=False, rate_limiting=False, retry=FAST_RETRY
        )
        with ApiClient(config) as client, pytest.warns(urllib3.exceptions.InsecureRequestWarning):
            MessagingApi(client).get_attributes(ORDER_ID, MARKETPLACE)

        assert server.request_count == 1


def test_the_lwa_request_and_the_api_call_both_go_through_the_proxy(
    lwa: FakeLwa, sp: ThrottlingServer
) -> None:
    proxy_auth = "Basic cHJveHk6c2VjcmV0"
    with RecordingProxy() as proxy:
        config = Configuration(
            host=sp.url,
            credentials=lwa.credentials(),
            proxy=proxy.url,
            proxy_headers={"Proxy-Authorization": proxy_auth},
            rate_limiting=False,
            retry=FAST_RETRY,
        )
        client = ApiClient(config)
        MessagingApi(client).get_attributes(ORDER_ID, MARKETPLACE)
        client.close()
        relayed = proxy.requests

    assert [(request.method, request.target) for request in relayed] == [
        ("POST", lwa.url),
        ("GET", f"{sp.url}/messaging/v1/orders/{ORDER_ID}/attributes?marketplaceIds=ATVPDKIKX0DER"),
    ]
    assert [request.header("Proxy-Authorization") for request in relayed] == [proxy_auth] * 2
    assert lwa.token_requests == 1
    assert lwa.requests[0].path == TOKEN_PATH
    assert sp.tokens_seen == ["Atza|token-1"]


# -- what the mutation run found untested (issue 9, item 13) ----------------------------------


@pytest.mark.parametrize("value", ["a-NOTE-VALUE\rb", "a-NOTE-VALUE\r", "\ra-NOTE-VALUE"])
def test_a_lone_carriage_return_in_a_per_call_header_is_refused_before_sending(
    server: RecordingServer, value: str
) -> None:
    # http.client would refuse it too, but with a plain ValueError that quotes the value.
    client = ApiClient(Configuration(host=server.url, retry=FAST_RETRY))
    with client, pytest.raises(ApiValueError) as caught:
        MessagingApi(client).get_attributes(ORDER_ID, MARKETPLACE, _headers={"X-Note": value})

    assert "X-Note" in str(caught.value)
    assert all("NOTE-VALUE" not in str(exc) for exc in exception_chain(caught.value))
    assert server.request_count == 0


# -- secrets out of tracebacks that capture locals ---------------------------------------------

SECRET_TOKEN = "Atza|IwEB-SECRET-ACCESS-TOKEN-4242"

ApiFactory = Callable[..., MessagingApi]


@pytest.fixture
def make_api(open_api: ApiFactory) -> ApiFactory:
    """``make_api(host, **configuration)`` with no pacing and fast retries unless overridden."""
    return functools.partial(open_api, rate_limiting=False, retry=FAST_RETRY)


def formatted_with_locals(exc: BaseException) -> str:
    """The whole chain, with every frame's locals, as Sentry-like error reporters record it."""
    report = traceback.TracebackException(type(exc), exc, exc.__traceback__, capture_locals=True)
    return "".join(report.format())


def test_lwa_secrets_stay_out_of_a_traceback_with_locals(
    server: RecordingServer, lwa: FakeLwa, make_api: ApiFactory
) -> None:
    lwa.invalid_grant()
    api = make_api(server.url, credentials=lwa.credentials())

    with pytest.raises(LwaAuthError) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE)
    report = formatted_with_locals(caught.value)

    assert "in _fetch" in report  # the frame that held the token request body
    assert CLIENT_SECRET not in report
    assert REFRESH_TOKEN not in report
    assert quote(REFRESH_TOKEN, safe="") not in report  # as form-encoded in the body


def test_the_access_token_stays_out_of_a_traceback_with_locals(
    sp: ThrottlingServer, lwa: FakeLwa, make_api: ApiFactory
) -> None:
    sp.reset_next()
    api = make_api(sp.url, credentials=lwa.credentials(), retry=NO_RETRIES)

    with pytest.raises(ApiConnectionError) as caught:
        api.create_warranty(ORDER_ID, MARKETPLACE, warranty_body())
    report = formatted_with_locals(caught.value)

    assert "x-amz-access-token" in report  # the request headers were captured
    assert lwa.issued == ["Atza|token-1"]
    for secret in (*lwa.issued, CLIENT_SECRET, REFRESH_TOKEN):
        assert secret not in report


# -- user:password@ in the host and in the proxy URL -------------------------------------------


def test_a_password_in_the_host_is_not_in_a_connection_error(make_api: ApiFactory) -> None:
    api = make_api(f"http://user:hunter2-PW@127.0.0.1:{unused_port()}", retry=NO_RETRIES)

    with pytest.raises(ApiConnectionError) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert caught.value.request_sent is False
    assert "hunter2-PW" not in str(caught.value)


def test_proxy_credentials_in_the_url_become_a_proxy_authorization_header(
    server: RecordingServer,
) -> None:
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


# -- *.localhost is not loopback ---------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["http://foo.localhost", "http://foo.localhost:8080", "http://a.b.localhost"]
)
def test_a_localhost_subdomain_is_not_trusted_with_credentials(host: str, lwa: FakeLwa) -> None:
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


# -- call_raw sends what call sends: header parameters, the journal's send key ----------------

IDEMPOTENCY_HEADER = "x-amzn-idempotency-token"
CONFIRM_BODY = CreateConfirmOrderDetailsRequest(text="Could you confirm the engraving?")


def with_idempotency_header() -> Operation[Any]:
    """GetAttributes as if its spec declared a header parameter (some of Amazon's APIs do)."""
    return dataclasses.replace(
        GET_ATTRIBUTES, header_params=(HeaderParam(IDEMPOTENCY_HEADER, "idempotency_token"),)
    )


def test_call_raw_sends_the_header_parameters_and_the_extra_headers(
    server: RecordingServer,
) -> None:
    server.enqueue(200, {})
    args = (ORDER_ID, MARKETPLACE, "token-41")

    with ApiClient(Configuration(host=server.url, retry=FAST_RETRY)) as client:
        response = client.call_raw(with_idempotency_header(), args, headers={"X-Note": "n-1"})
        response.read()
        response.release_conn()

    sent = server.only_request().headers
    assert sent[IDEMPOTENCY_HEADER] == "token-41"
    assert sent["X-Note"] == "n-1"


def test_call_raw_refuses_a_header_parameter_with_a_line_break_before_sending(
    server: RecordingServer,
) -> None:
    args = (ORDER_ID, MARKETPLACE, "token\r\nX-Injected: yes")

    client = ApiClient(Configuration(host=server.url, retry=FAST_RETRY))
    with client, pytest.raises(ApiValueError) as caught:
        client.call_raw(with_idempotency_header(), args)

    assert IDEMPOTENCY_HEADER in str(caught.value)
    assert server.request_count == 0


def test_call_raw_journals_a_message_under_the_callers_send_key(server: RecordingServer) -> None:
    # Two sends with different send keys are two deliberate messages; the same key again is
    # refused before anything is sent.
    server.enqueue(201, {})
    server.enqueue(201, {})
    journal = SendJournal.memory()
    config = Configuration(host=server.url, journal=journal, retry=NO_RETRIES, rate_limiting=False)
    api = MessagingApi(ApiClient(config))

    def send(send_key: str) -> int:
        response = api.create_confirm_order_details_without_preload_content(
            ORDER_ID, MARKETPLACE, CONFIRM_BODY, _send_key=send_key
        )
        response.read()
        response.release_conn()
        return response.status

    with api.api_client:
        assert [send("first"), send("second")] == [201, 201]
        with pytest.raises(DuplicateSendError):
            send("second")

    assert [entry.caller_key for entry in journal.entries()] == ["first", "second"]
    assert server.request_count == 2


# -- the DEBUG line of an answer: its request id and how long it took ---------------------------


def test_the_debug_line_of_an_answer_has_its_request_id_and_duration_in_ms(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="py_sp_api")
    answer = urllib3.HTTPResponse(
        body=b"{}", headers={"x-amzn-RequestId": "rid-debug-9"}, status=200
    )
    request = GET_ATTRIBUTES.prepare((ORDER_ID, MARKETPLACE), None)
    started = time.monotonic() - 1000.0  # the answer came 1000 s after the try began

    _report_answer(answer, GET_ATTRIBUTES, request, 1, 0.0, started, None)

    [line] = [r.getMessage() for r in caplog.records if r.name == "py_sp_api.http"]
    assert "rid-debug-9" in line
    took = re.search(r" in ([0-9.]+) ms", line)
    assert took is not None, line
    # 1,000 s in ms, with room for a slow machine; seconds (~1e3) or microseconds (~1e9) fail.
    assert 1_000_000.0 <= float(took.group(1)) < 1_900_000.0, line
