"""A fake Login with Amazon (LWA) token endpoint on ``127.0.0.1`` for tests.

It speaks the refresh-token grant the way ``https://api.amazon.com/auth/o2/token`` does: a
form-encoded POST with ``grant_type=refresh_token``, ``refresh_token``, ``client_id`` and
``client_secret``, answered with ``{"access_token", "token_type", "expires_in",
"refresh_token"}``. Every answer hands out a new access token (``Atza|token-1``,
``Atza|token-2``...), so tests can tell which fetch a request's token came from.

Tests can make the next N requests fail (400 ``invalid_grant``, 401 ``invalid_client``, 5xx), delay
every answer, and inspect how many token requests arrived and whether each one was well formed.
"""

from __future__ import annotations

import collections
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Deque, Dict, List, Optional, Tuple
from urllib.parse import parse_qs

from py_sp_api.runtime.auth import LwaCredentials, LwaTokenProvider
from tests.support.background import BackgroundServer, LocalHTTPServer

TOKEN_PATH = "/auth/o2/token"

CLIENT_ID = "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef"
CLIENT_SECRET = "amzn1.oa2-cs.v1.CLIENT-SECRET-d6c4e1f0a9b8"
REFRESH_TOKEN = "Atzr|IwEBIREFRESH-TOKEN-SECRET-7f3a9c2e51"

INVALID_GRANT_DESCRIPTION = "The request has an invalid grant parameter : refresh_token"
INVALID_CLIENT_DESCRIPTION = "Client authentication failed"


@dataclass(frozen=True)
class TokenRequest:
    """One request received by the fake LWA endpoint."""

    method: str
    path: str
    content_type: str
    form: Dict[str, List[str]]
    headers: Tuple[Tuple[str, str], ...]


@dataclass(frozen=True)
class _Failure:
    status: int
    body: Dict[str, str]


