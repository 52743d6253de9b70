"""Login with Amazon (LWA): access tokens for SP-API calls.

A token is fetched on first use, cached until shortly before it expires, and refreshed by one
thread while the others wait for it. Secrets never appear in a repr, a log line or an error.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import math
import os
import threading
import time
from types import ModuleType
from typing import Any, Callable, Mapping, Optional, Protocol, Tuple, Union
from urllib.parse import urlencode

import urllib3

from py_sp_api.runtime.docs_links import doc_url
from py_sp_api.runtime.exceptions import (
    ApiConnectionError,
    ApiResponseTooLargeError,
    ApiValueError,
    LwaAuthError as LwaAuthError,
)
from py_sp_api.runtime.forksafe import reinit_after_fork
from py_sp_api.runtime.headers import ACCEPT_HEADER, CONTENT_TYPE_HEADER
from py_sp_api.runtime.retry import RetryPolicy
from py_sp_api.runtime.transport_security import require_secure_url

_log = logging.getLogger("py_sp_api.auth")

DEFAULT_LWA_ENDPOINT = "https://api.amazon.com/auth/o2/token"
DEFAULT_TOKEN_LIFETIME = 3600.0  # seconds: LWA's documented lifetime, when it omits expires_in
ENV_CLIENT_ID = "LWA_CLIENT_ID"
ENV_CLIENT_SECRET = "LWA_CLIENT_SECRET"  # noqa: S105 - a variable name, not a secret
ENV_REFRESH_TOKEN = "LWA_REFRESH_TOKEN"  # noqa: S105


class SecretStr(str):
    """A str whose repr is ``'***'``.

    Tokens travel as this type, so an error reporter that records local variables (Sentry
    does by default) or a repr of a header dict shows ``'***'`` instead of the token.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


class SecretBytes(bytes):
    """Bytes whose repr is ``b'***'`` (the LWA request body carries the refresh token)."""

    def __repr__(self) -> str:
        return "b'***'"


def _checked_token(token: object, source: str) -> SecretStr:
    """``token`` as a :class:`SecretStr`, if a header can carry it; never echoes the value."""
    if not isinstance(token, str) or not token.strip():
        raise LwaAuthError(f"{source} gave no access token")
    token = token.strip()
    if not (token.isascii() and token.isprintable()):
        # http.client would refuse it with an error that quotes the whole token.
        raise LwaAuthError(
            f"{source} gave an access token with characters an HTTP header cannot carry "
            "(a line break or a control character); nothing was sent"
        )
    return SecretStr(token)


class HttpSender(Protocol):
    """The slice of the transport the token fetch needs (the API client's own pool)."""

    def request(
        self,
        method: str,
        url: str,
        headers: Optional[Mapping[str, str]] = None,
        body: Optional[bytes] = None,
        timeout: Optional[urllib3.Timeout] = None,
        preload_content: bool = True,
    ) -> urllib3.BaseHTTPResponse: ...


