"""Event hooks: what happens inside a call, for an operator's own metrics, logs or alerts.

Pass ``Configuration(hooks=Hooks(on_response=..., on_retry=...))``; each hook receives one
frozen event object. Hooks run on the thread that makes the call, synchronously, so they must
be quick and safe to call from many threads at once. A hook that raises is logged once (per
hook, not per call) on the ``py_sp_api.hooks`` logger and never changes the call.

No event carries a secret: no access token, client secret or refresh token, and URLs have
``user:password@`` and credential-like query values removed.

The pipeline reports to a :class:`Telemetry` (hooks and OpenTelemetry are two of them): it asks
for a :class:`CallObserver` per call and tells it what happens. With neither configured, no
observer exists and the pipeline only checks for ``None``.
"""

from __future__ import annotations

import inspect
import logging
import re
import time
from dataclasses import dataclass, field, fields
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Set,
    Tuple,
)

import urllib3

from py_sp_api.runtime.exceptions import (
    ApiConnectionError,
    ApiTypeError,
    DuplicateSendError,
)
from py_sp_api.runtime.headers import RATE_LIMIT_HEADER, REQUEST_ID_HEADER

if TYPE_CHECKING:
    from py_sp_api.runtime.api_client import ApiClient
    from py_sp_api.runtime.auth import HttpSender
    from py_sp_api.runtime.configuration import TimeoutValue
    from py_sp_api.runtime.operation import Operation, PreparedRequest

__all__ = [
    "AttemptHook",
    "JournalHook",
    "ResponseHook",
    "RetryHook",
    "TokenHook",
    "WaitHook",
    "combined",
    "send_observed",
    "AttemptStarted",
    "CallObserver",
    "Hooks",
    "JournalTransition",
    "RateLimitWaited",
    "ResponseReceived",
    "RetryScheduled",
    "Telemetry",
    "TokenRefreshed",
    "safe_url",
]

_log = logging.getLogger("py_sp_api.hooks")


class _Event:
    """Pickled and copied through the constructor: a frozen dataclass with ``__slots__``
    cannot have its fields set back one by one (a hook may send events to another process)."""

    __slots__ = ()

    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]:
        values = tuple(getattr(self, item.name) for item in fields(self))  # type: ignore[arg-type]
        return type(self), values


@dataclass(frozen=True)
class AttemptStarted(_Event):
    """A request is about to leave (``attempt`` counts from 1; a resend is attempt 2...)."""

    __slots__ = ("api", "attempt", "method", "operation", "url")
    api: str
    """The API the operation belongs to, e.g. ``"messaging"``."""
    operation: str
    """Amazon's operation id, e.g. ``"createConfirmOrderDetails"``."""
    method: str
    url: str
    """The full URL, without credentials (see :func:`safe_url`)."""
    attempt: int


@dataclass(frozen=True)
class ResponseReceived(_Event):
    """Amazon answered one attempt (any status, 2xx or not)."""

    __slots__ = (
        "api",
        "attempt",
        "duration",
        "method",
        "operation",
        "rate_limit",
        "request_id",
        "status",
        "url",
    )
    api: str
    operation: str
    method: str
    url: str
    attempt: int
    status: int
    request_id: Optional[str]
    """``x-amzn-RequestId``: what Amazon's support asks for."""
    rate_limit: Optional[str]
    """``x-amzn-RateLimit-Limit`` as sent (requests per second), or ``None``."""
    duration: float
    """Seconds from sending the request to having the status line and headers."""


@dataclass(frozen=True)
class RetryScheduled(_Event):
    """Attempt ``attempt`` failed and the call will try again after ``delay`` seconds."""

    __slots__ = ("api", "attempt", "delay", "operation", "reason", "status")
    api: str
    operation: str
    attempt: int
    reason: str
    """Why: ``"HTTP 429"``, ``"HTTP 503"``, ``"access token expired"``, or a connection error."""
    status: Optional[int]
    """The refused attempt's status, ``None`` when no answer came."""
    delay: float


@dataclass(frozen=True)
class RateLimitWaited(_Event):
    """The client waited ``seconds`` for the operation's usage plan before an attempt."""

    __slots__ = ("api", "attempt", "operation", "seconds")
    api: str
    operation: str
    attempt: int
    seconds: float


