"""The rate-limit governor: every worker asks it before calling a rate-limited API.

Per credential key it keeps, in a store all workers share:

* the limit and the budget left in the current window, learned from the ``X-RateLimit-*``
  headers of every response (Docker Hub and GitHub both send them);
* a pacing clock (GCRA: the "theoretical arrival time" of the next call), so the budget left is
  spent evenly until the window resets instead of in one burst that ends in a 429 storm;
* a pause after a 429 (or a GitHub rate-limit 403), until the time the service gave.

An hourly budget (GitHub's 5,000) spread evenly is one call per 0.72 s: a class's pre-flight
(hundreds of reads, a tenth of the budget) would crawl although the budget is ample. A policy's
``burst_share`` lets the pacing clock run ahead of the even pace by that share of the time left
in the learned window, so a burst is sized to the budget left and shrinks as it is spent; two
optional side buckets keep such bursts polite: ``minute_limit`` (GitHub's secondary limit
counts points per minute) and ``write_spacing`` (GitHub asks for at least a second between
writes).

``acquire(key)`` returns when the caller may send; it sleeps at most ``max_wait`` seconds (a few)
and otherwise raises ``Throttled(retry_at)``, so a Celery task reschedules itself rather than
blocking a worker. Before anything is learned it paces at ``default_limit`` per ``window``.

A small share of the limit (5%, at least one call) is never spent: responses arrive after
other workers have already reserved their next slots, and another tool may share the token.

Two stores hold the state, with the same algorithm: Redis (a Lua script, atomic across any
number of machines) when ``RATE_LIMIT_REDIS_URL`` is set, otherwise a SQLite file under
``VAR_DIR`` locked with ``BEGIN IMMEDIATE`` (atomic across processes on one machine, no server).
Times are the callers' clocks (epoch seconds); workers of one deployment share NTP time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol, TypeVar

import redis
import requests
from django.conf import settings

from hubcourse.errors import Throttled
from hubcourse.http import parse_retry_after

_T = TypeVar("_T")

DEFAULT_MAX_WAIT = 5.0
# How long a key's state outlives its last use in Redis; learned limits are cheap to relearn.
_STATE_TTL_SECONDS = 24 * 3600


@dataclasses.dataclass
class State:
    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None
    # GCRA theoretical arrival time: when the next call would be due at the current pace.
    tat: float = 0.0
    paused_until: float = 0.0


@dataclasses.dataclass(frozen=True)
class Policy:
    default_limit: int
    window: float
    burst: int
    max_wait: float
    # While a learned window has budget left, calls may run ahead of the even pace by this
    # share of the time left in the window (0: only ``burst`` calls ahead).
    burst_share: float = 0.0


def reserved(limit: int) -> int:
    """Calls per window never spent by the governor (see the module docstring)."""
    return max(1, limit // 20)


def decide(state: State, now: float, policy: Policy) -> tuple[bool, float]:
    """Take a slot for one call or refuse: ``(granted, slot)``; mutates ``state`` if granted.

    The Lua script in ``RedisStore`` is a line-by-line copy of this function: change both.
    """
    limit = state.limit or policy.default_limit
    margin = reserved(limit)
    usable = max(1, limit - margin)
    earliest = max(now, state.paused_until)
    # Slots up to ``tat`` are already promised; the budget left is spread over what follows.
    base = max(earliest, state.tat)
    lead = 0.0
    if state.reset is not None and state.remaining is not None and state.reset > earliest:
        budget = state.remaining - margin
        if budget > 0:
            # Past the reset already booked: pace at the plain rate into the next window.
            interval = (
                (state.reset - base) / budget if state.reset > base else policy.window / usable
            )
            # The budget left is known: run ahead by a share of the window left. The lead
            # shrinks as the clock runs ahead, so it never spends more than the budget.
            lead = policy.burst_share * max(0.0, state.reset - base)
        else:
            # This window's budget is spent: the next call goes out when the window resets.
            earliest = state.reset
            interval = policy.window / usable
    else:
        interval = policy.window / usable
    tolerance = max(interval * (policy.burst - 1), lead)
    slot = max(earliest, state.tat - tolerance)
    if slot - now > policy.max_wait:
        return False, slot
    state.tat = max(state.tat, slot) + interval
    if state.reset is not None and slot >= state.reset:
        # A new window: forget the old count and pace at the plain rate until a response
        # tells us the new one.
        state.reset = None
        state.remaining = None
    elif state.remaining is not None:
        state.remaining -= 1
    return True, slot


def learn(
    state: State,
    now: float,
    *,
    limit: int | None,
    remaining: int | None,
    reset: float | None,
    pause_until: float | None,
) -> None:
    """Fold what one response said into ``state``. The Lua script mirrors this too."""
    if limit is not None and limit > 0:
        state.limit = limit
    if remaining is not None and reset is not None and reset > now:
        if (
            state.reset is not None
            and state.remaining is not None
            and abs(reset - state.reset) <= 1
        ):
            # Same window: responses arrive after other slots were reserved, so the lower
            # count is the truer one.
            state.remaining = min(state.remaining, remaining)
        else:
            state.reset = reset
            state.remaining = remaining
    if pause_until is not None:
        state.paused_until = max(state.paused_until, pause_until)


class Store(Protocol):
    def acquire(self, key: str, now: float, policy: Policy) -> tuple[bool, float]: ...

    def learn(
        self,
        key: str,
        now: float,
        *,
        limit: int | None,
        remaining: int | None,
        reset: float | None,
        pause_until: float | None,
    ) -> None: ...

    def state(self, key: str) -> State: ...


_SELECT_STATE = "SELECT rate_limit, remaining, reset, tat, paused_until FROM governor WHERE key = ?"


class SQLiteStore:
    """Shared by the processes of one machine through a file; BEGIN IMMEDIATE serialises them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode, so that BEGIN IMMEDIATE below is the only transaction.
            # No WAL: switching the journal mode takes a lock that does not wait for others,
            # and these transactions are too short for WAL's concurrent readers to matter.
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute(
                "CREATE TABLE IF NOT EXISTS governor ("
                " key TEXT PRIMARY KEY, rate_limit INTEGER, remaining INTEGER, reset REAL,"
                " tat REAL NOT NULL, paused_until REAL NOT NULL)"
            )
            self._local.connection = connection
        return connection

    def _update(self, key: str, change: Callable[[State], _T]) -> _T:
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            row = connection.execute(
                _SELECT_STATE,
                (key,),
            ).fetchone()
            state = State(*row) if row else State()
            result = change(state)
            connection.execute(
                "INSERT OR REPLACE INTO governor VALUES (?, ?, ?, ?, ?, ?)",
                (key, state.limit, state.remaining, state.reset, state.tat, state.paused_until),
            )
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result

    def acquire(self, key: str, now: float, policy: Policy) -> tuple[bool, float]:
        return self._update(key, lambda s: decide(s, now, policy))

    def learn(
        self,
        key: str,
        now: float,
        *,
        limit: int | None,
        remaining: int | None,
        reset: float | None,
        pause_until: float | None,
    ) -> None:
        self._update(
            key,
            lambda s: learn(
                s, now, limit=limit, remaining=remaining, reset=reset, pause_until=pause_until
            ),
        )

    def state(self, key: str) -> State:
        row = (
            self._connection()
            .execute(
                _SELECT_STATE,
                (key,),
            )
            .fetchone()
        )
        return State(*row) if row else State()


