"""Client-side rate limiting: one token bucket per operation and per seller credential.

Amazon throttles every operation with a token bucket (``rate`` tokens per second, up to
``burst``) per selling partner and application, and answers 429 beyond it. Waiting here, before
sending, costs nothing; a 429 costs a round trip and a backoff.

Bucket state lives behind :class:`BucketStore`, so it can be kept somewhere shared between
processes; :class:`LocalBucketStore` keeps it in this process.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Protocol, Tuple

from py_sp_api.runtime.exceptions import RateLimitWaitExceeded as RateLimitWaitExceeded
from py_sp_api.runtime.forksafe import reinit_after_fork
from py_sp_api.runtime.operation import Operation, RateLimit

_log = logging.getLogger("py_sp_api.ratelimit")
_RESTATE_AFTER = 10.0  # seconds
_IDLE_SECONDS = 600.0  # unused for this long, and full again: forgotten
_MAX_IDLE_CHECK = 1024  # buckets kept before idle ones are looked for


class BucketStore(Protocol):
    """Where buckets live. Each method is one atomic step, so a shared store stays correct."""

    def reserve(
        self, key: str, rate: float, burst: int, max_wait: Optional[float]
    ) -> Tuple[bool, float]:
        """Take one token for ``key``; return ``(taken, seconds to wait before sending)``.

        ``rate`` and ``burst`` apply unless a rate was learned for ``key`` with
        :meth:`set_rate`. When the wait would exceed ``max_wait`` nothing is taken and
        ``taken`` is False.
        """
        ...

    def set_rate(self, key: str, rate: float) -> None:
        """Record the rate the server stated for ``key`` (from ``x-amzn-RateLimit-Limit``)."""
        ...


@dataclass
class _Bucket:
    tokens: float
    updated: float
    burst: int
    learned_rate: Optional[float] = None
    rate: float = 1.0  # the rate last applied


class LocalBucketStore:
    """Buckets in this process's memory, safe to share between threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: Dict[str, _Bucket] = {}
        reinit_after_fork(self)

    def reserve(
        self, key: str, rate: float, burst: int, max_wait: Optional[float]
    ) -> Tuple[bool, float]:
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= _MAX_IDLE_CHECK:
                    self._forget_idle(now)
                bucket = self._buckets[key] = _Bucket(float(burst), now, burst)
            rate = bucket.rate = bucket.learned_rate or rate
            bucket.burst = burst
            # Refill, then take a token. Tokens may go negative: that is a reservation, and
            # the wait is exactly the time for the refill to cover it.
            tokens = min(float(burst), bucket.tokens + (now - bucket.updated) * rate)
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate
            bucket.updated = now
            if max_wait is not None and wait > max_wait:
                bucket.tokens = tokens
                return False, wait
            bucket.tokens = tokens - 1.0
            return True, wait

    def set_rate(self, key: str, rate: float) -> None:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is not None and bucket.learned_rate != rate:
                bucket.learned_rate = rate

    def _reinit_after_fork(self) -> None:
        # A lock held by another thread of the parent at the fork would never be released.
        self._lock = threading.Lock()

    def _forget_idle(self, now: float) -> None:
        # A process that runs for months sees tokens rotate and sellers come and go. A bucket
        # that has refilled completely is the same as a new one, and one that has not been
        # used for a while can go with it: dropping them changes nothing but memory.
        idle = [
            key
            for key, b in self._buckets.items()
            if now - b.updated > _IDLE_SECONDS and b.tokens + (now - b.updated) * b.rate >= b.burst
        ]
        for key in idle:
            del self._buckets[key]


