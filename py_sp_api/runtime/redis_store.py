"""Rate-limit buckets shared through Redis, by every process and host of one application.

Amazon keeps one token bucket per operation, seller and application, however many workers send
requests. :class:`RedisBucketStore` keeps the client's buckets in Redis so that all of them pace
themselves against the same bucket. Each acquisition is one Lua script run on the server (one
atomic step, timed by Redis's own clock), so hosts whose clocks disagree still agree on the
bucket.

When Redis is unreachable or slow, calls neither hang nor fail: the store falls back to a local
bucket at ``rate / workers`` (``workers`` being how many processes share the plan), logs one
warning, and retries Redis every ``retry_interval`` seconds. Once Redis answers, every process
goes back to the shared buckets at one moment agreed through Redis, so that none paces on the
shared bucket while others still pace on their local ones.

The ``redis`` package is optional (``pip install "py-sp-api[redis]"``); it is imported only when a
store is created.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
import time
from types import ModuleType
from typing import TYPE_CHECKING, Any, Optional, Set, Tuple, Type

from py_sp_api.runtime.exceptions import ApiTypeError, ApiValueError, RateLimitStoreError
from py_sp_api.runtime.forksafe import reinit_after_fork
from py_sp_api.runtime.ratelimit import (
    RATE_BAND,
    LocalBucketStore,
    checked_rate,
    checked_seconds,
)

if TYPE_CHECKING:
    import redis

_log = logging.getLogger("py_sp_api.ratelimit")

DEFAULT_PREFIX = "py-sp-api"
DEFAULT_SOCKET_TIMEOUT = 0.25
"""Seconds a Redis command may take before the store falls back (connect and read alike)."""
MAX_EXPIRY = 86_400.0
"""Longest a bucket key is kept, in seconds, whatever its state says: one day."""
_MAX_RETRY_INTERVAL = 3600.0
_SKEW_MARGIN = 1.0  # seconds a bucket may be ahead of Redis's clock beyond a resume time

# KEYS[1]: the bucket's hash. ARGV: rate, burst, max_wait (negative: no limit), shortest idle
# expiry in milliseconds, resume time (Redis time in seconds, 0: none), tokens of a bucket reset
# at that resume, how far "ts" may be ahead of Redis's clock (seconds), the band of learned
# rates around the plan's, longest expiry in milliseconds. Returns {taken (0/1), wait in
# seconds as a string}.
#
# The hash holds "tokens" at Redis time "ts", and "rate" once a rate was learned with set_rate.
# Tokens may go negative: that is a reservation, and the wait is exactly the time for the refill
# to cover it (as in LocalBucketStore). A "ts" in the future means the bucket starts refilling
# only then. Numbers are kept as strings with full precision, since a Lua number converted to a
# reply would lose its fraction.
#
# After an outage the processes come back to Redis together at the resume time; a bucket last
# used before it (or missing, as after a restart of Redis) is then reset: not full, since the
# plan was spent locally meanwhile, but with the requests the processes still have in flight
# from their local buckets (about one each) reserved.
#
# Nothing stored is trusted beyond reason: a learned rate outside the band around the plan
# (written by an older client) is dropped, a "ts" further ahead than a resume can put it (a
# failover to a replica whose clock is behind, an NTP step) is taken as clock skew and brought
# back to now, and no expiry exceeds the longest one.
_RESERVE_SCRIPT = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local min_ttl = tonumber(ARGV[4])
local resume_at = tonumber(ARGV[5])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', key, 'tokens', 'ts', 'rate')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
local learned = tonumber(state[3])
local band = tonumber(ARGV[8])
if learned and learned >= rate / band and learned <= rate * band then
  rate = learned
elseif state[3] then
  redis.call('HDEL', key, 'rate')
end
if updated and updated > now + tonumber(ARGV[7]) then
  updated = now
  if tokens and tokens > burst then tokens = burst end
end
if resume_at > 0 and (tokens == nil or updated == nil or updated < resume_at) then
  tokens = tonumber(ARGV[6])
  updated = math.max(now, resume_at)
elseif tokens == nil or updated == nil then
  tokens = burst
  updated = now
end
local wait = 0
if updated > now then
  wait = updated - now
else
  tokens = math.min(burst, tokens + (now - updated) * rate)
  updated = now
end
if tokens < 1 then wait = wait + (1 - tokens) / rate end
local taken = 1
if max_wait >= 0 and wait > max_wait then
  taken = 0
else
  tokens = tokens - 1
end
local stored_tokens = string.format('%.17g', tokens)
redis.call('HSET', key, 'tokens', stored_tokens, 'ts', string.format('%.6f', updated))
local ttl = math.ceil(((updated - now) + (burst - tokens) / rate + 2 * burst / rate) * 1000)
if ttl < min_ttl then ttl = min_ttl end
local max_ttl = tonumber(ARGV[9])
if not (ttl <= max_ttl) then ttl = max_ttl end
redis.call('PEXPIRE', key, ttl)
return {taken, string.format('%.17g', wait)}
"""

