"""A Selling Partner API test server that throttles like Amazon, plus fake clocks for pacing tests.

:class:`ThrottlingServer` is a :class:`~tests.support.http_server.RecordingServer` whose router
keeps one token bucket per operation (request path): ``burst`` tokens, refilled at ``rate`` per
second. Beyond it the answer is 429 ``QuotaExceeded``, as Amazon sends; otherwise the
spec-faithful 200/201. Every answer carries ``x-amzn-RateLimit-Limit`` with a configurable value.
It can also reject chosen access tokens with Amazon's 403 "The access token you provided has
expired", and queue faults (503s, connection resets, delays) through the recording server's
scripted answers.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from tests.support.http_server import (
    RATE_LIMIT_HEADER,
    RecordedRequest,
    RecordingServer,
    ScriptedResponse,
    SpecRouter,
)

ACCESS_TOKEN_HEADER = "x-amz-access-token"

QUOTA_EXCEEDED_BODY = {
    "errors": [
        {
            "code": "QuotaExceeded",
            "message": "You exceeded your quota for the requested resource.",
        }
    ]
}
TOKEN_EXPIRED_BODY = {
    "errors": [
        {
            "code": "Unauthorized",
            "message": "Access to requested resource is denied.",
            "details": "The access token you provided has expired.",
        }
    ]
}
ACCESS_DENIED_BODY = {
    "errors": [
        {
            "code": "Unauthorized",
            "message": "Access to requested resource is denied.",
            "details": "",
        }
    ]
}
SERVICE_UNAVAILABLE_BODY = {
    "errors": [{"code": "ServiceUnavailable", "message": "Service temporarily unavailable."}]
}


class FakeClock:
    """A monotonic clock that only moves when told to; thread-safe."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


class RecordingSleep:
    """A ``sleep`` that records every requested delay.

    With a :class:`FakeClock` it advances that clock instead of waiting; with ``real=True`` it
    also really sleeps; otherwise it returns at once.
    """

    def __init__(self, clock: Optional[FakeClock] = None, *, real: bool = False) -> None:
        self.clock = clock
        self.real = real
        self._lock = threading.Lock()
        self._calls: List[float] = []

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self._calls.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds)
        elif self.real:
            time.sleep(seconds)

    @property
    def calls(self) -> List[float]:
        with self._lock:
            return list(self._calls)

    @property
    def total(self) -> float:
        return sum(self.calls)


class _Bucket:
    def __init__(self, tokens: float, updated: float) -> None:
        self.tokens = tokens
        self.updated = updated


class ThrottlingRouter(SpecRouter):
    """The spec-faithful router behind a per-operation token bucket and an access-token check.

    Args:
        rate, burst: the bucket of every operation; ``rate=None`` never throttles.
        rate_limit_header: the ``x-amzn-RateLimit-Limit`` value sent with every answer (``None``
            leaves the header out). May be changed while the server runs.
        clock: the server's clock (share a :class:`FakeClock` with the client for exactness).
    """

    def __init__(
        self,
        *,
        rate: Optional[float] = None,
        burst: int = 5,
        rate_limit_header: Optional[str] = "1.0",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.rate = rate
        self.burst = burst
        self.rate_limit_header = rate_limit_header
        self.clock = clock
        self.expired_tokens: Set[str] = set()
        self.expire_every_token = False
        self._lock = threading.Lock()
        self._buckets: Dict[str, _Bucket] = {}
        self._tokens_seen: List[Optional[str]] = []

    def expire_token(self, token: str) -> None:
        """Answer 403 "The access token you provided has expired" to requests carrying it."""
        with self._lock:
            self.expired_tokens.add(token)

    @property
    def tokens_seen(self) -> List[Optional[str]]:
        """The ``x-amz-access-token`` of every request routed here (None when absent)."""
        with self._lock:
            return list(self._tokens_seen)

    def _take(self, key: str) -> bool:
        if self.rate is None:
            return True
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def answer(self, request: RecordedRequest) -> Tuple[int, Dict[str, str], bytes]:
        with self._lock:
            token_values = request.headers.get_all(ACCESS_TOKEN_HEADER)
            token = token_values[0] if len(token_values) == 1 else None
            self._tokens_seen.append(token)
            expired = token is not None and (
                self.expire_every_token or token in self.expired_tokens
            )
            allowed = expired or self._take(request.path)
            header = self.rate_limit_header
        if expired:
            status, headers, body = 403, {"Content-Type": "application/json"}, TOKEN_EXPIRED_BODY
            payload = json.dumps(body).encode("utf-8")
        elif not allowed:
            headers = {"Content-Type": "application/json"}
            status, payload = 429, json.dumps(QUOTA_EXCEEDED_BODY).encode("utf-8")
        else:
            status, headers, payload = super().answer(request)
        headers = dict(headers)
        headers.pop(RATE_LIMIT_HEADER, None)
        if header is not None:
            headers[RATE_LIMIT_HEADER] = header
        return status, headers, payload


class ThrottlingServer(RecordingServer):
    """A :class:`RecordingServer` routed through a :class:`ThrottlingRouter`.

    Keyword arguments go to the router. Faults are queued as scripted answers, which bypass the
    router (no bucket, no token check) and are used in order by the next requests.
    """

    def __init__(self, **router_kwargs: Any) -> None:
        self.throttle = ThrottlingRouter(**router_kwargs)
        super().__init__(router=self.throttle)

    # -- faults ----------------------------------------------------------------------------
    def fail_next(
        self, count: int = 1, status: int = 503, headers: Optional[Mapping[str, str]] = None
    ) -> None:
        """Answer the next ``count`` requests with ``status`` (an Amazon-style errors body)."""
        body = QUOTA_EXCEEDED_BODY if status == 429 else SERVICE_UNAVAILABLE_BODY
        for _ in range(count):
            self.enqueue(status, body, headers)

    def throttle_next(self, count: int = 1, retry_after: Optional[str] = None) -> None:
        """Answer the next ``count`` requests with 429 ``QuotaExceeded``."""
        headers = {"Retry-After": retry_after} if retry_after is not None else None
        self.fail_next(count, status=429, headers=headers)

    def reset_next(self, count: int = 1) -> None:
        """Read the next ``count`` requests, then reset the connection without answering."""
        for _ in range(count):
            self.enqueue(reset=True)

    def delay_next(self, seconds: float, count: int = 1) -> List[ScriptedResponse]:
        """Answer the next ``count`` requests normally but only after ``seconds``."""
        return [self.enqueue(200, {}, delay=seconds) for _ in range(count)]

    def expire_token(self, token: str) -> None:
        self.throttle.expire_token(token)

    # -- counts ----------------------------------------------------------------------------
    def count_status(self, status: int) -> int:
        return sum(1 for response in self.responses if response.status == status)

    @property
    def successes(self) -> int:
        return sum(1 for response in self.responses if 200 <= response.status <= 299)

    @property
    def throttled(self) -> int:
        return self.count_status(429)

    @property
    def tokens_seen(self) -> List[Optional[str]]:
        """The ``x-amz-access-token`` of every recorded request, in order (None when absent)."""
        seen: List[Optional[str]] = []
        for request in self.requests:
            values = request.headers.get_all(ACCESS_TOKEN_HEADER)
            seen.append(values[0] if len(values) == 1 else None)
        return seen