# Lua mirror of decide() and learn(); numbers travel as strings because Redis truncates Lua
# numbers returned to the client to integers.
_COMMON_LUA = """
local key = KEYS[1]
local function num(v)
  if v == false or v == nil or v == '' then return nil end
  return tonumber(v)
end
local f = redis.call('HMGET', key, 'limit', 'remaining', 'reset', 'tat', 'paused')
local s = {limit = num(f[1]), remaining = num(f[2]), reset = num(f[3]),
           tat = num(f[4]) or 0, paused = num(f[5]) or 0}
local function save(ttl)
  redis.call('HSET', key, 'tat', string.format('%.17g', s.tat),
             'paused', string.format('%.17g', s.paused))
  for _, name in ipairs({'limit', 'remaining', 'reset'}) do
    if s[name] == nil then redis.call('HDEL', key, name)
    elseif name == 'reset' then redis.call('HSET', key, name, string.format('%.17g', s[name]))
    else redis.call('HSET', key, name, string.format('%d', s[name])) end
  end
  redis.call('EXPIRE', key, ttl)
end
"""

_ACQUIRE_LUA = (
    _COMMON_LUA
    + """
local now = tonumber(ARGV[1])
local default_limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local max_wait = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])
local burst_share = tonumber(ARGV[7])
local limit = s.limit or default_limit
local margin = math.max(1, math.floor(limit / 20))
local usable = math.max(1, limit - margin)
local earliest = math.max(now, s.paused)
local base = math.max(earliest, s.tat)
local interval
local lead = 0
if s.reset ~= nil and s.remaining ~= nil and s.reset > earliest then
  local budget = s.remaining - margin
  if budget > 0 then
    if s.reset > base then
      interval = (s.reset - base) / budget
    else
      interval = window / usable
    end
    lead = burst_share * math.max(0, s.reset - base)
  else
    earliest = s.reset
    interval = window / usable
  end
else
  interval = window / usable
end
local tolerance = math.max(interval * (burst - 1), lead)
local slot = math.max(earliest, s.tat - tolerance)
if slot - now > max_wait then
  return {0, string.format('%.17g', slot)}
end
s.tat = math.max(s.tat, slot) + interval
if s.reset ~= nil and slot >= s.reset then
  s.reset = nil
  s.remaining = nil
elseif s.remaining ~= nil then
  s.remaining = s.remaining - 1
end
save(ttl)
return {1, string.format('%.17g', slot)}
"""
)