# KEYS[1]: the bucket's hash. ARGV: the learned rate, shortest idle expiry in milliseconds.
_SET_RATE_SCRIPT = """
local key = KEYS[1]
if redis.call('HGET', key, 'rate') == ARGV[1] then return 0 end
redis.call('HSET', key, 'rate', ARGV[1])
if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, tonumber(ARGV[2])) end
return 1
"""

# KEYS[1]: the namespace's resume marker. ARGV: seconds from now to resume, marker lifetime in
# milliseconds. The first process to reach Redis after an outage sets the resume time; the
# others read it, so they all go back to the shared buckets at the same moment. Returns
# {resume time, Redis's time now}, in seconds, as strings.
_RESUME_SCRIPT = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local at = redis.call('GET', KEYS[1])
if not at then
  at = string.format('%.6f', now + tonumber(ARGV[1]))
  redis.call('SET', KEYS[1], at, 'PX', tonumber(ARGV[2]))
end
return {at, string.format('%.6f', now)}
"""

# Error codes meaning "Redis cannot serve this now" (an outage: fall back), whether at the
# start of the reply or, as Redis before 7 reports an error raised inside a script, wrapped in
# "ERR Error running script ...: -READONLY ...".
_UNAVAILABLE_REPLY = re.compile(
    r"(?:^|-)(?:READONLY|OOM|BUSY|LOADING|MASTERDOWN|NOREPLICAS|CLUSTERDOWN|TRYAGAIN)\b"
)

# The store's states: on the shared buckets; on local ones; on local ones until an agreed time.
_SHARED, _FALLBACK, _RESUMING = "shared", "fallback", "resuming"

_INSTALL_HINT = 'RedisBucketStore needs the redis package: pip install "py-sp-api[redis]"'


def _import_redis() -> ModuleType:
    try:
        return importlib.import_module("redis")
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc


def _check_settings(
    namespace: object, workers: object, retry_interval: float, idle_expiry: float
) -> None:
    if not isinstance(namespace, str) or not namespace:
        raise ApiValueError("namespace must be a non-empty str (the application's name or id)")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ApiValueError("workers must be a positive int")
    checked_seconds(retry_interval, "retry_interval", zero_allowed=False)
    if retry_interval > _MAX_RETRY_INTERVAL:
        raise ApiValueError(f"retry_interval must be at most {_MAX_RETRY_INTERVAL:g} s")
    checked_seconds(idle_expiry, "idle_expiry", zero_allowed=False)
    if idle_expiry > MAX_EXPIRY:
        raise ApiValueError(f"idle_expiry must be at most {MAX_EXPIRY:g} s (a day)")


_ErrorClasses = Tuple[Type[BaseException], ...]


def _error_kinds(redis_module: ModuleType) -> Tuple[_ErrorClasses, _ErrorClasses, _ErrorClasses]:
    """Redis's errors: any failure; a refused command; an outage reported as a reply."""
    exceptions = redis_module.exceptions
    # Refusals that will not go away by retrying (WRONGTYPE, bad arguments, no permission);
    # a read-only replica, full memory, a busy server or a cluster in flux are outages.
    return (
        (exceptions.RedisError, OSError),
        (exceptions.ResponseError, exceptions.DataError),
        (
            exceptions.ReadOnlyError,
            exceptions.OutOfMemoryError,
            exceptions.ClusterError,
            exceptions.TryAgainError,
            exceptions.AskError,
        ),
    )


