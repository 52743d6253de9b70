"""The HTTP transport: one urllib3 pool per client, and urllib3 errors mapped to ours."""

from __future__ import annotations

import functools
import ssl
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Type
from urllib.parse import unquote

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import make_headers, parse_url

from py_sp_api.runtime.configuration import Configuration
from py_sp_api.runtime.exceptions import (
    ApiConnectionError,
    ApiResponseTooLargeError,
    ApiTimeoutError,
)
from py_sp_api.runtime.forksafe import reinit_after_fork
from py_sp_api.runtime.headers import REQUEST_ID_HEADER
from py_sp_api.runtime.transport_security import redact_url


class RESTResponse:
    """A fully read HTTP response."""

    __slots__ = ("data", "headers", "reason", "response", "status")

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self.response = response
        self.status: int = response.status
        self.reason: Optional[str] = response.reason
        self.headers: Mapping[str, str] = response.headers
        self.data: bytes = response.data

    def read(self) -> bytes:
        return self.data

    def getheaders(self) -> Mapping[str, str]:
        return self.headers

    def getheader(self, name: str, default: Optional[str] = None) -> Optional[str]:
        return self.headers.get(name, default)


class RESTClientObject:
    """Sends requests over a keep-alive connection pool built from a :class:`Configuration`.

    urllib3's own retries are off: a retry decision needs to know whether a message could have
    reached a buyer, which only the API client knows.
    """

    def __init__(self, configuration: Configuration) -> None:
        self._configuration = configuration
        pool_args: Dict[str, Any] = {
            "num_pools": 4,
            "maxsize": configuration.connection_pool_maxsize,
            "cert_reqs": ssl.CERT_REQUIRED if configuration.verify_ssl else ssl.CERT_NONE,
            "ca_certs": configuration.ssl_ca_cert,
            "cert_file": configuration.cert_file,
            "key_file": configuration.key_file,
            "retries": False,
        }
        if configuration.assert_hostname is not None:
            pool_args["assert_hostname"] = configuration.assert_hostname
        self._new_pool_manager: Callable[[], urllib3.PoolManager]
        if configuration.proxy:
            proxy_url, proxy_headers = _proxy_with_auth(
                configuration.proxy, configuration.proxy_headers
            )
            self._new_pool_manager = functools.partial(
                urllib3.ProxyManager, proxy_url, proxy_headers=proxy_headers, **pool_args
            )
        else:
            self._new_pool_manager = functools.partial(urllib3.PoolManager, **pool_args)
        self.pool_manager = self._new_pool_manager()
        reinit_after_fork(self)

    def request(
        self,
        method: str,
        url: str,
        headers: Optional[Mapping[str, str]] = None,
        body: Optional[bytes] = None,
        timeout: Optional[urllib3.Timeout] = None,
        preload_content: bool = True,
    ) -> urllib3.BaseHTTPResponse:
        """Send one request; raise :class:`ApiConnectionError` if no response arrives.

        The body is never decoded (the request asks for ``identity``; a ``Content-Encoding``
        the client did not ask for is left as it came). With ``preload_content`` the body is
        read, unless it is larger than ``max_response_bytes``: then
        :class:`ApiResponseTooLargeError` is raised, having read at most that much.
        """
        try:
            # urlopen, not request: the body is already bytes, so request()'s form and JSON
            # encoding (and its per-call header dict copy) would only cost time.
            response = self.pool_manager.urlopen(
                method,
                url,
                body=body,
                headers=headers,
                timeout=timeout,
                preload_content=False,
                decode_content=False,
                redirect=False,
            )
            if not preload_content:
                return response
            try:
                return _preloaded(response, self._configuration.max_response_bytes, method, url)
            except (ReadTimeoutError, ProtocolError, SSLError) as exc:
                # The status line arrived: the server processed the request. Say which status,
                # not "no response", so a sent message is not taken for one never sent.
                raise _body_cut_off(response, method, url, exc) from exc
        except HTTPError as exc:
            raise _no_answer(exc, method, url) from exc

    def close(self) -> None:
        """Close every pooled connection."""
        self.pool_manager.clear()

    def _reinit_after_fork(self) -> None:
        # The inherited sockets are the parent's connections: a child using one would read
        # the parent's responses. Dropped, not cleared: clear() takes a lock another thread
        # of the parent may have held at the fork. urllib3 then closes the child's copies of
        # the sockets; close() without shutdown() leaves the parent's connections intact.
        self.pool_manager = self._new_pool_manager()


