"""Client-side rate limiting against a server that throttles like Amazon.

Counts, not timings: pacing is observed through the 429s the throttling server hands out and
through the delays the limiter asks its (injected, recording) ``sleep`` for. Where exactness
matters the limiter's store runs on a fake clock that the recording sleep advances.
"""

from __future__ import annotations

import functools
import logging
import math
import sys
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Type

import pytest

from py_sp_api import (
    NO_RETRIES,
    LocalBucketStore,
    LwaCredentials,
    RateLimit,
    RateLimiting,
    RateLimitWaitExceeded,
)
from py_sp_api.generated.messaging import (
    Configuration,
    MessagingApi,
    TooManyRequestsException,
)
from py_sp_api.generated.messaging.operations import GET_ATTRIBUTES
from py_sp_api.runtime.exceptions import ApiTypeError, ApiValueError
from py_sp_api.runtime.ratelimit import bucket_key, parse_rate_header
from tests.support.threads import run_threads
from tests.support.throttling import FakeClock, RecordingSleep, ThrottlingServer

ORDER_ID = "123-1234567-1234567"
MARKETPLACE = ["ATVPDKIKX0DER"]

ApiFactory = Callable[..., MessagingApi]


@pytest.fixture
def make_api(open_api: ApiFactory) -> ApiFactory:
    """``make_api(host, **configuration)`` with no retries unless overridden."""
    return functools.partial(open_api, retry=NO_RETRIES)


def burst_from_threads(
    api: MessagingApi, threads: int = 6, calls_each: int = 10
) -> Tuple[int, List[BaseException]]:
    """``threads`` threads start together and each make ``calls_each`` calls."""
    barrier = threading.Barrier(threads)
    lock = threading.Lock()
    done: List[int] = []
    errors: List[BaseException] = []

    def worker() -> None:
        barrier.wait(timeout=10)
        for _ in range(calls_each):
            try:
                api.get_attributes(ORDER_ID, MARKETPLACE)
            except BaseException as exc:  # collected and asserted by the caller
                with lock:
                    errors.append(exc)
            else:
                with lock:
                    done.append(1)

    run_threads(threads, worker)
    return len(done), errors


# -- pacing against Amazon's token bucket ------------------------------------------------------


def test_a_paced_burst_from_six_threads_is_never_throttled(
    start_sp: Callable[..., ThrottlingServer], make_api: ApiFactory
) -> None:
    server = start_sp(rate=20, burst=5, rate_limit_header="20.0")
    limiting = RateLimiting(overrides={"get_attributes": RateLimit(rate=20, burst=5)})
    api = make_api(server.url, rate_limiting=limiting, connection_pool_maxsize=6)

    succeeded, errors = burst_from_threads(api)

    assert errors == []
    assert succeeded == 60
    assert server.throttled == 0
    assert server.successes == 60
    assert server.request_count == 60


def test_the_same_burst_without_pacing_is_throttled(
    start_sp: Callable[..., ThrottlingServer], make_api: ApiFactory
) -> None:
    server = start_sp(rate=20, burst=5, rate_limit_header="20.0")
    api = make_api(server.url, rate_limiting=False, connection_pool_maxsize=6)

    succeeded, errors = burst_from_threads(api)

    assert server.throttled > 0
    assert len(errors) == server.throttled
    throttled = [exc for exc in errors if isinstance(exc, TooManyRequestsException)]
    assert len(throttled) == len(errors)
    assert all(exc.status == 429 and exc.attempts == 1 for exc in throttled)
    assert succeeded + len(errors) == 60
    assert server.request_count == 60


def test_the_stated_rate_header_speeds_up_pacing(
    start_sp: Callable[..., ThrottlingServer], make_api: ApiFactory
) -> None:
    # The documented plan is 1 request/s; the server states 20/s on its first answer.
    server = start_sp(rate=20, burst=5, rate_limit_header="20.0")
    sleep = RecordingSleep(real=True)
    api = make_api(server.url, rate_limiting=RateLimiting(sleep=sleep))
    assert MessagingApi.rate_limit("get_attributes").rate == 1.0

    for _ in range(21):
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert server.throttled == 0
    assert server.successes == 21
    # 4 tokens (burst 5 minus 1 of headroom) then 17 paced calls: at 1 rps that is ~17 s of
    # sleeping; at the stated 20 rps it is ~0.85 s.
    assert len(sleep.calls) >= 10
    assert max(sleep.calls) <= 0.051
    assert sleep.total < 2.0