@dataclass(frozen=True)
class TokenRefreshed(_Event):
    """One request to the LWA token endpoint (for a new access token) finished.

    It is reported to the call that made it, before that call's next step (not while the
    token provider holds its lock); calls waiting for that token see no event.
    """

    __slots__ = ("api", "duration", "endpoint", "error", "operation", "status")
    api: str
    operation: str
    """The call that needed the token."""
    endpoint: str
    """The token endpoint, without credentials."""
    status: Optional[int]
    """LWA's answer (200 when a token came), ``None`` when it could not be reached."""
    error: Optional[str]
    """The error's type when no answer came (``"ApiTimeoutError"``), else ``None``."""
    duration: float


@dataclass(frozen=True)
class JournalTransition(_Event):
    """The send journal changed (or refused) a message's entry.

    ``state`` is ``"claimed"`` (about to send), then ``"sent"``, ``"rejected"``, ``"unknown"``
    (Amazon may or may not have delivered it) or ``"released"`` (nothing left the process);
    ``"duplicate"`` when the key was already taken and nothing was sent.
    """

    __slots__ = ("api", "key", "operation", "request_id", "state", "status")
    api: str
    operation: str
    key: str
    """The entry's key, as the journal stores it (seller, marketplace, order, operation)."""
    state: str
    status: Optional[int]
    request_id: Optional[str]


AttemptHook = Callable[[AttemptStarted], None]
ResponseHook = Callable[[ResponseReceived], None]
RetryHook = Callable[[RetryScheduled], None]
WaitHook = Callable[[RateLimitWaited], None]
TokenHook = Callable[[TokenRefreshed], None]
JournalHook = Callable[[JournalTransition], None]

_HOOK_NAMES = (
    "on_attempt",
    "on_response",
    "on_retry",
    "on_rate_limit_wait",
    "on_token_refresh",
    "on_journal",
)


class CallObserver:
    """Watches one call. The pipeline calls these on the calling thread; none may raise.

    Every method does nothing here: an observer overrides what it needs.
    """

    __slots__ = ()

    def attempt(self, attempt: int, waited: float) -> None:
        """Attempt ``attempt`` is about to be sent, after a rate-limit wait of ``waited`` s."""

    def rate_limit_wait(self, attempt: int, seconds: float) -> None:
        """A rate-limit wait not reported by :meth:`attempt` (a journaled call's first)."""

    def answered(
        self, attempt: int, status: int, headers: Mapping[str, str], seconds: float
    ) -> None:
        """Attempt ``attempt`` got an answer after ``seconds``."""

    def no_answer(self, attempt: int, error: BaseException, seconds: float) -> None:
        """Attempt ``attempt`` got no answer (a connection error or timeout)."""

    def transport_failure(self, attempt: int, error: ApiConnectionError, seconds: float) -> None:
        """Attempt ``attempt`` failed in transport: no answer, or one whose body was cut off."""
        status = error.answered_status
        if status is None:
            self.no_answer(attempt, error, seconds)
            return
        # The status line came (a 2xx: the message was sent): that is an answer.
        request_id = error.request_id
        self.answered(
            attempt, status, {REQUEST_ID_HEADER: request_id} if request_id else {}, seconds
        )

    def retrying(self, attempt: int, reason: str, status: Optional[int], delay: float) -> None:
        """The call sends again after ``delay`` seconds."""

    def token_request(
        self, endpoint: str, status: Optional[int], error: Optional[str], seconds: float
    ) -> None:
        """One request to the LWA token endpoint (``endpoint``, without credentials) finished."""

    def journal(
        self, key: str, state: str, status: Optional[int], request_id: Optional[str]
    ) -> None:
        """The send journal recorded ``state`` for ``key``."""

    def finished(self, status: Optional[int], error: Optional[BaseException]) -> None:
        """The call ended with the final answer's ``status``, or raised ``error``."""

    def journal_failure(self, key: str, state: str, error: BaseException) -> None:
        """The journal recorded ``state`` for a call that raised ``error``."""
        from py_sp_api.runtime.journal import _answered_status  # loaded: a journal is in use

        request_id = getattr(error, "request_id", None)
        request_id = request_id if isinstance(request_id, str) else None
        self.journal(key, state, _answered_status(error), request_id)

    def token_sender(self, sender: HttpSender) -> HttpSender:
        """The transport for the token provider, reporting each token request here."""
        return _ObservedTokenSender(sender, self)


