"""Hooks and OpenTelemetry: what an operator sees of each call, against real local servers.

Spans and metrics are read back through the OpenTelemetry SDK's in-memory span exporter and
metric reader. Every hook payload and every span, event and metric attribute is scanned for
the access token, the refresh token and the client secret.
"""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import threading
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from py_sp_api import Hooks, RateLimit, RateLimiting, RetryPolicy
from py_sp_api.generated.messaging import (
    ApiClient,
    Configuration,
    CreateConfirmOrderDetailsRequest,
    MessagingApi,
)
from py_sp_api.generated.messaging.exceptions import (
    ApiTypeError,
    DuplicateSendError,
    ServiceException,
    TooManyRequestsException,
)
from py_sp_api.runtime import otel as otel_module
from py_sp_api.runtime.events import (
    AttemptStarted,
    JournalTransition,
    RateLimitWaited,
    ResponseReceived,
    RetryScheduled,
    TokenRefreshed,
    safe_url,
)
from py_sp_api.runtime.journal import SendJournal
from py_sp_api.runtime.otel import OpenTelemetry
from tests.support import RecordingServer
from tests.support.fake_lwa import FakeLwa
from tests.support.throttling import ThrottlingServer

ORDER = "113-1234567-1234567"
MARKETPLACE = ["ATVPDKIKX0DER"]
BODY = CreateConfirmOrderDetailsRequest(text="Could you confirm the engraving?")
FAST_RETRY = RetryPolicy(initial_backoff=0.01, jitter=False)
EVERY_HOOK = (
    "on_attempt",
    "on_response",
    "on_retry",
    "on_rate_limit_wait",
    "on_token_refresh",
    "on_journal",
)


class Recorder:
    """Hooks that record every event, with the thread each one ran on."""

    def __init__(self) -> None:
        self.events: List[Any] = []
        self.threads: List[int] = []

    def __call__(self, event: Any) -> None:
        self.events.append(event)
        self.threads.append(threading.get_ident())

    def hooks(self) -> Hooks:
        return Hooks(**{name: self for name in EVERY_HOOK})

    def of(self, kind: type) -> List[Any]:
        return [event for event in self.events if isinstance(event, kind)]


class Telemetry:
    """An OpenTelemetry on in-memory exporters."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.otel = OpenTelemetry(tracer_provider, MeterProvider(metric_readers=[self.reader]))

    def span(self) -> ReadableSpan:
        finished = self.spans.get_finished_spans()
        assert len(finished) == 1, [s.name for s in finished]
        return finished[0]

    def metrics(self) -> Dict[str, List[Tuple[Dict[str, Any], float]]]:
        """Metric name -> [(attributes, count for a histogram or value for a counter)]."""
        found: Dict[str, List[Tuple[Dict[str, Any], float]]] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points = found.setdefault(metric.name, [])
                    for point in metric.data.data_points:
                        value = getattr(point, "count", None)
                        if value is None:
                            value = point.value  # type: ignore[union-attr]  # no count: a number point
                        points.append((dict(point.attributes or {}), value))
        return found

    def every_attribute_value(self) -> List[str]:
        values: List[str] = []
        for span in self.spans.get_finished_spans():
            values.append(span.name)
            values.extend(f"{k}={v!s}" for k, v in (span.attributes or {}).items())
            for event in span.events:
                values.extend(f"{k}={v!s}" for k, v in (event.attributes or {}).items())
        for points in self.metrics().values():
            for attributes, _ in points:
                values.extend(f"{k}={v}" for k, v in attributes.items())
        return values


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def clients() -> Iterator[List[ApiClient]]:
    made: List[ApiClient] = []
    yield made
    for client in made:
        client.close()


def make_api(clients: List[ApiClient], host: str, **options: Any) -> MessagingApi:
    options.setdefault("rate_limiting", False)
    options.setdefault("retry", FAST_RETRY)
    client = ApiClient(Configuration(host=host, **options))
    clients.append(client)
    return MessagingApi(client)


def payload_values(events: List[Any]) -> List[str]:
    """Every field of every event, as text, and each event's repr."""
    values = [repr(event) for event in events]
    for event in events:
        values.extend(str(getattr(event, f.name)) for f in dataclasses.fields(event))
    return values


def assert_no_secret(values: List[str], secrets: List[str]) -> None:
    assert values, "nothing to check"
    for secret in secrets:
        leaked = [value for value in values if secret in value]
        assert leaked == [], f"a secret leaked into {leaked}"


# -- a call that succeeds -----------------------------------------------------------------------