_LEARN_LUA = (
    _COMMON_LUA
    + """
local now = tonumber(ARGV[1])
local limit = num(ARGV[2])
local remaining = num(ARGV[3])
local reset = num(ARGV[4])
local pause_until = num(ARGV[5])
local ttl = tonumber(ARGV[6])
if limit ~= nil and limit > 0 then s.limit = limit end
if remaining ~= nil and reset ~= nil and reset > now then
  if s.reset ~= nil and s.remaining ~= nil and math.abs(reset - s.reset) <= 1 then
    s.remaining = math.min(s.remaining, remaining)
  else
    s.reset = reset
    s.remaining = remaining
  end
end
if pause_until ~= nil then s.paused = math.max(s.paused, pause_until) end
save(ttl)
return 1
"""
)


class RedisStore:
    """Shared by every worker on every machine; each operation is one atomic Lua script."""

    def __init__(self, url: str, *, prefix: str = "hubcourse:governor:") -> None:
        self.client = redis.Redis.from_url(url, decode_responses=True)
        self.prefix = prefix
        self._acquire = self.client.register_script(_ACQUIRE_LUA)
        self._learn = self.client.register_script(_LEARN_LUA)

    def acquire(self, key: str, now: float, policy: Policy) -> tuple[bool, float]:
        granted, slot = self._acquire(
            keys=[self.prefix + key],
            args=[
                repr(now),
                policy.default_limit,
                repr(policy.window),
                policy.burst,
                repr(policy.max_wait),
                _STATE_TTL_SECONDS,
                repr(policy.burst_share),
            ],
        )
        return bool(int(granted)), float(slot)

    def learn(
        self,
        key: str,
        now: float,
        *,
        limit: int | None,
        remaining: int | None,
        reset: float | None,
        pause_until: float | None,
    ) -> None:
        self._learn(
            keys=[self.prefix + key],
            args=[
                repr(now),
                "" if limit is None else limit,
                "" if remaining is None else remaining,
                "" if reset is None else repr(reset),
                "" if pause_until is None else repr(pause_until),
                _STATE_TTL_SECONDS,
            ],
        )

    def state(self, key: str) -> State:
        fields: dict[str, str] = self.client.hgetall(self.prefix + key)  # type: ignore[assignment]
        return State(
            limit=int(fields["limit"]) if "limit" in fields else None,
            remaining=int(fields["remaining"]) if "remaining" in fields else None,
            reset=float(fields["reset"]) if "reset" in fields else None,
            tat=float(fields.get("tat", 0)),
            paused_until=float(fields.get("paused", 0)),
        )


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def default_store() -> Store:
    """The store the settings name, one per process and location."""
    url = getattr(settings, "RATE_LIMIT_REDIS_URL", "")
    location = url or str(Path(settings.VAR_DIR) / "governor.sqlite3")
    with _stores_lock:
        store = _stores.get(location)
        if store is None:
            store = RedisStore(url) if url else SQLiteStore(Path(location))
            _stores[location] = store
        return store


def _spacing_policy(seconds: float, max_wait: float) -> Policy:
    """A policy whose unlearned pace is exactly one call per ``seconds``, with no burst."""
    limit = 100
    return Policy(limit, seconds * (limit - reserved(limit)), 1, max_wait)