class Telemetry(Protocol):
    """Something that observes calls: :class:`Hooks`, ``OpenTelemetry``, or your own."""

    def start_call(self, operation: Operation[Any], method: str, url: str) -> CallObserver:
        """A fresh observer for one call of ``operation``; ``url`` may hold credentials."""
        ...


@dataclass(frozen=True)
class Hooks:
    """Callables that receive the events of every call. Each is optional.

    Args:
        on_attempt: :class:`AttemptStarted`, before each request leaves.
        on_response: :class:`ResponseReceived`, after each answer (any status).
        on_retry: :class:`RetryScheduled`, when a failed attempt will be sent again.
        on_rate_limit_wait: :class:`RateLimitWaited`, after waiting for the usage plan.
        on_token_refresh: :class:`TokenRefreshed`, after each request for an access token.
        on_journal: :class:`JournalTransition`, when a send journal is configured.
    """

    on_attempt: Optional[AttemptHook] = None
    on_response: Optional[ResponseHook] = None
    on_retry: Optional[RetryHook] = None
    on_rate_limit_wait: Optional[WaitHook] = None
    on_token_refresh: Optional[TokenHook] = None
    on_journal: Optional[JournalHook] = None
    _failed: Set[str] = field(default_factory=set, init=False, repr=False, compare=False)
    """The hooks that raised (each is logged once)."""

    def __post_init__(self) -> None:
        for name in _HOOK_NAMES:
            hook = getattr(self, name)
            if hook is not None and not callable(hook):
                raise ApiTypeError(f"Hooks.{name} must be a callable, got {type(hook).__name__}")
            if inspect.iscoroutinefunction(hook):
                raise ApiTypeError(
                    f"Hooks.{name} is an async function: hooks are called, never awaited, so it "
                    "would never run; pass a plain function (it may hand the event to a queue)"
                )

    @property
    def active(self) -> bool:
        """Whether at least one hook is set (with none, calls are not observed at all)."""
        return any(getattr(self, name) is not None for name in _HOOK_NAMES)

    def start_call(self, operation: Operation[Any], method: str, url: str) -> CallObserver:
        return _HookCall(self, operation, method, url)


def _deliver(hooks: Hooks, name: str, hook: Callable[[Any], None], event: object) -> None:
    try:
        hook(event)
    except Exception:
        # Logged the first time only: a hook failing on every call must not flood the log.
        # Without a lock: at worst two threads failing at once both log it.
        failed = hooks._failed
        if name in failed:
            return
        failed.add(name)
        _log.exception(
            "hook %s (%s) raised; the call goes on unaffected, and further errors of this hook "
            "are not logged",
            name,
            getattr(hook, "__qualname__", type(hook).__name__),
        )


