"""A client built before ``os.fork()`` keeps working, separately, in the parent and the child.

Gunicorn ``--preload``, Celery's prefork pool and ``multiprocessing`` with the fork start method
all build clients in a parent that then forks. Everything here is real: ``os.fork()``,
``multiprocessing`` pools with the fork context, an HTTP server on 127.0.0.1 that answers each
order id with data naming that order (slowly, so the parent's and the child's calls overlap),
the fake LWA endpoint and a real ``redis-server``.

A child that hangs is killed with SIGKILL at a deadline, so a hang fails the test instead of
blocking the suite.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable, Iterator, List, Optional, Tuple

import pytest

from py_sp_api import NO_RETRIES
from py_sp_api.generated.messaging import ApiClient, Configuration, MessagingApi
from py_sp_api.runtime.ratelimit import LocalBucketStore
from tests.support.background import BackgroundServer, LocalHTTPServer
from tests.support.fake_lwa import FakeLwa
from tests.support.redis_server import RedisServer, redis_server_fixture  # noqa: F401

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="this platform has no os.fork()"),
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

MARKETPLACE = "ATVPDKIKX0DER"
SLOW = 0.1  # seconds the server takes per answer while parent and child overlap
CHILD_DEADLINE = 2.5  # seconds; a child still running then is hung


class _OrderHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _OrderHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        order_id = self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        self.server.owner.received(order_id)
        time.sleep(self.server.owner.delay)
        payload = json.dumps(
            {"_links": {"self": {"href": f"/messaging/v1/orders/{order_id}"}, "actions": []}}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/hal+json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _OrderHTTPServer(LocalHTTPServer):
    def __init__(self, owner: OrderServer) -> None:
        self.owner = owner
        super().__init__(_OrderHandler)


class OrderServer:
    """Answers ``GET .../orders/{id}`` with a body naming ``{id}``, after ``delay`` seconds."""

    def __init__(self) -> None:
        self.delay = 0.0
        self._lock = threading.Lock()
        self._received: List[str] = []
        self._arrived = threading.Condition(self._lock)
        self._server = BackgroundServer(_OrderHTTPServer(self), name="order-server")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    def received(self, order_id: str) -> None:
        with self._arrived:
            self._received.append(order_id)
            self._arrived.notify_all()

    def wait_for(self, order_id: str, timeout: float = 2.0) -> None:
        with self._arrived:
            assert self._arrived.wait_for(lambda: order_id in self._received, timeout), (
                f"the server never received order {order_id}"
            )

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture
def orders() -> Iterator[OrderServer]:
    server = OrderServer()
    yield server
    server.stop()


def make_api(host: str, **configuration: Any) -> MessagingApi:
    configuration.setdefault("rate_limiting", False)
    configuration.setdefault("retry", NO_RETRIES)  # a failure must show, not be retried away
    return MessagingApi(ApiClient(Configuration(host=host, timeout=(1.0, 2.0), **configuration)))


def order_of(api: MessagingApi, order_id: str) -> str:
    """The order the answer to a call for ``order_id`` names, or the error the call raised."""
    try:
        answer = api.get_messaging_actions_for_order(order_id, [MARKETPLACE])
    except Exception as exc:  # the outcome is what the test checks
        return f"{type(exc).__name__}: {exc}"
    assert answer.links is not None
    return answer.links.var_self.href.rsplit("/", 1)[-1]


@dataclass
class Child:
    """A forked child running one function; :meth:`result` waits for it with a deadline."""

    pid: int
    reader: int

    def result(self, deadline: float = CHILD_DEADLINE) -> Any:
        give_up = time.monotonic() + deadline
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > give_up:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                os.close(self.reader)
                pytest.fail(f"the child was still running after {deadline}s: it hung")
            time.sleep(0.01)
        with os.fdopen(self.reader, "rb") as pipe:
            output = pipe.read()
        assert os.WIFEXITED(status), output
        assert os.WEXITSTATUS(status) == 0, output
        return json.loads(output)


def fork_running(work: Callable[[], Any]) -> Child:
    """Fork; the child runs ``work()``, sends its JSON result up a pipe and exits."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            os.close(reader)
            output = json.dumps(work()).encode()
            code = 0
        except BaseException as exc:
            output = repr(exc).encode()
        finally:
            os.write(writer, output)
            os._exit(code)
    os.close(writer)
    return Child(pid, reader)


def order_after(delay: float, api: MessagingApi, order_id: str) -> str:
    time.sleep(delay)
    return order_of(api, order_id)


def tally(outcomes: List[Tuple[str, str]]) -> Tuple[int, int]:
    """(calls answered with another order's data, calls that failed) of (wanted, got) pairs."""
    failed = sum(": " in got for _, got in outcomes)
    wrong = sum(": " not in got and got != wanted for wanted, got in outcomes)
    return wrong, failed


