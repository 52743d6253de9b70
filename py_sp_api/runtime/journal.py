"""The send journal: at most one message per key, across crashes, processes and hosts.

Amazon's Messaging and Solicitations APIs take no idempotency key and return no message id, so
only the client can keep a buyer from being messaged twice. Before a message leaves the process
its key is *claimed* in a durable journal; the answer then settles it:

==============  ===============================================================================
``in_flight``   claimed; the request is being sent (or its sender died: see ``lease``)
``sent``        Amazon answered 2xx: delivered. The request id and time are kept.
``rejected``    Amazon answered 4xx: it refused the request, nothing was delivered. The key may
                be claimed again.
``unknown``     no answer, a 5xx, a dropped connection, or a claim whose lease ran out without
                an outcome (its sender died). Never resent automatically: list these with
                ``entries(state="unknown")`` and settle each with :meth:`SendJournal.resolve`.
==============  ===============================================================================

A claim is refused (:class:`DuplicateSendError`, nothing is sent) while the key is ``sent``,
``in_flight`` or ``unknown``. Backends: :meth:`SendJournal.sqlite` (one host, the default),
:meth:`SendJournal.redis` (a fleet) and :meth:`SendJournal.memory` (tests); each claim is one
atomic, durable step.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass, replace
from typing import IO, TYPE_CHECKING, Any, Dict, List, Optional, Protocol, Tuple, Union

from py_sp_api.runtime.exceptions import (
    ApiConnectionError,
    ApiTypeError,
    ApiValueError,
    DuplicateSendError,
    SendJournalError,
)
from py_sp_api.runtime.forksafe import reinit_after_fork

if TYPE_CHECKING:
    from py_sp_api.runtime.configuration import Configuration
    from py_sp_api.runtime.operation import Operation

_log = logging.getLogger("py_sp_api.journal")

IN_FLIGHT = "in_flight"
SENT = "sent"
REJECTED = "rejected"
UNKNOWN = "unknown"
STATES: Tuple[str, ...] = (IN_FLIGHT, SENT, REJECTED, UNKNOWN)
RELEASED = "released"
"""Not a state: what :func:`settle_failure` did when nothing could have reached Amazon."""

DEFAULT_LEASE = 3600.0
"""Seconds a claim may stay ``in_flight`` before it counts as ``unknown`` (its sender died).