class _HookCall(CallObserver):
    """Turns one call's steps into events for the hooks that are set."""

    __slots__ = ("api", "hooks", "method", "operation", "token_reports", "url")

    def __init__(self, hooks: Hooks, operation: Operation[Any], method: str, url: str) -> None:
        self.hooks = hooks
        self.api = operation.api
        self.operation = operation.operation_id
        self.method = method
        self.url = safe_url(url)
        self.token_reports: Optional[List[TokenRefreshed]] = None

    def attempt(self, attempt: int, waited: float) -> None:
        self._deliver_token_reports()
        if waited > 0:
            self.rate_limit_wait(attempt, waited)
        hook = self.hooks.on_attempt
        if hook is not None:
            event = AttemptStarted(self.api, self.operation, self.method, self.url, attempt)
            _deliver(self.hooks, "on_attempt", hook, event)

    def rate_limit_wait(self, attempt: int, seconds: float) -> None:
        hook = self.hooks.on_rate_limit_wait
        if hook is not None:
            event = RateLimitWaited(self.api, self.operation, attempt, seconds)
            _deliver(self.hooks, "on_rate_limit_wait", hook, event)

    def answered(
        self, attempt: int, status: int, headers: Mapping[str, str], seconds: float
    ) -> None:
        hook = self.hooks.on_response
        if hook is not None:
            event = ResponseReceived(
                self.api,
                self.operation,
                self.method,
                self.url,
                attempt,
                status,
                headers.get(REQUEST_ID_HEADER),
                headers.get(RATE_LIMIT_HEADER),
                seconds,
            )
            _deliver(self.hooks, "on_response", hook, event)

    def retrying(self, attempt: int, reason: str, status: Optional[int], delay: float) -> None:
        self._deliver_token_reports()
        hook = self.hooks.on_retry
        if hook is not None:
            event = RetryScheduled(self.api, self.operation, attempt, reason, status, delay)
            _deliver(self.hooks, "on_retry", hook, event)

    def token_request(
        self, endpoint: str, status: Optional[int], error: Optional[str], seconds: float
    ) -> None:
        if self.hooks.on_token_refresh is not None:
            # Delivered at the call's next step: the token provider holds its lock now, and a
            # hook that called the API (needing the token) would wait for it forever.
            event = TokenRefreshed(self.api, self.operation, endpoint, status, error, seconds)
            if self.token_reports is None:
                self.token_reports = [event]
            else:
                self.token_reports.append(event)

    def _deliver_token_reports(self) -> None:
        reports, hook = self.token_reports, self.hooks.on_token_refresh
        if reports is None or hook is None:
            return
        self.token_reports = None
        for event in reports:
            _deliver(self.hooks, "on_token_refresh", hook, event)

    def journal(
        self, key: str, state: str, status: Optional[int], request_id: Optional[str]
    ) -> None:
        self._deliver_token_reports()
        hook = self.hooks.on_journal
        if hook is not None:
            event = JournalTransition(self.api, self.operation, key, state, status, request_id)
            _deliver(self.hooks, "on_journal", hook, event)

    def finished(self, status: Optional[int], error: Optional[BaseException]) -> None:
        self._deliver_token_reports()
        if isinstance(error, DuplicateSendError):
            key = getattr(error.entry, "key", "")
            self.journal(key, "duplicate", None, getattr(error.entry, "request_id", None))


class _Together(CallObserver):
    """Several observers of one call (hooks and OpenTelemetry), told the same things."""

    __slots__ = ("observers",)

    def __init__(self, observers: Tuple[CallObserver, ...]) -> None:
        self.observers = observers

    def attempt(self, attempt: int, waited: float) -> None:
        for observer in self.observers:
            observer.attempt(attempt, waited)

    def rate_limit_wait(self, attempt: int, seconds: float) -> None:
        for observer in self.observers:
            observer.rate_limit_wait(attempt, seconds)

    def answered(
        self, attempt: int, status: int, headers: Mapping[str, str], seconds: float
    ) -> None:
        for observer in self.observers:
            observer.answered(attempt, status, headers, seconds)

    def no_answer(self, attempt: int, error: BaseException, seconds: float) -> None:
        for observer in self.observers:
            observer.no_answer(attempt, error, seconds)

    def retrying(self, attempt: int, reason: str, status: Optional[int], delay: float) -> None:
        for observer in self.observers:
            observer.retrying(attempt, reason, status, delay)

    def token_request(
        self, endpoint: str, status: Optional[int], error: Optional[str], seconds: float
    ) -> None:
        for observer in self.observers:
            observer.token_request(endpoint, status, error, seconds)

    def journal(
        self, key: str, state: str, status: Optional[int], request_id: Optional[str]
    ) -> None:
        for observer in self.observers:
            observer.journal(key, state, status, request_id)

    def finished(self, status: Optional[int], error: Optional[BaseException]) -> None:
        _finish_all(self.observers, status, error)


def _finish_all(
    observers: Tuple[CallObserver, ...], status: Optional[int], error: Optional[BaseException]
) -> None:
    # Each observer ends its call (a span, its current context) even when one before it is
    # interrupted (a hook's KeyboardInterrupt propagates).
    if not observers:
        return
    try:
        observers[0].finished(status, error)
    finally:
        _finish_all(observers[1:], status, error)