def credential_key(service: str, base_url: str, identity: str) -> str:
    """A governor key for one credential that does not reveal it (tokens are hashed)."""
    digest = hashlib.sha256(f"{base_url}\0{identity}".encode()).hexdigest()[:24]
    return f"{service}:{digest}"


class Governor:
    """Paces the calls of one service; one instance per service and policy, any number of keys."""

    def __init__(
        self,
        service: str,
        *,
        default_limit: int,
        window: float,
        burst: int = 1,
        burst_share: float = 0.0,
        minute_limit: int | None = None,
        write_spacing: float = 0.0,
        max_wait: float | None = None,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.service = service
        self.default_limit = default_limit
        self.window = window
        self.burst = max(1, burst)
        self.burst_share = max(0.0, burst_share)
        # Side buckets (own keys, never learned from headers): calls per minute whatever the
        # main budget allows, and the least time between two writes.
        self.minute_limit = minute_limit
        self.write_spacing = max(0.0, write_spacing)
        self._max_wait = max_wait
        self._store = store
        self._clock = clock
        self._sleep = sleep

    @property
    def store(self) -> Store:
        return self._store if self._store is not None else default_store()

    def policy(self) -> Policy:
        max_wait = self._max_wait
        if max_wait is None:
            max_wait = float(getattr(settings, "RATE_LIMIT_MAX_WAIT", DEFAULT_MAX_WAIT))
        return Policy(self.default_limit, self.window, self.burst, max_wait, self.burst_share)

    def acquire(self, key: str, operation: str = "call its API", *, write: bool = False) -> None:
        """Wait for this key's next slot, or raise ``Throttled`` if it is too far away.

        ``write``: the call changes something (spaced by ``write_spacing`` when set).
        """
        policy = self.policy()
        if write and self.write_spacing:
            self._take(
                f"{key}:writes", _spacing_policy(self.write_spacing, policy.max_wait), operation
            )
        if self.minute_limit:
            # Half a minute's worth may go at once; past that, the minute's even pace.
            minute = Policy(
                self.minute_limit, 60.0, max(1, self.minute_limit // 2), policy.max_wait
            )
            self._take(f"{key}:minute", minute, operation)
        self._take(key, policy, operation)

    def _take(self, key: str, policy: Policy, operation: str) -> None:
        now = self._clock()
        granted, slot = self.store.acquire(key, now, policy)
        if not granted:
            raise Throttled(
                self.service, operation, retry_at=dt.datetime.fromtimestamp(slot, dt.UTC)
            )
        if slot > now:
            self._sleep(slot - now)

    def observe(self, key: str, headers: Mapping[str, str], status: int) -> None:
        """Learn from one response's headers; pause the key after a rate-limit refusal."""
        now = self._clock()
        lowered = {name.lower(): value for name, value in headers.items()}
        limit = _int(lowered.get("x-ratelimit-limit"))
        remaining = _int(lowered.get("x-ratelimit-remaining"))
        reset_at = parse_retry_after(lowered.get("x-ratelimit-reset"), _utc(now), epoch=True)
        reset = reset_at.timestamp() if reset_at else None
        pause_until: float | None = None
        retry_after = lowered.get("retry-after") or lowered.get("x-retry-after")
        if status == 429 or (status == 403 and (retry_after or remaining == 0)):
            moment = parse_retry_after(retry_after, _utc(now))
            if moment is not None:
                pause_until = moment.timestamp()
            elif remaining == 0 and reset is not None:
                pause_until = reset
            elif status == 429:
                pause_until = now + self.window
        self.store.learn(
            key, now, limit=limit, remaining=remaining, reset=reset, pause_until=pause_until
        )

    def pause(self, key: str, until: dt.datetime) -> None:
        """Hold every call on ``key`` until ``until`` (a client that read the refusal itself)."""
        self.store.learn(
            key,
            self._clock(),
            limit=None,
            remaining=None,
            reset=None,
            pause_until=until.timestamp(),
        )

    def observer(self, key: str) -> Callable[[requests.Response], None]:
        """An ``observer`` for ``hubcourse.http.request``: every response goes to ``observe``."""

        def observe_response(response: requests.Response) -> None:
            self.observe(key, response.headers, response.status_code)

        return observe_response


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)