@pytest.mark.parametrize(
    ("header", "expected_wait"),
    [
        ("20.0", 0.05),
        (" 4 ", 0.25),
        ("string", 1.0),
        ("", 1.0),
        ("-1", 1.0),
        ("nan", 1.0),
        ("0", 1.0),
        ("inf", 1.0),
        ("1e999", 1.0),
        (None, 1.0),
    ],
)
def test_an_unusable_rate_header_is_ignored(
    start_sp: Callable[..., ThrottlingServer],
    make_api: ApiFactory,
    header: Optional[str],
    expected_wait: float,
) -> None:
    server = start_sp(rate_limit_header=header)
    clock = FakeClock()
    sleep = RecordingSleep(clock)
    limiting = RateLimiting(store=LocalBucketStore(clock=clock), sleep=sleep)
    api = make_api(server.url, rate_limiting=limiting)

    for _ in range(6):
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert server.successes == 6
    # Four calls use the burst (5 minus 1 of headroom); the next two wait 1/rate each.
    assert sleep.calls == [pytest.approx(expected_wait), pytest.approx(expected_wait)]


def test_a_rate_header_back_at_the_documented_rate_is_followed(
    start_sp: Callable[..., ThrottlingServer], make_api: ApiFactory
) -> None:
    # Server and client share one fake clock, so the server's bucket sees exactly the pacing.
    clock = FakeClock()
    server = start_sp(rate=20, burst=5, rate_limit_header="20.0", clock=clock)
    sleep = RecordingSleep(clock)
    limiting = RateLimiting(store=LocalBucketStore(clock=clock), sleep=sleep)
    api = make_api(server.url, rate_limiting=limiting)

    api.get_attributes(ORDER_ID, MARKETPLACE)  # the server states 20/s: the client speeds up
    server.throttle.rate = 1.0  # Amazon lowers the plan back to the documented 1/s...
    server.throttle.rate_limit_header = "1.0"  # ...and says so in every answer
    throttled = 0
    for _ in range(7):
        try:
            api.get_attributes(ORDER_ID, MARKETPLACE)
        except TooManyRequestsException:
            throttled += 1

    assert throttled == 0, (
        f"{throttled} calls were throttled: the client kept the learned 20/s after the server "
        f"stated 1.0; requested waits {sleep.calls}"
    )
    assert server.throttled == 0
    # Burst of 4 spent by the first 4 calls, then the next 4 wait 1 s each at the stated rate.
    assert sleep.calls == [pytest.approx(1.0)] * 4


def test_parse_rate_header() -> None:
    assert parse_rate_header("20.0") == 20.0
    assert parse_rate_header(" 0.5 ") == 0.5
    assert parse_rate_header("1") == 1.0
    for bad in ("string", "", " ", "-1", "0", "nan", "NaN", "inf", "-inf", "1e999", "1,5"):
        assert parse_rate_header(bad) is None, bad


# -- whose bucket ------------------------------------------------------------------------------


def test_two_sellers_do_not_share_a_bucket(
    start_sp: Callable[..., ThrottlingServer], make_api: ApiFactory
) -> None:
    server = start_sp()
    clock = FakeClock()
    sleep = RecordingSleep(clock)
    shared = RateLimiting(store=LocalBucketStore(clock=clock), sleep=sleep)
    seller_a = make_api(server.url, rate_limiting=shared, access_token="Atza|seller-A")
    seller_b = make_api(server.url, rate_limiting=shared, access_token="Atza|seller-B")
    seller_a_again = make_api(server.url, rate_limiting=shared, access_token="Atza|seller-A")

    for _ in range(4):
        seller_a.get_attributes(ORDER_ID, MARKETPLACE)
    assert sleep.calls == []

    for _ in range(4):
        seller_b.get_attributes(ORDER_ID, MARKETPLACE)
    assert sleep.calls == [], "seller B was delayed by seller A's usage"

    # Seller A through another client shares seller A's (now empty) bucket.
    seller_a_again.get_attributes(ORDER_ID, MARKETPLACE)
    assert sleep.calls == [pytest.approx(1.0)]
    assert server.tokens_seen == ["Atza|seller-A"] * 4 + ["Atza|seller-B"] * 4 + ["Atza|seller-A"]


