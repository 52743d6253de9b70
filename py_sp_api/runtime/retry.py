"""When a failed request is sent again, and how long to wait first.

The rule that matters most: a request that may have reached Amazon is resent only if it is
idempotent (GET). A POST that sends a buyer a message is never resent after an unknown
outcome, so a retry can never deliver a message twice. A 429 is always safe to retry: Amazon
refused the request without processing it. So is a connection that failed before any byte
was sent.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, Mapping, Optional, Tuple

from py_sp_api.runtime.headers import RETRY_AFTER_HEADER

__all__ = ["NO_RETRIES", "RETRYABLE_SERVER_STATUSES", "RetryPolicy", "parse_retry_after"]

RETRYABLE_SERVER_STATUSES: Tuple[int, ...] = (500, 502, 503, 504)


@dataclass(frozen=True)
class RetryPolicy:
    """Retry budget and backoff.

    Args:
        max_attempts: total tries per call, the first included (1 disables retries).
        initial_backoff: delay before the first retry, in seconds; doubles each retry.
        max_backoff: cap on any single delay, ``Retry-After`` included.
        jitter: spread delays randomly over [delay/2, delay] so that threads throttled together
            do not come back together.
        sleep: how the client waits out a delay (``time.sleep``); a test may record instead.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    jitter: bool = True
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay(self, attempt: int, retry_after: Optional[float] = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_backoff)
        delay: float = min(self.initial_backoff * 2.0 ** (attempt - 1), self.max_backoff)
        if self.jitter:
            delay *= 0.5 + random.random() / 2  # noqa: S311 - jitter, not cryptography
        return delay

    def retries_status(self, status: int, idempotent: bool) -> bool:
        """Whether an answer with ``status`` may be retried."""
        if status == 429:
            return True
        return idempotent and status in RETRYABLE_SERVER_STATUSES

    @staticmethod
    def retries_transport_failure(request_sent: Optional[bool], idempotent: bool) -> bool:
        """Whether a request that got no answer may be sent again."""
        return request_sent is False or idempotent

    def delay_after_status(
        self, attempt: int, status: int, idempotent: bool, headers: Mapping[str, str]
    ) -> Optional[float]:
        """The retry decision for try ``attempt`` answered ``status``: seconds to wait before
        sending again, or ``None`` to report the answer.

        A ``Retry-After`` longer than ``max_backoff`` is not cut short: the answer is reported.
        """
        if attempt >= self.max_attempts or not self.retries_status(status, idempotent):
            return None
        retry_after = parse_retry_after(headers)
        if retry_after is not None and retry_after > self.max_backoff:
            return None
        return self.delay(attempt, retry_after)

    def delay_after_transport_failure(
        self, attempt: int, request_sent: Optional[bool], idempotent: bool
    ) -> Optional[float]:
        """The retry decision for try ``attempt`` that got no answer: seconds to wait before
        sending again, or ``None`` to raise the failure."""
        if attempt >= self.max_attempts or not self.retries_transport_failure(
            request_sent, idempotent
        ):
            return None
        return self.delay(attempt)


NO_RETRIES = RetryPolicy(max_attempts=1)


def parse_retry_after(headers: Mapping[str, str]) -> Optional[float]:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date); None when absent or bad."""
    value = headers.get(RETRY_AFTER_HEADER)
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