# -- sockets: a keep-alive connection pooled before the fork ------------------------------------


@pytest.mark.parametrize("first", ["parent", "child"])
def test_parent_and_child_calling_at_once_each_get_their_own_order(
    orders: OrderServer, first: str
) -> None:
    # Each round: a client whose pool holds a keep-alive connection, a fork, and the parent and
    # the child each calling for their own order while the other's call is in flight.
    outcomes: List[Tuple[str, str]] = []
    for round_ in range(4):
        api = make_api(orders.url)
        orders.delay = 0.0
        assert order_of(api, "warm-up") == "warm-up"
        orders.delay = SLOW
        parent_order, child_order = f"parent-{round_}", f"child-{round_}"
        parent_wait, child_wait = (0.0, 0.03) if first == "parent" else (0.03, 0.0)
        child = fork_running(functools.partial(order_after, child_wait, api, child_order))
        outcomes.append((parent_order, order_after(parent_wait, api, parent_order)))
        outcomes.append((child_order, child.result()))
        api.api_client.close()
    assert tally(outcomes) == (0, 0), outcomes


def test_fork_while_another_thread_has_a_request_in_flight(orders: OrderServer) -> None:
    api = make_api(orders.url)
    orders.delay = 0.05
    warm = [threading.Thread(target=order_of, args=(api, f"warm-{n}")) for n in range(2)]
    for thread in warm:
        thread.start()
    for thread in warm:
        thread.join()
    # The pool now holds two idle keep-alive connections; a thread takes one for a slow call.
    orders.delay = 2 * SLOW
    in_flight: List[str] = []
    thread = threading.Thread(target=lambda: in_flight.append(order_of(api, "in-flight")))
    thread.start()
    orders.wait_for("in-flight")
    child = fork_running(lambda: order_of(api, "child"))
    outcomes = [("parent", order_of(api, "parent")), ("child", child.result())]
    thread.join(timeout=5)
    outcomes.append(("in-flight", in_flight[0]))
    assert tally(outcomes) == (0, 0), outcomes
    api.api_client.close()


def test_the_parent_keeps_its_pooled_connection_after_a_fork(orders: OrderServer) -> None:
    # The child drops what it inherited without disturbing the parent's sockets: the parent's
    # next calls still work, before and after the child has exited.
    api = make_api(orders.url)
    assert order_of(api, "before") == "before"
    child = fork_running(lambda: order_of(api, "child"))
    assert order_of(api, "meanwhile") == "meanwhile"
    assert child.result() == "child"
    assert [order_of(api, f"after-{n}") for n in range(3)] == [f"after-{n}" for n in range(3)]
    api.api_client.close()


# -- locks: held by another thread at the moment of the fork ------------------------------------


def test_fork_during_an_lwa_token_fetch_does_not_hang_the_child(orders: OrderServer) -> None:
    with FakeLwa(delay=0.4) as lwa:
        api = make_api(orders.url, credentials=lwa.credentials())
        fetching: List[str] = []
        thread = threading.Thread(target=lambda: fetching.append(order_of(api, "fetching")))
        thread.start()
        deadline = time.monotonic() + 2
        while lwa.token_requests == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert lwa.token_requests == 1, "the token fetch never started"
        # Another thread holds the token lock, waiting for LWA, at the moment of the fork.
        child = fork_running(lambda: order_of(api, "child"))
        assert child.result() == "child"
        thread.join(timeout=5)
        assert fetching == ["fetching"]
        api.api_client.close()


def test_a_token_cached_before_the_fork_serves_the_child(orders: OrderServer) -> None:
    with FakeLwa() as lwa:
        api = make_api(orders.url, credentials=lwa.credentials())
        assert order_of(api, "parent") == "parent"
        child = fork_running(lambda: order_of(api, "child"))
        assert child.result() == "child"
        assert lwa.token_requests == 1  # the same seller: the child reuses the cached token
        api.api_client.close()


def test_fork_while_another_thread_is_inside_the_local_bucket_store() -> None:
    parent = os.getpid()
    inside, release = threading.Event(), threading.Event()

    def clock() -> float:
        # The store reads its clock under its lock: the parent's thread stays inside it.
        if os.getpid() == parent and threading.current_thread().name == "holder":
            inside.set()
            release.wait(5)
        return time.monotonic()

    store = LocalBucketStore(clock=clock)
    holder = threading.Thread(target=store.reserve, args=("k", 1.0, 5, None), name="holder")
    holder.start()
    assert inside.wait(2)
    try:
        child = fork_running(lambda: store.reserve("k", 1.0, 5, None))
        assert child.result() == [True, 0.0]
    finally:
        release.set()
        holder.join(timeout=5)