def test_a_successful_get_is_one_attempt_one_answer_one_span(
    sp: ThrottlingServer, clients: List[ApiClient], recorder: Recorder, telemetry: Telemetry
) -> None:
    api = make_api(clients, sp.url, hooks=recorder.hooks(), telemetry=telemetry.otel)

    api.get_messaging_actions_for_order(ORDER, MARKETPLACE)

    url = f"{sp.url}/messaging/v1/orders/{ORDER}?marketplaceIds=ATVPDKIKX0DER"
    answer_id = sp.responses[0].headers["x-amzn-RequestId"]
    attempt, response = recorder.events
    assert attempt == AttemptStarted("messaging", "getMessagingActionsForOrder", "GET", url, 1)
    assert isinstance(response, ResponseReceived)
    assert (response.attempt, response.status, response.request_id, response.rate_limit) == (
        1,
        200,
        answer_id,
        "1.0",
    )
    assert (response.api, response.operation, response.method, response.url) == (
        "messaging",
        "getMessagingActionsForOrder",
        "GET",
        url,
    )
    assert 0 < response.duration < 5
    assert recorder.threads == [threading.get_ident()] * 2  # on the calling thread

    span = telemetry.span()
    assert span.name == "GET /messaging/v1/orders/{amazonOrderId}"
    assert span.kind == trace.SpanKind.CLIENT
    assert span.status.status_code == trace.StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "server.address": "127.0.0.1",
        "server.port": sp.port,
        "url.full": url,
        "url.scheme": "http",
        "url.template": "/messaging/v1/orders/{amazonOrderId}",
        "http.response.status_code": 200,
        "sp_api.api": "messaging",
        "sp_api.operation": "getMessagingActionsForOrder",
        "sp_api.request_id": answer_id,
        "sp_api.attempts": 1,
        "sp_api.rate_limit.wait_seconds": 0.0,
        "sp_api.rate_limit.limit": 1.0,
    }
    assert span.events == ()

    metrics = telemetry.metrics()
    common = {
        "http.request.method": "GET",
        "server.address": "127.0.0.1",
        "server.port": sp.port,
        "url.template": "/messaging/v1/orders/{amazonOrderId}",
        "sp_api.api": "messaging",
        "sp_api.operation": "getMessagingActionsForOrder",
    }
    assert metrics["http.client.request.duration"] == [
        ({**common, "http.response.status_code": 200}, 1)
    ]
    assert "sp_api.throttled_responses" not in metrics


def test_the_span_is_current_while_the_call_runs(
    sp: ThrottlingServer, clients: List[ApiClient], telemetry: Telemetry
) -> None:
    # So that spans made inside the call (urllib3 instrumentation, a hook's own) are children.
    seen: List[Any] = []
    hooks = Hooks(on_attempt=lambda event: seen.append(trace.get_current_span()))
    api = make_api(clients, sp.url, hooks=hooks, telemetry=telemetry.otel)

    api.get_messaging_actions_for_order(ORDER, MARKETPLACE)

    span = telemetry.span()
    assert seen[0].get_span_context().span_id == span.context.span_id
    assert trace.get_current_span() is trace.INVALID_SPAN  # detached afterwards


def test_an_unread_response_is_observed_too(
    sp: ThrottlingServer, clients: List[ApiClient], recorder: Recorder, telemetry: Telemetry
) -> None:
    sp.fail_next(1, status=503)
    api = make_api(clients, sp.url, hooks=recorder.hooks(), telemetry=telemetry.otel)

    response = api.get_messaging_actions_for_order_without_preload_content(ORDER, MARKETPLACE)
    body = response.read()
    response.release_conn()

    assert body  # the caller still reads the body the client left unread
    assert [e.status for e in recorder.of(ResponseReceived)] == [503, 200]
    attributes = dict(telemetry.span().attributes or {})
    assert (attributes["http.response.status_code"], attributes["sp_api.attempts"]) == (200, 2)


# -- 429, then success --------------------------------------------------------------------------