class LwaCredentials:
    """An LWA application's client id and secret, and a seller's refresh token.

    ``repr()`` and ``str()`` show only the client id; the secret and the refresh token stay
    private. Use :meth:`from_env` to read ``LWA_CLIENT_ID``, ``LWA_CLIENT_SECRET`` and
    ``LWA_REFRESH_TOKEN``.
    """

    __slots__ = ("_client_secret", "_identity", "_refresh_token", "client_id", "endpoint")

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        *,
        endpoint: str = DEFAULT_LWA_ENDPOINT,
    ) -> None:
        for name, value in (
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("refresh_token", refresh_token),
        ):
            if not isinstance(value, str) or not value.strip():
                raise ApiValueError(f"LWA {name} must be a non-empty str")
        self.client_id = client_id.strip()
        self._client_secret = client_secret.strip()
        self._refresh_token = refresh_token.strip()
        self.endpoint = require_secure_url(endpoint, what="the LWA endpoint")
        seller = f"{self.client_id}\0{self._refresh_token}".encode()
        self._identity = f"lwa:{hashlib.sha256(seller).hexdigest()[:16]}"

    @classmethod
    def from_env(
        cls, environ: Optional[Mapping[str, str]] = None, *, endpoint: Optional[str] = None
    ) -> LwaCredentials:
        """Read the three ``LWA_*`` variables; a clear error names any that are missing."""
        env = os.environ if environ is None else environ
        names = (ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_REFRESH_TOKEN)
        missing = [name for name in names if not env.get(name, "").strip()]
        if missing:
            raise ApiValueError(
                f"missing environment variable(s): {', '.join(missing)}. Where each value comes "
                f"from (an application, the Buyer Communication role, a refresh token per "
                f"region): {doc_url('first-live-call.md')}"
            )
        return cls(
            env[ENV_CLIENT_ID],
            env[ENV_CLIENT_SECRET],
            env[ENV_REFRESH_TOKEN],
            endpoint=endpoint or env.get("LWA_ENDPOINT") or DEFAULT_LWA_ENDPOINT,
        )

    @staticmethod
    def available_in_env(environ: Optional[Mapping[str, str]] = None) -> bool:
        env = os.environ if environ is None else environ
        names = (ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_REFRESH_TOKEN)
        return all(env.get(name, "").strip() for name in names)

    @property
    def identity(self) -> str:
        """A stable, non-reversible name for this seller + application (for rate limits)."""
        return self._identity

    def token_request_body(self) -> bytes:
        return SecretBytes(
            urlencode(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": self._refresh_token,
                    "client_id": self.client_id,
                    "client_secret": self._client_secret,
                }
            ).encode("ascii")
        )

    def __repr__(self) -> str:
        return f"LwaCredentials(client_id={self.client_id!r}, client_secret=***, refresh_token=***)"

    __str__ = __repr__

    def __reduce__(self) -> Tuple[object, ...]:
        raise TypeError("LwaCredentials cannot be pickled: it holds secrets")


class TokenProvider(Protocol):
    """Supplies the ``x-amz-access-token`` for each request."""

    @property
    def identity(self) -> str:
        """A non-secret name of the seller credential, keying rate-limit buckets."""
        ...

    def get_token(self, http: HttpSender) -> str: ...

    def invalidate(self, token: str) -> bool:
        """Forget ``token`` after the server said it expired; True if a fresh one can come."""
        ...


class StaticTokenProvider:
    """A fixed access token (managed elsewhere, or a Restricted Data Token)."""

    def __init__(self, token: str, *, identity: Optional[str] = None) -> None:
        try:
            self._token = _checked_token(token, "access_token")
        except LwaAuthError as exc:
            raise ApiValueError(str(exc)) from None
        digest = hashlib.sha256(self._token.encode()).hexdigest()[:16]
        self._identity = identity or f"token:{digest}"
        # A token rotates (hourly for LWA's): only a name the caller gave outlives it.
        self.stable_identity = identity is not None

    @property
    def identity(self) -> str:
        return self._identity

    def get_token(self, http: HttpSender) -> str:
        return self._token

    def invalidate(self, token: str) -> bool:
        return False

    def __repr__(self) -> str:
        return f"StaticTokenProvider(identity={self._identity!r}, token=***)"


class CallableTokenProvider:
    """Calls ``fetch()`` for a token before every request; it should cache what it returns.

    Its rate-limit identity (whose buckets its calls use) is ``identity`` when given. Otherwise
    it names the callable within this process, so that a callable built afresh for the same
    seller is the same seller: a bound method such as ``cache.current`` by its object and
    method; a ``functools.partial`` by its function and arguments; a function or lambda by its
    code and what its closure and defaults hold; any other callable by the object itself. Give
    ``identity`` to share buckets between processes, or when one callable serves several sellers.
    """

    def __init__(self, fetch: Callable[[], str], *, identity: Optional[str] = None) -> None:
        self._fetch = fetch
        self._identity = identity or _callable_identity(fetch)
        # Derived from objects of this process: not the same name in another process or host.
        self.stable_identity = identity is not None

    @property
    def identity(self) -> str:
        return self._identity

    def get_token(self, http: HttpSender) -> str:
        return _checked_token(self._fetch(), "the access-token callable")

    def invalidate(self, token: str) -> bool:
        # The callable may hand out a new token next time; the client resends only if it does.
        return True

    def __repr__(self) -> str:
        return f"CallableTokenProvider(identity={self._identity!r})"


def _callable_identity(fetch: Callable[[], str]) -> str:
    """A name for the seller behind ``fetch`` that equal callables share.

    Clients are often built per job, each with a fresh callable (``cache.current`` is a new
    bound-method object at every attribute access, a ``partial`` or a lambda is new each time
    it is built); all of them name the same seller, so they must share one bucket.
    """
    return "callable:" + hashlib.sha256(_seller_of(fetch).encode()).hexdigest()[:16]


