"""Client configuration: where to send requests and how to connect."""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple, Union

import urllib3
from urllib3.util import parse_url

from py_sp_api._version import __version__
from py_sp_api.runtime import regions
from py_sp_api.runtime.auth import (
    CallableTokenProvider,
    LwaCredentials,
    LwaTokenProvider,
    StaticTokenProvider,
    TokenProvider,
)
from py_sp_api.runtime.exceptions import ApiTypeError, ApiValueError
from py_sp_api.runtime.headers import USER_AGENT_HEADER, check_header
from py_sp_api.runtime.ratelimit import RateLimiting
from py_sp_api.runtime.retry import RetryPolicy
from py_sp_api.runtime.transport_security import is_secure_url, redact_url

if TYPE_CHECKING:
    from py_sp_api.runtime.events import Hooks, Telemetry
    from py_sp_api.runtime.journal import SendJournal

DEFAULT_HOST = "https://sellingpartnerapi-na.amazon.com"

TimeoutValue = Union[None, float, Tuple[float, float], urllib3.Timeout]
"""A timeout: seconds for the whole request, a ``(connect, read)`` pair, or a urllib3 Timeout."""

DEFAULT_TIMEOUT = urllib3.Timeout(connect=10.0, read=60.0)

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
"""Far above any Messaging answer (a few KiB), far below what would strain a process."""


def default_user_agent() -> str:
    """``py-sp-api/<version> (Language=Python/<x.y.z>; Platform=<os>)``, as Amazon recommends."""
    python = ".".join(str(part) for part in sys.version_info[:3])
    return f"py-sp-api/{__version__} (Language=Python/{python}; Platform={sys.platform})"


