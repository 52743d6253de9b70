"""Client-side rate limiting: one token bucket per operation and per seller credential.

Amazon throttles every operation with a token bucket (``rate`` tokens per second, up to
``burst``) per selling partner and application, and answers 429 beyond it. Waiting here, before
sending, costs nothing; a 429 costs a round trip and a backoff.

Bucket state lives behind :class:`BucketStore`, so it can be kept somewhere shared between
processes; :class:`LocalBucketStore` keeps it in this process.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Protocol, Tuple

from py_sp_api.runtime.exceptions import (
    ApiTypeError,
    ApiValueError,
    RateLimitWaitExceeded as RateLimitWaitExceeded,
)
from py_sp_api.runtime.forksafe import reinit_after_fork
from py_sp_api.runtime.operation import Operation, RateLimit

_log = logging.getLogger("py_sp_api.ratelimit")
_RESTATE_AFTER = 10.0  # seconds
_IDLE_SECONDS = 600.0  # unused for this long, and full again: forgotten
_MAX_IDLE_CHECK = 1024  # buckets kept before idle ones are looked for
_FORGET_PER_CREATION = 2  # oldest buckets examined per creation: O(1), and ahead of growth
_MAX_HEADER_LENGTH = 32  # a rate needs a few characters; longer is not worth parsing

RATE_BAND = 100.0
"""A rate stated by the server is adopted only between plan / RATE_BAND and plan x RATE_BAND."""

DEFAULT_WAIT_CEILING = 600.0
"""Longest wait, in seconds, for a token when ``max_wait`` is not set."""


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
        # Least recently used first, so idle buckets are found at the front without a scan.
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        reinit_after_fork(self)

    def reserve(
        self, key: str, rate: float, burst: int, max_wait: Optional[float]
    ) -> Tuple[bool, float]:
        with self._lock:
            now = self._clock()
            buckets = self._buckets
            bucket = buckets.get(key)
            if bucket is None:
                if len(buckets) >= _MAX_IDLE_CHECK:
                    self._forget_idle(now)
                bucket = buckets[key] = _Bucket(float(burst), now, burst)
            else:
                buckets.move_to_end(key)
            learned = bucket.learned_rate
            if learned is not None and rate / RATE_BAND <= learned <= rate * RATE_BAND:
                rate = learned
            bucket.rate = rate
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
        """Learn ``rate`` for ``key``; it applies only within the band around the plan's rate."""
        checked_rate(rate, "a learned rate")
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
        # used for a while can go with it: dropping them changes nothing but memory. Looking
        # at a few of the least recently used per creation keeps creation O(1) while still
        # forgetting faster than buckets are made.
        buckets = self._buckets
        for _ in range(_FORGET_PER_CREATION):
            key, oldest = next(iter(buckets.items()))
            idle_for = now - oldest.updated
            if idle_for <= _IDLE_SECONDS:
                return  # the least recently used is in use: so is every other
            if oldest.tokens + idle_for * oldest.rate >= oldest.burst:
                del buckets[key]
            else:
                buckets.move_to_end(key)  # still owes tokens: its debt must be kept