def test_a_429_then_success_is_reported_as_a_retry(
    sp: ThrottlingServer, clients: List[ApiClient], recorder: Recorder, telemetry: Telemetry
) -> None:
    sp.throttle_next(1, retry_after="0.02")
    api = make_api(clients, sp.url, hooks=recorder.hooks(), telemetry=telemetry.otel)

    api.create_confirm_order_details(ORDER, MARKETPLACE, BODY)

    kinds = [type(event).__name__ for event in recorder.events]
    assert kinds == [
        "AttemptStarted",
        "ResponseReceived",
        "RetryScheduled",
        "AttemptStarted",
        "ResponseReceived",
    ]
    assert [e.status for e in recorder.of(ResponseReceived)] == [429, 201]
    (retry,) = recorder.of(RetryScheduled)
    assert retry == RetryScheduled(
        "messaging", "createConfirmOrderDetails", 1, "HTTP 429", 429, 0.02
    )
    assert [e.attempt for e in recorder.of(AttemptStarted)] == [1, 2]

    span = telemetry.span()
    attributes = dict(span.attributes or {})
    assert attributes["http.response.status_code"] == 201
    assert attributes["sp_api.attempts"] == 2
    assert attributes["http.request.resend_count"] == 1
    assert "error.type" not in attributes
    assert [(e.name, dict(e.attributes or {})) for e in span.events] == [
        (
            "sp_api.retry",
            {
                "sp_api.attempt": 1,
                "sp_api.retry.reason": "HTTP 429",
                "sp_api.retry.delay_seconds": 0.02,
                "http.response.status_code": 429,
            },
        )
    ]

    metrics = telemetry.metrics()
    by_status = {
        attrs["http.response.status_code"]: (attrs.get("error.type"), count)
        for attrs, count in metrics["http.client.request.duration"]
    }
    assert by_status == {429: ("429", 1), 201: (None, 1)}
    ((throttled_attributes, throttled),) = metrics["sp_api.throttled_responses"]
    assert throttled == 1
    assert throttled_attributes["sp_api.operation"] == "createConfirmOrderDetails"


# -- a POST answered 503: never resent ----------------------------------------------------------


def test_a_post_503_is_one_attempt_an_error_span_and_no_retry(
    sp: ThrottlingServer, clients: List[ApiClient], recorder: Recorder, telemetry: Telemetry
) -> None:
    sp.fail_next(1, status=503)
    api = make_api(clients, sp.url, hooks=recorder.hooks(), telemetry=telemetry.otel)

    with pytest.raises(ServiceException):
        api.create_confirm_order_details(ORDER, MARKETPLACE, BODY)

    assert sp.request_count == 1
    assert [type(e).__name__ for e in recorder.events] == ["AttemptStarted", "ResponseReceived"]
    assert recorder.of(ResponseReceived)[0].status == 503
    span = telemetry.span()
    attributes = dict(span.attributes or {})
    assert attributes["http.response.status_code"] == 503
    assert attributes["error.type"] == "503"
    assert attributes["sp_api.attempts"] == 1
    assert "http.request.resend_count" not in attributes
    assert span.status.status_code == trace.StatusCode.ERROR
    assert span.events == ()
    ((metric_attributes, count),) = telemetry.metrics()["http.client.request.duration"]
    assert (metric_attributes["http.response.status_code"], metric_attributes["error.type"]) == (
        503,
        "503",
    )
    assert count == 1


def test_a_dropped_connection_then_success_reports_the_error_type(
    sp: ThrottlingServer, clients: List[ApiClient], recorder: Recorder, telemetry: Telemetry
) -> None:
    sp.reset_next(1)
    api = make_api(clients, sp.url, hooks=recorder.hooks(), telemetry=telemetry.otel)

    api.get_messaging_actions_for_order(ORDER, MARKETPLACE)

    (retry,) = recorder.of(RetryScheduled)
    assert retry.status is None
    assert retry.attempt == 1
    assert "connection" in retry.reason
    errors = [
        attrs.get("error.type") for attrs, _ in telemetry.metrics()["http.client.request.duration"]
    ]
    assert sorted(map(str, errors)) == ["None", "py_sp_api.runtime.exceptions.ApiConnectionError"]


# -- token refresh ------------------------------------------------------------------------------


def test_token_requests_and_an_expired_token_are_reported_without_secrets(
    sp: ThrottlingServer,
    lwa: FakeLwa,
    clients: List[ApiClient],
    recorder: Recorder,
    telemetry: Telemetry,
) -> None:
    api = make_api(
        clients,
        sp.url,
        credentials=lwa.credentials(),
        hooks=recorder.hooks(),
        telemetry=telemetry.otel,
    )
    api.get_messaging_actions_for_order(ORDER, MARKETPLACE)
    (first,) = recorder.of(TokenRefreshed)
    assert (first.status, first.error, first.endpoint) == (200, None, lwa.url)
    assert (first.api, first.operation) == ("messaging", "getMessagingActionsForOrder")
    assert 0 < first.duration < 5

    sp.expire_token(lwa.issued[0])
    api.get_messaging_actions_for_order(ORDER, MARKETPLACE)

    assert [e.status for e in recorder.of(TokenRefreshed)] == [200, 200]
    (retry,) = recorder.of(RetryScheduled)
    assert (retry.reason, retry.status, retry.delay) == ("access token expired", 403, 0.0)
    assert [e.status for e in recorder.of(ResponseReceived)] == [200, 403, 200]

    first_span, second = telemetry.spans.get_finished_spans()
    assert [e.name for e in first_span.events] == ["sp_api.token_refresh"]
    # The new token is fetched to decide whether a resend can help, then the resend announced.
    assert [e.name for e in second.events] == ["sp_api.token_refresh", "sp_api.retry"]
    refresh = dict(second.events[0].attributes or {})
    assert refresh["sp_api.token.endpoint"] == lwa.url
    assert refresh["http.response.status_code"] == 200

    secrets = [*lwa.secrets(), lwa.client_secret, lwa.refresh_token]
    assert len(lwa.issued) == 2
    assert_no_secret(payload_values(recorder.events), secrets)
    assert_no_secret(telemetry.every_attribute_value(), secrets)


