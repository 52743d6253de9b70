"""Every error the client raises, rooted at :class:`OpenApiException`.

Three families:

* argument errors (:class:`ApiTypeError`, :class:`ApiValueError`), raised before anything is sent;
* HTTP errors (:class:`ApiException` and one subclass per status), raised for any non-2xx answer;
* transport errors (:class:`ApiConnectionError`, :class:`ApiTimeoutError`), raised when no answer
  arrived, with the urllib3 error chained as ``__cause__``.

Login with Amazon (:class:`LwaAuthError`), rate limiting (:class:`RateLimitWaitExceeded`) and
model validation (:class:`ModelValidationError`) errors live here too, so every exception is
importable from one module (and from the generated package's ``exceptions``, which re-exports
``__all__``).

None of them ever holds a request header, so no token can reach a log through an exception.
Every one survives pickling, so it crosses a process boundary (``multiprocessing``,
``concurrent.futures``) whole.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple, Type, Union

from pydantic_core import PydanticCustomError, ValidationError

from py_sp_api.runtime.headers import REQUEST_ID_HEADER

__all__ = [
    "ActionNotAvailableException",
    "ApiAttributeError",
    "ApiConnectionError",
    "ApiException",
    "ApiKeyError",
    "ApiResponseError",
    "ApiResponseTooLargeError",
    "ApiTimeoutError",
    "ApiTypeError",
    "ApiValueError",
    "BadRequestException",
    "ConflictException",
    "DuplicateSendError",
    "ForbiddenException",
    "LwaAuthError",
    "ModelValidationError",
    "NotFoundException",
    "OpenApiException",
    "PayloadTooLargeException",
    "RateLimitStoreError",
    "RateLimitWaitExceeded",
    "SendJournalError",
    "ServiceException",
    "TooManyRequestsException",
    "UnauthorizedException",
    "UnprocessableEntityException",
    "UnsupportedMediaTypeException",
]

_BODY_PREVIEW = 2000
_VALIDATION_ERRORS_SHOWN = 5


class OpenApiException(Exception):
    """Base class of every exception raised by py-sp-api."""

    def __reduce__(self) -> Tuple[Any, ...]:
        # Rebuilt from its attributes, never by calling ``__init__`` again: most subclasses take
        # arguments (keyword-only ones, several values) that ``args`` does not hold, and the
        # default reduction would call ``__init__(*args)`` in the receiving process and fail.
        return (_rebuild, (type(self), self.args), self.__dict__ or None)


def _rebuild(cls: Type[OpenApiException], args: Tuple[Any, ...]) -> OpenApiException:
    """An instance of ``cls`` with ``args``; its attributes are restored by ``__setstate__``."""
    exc = cls.__new__(cls, *args)
    exc.args = args
    return exc


class ApiTypeError(OpenApiException, TypeError):
    """An argument has the wrong type; raised before any request is sent."""


class ApiValueError(OpenApiException, ValueError):
    """An argument has a bad value (too long, empty, too many items); nothing was sent."""


class ApiKeyError(OpenApiException, KeyError):
    """A lookup by name failed (kept for compatibility with generated clients)."""


class ApiAttributeError(OpenApiException, AttributeError):
    """An attribute lookup failed (kept for compatibility with generated clients)."""


class ModelValidationError(ValidationError, ApiValueError):
    """A model was built or assigned a value its schema refuses; nothing was sent.

    Raised by a model's constructor, an attribute assignment, ``from_dict`` and ``from_json``.
    It is also pydantic's ``ValidationError`` (``errors()`` lists every problem) and a
    ``ValueError``. The message names each field and rule without echoing the values.
    """

    def __str__(self) -> str:
        problems = self.errors(include_url=False, include_context=False, include_input=False)
        lines = [
            f"{'.'.join(str(part) for part in problem['loc']) or '(model)'}: {problem['msg']}"
            for problem in problems[:_VALIDATION_ERRORS_SHOWN]
        ]
        if len(problems) > _VALIDATION_ERRORS_SHOWN:
            lines.append(f"... and {len(problems) - _VALIDATION_ERRORS_SHOWN} more")
        return f"invalid {self.title}: " + "; ".join(lines)

    @classmethod
    def of(cls, error: ValidationError) -> ModelValidationError:
        """``error`` as a :class:`ModelValidationError`, with the same ``errors()``."""
        problems: List[Any] = error.errors()
        try:
            return cls.from_exception_data(error.title, problems)
        except (KeyError, TypeError, ValueError):
            # A custom error type (PydanticCustomError) is not known by name: keep its message.
            custom = [
                {
                    "type": PydanticCustomError(problem["type"], problem["msg"]),
                    "loc": problem["loc"],
                    "input": problem["input"],
                }
                for problem in problems
            ]
            return cls.from_exception_data(error.title, custom)  # type: ignore[arg-type]


class _ErrorLike(Protocol):
    """The shape of Amazon's ``Error`` model, as the runtime sees it."""

    @property
    def code(self) -> str: ...

    @property
    def message(self) -> str: ...

    @property
    def details(self) -> Optional[str]: ...