Longer than a call can take with the defaults (up to 5 attempts, each with a rate-limit wait of
at most 600 s plus the timeouts): a lease that runs out while the sender still waits for its
answer shows a live send as ``unknown``, and settling that by hand could send it twice.
"""

EXPIRED_DETAIL = "the claim's lease ran out without an outcome (its sender died or hung)"


@dataclass(frozen=True)
class SendKey:
    """What one message is: whose, where, to which order, which type, and the caller's key.

    ``caller_key`` is ``None`` for the default (one message of each type per order); a caller
    who means to send a type again passes a key of its own (``_send_key=``).
    """

    identity: str
    marketplace_id: str
    order_id: str
    operation: str
    caller_key: Optional[str] = None

    def __post_init__(self) -> None:
        for name in ("identity", "marketplace_id", "order_id", "operation"):
            if not isinstance(getattr(self, name), str):
                raise ApiTypeError(f"a send key's {name} must be a str")
        if self.caller_key is not None and not isinstance(self.caller_key, str):
            # 2 and "2" would be two keys, and the same message could go out twice.
            raise ApiTypeError(f"_send_key must be a str, got {type(self.caller_key).__name__}")
        if self.caller_key is not None and not self.caller_key.strip():
            raise ApiValueError("_send_key must not be empty (None is the default key)")

    def __str__(self) -> str:
        # JSON: unambiguous whatever the parts contain ("|" is in every identity).
        return json.dumps(
            [self.identity, self.marketplace_id, self.order_id, self.operation, self.caller_key],
            separators=(",", ":"),
        )

    @classmethod
    def for_message(
        cls,
        configuration: Configuration,
        operation: Operation[Any],
        marketplace_id: str,
        order_id: str,
        send_key: Optional[str] = None,
    ) -> SendKey:
        """The key of one message sent with ``configuration``: the one place keys are made.

        The client claims under it, and bulk runs and the command line look entries up with it,
        so they must agree; :class:`ApiValueError` if the seller has no lasting name.
        """
        return cls(
            configuration.journal_identity,
            marketplace_id,
            order_id,
            operation.operation_id,
            send_key,
        )

    @classmethod
    def parse(cls, text: str) -> SendKey:
        """The key :meth:`__str__` wrote."""
        parts = json.loads(text)
        if not (isinstance(parts, list) and len(parts) == 5):
            raise ApiValueError("not a send key")
        return cls(*parts)


@dataclass(frozen=True)
class JournalEntry:
    """One key's record. Times are seconds since the epoch (UTC)."""

    key: str
    identity: str
    marketplace_id: str
    order_id: str
    operation: str
    caller_key: Optional[str]
    state: str
    claim_id: str
    owner: str
    created_at: float
    updated_at: float
    lease_until: float
    request_id: Optional[str] = None
    status: Optional[int] = None
    body_sha256: Optional[str] = None
    body: Optional[bytes] = None
    detail: Optional[str] = None

    @property
    def send_key(self) -> SendKey:
        return SendKey.parse(self.key)

    def expired(self, now: float) -> bool:
        """An ``in_flight`` claim whose lease ran out: it counts as ``unknown``."""
        return self.state == IN_FLIGHT and self.lease_until < now

    def as_seen(self, now: float) -> JournalEntry:
        """The entry as a reader should see it: an expired claim is ``unknown``."""
        if self.expired(now):
            return replace(self, state=UNKNOWN, detail=EXPIRED_DETAIL)
        return self

    def to_record(self) -> Dict[str, Any]:
        """A JSON-ready dict (the body, if kept, as text)."""
        record = asdict(self)
        record["body"] = None if self.body is None else self.body.decode("utf-8", "replace")
        return record