def test_a_token_endpoint_that_cannot_be_reached_is_reported(
    sp: ThrottlingServer, clients: List[ApiClient], recorder: Recorder
) -> None:
    from py_sp_api import LwaCredentials, LwaTokenProvider
    from py_sp_api.generated.messaging.exceptions import LwaAuthError

    with RecordingServer() as closed:
        endpoint = f"{closed.url}/auth/o2/token"
    credentials = LwaCredentials("id", "the-secret", "Atzr|the-refresh", endpoint=endpoint)
    provider = LwaTokenProvider(credentials, max_attempts=1)
    api = make_api(clients, sp.url, token_provider=provider, hooks=recorder.hooks())

    with pytest.raises(LwaAuthError):
        api.get_messaging_actions_for_order(ORDER, MARKETPLACE)

    (refresh,) = recorder.of(TokenRefreshed)
    assert (refresh.status, refresh.error) == (None, "ApiConnectionError")
    assert_no_secret(payload_values(recorder.events), ["the-secret", "Atzr|the-refresh"])


# -- rate-limit wait ----------------------------------------------------------------------------


def test_a_rate_limit_wait_is_reported_with_its_seconds(
    sp: ThrottlingServer, clients: List[ApiClient], recorder: Recorder, telemetry: Telemetry
) -> None:
    pacing = RateLimiting(default=RateLimit(rate=20, burst=1), headroom=0, follow_rate_header=False)
    api = make_api(
        clients, sp.url, rate_limiting=pacing, hooks=recorder.hooks(), telemetry=telemetry.otel
    )

    api.get_messaging_actions_for_order(ORDER, MARKETPLACE)
    api.get_messaging_actions_for_order(ORDER, MARKETPLACE)

    (wait,) = recorder.of(RateLimitWaited)
    assert (wait.attempt, wait.operation) == (1, "getMessagingActionsForOrder")
    assert 0.01 < wait.seconds <= 0.06
    second = telemetry.spans.get_finished_spans()[1]
    assert dict(second.attributes or {})["sp_api.rate_limit.wait_seconds"] == wait.seconds
    assert [e.name for e in second.events] == ["sp_api.rate_limit.wait"]
    ((_, waits),) = telemetry.metrics()["sp_api.rate_limit.wait.duration"]
    assert waits == 1


# -- the send journal ---------------------------------------------------------------------------


def test_a_journaled_post_answered_503_reads_unknown_in_hooks_span_and_metrics(
    server: RecordingServer,
    lwa: FakeLwa,
    clients: List[ApiClient],
    recorder: Recorder,
    telemetry: Telemetry,
) -> None:
    journal = SendJournal.memory()
    server.enqueue(503, {}, {"x-amzn-RequestId": "rid-503"})
    api = make_api(
        clients,
        server.url,
        journal=journal,
        credentials=lwa.credentials(),
        rate_limiting=True,
        hooks=recorder.hooks(),
        telemetry=telemetry.otel,
    )

    with pytest.raises(ServiceException):
        api.create_confirm_order_details(ORDER, MARKETPLACE, BODY)

    claimed, settled = recorder.of(JournalTransition)
    (entry,) = journal.entries()
    assert entry.state == "unknown"
    assert (claimed.state, claimed.key, claimed.status) == ("claimed", entry.key, None)
    assert (settled.state, settled.key, settled.status, settled.request_id) == (
        "unknown",
        entry.key,
        503,
        "rid-503",
    )
    kinds = [type(event).__name__ for event in recorder.events]
    assert kinds == [
        "JournalTransition",
        "TokenRefreshed",
        "AttemptStarted",
        "ResponseReceived",
        "JournalTransition",
    ]

    span = telemetry.span()
    assert dict(span.attributes or {})["sp_api.journal.state"] == "unknown"
    journal_events = [dict(e.attributes or {}) for e in span.events if e.name == "sp_api.journal"]
    assert journal_events == [
        {"sp_api.journal.state": "claimed"},
        {"sp_api.journal.state": "unknown"},
    ]
    transitions = {
        attrs["sp_api.journal.state"]: count
        for attrs, count in telemetry.metrics()["sp_api.journal.transitions"]
    }
    assert transitions == {"claimed": 1, "unknown": 1}

    # The same message again: refused by the journal, nothing sent, reported as a duplicate.
    with pytest.raises(DuplicateSendError):
        api.create_confirm_order_details(ORDER, MARKETPLACE, BODY)
    assert server.request_count == 1
    duplicate = recorder.of(JournalTransition)[-1]
    assert (duplicate.state, duplicate.key) == ("duplicate", entry.key)
    refused = telemetry.spans.get_finished_spans()[1]
    error_type = dict(refused.attributes or {})["error.type"]
    assert isinstance(error_type, str)
    assert error_type.endswith("DuplicateSendError")
    assert dict(refused.attributes or {})["sp_api.attempts"] == 0
    assert_no_secret(payload_values(recorder.events), lwa.secrets())
    assert_no_secret(telemetry.every_attribute_value(), lwa.secrets())


