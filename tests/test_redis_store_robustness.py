"""RedisBucketStore against bad state and bad input, on a real ``redis-server``.

What an older client, a clock step or a stray command left in Redis must not stop every worker;
a command Redis refuses is an error to report, not an outage to fall back from.
"""

from __future__ import annotations

import logging
import math
import pickle
import uuid
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Type

import pytest

from py_sp_api import NO_RETRIES, RateLimiting
from py_sp_api.generated.messaging import ApiClient, Configuration, MessagingApi
from py_sp_api.runtime.exceptions import ApiTypeError, ApiValueError
from tests.support.redis_server import RedisServer, redis_server_fixture  # noqa: F401
from tests.support.throttling import RecordingSleep, ThrottlingServer

if TYPE_CHECKING:
    import redis

    from py_sp_api import RedisBucketStore

ORDER_ID = "123-1234567-1234567"
MARKETPLACE = ["ATVPDKIKX0DER"]
GET_ATTRIBUTES = MessagingApi.operations["get_attributes"]
ONE_DAY_MS = 86_400_000


def make_store(server: RedisServer, namespace: str, **kwargs: Any) -> RedisBucketStore:
    from py_sp_api import RedisBucketStore

    return RedisBucketStore.from_url(server.url, namespace=namespace, **kwargs)


