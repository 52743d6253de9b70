"""The API client: turns an :class:`Operation` and arguments into a typed result."""

from __future__ import annotations

import io
import logging
import re
import time
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    cast,
)

import urllib3
from pydantic_core import ValidationError

from py_sp_api.runtime.api_response import ApiResponse
from py_sp_api.runtime.configuration import Configuration, TimeoutValue, to_urllib3_timeout
from py_sp_api.runtime.docs_links import doc_url
from py_sp_api.runtime.exceptions import (
    ApiConnectionError,
    ApiException,
    ApiResponseError,
    ApiResponseTooLargeError,
    ApiValueError,
    OpenApiException,
    _exception_class_for_status,
    _parse_errors,
    _try_json,
)
from py_sp_api.runtime.headers import (
    ACCEPT_HEADER,
    ACCESS_TOKEN_HEADER,
    CONTENT_ENCODING_HEADER,
    CONTENT_TYPE_HEADER,
    RATE_LIMIT_HEADER,
    REQUEST_ID_HEADER,
    USER_AGENT_HEADER,
    DefaultHeaders,
    merge_call_headers,
)
from py_sp_api.runtime.operation import Operation, PreparedRequest
from py_sp_api.runtime.ratelimit import RateLimitWaitExceeded
from py_sp_api.runtime.rest import RESTClientObject, read_bounded
from py_sp_api.runtime.transport_security import redact_url

if TYPE_CHECKING:
    from pydantic import BaseModel

    from py_sp_api.runtime.auth import HttpSender, TokenProvider
    from py_sp_api.runtime.events import CallObserver
    from py_sp_api.runtime.journal import SendJournal

# A model (a RootModel for an answer that is a list, say), or None for an answer without a
# body (Operation[None]).
ResponseT = TypeVar("ResponseT", bound="Optional[BaseModel]")

_log = logging.getLogger("py_sp_api.http")

ACCEPT = "application/hal+json"

# What every try of one call uses: (request, url, headers, timeout, preload_content, rate-limit
# identity); built once per call.
_Sent = Tuple["PreparedRequest", str, Dict[str, str], Any, bool, str]