@dataclass
class RateLimiting:
    """How the client paces itself.

    Args:
        enabled: pace requests to each operation's usage plan (on by default).
        overrides: usage plans to use instead of the documented ones, by method name
            (e.g. ``{"get_attributes": RateLimit(rate=5, burst=10)}``).
        default: a usage plan for every operation not in ``overrides``.
        max_wait: longest a call may wait for a token, in seconds; beyond it
            :class:`RateLimitWaitExceeded` is raised and nothing is sent. ``None`` waits.
        follow_rate_header: adopt the rate stated in ``x-amzn-RateLimit-Limit``.
        headroom: tokens kept in reserve so that jitter between our clock and Amazon's never
            turns a paced request into a 429; 1 by default when the burst allows it.
        store: where bucket state lives; share one store to share buckets between clients.

    Each bucket's plan is resolved on its first use; change settings before making calls.
    """

    enabled: bool = True
    overrides: Mapping[str, RateLimit] = field(default_factory=dict)
    default: Optional[RateLimit] = None
    max_wait: Optional[float] = None
    follow_rate_header: bool = True
    headroom: int = 1
    store: BucketStore = field(default_factory=LocalBucketStore)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    # The last rate header passed to the store per bucket, and when: the same value is stored
    # again only after a while (a shared store may have expired an idle bucket meanwhile).
    _stated: Dict[str, Tuple[str, float]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # (identity, method name) -> (bucket key, rate, burst): the plan resolved once per bucket.
    _buckets: Dict[Tuple[str, str], Tuple[str, float, int]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def plan_for(self, operation: Operation[Any]) -> RateLimit:
        return self.overrides.get(operation.name) or self.default or operation.rate_limit

    def acquire(self, operation: Operation[Any], identity: str) -> float:
        """Block until ``operation`` may be sent for ``identity``; return the seconds waited."""
        if not self.enabled:
            return 0.0
        bucket = self._buckets.get((identity, operation.name))
        if bucket is None:
            if len(self._buckets) >= _MAX_IDLE_CHECK:
                self._buckets.clear()  # a cache: entries are cheap to resolve again
                self._stated.clear()
            plan = self.plan_for(operation)
            burst = max(1, plan.burst - self.headroom) if plan.burst > 1 else 1
            bucket = self._buckets[(identity, operation.name)] = (
                bucket_key(identity, operation),
                plan.rate,
                burst,
            )
        key, rate, burst = bucket
        taken, wait = self.store.reserve(key, rate, burst, self.max_wait)
        if not taken:
            raise RateLimitWaitExceeded(operation.operation_id, wait, self.max_wait or 0.0)
        if wait > 0:
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug("%s: waiting %.3fs for a rate-limit token", operation.operation_id, wait)
            self.sleep(wait)
        return wait

    def observe(self, operation: Operation[Any], identity: str, header: Optional[str]) -> None:
        """Adopt the rate the server stated, if it is a positive number."""
        if not (self.enabled and self.follow_rate_header and header):
            return
        bucket = self._buckets.get((identity, operation.name))
        key = bucket[0] if bucket is not None else bucket_key(identity, operation)
        now = time.monotonic()
        last = self._stated.get(key)
        if last is not None and last[0] == header and now - last[1] < _RESTATE_AFTER:
            return
        rate = parse_rate_header(header)
        if rate is None or operation.name in self.overrides:
            return
        self.store.set_rate(key, rate)
        self._stated[key] = (header, now)


def bucket_key(identity: str, operation: Operation[Any]) -> str:
    return f"{identity}|{operation.operation_id}"


def parse_rate_header(value: str) -> Optional[float]:
    """``x-amzn-RateLimit-Limit`` as requests per second; ``None`` for anything unusable."""
    try:
        rate = float(value.strip())
    except (ValueError, AttributeError):
        return None
    if rate != rate or rate <= 0 or rate == float("inf"):  # NaN, zero, negative, infinite
        return None
    return rate


__all__: Tuple[str, ...] = (
    "BucketStore",
    "LocalBucketStore",
    "RateLimitWaitExceeded",
    "RateLimiting",
    "bucket_key",
    "parse_rate_header",
)