def test_lwa_identities_differ_per_seller_and_region_and_hide_secrets() -> None:
    def config(
        refresh_token: str, host: str = "https://sellingpartnerapi-na.amazon.com"
    ) -> Configuration:
        credentials = LwaCredentials("amzn1.app.client", "client-secret-value", refresh_token)
        return Configuration(host, credentials=credentials)

    seller_a = config("Atzr|seller-A-refresh").rate_limit_identity
    seller_a_again = config("Atzr|seller-A-refresh").rate_limit_identity
    seller_b = config("Atzr|seller-B-refresh").rate_limit_identity
    seller_a_eu = config(
        "Atzr|seller-A-refresh", "https://sellingpartnerapi-eu.amazon.com"
    ).rate_limit_identity

    assert seller_a == seller_a_again
    assert len({seller_a, seller_b, seller_a_eu}) == 3
    for identity in (seller_a, seller_b, seller_a_eu):
        assert "refresh" not in identity
        assert "client-secret-value" not in identity


# -- max_wait and disabling ---------------------------------------------------------------------


def test_max_wait_raises_and_sends_nothing(
    start_sp: Callable[..., ThrottlingServer], make_api: ApiFactory
) -> None:
    server = start_sp()
    clock = FakeClock()
    sleep = RecordingSleep(clock)
    limiting = RateLimiting(max_wait=0.05, store=LocalBucketStore(clock=clock), sleep=sleep)
    api = make_api(server.url, rate_limiting=limiting)
    for _ in range(4):
        api.get_attributes(ORDER_ID, MARKETPLACE)

    with pytest.raises(RateLimitWaitExceeded) as caught:
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert server.request_count == 4
    assert caught.value.operation_id == "GetAttributes"
    assert caught.value.wait == pytest.approx(1.0)
    assert caught.value.max_wait == 0.05
    assert "nothing was sent" in str(caught.value)
    assert sleep.calls == []
    # The refused call took no token: one second later a token is there again.
    clock.advance(1.0)
    api.get_attributes(ORDER_ID, MARKETPLACE)
    assert server.request_count == 5
    assert sleep.calls == []


def test_max_wait_with_real_time(
    start_sp: Callable[..., ThrottlingServer], make_api: ApiFactory
) -> None:
    server = start_sp()
    api = make_api(server.url, rate_limiting=RateLimiting(max_wait=0.05))
    for _ in range(4):
        api.get_attributes(ORDER_ID, MARKETPLACE)

    with pytest.raises(RateLimitWaitExceeded):
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert server.request_count == 4


def test_disabled_rate_limiting_never_waits(
    start_sp: Callable[..., ThrottlingServer], make_api: ApiFactory
) -> None:
    server = start_sp()
    sleep = RecordingSleep()
    api = make_api(server.url, rate_limiting=RateLimiting(enabled=False, sleep=sleep))

    for _ in range(20):
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert sleep.calls == []
    assert server.request_count == 20


def test_rate_limiting_false_turns_the_limiter_off() -> None:
    config = Configuration(rate_limiting=False)
    operation = MessagingApi.operations["get_attributes"]

    assert config.rate_limiting.enabled is False
    waits = [config.rate_limiting.acquire(operation, "anyone") for _ in range(100)]
    assert waits == [0.0] * 100


def test_rate_limiting_is_on_by_default_with_one_token_of_headroom(
    start_sp: Callable[..., ThrottlingServer], make_api: ApiFactory
) -> None:
    server = start_sp()
    clock = FakeClock()
    sleep = RecordingSleep(clock)
    config_default = Configuration()
    assert config_default.rate_limiting.enabled is True
    assert config_default.rate_limiting.headroom == 1
    api = make_api(
        server.url, rate_limiting=RateLimiting(store=LocalBucketStore(clock), sleep=sleep)
    )

    for _ in range(7):
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert sleep.calls == [pytest.approx(1.0)] * 3


