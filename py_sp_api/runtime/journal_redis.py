"""The send journal on Redis, shared by every process and host of a fleet.

Each entry is a hash at ``{prefix}:{namespace}:journal:{sha256 of the key}`` (the key's text is
a field of it), indexed for :meth:`RedisJournalBackend.entries` by the sorted set
``{prefix}:{namespace}:journal:index`` (score: the creation time). Every method is one Lua
script, so each is one atomic step on the server; times are the caller's clock (the journal's),
never Redis's. Numbers are stored as the text Python wrote (full precision), ``None`` as an
absent field, the body as bytes.

A claim is as durable as Redis's persistence makes it (see docs/send-journal.md: AOF with
``appendfsync always`` for the strongest setting). When Redis fails, a claim raises
:class:`~py_sp_api.runtime.exceptions.SendJournalError` and nothing is sent: there is no
fallback, since a journal that cannot claim must not let a message out.

The ``redis`` package is optional (``pip install "py-sp-api[redis]"``); it is imported only when a
backend is created. redis-py's connection pool notices a fork by itself (it compares the
process id) and opens new connections in the child.
"""

from __future__ import annotations

import hashlib
import importlib
from contextlib import contextmanager
from dataclasses import fields
from types import ModuleType
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple, Type

from py_sp_api.runtime.exceptions import ApiValueError, SendJournalError
from py_sp_api.runtime.journal import EXPIRED_DETAIL, JournalEntry

if TYPE_CHECKING:
    import redis

DEFAULT_PREFIX = "py-sp-api"
DEFAULT_SOCKET_TIMEOUT = 5.0
"""Seconds a Redis command may take (connect and read) before a claim fails, nothing sent."""

_INSTALL_HINT = 'RedisJournalBackend needs the redis package: pip install "py-sp-api[redis]"'

_FIELDS: Tuple[str, ...] = tuple(field.name for field in fields(JournalEntry))
_FLOATS = frozenset({"created_at", "updated_at", "lease_until"})

# KEYS[1]: the entry's hash, KEYS[2]: the index. ARGV: now, the index member (the key's
# digest), the detail of an expired claim, the new claim id, then the new entry's fields and
# values. Returns
# false when the entry was stored, else the fields of the entry holding the key (an expired
# claim is first stored as unknown). The same claim id already there is this very claim,
# stored by an attempt whose reply was lost: it counts as stored, so a retried command is
# harmless.
_CLAIM_SCRIPT = """
local entry, index = KEYS[1], KEYS[2]
local now = tonumber(ARGV[1])
local held = redis.call('HMGET', entry, 'state', 'lease_until', 'claim_id')
local state = held[1]
if state and state ~= 'rejected' then
  if state == 'in_flight' and held[3] == ARGV[4] then return false end
  if state == 'in_flight' and tonumber(held[2]) < now then
    redis.call('HSET', entry, 'state', 'unknown', 'detail', ARGV[3])
  end
  return redis.call('HGETALL', entry)
end
redis.call('DEL', entry)
local values = {}
for i = 5, #ARGV do values[#values + 1] = ARGV[i] end
redis.call('HSET', entry, unpack(values))
redis.call('ZADD', index, redis.call('HGET', entry, 'created_at'), ARGV[2])
return false
"""

# KEYS[1]: the entry's hash. ARGV: claim id, then how many field/value pairs to set, the
# pairs, and the fields to delete (outcome fields that are None). Returns 1 if recorded.
_SETTLE_SCRIPT = """
local entry = KEYS[1]
local held = redis.call('HMGET', entry, 'claim_id', 'state')
if held[1] ~= ARGV[1] or (held[2] ~= 'in_flight' and held[2] ~= 'unknown') then return 0 end
local pairs_end = 2 + 2 * tonumber(ARGV[2])
local values = {}
for i = 3, pairs_end do values[#values + 1] = ARGV[i] end
redis.call('HSET', entry, unpack(values))
for i = pairs_end + 1, #ARGV do redis.call('HDEL', entry, ARGV[i]) end
return 1
"""