@dataclass
class RateLimiting:
    """How the client paces itself.

    Args:
        enabled: pace requests to each operation's usage plan (on by default).
        overrides: usage plans to use instead of the documented ones, by method name
            (e.g. ``{"get_attributes": RateLimit(rate=5, burst=10)}``). Several of Amazon's
            APIs share method names (``get_order``); ``"api.method"`` (the operation's
            ``api``, e.g. ``"messaging.get_attributes"``) names one API's and wins over the
            bare name.
        default: a usage plan for every operation not in ``overrides``.
        max_wait: longest a call may wait for a token, in seconds; beyond it
            :class:`RateLimitWaitExceeded` is raised and nothing is sent. ``None`` waits up to
            ``wait_ceiling``.
        wait_ceiling: longest wait when ``max_wait`` is ``None`` (600 s): a guard against a
            bucket in absurd debt, never reached by a program that keeps to its plan unless
            hundreds of callers queue on one bucket.
        follow_rate_header: adopt the rate stated in ``x-amzn-RateLimit-Limit`` when it lies
            within ``RATE_BAND`` (100) times the operation's plan either way; another value is
            ignored, with one warning per bucket and value.
        headroom: tokens kept in reserve so that jitter between our clock and Amazon's never
            turns a paced request into a 429; 1 by default when the burst allows it (a whole
            number, 0 or more).
        store: where bucket state lives; share one store to share buckets between clients.

    Each bucket's plan is resolved on its first use; change settings before making calls.
    """

    enabled: bool = True
    overrides: Mapping[str, RateLimit] = field(default_factory=dict)
    default: Optional[RateLimit] = None
    max_wait: Optional[float] = None
    wait_ceiling: float = DEFAULT_WAIT_CEILING
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
    # The last out-of-band rate header per bucket, so each is warned about once.
    _refused: Dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_wait is not None:
            checked_seconds(self.max_wait, "max_wait", zero_allowed=True)
        checked_seconds(self.wait_ceiling, "wait_ceiling", zero_allowed=False)
        _checked_headroom(self.headroom)

    def plan_for(self, operation: Operation[Any]) -> RateLimit:
        return self._override(operation) or self.default or operation.rate_limit

    def burst_for(self, plan: RateLimit) -> int:
        """The burst the client allows itself under ``plan``: the plan's, less ``headroom``."""
        # Checked again here, not only when built: a headroom set later must not lift a burst
        # above Amazon's plan either.
        _checked_headroom(self.headroom)
        return max(1, plan.burst - self.headroom) if plan.burst > 1 else 1

    def _override(self, operation: Operation[Any]) -> Optional[RateLimit]:
        overrides = self.overrides
        if not overrides:
            return None
        return overrides.get(f"{operation.api}.{operation.name}") or overrides.get(operation.name)

    def acquire(self, operation: Operation[Any], identity: str) -> float:
        """Block until ``operation`` may be sent for ``identity``; return the seconds waited."""
        if not self.enabled:
            return 0.0
        bucket = self._buckets.get((identity, operation.bucket_name))
        if bucket is None:
            bucket = self._resolve(operation, identity)
        key, rate, burst = bucket
        limit = self.wait_ceiling if self.max_wait is None else self.max_wait
        taken, wait = self.store.reserve(key, rate, burst, limit)
        # "not wait <= limit" also refuses NaN, from a store that answers nonsense.
        if not (taken and wait <= limit):
            raise RateLimitWaitExceeded(operation.operation_id, wait, limit)
        if wait > 0:
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug("%s: waiting %.3fs for a rate-limit token", operation.operation_id, wait)
            self.sleep(wait)
        return wait

    def observe(self, operation: Operation[Any], identity: str, header: Optional[str]) -> None:
        """Adopt the rate the server stated, if it is a number within the plan's band.

        Never raises: it runs after Amazon answered, and an error here would hide that answer
        (for a message, that it was sent). A store that fails to record the rate is logged.
        """
        if not (self.enabled and self.follow_rate_header and header):
            return
        key, plan_rate, _ = self._buckets.get((identity, operation.bucket_name)) or self._resolve(
            operation, identity
        )
        now = time.monotonic()
        last = self._stated.get(key)
        if last is not None and last[0] == header and now - last[1] < _RESTATE_AFTER:
            return
        rate = parse_rate_header(header)
        if rate is None or self._override(operation) is not None:
            return
        self._stated[key] = (header, now)
        if not plan_rate / RATE_BAND <= rate <= plan_rate * RATE_BAND:
            self._refuse(operation, key, header, rate, plan_rate)
            return
        try:
            self.store.set_rate(key, rate)
        except Exception as exc:
            _log.warning(
                "%s: could not record the stated rate for bucket %s (%s: %s); pacing goes on "
                "at the rate in force",
                operation.operation_id,
                key,
                type(exc).__name__,
                exc,
            )

    def _resolve(self, operation: Operation[Any], identity: str) -> Tuple[str, float, int]:
        if len(self._buckets) >= _MAX_IDLE_CHECK:
            self._buckets.clear()  # a cache: entries are cheap to resolve again
            self._stated.clear()
            self._refused.clear()
        plan = self.plan_for(operation)
        bucket = (bucket_key(identity, operation), plan.rate, self.burst_for(plan))
        self._buckets[(identity, operation.bucket_name)] = bucket
        return bucket

    def _refuse(
        self, operation: Operation[Any], key: str, header: str, rate: float, plan_rate: float
    ) -> None:
        if self._refused.get(key) == header:
            return
        self._refused[key] = header
        _log.warning(
            "%s: ignored x-amzn-RateLimit-Limit %g, outside %g to %g requests/s "
            "(the plan's %g, divided or multiplied by %g); pacing stays at the plan",
            operation.operation_id,
            rate,
            plan_rate / RATE_BAND,
            plan_rate * RATE_BAND,
            plan_rate,
            RATE_BAND,
        )


def bucket_key(identity: str, operation: Operation[Any]) -> str:
    """``identity|api|operationId``: operation ids repeat across APIs, their plans do not."""
    return f"{identity}|{operation.bucket_name}"


def parse_rate_header(value: str) -> Optional[float]:
    """``x-amzn-RateLimit-Limit`` as requests per second; ``None`` for anything unusable."""
    if not isinstance(value, str) or len(value) > _MAX_HEADER_LENGTH:
        return None
    try:
        rate = float(value.strip())
    except ValueError:
        return None
    if not 0 < rate < math.inf:  # also NaN
        return None
    return rate


def checked_rate(rate: float, what: str) -> float:
    """``rate`` if it is a finite positive number of requests per second, else ApiValueError."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise ApiTypeError(f"{what} must be a number of requests/second, not {type(rate).__name__}")
    if not 0 < rate < math.inf:
        raise ApiValueError(
            f"{what} must be a positive, finite number of requests/second: {rate!r}"
        )
    return rate


def _checked_headroom(headroom: int) -> None:
    """A headroom below zero would let a burst go past Amazon's plan, straight into a 429."""
    if isinstance(headroom, bool) or not isinstance(headroom, int):
        raise ApiTypeError(
            f"headroom must be a whole number of tokens, not {type(headroom).__name__}"
        )
    if headroom < 0:
        raise ApiValueError(f"headroom must be a whole number of tokens >= 0: {headroom!r}")


def checked_seconds(seconds: float, what: str, *, zero_allowed: bool) -> float:
    """``seconds`` if it is a finite number of seconds (positive unless zero is allowed)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ApiTypeError(f"{what} must be a number of seconds, not {type(seconds).__name__}")
    if not (0 <= seconds < math.inf if zero_allowed else 0 < seconds < math.inf):
        bound = ">= 0" if zero_allowed else "> 0"
        raise ApiValueError(f"{what} must be a finite number of seconds {bound}: {seconds!r}")
    return seconds


__all__: Tuple[str, ...] = (
    "checked_rate",
    "checked_seconds",
    "DEFAULT_WAIT_CEILING",
    "RATE_BAND",
    "BucketStore",
    "LocalBucketStore",
    "RateLimitWaitExceeded",
    "RateLimiting",
    "bucket_key",
    "parse_rate_header",
)