class Configuration:
    """Settings shared by every call made through one :class:`ApiClient`.

    Args:
        host: the API endpoint, e.g. ``https://sellingpartnerapi-eu.amazon.com``.
        timeout: default per-request timeout (seconds, ``(connect, read)`` or urllib3 Timeout).
        verify_ssl: verify the server's TLS certificate (keep this on outside tests).
        ssl_ca_cert: a CA bundle file to trust instead of the system's.
        cert_file, key_file: a client certificate and its key, for mutual TLS.
        proxy: an ``http://`` or ``https://`` proxy URL; ``proxy_headers`` go to the proxy.
        connection_pool_maxsize: connections kept alive per host (size it to your threads).
        user_agent: the ``User-Agent`` header; defaults to one naming this package.
        credentials: LWA credentials; every call then carries an ``x-amz-access-token``.
        access_token: instead of credentials, a fixed access token (or Restricted Data Token),
            or a callable returning one before each request.
        token_provider: instead of both, any object implementing ``TokenProvider``.
        rate_limiting: ``True`` (default) paces calls to each operation's usage plan,
            ``False`` turns that off, or a :class:`RateLimiting` with other settings.
        retry: the :class:`RetryPolicy` (429s always, 5xx and dropped connections for GETs).
        journal: a :class:`~py_sp_api.runtime.journal.SendJournal`: every POST (a message) is
            claimed in it before sending, so each one reaches Amazon at most once, across
            crashes and workers. ``None`` (default) journals nothing. Operations of APIs
            generated with ``--spec`` are not journaled (see ``Operation.journaled``).
        seller_id: a stable name of the selling partner (its selling partner id, say), which
            keys the send journal. Without it the journal uses the credential's identity:
            LWA credentials' (which changes when the seller authorises the application again)
            or the ``identity=`` given to a token provider; a bare access token or callable
            without ``identity=`` is refused, as its name would change with the token.
        max_response_bytes: the largest response body the client reads into memory (10 MiB by
            default; Messaging answers take a few KiB). A larger body is not read: the call
            raises :class:`ApiResponseTooLargeError` (2xx) or the status's ``ApiException``.
        hooks: :class:`~py_sp_api.runtime.events.Hooks`: callables told of each attempt,
            answer, retry, rate-limit wait, token request and journal transition.
        telemetry: more observers of every call, e.g.
            :class:`~py_sp_api.runtime.otel.OpenTelemetry` (spans and metrics). With neither,
            calls are not observed at all (no cost).

    Without credentials no token is sent: fine for the local sandbox and test servers, but
    Amazon's hosts, its sandbox hosts included, refuse a request without one (403). With
    credentials, a plain ``http://`` host is refused unless it is a loopback address.
    """

    def __init__(
        self,
        host: Optional[str] = None,
        *,
        timeout: TimeoutValue = None,
        verify_ssl: bool = True,
        ssl_ca_cert: Optional[str] = None,
        cert_file: Optional[str] = None,
        key_file: Optional[str] = None,
        assert_hostname: Optional[Union[str, bool]] = None,
        proxy: Optional[str] = None,
        proxy_headers: Optional[Dict[str, str]] = None,
        connection_pool_maxsize: int = 10,
        user_agent: Optional[str] = None,
        credentials: Optional[LwaCredentials] = None,
        access_token: Union[str, Callable[[], str], None] = None,
        token_provider: Optional[TokenProvider] = None,
        rate_limiting: Union[bool, RateLimiting] = True,
        retry: Optional[RetryPolicy] = None,
        journal: Optional[SendJournal] = None,
        seller_id: Optional[str] = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        hooks: Optional[Hooks] = None,
        telemetry: Optional[Telemetry] = None,
    ) -> None:
        self._identity: Optional[Tuple[str, str, str]] = None
        self._hooks: Optional[Hooks] = None
        self._telemetry: Optional[Telemetry] = None
        # What observes each call: hooks and telemetry together, worked out when either is
        # set, so that a call without them only checks this for None.
        self._instrumentation: Optional[Telemetry] = None
        self.hooks = hooks
        self.telemetry = telemetry
        self.token_provider = _token_provider(credentials, access_token, token_provider)
        self.host = host if host is not None else DEFAULT_HOST
        self.timeout = to_urllib3_timeout(timeout) if timeout is not None else DEFAULT_TIMEOUT
        self.verify_ssl = verify_ssl
        self.ssl_ca_cert = ssl_ca_cert
        self.cert_file = cert_file
        self.key_file = key_file
        self.assert_hostname = assert_hostname
        self.proxy = proxy
        self.proxy_headers = _checked_proxy_headers(proxy_headers)
        self.connection_pool_maxsize = _checked_pool_size(connection_pool_maxsize)
        self.user_agent = user_agent or default_user_agent()
        self.max_response_bytes = max_response_bytes
        self.rate_limiting = _rate_limiting(rate_limiting)
        self.retry = retry if retry is not None else RetryPolicy()
        self.journal = journal
        self.seller_id = _checked_seller_id(seller_id)

    @classmethod
    def for_marketplace(
        cls, marketplace_id: str, *, sandbox: bool = False, **kwargs: Any
    ) -> Configuration:
        """A configuration for the region serving a marketplace.

        ``marketplace_id`` is its id (``"ATVPDKIKX0DER"``) or its country code (``"DE"``); the
        list is ``py_sp_api.MARKETPLACES``.
        """
        host = regions.host_for(marketplace_id=marketplace_id, sandbox=sandbox)
        return cls(host, **kwargs)

    @classmethod
    def for_region(cls, name: str, *, sandbox: bool = False, **kwargs: Any) -> Configuration:
        """A configuration for region ``name`` (``"NA"``, ``"eu"``, ``"Fe"``...)."""
        return cls(regions.host_for(region_name=name, sandbox=sandbox), **kwargs)

    @property
    def host(self) -> str:
        return self._host

    @host.setter
    def host(self, value: str) -> None:
        host = _normalise_host(value)
        if self.token_provider is not None and not is_secure_url(host):
            raise ApiValueError(
                f"refusing to send credentials over plain http to {redact_url(host)!r}: "
                "use https://, or a loopback address for local testing"
            )
        self._host = host

    @property
    def user_agent(self) -> str:
        """The ``User-Agent`` header of the clients built from this configuration."""
        return self._user_agent

    @user_agent.setter
    def user_agent(self, value: str) -> None:
        check_header(USER_AGENT_HEADER, value)
        self._user_agent = value

    @property
    def max_response_bytes(self) -> int:
        """The largest response body read into memory; a larger one raises an error."""
        return self._max_response_bytes

    @max_response_bytes.setter
    def max_response_bytes(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiTypeError(
                f"max_response_bytes must be an int (bytes), got {type(value).__name__}"
            )
        if value < 1:
            raise ApiValueError(f"max_response_bytes must be at least 1, got {value}")
        self._max_response_bytes = value

    @property
    def token_provider(self) -> Optional[TokenProvider]:
        """What supplies the access token; ``None`` sends no token (sandbox, local servers)."""
        return self._token_provider

    @token_provider.setter
    def token_provider(self, provider: Optional[TokenProvider]) -> None:
        host = getattr(self, "_host", None)
        if provider is not None and host is not None and not is_secure_url(host):
            raise ApiValueError(
                f"refusing to send credentials over plain http to {redact_url(host)!r}: "
                "use https://, or a loopback address for local testing"
            )
        self._token_provider = provider

    @property
    def hooks(self) -> Optional[Hooks]:
        """The :class:`~py_sp_api.runtime.events.Hooks` told what each call does, or ``None``."""
        return self._hooks

    @hooks.setter
    def hooks(self, hooks: Optional[Hooks]) -> None:
        if hooks is not None:
            from py_sp_api.runtime.events import Hooks  # loaded only by those who use hooks

            if not isinstance(hooks, Hooks):
                raise ApiTypeError(f"hooks must be a Hooks, got {type(hooks).__name__}")
        self._hooks = hooks
        self._instrumentation = _instrumentation(hooks, self._telemetry)

    @property
    def telemetry(self) -> Optional[Telemetry]:
        """What else observes each call (``OpenTelemetry()``, say), or ``None``."""
        return self._telemetry

    @telemetry.setter
    def telemetry(self, telemetry: Optional[Telemetry]) -> None:
        if isinstance(telemetry, type):
            raise ApiTypeError(
                f"telemetry must be an instance, e.g. {telemetry.__name__}(), not the class"
            )
        if telemetry is not None and not callable(getattr(telemetry, "start_call", None)):
            raise ApiTypeError(
                "telemetry must have a start_call(operation, method, url) method (e.g. "
                f"py_sp_api.runtime.otel.OpenTelemetry()), got {type(telemetry).__name__}"
            )
        self._telemetry = telemetry
        self._instrumentation = _instrumentation(self._hooks, telemetry)

    def to_debug_report(self) -> str:
        """Facts for a bug report: versions and settings, never a secret."""
        import importlib.metadata
        import platform

        return "\n".join(
            [
                f"OS: {platform.platform()}",
                f"Python: {platform.python_version()}",
                f"py-sp-api: {__version__}",
                f"urllib3: {importlib.metadata.version('urllib3')}",
                f"Host: {redact_url(self.host)}",
                f"Auth: {type(self.token_provider).__name__ if self.token_provider else 'none'}",
                f"Rate limiting: {'on' if self.rate_limiting.enabled else 'off'}",
                f"Retry: {self.retry!r}",
            ]
        )

    @property
    def rate_limit_identity(self) -> str:
        """Whose usage plan a call spends: the host and a non-secret name of the credential."""
        provider = self._token_provider
        who = provider.identity if provider is not None else "anonymous"
        cached = self._identity
        if cached is None or cached[0] != self._host or cached[1] != who:
            cached = self._identity = (self._host, who, f"{self._host}|{who}")
        return cached[2]

    @property
    def credentials_summary(self) -> str:
        """What authenticates the calls, in words that never include a secret."""
        provider = self._token_provider
        if provider is None:
            return "none (no access token is sent)"
        kinds = {
            "LwaTokenProvider": "LWA refresh token",
            "StaticTokenProvider": "fixed access token",
            "CallableTokenProvider": "access-token callable",
        }
        return kinds.get(type(provider).__name__, type(provider).__name__)

    @property
    def journal_identity(self) -> str:
        """Whose messages a send journal keys: the host, and the seller by a lasting name."""
        who = self.seller_id
        if who is None:
            provider = self._token_provider
            if provider is not None and not getattr(provider, "stable_identity", True):
                raise ApiValueError(
                    "a send journal needs a lasting name for the seller: pass "
                    "Configuration(seller_id=...) (e.g. the selling partner id), or identity= "
                    "to the token provider; a bare access token or callable is named after "
                    "itself, which changes with every token or process. Nothing was sent"
                )
            who = provider.identity if provider is not None else "anonymous"
        return f"{canonical_origin(self._host)}|{who}"

    def __repr__(self) -> str:
        return (
            f"Configuration(host={redact_url(self.host)!r}, auth={self.token_provider!r}, "
            f"timeout={self.timeout!r}, verify_ssl={self.verify_ssl!r}, "
            f"proxy={_redact_url(self.proxy)!r}, rate_limiting={self.rate_limiting.enabled}, "
            f"retry={self.retry!r})"
        )

    __str__ = __repr__


def _instrumentation(hooks: Optional[Hooks], telemetry: Optional[Telemetry]) -> Optional[Telemetry]:
    if hooks is None and telemetry is None:
        return None
    from py_sp_api.runtime.events import combined

    return combined(hooks, telemetry)


def _checked_proxy_headers(headers: Optional[Dict[str, str]]) -> Optional[Dict[str, str]]:
    for name, value in (headers or {}).items():
        check_header(name, value)  # the proxy's credentials, typically: never echoed
    return headers


def _checked_pool_size(size: int) -> int:
    if size < 1:
        raise ApiValueError("connection_pool_maxsize must be at least 1")
    return size


def _rate_limiting(value: Union[bool, RateLimiting]) -> RateLimiting:
    """``rate_limiting=`` as given: a :class:`RateLimiting`, or on/off with the defaults."""
    return value if isinstance(value, RateLimiting) else RateLimiting(enabled=bool(value))


def _checked_seller_id(seller_id: Optional[str]) -> Optional[str]:
    if seller_id is not None and (not isinstance(seller_id, str) or not seller_id.strip()):
        raise ApiValueError("seller_id must be a non-empty str (e.g. the selling partner id)")
    return seller_id


def _token_provider(
    credentials: Optional[LwaCredentials],
    access_token: Union[str, Callable[[], str], None],
    token_provider: Optional[TokenProvider],
) -> Optional[TokenProvider]:
    given = [x for x in (credentials, access_token, token_provider) if x is not None]
    if len(given) > 1:
        raise ApiValueError("give only one of credentials, access_token or token_provider")
    if credentials is not None:
        if not isinstance(credentials, LwaCredentials):
            raise ApiTypeError("credentials must be an LwaCredentials")
        return LwaTokenProvider(credentials)
    if isinstance(access_token, str):
        return StaticTokenProvider(access_token)
    if access_token is not None:
        if not callable(access_token):
            raise ApiTypeError("access_token must be a str or a callable returning one")
        return CallableTokenProvider(access_token)
    return token_provider


def canonical_origin(url: str) -> str:
    """``scheme://host[:port]`` in one spelling: lower case, no credentials, no default port.

    The same endpoint written two ways (``HTTPS://Host:443``) must be one seller's, once.
    """
    parts = parse_url(url)
    scheme = (parts.scheme or "https").lower()
    host = (parts.host or "").lower()
    default = {"https": 443, "http": 80}.get(scheme)
    port = f":{parts.port}" if parts.port is not None and parts.port != default else ""
    return f"{scheme}://{host}{port}"


def _normalise_host(value: Any) -> str:
    if not isinstance(value, str):
        raise ApiTypeError(f"host must be a str, got {type(value).__name__}")
    host = value.strip().rstrip("/")
    scheme, sep, rest = host.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest:
        raise ApiValueError(
            f"host must be an http:// or https:// URL, e.g. {DEFAULT_HOST!r}; "
            f"got {redact_url(value)!r}"
        )
    return host


def _redact_url(url: Optional[str]) -> Optional[str]:
    # A proxy URL may carry "user:password@"; never show it.
    return None if url is None else redact_url(url)


def to_urllib3_timeout(value: TimeoutValue) -> urllib3.Timeout:
    """Normalise a user-supplied timeout; raises :class:`ApiValueError` for nonsense."""
    if isinstance(value, urllib3.Timeout):
        return value
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ApiValueError("a timeout pair must be (connect, read)")
        connect, read = (_seconds(v) for v in value)
        return urllib3.Timeout(connect=connect, read=read)
    return urllib3.Timeout(total=_seconds(value))


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ApiTypeError(f"a timeout must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ApiValueError(f"a timeout must be a positive, finite number of seconds, got {value}")
    return float(value)


__all__ = [
    "Configuration",
    "DEFAULT_HOST",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "TimeoutValue",
    "canonical_origin",
    "default_user_agent",
    "to_urllib3_timeout",
]