class JournalBackend(Protocol):
    """Where entries live. Every method is one atomic step; claims are durable on return."""

    def try_claim(self, entry: JournalEntry, now: float) -> Optional[JournalEntry]:
        """Store ``entry`` (``in_flight``) unless its key is taken; return ``None`` if stored.

        The key is free when absent or ``rejected``. Otherwise return the entry holding it,
        as a reader sees it (an ``in_flight`` one whose lease ran out is stored as
        ``unknown`` with :data:`EXPIRED_DETAIL` first).
        """
        ...

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
        """Record the outcome of claim ``claim_id``; False if the key is no longer its.

        Allowed while the entry is that claim's ``in_flight`` or (its lease having run out
        meanwhile) ``unknown``: the sender's own outcome is better than a guess.
        """
        ...

    def release(self, key: str, claim_id: str) -> None:
        """Delete the entry if it is still claim ``claim_id``'s: nothing left the process."""
        ...

    def resolve(self, key: str, state: str, now: float, detail: str) -> Optional[JournalEntry]:
        """Turn an ``unknown`` (or expired) entry into ``state``; return the entry as it was.

        Returns ``None``, changing nothing, when the key is absent; the caller checks that the
        returned entry was ``unknown``.
        """
        ...

    def get(self, key: str) -> Optional[JournalEntry]: ...

    def entries(self) -> List[JournalEntry]:
        """Every entry, oldest first (stored state; the journal applies expiry)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Claim:
    """A key this process holds: settle it with the answer, or release it."""

    key: str
    claim_id: str


class SendJournal:
    """Claims and records sends, so each key reaches Amazon at most once.

    Build one with :meth:`sqlite`, :meth:`redis` or :meth:`memory` and pass it as
    ``Configuration(journal=...)``: every POST operation of every API is then journaled (GETs
    never are); with no journal nothing changes.

    Args:
        backend: where entries live.
        lease: seconds before an ``in_flight`` claim counts as ``unknown``
            (:data:`DEFAULT_LEASE`).
        store_bodies: keep each message's body (bytes) in the entry; by default only its
            SHA-256 is kept.
    """

    def __init__(
        self,
        backend: JournalBackend,
        *,
        lease: float = DEFAULT_LEASE,
        store_bodies: bool = False,
        clock: Any = time.time,
    ) -> None:
        if isinstance(lease, bool) or not isinstance(lease, (int, float)):
            raise ApiTypeError("lease must be a number of seconds")
        if not 0 < lease < float("inf"):
            raise ApiValueError("lease must be a positive, finite number of seconds")
        self.backend = backend
        self.lease = float(lease)
        self.store_bodies = store_bodies
        self._clock = clock
        self._owner = _owner()
        reinit_after_fork(self)

    # -- building ----------------------------------------------------------------------------
    @classmethod
    def memory(cls, **options: Any) -> SendJournal:
        """A journal in this process's memory: for tests, lost when the process ends."""
        return cls(MemoryJournalBackend(), **options)

    @classmethod
    def sqlite(cls, path: Union[str, os.PathLike[str]], **options: Any) -> SendJournal:
        """A journal in an SQLite file (WAL, each claim synced to disk before sending).

        Safe for the threads and processes of one host sharing the file; not on a network
        file system. Needs nothing beyond the standard library.
        """
        from py_sp_api.runtime.journal_sqlite import SqliteJournalBackend

        return cls(SqliteJournalBackend(path), **options)

    @classmethod
    def redis(
        cls, url: str, *, namespace: str, lease: float = DEFAULT_LEASE, **options: Any
    ) -> SendJournal:
        """A journal on Redis, shared by the processes and hosts of a fleet.

        Needs the ``[redis]`` extra. ``options`` other than ``lease``/``store_bodies`` go to
        ``redis.Redis.from_url``. See docs/send-journal.md for Redis's durability settings.
        """
        from py_sp_api.runtime.journal_redis import RedisJournalBackend

        store_bodies = bool(options.pop("store_bodies", False))
        backend = RedisJournalBackend.from_url(url, namespace=namespace, **options)
        return cls(backend, lease=lease, store_bodies=store_bodies)

    # -- sending -----------------------------------------------------------------------------
    def claim(self, key: SendKey, body: Optional[bytes] = None) -> Claim:
        """Claim ``key`` before sending; :class:`DuplicateSendError` if it is taken."""
        now = self._clock()
        claim_id = uuid.uuid4().hex
        entry = JournalEntry(
            key=str(key),
            identity=key.identity,
            marketplace_id=key.marketplace_id,
            order_id=key.order_id,
            operation=key.operation,
            caller_key=key.caller_key,
            state=IN_FLIGHT,
            claim_id=claim_id,
            owner=self._owner,
            created_at=now,
            updated_at=now,
            lease_until=now + self.lease,
            body_sha256=None if body is None else hashlib.sha256(body).hexdigest(),
            body=body if self.store_bodies else None,
        )
        try:
            holder = self.backend.try_claim(entry, now)
        except SendJournalError:
            # The store may have applied the claim before failing to answer (a timeout after
            # Redis ran the script): give it back, or it would block the key for nothing.
            with contextlib.suppress(Exception):
                self.backend.release(entry.key, claim_id)
            raise
        if holder is not None:
            raise DuplicateSendError(holder.state, holder)
        return Claim(entry.key, claim_id)

    def check(self, key: SendKey) -> None:
        """:class:`DuplicateSendError` if ``key`` is taken now; claiming stays the atomic step."""
        held = self.get(key)
        if held is not None and held.state != REJECTED:
            raise DuplicateSendError(held.state, held)

    def settle(
        self,
        claim: Claim,
        state: str,
        *,
        request_id: Optional[str] = None,
        status: Optional[int] = None,
        detail: Optional[str] = None,
    ) -> None:
        """Record the outcome of ``claim`` (``sent``, ``rejected`` or ``unknown``)."""
        if state not in (SENT, REJECTED, UNKNOWN):
            raise ApiValueError(f"a claim settles as sent, rejected or unknown, not {state!r}")
        recorded = self.backend.settle(
            claim.key,
            claim.claim_id,
            state,
            self._clock(),
            request_id=request_id,
            status=status,
            detail=detail,
        )
        if not recorded:
            # The key was settled by hand (or claimed again) while this send was out: the
            # journal no longer holds this outcome, so it must at least be seen here.
            _log.error(
                "send journal: %s of %s came after the key was settled by hand or claimed "
                "again (status %s, request id %s); the journal does not show it",
                state,
                claim.key,
                status,
                request_id,
            )

    def release(self, claim: Claim) -> None:
        """Give ``claim`` up: nothing reached Amazon (refused before sending)."""
        self.backend.release(claim.key, claim.claim_id)

    # -- reading and reconciling ---------------------------------------------------------------
    def get(self, key: Union[SendKey, str]) -> Optional[JournalEntry]:
        entry = self.backend.get(str(key))
        return None if entry is None else entry.as_seen(self._clock())

    def entries(self, state: Optional[str] = None) -> List[JournalEntry]:
        """Every entry (or those in ``state``), oldest first; expired claims read ``unknown``."""
        if state is not None and state not in STATES:
            raise ApiValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
        now = self._clock()
        seen = [entry.as_seen(now) for entry in self.backend.entries()]
        return [entry for entry in seen if state is None or entry.state == state]

    def resolve(self, key: Union[SendKey, str], *, delivered: bool) -> JournalEntry:
        """Settle an ``unknown`` entry once you know what happened (e.g. from Seller Central).

        ``delivered=True`` makes it ``sent``; ``False`` makes it ``rejected``, so the key may be
        claimed (and the message sent) again.
        """
        state = SENT if delivered else REJECTED
        detail = f"resolved by hand as {'delivered' if delivered else 'not delivered'}"
        now = self._clock()
        held = self.backend.get(str(key))
        if held is not None and held.expired(now) and _alive_here(held.owner):
            raise ApiValueError(
                f"the sender of {key} ({held.owner}) is still running: its lease ran out, but "
                "its answer may still come; wait for it, or stop that process first"
            )
        before = self.backend.resolve(str(key), state, now, detail)
        if before is None:
            raise ApiValueError(f"no journal entry for {key}")
        if before.as_seen(now).state != UNKNOWN:
            raise ApiValueError(
                f"only an unknown entry can be resolved; this one is {before.state}"
            )
        entry = self.get(key)
        assert entry is not None
        return entry

    # -- audit ------------------------------------------------------------------------------
    def export_json(self, out: IO[str], state: Optional[str] = None) -> int:
        """Write the entries as a JSON array; return how many."""
        records = [entry.to_record() for entry in self.entries(state)]
        json.dump(records, out, indent=2)
        return len(records)

    def export_csv(self, out: IO[str], state: Optional[str] = None) -> int:
        """Write the entries as CSV (one row each, a header first); return how many."""
        fields = [name for name in JournalEntry.__dataclass_fields__ if name != "claim_id"]
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        count = 0
        for entry in self.entries(state):
            writer.writerow(entry.to_record())
            count += 1
        return count

    def close(self) -> None:
        self.backend.close()

    def _reinit_after_fork(self) -> None:
        self._owner = _owner()

    def __repr__(self) -> str:
        return f"SendJournal(backend={type(self.backend).__name__}, lease={self.lease:g})"


