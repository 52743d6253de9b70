"""Client configuration: where to send requests and how to connect."""

from __future__ import annotations

import platform
from typing import Any, Dict, Optional, Tuple, Union

import urllib3

from py_sp_api._version import __version__
from py_sp_api.runtime.exceptions import ApiTypeError, ApiValueError

DEFAULT_HOST = "https://sellingpartnerapi-na.amazon.com"

TimeoutValue = Union[None, float, Tuple[float, float], urllib3.Timeout]
"""A timeout: seconds for the whole request, a ``(connect, read)`` pair, or a urllib3 Timeout."""

DEFAULT_TIMEOUT = urllib3.Timeout(connect=10.0, read=60.0)


def default_user_agent() -> str:
    """``py-sp-api/<version> (Language=Python/<x.y.z>; Platform=<os>)``, as Amazon recommends."""
    return (
        f"py-sp-api/{__version__} "
        f"(Language=Python/{platform.python_version()}; Platform={platform.system()})"
    )


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
    ) -> None:
        self.host = host if host is not None else DEFAULT_HOST
        self.timeout = to_urllib3_timeout(timeout) if timeout is not None else DEFAULT_TIMEOUT
        self.verify_ssl = verify_ssl
        self.ssl_ca_cert = ssl_ca_cert
        self.cert_file = cert_file
        self.key_file = key_file
        self.assert_hostname = assert_hostname
        self.proxy = proxy
        self.proxy_headers = proxy_headers
        if connection_pool_maxsize < 1:
            raise ApiValueError("connection_pool_maxsize must be at least 1")
        self.connection_pool_maxsize = connection_pool_maxsize
        self.user_agent = user_agent or default_user_agent()

    @property
    def host(self) -> str:
        return self._host

    @host.setter
    def host(self, value: str) -> None:
        self._host = _normalise_host(value)

    def __repr__(self) -> str:
        return (
            f"Configuration(host={self.host!r}, timeout={self.timeout!r}, "
            f"verify_ssl={self.verify_ssl!r}, proxy={_redact_url(self.proxy)!r})"
        )


def _normalise_host(value: Any) -> str:
    if not isinstance(value, str):
        raise ApiTypeError(f"host must be a str, got {type(value).__name__}")
    host = value.strip().rstrip("/")
    scheme, sep, rest = host.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest:
        raise ApiValueError(
            f"host must be an http:// or https:// URL, e.g. {DEFAULT_HOST!r}; got {value!r}"
        )
    return host


def _redact_url(url: Optional[str]) -> Optional[str]:
    # A proxy URL may carry "user:password@"; never show it.
    if url is None or "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


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
    if value <= 0:
        raise ApiValueError(f"a timeout must be positive, got {value}")
    return float(value)