def test_redis_store_after_a_fork_with_its_locks_held(redis_server: RedisServer) -> None:
    from py_sp_api import RedisBucketStore

    store = RedisBucketStore.from_url(redis_server.url, namespace=f"fork-{os.getpid()}")
    assert store.reserve("k", 1.0, 10, None) == (True, 0.0)  # a pooled Redis connection
    # Parent threads hold the store's locks at the moment of the fork.
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store._lock, store._local_lock:
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(2)
    try:
        child = fork_running(lambda: [store.reserve("k", 1.0, 10, None), store.mode])
        assert child.result() == [[True, 0.0], "redis"]
    finally:
        release.set()
        holder.join(timeout=5)
    # Parent and child took from the same bucket in Redis, each on its own connection.
    assert store.reserve("k", 1.0, 10, None) == (True, 0.0)
    tokens = store.client.hget(store.redis_key("k"), "tokens")
    assert tokens is not None
    assert 7 <= float(tokens) < 7.5
    store.close()


def test_a_redis_probe_in_flight_at_the_fork_does_not_stop_the_child_probing(
    redis_server: RedisServer,
) -> None:
    from py_sp_api import RedisBucketStore

    store = RedisBucketStore.from_url(
        redis_server.url, namespace=f"probe-{os.getpid()}", retry_interval=0.05
    )
    redis_server.kill()
    # A server that accepts connections and never answers: a probe of it lasts the 0.25 s
    # socket timeout.
    silent = socket.socket()
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    silent.bind(("127.0.0.1", redis_server.port))
    silent.listen(16)
    assert store.reserve("k", 100.0, 100, None)[0]
    assert store.mode == "fallback"
    time.sleep(0.06)
    prober = threading.Thread(target=store.reserve, args=("k", 100.0, 100, None))
    prober.start()  # its reserve() probes Redis, and waits for the silent server
    time.sleep(0.1)

    def mode_once_redis_is_back() -> str:
        silent.close()  # the child's copy of the listening socket
        give_up = time.monotonic() + 2.0
        while store.mode != "redis" and time.monotonic() < give_up:
            store.reserve("k", 100.0, 100, None)
            time.sleep(0.02)
        return store.mode

    child = fork_running(mode_once_redis_is_back)
    silent.close()
    prober.join(timeout=5)
    redis_server.start()
    assert child.result() == "redis"
    store.close()


# -- multiprocessing with the fork start method -------------------------------------------------

_WORKER_API: Optional[MessagingApi] = None


def _order_in_worker(order_id: str) -> str:
    assert _WORKER_API is not None
    return order_of(_WORKER_API, order_id)


@pytest.fixture
def worker_api() -> Iterator[Callable[..., MessagingApi]]:
    def install(host: str, **configuration: Any) -> MessagingApi:
        global _WORKER_API
        _WORKER_API = make_api(host, **configuration)
        return _WORKER_API

    yield install
    global _WORKER_API
    if _WORKER_API is not None:
        _WORKER_API.api_client.close()
    _WORKER_API = None


def run_pool(order_ids: List[str], parent_call: Callable[[], None]) -> List[str]:
    """Map ``order_ids`` over two fork workers while the parent runs ``parent_call``."""
    pool = multiprocessing.get_context("fork").Pool(2)
    try:
        pending = pool.map_async(_order_in_worker, order_ids, chunksize=1)
        parent_call()
        try:
            return pending.get(timeout=CHILD_DEADLINE)
        except multiprocessing.TimeoutError:
            pytest.fail(f"the pool's workers did not answer within {CHILD_DEADLINE}s: they hung")
    finally:
        pool.terminate()
        pool.join()


def test_multiprocessing_fork_workers_and_parent_get_their_own_orders(
    orders: OrderServer, worker_api: Callable[..., MessagingApi]
) -> None:
    api = worker_api(orders.url)
    assert order_of(api, "warm-up") == "warm-up"
    orders.delay = SLOW
    parent: List[Tuple[str, str]] = []
    wanted = [f"worker-{n}" for n in range(4)]
    got = run_pool(wanted, lambda: parent.extend(("p", order_of(api, "p")) for _ in range(2)))
    assert tally(list(zip(wanted, got)) + parent) == (0, 0), (got, parent)


def test_multiprocessing_pool_forked_during_an_lwa_token_fetch(
    orders: OrderServer, worker_api: Callable[..., MessagingApi]
) -> None:
    with FakeLwa(delay=0.4) as lwa:
        api = worker_api(orders.url, credentials=lwa.credentials())
        fetching: List[str] = []
        thread = threading.Thread(target=lambda: fetching.append(order_of(api, "fetching")))
        thread.start()
        deadline = time.monotonic() + 2
        while lwa.token_requests == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        # The pool forks its workers while the parent's thread holds the token lock.
        got = run_pool(["worker-0", "worker-1"], lambda: None)
        thread.join(timeout=5)
        assert got == ["worker-0", "worker-1"]
        assert fetching == ["fetching"]