def settle_answer(
    journal: SendJournal, claim: Claim, status: int, request_id: Optional[str]
) -> str:
    """Record what Amazon's answer means: 2xx sent, 4xx rejected, anything else unknown.

    Returns the state recorded (or meant to be, if the journal's store failed).
    """
    if 200 <= status <= 299:
        state = SENT
    elif 400 <= status <= 499:
        state = REJECTED  # refused, 429 included: nothing was processed
    else:
        state = UNKNOWN  # a 5xx may or may not have been processed
    _settle_quietly(journal, claim, state, request_id=request_id, status=status)
    return state


def settle_failure(
    journal: SendJournal, claim: Claim, exc: BaseException, may_have_reached: bool = True
) -> str:
    """Record a call that raised.

    ``may_have_reached`` is False when no request that Amazon could have processed left the
    process (refused before sending, or every attempt answered "nothing processed"): the key is
    released. Otherwise an answer's status decides, and no answer means ``unknown``. Returns
    the state recorded, or ``"released"``.
    """
    if not may_have_reached or (isinstance(exc, ApiConnectionError) and exc.request_sent is False):
        # First: a status here is not Amazon's (an LwaAuthError carries LWA's).
        _release_quietly(journal, claim)
        return RELEASED
    status = _answered_status(exc)
    if status is not None:
        return settle_answer(journal, claim, status, getattr(exc, "request_id", None))
    if isinstance(exc, ApiConnectionError):
        _settle_quietly(journal, claim, UNKNOWN, detail=f"no answer: {exc}"[:500])
    else:
        # Interrupted (Ctrl-C, a signal) while a request was out: it may have gone.
        _settle_quietly(journal, claim, UNKNOWN, detail=f"interrupted: {type(exc).__name__}")
    return UNKNOWN


