"""One behaviour suite for every send-journal backend: memory, SQLite and Redis.

Each test runs against each backend through the :class:`SendJournal` facade (with a fake clock
where leases matter): every method of the ``JournalBackend`` protocol and every state
transition. The durable backends are also reopened (a new connection or client must see the
same entries), raced by threads and by real processes, used across ``os.fork()``, and made to
fail. Everything is real: an SQLite file in ``tmp_path``, a ``redis-server`` of the test's own.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import multiprocessing
import os
import pickle
import random
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from py_sp_api import DuplicateSendError, JournalEntry, SendJournal, SendJournalError, SendKey
from py_sp_api.runtime.exceptions import ApiValueError
from py_sp_api.runtime.journal import (
    EXPIRED_DETAIL,
    IN_FLIGHT,
    REJECTED,
    SENT,
    UNKNOWN,
    Claim,
    JournalBackend,
    MemoryJournalBackend,
)
from tests.support.redis_server import RedisServer, redis_server_fixture  # noqa: F401
from tests.support.threads import run_threads

LEASE = 60.0
START = 1_800_000_000.123456  # a time with a fraction, to see it kept whole
IDENTITY = "https://sellingpartnerapi-na.amazon.com|lwa:5f1c0e"
MARKETPLACE = "ATVPDKIKX0DER"
OPERATION = "createConfirmOrderDetails"
PROCESS_TIMEOUT = 30.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def key(order: int = 1, caller_key: Optional[str] = None) -> SendKey:
    return SendKey(IDENTITY, MARKETPLACE, f"113-0000000-{order:07d}", OPERATION, caller_key)


class Store:
    """Where one backend kind keeps its entries; :meth:`open` gives a new backend on it."""

    def __init__(
        self, kind: str, tmp_path: Path, redis_server: Optional[RedisServer] = None
    ) -> None:
        self.kind = kind
        self.path = tmp_path / "journal.sqlite3"
        self.redis_server = redis_server
        self.namespace = f"test-{uuid.uuid4().hex[:8]}"
        self.memory = MemoryJournalBackend()
        self.opened: List[JournalBackend] = []

    @property
    def durable(self) -> bool:
        return self.kind != "memory"

    @property
    def spec(self) -> Dict[str, str]:
        """What another process needs to open the same store."""
        if self.kind == "sqlite":
            return {"kind": "sqlite", "path": str(self.path)}
        assert self.redis_server is not None
        return {"kind": "redis", "url": self.redis_server.url, "namespace": self.namespace}

    def open(self) -> JournalBackend:
        if self.kind == "memory":
            return self.memory  # one process's memory: every "opening" is the same
        backend = open_backend(self.spec)
        self.opened.append(backend)
        return backend

    def close(self) -> None:
        for backend in self.opened:
            backend.close()


def open_backend(spec: Dict[str, str]) -> JournalBackend:
    if spec["kind"] == "sqlite":
        from py_sp_api.runtime.journal_sqlite import SqliteJournalBackend

        return SqliteJournalBackend(spec["path"])
    from py_sp_api.runtime.journal_redis import RedisJournalBackend

    return RedisJournalBackend.from_url(spec["url"], namespace=spec["namespace"])


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    server = request.getfixturevalue("redis_server") if request.param == "redis" else None
    made = Store(request.param, tmp_path, server)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(params=["sqlite", "redis"])
def durable_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    server = request.getfixturevalue("redis_server") if request.param == "redis" else None
    made = Store(request.param, tmp_path, server)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def journal(store: Store, clock: Clock) -> SendJournal:
    return SendJournal(store.open(), lease=LEASE, clock=clock)


def refused(journal: SendJournal, send_key: SendKey) -> DuplicateSendError:
    with pytest.raises(DuplicateSendError) as caught:
        journal.claim(send_key, b"{}")
    return caught.value


# -- claiming -------------------------------------------------------------------------------------


def test_a_free_key_is_claimed_in_flight(journal: SendJournal, clock: Clock) -> None:
    body = b'{"text": "Could you confirm the engraving?"}'

    claim = journal.claim(key(), body)

    entry = journal.get(key())
    assert entry is not None
    assert entry.key == str(key()) == claim.key
    assert entry.send_key == key()
    assert (entry.identity, entry.marketplace_id, entry.order_id, entry.operation) == (
        IDENTITY,
        MARKETPLACE,
        key().order_id,
        OPERATION,
    )
    assert entry.caller_key is None
    assert (entry.state, entry.claim_id) == (IN_FLIGHT, claim.claim_id)
    assert entry.owner.endswith(f":{os.getpid()}")
    assert entry.created_at == entry.updated_at == START
    assert entry.lease_until == START + LEASE
    assert entry.body_sha256 == hashlib.sha256(body).hexdigest()
    assert entry.body is None
    assert (entry.request_id, entry.status, entry.detail) == (None, None, None)
    assert journal.entries() == [entry]
    assert journal.get(key(2)) is None


@pytest.mark.parametrize("holder", [SENT, IN_FLIGHT, UNKNOWN])
def test_a_taken_key_is_refused_with_its_state_and_entry(journal: SendJournal, holder: str) -> None:
    claim = journal.claim(key(), b"{}")
    if holder != IN_FLIGHT:
        journal.settle(claim, holder, request_id="rid-1", status=201 if holder == SENT else 503)
    before = journal.get(key())

    error = refused(journal, key())

    assert error.state == holder
    assert isinstance(error.entry, JournalEntry)
    assert error.entry == before
    assert error.entry.claim_id == claim.claim_id
    assert "nothing was sent" in str(error)
    assert journal.get(key()) == before  # the refused claim changed nothing
    # Another caller key for the same order and type is another message.
    journal.claim(key(caller_key="second-reminder"))
    assert len(journal.entries()) == 2


def test_a_rejected_key_may_be_claimed_again(journal: SendJournal, clock: Clock) -> None:
    first = journal.claim(key(), b"{}")
    journal.settle(first, REJECTED, request_id="rid-400", status=400, detail="bad order id")
    rejected = journal.get(key())
    assert rejected is not None
    assert (rejected.state, rejected.status) == (REJECTED, 400)
    clock.advance(5)

    second = journal.claim(key(), b"{}")

    entry = journal.get(key())
    assert entry is not None
    assert (entry.state, entry.claim_id) == (IN_FLIGHT, second.claim_id)
    assert entry.created_at == START + 5
    assert (entry.request_id, entry.status, entry.detail) == (None, None, None)
    assert journal.entries() == [entry]


def test_a_claim_past_its_lease_reads_unknown_and_is_never_claimed_again(
    journal: SendJournal, store: Store, clock: Clock
) -> None:
    journal.claim(key(), b"{}")
    clock.advance(LEASE - 1)
    assert refused(journal, key()).state == IN_FLIGHT  # still within its lease

    clock.advance(2)

    seen = journal.get(key())
    assert seen is not None
    assert (seen.state, seen.detail) == (UNKNOWN, EXPIRED_DETAIL)
    stored = journal.backend.get(str(key()))
    assert stored is not None
    assert stored.state == IN_FLIGHT
    error = refused(journal, key())
    assert (error.state, error.entry.detail) == (UNKNOWN, EXPIRED_DETAIL)
    # The refused claim stored what it saw: unknown, for every reader from now on.
    stored = store.open().get(str(key()))
    assert stored is not None
    assert (stored.state, stored.detail) == (UNKNOWN, EXPIRED_DETAIL)
    assert [entry.state for entry in journal.entries(UNKNOWN)] == [UNKNOWN]


# -- settling and releasing ---------------------------------------------------------------------


def test_the_owner_settles_its_claim(journal: SendJournal, clock: Clock) -> None:
    claim = journal.claim(key(), b"{}")
    clock.advance(0.25)

    journal.settle(claim, SENT, request_id="rid-201", status=201)

    entry = journal.get(key())
    assert entry is not None
    assert (entry.state, entry.request_id, entry.status, entry.detail) == (
        SENT,
        "rid-201",
        201,
        None,
    )
    assert (entry.created_at, entry.updated_at) == (START, START + 0.25)


def test_the_owners_outcome_wins_over_an_expired_lease(journal: SendJournal, clock: Clock) -> None:
    claim = journal.claim(key(), b"{}")
    clock.advance(LEASE + 1)
    assert refused(journal, key()).state == UNKNOWN  # stored as unknown meanwhile

    journal.settle(claim, SENT, request_id="rid-late", status=201)

    entry = journal.get(key())
    assert entry is not None
    assert (entry.state, entry.request_id, entry.status, entry.detail) == (
        SENT,
        "rid-late",
        201,
        None,
    )


def test_a_stale_claim_cannot_settle(journal: SendJournal, clock: Clock) -> None:
    first = journal.claim(key(), b"{}")
    journal.settle(first, REJECTED, status=400)
    second = journal.claim(key(), b"{}")

    journal.settle(first, SENT, request_id="rid-stale", status=201)  # no longer the key's

    entry = journal.get(key())
    assert entry is not None
    assert (entry.state, entry.claim_id, entry.request_id) == (IN_FLIGHT, second.claim_id, None)
    assert (
        journal.backend.settle(
            key=str(key()),
            claim_id=first.claim_id,
            state=SENT,
            now=clock(),
            request_id=None,
            status=None,
            detail=None,
        )
        is False
    )
    journal.settle(second, SENT, request_id="rid-2", status=201)
    # A settled claim is not settled twice.
    assert (
        journal.backend.settle(
            str(key()), second.claim_id, REJECTED, clock(), request_id=None, status=400, detail=None
        )
        is False
    )
    settled = journal.get(key())
    assert settled is not None
    assert (settled.state, settled.request_id) == (SENT, "rid-2")


def test_release_drops_only_its_own_in_flight_claim(journal: SendJournal) -> None:
    claim = journal.claim(key(), b"{}")

    journal.release(Claim(claim.key, uuid.uuid4().hex))  # someone else's claim id
    assert journal.get(key()) is not None

    journal.release(claim)
    assert journal.get(key()) is None
    assert journal.entries() == []

    again = journal.claim(key(), b"{}")  # the key is free again
    journal.settle(again, SENT, request_id="rid", status=201)
    journal.release(again)  # too late: it was sent
    kept = journal.get(key())
    assert kept is not None
    assert kept.state == SENT


# -- resolving by hand ----------------------------------------------------------------------------


def test_resolve_settles_an_unknown_entry(journal: SendJournal, clock: Clock) -> None:
    delivered = journal.claim(key(1), b"{}")
    journal.settle(delivered, UNKNOWN, status=503)
    journal._owner = "another-host:4242"
    journal.claim(key(2), b"{}")  # ...that dies: its lease runs out
    clock.advance(LEASE + 1)

    sent = journal.resolve(key(1), delivered=True)
    not_sent = journal.resolve(str(key(2)), delivered=False)

    assert (sent.state, sent.status, sent.updated_at) == (SENT, 503, clock())
    assert sent.detail == "resolved by hand as delivered"
    assert (not_sent.state, not_sent.detail) == (REJECTED, "resolved by hand as not delivered")
    assert journal.get(key(1)) == sent
    assert journal.entries(UNKNOWN) == []
    assert refused(journal, key(1)).state == SENT
    journal.claim(key(2), b"{}")  # not delivered: the message may be sent again


def test_resolve_refuses_an_entry_that_is_not_unknown(journal: SendJournal) -> None:
    journal.settle(journal.claim(key(1)), SENT, request_id="rid", status=201)
    journal.claim(key(2))  # in flight, within its lease
    journal.settle(journal.claim(key(3)), REJECTED, status=400)
    before = journal.entries()

    for order in (1, 2, 3):
        with pytest.raises(ApiValueError, match="only an unknown entry"):
            journal.resolve(key(order), delivered=order == 2)
    with pytest.raises(ApiValueError, match="no journal entry"):
        journal.resolve(key(4), delivered=True)

    assert journal.entries() == before


# -- reading ------------------------------------------------------------------------------------


def test_entries_are_oldest_first_and_filtered_by_state(journal: SendJournal, clock: Clock) -> None:
    outcomes = {7: SENT, 3: REJECTED, 9: UNKNOWN, 1: IN_FLIGHT, 5: SENT, 2: IN_FLIGHT}
    for order, state in outcomes.items():  # claimed in this order, a second apart
        claim = journal.claim(key(order), b"{}")
        if state != IN_FLIGHT:
            journal.settle(claim, state, request_id=f"rid-{order}", status=201)
        clock.advance(1)
    # Now START + 64: the claim of order 1 (made at START + 3) is past its lease, that of
    # order 2 (made at START + 5) is not.
    clock.advance(LEASE - 2)

    assert [entry.order_id for entry in journal.entries()] == [key(o).order_id for o in outcomes]
    by_state = {
        state: [entry.order_id[-1] for entry in journal.entries(state)]
        for state in (SENT, REJECTED, UNKNOWN, IN_FLIGHT)
    }
    assert by_state == {SENT: ["7", "5"], REJECTED: ["3"], UNKNOWN: ["9", "1"], IN_FLIGHT: ["2"]}
    assert all(entry.state == UNKNOWN for entry in journal.entries(UNKNOWN))
    with pytest.raises(ApiValueError, match="state must be one of"):
        journal.entries("delivered")


def test_bodies_are_kept_only_when_asked(store: Store, clock: Clock) -> None:
    body = b'{"text": "\xc3\xa9t\xc3\xa9"}\x00\xff'  # any bytes survive
    plain = SendJournal(store.open(), lease=LEASE, clock=clock)
    keeping = SendJournal(store.open(), lease=LEASE, clock=clock, store_bodies=True)

    plain.claim(key(1), body)
    keeping.claim(key(2), body)
    keeping.claim(key(3))  # no body at all

    digest = hashlib.sha256(body).hexdigest()
    first, second, third = (plain.get(key(order)) for order in (1, 2, 3))
    assert first is not None
    assert (first.body, first.body_sha256) == (None, digest)
    assert second is not None
    assert (second.body, second.body_sha256) == (body, digest)
    assert third is not None
    assert (third.body, third.body_sha256) == (None, None)


def test_exports_round_trip(journal: SendJournal, store: Store, clock: Clock) -> None:
    keeping = SendJournal(store.open(), lease=LEASE, clock=clock, store_bodies=True)
    journal.settle(journal.claim(key(1), b"{}"), SENT, request_id="rid-1", status=201)
    clock.advance(1)
    keeping.settle(keeping.claim(key(2, "again"), b'{"text": "hi"}'), UNKNOWN, detail="no answer")
    clock.advance(1)
    journal.claim(key(3))
    expected = [entry.to_record() for entry in journal.entries()]

    as_json = io.StringIO()
    assert journal.export_json(as_json) == 3
    assert json.loads(as_json.getvalue()) == expected
    only_unknown = io.StringIO()
    assert journal.export_json(only_unknown, state=UNKNOWN) == 1
    assert json.loads(only_unknown.getvalue()) == [expected[1]]

    as_csv = io.StringIO()
    assert journal.export_csv(as_csv) == 3
    rows = list(csv.DictReader(io.StringIO(as_csv.getvalue())))
    assert "claim_id" not in rows[0]
    assert rows == [
        {name: "" if value is None else str(value) for name, value in record.items()}
        for record in (
            {name: value for name, value in record.items() if name != "claim_id"}
            for record in expected
        )
    ]
    assert rows[1]["body"] == '{"text": "hi"}'
    assert float(rows[0]["created_at"]) == START  # times read back whole


# -- durability and concurrency -----------------------------------------------------------------


def test_entries_survive_closing_and_reopening(durable_store: Store, clock: Clock) -> None:
    journal = SendJournal(durable_store.open(), lease=LEASE, clock=clock, store_bodies=True)
    journal.settle(journal.claim(key(1), b"\x00body"), SENT, request_id="rid-1", status=201)
    journal.claim(key(2))
    before = journal.entries()
    journal.close()

    reopened = SendJournal(durable_store.open(), lease=LEASE, clock=clock)

    assert reopened.entries() == before
    assert refused(reopened, key(1)).state == SENT
    assert refused(reopened, key(2)).state == IN_FLIGHT


def test_one_of_eight_threads_racing_for_a_key_wins(journal: SendJournal) -> None:
    barrier = threading.Barrier(8)
    won: List[Claim] = []
    lost: List[str] = []
    lock = threading.Lock()

    def race() -> None:
        barrier.wait(timeout=10)
        try:
            claim = journal.claim(key(), b"{}")
        except DuplicateSendError as error:
            with lock:
                lost.append(error.state)
        else:
            with lock:
                won.append(claim)

    run_threads(8, race, timeout=10)

    assert len(won) == 1
    assert lost == [IN_FLIGHT] * 7
    entry = journal.get(key())
    assert entry is not None
    assert entry.claim_id == won[0].claim_id


def _claim_all(
    spec: Dict[str, str], orders: List[int], barrier: Any, results: Any
) -> None:  # pragma: no cover - runs in the worker processes
    """One worker process: its own backend; claims every key it can, settles those as sent."""
    journal = SendJournal(open_backend(spec))
    random.shuffle(orders)
    won: List[int] = []
    errors: List[str] = []
    barrier.wait(timeout=PROCESS_TIMEOUT)
    for order in orders:
        try:
            claim = journal.claim(key(order), b"{}")
        except DuplicateSendError:
            continue
        except Exception as exc:  # counted: must be none
            errors.append(repr(exc))
            continue
        journal.settle(claim, SENT, request_id=f"rid-{os.getpid()}-{order}", status=201)
        won.append(order)
    journal.close()
    results.put({"pid": os.getpid(), "won": won, "errors": errors})


def test_four_processes_racing_claim_each_key_once(durable_store: Store) -> None:
    orders = list(range(1, 21))
    durable_store.open()  # creates the file (or checks Redis) before the race
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    results = context.Queue()
    processes = [
        context.Process(
            target=_claim_all, args=(durable_store.spec, orders, barrier, results), daemon=True
        )
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    try:
        reports = [results.get(timeout=PROCESS_TIMEOUT) for _ in processes]
        for process in processes:
            process.join(timeout=PROCESS_TIMEOUT)
            assert process.exitcode == 0
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(timeout=10)

    assert [report["errors"] for report in reports] == [[]] * 4
    won = sorted(order for report in reports for order in report["won"])
    assert won == orders  # each key claimed exactly once
    entries = SendJournal(durable_store.open()).entries()
    assert sorted(entry.order_id for entry in entries) == sorted(key(o).order_id for o in orders)
    winner = {order: report["pid"] for report in reports for order in report["won"]}
    for entry in entries:
        order = int(entry.order_id[-7:])
        assert entry.state == SENT
        assert entry.owner.endswith(f":{winner[order]}")
        assert entry.request_id == f"rid-{winner[order]}-{order}"


def _wait_for_child(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return (
                os.waitstatus_to_exitcode(status)
                if hasattr(os, "waitstatus_to_exitcode")
                else status
            )
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError(f"the forked child did not finish in {timeout}s")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_uses_connections_of_its_own(durable_store: Store) -> None:
    journal = SendJournal(durable_store.open())
    journal.settle(journal.claim(key(1)), SENT, request_id="rid-parent", status=201)

    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            journal.settle(journal.claim(key(2)), SENT, request_id="rid-child", status=201)
            if [entry.order_id[-1] for entry in journal.entries()] == ["1", "2"]:
                code = 0
        finally:
            os._exit(code)
    assert _wait_for_child(pid, 20) == 0

    # The parent's own connection is intact, and sees the child's entry.
    journal.settle(journal.claim(key(3)), SENT, request_id="rid-parent-3", status=201)
    entries = journal.entries()
    assert [entry.request_id for entry in entries] == ["rid-parent", "rid-child", "rid-parent-3"]
    assert entries[1].owner.endswith(f":{pid}")


# -- failures of the store ----------------------------------------------------------------------


def test_a_locked_sqlite_file_fails_the_claim_and_sends_nothing(tmp_path: Path) -> None:
    from py_sp_api.runtime.journal_sqlite import SqliteJournalBackend

    path = tmp_path / "journal.sqlite3"
    journal = SendJournal(SqliteJournalBackend(path, busy_timeout=0.1))
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        started = time.monotonic()
        with pytest.raises(SendJournalError) as caught:
            journal.claim(key())
        assert time.monotonic() - started < 2
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    error = caught.value
    assert error.backend == "sqlite"
    assert "could not claim the key (nothing was sent)" in error.reason
    assert "locked" in error.reason
    assert isinstance(error.__cause__, sqlite3.OperationalError)
    assert journal.entries() == []
    journal.claim(key())  # the lock is gone: the same backend claims again


def test_an_unopenable_sqlite_path_is_a_journal_error(tmp_path: Path) -> None:
    from py_sp_api.runtime.journal_sqlite import SqliteJournalBackend

    with pytest.raises(SendJournalError, match="could not open the journal"):
        SqliteJournalBackend(tmp_path / "missing-directory" / "journal.sqlite3")
    with pytest.raises(ApiValueError, match="not durable"):
        SqliteJournalBackend(":memory:")


def test_sqlite_is_in_wal_mode_and_syncs_every_commit(tmp_path: Path) -> None:
    from py_sp_api.runtime.journal_sqlite import SqliteJournalBackend

    path = tmp_path / "journal.sqlite3"
    backend = SqliteJournalBackend(path)
    SendJournal(backend).claim(key())

    reader = sqlite3.connect(str(path))
    try:
        assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert reader.execute("SELECT count(*) FROM send_journal").fetchone() == (1,)
    finally:
        reader.close()
    connection = backend._connection()  # synchronous is a connection's setting
    assert connection.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_an_unreachable_redis_fails_the_claim_and_names_no_secret(
    redis_server: RedisServer,
) -> None:
    from py_sp_api.runtime.journal_redis import RedisJournalBackend

    password = "s3cret-redis-password"
    url = f"redis://:{password}@127.0.0.1:{redis_server.port}/0"
    redis_server.kill()
    journal = SendJournal(RedisJournalBackend.from_url(url, namespace="down"))

    with pytest.raises(SendJournalError) as caught:
        journal.claim(key())

    error = caught.value
    assert error.backend == "redis"
    assert "could not claim the key (nothing was sent)" in error.reason
    for text in (str(error), repr(error), error.reason, pickle.dumps(error).decode("latin-1")):
        assert password not in text
        assert url not in text
    with pytest.raises(SendJournalError):
        journal.entries()


def test_redis_stores_the_documented_layout(redis_server: RedisServer, clock: Clock) -> None:
    from py_sp_api.runtime.journal_redis import RedisJournalBackend

    backend = RedisJournalBackend.from_url(redis_server.url, namespace="layout")
    journal = SendJournal(backend, clock=clock, lease=LEASE, store_bodies=True)
    journal.settle(journal.claim(key(), b"\x00\xffbody"), SENT, request_id="rid", status=201)
    client = redis_server.client()

    digest = hashlib.sha256(str(key()).encode()).hexdigest()
    stored = client.hgetall(f"py-sp-api:layout:journal:{digest}")
    assert stored[b"key"] == str(key()).encode()
    assert stored[b"created_at"] == repr(START).encode()  # the fraction kept whole
    assert stored[b"lease_until"] == repr(START + LEASE).encode()
    assert (stored[b"state"], stored[b"status"], stored[b"body"]) == (
        b"sent",
        b"201",
        b"\x00\xffbody",
    )
    assert b"caller_key" not in stored
    assert b"detail" not in stored
    assert client.zrange("py-sp-api:layout:journal:index", 0, -1, withscores=True) == [
        (digest.encode(), START)
    ]
    backend.release(str(key()), "whoever")  # not its claim: nothing removed
    assert client.zcard("py-sp-api:layout:journal:index") == 1


def test_a_retried_redis_claim_is_still_this_claims(redis_server: RedisServer) -> None:
    # redis-py may send a command again after a dropped reply: the claim it stored is its own.
    from py_sp_api.runtime.journal_redis import RedisJournalBackend

    backend = RedisJournalBackend.from_url(redis_server.url, namespace="retry")
    journal = SendJournal(backend, clock=Clock())
    journal.claim(key())
    stored = backend.get(str(key()))
    assert stored is not None

    assert backend.try_claim(stored, START) is None  # the same claim id: stored already
    other = backend.try_claim(JournalEntry(**{**stored.__dict__, "claim_id": "other"}), START)
    assert other == stored