def _seller_of(fetch: object) -> str:
    if isinstance(fetch, functools.partial):
        # The function, and the arguments that pick the seller (hashed: they may be secrets).
        keywords = sorted((name, _captured(v)) for name, v in fetch.keywords.items())
        return repr((_seller_of(fetch.func), [_captured(a) for a in fetch.args], keywords))
    owner = getattr(fetch, "__self__", None)
    if owner is not None and not isinstance(owner, ModuleType):
        # A bound method: the object and the method. The provider holds the method and so its
        # object: while it lives, no other object has that id.
        return f"{id(owner):x}.{getattr(fetch, '__qualname__', '')}"
    code = getattr(fetch, "__code__", None)
    if code is not None:
        # A function or lambda: its code, and what its closure captured or its defaults hold
        # (the seller's cache, or the seller's id), so a lambda built again for the same seller
        # is the same seller.
        cells = getattr(fetch, "__closure__", None) or ()
        captured = [_captured(_contents(cell)) for cell in cells]
        defaults = [_captured(v) for v in getattr(fetch, "__defaults__", None) or ()]
        return repr((id(code), captured, defaults))
    return f"{id(fetch):x}"


def _contents(cell: Any) -> object:
    try:
        return cell.cell_contents
    except ValueError:  # a cell not assigned yet
        return None


def _captured(value: object) -> str:
    # Plain values by value (the whole name is hashed: never shown), anything else by identity.
    if isinstance(value, (str, bytes, int, float, bool, type(None))):
        return repr(value)
    return f"object:{id(value):x}"


