"""State shared through Redis: one token, one rate budget, one send per
idempotency key and one handler per inbound message, across processes.

``pip install messaging-hub[redis]`` brings redis-py, whose asyncio client
this uses. Every Redis call is bounded by ``timeout``; a Redis that is down
or slow becomes :class:`~messaging_hub.errors.StateUnavailable` (a
``ProviderUnavailable``), never a hang, and never a second send.

What is kept, under ``{namespace}:`` keys (account keys are digests: no
credential appears in a key):

* ``tok:{account}``: the OAuth token (JSON, passed through ``encrypt``
  when given), with ``lock:{account}`` held by the one process renewing it;
  the lock expires after ``lock_timeout`` so a dead worker never blocks
  renewal, and a token is stored only while its writer still holds the
  lock (fencing: a writer whose lock lapsed cannot overwrite a newer token);
* ``rate:{account}:{group}``: a sliding log of request starts per rate
  group and ``pause:...`` (a ``Retry-After`` heard by any worker), checked
  and counted in one Lua script on Redis's own clock;
* ``idem:{account}:{key}``: a send's reservation, then its receipt;
* ``claim:{account}:{message}``: which replica handles an inbound message,
  then that it was handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import logging
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from ..errors import ConfigError, StateUnavailable
from ..secret import Secret
from .base import (
    ClaimOutcome,
    ClaimStore,
    IdempotencyStore,
    Reservation,
    ReservationState,
    SharedLimiter,
    SharedState,
    TokenStore,
)

if TYPE_CHECKING:
    import redis.asyncio

    from ..transport.auth import Token

__all__ = ["RedisState"]

log = logging.getLogger("messaging_hub.state")

T = TypeVar("T")

# Sliding-log limiter on Redis's clock. KEYS: log, pause. ARGV: limit,
# window (ms), member, pause (ms, 0 = none), "1" to only record the pause,
# in-flight allowance (ms). A request is logged in the future (now + the
# allowance) until its answer re-times it (_ANSWERED): the provider counted
# it somewhere between start and answer, so it leaves the window a window
# after its answer. Returns 0 when the request was counted, else the
# milliseconds to wait.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local pause = tonumber(ARGV[4])
if pause > 0 then
  local held = tonumber(redis.call('GET', KEYS[2]) or '0')
  if now + pause > held then
    redis.call('SET', KEYS[2], now + pause, 'PX', pause)
  end
end
if ARGV[5] == '1' then return 0 end
local held = tonumber(redis.call('GET', KEYS[2]) or '0')
if held > now then return held - now end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  local flight = tonumber(ARGV[6])
  redis.call('ZADD', KEYS[1], now + flight, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window + flight)
  return 0
end
local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
-- Every counted request is still in flight: none leaves the window
-- before a window from now.
if oldest > now then return window end
return math.max(1, oldest + window - now)
"""

# Re-time answered requests. KEYS: log. ARGV: members.
_ANSWERED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now, ARGV[i])
end
return 0
"""

# Store a token only while holding the renewal lock. KEYS: token, lock.
# ARGV: lock owner, value, ttl (ms).
_STORE_IF_LOCKED = """
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""

# Delete a key only if it still holds ARGV[1] (releasing one's own lock).
_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Reserve an idempotency key. KEYS: key. ARGV: holder, ttl (ms). Returns ""
# when the holder took it, else the value. A void left by abandoning this
# holder's reservation (below) keeps a late-arriving reserve from taking
# effect; anyone else's void is free.
_RESERVE = """
local v = redis.call('GET', KEYS[1])
if v == 'v:' .. ARGV[1] then return 'v' end
if not v or string.sub(v, 1, 2) == 'v:' then
  redis.call('SET', KEYS[1], 'p:' .. ARGV[1], 'PX', ARGV[2])
  return ''
end
return v
"""

# Abandon a reservation that got no answer. KEYS: key. ARGV: holder, void ttl.
_ABANDON = """
local v = redis.call('GET', KEYS[1])
if v == 'p:' .. ARGV[1] then return redis.call('DEL', KEYS[1]) end
if not v then redis.call('SET', KEYS[1], 'v:' .. ARGV[1], 'PX', ARGV[2]) end
return 0
"""