class ApiException(OpenApiException):
    """The server answered with a status outside 2xx.

    Attributes:
        status: the HTTP status code.
        reason: the HTTP reason phrase.
        headers: the response headers (case-insensitive mapping).
        body: the response body decoded as text (``None`` when empty).
        request_id: Amazon's ``x-amzn-RequestId``, for support tickets.
        errors: Amazon's ``errors`` list parsed into ``Error`` models (empty when the body has
            none, e.g. an HTML page from a proxy).
        data: the parsed JSON body, when it was JSON.
    """

    def __init__(
        self,
        status: Optional[int] = None,
        reason: Optional[str] = None,
        http_resp: Any = None,
        *,
        body: Optional[str] = None,
        data: Any = None,
        headers: Optional[Mapping[str, str]] = None,
        errors: Optional[Sequence[_ErrorLike]] = None,
        attempts: int = 1,
        note: Optional[str] = None,
    ) -> None:
        if http_resp is not None:
            status = http_resp.status if status is None else status
            reason = http_resp.reason if reason is None else reason
            headers = http_resp.headers if headers is None else headers
            if body is None and http_resp.data:
                body = _decode(http_resp.data)
        self.status = status
        self.reason = reason
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        self.body = body
        self.data = data
        self.errors: List[_ErrorLike] = list(errors or [])
        self.request_id: Optional[str] = self.headers.get(REQUEST_ID_HEADER)
        self.attempts = attempts
        self.note = note
        super().__init__(self._summary())

    def _summary(self) -> str:
        text = f"({self.status}) {self.reason or ''}".rstrip()
        if self.attempts > 1:
            text += f" after {self.attempts} attempts"
        if self.note:
            text += f"\n{self.note}"
        if self.request_id:
            text += f"\nRequest id: {self.request_id}"
        if self.errors:
            for error in self.errors:
                line = f"\n{error.code}: {error.message}"
                if error.details:
                    line += f" ({error.details})"
                text += line
        elif self.body:
            preview = self.body[:_BODY_PREVIEW]
            ellipsis = "..." if len(self.body) > _BODY_PREVIEW else ""
            text += f"\nHTTP response body: {preview}{ellipsis}"
        return text

    def __str__(self) -> str:
        return self._summary()

    @classmethod
    def from_response(
        cls,
        *,
        status: int,
        reason: Optional[str],
        headers: Mapping[str, str],
        body: bytes,
        error_model: Optional[Type[Any]] = None,
        attempts: int = 1,
        note: Optional[str] = None,
        credentials_note: Optional[str] = None,
    ) -> ApiException:
        """The typed exception for a non-2xx answer; never fails on a body that is not JSON.

        ``credentials_note`` explains a refusal by missing credentials; it is left out when the
        answer says the order does not offer the action (a refusal that has nothing to do with
        credentials).
        """
        text = _decode(body) if body else None
        data = _try_json(body)
        errors = _parse_errors(data, error_model)
        exc_class = _exception_class_for_status(status)
        hint = _not_available_hint(status, errors)
        if hint is not None:
            exc_class = ActionNotAvailableException
            note = f"{note}\n{hint}" if note else hint
        elif credentials_note is not None:
            note = f"{note}\n{credentials_note}" if note else credentials_note
        return exc_class(
            status,
            reason,
            body=text,
            data=data,
            headers=headers,
            errors=errors,
            attempts=attempts,
            note=note,
        )


class BadRequestException(ApiException):
    """400: the request has missing or invalid parameters."""


class UnauthorizedException(ApiException):
    """401: the request carried no valid credentials."""


class ForbiddenException(ApiException):
    """403: access denied, unauthorized, expired token or invalid signature."""


class ActionNotAvailableException(ForbiddenException):
    """403: the order does not offer this message type (or solicitation) right now.

    Amazon answers 403 ``Unauthorized`` "Invalid amazonOrderId and template combination." when
    the message type was already sent, the order is not shipped yet, or the type is not
    offered to this seller, "The requested solicitation is not available for this
    amazonOrderId." when the solicitation was already requested or the order is outside its
    window, and "You can't use this feature to request a review outside the 5-30 day range
    after the order delivery date."; nothing was sent to the buyer. Credentials and roles are
    fine: check the order's actions first (``get_messaging_actions_for_order`` or
    ``get_solicitation_actions_for_order``, then ``available_actions``).
    """