class LwaTokenProvider:
    """Exchanges a refresh token for access tokens, caching each until shortly before expiry.

    Args:
        credentials: the LWA application and seller.
        refresh_margin: seconds before ``expires_in`` at which a token counts as expired; a
            token is used for ``expires_in - refresh_margin`` seconds, and only for the call
            that fetched it when that is zero or less. An ``expires_in`` that is missing, zero,
            negative or not a number counts as LWA's documented 3600.
        timeout: timeout of each token request.
        max_attempts: token requests made when LWA answers 5xx or cannot be reached.
        backoff: first delay between those attempts (doubles, with jitter).
    """

    def __init__(
        self,
        credentials: LwaCredentials,
        *,
        refresh_margin: float = 60.0,
        timeout: urllib3.Timeout = urllib3.Timeout(connect=5.0, read=15.0),  # noqa: B008
        max_attempts: int = 3,
        backoff: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.credentials = credentials
        self.refresh_margin = _checked_margin(refresh_margin)
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self._backoff = RetryPolicy(max_attempts=self.max_attempts, initial_backoff=backoff)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # (token, monotonic expiry) in one tuple, so a reader never pairs one token with
        # another's expiry.
        self._cached: Optional[Tuple[SecretStr, float]] = None
        # The failure of the last fetch, and how many fetches have finished: threads that
        # waited for a fetch that failed get its error instead of each asking LWA again.
        self._failure: Optional[LwaAuthError] = None
        self._finished = 0
        reinit_after_fork(self)

    @property
    def identity(self) -> str:
        return self.credentials.identity

    def get_token(self, http: HttpSender) -> str:
        cached = self._cached
        if cached is not None and self._clock() < cached[1]:
            return cached[0]
        finished_before = self._finished
        # One thread fetches; the others block here and then find the fresh token (or the
        # error of the fetch that finished while they waited).
        with self._lock:
            cached = self._cached
            if cached is not None and self._clock() < cached[1]:
                return cached[0]
            failure = self._failure
            if self._finished != finished_before and failure is not None:
                shared = copy.copy(failure)  # each thread its own traceback
                raise shared.with_traceback(None) from failure.__cause__
            try:
                token, lifetime = self._fetch(http)
            except LwaAuthError as exc:
                self._failure = exc
                raise
            finally:
                self._finished += 1
            self._failure = None
            # A token with no life left past the margin still serves the call it was fetched
            # for (no loop), and the next call fetches another.
            self._cached = (token, self._clock() + lifetime - self.refresh_margin)
            return token

    def invalidate(self, token: str) -> bool:
        with self._lock:
            if self._cached is not None and self._cached[0] == token:
                self._cached = None
        return True

    def _reinit_after_fork(self) -> None:
        # Another thread of the parent may have been fetching, holding the lock, at the fork;
        # it does not exist here to release it. The cached token stays: same seller, still valid.
        self._lock = threading.Lock()

    def _fetch(self, http: HttpSender) -> Tuple[SecretStr, float]:
        body = self.credentials.token_request_body()
        headers = {
            CONTENT_TYPE_HEADER: "application/x-www-form-urlencoded;charset=UTF-8",
            ACCEPT_HEADER: "application/json",
        }
        endpoint = self.credentials.endpoint
        last_error: Union[LwaAuthError, None] = None
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                delay = self._backoff.delay(attempt - 1)
                _log.debug("retrying the LWA token request in %.2fs (attempt %d)", delay, attempt)
                self._sleep(delay)
            try:
                response = http.request(
                    "POST", endpoint, headers=headers, body=body, timeout=self.timeout
                )
            except ApiConnectionError as exc:
                last_error = LwaAuthError(
                    f"could not reach the LWA endpoint: {exc}", attempts=attempt
                )
                last_error.__cause__ = exc
                continue
            except ApiResponseTooLargeError as exc:
                raise LwaAuthError(
                    f"LWA answered {exc.status} with a body larger than max_response_bytes "
                    f"({exc.limit} bytes)",
                    status=exc.status,
                    attempts=attempt,
                ) from exc
            _log.debug("LWA token request -> %s (attempt %d)", response.status, attempt)
            if response.status >= 500:
                last_error = _lwa_error(response, attempt)
                continue
            if response.status != 200:
                # invalid_grant, invalid_client...: retrying cannot help.
                raise _lwa_error(response, attempt)
            return _parse_token(response, attempt)
        assert last_error is not None
        last_error.attempts = self.max_attempts
        raise last_error

    def __repr__(self) -> str:
        return f"LwaTokenProvider(credentials={self.credentials!r})"


def _lwa_error(response: urllib3.BaseHTTPResponse, attempts: int) -> LwaAuthError:
    error = description = None
    try:
        document = json.loads(response.data)
        if isinstance(document, dict):
            error = _str_or_none(document.get("error"))
            description = _str_or_none(document.get("error_description"))
    except ValueError:
        pass
    message = f"LWA answered {response.status}"
    if error:
        message += f": {error}"
    if description:
        message += f" ({description})"
    if attempts > 1:
        message += f" after {attempts} attempts"
    return LwaAuthError(
        message,
        error=error,
        error_description=description,
        status=response.status,
        attempts=attempts,
    )


def _parse_token(response: urllib3.BaseHTTPResponse, attempts: int) -> Tuple[SecretStr, float]:
    try:
        document = json.loads(response.data)
        token = document["access_token"]
        lifetime = float(document.get("expires_in", DEFAULT_TOKEN_LIFETIME))
    except (ValueError, KeyError, TypeError):
        raise LwaAuthError(
            "LWA answered 200 without a usable access_token", status=200, attempts=attempts
        ) from None
    if not math.isfinite(lifetime) or lifetime <= 0:
        # Nonsense from LWA must not mean a token request per call; if the token does expire
        # sooner, Amazon's "expired" answer gets one refresh and resend.
        lifetime = DEFAULT_TOKEN_LIFETIME
    try:
        return _checked_token(token, "LWA"), lifetime
    except LwaAuthError as exc:
        exc.status, exc.attempts = 200, attempts
        raise


def _checked_margin(margin: object) -> float:
    if isinstance(margin, bool) or not isinstance(margin, (int, float)):
        raise ApiValueError(f"refresh_margin must be a number of seconds, got {margin!r}")
    if not math.isfinite(margin) or margin < 0:
        raise ApiValueError(f"refresh_margin must be 0 or more seconds, got {margin!r}")
    return float(margin)


def _str_or_none(value: object) -> Optional[str]:
    return value if isinstance(value, str) and value else None


__all__ = [
    "CallableTokenProvider",
    "DEFAULT_LWA_ENDPOINT",
    "DEFAULT_TOKEN_LIFETIME",
    "ENV_CLIENT_ID",
    "ENV_CLIENT_SECRET",
    "ENV_REFRESH_TOKEN",
    "HttpSender",
    "LwaCredentials",
    "LwaTokenProvider",
    "SecretBytes",
    "SecretStr",
    "StaticTokenProvider",
    "TokenProvider",
]