def _no_answer(exc: HTTPError, method: str, url: str) -> ApiConnectionError:
    """Our error for a request urllib3 got no response to, saying whether it left."""
    # NewConnectionError subclasses ConnectTimeoutError: test for it first.
    if isinstance(exc, (NewConnectionError, ProxyError)):
        return ApiConnectionError(
            f"could not connect to {_origin(url)}: {_root_message(exc)}", request_sent=False
        )
    if isinstance(exc, ConnectTimeoutError):
        return ApiTimeoutError(f"connecting to {_origin(url)} timed out", request_sent=False)
    if isinstance(exc, ReadTimeoutError):
        return ApiTimeoutError(
            f"{method} {_origin(url)}: no response within the read timeout", request_sent=True
        )
    if isinstance(exc, SSLError):
        # urllib3 raises SSLError for a failed handshake and for a TLS failure after the
        # request went out alike. Only a certificate rejection proves nothing was sent.
        handshake = _caused_by(exc, (ssl.SSLCertVerificationError, ssl.CertificateError))
        what = "TLS handshake with" if handshake else "TLS connection to"
        return ApiConnectionError(
            f"{what} {_origin(url)} failed: {_root_message(exc)}",
            request_sent=False if handshake else None,
        )
    if isinstance(exc, ProtocolError):
        return ApiConnectionError(
            f"{method} {_origin(url)}: connection dropped before a complete response "
            f"({_root_message(exc)})",
            request_sent=None,
        )
    return ApiConnectionError(
        f"{method} {_origin(url)} failed: {_root_message(exc)}", request_sent=None
    )


def _preloaded(
    response: urllib3.BaseHTTPResponse, limit: int, method: str, url: str
) -> urllib3.BaseHTTPResponse:
    """``response`` with its body read (``.data``), never more than ``limit`` bytes of it."""
    announced = response.length_remaining
    if announced is not None:
        if announced > limit:
            raise _too_large(response, limit, method, url, announced)
        response.read(cache_content=True)
        return response
    # Chunked or closed-delimited: read one byte past the limit to know whether it is passed.
    data = response.read(limit + 1)
    if len(data) > limit:
        raise _too_large(response, limit, method, url, None)
    return urllib3.HTTPResponse(
        body=data,
        headers=response.headers,
        status=response.status,
        version=response.version,
        reason=response.reason,
        preload_content=False,
        decode_content=False,
        request_url=response.url,
    )


def read_bounded(response: urllib3.BaseHTTPResponse, limit: int) -> bytes:
    """The whole body of an unread response; :class:`ApiResponseTooLargeError` past ``limit``."""
    announced = response.length_remaining
    if announced is not None and announced > limit:
        raise _too_large(response, limit, None, None, announced)
    data = response.read(limit + 1)
    if len(data) > limit:
        raise _too_large(response, limit, None, None, announced)
    response.release_conn()
    return data


def _too_large(
    response: urllib3.BaseHTTPResponse,
    limit: int,
    method: Optional[str],
    url: Optional[str],
    content_length: Optional[int],
) -> ApiResponseTooLargeError:
    """The error for a body over ``limit``; the connection is closed, the rest never read."""
    response.close()  # a half-read connection cannot serve another request
    response.release_conn()
    where = f"{method} {_origin(url)}: " if method and url else ""
    size = f" ({content_length} bytes announced)" if content_length is not None else ""
    return ApiResponseTooLargeError(
        f"{where}the {response.status} response body is larger than max_response_bytes "
        f"({limit} bytes){size}; it was not read",
        status=response.status,
        reason=response.reason,
        headers=response.headers,
        limit=limit,
        content_length=content_length,
    )


def _body_cut_off(
    response: urllib3.BaseHTTPResponse, method: str, url: str, exc: Exception
) -> ApiConnectionError:
    status = response.status
    outcome = "the request succeeded" if 200 <= status <= 299 else "the request was answered"
    kind = ApiTimeoutError if isinstance(exc, ReadTimeoutError) else ApiConnectionError
    return kind(
        f"{method} {_origin(url)}: answered {status} ({outcome}), but the body did not arrive "
        f"whole ({_root_message(exc)})",
        request_sent=True,
        answered_status=status,
        request_id=response.headers.get(REQUEST_ID_HEADER),
    )


def _proxy_with_auth(
    proxy: str, headers: Optional[Dict[str, str]]
) -> Tuple[str, Optional[Dict[str, str]]]:
    """Move ``user:password@`` from a proxy URL into a Proxy-Authorization header.

    urllib3 ignores credentials written in the proxy URL; a proxy would answer 407.
    """
    parts = parse_url(proxy)
    if not parts.auth:
        return proxy, headers
    auth = unquote(parts.auth)
    merged = {**make_headers(proxy_basic_auth=auth), **(headers or {})}
    return parts._replace(auth=None).url, merged


def _origin(url: str) -> str:
    # The path carries order ids, which are not secret, but keep messages short and stable;
    # a "user:password@" never reaches a message.
    scheme, _, rest = url.partition("://")
    return redact_url(f"{scheme}://{rest.split('/', 1)[0]}")


def _caused_by(exc: BaseException, kinds: Tuple[Type[BaseException], ...]) -> bool:
    seen: Optional[BaseException] = exc
    while seen is not None:
        if isinstance(seen, kinds) or any(isinstance(arg, kinds) for arg in seen.args):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _root_message(exc: BaseException) -> str:
    while exc.__context__ is not None and isinstance(exc.__context__, OSError):
        exc = exc.__context__
    return str(exc) or type(exc).__name__


__all__ = [
    "RESTClientObject",
    "RESTResponse",
    "read_bounded",
]