# Amazon's 403 answers meaning "this order does not offer that action now", and what to do.
_NOT_AVAILABLE_FOR_ORDER: Dict[str, str] = {
    "Invalid amazonOrderId and template combination.": (
        "This order does not offer this message type right now (already sent, not shipped "
        "yet, or not offered to this seller); nothing was sent, and the credentials are fine. "
        "Check first: api.available_actions(api.get_messaging_actions_for_order(order_id, "
        "[marketplace_id]))."
    ),
    "The requested solicitation is not available for this amazonOrderId.": (
        "This order does not offer this solicitation right now (already requested, or "
        "outside the allowed window); nothing was sent, and the credentials are fine. Check "
        "first: api.available_actions(api.get_solicitation_actions_for_order(order_id, "
        "[marketplace_id]))."
    ),
    # Amazon writes "can\u2019t"; the lookup folds apostrophes.
    "You can't use this feature to request a review outside the 5-30 day range after the "
    "order delivery date.": (
        "This order is outside the window for a review request (5 days after the earliest "
        "delivery date to 30 days after the latest); nothing was sent, and the credentials "
        "are fine. Check first: api.available_actions("
        "api.get_solicitation_actions_for_order(order_id, [marketplace_id]))."
    ),
}


def _not_available_hint(status: int, errors: Sequence[_ErrorLike]) -> Optional[str]:
    if status != 403:
        return None
    for error in errors:
        message = (error.message or "").strip().replace("\u2019", "'")
        hint = _NOT_AVAILABLE_FOR_ORDER.get(message)
        if hint is not None:
            return hint
    return None


class NotFoundException(ApiException):
    """404: the resource (usually the order) does not exist."""


class ConflictException(ApiException):
    """409: the request conflicts with the resource's current state."""


class PayloadTooLargeException(ApiException):
    """413: the request body exceeded the maximum accepted size."""


class UnsupportedMediaTypeException(ApiException):
    """415: the request body is in an unsupported format."""


class UnprocessableEntityException(ApiException):
    """422: the request was well-formed but could not be processed."""


class TooManyRequestsException(ApiException):
    """429: the operation's rate limit was exceeded; the request was not processed."""


class ServiceException(ApiException):
    """5xx: Amazon failed or is overloaded; the request may or may not have been processed."""


_EXCEPTION_BY_STATUS: Dict[int, Type[ApiException]] = {
    400: BadRequestException,
    401: UnauthorizedException,
    403: ForbiddenException,
    404: NotFoundException,
    409: ConflictException,
    413: PayloadTooLargeException,
    415: UnsupportedMediaTypeException,
    422: UnprocessableEntityException,
    429: TooManyRequestsException,
}


def _exception_class_for_status(status: int) -> Type[ApiException]:
    """The :class:`ApiException` subclass raised for ``status``."""
    if 500 <= status <= 599:
        return ServiceException
    return _EXCEPTION_BY_STATUS.get(status, ApiException)