class _AllTelemetry:
    """Several telemetries as one: each call gets an observer from each."""

    __slots__ = ("telemetries",)

    def __init__(self, telemetries: Tuple[Telemetry, ...]) -> None:
        self.telemetries = telemetries

    def start_call(self, operation: Operation[Any], method: str, url: str) -> CallObserver:
        return _Together(tuple(t.start_call(operation, method, url) for t in self.telemetries))


def combined(hooks: Optional[Hooks], telemetry: Optional[Telemetry]) -> Optional[Telemetry]:
    """What observes the calls of a configuration: ``None`` when nothing would (no cost)."""
    parts: List[Telemetry] = []
    if hooks is not None and hooks.active:
        parts.append(hooks)
    if telemetry is not None:
        parts.append(telemetry)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else _AllTelemetry(tuple(parts))


class _ObservedTokenSender:
    """The transport as the token provider sees it, reporting each token request.

    Only the status, timing and error type are reported: never the request body (it holds
    the refresh token and client secret) nor the answer (it holds the access token).
    """

    __slots__ = ("_observer", "_sender")

    def __init__(self, sender: Any, observer: CallObserver) -> None:
        self._sender = sender
        self._observer = observer

    def request(
        self,
        method: str,
        url: str,
        headers: Optional[Mapping[str, str]] = None,
        body: Optional[bytes] = None,
        timeout: Optional[urllib3.Timeout] = None,
        preload_content: bool = True,
    ) -> urllib3.BaseHTTPResponse:
        endpoint = safe_url(url)
        started = time.monotonic()
        try:
            response: urllib3.BaseHTTPResponse = self._sender.request(
                method, url, headers, body, timeout, preload_content
            )
        except Exception as exc:
            elapsed = time.monotonic() - started
            self._observer.token_request(endpoint, None, type(exc).__name__, elapsed)
            raise
        elapsed = time.monotonic() - started
        self._observer.token_request(endpoint, response.status, None, elapsed)
        return response


def send_observed(
    client: ApiClient,
    telemetry: Telemetry,
    operation: Operation[Any],
    args: Sequence[Any],
    request: PreparedRequest,
    timeout: TimeoutValue,
    headers: Optional[Mapping[str, str]],
    send_key: Optional[str],
    preload_content: bool,
) -> Tuple[urllib3.BaseHTTPResponse, int]:
    """The client's send (journaled for a POST when a journal is configured), observed."""
    config = client.configuration
    observer = telemetry.start_call(operation, request[0], config.host + request[1])
    try:
        response, attempts = client._send_call(
            operation, args, request, timeout, headers, send_key, preload_content, observer
        )
    except BaseException as exc:
        observer.finished(None, exc)
        raise
    observer.finished(response.status, None)
    return response, attempts


# A query parameter whose name says it carries a credential (SP-API's queries carry none; a
# proxy or a custom operation might); "sig" and "AWSAccessKeyId" are named by OpenTelemetry's
# url.full convention.
_CREDENTIAL_NAME = re.compile(
    r"token|secret|password|passwd|signature|credential|auth|api[-_]?key|access[-_]?key|session"
    r"|\Asig\Z",
    re.IGNORECASE,
)


def safe_url(url: str) -> str:
    """``url`` with any ``user:password@`` and credential-like query values ``REDACTED``.

    The spelling is OpenTelemetry's (``https://REDACTED:REDACTED@host/...?token=REDACTED``).
    """
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        url = f"{scheme}{sep}REDACTED:REDACTED@{authority.rsplit('@', 1)[1]}{slash}{path}"
    base, question, query = url.partition("?")
    if not question:
        return url
    query, hash_sign, fragment = query.partition("#")
    pairs = []
    for pair in query.split("&"):
        name, equals, _ = pair.partition("=")
        pairs.append(f"{name}=REDACTED" if equals and _CREDENTIAL_NAME.search(name) else pair)
    return f"{base}?{'&'.join(pairs)}{hash_sign}{fragment}"
