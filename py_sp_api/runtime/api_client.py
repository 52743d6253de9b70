"""The API client: turns an :class:`Operation` and arguments into a typed result."""

from __future__ import annotations

import io
import logging
import re
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Tuple, Type, TypeVar, cast

import urllib3
from pydantic_core import ValidationError

from py_sp_api.runtime.api_response import RATE_LIMIT_HEADER, ApiResponse
from py_sp_api.runtime.configuration import Configuration, TimeoutValue, to_urllib3_timeout
from py_sp_api.runtime.docs_links import doc_url
from py_sp_api.runtime.exceptions import (
    REQUEST_ID_HEADER,
    ApiConnectionError,
    ApiException,
    ApiResponseError,
    ApiResponseTooLargeError,
    ApiValueError,
    OpenApiException,
    _parse_errors,
    _try_json,
    exception_class_for_status,
)
from py_sp_api.runtime.headers import ACCESS_TOKEN_HEADER, DefaultHeaders, merge_call_headers
from py_sp_api.runtime.operation import Operation, PreparedRequest
from py_sp_api.runtime.ratelimit import RateLimitWaitExceeded
from py_sp_api.runtime.rest import RESTClientObject, read_bounded
from py_sp_api.runtime.retry import parse_retry_after
from py_sp_api.runtime.transport_security import redact_url

if TYPE_CHECKING:
    from pydantic import BaseModel

    from py_sp_api.runtime.events import CallObserver
    from py_sp_api.runtime.journal import SendJournal

# A model (a RootModel for an answer that is a list, say), or None for an answer without a
# body (Operation[None]).
ResponseT = TypeVar("ResponseT", bound="Optional[BaseModel]")

_log = logging.getLogger("py_sp_api.http")