# -- the store under contention -----------------------------------------------------------------


@pytest.fixture
def fast_thread_switching() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def test_local_bucket_store_hands_out_each_slot_once(fast_thread_switching: None) -> None:
    clock = FakeClock()  # frozen: every reservation sees the same instant
    store = LocalBucketStore(clock=clock)
    barrier = threading.Barrier(16)
    waits: List[float] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait(timeout=10)
        mine = [store.reserve("seller|op", 10.0, 5, None)[1] for _ in range(50)]
        with lock:
            waits.extend(mine)

    run_threads(16, worker)

    # 5 immediate tokens, then one reservation per 1/10 s slot, none handed out twice.
    slots = sorted(round(wait * 10) for wait in waits)
    assert slots == [0] * 5 + list(range(1, 16 * 50 - 4))


class TickingClock:
    """A fake clock that moves forward a little every time it is read."""

    def __init__(self, tick: float) -> None:
        self.tick = tick
        self.now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self.now += self.tick
            return self.now


def test_local_bucket_store_never_exceeds_burst_plus_refill(fast_thread_switching: None) -> None:
    clock = TickingClock(tick=0.0005)
    store = LocalBucketStore(clock=clock)
    rate, burst = 10.0, 5
    barrier = threading.Barrier(16)
    taken: List[int] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait(timeout=10)
        mine = 0
        for _ in range(300):
            ok, wait = store.reserve("seller|op", rate, burst, 0.0)
            if ok:
                assert wait == 0.0
                mine += 1
        with lock:
            taken.append(mine)

    run_threads(16, worker)

    elapsed = clock.now
    assert len(taken) == 16
    assert elapsed == pytest.approx(16 * 300 * 0.0005)
    assert burst <= sum(taken) <= burst + rate * elapsed + 1e-9


def test_full_idle_buckets_are_forgotten_but_busy_ones_kept() -> None:
    # A long-running process meets new credentials for months; memory must not grow forever.
    now = [0.0]
    store = LocalBucketStore(clock=lambda: now[0])
    for i in range(1100):
        store.reserve(f"old-seller-{i}|GetAttributes", 1.0, 5, None)
    now[0] = 700.0
    for _ in range(5):
        store.reserve("busy|GetAttributes", 1.0, 5, None)  # empties this bucket
    # Past 1024 buckets, each new one forgets up to two of the least recently used idle ones.
    new = {f"new-seller-{i}|GetAttributes" for i in range(600)}
    for key in sorted(new):
        store.reserve(key, 1.0, 5, None)

    buckets = store._buckets
    assert len(buckets) <= 1024
    assert new | {"busy|GetAttributes"} <= set(buckets)
    kept_old = sorted(int(key.split("-")[2].split("|")[0]) for key in buckets if "old" in key)
    assert kept_old == list(range(1100 - len(kept_old), 1100)), "not the oldest forgotten first"
    # The busy bucket kept its state: the next token is a second away.
    assert store.reserve("busy|GetAttributes", 1.0, 5, None) == (True, 1.0)


# -- what the mutation run found untested (issue 9, item 13) ----------------------------------


def test_an_override_is_not_replaced_by_the_rate_header(
    start_sp: Callable[..., ThrottlingServer], make_api: ApiFactory
) -> None:
    # The server states the documented 1/s; the override (2/s, burst 2) must keep applying.
    server = start_sp(rate_limit_header="1.0")
    clock = FakeClock()
    sleep = RecordingSleep(clock)
    limiting = RateLimiting(
        overrides={"get_attributes": RateLimit(rate=2.0, burst=2)},
        store=LocalBucketStore(clock=clock),
        sleep=sleep,
    )
    api = make_api(server.url, rate_limiting=limiting)

    for _ in range(4):
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert server.successes == 4
    # One token (burst 2 minus 1 of headroom), then a wait of 1/2 s per call.
    assert sleep.calls == [pytest.approx(0.5)] * 3