def _answered_status(exc: BaseException) -> Optional[int]:
    """The status Amazon answered a call that raised ``exc`` with, or ``None`` if none came
    (an answer whose body was cut off has one too)."""
    status = getattr(exc, "status", None)
    if not isinstance(status, int) or isinstance(status, bool):
        status = getattr(exc, "answered_status", None)
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def _settle_quietly(journal: SendJournal, claim: Claim, state: str, **outcome: Any) -> None:
    # Amazon has answered: failing to write that down must not turn a sent message into an
    # error (the caller would send it again). The claim stays in_flight, then reads unknown.
    try:
        journal.settle(claim, state, **outcome)
    except Exception as exc:
        _log.error(
            "send journal: could not record %s for %s (%s: %s); it will read unknown",
            state,
            claim.key,
            type(exc).__name__,
            exc,
        )


def _release_quietly(journal: SendJournal, claim: Claim) -> None:
    try:
        journal.release(claim)
    except Exception as exc:
        _log.error("send journal: could not release %s (%s)", claim.key, type(exc).__name__)


def _alive_here(owner: str) -> bool:
    """Whether ``owner`` ("host:pid") is a process still running on this host."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another host: its liveness cannot be seen from here
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    return True


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class MemoryJournalBackend:
    """Entries in a dict: atomic between threads, gone with the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: Dict[str, JournalEntry] = {}
        reinit_after_fork(self)

    def try_claim(self, entry: JournalEntry, now: float) -> Optional[JournalEntry]:
        with self._lock:
            held = self._entries.get(entry.key)
            if held is not None and held.state != REJECTED:
                if held.expired(now):
                    held = self._entries[entry.key] = held.as_seen(now)
                return held
            self._entries[entry.key] = entry
            return None

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
        with self._lock:
            held = self._entries.get(key)
            if held is None or held.claim_id != claim_id or held.state not in (IN_FLIGHT, UNKNOWN):
                return False
            self._entries[key] = replace(
                held,
                state=state,
                updated_at=now,
                request_id=request_id,
                status=status,
                detail=detail,
            )
            return True

    def release(self, key: str, claim_id: str) -> None:
        with self._lock:
            held = self._entries.get(key)
            if held is not None and held.claim_id == claim_id and held.state == IN_FLIGHT:
                del self._entries[key]

    def resolve(self, key: str, state: str, now: float, detail: str) -> Optional[JournalEntry]:
        with self._lock:
            held = self._entries.get(key)
            if held is None:
                return None
            if held.as_seen(now).state == UNKNOWN:
                self._entries[key] = replace(held, state=state, updated_at=now, detail=detail)
            return held

    def get(self, key: str) -> Optional[JournalEntry]:
        with self._lock:
            return self._entries.get(key)

    def entries(self) -> List[JournalEntry]:
        with self._lock:
            return sorted(self._entries.values(), key=lambda e: e.created_at)

    def close(self) -> None:
        return None

    def _reinit_after_fork(self) -> None:
        self._lock = threading.Lock()


__all__: Tuple[str, ...] = (
    "EXPIRED_DETAIL",
    "RELEASED",
    "DEFAULT_LEASE",
    "IN_FLIGHT",
    "REJECTED",
    "SENT",
    "STATES",
    "UNKNOWN",
    "Claim",
    "JournalBackend",
    "JournalEntry",
    "MemoryJournalBackend",
    "SendJournal",
    "SendKey",
    "settle_answer",
    "settle_failure",
)
