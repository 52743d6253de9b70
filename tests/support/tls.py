"""A tiny HTTPS server on ``127.0.0.1`` with a certificate from a throwaway test CA.

The CA and the server certificate (SAN ``IP:127.0.0.1``, ``DNS:localhost``, valid 2000-2100) were
made once for these tests with ``openssl``; the private key protects nothing.
"""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Optional, Tuple

from tests.support.background import BackgroundServer, LocalHTTPServer

TEST_CA_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBbDCCARKgAwIBAgICEAAwCgYIKoZIzj0EAwIwHDEaMBgGA1UEAwwRcHktc3At
YXBpIHRlc3QgQ0EwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBwx
GjAYBgNVBAMMEXB5LXNwLWFwaSB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEYRmApL8H/gzgwkwvSRKzZErf/XhOB252tFvYXPfdOVwSh0EiaYZ6hhrZ
aoU0uUq7FN+VvL1GlzVEUsM7yF+L/KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNV
HQ8BAf8EBAMCAQYwHQYDVR0OBBYEFEq7KkusN1qqmPqK1D5TRD3xF0TtMAoGCCqG
SM49BAMCA0gAMEUCIA/o5bOnfbk3wz/RkNVfk5O+8tNEbBuIsQrd86H/UGg2AiEA
htbSLEgiZFKwL82I84Z09DKOU5+nRpTzBtZjtRtfBiE=
-----END CERTIFICATE-----
"""

SERVER_CERT_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBtjCCAVugAwIBAgICEAEwCgYIKoZIzj0EAwIwHDEaMBgGA1UEAwwRcHktc3At
YXBpIHRlc3QgQ0EwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBQx
EjAQBgNVBAMMCWxvY2FsaG9zdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABH2p
EApQcVzB2OaH+Mz3ENm25AA33G1b+QiRnS9FMUztFtWi+nwzuxW+WF+cp/P5L2d/
SW3H9+ja9ecbzG0qm/ijgZIwgY8wDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMC
BaAwEwYDVR0lBAwwCgYIKwYBBQUHAwEwGgYDVR0RBBMwEYcEfwAAAYIJbG9jYWxo
b3N0MB0GA1UdDgQWBBQMlXjhN46T+R8wE7vsDbngW0EEpjAfBgNVHSMEGDAWgBRK
uypLrDdaqpj6itQ+U0Q98RdE7TAKBggqhkjOPQQDAgNJADBGAiEAzU8/B8ihqJpk
F3LYpcwrmyaRp+jwuGj3bpVhWtryjS8CIQCYMG5eyUCuM+Z4ZSI6eXLRD+xNfeiT
5Qnze1cQr/CvUg==
-----END CERTIFICATE-----
"""

SERVER_KEY_PEM = """\
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg+6yNyImpeJy7PWs6
G70hru1J8GmlZcpCnyNt+S43vpShRANCAAR9qRAKUHFcwdjmh/jM9xDZtuQAN9xt
W/kIkZ0vRTFM7RbVovp8M7sVvlhfnKfz+S9nf0ltx/fo2vXnG8xtKpv4
-----END PRIVATE KEY-----
"""


def write_pems(directory: Path) -> Tuple[Path, Path, Path]:
    """Write the CA, the server certificate and its key; return their paths."""
    ca = directory / "test-ca.pem"
    cert = directory / "server.pem"
    key = directory / "server.key"
    ca.write_text(TEST_CA_PEM)
    cert.write_text(SERVER_CERT_PEM)
    key.write_text(SERVER_KEY_PEM)
    return ca, cert, key


class _TlsHTTPServer(LocalHTTPServer):
    def __init__(self, owner: TlsServer, context: ssl.SSLContext) -> None:
        self.owner = owner
        self.context = context
        super().__init__(_TlsHandler)

    def get_request(self) -> Tuple[Any, Any]:
        sock, address = super().get_request()
        sock.settimeout(5)
        # A client that rejects the certificate makes this raise; the request is then dropped.
        return self.context.wrap_socket(sock, server_side=True), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class _TlsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _TlsHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.owner._count()
        payload = json.dumps({"buyer": {"locale": "en-US"}}).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class TlsServer:
    """An HTTPS server answering every GET with a GetAttributes body; counts the requests."""

    def __init__(self, directory: Path) -> None:
        self.ca_file, cert, key = write_pems(directory)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(str(cert), str(key))
        self._lock = threading.Lock()
        self._requests = 0
        self._server: Optional[BackgroundServer] = None

    def __enter__(self) -> TlsServer:
        self._server = BackgroundServer(_TlsHTTPServer(self, self._context))
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.port

    def url(self, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}"

    @property
    def request_count(self) -> int:
        with self._lock:
            return self._requests

    def _count(self) -> None:
        with self._lock:
            self._requests += 1


__all__ = ["TEST_CA_PEM", "TlsServer", "write_pems"]