def test_follow_rate_header_false_keeps_the_documented_rate(
    start_sp: Callable[..., ThrottlingServer], make_api: ApiFactory
) -> None:
    server = start_sp(rate_limit_header="0.5")
    clock = FakeClock()
    sleep = RecordingSleep(clock)
    limiting = RateLimiting(
        follow_rate_header=False, store=LocalBucketStore(clock=clock), sleep=sleep
    )
    api = make_api(server.url, rate_limiting=limiting)

    for _ in range(6):
        api.get_attributes(ORDER_ID, MARKETPLACE)

    assert server.successes == 6
    # Burst 5 minus 1 of headroom, then the documented 1/s, not the stated 0.5/s.
    assert sleep.calls == [pytest.approx(1.0)] * 2


def test_two_token_callables_without_an_identity_do_not_share_a_bucket(
    start_sp: Callable[..., ThrottlingServer], make_api: ApiFactory
) -> None:
    server = start_sp()
    clock = FakeClock()
    sleep = RecordingSleep(clock)
    shared = RateLimiting(store=LocalBucketStore(clock=clock), sleep=sleep)

    def seller_a() -> str:
        return "Atza|seller-A"

    def seller_b() -> str:
        return "Atza|seller-B"

    api_a = make_api(server.url, rate_limiting=shared, access_token=seller_a)
    api_b = make_api(server.url, rate_limiting=shared, access_token=seller_b)

    for _ in range(4):
        api_a.get_attributes(ORDER_ID, MARKETPLACE)
    for _ in range(4):
        api_b.get_attributes(ORDER_ID, MARKETPLACE)

    assert sleep.calls == [], "seller B's callable was paced by seller A's usage"
    assert server.tokens_seen == ["Atza|seller-A"] * 4 + ["Atza|seller-B"] * 4


@pytest.mark.parametrize("burst", [2.5, 1.0, "2", True])
def test_a_burst_that_is_not_a_whole_number_is_refused(burst: Any) -> None:
    with pytest.raises(ApiValueError, match="burst"):
        RateLimit(rate=1.0, burst=burst)


# -- what the second mutation run found untested (issue 16, item 4) ----------------------------