class FakeLwa:
    """A recording LWA token endpoint. Use as a context manager or call start()/stop().

    Args:
        expires_in: the ``expires_in`` handed out with every token, in seconds.
        delay: seconds to wait before answering each request (widens race windows).
        token_prefix: access tokens are ``token_prefix + n`` for the n-th token handed out.
    """

    def __init__(
        self,
        *,
        expires_in: int = 3600,
        delay: float = 0.0,
        token_prefix: str = "Atza|token-",
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        refresh_token: str = REFRESH_TOKEN,
    ) -> None:
        self.expires_in = expires_in
        self.delay = delay
        self.token_prefix = token_prefix
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self._lock = threading.Lock()
        self._requests: List[TokenRequest] = []
        self._issued: List[str] = []
        self._problems: List[str] = []
        self._failures: Deque[_Failure] = collections.deque()
        self._stopping = threading.Event()
        self._server: Optional[BackgroundServer] = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeLwa:
        owner = self

        class Handler(_LwaHandler):
            lwa = owner

        self._server = BackgroundServer(LocalHTTPServer(Handler), name="fake-lwa")
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> FakeLwa:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "fake LWA not started"
        return self._server.port

    @property
    def url(self) -> str:
        """The token endpoint, e.g. ``http://127.0.0.1:PORT/auth/o2/token``."""
        return f"http://127.0.0.1:{self.port}{TOKEN_PATH}"

    # -- what the client needs -------------------------------------------------------------
    def credentials(self) -> LwaCredentials:
        """Credentials this endpoint accepts, pointed at it."""
        return LwaCredentials(
            self.client_id, self.client_secret, self.refresh_token, endpoint=self.url
        )

    def provider(self, **kwargs: Any) -> LwaTokenProvider:
        """An :class:`LwaTokenProvider` for :meth:`credentials` (kwargs go to its constructor)."""
        return LwaTokenProvider(self.credentials(), **kwargs)

    # -- scripting -------------------------------------------------------------------------
    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 400,
        error: str = "invalid_grant",
        description: Optional[str] = INVALID_GRANT_DESCRIPTION,
    ) -> None:
        """Answer the next ``count`` token requests with ``status`` and an LWA error body."""
        body = {"error": error}
        if description is not None:
            body["error_description"] = description
        with self._lock:
            self._failures.extend(_Failure(status, body) for _ in range(count))

    def invalid_grant(self, count: int = 1) -> None:
        self.fail_next(count, status=400, error="invalid_grant")

    def invalid_client(self, count: int = 1) -> None:
        self.fail_next(
            count, status=401, error="invalid_client", description=INVALID_CLIENT_DESCRIPTION
        )

    def server_error(self, count: int = 1, status: int = 500) -> None:
        self.fail_next(
            count, status=status, error="server_error", description="Internal server error"
        )

    # -- inspection ------------------------------------------------------------------------
    @property
    def token_requests(self) -> int:
        """Every request received (successful or not)."""
        with self._lock:
            return len(self._requests)

    @property
    def requests(self) -> List[TokenRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def issued(self) -> List[str]:
        """The access tokens handed out, in order."""
        with self._lock:
            return list(self._issued)

    @property
    def problems(self) -> List[str]:
        """Malformed token requests (wrong method, path, content type or form fields)."""
        with self._lock:
            return list(self._problems)

    def secrets(self) -> List[str]:
        """Everything that must never be shown: client secret, refresh token, issued tokens."""
        return [self.client_secret, self.refresh_token, *self.issued]

    # -- called by the handler -------------------------------------------------------------
    def _record(self, request: TokenRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _answer(self, request: TokenRequest) -> Tuple[int, Dict[str, Any]]:
        with self._lock:
            problem = self._validate(request)
            if problem is not None:
                self._problems.append(problem)
                return 400, {"error": "invalid_request", "error_description": problem}
            form = {name: values[0] for name, values in request.form.items()}
            if form["client_id"] != self.client_id or form["client_secret"] != self.client_secret:
                return 401, {"error": "invalid_client", "error_description": "unknown client"}
            if form["refresh_token"] != self.refresh_token:
                return 400, {"error": "invalid_grant", "error_description": "bad refresh token"}
            if self._failures:
                failure = self._failures.popleft()
                return failure.status, dict(failure.body)
            token = f"{self.token_prefix}{len(self._issued) + 1}"
            self._issued.append(token)
            return 200, {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.expires_in,
                "refresh_token": self.refresh_token,
            }

    @staticmethod
    def _validate(request: TokenRequest) -> Optional[str]:
        if request.method != "POST":
            return f"method {request.method} is not POST"
        if request.path != TOKEN_PATH:
            return f"path {request.path!r} is not {TOKEN_PATH!r}"
        media_type = request.content_type.split(";", 1)[0].strip().lower()
        if media_type != "application/x-www-form-urlencoded":
            return f"content type {request.content_type!r} is not form-encoded"
        expected = {"grant_type", "refresh_token", "client_id", "client_secret"}
        if set(request.form) != expected:
            return f"form fields {sorted(request.form)} are not {sorted(expected)}"
        if any(len(values) != 1 for values in request.form.values()):
            return "a form field was repeated"
        if request.form["grant_type"] != ["refresh_token"]:
            return f"grant_type {request.form['grant_type']!r} is not refresh_token"
        return None


class _LwaHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    lwa: FakeLwa

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        if "://" in path:  # absolute form, as sent through a proxy
            path = "/" + path.split("://", 1)[1].split("/", 1)[-1]
        request = TokenRequest(
            method=self.command,
            path=path,
            content_type=self.headers.get("Content-Type", ""),
            form=parse_qs(raw.decode("ascii", errors="replace"), keep_blank_values=True),
            headers=tuple(self.headers.items()),
        )
        self.lwa._record(request)
        if self.lwa.delay and self.lwa._stopping.wait(self.lwa.delay):
            self.close_connection = True
            return
        status, document = self.lwa._answer(request)
        payload = json.dumps(document).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            # The client gave up waiting (a timeout test); nothing to answer.
            self.close_connection = True

    do_GET = do_POST = do_PUT = _handle
