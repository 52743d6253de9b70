"""OpenTelemetry spans and metrics for every call: ``Configuration(telemetry=OpenTelemetry())``.

Needs ``opentelemetry-api`` (``pip install "py-sp-api[otel]"``); the application installs and
configures the SDK and its exporters. Nothing of OpenTelemetry is imported or called unless an
:class:`OpenTelemetry` is built.

Each call is one span of kind ``CLIENT`` (its resends are events on it, and
``http.request.resend_count``), named ``{method} {url.template}``, with the attributes of
OpenTelemetry's HTTP client semantic conventions plus ``sp_api.*`` ones; the list is in
``docs/observability.md``. No attribute carries a token or secret.
"""

from __future__ import annotations

import functools
import logging
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Mapping,
    Optional,
    Set,
    Tuple,
    TypeVar,
    Union,
)

from urllib3.util import parse_url

from py_sp_api._version import __version__
from py_sp_api.runtime.events import CallObserver, safe_url
from py_sp_api.runtime.exceptions import DuplicateSendError
from py_sp_api.runtime.headers import RATE_LIMIT_HEADER, REQUEST_ID_HEADER

try:
    from opentelemetry import context as otel_context, metrics, trace
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'OpenTelemetry support needs opentelemetry-api: pip install "py-sp-api[otel]"'
    ) from exc

if TYPE_CHECKING:
    from py_sp_api.runtime.operation import Operation

__all__ = ["INSTRUMENTATION_NAME", "OpenTelemetry"]

INSTRUMENTATION_NAME = "py_sp_api"
"""The tracer's and the meter's name."""

_log = logging.getLogger("py_sp_api.otel")

# OpenTelemetry's recommended boundaries for http.client.request.duration (seconds).
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)
_DEFAULT_PORTS = {"http": 80, "https": 443}

_Attributes = Dict[str, Union[str, int, float]]
F = TypeVar("F", bound=Callable[..., Any])
_failed: Set[str] = set()


def _guarded(method: F) -> F:
    """Telemetry must never break a call: an error is logged (once per method) and dropped."""

    @functools.wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception:
            name = method.__qualname__
            if name not in _failed:
                _failed.add(name)
                _log.exception("OpenTelemetry: %s failed; the call goes on unaffected", name)
            return None

    return guarded  # type: ignore[return-value]


class OpenTelemetry:
    """Spans and metrics for every call, through the global or the given providers.

    Args:
        tracer_provider: where spans go; the global one (``trace.set_tracer_provider``) if
            omitted.
        meter_provider: where metrics go; the global one if omitted.

    Metrics: ``http.client.request.duration`` (per request sent, resends included),
    ``sp_api.throttled_responses`` (429s), ``sp_api.rate_limit.wait.duration`` and
    ``sp_api.journal.transitions``.
    """

    def __init__(
        self,
        tracer_provider: Optional[trace.TracerProvider] = None,
        meter_provider: Optional[metrics.MeterProvider] = None,
    ) -> None:
        self.tracer = trace.get_tracer(
            INSTRUMENTATION_NAME, __version__, tracer_provider=tracer_provider
        )
        meter = metrics.get_meter(INSTRUMENTATION_NAME, __version__, meter_provider=meter_provider)
        self.request_duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests (each resend is one).",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.throttled = meter.create_counter(
            "sp_api.throttled_responses",
            unit="{response}",
            description="HTTP 429 answers: Amazon's usage plan for the operation was exceeded.",
        )
        self.rate_limit_wait = meter.create_histogram(
            "sp_api.rate_limit.wait.duration",
            unit="s",
            description="Time spent waiting for an operation's usage plan before a request.",
            explicit_bucket_boundaries_advisory=_WAIT_BUCKETS,
        )
        self.journal_transitions = meter.create_counter(
            "sp_api.journal.transitions",
            unit="{transition}",
            description="Send-journal transitions (claimed, sent, rejected, unknown...).",
        )
        # The attributes every call of one operation to one host shares, worked out once:
        # (id of the operation, origin) -> (the operation, kept so its id stays its own,
        # the attributes, the span name).
        self._shared: Dict[Tuple[int, str], Tuple[object, _Attributes, str]] = {}

    def shared_attributes(self, operation: Operation[Any], url: str) -> Tuple[_Attributes, str]:
        """The attributes of the span and metrics of every call of ``operation`` to ``url``'s
        host, and the span's name."""
        origin = url[: url.find("/", url.find("://") + 3)]
        key = (id(operation), origin)
        known = self._shared.get(key)
        if known is None:
            parts = parse_url(safe_url(origin))
            scheme = (parts.scheme or "https").lower()
            attributes: _Attributes = {
                "http.request.method": operation.method,
                # An IPv6 address without its URL brackets, as the convention spells it.
                "server.address": (parts.host or "").strip("[]"),
                "server.port": parts.port or _DEFAULT_PORTS.get(scheme, 443),
                "url.template": operation.path,
                "sp_api.api": operation.api,
                "sp_api.operation": operation.operation_id,
            }
            name = f"{operation.method} {operation.path}"
            known = self._shared[key] = (operation, attributes, name)
        return known[1], known[2]

    def start_call(self, operation: Operation[Any], method: str, url: str) -> CallObserver:
        observer = _start_span(self, operation, method, url)
        return observer if observer is not None else CallObserver()

    def __repr__(self) -> str:
        return "OpenTelemetry()"