class _RecordingRateStore(LocalBucketStore):
    """A local store that also records every rate written to it, as a shared store would see."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(clock=clock)
        self.rates_written: List[Tuple[str, float]] = []

    def set_rate(self, key: str, rate: float) -> None:
        self.rates_written.append((key, rate))
        super().set_rate(key, rate)


class _StoreFailingToRecordRates(LocalBucketStore):
    def set_rate(self, key: str, rate: float) -> None:
        raise RuntimeError("WRONGTYPE Operation against a key holding the wrong kind of value")


def _limiter_on_a_fake_clock(**settings: Any) -> Tuple[RateLimiting, RecordingSleep]:
    clock = FakeClock()
    sleep = RecordingSleep(clock)
    store = settings.pop("store", None) or LocalBucketStore(clock=clock)
    return RateLimiting(store=store, sleep=sleep, **settings), sleep


def _rate_limit_warnings(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "py_sp_api.ratelimit" and record.levelno == logging.WARNING
    ]


def test_a_wait_for_a_token_is_logged_at_debug_level_with_the_operation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="py_sp_api.ratelimit")
    limiter, sleep = _limiter_on_a_fake_clock(
        overrides={"get_attributes": RateLimit(rate=2.0, burst=1)}
    )
    limiter.acquire(GET_ATTRIBUTES, "seller")
    limiter.acquire(GET_ATTRIBUTES, "seller")

    assert sleep.calls == [pytest.approx(0.5)]
    waits = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(waits) == 1, waits
    assert "GetAttributes" in waits[0], waits
    assert "0.500" in waits[0], waits


def test_a_rate_stated_before_any_pacing_is_stored_under_the_sellers_key() -> None:
    # A shared store (Redis) may hold the bucket already; the stated rate must go to the
    # seller's own bucket, and observe() must not raise (it runs after Amazon answered).
    clock = FakeClock()
    store = _RecordingRateStore(clock)
    limiter = RateLimiting(store=store, sleep=RecordingSleep(clock))

    limiter.observe(GET_ATTRIBUTES, "seller-A", "2.0")

    assert store.rates_written == [(bucket_key("seller-A", GET_ATTRIBUTES), 2.0)]


def test_the_same_rate_header_on_every_answer_is_written_to_the_store_once() -> None:
    # With a shared store each write is a round trip; the header repeats on every answer.
    clock = FakeClock()
    store = _RecordingRateStore(clock)
    limiter = RateLimiting(store=store, sleep=RecordingSleep(clock))
    limiter.acquire(GET_ATTRIBUTES, "seller")

    for _ in range(3):
        limiter.observe(GET_ATTRIBUTES, "seller", "2.0")
    limiter.observe(GET_ATTRIBUTES, "seller", "3.0")  # a new value is written at once

    key = bucket_key("seller", GET_ATTRIBUTES)
    assert store.rates_written == [(key, 2.0), (key, 3.0)]


def test_an_out_of_band_header_is_warned_about_once_even_when_in_band_ones_come_between(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="py_sp_api.ratelimit")
    limiter, _ = _limiter_on_a_fake_clock()
    limiter.acquire(GET_ATTRIBUTES, "seller")

    for header in ("1e9", "2.0", "1e9", "2.0", "1e9"):
        limiter.observe(GET_ATTRIBUTES, "seller", header)

    assert len(_rate_limit_warnings(caplog)) == 1, _rate_limit_warnings(caplog)


def test_an_out_of_band_header_is_warned_about_for_each_seller_and_states_the_band(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="py_sp_api.ratelimit")
    limiter, _ = _limiter_on_a_fake_clock()
    assert GET_ATTRIBUTES.rate_limit.rate == 1.0  # so the band is 0.01 to 100 requests/s

    for seller in ("seller-A", "seller-B"):
        limiter.acquire(GET_ATTRIBUTES, seller)
        limiter.observe(GET_ATTRIBUTES, seller, "1e9")

    warnings = _rate_limit_warnings(caplog)
    assert len(warnings) == 2, warnings
    assert all("outside 0.01 to 100 requests/s" in warning for warning in warnings), warnings


def test_a_store_failing_to_record_a_rate_is_logged_with_operation_bucket_and_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="py_sp_api.ratelimit")
    limiter, _ = _limiter_on_a_fake_clock(store=_StoreFailingToRecordRates())
    limiter.acquire(GET_ATTRIBUTES, "seller")

    limiter.observe(GET_ATTRIBUTES, "seller", "2.0")

    (warning,) = _rate_limit_warnings(caplog)
    key = bucket_key("seller", GET_ATTRIBUTES)
    assert key in warning
    assert "GetAttributes" in warning.replace(key, ""), "the operation is named on its own"
    assert "RuntimeError" in warning
    assert "WRONGTYPE" in warning


@pytest.mark.parametrize(("headroom", "immediate_calls"), [(0, 2), (1, 1)])
def test_a_burst_of_two_keeps_one_token_of_headroom_only_when_asked(
    headroom: int, immediate_calls: int
) -> None:
    limiter, sleep = _limiter_on_a_fake_clock(
        headroom=headroom, overrides={"get_attributes": RateLimit(rate=1.0, burst=2)}
    )
    for _ in range(4):
        limiter.acquire(GET_ATTRIBUTES, "seller")

    assert sleep.calls == [pytest.approx(1.0)] * (4 - immediate_calls)


def test_a_rate_learned_for_a_bucket_the_store_does_not_hold_is_ignored() -> None:
    # A store forgets idle buckets; a rate stated for one afterwards must not fail.
    clock = FakeClock()
    store = LocalBucketStore(clock=clock)
    store.set_rate("seller|messaging|GetAttributes", 2.0)
    assert store.reserve("seller|messaging|GetAttributes", 1.0, 1, None) == (True, 0.0)
    assert store.reserve("seller|messaging|GetAttributes", 1.0, 1, None) == (True, 1.0)


def test_a_nonsense_learned_rate_is_refused_saying_what_was_wrong() -> None:
    store = LocalBucketStore()
    with pytest.raises(ApiTypeError) as not_a_number:
        # A rate from an untyped caller: the refusal is the point.
        store.set_rate("seller|messaging|GetAttributes", "fast")  # type: ignore[arg-type]
    assert "learned rate" in str(not_a_number.value).lower()
    assert "str" in str(not_a_number.value)
    with pytest.raises(ApiValueError) as not_positive:
        store.set_rate("seller|messaging|GetAttributes", -3.0)
    assert "learned rate" in str(not_positive.value).lower()
    assert "-3.0" in str(not_positive.value)


def test_a_rate_header_longer_than_the_length_guard_is_not_parsed() -> None:
    # 32 characters: plenty for a rate, and a bound on what is parsed from the network.
    assert parse_rate_header("2".rjust(32)) == 2.0
    assert parse_rate_header("2".rjust(33)) is None
    assert parse_rate_header(None) is None  # type: ignore[arg-type]  # headers may be missing


@pytest.mark.parametrize(
    ("settings", "error", "told"),
    [
        ({"max_wait": -1.0}, ApiValueError, ["max_wait", ">= 0", "-1.0"]),
        ({"max_wait": "5"}, ApiTypeError, ["max_wait", "str"]),
        ({"wait_ceiling": -2.0}, ApiValueError, ["wait_ceiling", "> 0", "-2.0"]),
        ({"wait_ceiling": "600"}, ApiTypeError, ["wait_ceiling", "str"]),
    ],
)
def test_a_nonsense_wait_setting_is_refused_naming_the_setting_and_what_it_accepts(
    settings: Dict[str, Any], error: Type[Exception], told: List[str]
) -> None:
    with pytest.raises(error) as caught:
        RateLimiting(**settings)
    for part in told:
        assert part in str(caught.value)


@pytest.mark.parametrize("ceiling", [0, 0.0, math.inf])
def test_a_wait_ceiling_of_zero_or_infinity_is_refused(ceiling: float) -> None:
    # Zero would refuse every wait; infinity would let a bucket in absurd debt block forever.
    with pytest.raises(ApiValueError) as caught:
        RateLimiting(wait_ceiling=ceiling)
    assert "wait_ceiling" in str(caught.value)
    assert ">= 0" not in str(caught.value), "zero is not accepted, the message must not say so"


@pytest.mark.parametrize(
    ("headroom", "error", "told"),
    [
        (-1, ApiValueError, ">= 0: -1"),
        (-4, ApiValueError, ">= 0: -4"),
        (0.5, ApiTypeError, "not float"),
        ("1", ApiTypeError, "not str"),
        (True, ApiTypeError, "not bool"),
    ],
)
def test_a_nonsense_headroom_is_refused_naming_it(
    headroom: Any, error: Type[Exception], told: str
) -> None:
    # A negative headroom would raise the burst above Amazon's plan (5 - (-1) = 6 tokens at
    # once): the sixth request of a burst would be a 429.
    with pytest.raises(error) as caught:
        RateLimiting(headroom=headroom)
    assert "headroom" in str(caught.value)
    assert told in str(caught.value)


def test_headroom_is_taken_off_the_plans_burst() -> None:
    plan = RateLimit(rate=1.0, burst=5)
    for headroom in (0, 1, 2):
        pacing, _ = _limiter_on_a_fake_clock(headroom=headroom, default=plan)
        waits = [pacing.acquire(GET_ATTRIBUTES, "seller") for _ in range(6)]
        assert sum(1 for waited in waits if waited == 0) == 5 - headroom


def test_a_negative_headroom_set_after_building_is_refused_before_any_call() -> None:
    # Refusing it only when built would let `pacing.headroom = -1` lift a burst of 5 to 6,
    # the sixth request a 429.
    pacing, _ = _limiter_on_a_fake_clock(default=RateLimit(rate=1.0, burst=5))
    pacing.headroom = -1
    with pytest.raises(ApiValueError) as caught:
        pacing.acquire(GET_ATTRIBUTES, "seller")
    assert "headroom" in str(caught.value)
    with pytest.raises(ApiValueError):
        pacing.burst_for(RateLimit(rate=1.0, burst=5))