@pytest.fixture
def namespace() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def redis_now(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return float(seconds + micros / 1e6)


def warnings_in(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# -- item: rate headers are data, not orders -------------------------------------------------


def test_a_tiny_stated_rate_is_neither_stored_nor_obeyed(
    redis_server: RedisServer, namespace: str
) -> None:
    store = make_store(redis_server, namespace)
    sleep = RecordingSleep()
    limiting = RateLimiting(store=store, sleep=sleep)
    client = redis_server.client()

    limiting.acquire(GET_ATTRIBUTES, "seller")
    limiting.observe(GET_ATTRIBUTES, "seller", "1e-9")
    for _ in range(5):
        limiting.acquire(GET_ATTRIBUTES, "seller")

    key = store.redis_key(f"seller|{GET_ATTRIBUTES.bucket_name}")
    assert client.hget(key, "rate") is None
    assert 0 < client.pttl(key) <= ONE_DAY_MS
    # Burst 5 less 1 of headroom, then 2 waits at the plan's 1/s (not 1e9 s).
    assert len(sleep.calls) == 2
    assert max(sleep.calls) <= 2.0 + 1e-6


@pytest.mark.parametrize("poison", ["1e-09", "1e-10", "1000000000", "-1", "nan", "0"])
def test_a_learned_rate_outside_the_band_already_in_redis_is_not_obeyed(
    redis_server: RedisServer, namespace: str, poison: str
) -> None:
    # An older client stored what the header said; every worker must not stop for it.
    store = make_store(redis_server, namespace)
    client = redis_server.client()
    key = store.redis_key("k")
    client.hset(key, mapping={"rate": poison})

    waits = [store.reserve("k", 1.0, 5, None)[1] for _ in range(7)]

    assert waits[:5] == [0.0] * 5
    assert 0.9 < waits[5] <= 1.0 + 1e-6  # the plan's 1/s
    assert 1.9 < waits[6] <= 2.0 + 1e-6
    assert client.hget(key, "rate") is None, "the poisoned rate was left for the next reader"
    assert 0 < client.pttl(key) <= ONE_DAY_MS


def test_a_learned_rate_within_the_band_is_obeyed(
    redis_server: RedisServer, namespace: str
) -> None:
    store = make_store(redis_server, namespace)
    store.set_rate("k", 100.0)  # plan 1/s x 100: the top of the band

    waits = [store.reserve("k", 1.0, 5, None)[1] for _ in range(6)]

    assert 0.005 < waits[5] <= 0.01 + 1e-6
    assert redis_server.client().hget(store.redis_key("k"), "rate") == b"100.0"


def test_every_expiry_is_capped(redis_server: RedisServer, namespace: str) -> None:
    # A bucket in absurd debt (bad state): its expiry is capped at a day, not ~3e13 days.
    store = make_store(redis_server, namespace)
    client = redis_server.client()
    key = store.redis_key("k")
    client.hset(key, mapping={"tokens": "-1e15", "ts": f"{redis_now(client):.6f}"})

    taken, wait = store.reserve("k", 1.0, 5, 600.0)

    assert not taken
    assert wait > 600
    assert 0 < client.pttl(key) <= ONE_DAY_MS


# -- item: Redis clock steps -------------------------------------------------------------------


@pytest.mark.parametrize("ahead", [3600.0, 60.0, 1e12])
def test_a_bucket_timestamp_far_in_the_future_is_treated_as_skew(
    redis_server: RedisServer, namespace: str, ahead: float
) -> None:
    # Failover to a replica whose clock is behind, or an NTP step back, leaves "ts" ahead.
    store = make_store(redis_server, namespace)
    client = redis_server.client()
    key = store.redis_key("k")
    client.hset(key, mapping={"tokens": "0", "ts": f"{redis_now(client) + ahead:.6f}"})

    taken, wait = store.reserve("k", 1.0, 5, None)

    assert taken
    assert wait <= 1.0 + 1e-6, f"waited {wait:.0f}s for a clock step of {ahead:.0f}s"
    assert float(client.hget(key, "ts")) <= redis_now(client) + 1.0


def test_a_resume_time_a_little_ahead_is_still_honoured(
    redis_server: RedisServer, namespace: str
) -> None:
    # After an outage the processes agree on a moment 2 x retry_interval ahead: not skew.
    store = make_store(redis_server, namespace, retry_interval=1.0)
    client = redis_server.client()
    key = store.redis_key("k")
    client.hset(key, mapping={"tokens": "0", "ts": f"{redis_now(client) + 1.5:.6f}"})

    taken, wait = store.reserve("k", 1.0, 5, None)

    assert taken
    assert 2.3 < wait <= 2.5 + 1e-6  # 1.5 s to the resume, then 1 s for a token


# -- item: a command error is not an outage ------------------------------------------------------


def test_a_wrongtype_key_is_one_clear_error_without_fallback(
    redis_server: RedisServer, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    from py_sp_api.runtime.exceptions import RateLimitStoreError

    caplog.set_level(logging.DEBUG, logger="py_sp_api.ratelimit")
    store = make_store(redis_server, namespace, retry_interval=0.05)
    client = redis_server.client()
    key = store.redis_key("k")
    client.set(key, "not a hash")

    for _ in range(3):
        with pytest.raises(RateLimitStoreError) as caught:
            store.reserve("k", 1.0, 5, None)
        assert caught.value.key == key
        assert key in str(caught.value)
        assert "WRONGTYPE" in str(caught.value)
    with pytest.raises(RateLimitStoreError):
        store.set_rate("k", 2.0)

    assert store.mode == "redis"
    assert (store.fallbacks, store.recoveries) == (0, 0)
    assert warnings_in(caplog) == []
    assert str(redis_server.port) not in str(caught.value)
    # Another bucket is unaffected.
    assert store.reserve("other", 1.0, 5, None) == (True, 0.0)


def test_a_wrongtype_key_fails_the_call_before_anything_is_sent(
    redis_server: RedisServer, namespace: str, sp: ThrottlingServer
) -> None:
    from py_sp_api.runtime.exceptions import RateLimitStoreError

    store = make_store(redis_server, namespace)
    config = Configuration(host=sp.url, rate_limiting=RateLimiting(store=store), retry=NO_RETRIES)
    client = ApiClient(config)
    try:
        api = MessagingApi(client)
        redis_server.client().set(
            store.redis_key(f"{sp.url}|anonymous|messaging|GetAttributes"), "x"
        )
        with pytest.raises(RateLimitStoreError):
            api.get_attributes(ORDER_ID, MARKETPLACE)
    finally:
        client.close()
    assert sp.request_count == 0


def test_rate_limit_store_error_survives_pickling() -> None:
    from py_sp_api.runtime.exceptions import OpenApiException, RateLimitStoreError

    exc = RateLimitStoreError("py-sp-api:app:k", "WRONGTYPE Operation against a key")
    copy = pickle.loads(pickle.dumps(exc))

    assert isinstance(copy, OpenApiException)
    assert isinstance(copy, RateLimitStoreError)
    assert (copy.key, copy.reason) == (exc.key, exc.reason)
    assert str(copy) == str(exc)


@pytest.mark.parametrize(
    ("rate", "burst", "max_wait", "error"),
    [
        (math.nan, 5, None, ApiValueError),
        (math.inf, 5, None, ApiValueError),
        (0.0, 5, None, ApiValueError),
        (-1.0, 5, None, ApiValueError),
        ("1", 5, None, ApiTypeError),
        (1.0, 0, None, ApiValueError),
        (1.0, 2.5, None, ApiTypeError),
        (1.0, True, None, ApiTypeError),
        (1.0, 5, math.nan, ApiValueError),
        (1.0, 5, math.inf, ApiValueError),
        (1.0, 5, -1.0, ApiValueError),
    ],
)
def test_bad_arguments_are_refused_before_redis_is_asked(
    redis_server: RedisServer,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
    rate: Any,
    burst: Any,
    max_wait: Optional[float],
    error: Type[Exception],
) -> None:
    store = make_store(redis_server, namespace)

    with pytest.raises(error):
        store.reserve("k", rate, burst, max_wait)

    assert redis_server.client().keys("*") == []
    assert store.mode == "redis"
    assert warnings_in(caplog) == []


@pytest.mark.parametrize("rate", [math.nan, math.inf, 0.0, -2.0])
def test_a_bad_learned_rate_is_refused_before_redis_is_asked(
    redis_server: RedisServer, namespace: str, rate: float
) -> None:
    store = make_store(redis_server, namespace)

    with pytest.raises(ApiValueError):
        store.set_rate("k", rate)

    assert redis_server.client().keys("*") == []
    assert store.mode == "redis"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"retry_interval": math.inf},
        {"retry_interval": math.nan},
        {"idle_expiry": math.inf},
        {"idle_expiry": 86_401},
    ],
)
def test_unbounded_settings_are_refused(kwargs: Dict[str, Any]) -> None:
    pytest.importorskip("redis", reason='the redis package is missing: pip install -e ".[test]"')
    from py_sp_api import RedisBucketStore

    with pytest.raises(ApiValueError):
        RedisBucketStore.from_url("redis://127.0.0.1:1/0", namespace="app", **kwargs)