ACCEPT = "application/hal+json"


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
            {"Accept": ACCEPT, "User-Agent": self.configuration.user_agent}
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
        return self._default_headers["User-Agent"]

    @user_agent.setter
    def user_agent(self, value: str) -> None:
        self._default_headers["User-Agent"] = value

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
        journal = self.configuration.journal
        telemetry = self.configuration._instrumentation
        if telemetry is not None:
            from py_sp_api.runtime.events import send_observed

            response, attempts = send_observed(
                self, telemetry, operation, args, request, timeout, headers, send_key, True
            )
        elif journal is None or operation.is_idempotent or not operation.journaled:
            response, attempts = self._send(operation, request, timeout, headers, True)
        else:
            response, attempts = self._send_journaled(
                journal, operation, args, request, timeout, headers, send_key, True
            )
        status = response.status
        raw = response.data
        if not 200 <= status <= 299:
            note = _outcome_note(operation, status)
            credentials_note = None
            if status in (401, 403) and not self._carries_token(headers):
                credentials_note = NO_CREDENTIALS_NOTE
            encoding = _unrequested_encoding(response.headers)
            if encoding is not None:
                raw = b""  # not text, and the client will not inflate it
                note = _joined(note, f"The body is {encoding}-encoded (not asked for): not read.")
            raise ApiException.from_response(
                status=status,
                reason=response.reason,
                headers=response.headers,
                body=raw,
                error_model=operation.error_model,
                attempts=attempts,
                note=note,
                credentials_note=credentials_note,
            )
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
        journal = self.configuration.journal
        telemetry = self.configuration._instrumentation
        if telemetry is not None:
            from py_sp_api.runtime.events import send_observed

            return send_observed(
                self, telemetry, operation, args, request, timeout, headers, send_key, False
            )[0]
        if journal is None or operation.is_idempotent or not operation.journaled:
            return self._send(operation, request, timeout, headers, False)[0]
        return self._send_journaled(
            journal, operation, args, request, timeout, headers, send_key, False
        )[0]

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
        progress = SendProgress(paced=limiter.enabled)
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
        progress: Optional[SendProgress] = None,
        observer: Optional[CallObserver] = None,
    ) -> Tuple[urllib3.BaseHTTPResponse, int]:
        """Send with auth, pacing and retries; return the final response and the tries made.

        ``progress.may_have_reached`` says, whenever this raises, whether a request that Amazon
        may have processed has left the process (a send journal needs to know).
        """
        config = self.configuration
        method, path, body, content_type = request
        headers = dict(self._default_headers)
        if content_type is not None:
            headers["Content-Type"] = content_type
        provider = config.token_provider
        if extra_headers and merge_call_headers(headers, extra_headers):
            # A per-call token (a Restricted Data Token) is sent as given: never replaced by,
            # nor "refreshed" into, the configured token.
            provider = None
        url = config.host + path
        effective_timeout = to_urllib3_timeout(timeout) if timeout is not None else config.timeout
        limiter = config.rate_limiting
        policy = config.retry
        identity = config.rate_limit_identity if limiter.enabled else ""
        idempotent = operation.is_idempotent
        debug = _log.isEnabledFor(logging.DEBUG)
        timed = debug or observer is not None
        token_http = (
            self.rest_client if observer is None else observer.token_sender(self.rest_client)
        )
        token: Optional[str] = None
        token_refreshed = False
        refused: Optional[urllib3.BaseHTTPResponse] = None  # the last 429/5xx, while retrying
        attempt = 0
        while True:
            attempt += 1
            if provider is not None:
                token = headers[ACCESS_TOKEN_HEADER] = provider.get_token(token_http)
            try:
                if progress is not None and progress.paced:
                    progress.paced = False  # the first token was taken before the claim
                    waited = 0.0
                else:
                    waited = limiter.acquire(operation, identity) if limiter.enabled else 0.0
            except RateLimitWaitExceeded:
                if refused is None:
                    raise
                # Retrying a refused request would wait too long: report what Amazon said.
                return refused, attempt - 1
            started = time.monotonic() if timed else 0.0
            if observer is not None:
                observer.attempt(attempt, waited)
            if progress is not None:
                progress.may_have_reached = True
            try:
                response = self.rest_client.request(
                    method,
                    url,
                    headers=headers,
                    body=body,
                    timeout=effective_timeout,
                    preload_content=preload_content,
                )
            except ApiConnectionError as exc:
                if observer is not None:
                    observer.transport_failure(attempt, exc, time.monotonic() - started)
                if attempt < policy.max_attempts and policy.retries_transport_failure(
                    exc.request_sent, idempotent
                ):
                    _nothing_processed(progress, exc.request_sent is False or idempotent)
                    self._pause(policy.delay(attempt), operation, attempt, str(exc), observer)
                    continue
                raise _final_transport_error(exc, operation, attempt) from exc.__cause__
            except ApiResponseTooLargeError as exc:
                if observer is not None and exc.status is not None:
                    # Answered (a 2xx: the message was sent), only the body was not read.
                    observer.answered(attempt, exc.status, exc.headers, time.monotonic() - started)
                raise _too_large_outcome(exc, operation, attempt) from exc
            status = response.status
            if limiter.enabled:
                limiter.observe(operation, identity, response.headers.get(RATE_LIMIT_HEADER))
            if timed:
                elapsed = time.monotonic() - started
                if observer is not None:
                    observer.answered(attempt, status, response.headers, elapsed)
                if debug:
                    _log.debug(
                        "%s %s -> %s in %.1f ms (operation=%s, attempt=%d, rate-limit wait=%.3fs, "
                        "request-id=%s)",
                        method,
                        path,
                        status,
                        elapsed * 1000,
                        operation.operation_id,
                        attempt,
                        waited,
                        response.headers.get(REQUEST_ID_HEADER),
                    )
            if 200 <= status <= 299:
                return response, attempt
            if status in (401, 403) and token is not None and provider is not None:
                data = self._read_all(response, operation, attempt)
                response = _readable(response, data, preload_content)
                if not token_refreshed and _says_token_expired(data, operation.error_model):
                    token_refreshed = True
                    # Amazon refused the token without processing the request: so whatever
                    # happens next (a failed token refresh, an interrupt), nothing was sent.
                    _nothing_processed(progress, True)
                    renewable = provider.invalidate(token)
                    if renewable and provider.get_token(token_http) != token:
                        # So one resend with a new token cannot deliver a message twice.
                        _log.debug("%s: token expired; resending once", operation.operation_id)
                        if observer is not None:
                            observer.retrying(attempt, "access token expired", status, 0.0)
                        continue
                return response, attempt
            if attempt < policy.max_attempts and policy.retries_status(status, idempotent):
                retry_after = parse_retry_after(response.headers)
                if retry_after is None or retry_after <= policy.max_backoff:
                    data = self._read_all(response, operation, attempt)
                    refused = _readable(response, data, preload_content)
                    # A POST is retried only after a 429, which processed nothing.
                    _nothing_processed(progress, status == 429 or idempotent)
                    delay = policy.delay(attempt, retry_after)
                    self._pause(delay, operation, attempt, f"HTTP {status}", observer, status)
                    continue
            return response, attempt

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
        time.sleep(delay)


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


class SendProgress:
    """A journaled send's state: whether Amazon may have processed a request that left, and
    whether the first attempt's rate-limit token was already taken (before the claim)."""

    __slots__ = ("may_have_reached", "paced")

    def __init__(self, paced: bool = False) -> None:
        self.may_have_reached = False
        self.paced = paced


def _nothing_processed(progress: Optional[SendProgress], certain: bool) -> None:
    # Before a retry: the answer (a 429, an expired token, a connection refused) proves that
    # Amazon processed nothing, so an interrupt in the pause sent nothing either.
    if progress is not None and certain:
        progress.may_have_reached = False


NO_CREDENTIALS_NOTE = (
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
    return exception_class_for_status(status)(
        status,
        exc.reason,
        headers=exc.headers,
        attempts=attempts,
        note=_joined(_outcome_note(operation, status), too_large),
    )


def _unrequested_encoding(headers: Mapping[str, str]) -> Optional[str]:
    # The client asks for identity, so any other Content-Encoding is one it did not ask for.
    encoding = headers.get("Content-Encoding")
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