# KEYS[1]: the entry's hash, KEYS[2]: the index. ARGV: claim id, index member.
_RELEASE_SCRIPT = """
local held = redis.call('HMGET', KEYS[1], 'claim_id', 'state')
if held[1] == ARGV[1] and held[2] == 'in_flight' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
end
return 0
"""

# KEYS[1]: the entry's hash. ARGV: now, new state, detail. Returns the entry as it was (or
# an empty list); changes it only if it reads unknown (stored so, or a claim past its lease).
_RESOLVE_SCRIPT = """
local entry = KEYS[1]
local before = redis.call('HGETALL', entry)
if #before == 0 then return before end
local held = redis.call('HMGET', entry, 'state', 'lease_until')
local now = tonumber(ARGV[1])
if held[1] == 'unknown' or (held[1] == 'in_flight' and tonumber(held[2]) < now) then
  redis.call('HSET', entry, 'state', ARGV[2], 'updated_at', ARGV[1], 'detail', ARGV[3])
end
return before
"""

# KEYS[1]: the index. ARGV: the prefix of the entries' keys. Every entry, oldest first.
_ENTRIES_SCRIPT = """
local found = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local entry = redis.call('HGETALL', ARGV[1] .. member)
  if #entry > 0 then found[#found + 1] = entry end
end
return found
"""


def _import_redis() -> ModuleType:
    try:
        return importlib.import_module("redis")
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc


class RedisJournalBackend:
    """A :class:`~py_sp_api.runtime.journal.JournalBackend` on Redis.

    Args:
        client: a ``redis.Redis`` client. Prefer :meth:`from_url`.
        namespace: the application (e.g. its name); every process sharing a journal uses the
            same namespace on the same Redis.
        prefix: the first part of every key.
    """

    def __init__(
        self, client: redis.Redis, *, namespace: str, prefix: str = DEFAULT_PREFIX
    ) -> None:
        redis_module = _import_redis()
        if not isinstance(namespace, str) or not namespace:
            raise ApiValueError("namespace must be a non-empty str (the application's name)")
        if not isinstance(prefix, str) or not prefix:
            raise ApiValueError("prefix must be a non-empty str")
        self._client = client
        self.namespace = namespace
        self.prefix = prefix
        self._entry_prefix = f"{prefix}:{namespace}:journal:"
        self.index_key = f"{self._entry_prefix}index"
        self._errors: Tuple[Type[BaseException], ...] = (
            redis_module.exceptions.RedisError,
            OSError,
        )
        self._claim = client.register_script(_CLAIM_SCRIPT)
        self._settle = client.register_script(_SETTLE_SCRIPT)
        self._release = client.register_script(_RELEASE_SCRIPT)
        self._resolve = client.register_script(_RESOLVE_SCRIPT)
        self._entries = client.register_script(_ENTRIES_SCRIPT)

    @classmethod
    def from_url(
        cls, url: str, *, namespace: str, prefix: str = DEFAULT_PREFIX, **redis_kwargs: Any
    ) -> RedisJournalBackend:
        """A backend on the Redis at ``url`` (``redis://host:6379/0``, ``rediss://...``).

        ``redis_kwargs`` go to ``redis.Redis.from_url``; by default a command fails after
        5 s (connect and read alike), and the claim with it: nothing is sent.
        """
        redis_module = _import_redis()
        redis_kwargs.setdefault("socket_timeout", DEFAULT_SOCKET_TIMEOUT)
        redis_kwargs.setdefault("socket_connect_timeout", DEFAULT_SOCKET_TIMEOUT)
        client = redis_module.Redis.from_url(url, **redis_kwargs)
        return cls(client, namespace=namespace, prefix=prefix)

    # -- the protocol ----------------------------------------------------------------------------
    def try_claim(self, entry: JournalEntry, now: float) -> Optional[JournalEntry]:
        digest = _digest(entry.key)
        values = _encode(entry)
        with self._failures("claim the key (nothing was sent)"):
            held = self._claim(
                keys=[self._entry_prefix + digest, self.index_key],
                args=[repr(now), digest, EXPIRED_DETAIL, entry.claim_id, *values],
            )
        return None if held is None else _decode(held)

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
        outcome: Dict[str, Any] = {
            "state": state,
            "updated_at": now,
            "request_id": request_id,
            "status": status,
            "detail": detail,
        }
        present = [(name, value) for name, value in outcome.items() if value is not None]
        absent = [name for name, value in outcome.items() if value is None]
        pairs = [part for name, value in present for part in (name, _text(name, value))]
        with self._failures(f"record {state}"):
            recorded = self._settle(
                keys=[self._key(key)], args=[claim_id, str(len(present)), *pairs, *absent]
            )
        return bool(recorded)

    def release(self, key: str, claim_id: str) -> None:
        digest = _digest(key)
        with self._failures("release the claim"):
            self._release(
                keys=[self._entry_prefix + digest, self.index_key], args=[claim_id, digest]
            )

    def resolve(self, key: str, state: str, now: float, detail: str) -> Optional[JournalEntry]:
        with self._failures(f"resolve as {state}"):
            before = self._resolve(keys=[self._key(key)], args=[repr(now), state, detail])
        return _decode(before) if before else None

    def get(self, key: str) -> Optional[JournalEntry]:
        with self._failures("read an entry"):
            held = self._client.hgetall(self._key(key))
        return _decode_mapping(held) if held else None

    def entries(self) -> List[JournalEntry]:
        with self._failures("read the entries"):
            found = self._entries(keys=[self.index_key], args=[self._entry_prefix])
        return [_decode(entry) for entry in found]

    def close(self) -> None:
        """Close the Redis client's connections."""
        self._client.close()

    def entry_key(self, key: str) -> str:
        """The Redis key of the hash holding ``key``'s entry."""
        return self._key(key)

    @property
    def client(self) -> redis.Redis:
        return self._client

    def __repr__(self) -> str:
        return f"RedisJournalBackend(namespace={self.namespace!r}, prefix={self.prefix!r})"

    # -- internals -------------------------------------------------------------------------------
    def _key(self, key: str) -> str:
        return self._entry_prefix + _digest(key)

    @contextmanager
    def _failures(self, action: str) -> Iterator[None]:
        # No fallback: a journal that cannot claim refuses to send. The error names neither
        # the URL nor a password (redis-py's messages give host and port at most).
        try:
            yield
        except self._errors as exc:
            reason = f"could not {action}: {type(exc).__name__}: {exc}"
            raise SendJournalError("redis", reason) from exc


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _text(name: str, value: Any) -> Any:
    if name in _FLOATS:
        return repr(float(value))  # repr: the shortest text that reads back as the same float
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value  # str, or the body's bytes


def _encode(entry: JournalEntry) -> List[Any]:
    """The entry's fields and values, for HSET (a None is left out: an absent field)."""
    values: List[Any] = []
    for name in _FIELDS:
        value = getattr(entry, name)
        if value is not None:
            values += [name, _text(name, value)]
    return values


def _decode(flat: List[Any]) -> JournalEntry:
    """An entry from ``HGETALL``'s flat list of fields and values."""
    return _decode_mapping(dict(zip(flat[::2], flat[1::2])))


def _decode_mapping(held: Dict[Any, Any]) -> JournalEntry:
    stored = {_str(name): value for name, value in held.items()}
    values: Dict[str, Any] = {}
    for name in _FIELDS:
        value = stored.get(name)
        if value is None:
            values[name] = None
        elif name == "body":
            values[name] = value if isinstance(value, bytes) else str(value).encode("utf-8")
        elif name in _FLOATS:
            values[name] = float(_str(value))
        elif name == "status":
            values[name] = int(_str(value))
        else:
            values[name] = _str(value)
    return JournalEntry(**values)


def _str(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


__all__: Tuple[str, ...] = ("DEFAULT_PREFIX", "DEFAULT_SOCKET_TIMEOUT", "RedisJournalBackend")