def test_a_journaled_post_sent_then_a_rejected_one(
    server: RecordingServer, clients: List[ApiClient], recorder: Recorder
) -> None:
    journal = SendJournal.memory()
    server.enqueue(201, {}, {"x-amzn-RequestId": "rid-sent"})
    server.enqueue(429, {}, {"Retry-After": "60"})  # not retried: Retry-After past max_backoff
    api = make_api(
        clients,
        server.url,
        journal=journal,
        retry=RetryPolicy(max_backoff=1.0),
        hooks=recorder.hooks(),
    )

    api.create_confirm_order_details(ORDER, MARKETPLACE, BODY)
    with pytest.raises(TooManyRequestsException):
        api.create_confirm_order_details(ORDER, MARKETPLACE, BODY, _send_key="again")

    states = [(e.state, e.status) for e in recorder.of(JournalTransition)]
    assert states == [("claimed", None), ("sent", 201), ("claimed", None), ("rejected", 429)]


# -- many threads -------------------------------------------------------------------------------


def test_hooks_run_on_each_calling_thread(
    sp: ThrottlingServer, clients: List[ApiClient], telemetry: Telemetry
) -> None:
    seen: List[Tuple[str, int]] = []  # list.append is atomic: safe from many threads
    hooks = Hooks(on_attempt=lambda e: seen.append((e.operation, threading.get_ident())))
    api = make_api(clients, sp.url, hooks=hooks, telemetry=telemetry.otel)
    callers: List[int] = []

    def caller() -> None:
        callers.append(threading.get_ident())
        for _ in range(5):
            api.get_messaging_actions_for_order(ORDER, MARKETPLACE)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)

    assert sorted(ident for _, ident in seen) == sorted(callers * 5)
    spans = telemetry.spans.get_finished_spans()
    assert len(spans) == 20
    assert all(span.parent is None for span in spans)  # no call's span nests in another's


# -- hooks that fail ----------------------------------------------------------------------------


def test_a_raising_hook_is_logged_once_and_changes_nothing(
    sp: ThrottlingServer, clients: List[ApiClient], caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: Any) -> None:
        raise RuntimeError("hook bug")

    quiet = make_api(clients, sp.url)
    sp.throttle_next(1, retry_after="0")
    expected = quiet.get_messaging_actions_for_order(ORDER, MARKETPLACE)
    sent_without_hooks = sp.request_count

    loud = make_api(clients, sp.url, hooks=Hooks(**{name: broken for name in EVERY_HOOK}))
    sp.throttle_next(1, retry_after="0")
    with caplog.at_level(logging.ERROR, logger="py_sp_api.hooks"):
        results = [loud.get_messaging_actions_for_order(ORDER, MARKETPLACE) for _ in range(3)]
    sent_with_hooks = sp.request_count - sent_without_hooks

    assert all(result == expected for result in results)
    assert sent_with_hooks == sent_without_hooks + 2  # the same 429 + resend, then 2 calls
    logged = sorted(r.getMessage().split(" (")[0] for r in caplog.records)
    assert logged == ["hook on_attempt", "hook on_response", "hook on_retry"]
    assert all(r.exc_info is not None for r in caplog.records)