class ApiResponseError(OpenApiException):
    """A 2xx answer whose body could not be read as the operation's response model.

    The raw body is kept in :attr:`body` so nothing the server sent is lost.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.request_id: Optional[str] = headers.get(REQUEST_ID_HEADER)
        detail = f"{message} (status {status}, request id {self.request_id or 'unknown'})"
        super().__init__(detail)


class ApiResponseTooLargeError(ApiResponseError):
    """The response body was larger than ``Configuration.max_response_bytes``; it was not read.

    Raised for a 2xx answer: the call succeeded on Amazon's side. (For another status the
    status's :class:`ApiException` is raised, with this error as its ``__cause__``.)

    Attributes:
        status, reason, headers, request_id: of the answer.
        limit: the ``max_response_bytes`` in force.
        content_length: the size the server announced, or ``None`` (a chunked body, read
            until it passed the limit).
        body: always ``b""``: the body was not kept.
        attempts: how many times the request was sent.
    """

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        reason: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        limit: Optional[int] = None,
        content_length: Optional[int] = None,
        attempts: int = 1,
    ) -> None:
        # Not ApiResponseError.__init__: the message is already complete.
        OpenApiException.__init__(self, message)
        self.status = status  # type: ignore[assignment]
        self.reason = reason
        self.headers = headers if headers is not None else {}
        self.request_id = self.headers.get(REQUEST_ID_HEADER)
        self.body = b""
        self.limit = limit
        self.content_length = content_length
        self.attempts = attempts


class LwaAuthError(OpenApiException):
    """LWA refused or failed to issue an access token.

    Attributes:
        error: LWA's error code (``invalid_grant``, ``invalid_client``...) or None.
        error_description: LWA's explanation, if it gave one.
        status: the HTTP status of LWA's answer, None when no answer came.
        attempts: how many token requests were made.
    """

    def __init__(
        self,
        message: str,
        *,
        error: Optional[str] = None,
        error_description: Optional[str] = None,
        status: Optional[int] = None,
        attempts: int = 1,
    ) -> None:
        self.error = error
        self.error_description = error_description
        self.status = status
        self.attempts = attempts
        super().__init__(message)


class RateLimitWaitExceeded(OpenApiException):
    """Sending now would break the usage plan, and the wait is longer than ``max_wait``.

    Nothing was sent. ``wait`` is how long the caller would have had to wait.
    """

    def __init__(self, operation_id: str, wait: float, max_wait: float) -> None:
        self.operation_id = operation_id
        self.wait = wait
        self.max_wait = max_wait
        super().__init__(
            f"{operation_id}: the next request is allowed in {wait:.2f}s, "
            f"longer than max_wait={max_wait:.2f}s; nothing was sent"
        )


class ApiConnectionError(OpenApiException):
    """No HTTP answer was received: the connection failed, dropped or timed out.

    Attributes:
        request_sent: ``False`` when the failure happened before any byte of the request was
            sent (safe to resend), ``True`` or ``None`` when the server may have received it.
        attempts: how many times the request was tried before giving up.
        answered_status, request_id: when the status line did arrive but the body was cut
            off, the status Amazon answered (a 2xx: the request succeeded) and its request id.
    """

    def __init__(
        self,
        message: str,
        *,
        request_sent: Optional[bool] = None,
        attempts: int = 1,
        answered_status: Optional[int] = None,
        request_id: Optional[str] = None,
    ) -> None:
        self.request_sent = request_sent
        self.attempts = attempts
        self.answered_status = answered_status
        self.request_id = request_id
        super().__init__(message)


class ApiTimeoutError(ApiConnectionError):
    """The connection or the read took longer than the configured timeout."""


class DuplicateSendError(OpenApiException):
    """The send journal holds this message's key already: nothing was sent.

    Attributes:
        state: the key's state: ``"sent"`` (delivered), ``"in_flight"`` (another caller is
            sending it now) or ``"unknown"`` (an earlier send's outcome is not known; settle it
            with ``journal.resolve``).
        entry: the journal entry holding the key (a ``JournalEntry``).
    """

    def __init__(self, state: str, entry: Any) -> None:
        self.state = state
        self.entry = entry
        what = {
            "sent": "was already sent",
            "in_flight": "is being sent by another caller right now",
            "unknown": "was sent before with an unknown outcome (settle it with journal.resolve)",
        }.get(state, f"is {state}")
        request = f", request id {entry.request_id}" if getattr(entry, "request_id", None) else ""
        super().__init__(
            f"{getattr(entry, 'operation', 'this message')} for order "
            f"{getattr(entry, 'order_id', '?')} {what}{request}; nothing was sent"
        )


class SendJournalError(OpenApiException):
    """The send journal's store failed (unreachable, locked too long, full, corrupt).

    Raised by a claim, before anything is sent: a journal that cannot record a claim refuses
    to send rather than risk messaging a buyer twice. Recording an outcome that fails is only
    logged (the entry then reads ``unknown``).

    Attributes:
        backend: which store (``"sqlite"``, ``"redis"``).
        reason: what failed and the store's error; names no secret (no URL, no password).
    """

    def __init__(self, backend: str, reason: str) -> None:
        self.backend = backend
        self.reason = reason
        super().__init__(f"the {backend} send journal failed: {reason}")


class RateLimitStoreError(OpenApiException):
    """The shared rate-limit store refused a command on a bucket; nothing was sent.

    Not an outage (those fall back to local buckets): the bucket's key holds something that is
    not a bucket, or the command was refused, and it will stay so until someone looks.

    Attributes:
        key: the store's key of the bucket (e.g. the Redis key); names no secret.
        reason: what the store answered.
    """

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(
            f"the rate-limit store refused a command on bucket {key!r}: {reason}; "
            "nothing was sent (remove or fix that key)"
        )


def _decode(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


def _try_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _parse_errors(data: Any, error_model: Optional[Type[Any]]) -> List[Any]:
    if not isinstance(data, dict):
        return []
    raw_errors: Union[Any, List[Any]] = data.get("errors")
    if not isinstance(raw_errors, list) or error_model is None:
        return []
    parsed: List[Any] = []
    for item in raw_errors:
        try:
            parsed.append(error_model.model_validate(item))
        except ValueError:
            # A malformed entry is still in ``body``; keep the well-formed ones.
            continue
    return parsed
