"""A plain-HTTP forward proxy on ``127.0.0.1`` that records each request line it relays.

A client configured with ``proxy=`` sends it absolute-form requests (``GET http://host:port/path
HTTP/1.1``); the proxy records the request line and headers, forwards the request to the target
with ``http.client``, and relays the answer back. Only ``http://`` targets are supported (no
``CONNECT``), which is all loopback tests need.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, List, Optional, Tuple
from urllib.parse import urlsplit

from tests.support.background import BackgroundServer, LocalHTTPServer

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
}


@dataclass(frozen=True)
class ProxiedRequest:
    method: str
    target: str
    """The request target exactly as received (absolute form for a proxy)."""
    headers: Tuple[Tuple[str, str], ...]

    def header(self, name: str) -> Optional[str]:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class RecordingProxy:
    """Use as a context manager; ``url`` is the proxy URL to give the client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: List[ProxiedRequest] = []
        self._server: Optional[BackgroundServer] = None

    def __enter__(self) -> RecordingProxy:
        owner = self

        class Handler(_ProxyHandler):
            proxy = owner

        # Leaving waits for the relays still in progress.
        self._server = BackgroundServer(LocalHTTPServer(Handler, block_on_close=True))
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "proxy not started"
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def requests(self) -> List[ProxiedRequest]:
        with self._lock:
            return list(self._requests)

    def _record(self, request: ProxiedRequest) -> None:
        with self._lock:
            self._requests.append(request)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy: RecordingProxy

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        headers = tuple(self.headers.items())
        self.proxy._record(ProxiedRequest(self.command, self.path, headers))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        target = urlsplit(self.path)
        if target.scheme != "http" or not target.hostname:
            self.send_error(400, "only absolute-form http:// targets are supported")
            return
        path = target.path or "/"
        if target.query:
            path += "?" + target.query
        upstream = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=10)
        try:
            forwarded = {k: v for k, v in headers if k.lower() not in _HOP_BY_HOP}
            try:
                upstream.request(self.command, path, body=body, headers=forwarded)
                answer = upstream.getresponse()
                payload = answer.read()
            except OSError as exc:
                self.send_error(502, f"upstream failed: {exc}")
                return
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        finally:
            upstream.close()

    do_GET = do_POST = _handle