@pytest.mark.parametrize(
    "reply",
    [
        # Redis 6 wraps an error raised inside a script (a failover to a replica, full memory).
        "Error running script (call to f_049d4ac0e): @user_script:31: @user_script: 31: "
        "-READONLY You can't write against a read only replica.",
        "Error running script (call to f_049d4ac0e): @user_script:31: @user_script: 31: "
        "-OOM command not allowed when used memory > 'maxmemory'.",
        "BUSY Redis is busy running a script.",
        "LOADING Redis is loading the dataset in memory",
    ],
)
def test_an_unavailable_redis_is_an_outage_however_the_reply_is_worded(
    redis_server: RedisServer, namespace: str, reply: str
) -> None:
    import redis

    store = make_store(redis_server, namespace)
    # Not a bucket error: falling back is the answer, so nothing is raised here.
    store._raise_if_refused("k", redis.exceptions.ResponseError(reply))


def test_a_refused_command_is_still_a_bucket_error(
    redis_server: RedisServer, namespace: str
) -> None:
    import redis

    from py_sp_api.runtime.exceptions import RateLimitStoreError

    store = make_store(redis_server, namespace)
    wrapped = "Error running script (call to f_1): @user_script:9: -WRONGTYPE Operation against"
    with pytest.raises(RateLimitStoreError):
        store._raise_if_refused("k", redis.exceptions.ResponseError(wrapped))
