"""The send journal in an SQLite file: the embedded default, for the processes of one host.

Each claim is one ``BEGIN IMMEDIATE`` transaction (the file's write lock: atomic across
threads and processes), committed with ``synchronous=FULL`` in WAL mode, so it is on disk before
:meth:`SqliteJournalBackend.try_claim` returns and the request leaves. Writers that find the file
locked wait up to ``busy_timeout`` seconds. Standard library only.

Not for a network file system: SQLite's locks are not reliable there.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import fields
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

from py_sp_api.runtime.exceptions import ApiTypeError, ApiValueError, SendJournalError
from py_sp_api.runtime.forksafe import reinit_after_fork
from py_sp_api.runtime.journal import (
    EXPIRED_DETAIL,
    IN_FLIGHT,
    REJECTED,
    UNKNOWN,
    JournalEntry,
)

DEFAULT_BUSY_TIMEOUT = 30.0
"""Seconds a write waits for another connection's lock before failing."""

# The columns are JournalEntry's fields, in order: rows are read as JournalEntry(*row).
_COLUMNS: Tuple[str, ...] = tuple(field.name for field in fields(JournalEntry))
_SELECT = (
    "SELECT key, identity, marketplace_id, order_id, operation, caller_key, state, claim_id, "
    "owner, created_at, updated_at, lease_until, request_id, status, body_sha256, body, detail "
    "FROM send_journal"
)
_INSERT = (
    "INSERT OR REPLACE INTO send_journal (key, identity, marketplace_id, order_id, operation, "
    "caller_key, state, claim_id, owner, created_at, updated_at, lease_until, request_id, "
    "status, body_sha256, body, detail) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS send_journal (
    key TEXT PRIMARY KEY NOT NULL,
    identity TEXT NOT NULL,
    marketplace_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    caller_key TEXT,
    state TEXT NOT NULL,
    claim_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    lease_until REAL NOT NULL,
    request_id TEXT,
    status INTEGER,
    body_sha256 TEXT,
    body BLOB,
    detail TEXT
)""",
    "CREATE INDEX IF NOT EXISTS send_journal_created_at ON send_journal (created_at)",
    "CREATE INDEX IF NOT EXISTS send_journal_state ON send_journal (state)",
)

# Connections a forked child inherited. SQLite forbids using them in the child, and closing
# one there could drop or checkpoint state the parent still owns: they are kept, untouched,
# for the child's lifetime (a file descriptor each).
_INHERITED: List[sqlite3.Connection] = []


class SqliteJournalBackend:
    """A :class:`~py_sp_api.runtime.journal.JournalBackend` in an SQLite file.

    Args:
        path: the database file; created (with its table) if missing. Every process of the
            host that shares it shares the journal.
        busy_timeout: seconds a write waits for another writer before it fails with
            :class:`~py_sp_api.runtime.exceptions.SendJournalError`.
    """

    def __init__(
        self, path: Union[str, os.PathLike[str]], *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise ApiTypeError("path must be a str or os.PathLike (the SQLite file)")
        if isinstance(busy_timeout, bool) or not isinstance(busy_timeout, (int, float)):
            raise ApiTypeError("busy_timeout must be a number of seconds")
        if not 0 <= busy_timeout < float("inf"):
            raise ApiValueError("busy_timeout must be a finite number of seconds, at least 0")
        self.path = os.fspath(path)
        if not self.path or self.path == ":memory:":
            raise ApiValueError("path must name a file: a journal in memory is not durable")
        self.busy_timeout = float(busy_timeout)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections: Dict[threading.Thread, sqlite3.Connection] = {}
        reinit_after_fork(self)
        with _failures("open the journal"):
            connection = self._connection()
            for statement in _SCHEMA:
                connection.execute(statement)

    # -- the protocol ----------------------------------------------------------------------------
    def try_claim(self, entry: JournalEntry, now: float) -> Optional[JournalEntry]:
        with _failures("claim the key (nothing was sent)"), self._transaction() as db:
            held = _entry(db.execute(_SELECT + " WHERE key = ?", (entry.key,)).fetchone())
            if held is None or held.state == REJECTED:
                db.execute(_INSERT, tuple(getattr(entry, name) for name in _COLUMNS))
                return None
            if held.expired(now):
                held = held.as_seen(now)
                db.execute(
                    "UPDATE send_journal SET state = ?, detail = ? WHERE key = ?",
                    (UNKNOWN, EXPIRED_DETAIL, entry.key),
                )
            return held

    def settle(
        self,
        key: str,
        claim_id: str,
        state: str,
        now: float,
        *,
        request_id: Optional[str],
        status: Optional[int],
        detail: Optional[str],
    ) -> bool:
        with _failures(f"record {state}"):
            cursor = self._connection().execute(
                "UPDATE send_journal SET state = ?, updated_at = ?, request_id = ?, status = ?, "
                "detail = ? WHERE key = ? AND claim_id = ? AND state IN (?, ?)",
                (state, now, request_id, status, detail, key, claim_id, IN_FLIGHT, UNKNOWN),
            )
            return cursor.rowcount == 1

    def release(self, key: str, claim_id: str) -> None:
        with _failures("release the claim"):
            self._connection().execute(
                "DELETE FROM send_journal WHERE key = ? AND claim_id = ? AND state = ?",
                (key, claim_id, IN_FLIGHT),
            )

    def resolve(self, key: str, state: str, now: float, detail: str) -> Optional[JournalEntry]:
        with _failures(f"resolve as {state}"), self._transaction() as db:
            held = _entry(db.execute(_SELECT + " WHERE key = ?", (key,)).fetchone())
            if held is not None and held.as_seen(now).state == UNKNOWN:
                db.execute(
                    "UPDATE send_journal SET state = ?, updated_at = ?, detail = ? WHERE key = ?",
                    (state, now, detail, key),
                )
            return held

    def get(self, key: str) -> Optional[JournalEntry]:
        with _failures("read an entry"):
            row = self._connection().execute(_SELECT + " WHERE key = ?", (key,)).fetchone()
            return _entry(row)

    def entries(self) -> List[JournalEntry]:
        with _failures("read the entries"):
            rows = self._connection().execute(_SELECT + " ORDER BY created_at, key").fetchall()
        return [JournalEntry(*row) for row in rows]

    def close(self) -> None:
        """Close every thread's connection; a later call opens new ones."""
        with self._lock:
            connections = list(self._connections.values())
            self._connections.clear()
            self._local = threading.local()
        for connection in connections:
            connection.close()

    def __repr__(self) -> str:
        return f"SqliteJournalBackend({self.path!r})"

    # -- connections -----------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        connection: Optional[sqlite3.Connection] = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._open()
        return connection

    def _open(self) -> sqlite3.Connection:
        # sqlite3 connections must not be shared between threads: one per thread, kept in
        # self._connections too, so close() reaches them all and those of ended threads are
        # closed here rather than left open.
        connection = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,  # transactions are begun explicitly
            check_same_thread=False,  # only so that close() may run on another thread
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            connection.execute("PRAGMA journal_mode = WAL").fetchone()
            connection.execute("PRAGMA synchronous = FULL")  # a commit is on disk on return
        except BaseException:
            connection.close()
            raise
        ended: List[sqlite3.Connection] = []
        with self._lock:
            for thread in [thread for thread in self._connections if not thread.is_alive()]:
                ended.append(self._connections.pop(thread))
            self._connections[threading.current_thread()] = connection
        for old in ended:
            old.close()
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` (the write lock, waited for up to busy_timeout) ... ``COMMIT``."""
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def _reinit_after_fork(self) -> None:
        _INHERITED.extend(self._connections.values())
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections = {}


@contextmanager
def _failures(action: str) -> Iterator[None]:
    """Raises an ``sqlite3.Error`` as :class:`SendJournalError`, naming what failed."""
    try:
        yield
    except sqlite3.Error as exc:
        reason = f"could not {action}: {type(exc).__name__}: {exc}"
        raise SendJournalError("sqlite", reason) from exc


def _entry(row: Optional[Tuple[Any, ...]]) -> Optional[JournalEntry]:
    return None if row is None else JournalEntry(*row)


__all__: Tuple[str, ...] = ("DEFAULT_BUSY_TIMEOUT", "SqliteJournalBackend")