class ApiClient:
    """Owns the connection pool and sends operations.

    One ``ApiClient`` is safe to share between threads, and may be built before ``os.fork()``
    (the child gets its own connections). Use it as a context manager, or call :meth:`close`,
    to release its connections.

    Args:
        configuration: where and how to connect; a default :class:`Configuration` if omitted.
        header_name, header_value: one extra header sent with every request.

    Headers are checked when they are set (here, by :meth:`set_default_header`, by assigning
    to :attr:`default_headers` or :attr:`user_agent`) and per call for ``_headers``; a header
    HTTP cannot carry raises :class:`ApiValueError` naming only the header. Names ignore case:
    a per-call header replaces a default one spelled differently.
    """

    def __init__(
        self,
        configuration: Optional[Configuration] = None,
        header_name: Optional[str] = None,
        header_value: Optional[str] = None,
    ) -> None:
        self.configuration = configuration if configuration is not None else Configuration()
        self._default_headers = DefaultHeaders(
            {ACCEPT_HEADER: ACCEPT, USER_AGENT_HEADER: self.configuration.user_agent}
        )
        if (header_name is None) != (header_value is None):
            raise ApiValueError("give both header_name and header_value, or neither")
        if header_name is not None and header_value is not None:
            self._default_headers[header_name] = header_value
        self.rest_client = RESTClientObject(self.configuration)

    @property
    def default_headers(self) -> DefaultHeaders:
        """The headers sent with every request (a ``dict`` that checks what is put in it)."""
        return self._default_headers

    @default_headers.setter
    def default_headers(self, headers: Mapping[str, str]) -> None:
        self._default_headers = DefaultHeaders(headers)

    @property
    def user_agent(self) -> str:
        return self._default_headers[USER_AGENT_HEADER]

    @user_agent.setter
    def user_agent(self, value: str) -> None:
        self._default_headers[USER_AGENT_HEADER] = value

    def set_default_header(self, header_name: str, header_value: str) -> None:
        self._default_headers[header_name] = header_value

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release every pooled connection; the client may still be used afterwards."""
        self.rest_client.close()

    def call(
        self,
        operation: Operation[ResponseT],
        args: Sequence[Any],
        body: Any = None,
        *,
        timeout: TimeoutValue = None,
        headers: Optional[Mapping[str, str]] = None,
        send_key: Optional[str] = None,
    ) -> ApiResponse[ResponseT]:
        """Send ``operation`` and parse its answer; raise a typed error for anything else.

        With a journal configured, a POST is claimed under its :class:`SendKey` first
        (``send_key`` is the caller's part of it) and its outcome recorded.
        """
        request = operation.prepare(args, body)
        if operation.header_params:
            headers = _with_header_params(operation, args, headers)
        response, attempts = self._dispatch(
            operation, args, request, timeout, headers, send_key, True
        )
        status = response.status
        raw = response.data
        if not 200 <= status <= 299:
            raise self._refusal(operation, response, attempts, headers)
        return ApiResponse(
            status_code=status,
            headers=response.headers,
            data=_parse_body(operation, status, response.headers, raw),
            raw_data=raw,
        )

    def __repr__(self) -> str:
        config = self.configuration
        pacing = "on" if config.rate_limiting.enabled else "off"
        return (
            f"ApiClient(host={redact_url(config.host)!r}, "
            f"credentials={config.credentials_summary!r}, rate_limiting={pacing!r})"
        )

    def _refusal(
        self,
        operation: Operation[Any],
        response: urllib3.BaseHTTPResponse,
        attempts: int,
        headers: Optional[Mapping[str, str]],
    ) -> ApiException:
        """The typed error for a final answer that is not a 2xx."""
        status = response.status
        raw = response.data
        note = _outcome_note(operation, status)
        credentials_note = None
        if status in (401, 403) and not self._carries_token(headers):
            credentials_note = _NO_CREDENTIALS_NOTE
        encoding = _unrequested_encoding(response.headers)
        if encoding is not None:
            raw = b""  # not text, and the client will not inflate it
            note = _joined(note, f"The body is {encoding}-encoded (not asked for): not read.")
        return ApiException.from_response(
            status=status,
            reason=response.reason,
            headers=response.headers,
            body=raw,
            error_model=operation.error_model,
            attempts=attempts,
            note=note,
            credentials_note=credentials_note,
        )

    def _carries_token(self, headers: Optional[Mapping[str, str]]) -> bool:
        """Whether a request with these per-call headers carried an access token."""
        if self.configuration.token_provider is not None:
            return True
        names = [*self.default_headers, *(headers or {})]
        return any(name.lower() == ACCESS_TOKEN_HEADER for name in names)

    def call_raw(
        self,
        operation: Operation[Any],
        args: Sequence[Any],
        body: Any = None,
        *,
        timeout: TimeoutValue = None,
        headers: Optional[Mapping[str, str]] = None,
        send_key: Optional[str] = None,
    ) -> urllib3.BaseHTTPResponse:
        """Send ``operation`` and hand back the unread urllib3 response, whatever its status.

        Auth, rate limiting and retries apply as for :meth:`call`. The caller reads the
        response and then calls ``release_conn()`` to return the connection to the pool.
        The body is as it came over the wire (never decoded), and ``max_response_bytes``
        does not limit it: read it in pieces (``read(amt)``, ``stream()``) if it may be large.
        """
        request = operation.prepare(args, body)
        if operation.header_params:
            headers = _with_header_params(operation, args, headers)
        return self._dispatch(operation, args, request, timeout, headers, send_key, False)[0]

    def _dispatch(
        self,
        operation: Operation[Any],
        args: Sequence[Any],
        request: PreparedRequest,
        timeout: TimeoutValue,
        headers: Optional[Mapping[str, str]],
        send_key: Optional[str],
        preload_content: bool,
    ) -> Tuple[urllib3.BaseHTTPResponse, int]:
        """Send a prepared call, observed when hooks or telemetry are configured."""
        telemetry = self.configuration._instrumentation
        if telemetry is None:
            return self._send_call(
                operation, args, request, timeout, headers, send_key, preload_content
            )
        from py_sp_api.runtime.events import send_observed

        return send_observed(
            self, telemetry, operation, args, request, timeout, headers, send_key, preload_content
        )

    def _send_call(
        self,
        operation: Operation[Any],
        args: Sequence[Any],
        request: PreparedRequest,
        timeout: TimeoutValue,
        headers: Optional[Mapping[str, str]],
        send_key: Optional[str],
        preload_content: bool,
        observer: Optional[CallObserver] = None,
    ) -> Tuple[urllib3.BaseHTTPResponse, int]:
        """:meth:`_send`, journaled when a journal is configured and the call sends a message."""
        journal = self.configuration.journal
        if journal is None or operation.is_idempotent or not operation.journaled:
            return self._send(operation, request, timeout, headers, preload_content, None, observer)
        return self._send_journaled(
            journal, operation, args, request, timeout, headers, send_key, preload_content,
            observer,
        )  # fmt: skip

    def _send_journaled(
        self,
        journal: SendJournal,
        operation: Operation[Any],
        args: Sequence[Any],
        request: PreparedRequest,
        timeout: TimeoutValue,
        headers: Optional[Mapping[str, str]],
        send_key: Optional[str],
        preload_content: bool,
        observer: Optional[CallObserver] = None,
    ) -> Tuple[urllib3.BaseHTTPResponse, int]:
        """:meth:`_send`, with the message claimed first and its outcome recorded after."""
        # Imported here: a program without a journal never loads it.
        from py_sp_api.runtime.journal import SendKey, settle_answer, settle_failure

        marketplace_id, order_id = operation.subject(args)
        key = SendKey.for_message(self.configuration, operation, marketplace_id, order_id, send_key)
        # The rate-limit wait comes before the claim, so a claim is held only while its request
        # is about to leave or out: a sender killed while waiting leaves no claim behind. A key
        # already taken is refused first, without spending a token on it.
        journal.check(key)  # DuplicateSendError: nothing is sent
        limiter = self.configuration.rate_limiting
        if limiter.enabled:
            waited = limiter.acquire(operation, self.configuration.rate_limit_identity)
            if observer is not None and waited > 0:
                observer.rate_limit_wait(1, waited)
        claim = journal.claim(key, request[2])  # DuplicateSendError: nothing is sent
        progress = _SendProgress(paced=limiter.enabled)
        try:
            if observer is not None:
                # Inside the try: a hook interrupted here (Ctrl-C) releases the claim.
                observer.journal(claim.key, "claimed", None, None)
            response, attempts = self._send(
                operation, request, timeout, headers, preload_content, progress, observer
            )
        except BaseException as exc:
            state = settle_failure(journal, claim, exc, progress.may_have_reached)
            if observer is not None:
                observer.journal_failure(claim.key, state, exc)
            raise
        request_id = response.headers.get(REQUEST_ID_HEADER)
        state = settle_answer(journal, claim, response.status, request_id)
        if observer is not None:
            observer.journal(claim.key, state, response.status, request_id)
        return response, attempts

    def _send(
        self,
        operation: Operation[Any],
        request: PreparedRequest,
        timeout: TimeoutValue,
        extra_headers: Optional[Mapping[str, str]],
        preload_content: bool,
        progress: Optional[_SendProgress] = None,
        observer: Optional[CallObserver] = None,
    ) -> Tuple[urllib3.BaseHTTPResponse, int]:
        """Send with auth, pacing and retries; return the final response and the tries made.

        Each try: authorise, pace, attempt, then the auth-failure step or the retry decision.
        ``progress.may_have_reached`` says, if this raises, whether Amazon may have got a try."""
        config = self.configuration
        headers, tokens = self._request_headers(request[3], extra_headers, observer)
        limiter = config.rate_limiting
        identity = config.rate_limit_identity if limiter.enabled else ""
        call_timeout = to_urllib3_timeout(timeout) if timeout is not None else config.timeout
        sent = (request, config.host + request[1], headers, call_timeout, preload_content, identity)
        refused: Optional[urllib3.BaseHTTPResponse] = None  # the last 429/5xx, while retrying
        attempt = 0
        while True:
            attempt += 1
            if tokens is not None:
                tokens.authorise(headers)
            try:
                waited = self._pace(operation, identity, progress) if limiter.enabled else 0.0
            except RateLimitWaitExceeded:
                if refused is None:
                    raise
                return refused, attempt - 1  # a retry would wait too long: report the refusal
            try:
                response = self._attempt(operation, sent, attempt, waited, progress, observer)
            except ApiConnectionError as exc:
                self._after_transport_failure(exc, operation, attempt, progress, observer)
                continue
            if 200 <= response.status <= 299:
                return response, attempt
            if tokens is not None and response.status in (401, 403):
                answer = self._after_auth_failure(
                    response, tokens, operation, sent, attempt, progress, observer
                )
                if answer is None:
                    continue
                return answer, attempt
            refused = self._after_refusal(response, operation, sent, attempt, progress, observer)
            if refused is None:
                return response, attempt

    def _request_headers(
        self,
        content_type: Optional[str],
        extra_headers: Optional[Mapping[str, str]],
        observer: Optional[CallObserver],
    ) -> Tuple[Dict[str, str], Optional[_CallToken]]:
        """The headers of every try of one call, and its configured token (if it sends one)."""
        headers = dict(self._default_headers)
        if content_type is not None:
            headers[CONTENT_TYPE_HEADER] = content_type
        provider = self.configuration.token_provider
        if extra_headers and merge_call_headers(headers, extra_headers):
            # A per-call token (a Restricted Data Token) is sent as given: never replaced by,
            # nor "refreshed" into, the configured token.
            provider = None
        if provider is None:
            return headers, None
        sender = self.rest_client if observer is None else observer.token_sender(self.rest_client)
        return headers, _CallToken(provider, sender)

    def _pace(
        self, operation: Operation[Any], identity: str, progress: Optional[_SendProgress]
    ) -> float:
        """Take a rate-limit token for the next try; return the seconds waited for it."""
        if progress is not None and progress.paced:
            progress.paced = False  # the first token was taken before the claim
            return 0.0
        return self.configuration.rate_limiting.acquire(operation, identity)

    def _attempt(
        self,
        operation: Operation[Any],
        sent: _Sent,
        attempt: int,
        waited: float,
        progress: Optional[_SendProgress],
        observer: Optional[CallObserver],
    ) -> urllib3.BaseHTTPResponse:
        """Send the request once and report the answer (any status).

        Raises :class:`ApiConnectionError` when no answer came.
        """
        request, url, headers, timeout, preload_content, identity = sent
        method, _, body, _ = request
        timed = observer is not None or _log.isEnabledFor(logging.DEBUG)
        started = time.monotonic() if timed else 0.0
        if observer is not None:
            observer.attempt(attempt, waited)
        if progress is not None:
            progress.may_have_reached = True
        try:
            response = self.rest_client.request(
                method, url, headers=headers, body=body, timeout=timeout,
                preload_content=preload_content,
            )  # fmt: skip
        except ApiConnectionError as exc:
            if observer is not None:
                observer.transport_failure(attempt, exc, time.monotonic() - started)
            raise
        except ApiResponseTooLargeError as exc:
            if observer is not None and exc.status is not None:
                # Answered (a 2xx: the message was sent), only the body was not read.
                observer.answered(attempt, exc.status, exc.headers, time.monotonic() - started)
            raise _too_large_outcome(exc, operation, attempt) from exc
        limiter = self.configuration.rate_limiting
        if limiter.enabled:
            limiter.observe(operation, identity, response.headers.get(RATE_LIMIT_HEADER))
        if timed:
            _report_answer(response, operation, request, attempt, waited, started, observer)
        return response

    def _after_transport_failure(
        self,
        exc: ApiConnectionError,
        operation: Operation[Any],
        attempt: int,
        progress: Optional[_SendProgress],
        observer: Optional[CallObserver],
    ) -> None:
        """Pause before sending again, or raise the final error when that is not safe."""
        idempotent = operation.is_idempotent
        policy = self.configuration.retry
        delay = policy.delay_after_transport_failure(attempt, exc.request_sent, idempotent)
        if delay is None:
            raise _final_transport_error(exc, operation, attempt) from exc.__cause__
        _nothing_processed(progress, exc.request_sent is False or idempotent)
        self._pause(delay, operation, attempt, str(exc), observer)

    def _after_auth_failure(
        self,
        response: urllib3.BaseHTTPResponse,
        token: _CallToken,
        operation: Operation[Any],
        sent: _Sent,
        attempt: int,
        progress: Optional[_SendProgress],
        observer: Optional[CallObserver],
    ) -> Optional[urllib3.BaseHTTPResponse]:
        """After a 401/403 to the configured token: ``None`` to send once more with a renewed
        token (Amazon said it expired), else the answer to report (its body read)."""
        data = self._read_all(response, operation, attempt)
        answer = _readable(response, data, sent[4])  # sent[4]: preload_content
        if not token.renewed_after(data, operation.error_model, progress):
            return answer
        # So one resend with a new token cannot deliver a message twice.
        _log.debug("%s: token expired; resending once", operation.operation_id)
        if observer is not None:
            observer.retrying(attempt, "access token expired", response.status, 0.0)
        return None

    def _after_refusal(
        self,
        response: urllib3.BaseHTTPResponse,
        operation: Operation[Any],
        sent: _Sent,
        attempt: int,
        progress: Optional[_SendProgress],
        observer: Optional[CallObserver],
    ) -> Optional[urllib3.BaseHTTPResponse]:
        """After any other refusal, the retry decision: ``None`` to report this answer; else,
        having paused, the answer (body read) to report if the next try cannot be paced."""
        status = response.status
        delay = self.configuration.retry.delay_after_status(
            attempt, status, operation.is_idempotent, response.headers
        )
        if delay is None:
            return None
        data = self._read_all(response, operation, attempt)
        kept = _readable(response, data, sent[4])  # sent[4]: preload_content
        # A POST is retried only after a 429, which processed nothing.
        _nothing_processed(progress, status == 429 or operation.is_idempotent)
        self._pause(delay, operation, attempt, f"HTTP {status}", observer, status)
        return kept

    def _read_all(
        self, response: urllib3.BaseHTTPResponse, operation: Operation[Any], attempt: int
    ) -> bytes:
        """The whole body (at most ``max_response_bytes``); the connection goes back to the pool."""
        if getattr(response, "_fp", None) is None or getattr(response, "_body", None) is not None:
            return response.data  # preloaded
        try:
            return read_bounded(response, self.configuration.max_response_bytes)
        except ApiResponseTooLargeError as exc:
            raise _too_large_outcome(exc, operation, attempt) from exc

    def _pause(
        self,
        delay: float,
        operation: Operation[Any],
        attempt: int,
        why: str,
        observer: Optional[CallObserver] = None,
        status: Optional[int] = None,
    ) -> None:
        if observer is not None:
            observer.retrying(attempt, why, status, delay)
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug(
                "%s: attempt %d failed (%s); retrying in %.3fs",
                operation.operation_id,
                attempt,
                why,
                delay,
            )
        self.configuration.retry.sleep(delay)


def _readable(
    response: urllib3.BaseHTTPResponse, data: bytes, preloaded: bool
) -> urllib3.BaseHTTPResponse:
    """A response to hand over after the client read ``data`` from ``response``.

    An unread (``preload_content=False``) response becomes an equivalent one over the bytes,
    so the caller can still ``read()`` the body the client had to look at.
    """
    if preloaded:
        return response
    return urllib3.HTTPResponse(
        body=io.BytesIO(data),
        headers=response.headers,
        status=response.status,
        reason=response.reason,
        preload_content=False,
        decode_content=False,
    )


# Amazon's answer to an expired access token: 403, code "Unauthorized", message "Access to
# requested resource is denied.", details "The access token you provided has expired."
_ACCESS_TOKEN_EXPIRED = re.compile(r"\baccess token\b.*\bexpired\b", re.IGNORECASE | re.DOTALL)


def _says_token_expired(body: bytes, error_model: Optional[Type[Any]]) -> bool:
    """Whether Amazon's ``errors`` list says the access token expired (not just any text)."""
    for error in _parse_errors(_try_json(body), error_model):
        if error.code == "Unauthorized" and any(
            _ACCESS_TOKEN_EXPIRED.search(text) for text in (error.message, error.details) if text
        ):
            return True
    return False


class _CallToken:
    """The configured access token one call sends, renewed at most once when it expired."""

    __slots__ = ("_provider", "_renewed", "_sender", "_token")

    def __init__(self, provider: TokenProvider, sender: HttpSender) -> None:
        self._provider = provider
        self._sender = sender
        self._token = ""
        self._renewed = False

    def authorise(self, headers: Dict[str, str]) -> None:
        """Put the current access token into ``headers`` (before every try)."""
        self._token = headers[ACCESS_TOKEN_HEADER] = self._provider.get_token(self._sender)

    def renewed_after(
        self, body: bytes, error_model: Optional[Type[Any]], progress: Optional[_SendProgress]
    ) -> bool:
        """Whether, after a 401/403 with ``body``, a different token may be sent once more:
        Amazon said the token expired, it was not renewed yet, and a new one came."""
        if self._renewed or not _says_token_expired(body, error_model):
            return False
        self._renewed = True
        # Amazon refused the token without processing the request: so whatever happens next
        # (a failed token refresh, an interrupt), nothing was sent.
        _nothing_processed(progress, True)
        token = self._token
        return self._provider.invalidate(token) and self._provider.get_token(self._sender) != token


def _report_answer(
    response: urllib3.BaseHTTPResponse,
    operation: Operation[Any],
    request: PreparedRequest,
    attempt: int,
    waited: float,
    started: float,
    observer: Optional[CallObserver],
) -> None:
    """Tell the observer, and the debug log, that Amazon answered a try."""
    elapsed = time.monotonic() - started
    if observer is not None:
        observer.answered(attempt, response.status, response.headers, elapsed)
    if _log.isEnabledFor(logging.DEBUG):
        _log.debug(
            "%s %s -> %s in %.1f ms (operation=%s, attempt=%d, rate-limit wait=%.3fs, "
            "request-id=%s)",
            request[0],
            request[1],
            response.status,
            elapsed * 1000,
            operation.operation_id,
            attempt,
            waited,
            response.headers.get(REQUEST_ID_HEADER),
        )


class _SendProgress:
    """A journaled send's state: whether Amazon may have processed a request that left, and
    whether the first attempt's rate-limit token was already taken (before the claim)."""

    __slots__ = ("may_have_reached", "paced")

    def __init__(self, paced: bool = False) -> None:
        self.may_have_reached = False
        self.paced = paced


def _nothing_processed(progress: Optional[_SendProgress], certain: bool) -> None:
    # Before a retry: the answer (a 429, an expired token, a connection refused) proves that
    # Amazon processed nothing, so an interrupt in the pause sent nothing either.
    if progress is not None and certain:
        progress.may_have_reached = False


_NO_CREDENTIALS_NOTE = (
    "This client has no credentials configured, so the request carried no access token. "
    "Pass credentials=LwaCredentials.from_env() (reads LWA_CLIENT_ID, LWA_CLIENT_SECRET and "
    "LWA_REFRESH_TOKEN) or access_token=... to Configuration; where each value comes from: "
    + doc_url("first-live-call.md")
)


def _outcome_note(operation: Operation[Any], status: int) -> Optional[str]:
    if status >= 500 and not operation.is_idempotent:
        return (
            "Amazon may have processed this request (the message may have been delivered); "
            "it was not re-sent automatically, to never message a buyer twice."
        )
    if status == 429:
        return "Throttled: the operation's usage plan was exceeded; nothing was processed."
    return None


def _too_large_outcome(
    exc: ApiResponseTooLargeError, operation: Operation[Any], attempts: int
) -> OpenApiException:
    """What a body over the limit means for this call: success, or the status's error."""
    status = exc.status or 0
    if 200 <= status <= 299:
        delivered = (
            ""
            if operation.is_idempotent
            else " Amazon accepted the request (the message was sent): do not send it again."
        )
        return ApiResponseTooLargeError(
            f"{operation.operation_id}: the {status} response body is larger than "
            f"max_response_bytes ({exc.limit} bytes) and was not read.{delivered} "
            f"(request id {exc.request_id or 'unknown'})",
            status=status,
            reason=exc.reason,
            headers=exc.headers,
            limit=exc.limit,
            content_length=exc.content_length,
            attempts=attempts,
        )
    too_large = f"The body is larger than max_response_bytes ({exc.limit} bytes): not read."
    return _exception_class_for_status(status)(
        status,
        exc.reason,
        headers=exc.headers,
        attempts=attempts,
        note=_joined(_outcome_note(operation, status), too_large),
    )


def _unrequested_encoding(headers: Mapping[str, str]) -> Optional[str]:
    # The client asks for identity, so any other Content-Encoding is one it did not ask for.
    encoding = headers.get(CONTENT_ENCODING_HEADER)
    if encoding is None or encoding.strip().lower() in ("", "identity"):
        return None
    return encoding.strip()


def _joined(first: Optional[str], second: str) -> str:
    return f"{first}\n{second}" if first else second


def _final_transport_error(
    exc: ApiConnectionError, operation: Operation[Any], attempts: int
) -> ApiConnectionError:
    message = str(exc)
    if attempts > 1:
        message += f" (after {attempts} attempts)"
    if not operation.is_idempotent and exc.request_sent is not False:
        message += (
            ". The request may have reached Amazon and the message may have been delivered; "
            "it was not re-sent automatically, to never message a buyer twice"
        )
    return type(exc)(
        message,
        request_sent=exc.request_sent,
        attempts=attempts,
        answered_status=exc.answered_status,
        request_id=exc.request_id,
    )


def _with_header_params(
    operation: Operation[Any], args: Sequence[Any], headers: Optional[Mapping[str, str]]
) -> Optional[Mapping[str, str]]:
    # Imported here: only some APIs declare header parameters (Messaging has none).
    from py_sp_api.runtime.header_params import call_headers

    return call_headers(operation, args, headers)


def _parse_body(
    operation: Operation[ResponseT], status: int, headers: Mapping[str, str], raw: bytes
) -> ResponseT:
    if operation.response is None or status in operation.bodiless_statuses:
        return cast(ResponseT, None)  # the spec declares no body: whatever came is not parsed
    model = operation.response.get()
    # Amazon answers some 201s with no body at all; read that as an empty object.
    document = raw if raw and not raw.isspace() else b"{}"
    try:
        return model.__pydantic_validator__.validate_json(document)  # type: ignore[no-any-return]
    except ValidationError as exc:
        delivered = (
            ""
            if operation.is_idempotent
            else " The request succeeded (the message was sent): do not send it again."
        )
        encoding = _unrequested_encoding(headers)
        problem = (
            f"is {encoding}-encoded, which the client did not ask for (it sends "
            "Accept-Encoding: identity), so it was not decoded"
            if encoding is not None
            else f"is not a valid {model.__name__}: {exc.errors(include_url=False)[:3]}"
        )
        raise ApiResponseError(
            f"{operation.operation_id}: the response body {problem}.{delivered}",
            status=status,
            headers=headers,
            body=raw,
        ) from exc


__all__ = [
    "ACCEPT",
    "ApiClient",
]