def test_a_failing_tracer_never_breaks_a_call(
    sp: ThrottlingServer,
    clients: List[ApiClient],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # "Logged once" is per process: start from a process that has logged nothing yet.
    monkeypatch.setattr(otel_module, "_failed", set())

    class BrokenTracerProvider(trace.TracerProvider):
        def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
            return BrokenTracer()

    class BrokenTracer(trace.NoOpTracer):
        def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
            raise RuntimeError("exporter bug")

    otel = OpenTelemetry(tracer_provider=BrokenTracerProvider())
    api = make_api(clients, sp.url, telemetry=otel)
    with caplog.at_level(logging.ERROR, logger="py_sp_api.otel"):
        for _ in range(2):
            api.get_messaging_actions_for_order(ORDER, MARKETPLACE)
    assert sp.request_count == 2
    assert len(caplog.records) == 1


# -- configuration ------------------------------------------------------------------------------


def test_hooks_and_telemetry_are_checked_when_set() -> None:
    with pytest.raises(ApiTypeError, match="on_retry must be a callable"):
        Hooks(on_retry="print")  # type: ignore[arg-type]  # on purpose
    with pytest.raises(ApiTypeError, match="hooks must be a Hooks"):
        Configuration(hooks=print)  # type: ignore[arg-type]  # on purpose
    with pytest.raises(ApiTypeError, match="start_call"):
        Configuration(telemetry=object())  # type: ignore[arg-type]  # on purpose


def test_no_hooks_means_no_observer_at_all() -> None:
    assert Configuration()._instrumentation is None
    assert Configuration(hooks=Hooks())._instrumentation is None  # none set: nothing to tell
    config = Configuration(hooks=Hooks(on_retry=print))
    assert config._instrumentation is config.hooks
    config.hooks = None
    assert config._instrumentation is None


_UNUSED_PROBE = """
import sys
from tests.support import RecordingServer
from py_sp_api.generated.messaging import ApiClient, Configuration, MessagingApi
with RecordingServer() as server:
    api = MessagingApi(ApiClient(Configuration(host=server.url)))
    api.get_messaging_actions_for_order("113-1234567-1234567", ["ATVPDKIKX0DER"])
print(sorted(m for m in sys.modules if "opentelemetry" in m or m == "py_sp_api.runtime.events"))
"""


def test_without_hooks_or_telemetry_nothing_of_them_is_loaded() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _UNUSED_PROBE], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://h.example/p?marketplaceIds=A1", "https://h.example/p?marketplaceIds=A1"),
        ("https://u:pw@h.example/p", "https://REDACTED:REDACTED@h.example/p"),
        (
            "https://h.example/p?a=1&access_token=s3cret&X-Amz-Signature=abc&b",
            "https://h.example/p?a=1&access_token=REDACTED&X-Amz-Signature=REDACTED&b",
        ),
        ("https://h.example/p?apiKey=k#frag", "https://h.example/p?apiKey=REDACTED#frag"),
        # The keys OpenTelemetry's url.full convention names (pre-signed S3 and Azure URLs).
        (
            "https://h.example/p?AWSAccessKeyId=AKIA1&Expires=9&sig=s1&design=d",
            "https://h.example/p?AWSAccessKeyId=REDACTED&Expires=9&sig=REDACTED&design=d",
        ),
    ],
)
def test_urls_in_events_carry_no_credentials(url: str, shown: Optional[str]) -> None:
    assert safe_url(url) == shown


# -- a hook interrupted (KeyboardInterrupt and other BaseExceptions propagate) -------------------


class Interrupt:
    """A hook that raises KeyboardInterrupt (Ctrl-C while it runs) for one kind of event."""

    def __init__(self, when: Any) -> None:
        self.when = when

    def __call__(self, event: Any) -> None:
        if self.when(event):
            raise KeyboardInterrupt


def test_an_interrupt_in_the_claimed_hook_releases_the_claim_nothing_sent(
    server: RecordingServer, clients: List[ApiClient]
) -> None:
    journal = SendJournal.memory()
    hooks = Hooks(on_journal=Interrupt(lambda event: event.state == "claimed"))
    api = make_api(clients, server.url, journal=journal, hooks=hooks)

    with pytest.raises(KeyboardInterrupt):
        api.create_confirm_order_details(ORDER, MARKETPLACE, BODY)

    assert server.request_count == 0
    # Nothing left the process: the key is free again, not held in_flight until its lease ends.
    assert [entry.state for entry in journal.entries()] == []


def test_an_interrupt_in_the_expired_token_retry_hook_releases_the_claim(
    sp: ThrottlingServer, lwa: FakeLwa, clients: List[ApiClient]
) -> None:
    journal = SendJournal.memory()
    hooks = Hooks(on_retry=Interrupt(lambda event: event.reason == "access token expired"))
    api = make_api(clients, sp.url, journal=journal, credentials=lwa.credentials(), hooks=hooks)
    api.get_messaging_actions_for_order(ORDER, MARKETPLACE)  # fetches the token
    sp.expire_token(lwa.issued[0])

    with pytest.raises(KeyboardInterrupt):
        api.create_confirm_order_details(ORDER, MARKETPLACE, BODY)

    # Amazon refused the expired token without processing anything: the message was not sent.
    assert sp.successes == 1
    assert [entry.state for entry in journal.entries()] == []