class RedisBucketStore:
    """A :class:`~py_sp_api.runtime.ratelimit.BucketStore` on Redis, shared by processes and hosts.

    Give every process of one application a store with the same ``namespace`` (and Redis), and
    their clients share each bucket: one per operation and seller credential, as at Amazon.

    Args:
        client: a ``redis.Redis`` client. Prefer :meth:`from_url`, which sets short timeouts and
            no client-side retries so a slow or dead Redis never holds a call up.
        namespace: the application, e.g. its LWA client id or a name; keys are
            ``"{prefix}:{namespace}:{bucket key}"``, the bucket key naming the host, the hashed
            seller credential and the operation.
        prefix: the first part of every key.
        workers: how many processes share the usage plan. While Redis is unreachable each
            process paces itself to ``rate / workers`` (burst ``burst // workers``, at least 1).
        retry_interval: seconds between attempts to reach Redis again while falling back; once
            it answers, the processes go back to it together ``2 * retry_interval`` later.
        idle_expiry: shortest time, in seconds, a bucket is kept after its last use. A bucket
            is kept at least until it has refilled, plus twice ``burst / rate``.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str,
        prefix: str = DEFAULT_PREFIX,
        workers: int = 1,
        retry_interval: float = 1.0,
        idle_expiry: float = 60.0,
    ) -> None:
        redis_module = _import_redis()
        _check_settings(namespace, workers, retry_interval, idle_expiry)
        self._client = client
        self.namespace = namespace
        self.prefix = prefix
        self.workers = workers
        self.retry_interval = float(retry_interval)
        self.idle_expiry = float(idle_expiry)
        self._idle_ms = str(max(1, int(idle_expiry * 1000)))
        # A resume puts "ts" up to 2 x retry_interval ahead; further is clock skew.
        self._skew_window = repr(2 * self.retry_interval + _SKEW_MARGIN)
        self._band = repr(RATE_BAND)
        self._max_ttl_ms = str(int(MAX_EXPIRY * 1000))
        self._errors, self._command_errors, self._unavailable = _error_kinds(redis_module)
        self._reserve_script = client.register_script(_RESERVE_SCRIPT)
        self._set_rate_script = client.register_script(_SET_RATE_SCRIPT)
        self._resume_script = client.register_script(_RESUME_SCRIPT)

        self._lock = threading.Lock()
        self._state = _SHARED
        self._epoch = 0  # bumped at every switch, so a late error cannot undo a newer switch
        self._probing = False
        self._next_probe = 0.0
        self._switch_at = 0.0  # (monotonic) when to go back to Redis, while resuming
        self._resume_at = 0.0  # (Redis time) the last resume, passed on while it is recent
        self._resume_until = 0.0  # (monotonic)
        self._fallbacks = 0
        self._recoveries = 0
        self._local = LocalBucketStore()
        self._local_lock = threading.Lock()
        self._drained: Set[str] = set()
        reinit_after_fork(self)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str,
        prefix: str = DEFAULT_PREFIX,
        workers: int = 1,
        retry_interval: float = 1.0,
        idle_expiry: float = 60.0,
        **redis_kwargs: Any,
    ) -> RedisBucketStore:
        """A store on the Redis at ``url`` (``redis://host:6379/0``, ``rediss://...``).

        ``redis_kwargs`` go to ``redis.Redis.from_url``; by default commands time out after
        0.25 s (connect and read) and are not retried by the client, since the store's answer
        to a slow Redis is its local fallback.
        """
        redis_module = _import_redis()
        redis_kwargs.setdefault("socket_timeout", DEFAULT_SOCKET_TIMEOUT)
        redis_kwargs.setdefault("socket_connect_timeout", DEFAULT_SOCKET_TIMEOUT)
        if "retry" not in redis_kwargs:
            backoff = importlib.import_module("redis.backoff")
            redis_kwargs["retry"] = redis_module.retry.Retry(backoff.NoBackoff(), 0)
        client = redis_module.Redis.from_url(url, **redis_kwargs)
        return cls(
            client,
            namespace=namespace,
            prefix=prefix,
            workers=workers,
            retry_interval=retry_interval,
            idle_expiry=idle_expiry,
        )

    # -- what the limiter calls --------------------------------------------------------------
    def reserve(
        self, key: str, rate: float, burst: int, max_wait: Optional[float]
    ) -> Tuple[bool, float]:
        _check_reservation(rate, burst, max_wait)
        now = time.monotonic()
        back = probe = False
        with self._lock:
            if self._state == _RESUMING and now >= self._switch_at:
                self._state = _SHARED
                self._epoch += 1
                self._recoveries += 1
                back = True
            if self._state == _FALLBACK and not self._probing and now >= self._next_probe:
                self._probing = probe = True
            state, epoch = self._state, self._epoch
            resume_at = self._resume_at if now < self._resume_until else 0.0
        if back:
            _log.info("Rate limits are back on Redis: buckets are shared again")
        if probe:
            self._probe(epoch)
        if state != _SHARED:
            return self._reserve_local(key, rate, burst, max_wait)
        try:
            return self._reserve_redis(key, rate, burst, max_wait, resume_at)
        except self._errors as exc:
            self._raise_if_refused(key, exc)
            self._switch_to_fallback(epoch, exc)
            return self._reserve_local(key, rate, burst, max_wait)

    def set_rate(self, key: str, rate: float) -> None:
        checked_rate(rate, "a learned rate")
        with self._lock:
            state, epoch = self._state, self._epoch
        if state != _SHARED:
            self._local.set_rate(key, rate / self.workers)
            return
        try:
            self._set_rate_script(
                keys=[self.redis_key(key)], args=[repr(float(rate)), self._idle_ms]
            )
        except self._errors as exc:
            self._raise_if_refused(key, exc)
            self._switch_to_fallback(epoch, exc)
            self._local.set_rate(key, rate / self.workers)

    # -- state, for monitoring and tests ------------------------------------------------------
    def redis_key(self, key: str) -> str:
        """The Redis key holding bucket ``key`` (a hash: tokens, ts, and a learned rate)."""
        return f"{self.prefix}:{self.namespace}:{key}"

    @property
    def client(self) -> redis.Redis:
        return self._client

    @property
    def mode(self) -> str:
        """``"redis"`` while buckets are shared, ``"fallback"`` while they are local."""
        with self._lock:
            return "redis" if self._state == _SHARED else "fallback"

    @property
    def using_fallback(self) -> bool:
        return self.mode == "fallback"

    @property
    def fallbacks(self) -> int:
        """How many times the store has switched to its local fallback."""
        with self._lock:
            return self._fallbacks

    @property
    def recoveries(self) -> int:
        """How many times the store has gone back to Redis after a fallback."""
        with self._lock:
            return self._recoveries

    def close(self) -> None:
        """Close the Redis client's connections."""
        self._client.close()

    def __repr__(self) -> str:
        return (
            f"RedisBucketStore(namespace={self.namespace!r}, prefix={self.prefix!r}, "
            f"workers={self.workers}, mode={self.mode!r})"
        )

    # -- internals ---------------------------------------------------------------------------
    def _reinit_after_fork(self) -> None:
        # Locks another thread of the parent may have held at the fork, and a probe of Redis
        # that thread was making, which would otherwise stay "in progress" in the child for
        # ever. redis-py's pool notices the new pid by itself and opens its own connections.
        self._lock = threading.Lock()
        self._local_lock = threading.Lock()
        self._probing = False

    def _reserve_redis(
        self, key: str, rate: float, burst: int, max_wait: Optional[float], resume_at: float
    ) -> Tuple[bool, float]:
        limit = -1.0 if max_wait is None else max(0.0, float(max_wait))
        reply = self._reserve_script(
            keys=[self.redis_key(key)],
            args=[
                repr(float(rate)),
                str(int(burst)),
                repr(limit),
                self._idle_ms,
                f"{resume_at:.6f}",
                str(1 - self.workers),
                self._skew_window,
                self._band,
                self._max_ttl_ms,
            ],
        )
        taken, wait = reply
        return bool(int(taken)), float(wait)

    def _reserve_local(
        self, key: str, rate: float, burst: int, max_wait: Optional[float]
    ) -> Tuple[bool, float]:
        local_rate = rate / self.workers
        local_burst = max(1, burst // self.workers)
        with self._local_lock:
            local = self._local
            if key not in self._drained:
                # What the shared bucket holds is unknown (other processes may have spent it),
                # so a local bucket starts empty rather than full.
                for _ in range(local_burst):
                    local.reserve(key, local_rate, local_burst, None)
                self._drained.add(key)
        return local.reserve(key, local_rate, local_burst, max_wait)

    def _probe(self, epoch: int) -> None:
        """Try Redis again; when it answers, agree with the other processes when to go back."""
        delay = 2 * self.retry_interval  # every process retries within one interval
        try:
            at, redis_now = self._resume_script(
                keys=[f"{self.prefix}:{self.namespace}:resume-at"],
                args=[repr(delay), str(int((delay + 2 * self.retry_interval) * 1000))],
            )
            resume_at, redis_now = float(at), float(redis_now)
        except self._errors as exc:
            with self._lock:
                self._probing = False
                self._next_probe = time.monotonic() + self.retry_interval
            _log.debug("Redis for shared rate limits is still unreachable: %s", exc)
            return
        now = time.monotonic()
        with self._lock:
            self._probing = False
            if self._state != _FALLBACK or epoch != self._epoch:
                return
            self._state = _RESUMING
            self._resume_at = resume_at
            self._switch_at = now + max(0.0, resume_at - redis_now)
            self._resume_until = self._switch_at + 2 * delay
        _log.debug("Redis answers again; shared buckets resume in %.2fs", resume_at - redis_now)

    def _raise_if_refused(self, key: str, exc: BaseException) -> None:
        """Raise a command Redis refused as an error of the bucket: falling back cannot fix it."""
        if isinstance(exc, self._command_errors) and not isinstance(exc, self._unavailable):
            reason = str(exc)
            if not _UNAVAILABLE_REPLY.search(reason):
                raise RateLimitStoreError(self.redis_key(key), reason) from exc

    def _switch_to_fallback(self, epoch: int, exc: BaseException) -> None:
        with self._lock:
            if self._state != _SHARED or epoch != self._epoch:
                return
            self._state = _FALLBACK
            self._epoch += 1
            self._fallbacks += 1
            self._probing = False
            self._next_probe = time.monotonic() + self.retry_interval
            with self._local_lock:
                self._local = LocalBucketStore()
                self._drained = set()
        _log.warning(
            "Redis for shared rate limits is unreachable (%s: %s); pacing locally at 1/%d of "
            "each rate until it is back, retrying every %.1fs",
            type(exc).__name__,
            exc,
            self.workers,
            self.retry_interval,
        )


def _check_reservation(rate: float, burst: int, max_wait: Optional[float]) -> None:
    checked_rate(rate, "rate")
    if isinstance(burst, bool) or not isinstance(burst, int):
        raise ApiTypeError(f"burst must be an int, not {type(burst).__name__}")
    if burst < 1:
        raise ApiValueError(f"burst must be at least 1: {burst!r}")
    if max_wait is not None:
        checked_seconds(max_wait, "max_wait", zero_allowed=True)


__all__: Tuple[str, ...] = (
    "DEFAULT_PREFIX",
    "DEFAULT_SOCKET_TIMEOUT",
    "MAX_EXPIRY",
    "RedisBucketStore",
)