@_guarded
def _start_span(otel: OpenTelemetry, operation: Operation[Any], method: str, url: str) -> _SpanCall:
    return _SpanCall(otel, operation, method, url)


class _SpanCall(CallObserver):
    """One call's span, made current while the call runs, and its metrics."""

    __slots__ = (
        "_attempts",
        "_context_token",
        "_metric_attributes",
        "_otel",
        "_rate_limit",
        "_request_id",
        "_span",
        "_status",
        "_waited",
    )

    def __init__(self, otel: OpenTelemetry, operation: Operation[Any], method: str, url: str):
        self._otel = otel
        shared, name = otel.shared_attributes(operation, url)
        self._metric_attributes = shared
        scheme = url[: url.find(":")].lower()
        self._span = otel.tracer.start_span(
            name,
            kind=trace.SpanKind.CLIENT,
            attributes={**shared, "url.full": safe_url(url), "url.scheme": scheme},
        )
        self._context_token = otel_context.attach(trace.set_span_in_context(self._span))
        self._attempts = 0
        self._waited = 0.0
        self._request_id: Optional[str] = None
        self._rate_limit: Optional[float] = None
        self._status: Optional[int] = None  # the current attempt's answer

    @_guarded
    def attempt(self, attempt: int, waited: float) -> None:
        self._attempts = attempt
        self._status = None
        if waited > 0:
            self.rate_limit_wait(attempt, waited)

    @_guarded
    def rate_limit_wait(self, attempt: int, seconds: float) -> None:
        self._waited += seconds
        self._span.add_event(
            "sp_api.rate_limit.wait",
            {"sp_api.attempt": attempt, "sp_api.rate_limit.wait_seconds": seconds},
        )
        self._otel.rate_limit_wait.record(seconds, self._metric_attributes)

    @_guarded
    def answered(
        self, attempt: int, status: int, headers: Mapping[str, str], seconds: float
    ) -> None:
        self._status = status
        self._request_id = headers.get(REQUEST_ID_HEADER) or self._request_id
        self._rate_limit = _rate(headers.get(RATE_LIMIT_HEADER)) or self._rate_limit
        attributes: _Attributes = {**self._metric_attributes, "http.response.status_code": status}
        if status >= 400:
            attributes["error.type"] = str(status)
        self._otel.request_duration.record(seconds, attributes)
        if status == 429:
            self._otel.throttled.add(1, self._metric_attributes)

    @_guarded
    def no_answer(self, attempt: int, error: BaseException, seconds: float) -> None:
        attributes: _Attributes = {**self._metric_attributes, "error.type": _error_type(error)}
        self._otel.request_duration.record(seconds, attributes)

    @_guarded
    def retrying(self, attempt: int, reason: str, status: Optional[int], delay: float) -> None:
        attributes: _Attributes = {
            "sp_api.attempt": attempt,
            "sp_api.retry.reason": reason,
            "sp_api.retry.delay_seconds": delay,
        }
        if status is not None:
            attributes["http.response.status_code"] = status
        self._span.add_event("sp_api.retry", attributes)

    @_guarded
    def token_request(
        self, endpoint: str, status: Optional[int], error: Optional[str], seconds: float
    ) -> None:
        attributes: _Attributes = {"sp_api.token.endpoint": endpoint, "sp_api.duration": seconds}
        if status is not None:
            attributes["http.response.status_code"] = status
        if error is not None:
            attributes["error.type"] = error
        self._span.add_event("sp_api.token_refresh", attributes)

    @_guarded
    def journal(
        self, key: str, state: str, status: Optional[int], request_id: Optional[str]
    ) -> None:
        self._span.add_event("sp_api.journal", {"sp_api.journal.state": state})
        if state != "claimed":
            self._span.set_attribute("sp_api.journal.state", state)
        self._otel.journal_transitions.add(
            1, {**self._metric_attributes, "sp_api.journal.state": state}
        )

    @_guarded
    def finished(self, status: Optional[int], error: Optional[BaseException]) -> None:
        span = self._span
        try:
            if isinstance(error, DuplicateSendError):
                self.journal("", "duplicate", None, None)
            final: _Attributes = {
                "sp_api.attempts": self._attempts,
                "sp_api.rate_limit.wait_seconds": self._waited,
            }
            if self._attempts > 1:
                final["http.request.resend_count"] = self._attempts - 1
            if status is None:
                status = self._status  # a call that raised after its last answer
            if status is not None:
                final["http.response.status_code"] = status
            if self._request_id is not None:
                final["sp_api.request_id"] = self._request_id
            if self._rate_limit is not None:
                final["sp_api.rate_limit.limit"] = self._rate_limit
            error_type = None
            if error is not None:
                error_type = _error_type(error)
                span.record_exception(error)
            elif status is not None and status >= 400:
                error_type = str(status)
            if error_type is not None:
                final["error.type"] = error_type
                span.set_status(trace.StatusCode.ERROR)
            span.set_attributes(final)
        finally:
            otel_context.detach(self._context_token)
            span.end()


def _rate(header: Optional[str]) -> Optional[float]:
    try:
        return float(header) if header else None
    except ValueError:
        return None


def _error_type(error: BaseException) -> str:
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"