def test_an_interrupt_in_a_hook_still_ends_the_span(
    server: RecordingServer, clients: List[ApiClient], telemetry: Telemetry
) -> None:
    journal = SendJournal.memory()
    server.enqueue(201, {}, {"x-amzn-RequestId": "rid-sent"})
    hooks = Hooks(on_journal=Interrupt(lambda event: event.state == "duplicate"))
    api = make_api(clients, server.url, journal=journal, hooks=hooks, telemetry=telemetry.otel)
    api.create_confirm_order_details(ORDER, MARKETPLACE, BODY)

    with pytest.raises(KeyboardInterrupt):
        api.create_confirm_order_details(ORDER, MARKETPLACE, BODY)

    assert trace.get_current_span() is trace.INVALID_SPAN  # not left attached to the thread
    assert len(telemetry.spans.get_finished_spans()) == 2


def test_an_answer_too_large_to_read_is_still_an_answer(
    server: RecordingServer, clients: List[ApiClient], recorder: Recorder, telemetry: Telemetry
) -> None:
    from py_sp_api.generated.messaging.exceptions import ApiResponseTooLargeError

    server.enqueue(201, b"x" * 100, {"x-amzn-RequestId": "rid-big"})
    api = make_api(
        clients,
        server.url,
        max_response_bytes=10,
        hooks=recorder.hooks(),
        telemetry=telemetry.otel,
    )

    with pytest.raises(ApiResponseTooLargeError):
        api.create_confirm_order_details(ORDER, MARKETPLACE, BODY)

    # Amazon accepted the message: whoever counts answers must see this 201.
    assert [(e.status, e.request_id) for e in recorder.of(ResponseReceived)] == [(201, "rid-big")]
    attributes = dict(telemetry.span().attributes or {})
    assert (attributes["http.response.status_code"], attributes["sp_api.request_id"]) == (
        201,
        "rid-big",
    )
    statuses = [
        attrs.get("http.response.status_code")
        for attrs, _ in telemetry.metrics()["http.client.request.duration"]
    ]
    assert statuses == [201]


def test_a_token_hook_may_call_the_api_itself(
    sp: ThrottlingServer, lwa: FakeLwa, clients: List[ApiClient], recorder: Recorder
) -> None:
    # The token provider holds its lock while it asks LWA: a hook run there that calls the
    # API (which needs the token) would wait for that lock forever.
    box: List[MessagingApi] = []

    def on_token_refresh(event: TokenRefreshed) -> None:
        recorder(event)
        if len(recorder.events) == 1:
            box[0].get_messaging_actions_for_order(ORDER, MARKETPLACE)

    hooks = Hooks(on_token_refresh=on_token_refresh)
    box.append(make_api(clients, sp.url, credentials=lwa.credentials(), hooks=hooks))
    caller = threading.Thread(
        target=box[0].get_messaging_actions_for_order, args=(ORDER, MARKETPLACE), daemon=True
    )
    caller.start()
    caller.join(timeout=5)

    assert not caller.is_alive(), "the call hung"
    assert sp.successes == 2
    assert [e.status for e in recorder.of(TokenRefreshed)] == [200]


def test_telemetry_given_as_a_class_not_an_instance_is_refused() -> None:
    # OpenTelemetry.start_call is callable on the class too; every call would then fail with
    # a TypeError about a missing argument.
    with pytest.raises(ApiTypeError, match=r"OpenTelemetry\(\)"):
        Configuration(telemetry=OpenTelemetry)  # type: ignore[arg-type]  # the class, on purpose


def test_server_address_of_an_ipv6_host_has_no_brackets(
    clients: List[ApiClient], telemetry: Telemetry
) -> None:
    import socket

    from py_sp_api.generated.messaging.exceptions import ApiConnectionError

    try:
        with socket.socket(socket.AF_INET6) as probe:  # a port nothing listens on
            probe.bind(("::1", 0))
            port = probe.getsockname()[1]
    except OSError:
        pytest.skip("no IPv6 loopback here")
    api = make_api(
        clients,
        f"http://[::1]:{port}",
        retry=RetryPolicy(max_attempts=1),
        telemetry=telemetry.otel,
    )

    with pytest.raises(ApiConnectionError):
        api.get_messaging_actions_for_order(ORDER, MARKETPLACE)

    attributes = dict(telemetry.span().attributes or {})
    # OpenTelemetry's server.address is the bare IP (url.full keeps the brackets).
    assert (attributes["server.address"], attributes["server.port"]) == ("::1", port)
    ((metric_attributes, _),) = telemetry.metrics()["http.client.request.duration"]
    assert metric_attributes["server.address"] == "::1"