# Claim a message. KEYS: claim. ARGV: owner, ttl (ms), done marker.
# Returns 1 mine, 2 taken, 3 done.
_CLAIM = """
local v = redis.call('GET', KEYS[1])
if not v or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if v == ARGV[3] then return 3 end
return 2
"""

_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_PENDING = "p:"
# How long an abandoned reservation's void keeps a late reserve from landing.
_VOID_TTL = 300.0
_IN_DOUBT = "?"
_RECEIPT = "r:"
_DONE = "done"


# How long a request counts as in flight when its answer is never reported
# (its process died): then it leaves the window this long after its start.
_IN_FLIGHT = 30.0


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisState(SharedState):
    """Shared state in Redis; build it with :meth:`from_url`.

    ``namespace`` prefixes every key (several apps can share one Redis).
    ``timeout`` bounds every Redis call (seconds). ``lock_timeout`` is how
    long a token renewal may hold the cluster-wide lock before another
    process may take over. ``encrypt``/``decrypt`` (bytes to bytes) are
    applied to tokens at rest, e.g. ``cryptography``'s
    ``Fernet(key).encrypt``/``.decrypt``; without them tokens are stored as
    plain JSON, readable by whoever can read the Redis.
    """

    shared = True

    def __init__(
        self,
        client: redis.asyncio.Redis,
        *,
        namespace: str = "messaging-hub",
        timeout: float = 2.0,
        lock_timeout: float = 30.0,
        encrypt: Callable[[bytes], bytes] | None = None,
        decrypt: Callable[[bytes], bytes] | None = None,
        where: str = "redis",
    ) -> None:
        if not namespace or any(c.isspace() for c in namespace):
            raise ConfigError("namespace must be a non-empty word", key="namespace")
        if not timeout > 0 or not lock_timeout > 0:
            raise ConfigError("timeout and lock_timeout must be > 0", key="timeout")
        if (encrypt is None) != (decrypt is None):
            raise ConfigError("give both encrypt and decrypt, or neither", key="encrypt")
        self._redis = client
        self.namespace = namespace
        self.timeout = timeout
        self.lock_timeout = lock_timeout
        self._encrypt = encrypt
        self._decrypt = decrypt
        self._where = where
        self._scripts: dict[str, Any] = {}
        self._tokens = _RedisTokens(self)
        self._idempotency = _RedisIdempotency(self)
        self._claims = _RedisClaims(self)
        self._limiters: dict[str, _RedisLimiter] = {}
        self._members = itertools.count()
        self._process = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"

    @classmethod
    def from_url(
        cls,
        url: str | Secret,
        *,
        namespace: str = "messaging-hub",
        timeout: float = 2.0,
        lock_timeout: float = 30.0,
        encrypt: Callable[[bytes], bytes] | None = None,
        decrypt: Callable[[bytes], bytes] | None = None,
    ) -> RedisState:
        """Connect lazily to the Redis at ``url`` (``redis://[:password@]host:port/db``,
        ``rediss://`` for TLS, ``unix://`` for a socket)."""
        try:
            import redis.asyncio as aioredis
        except ImportError:
            raise ConfigError(
                "RedisState needs redis-py: pip install 'messaging-hub[redis]'", key="state"
            ) from None
        text = url.reveal() if isinstance(url, Secret) else url
        try:
            client = aioredis.Redis.from_url(
                text,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry_on_timeout=False,
            )
        except ValueError as exc:
            # The text may hold the password: say what is wrong, not what was given.
            raise ConfigError(
                f"not a Redis URL: {_without_password(str(exc), text)}", key="url"
            ) from None
        kwargs = client.connection_pool.connection_kwargs
        where = str(kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}")
        return cls(
            client,
            namespace=namespace,
            timeout=timeout,
            lock_timeout=lock_timeout,
            encrypt=encrypt,
            decrypt=decrypt,
            where=f"redis at {where}",
        )

    # -- SharedState ---------------------------------------------------------
    @property
    def tokens(self) -> TokenStore:
        """See :attr:`SharedState.tokens`."""
        return self._tokens

    def limiter(self, key: str, limit: int, window: float) -> SharedLimiter:
        """See :meth:`SharedState.limiter`."""
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = _RedisLimiter(self, key, limit, window)
        return limiter

    @property
    def idempotency(self) -> IdempotencyStore:
        """See :attr:`SharedState.idempotency`."""
        return self._idempotency

    @property
    def claims(self) -> ClaimStore:
        """See :attr:`SharedState.claims`."""
        return self._claims

    async def aclose(self) -> None:
        """Close the connection pool."""
        for limiter in self._limiters.values():
            await limiter.aclose()
        await self._redis.aclose()

    async def ping(self) -> None:
        """Check that Redis answers (StateUnavailable if not)."""
        await self.call(lambda r: r.ping())

    # -- plumbing ------------------------------------------------------------
    def key(self, *parts: str) -> str:
        """A key in this state's namespace."""
        return ":".join((self.namespace, *parts))

    async def call(self, operation: Callable[[redis.asyncio.Redis], Awaitable[T]]) -> T:
        """Run one Redis operation within ``timeout``; failures -> StateUnavailable."""
        import redis.exceptions

        reason: str
        try:
            with anyio.fail_after(self.timeout):
                return await operation(self._redis)
        except TimeoutError:
            reason = f"no answer within {self.timeout:g} s"
        except redis.exceptions.RedisError as exc:
            reason = str(exc) or type(exc).__name__
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
        raise StateUnavailable(f"shared state ({self._where}) unavailable: {reason}")

    async def script(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a Lua script (cached on the server by its digest)."""
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self._redis.register_script(_SCRIPTS[name])
        return await self.call(lambda _: script(keys=list(keys), args=list(args)))

    def seal(self, data: bytes) -> bytes:
        """``data`` as stored (encrypted when an ``encrypt`` was given)."""
        return self._encrypt(data) if self._encrypt is not None else data

    def unseal(self, data: bytes) -> bytes:
        """Stored ``data`` made readable again."""
        return self._decrypt(data) if self._decrypt is not None else data

    def member(self) -> str:
        """A name unique across processes (a limiter log entry)."""
        return f"{self._process}-{next(self._members)}"

    def __repr__(self) -> str:
        return f"RedisState({self._where!r}, namespace={self.namespace!r})"


_SCRIPTS = {
    "acquire": _ACQUIRE,
    "answered": _ANSWERED,
    "store_if_locked": _STORE_IF_LOCKED,
    "delete_if": _DELETE_IF,
    "reserve": _RESERVE,
    "abandon": _ABANDON,
    "claim": _CLAIM,
    "extend": _EXTEND,
}


async def _set_nx(redis: redis.asyncio.Redis, *, key: str, value: str, ttl: float) -> bool:
    return bool(await redis.set(key, value, nx=True, px=_ms(ttl)))


def _without_password(text: str, url: str) -> str:
    from urllib.parse import urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        return "unparsable"
    return text.replace(password, "***") if password else text


# -- tokens ------------------------------------------------------------------


def _token_to_json(token: Token) -> bytes:
    # Monotonic times mean nothing in another process: stored as epoch seconds.
    shift = time.time() - time.monotonic()

    def wall(value: float | None) -> float | None:
        return None if value is None else value + shift

    return json.dumps(
        {
            "access_token": token.access_token.reveal(),
            "refresh_token": None if token.refresh_token is None else token.refresh_token.reveal(),
            "expires_at": wall(token.expires_at),
            "refresh_expires_at": wall(token.refresh_expires_at),
            "issued_at": wall(token.issued_at),
        }
    ).encode()


def _token_from_json(data: bytes) -> Token:
    from ..transport.auth import Token

    fields = json.loads(data)
    shift = time.monotonic() - time.time()

    def mono(value: float | None) -> float | None:
        return None if value is None else float(value) + shift

    refresh = fields.get("refresh_token")
    return Token(
        access_token=Secret(fields["access_token"]),
        refresh_token=Secret(refresh) if refresh else None,
        expires_at=mono(fields.get("expires_at")),
        refresh_expires_at=mono(fields.get("refresh_expires_at")),
        issued_at=mono(fields.get("issued_at")),
    )


def _keep_for(token: Token) -> float:
    """How long Redis keeps a token: while it or its refresh token lives."""
    now = time.monotonic()
    ends = [t for t in (token.expires_at, token.refresh_expires_at) if t is not None]
    return max(60.0, max(ends) - now) if ends else 30 * 86400.0


class _RedisTokens:
    def __init__(self, state: RedisState) -> None:
        self._state = state

    async def _load(self, key: str) -> Token | None:
        data = await self._state.call(lambda r: r.get(self._state.key("tok", key)))
        if data is None:
            return None
        if isinstance(data, str):
            data = data.encode()
        try:
            return _token_from_json(self._state.unseal(data))
        except Exception:
            # Unreadable (another key, a changed cipher): renew as if absent.
            log.warning("the stored token under %s could not be read; renewing it", key)
            return None

    async def renew(
        self,
        key: str,
        *,
        good: Callable[[Token], bool],
        fetch: Callable[[Token | None], Awaitable[Token]],
        wait: bool = True,
    ) -> Token | None:
        state = self._state
        token_key, lock_key = state.key("tok", key), state.key("lock", key)
        deadline = time.monotonic() + 2 * state.lock_timeout + state.timeout
        pause = 0.02
        while True:
            current = await self._load(key)
            if current is not None and good(current):
                return current
            owner = uuid.uuid4().hex
            taken = await state.call(
                functools.partial(_set_nx, key=lock_key, value=owner, ttl=state.lock_timeout)
            )
            if taken:
                return await self._renew_locked(key, token_key, lock_key, owner, good, fetch)
            if not wait:
                return None
            if time.monotonic() > deadline:
                raise StateUnavailable(
                    "another process has been renewing the token for longer than "
                    f"{2 * state.lock_timeout:g} s"
                )
            await anyio.sleep(pause * random.uniform(0.5, 1.5))  # noqa: S311 - jitter
            pause = min(pause * 2, 0.25)

    async def _renew_locked(
        self,
        key: str,
        token_key: str,
        lock_key: str,
        owner: str,
        good: Callable[[Token], bool],
        fetch: Callable[[Token | None], Awaitable[Token]],
    ) -> Token:
        state = self._state
        try:
            # Checked again under the lock: its last holder may have renewed.
            current = await self._load(key)
            if current is not None and good(current):
                return current
            token = await fetch(current)
            stored = await state.script(
                "store_if_locked",
                [token_key, lock_key],
                [owner, state.seal(_token_to_json(token)), _ms(_keep_for(token))],
            )
            if not stored:
                log.warning(
                    "a token renewal outlasted its lock (%g s); the new token was not shared",
                    state.lock_timeout,
                )
            return token
        finally:
            # Shielded: a cancelled renewal still frees the lock (or it lapses).
            with anyio.CancelScope(shield=True), contextlib.suppress(StateUnavailable):
                await state.script("delete_if", [lock_key], [owner])

    async def discard(self, key: str) -> None:
        await self._state.call(lambda r: r.delete(self._state.key("tok", key)))


# -- rate limits ---------------------------------------------------------------


class _RedisLimiter:
    """A sliding-log limiter counted in Redis (see the module docstring)."""

    def __init__(self, state: RedisState, key: str, limit: int, window: float) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self._state = state
        self.limit = limit
        self.window = window
        self._log_key = state.key("rate", key)
        self._pause_key = state.key("pause", key)
        self._paused_until = 0.0
        self._free_at = 0.0
        self._unshared_pause = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._answered: list[str] = []
        self._reporter: asyncio.Task[None] | None = None

    def delay(self) -> float:
        now = time.monotonic()
        return max(0.0, self._paused_until - now, self._free_at - now)

    async def acquire(self, *, report: bool = False) -> object | None:
        # Always logged as in flight until answered (or the allowance lapses).
        member = self._state.member()
        while True:
            pause, self._unshared_pause = self._unshared_pause, 0.0
            wait_ms = await self._state.script(
                "acquire",
                [self._log_key, self._pause_key],
                [
                    self.limit,
                    _ms(self.window),
                    member,
                    _ms(pause) if pause else 0,
                    "0",
                    _ms(_IN_FLIGHT),
                ],
            )
            now = time.monotonic()
            wait = int(wait_ms) / 1000
            if wait <= 0:
                self._free_at = now
                return member
            self._free_at = now + wait
            # A little jitter: the workers that wait for one slot do not all ask at once.
            await anyio.sleep(wait + random.uniform(0, 0.005))  # noqa: S311

    def answered(self, ticket: object) -> None:
        self._answered.append(str(ticket))
        if self._reporter is None or self._reporter.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # the entry lapses after the in-flight allowance
            self._reporter = loop.create_task(self._report_answers())

    async def _report_answers(self) -> None:
        # One script call for every answer that came in meanwhile.
        while self._answered:
            members, self._answered = self._answered, []
            try:
                await self._state.script("answered", [self._log_key], members)
            except StateUnavailable as exc:
                log.warning("could not record answered requests: %s", exc)
                return

    def pause_until(self, deadline: float) -> None:
        self.pause_for(deadline - time.monotonic())

    def pause_for(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        self._unshared_pause = max(self._unshared_pause, seconds)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # passed on by the next acquire
        task = loop.create_task(self._share_pause())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _share_pause(self) -> None:
        pause, self._unshared_pause = self._unshared_pause, 0.0
        if pause <= 0:
            return
        try:
            await self._state.script(
                "acquire",
                [self._log_key, self._pause_key],
                [self.limit, _ms(self.window), "", _ms(pause), "1", 0],
            )
        except StateUnavailable as exc:
            self._unshared_pause = max(self._unshared_pause, pause)
            log.warning("could not share a rate-limit pause: %s", exc)

    def resize(self, limit: int, window: float) -> None:
        if limit >= 1 and window > 0:
            self.limit = limit
            self.window = window

    async def aclose(self) -> None:
        reporter = self._reporter
        if reporter is not None and not reporter.done():
            # Answers still to report: let them go out (each call is bounded).
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await reporter
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with (
                anyio.CancelScope(shield=True),
                contextlib.suppress(asyncio.CancelledError, StateUnavailable),
            ):
                await task


# -- idempotency -----------------------------------------------------------------


class _RedisIdempotency:
    def __init__(self, state: RedisState) -> None:
        self._state = state

    async def reserve(self, key: str, *, holder: str, ttl: float) -> Reservation:
        value = await self._state.script(
            "reserve", [self._state.key("idem", key)], [holder, _ms(ttl)]
        )
        text = value.decode() if isinstance(value, bytes) else str(value)
        if text == "":
            return Reservation(ReservationState.NEW)
        if text.startswith(_PENDING):
            return Reservation(ReservationState.PENDING)
        if text.startswith(_RECEIPT):
            return Reservation(ReservationState.DONE, text[len(_RECEIPT) :])
        return Reservation(ReservationState.IN_DOUBT)

    async def complete(self, key: str, receipt: str, *, ttl: float) -> None:
        full = self._state.key("idem", key)
        await self._state.call(lambda r: r.set(full, _RECEIPT + receipt, px=_ms(ttl)))

    async def release(self, key: str, *, holder: str) -> None:
        await self._state.script("delete_if", [self._state.key("idem", key)], [_PENDING + holder])

    async def abandon(self, key: str, *, holder: str) -> None:
        # The void outlives any reserve still queued towards this Redis.
        await self._state.script(
            "abandon", [self._state.key("idem", key)], [holder, _ms(_VOID_TTL)]
        )

    async def mark_in_doubt(self, key: str, *, ttl: float) -> None:
        full = self._state.key("idem", key)
        await self._state.call(lambda r: r.set(full, _IN_DOUBT, px=_ms(ttl)))


# -- claims ------------------------------------------------------------------------


class _RedisClaims:
    def __init__(self, state: RedisState) -> None:
        self._state = state

    async def claim(self, key: str, owner: str, *, ttl: float) -> ClaimOutcome:
        found = await self._state.script(
            "claim", [self._state.key("claim", key)], [owner, _ms(ttl), _DONE]
        )
        return {1: ClaimOutcome.MINE, 3: ClaimOutcome.DONE}.get(int(found), ClaimOutcome.TAKEN)

    async def extend(self, key: str, owner: str, *, ttl: float) -> bool:
        kept = await self._state.script(
            "extend", [self._state.key("claim", key)], [owner, _ms(ttl)]
        )
        return bool(kept)

    async def finish(self, key: str, *, ttl: float) -> None:
        full = self._state.key("claim", key)
        await self._state.call(lambda r: r.set(full, _DONE, px=_ms(ttl)))
