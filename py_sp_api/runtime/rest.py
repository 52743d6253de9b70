"""The HTTP transport: one urllib3 pool per client, and urllib3 errors mapped to ours."""

from __future__ import annotations

import ssl
from typing import Any, Dict, Mapping, Optional

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

from py_sp_api.runtime.configuration import Configuration
from py_sp_api.runtime.exceptions import ApiConnectionError, ApiTimeoutError


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
        self.pool_manager: urllib3.PoolManager
        if configuration.proxy:
            self.pool_manager = urllib3.ProxyManager(
                configuration.proxy, proxy_headers=configuration.proxy_headers, **pool_args
            )
        else:
            self.pool_manager = urllib3.PoolManager(**pool_args)

    def request(
        self,
        method: str,
        url: str,
        headers: Optional[Mapping[str, str]] = None,
        body: Optional[bytes] = None,
        timeout: Optional[urllib3.Timeout] = None,
        preload_content: bool = True,
    ) -> urllib3.BaseHTTPResponse:
        """Send one request; raise :class:`ApiConnectionError` if no response arrives."""
        try:
            # urlopen, not request: the body is already bytes, so request()'s form and JSON
            # encoding (and its per-call header dict copy) would only cost time.
            return self.pool_manager.urlopen(
                method,
                url,
                body=body,
                headers=headers,
                timeout=timeout,
                preload_content=preload_content,
                redirect=False,
            )
        # NewConnectionError subclasses ConnectTimeoutError: catch it first.
        except (NewConnectionError, ProxyError) as exc:
            raise ApiConnectionError(
                f"could not connect to {_origin(url)}: {_root_message(exc)}", request_sent=False
            ) from exc
        except ConnectTimeoutError as exc:
            raise ApiTimeoutError(
                f"connecting to {_origin(url)} timed out", request_sent=False
            ) from exc
        except ReadTimeoutError as exc:
            raise ApiTimeoutError(
                f"{method} {_origin(url)}: no response within the read timeout", request_sent=True
            ) from exc
        except SSLError as exc:
            raise ApiConnectionError(
                f"TLS handshake with {_origin(url)} failed: {_root_message(exc)}",
                request_sent=False,
            ) from exc
        except ProtocolError as exc:
            raise ApiConnectionError(
                f"{method} {_origin(url)}: connection dropped before a complete response "
                f"({_root_message(exc)})",
                request_sent=None,
            ) from exc
        except HTTPError as exc:
            raise ApiConnectionError(
                f"{method} {_origin(url)} failed: {_root_message(exc)}", request_sent=None
            ) from exc

    def close(self) -> None:
        """Close every pooled connection."""
        self.pool_manager.clear()


def _origin(url: str) -> str:
    # The path carries order ids, which are not secret, but keep messages short and stable.
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _root_message(exc: BaseException) -> str:
    while exc.__context__ is not None and isinstance(exc.__context__, OSError):
        exc = exc.__context__
    return str(exc) or type(exc).__name__