def test_an_answer_whose_body_was_cut_off_is_still_an_answer(
    server: RecordingServer, clients: List[ApiClient], recorder: Recorder, telemetry: Telemetry
) -> None:
    from py_sp_api.generated.messaging.exceptions import ApiConnectionError

    server.enqueue(201, b'{"err', {"x-amzn-RequestId": "rid-cut"}, content_length=100)
    api = make_api(clients, server.url, hooks=recorder.hooks(), telemetry=telemetry.otel)

    with pytest.raises(ApiConnectionError):
        api.create_confirm_order_details(ORDER, MARKETPLACE, BODY)

    # Amazon answered 201 (the message was sent); only the body did not arrive whole.
    assert server.request_count == 1
    assert [(e.status, e.request_id) for e in recorder.of(ResponseReceived)] == [(201, "rid-cut")]
    attributes = dict(telemetry.span().attributes or {})
    assert attributes["http.response.status_code"] == 201
    assert attributes["sp_api.request_id"] == "rid-cut"
    assert attributes["error.type"] == "py_sp_api.runtime.exceptions.ApiConnectionError"
    statuses = [
        attrs.get("http.response.status_code")
        for attrs, _ in telemetry.metrics()["http.client.request.duration"]
    ]
    assert statuses == [201]


def test_a_coroutine_function_is_refused_as_a_hook() -> None:
    # Hooks are called, never awaited: an async hook would silently do nothing.
    async def on_response(event: ResponseReceived) -> None:
        pass

    with pytest.raises(ApiTypeError, match=r"on_response .*async"):
        Hooks(on_response=on_response)  # type: ignore[arg-type]  # async on purpose


def test_events_can_be_pickled_and_copied(
    sp: ThrottlingServer, lwa: FakeLwa, clients: List[ApiClient], recorder: Recorder
) -> None:
    # A hook may hand events to another process (a multiprocessing queue pickles them).
    import copy
    import pickle

    sp.throttle_next(1, retry_after="0")
    pacing = RateLimiting(default=RateLimit(rate=50, burst=1), headroom=0, follow_rate_header=False)
    api = make_api(
        clients,
        sp.url,
        credentials=lwa.credentials(),
        journal=SendJournal.memory(),
        rate_limiting=pacing,
        hooks=recorder.hooks(),
    )
    api.create_confirm_order_details(ORDER, MARKETPLACE, BODY)
    kinds = {type(event).__name__ for event in recorder.events}
    assert len(kinds) == len(EVERY_HOOK), kinds

    for event in recorder.events:
        assert pickle.loads(pickle.dumps(event)) == event
        assert copy.copy(event) == event


def test_a_failed_token_refresh_after_an_expired_token_releases_the_claim(
    sp: ThrottlingServer, lwa: FakeLwa, clients: List[ApiClient], recorder: Recorder
) -> None:
    from py_sp_api.generated.messaging.exceptions import LwaAuthError

    journal = SendJournal.memory()
    api = make_api(
        clients,
        sp.url,
        journal=journal,
        token_provider=lwa.provider(max_attempts=1),
        hooks=recorder.hooks(),
    )
    api.get_messaging_actions_for_order(ORDER, MARKETPLACE)  # fetches the token
    sp.expire_token(lwa.issued[0])
    lwa.server_error()

    with pytest.raises(LwaAuthError):
        api.create_confirm_order_details(ORDER, MARKETPLACE, BODY)

    # Amazon refused the expired token (nothing processed) and no resend left: not sent.
    assert sp.successes == 1
    assert [entry.state for entry in journal.entries()] == []
    assert [e.state for e in recorder.of(JournalTransition)] == ["claimed", "released"]


def test_lwa_failing_before_anything_was_sent_releases_the_claim(
    server: RecordingServer, lwa: FakeLwa, clients: List[ApiClient], recorder: Recorder
) -> None:
    # LWA's 500 is not Amazon's answer to the message: nothing was sent (send-journal.md).
    from py_sp_api.generated.messaging.exceptions import LwaAuthError

    journal = SendJournal.memory()
    lwa.server_error()
    api = make_api(
        clients,
        server.url,
        journal=journal,
        token_provider=lwa.provider(max_attempts=1),
        hooks=recorder.hooks(),
    )

    with pytest.raises(LwaAuthError):
        api.create_confirm_order_details(ORDER, MARKETPLACE, BODY)

    assert server.request_count == 0
    assert [entry.state for entry in journal.entries()] == []
    assert [e.state for e in recorder.of(JournalTransition)] == ["claimed", "released"]
