"""In-process state: the default, with no dependency and nothing shared.

Every client gets its own :class:`LocalState` unless it is given one; give
several clients the same instance to share a token and rate budgets inside
one process.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio

from ..transport.ratelimit import RateLimiter
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
    from ..transport.auth import Token

__all__ = ["LocalState", "MemoryClaims", "MemoryIdempotency", "MemoryTokenStore"]


class MemoryTokenStore:
    """Tokens in a dict; renewal single-flight per key inside the process."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}
        self._locks: dict[str, anyio.Lock] = {}

    async def renew(
        self,
        key: str,
        *,
        good: Callable[[Token], bool],
        fetch: Callable[[Token | None], Awaitable[Token]],
        wait: bool = True,
    ) -> Token | None:
        """See :meth:`TokenStore.renew`."""
        current = self._tokens.get(key)
        if current is not None and good(current):
            return current
        lock = self._locks.setdefault(key, anyio.Lock())
        if not wait and lock.locked():
            return None
        async with lock:
            current = self._tokens.get(key)
            if current is not None and good(current):
                return current
            token = await fetch(current)
            self._tokens[key] = token
            return token

    async def discard(self, key: str) -> None:
        """See :meth:`TokenStore.discard`."""
        self._tokens.pop(key, None)


class _Expiring:
    """A dict whose entries lapse after their time to live (monotonic)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._items: dict[str, tuple[float, str]] = {}
        self._clock = clock

    def get(self, key: str) -> str | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] <= self._clock():
            del self._items[key]
            return None
        return item[1]

    def set(self, key: str, value: str, ttl: float) -> None:
        self._items[key] = (self._clock() + ttl, value)
        if len(self._items) > 1024 and len(self._items) & 1023 == 0:
            self._sweep()

    def delete(self, key: str) -> None:
        self._items.pop(key, None)

    def _sweep(self) -> None:
        now = self._clock()
        for key in [k for k, (deadline, _) in self._items.items() if deadline <= now]:
            del self._items[key]


_PENDING = "\x00pending:"
_IN_DOUBT = "\x00in_doubt"


class MemoryIdempotency:
    """Idempotency keys in the process, lapsing after their time to live."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries = _Expiring(clock)

    async def reserve(self, key: str, *, holder: str, ttl: float) -> Reservation:
        """See :meth:`IdempotencyStore.reserve`."""
        value = self._entries.get(key)
        if value is None:
            self._entries.set(key, _PENDING + holder, ttl)
            return Reservation(ReservationState.NEW)
        if value.startswith(_PENDING):
            return Reservation(ReservationState.PENDING)
        if value == _IN_DOUBT:
            return Reservation(ReservationState.IN_DOUBT)
        return Reservation(ReservationState.DONE, value)

    async def complete(self, key: str, receipt: str, *, ttl: float) -> None:
        """See :meth:`IdempotencyStore.complete`."""
        self._entries.set(key, receipt, ttl)

    async def release(self, key: str, *, holder: str) -> None:
        """See :meth:`IdempotencyStore.release`."""
        if self._entries.get(key) == _PENDING + holder:
            self._entries.delete(key)

    async def abandon(self, key: str, *, holder: str) -> None:
        """See :meth:`IdempotencyStore.abandon` (in memory a call always answers)."""
        await self.release(key, holder=holder)

    async def mark_in_doubt(self, key: str, *, ttl: float) -> None:
        """See :meth:`IdempotencyStore.mark_in_doubt`."""
        self._entries.set(key, _IN_DOUBT, ttl)


_DONE = "\x00done"


class MemoryClaims:
    """Claims in the process (for tests and single-process fan-out)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries = _Expiring(clock)

    async def claim(self, key: str, owner: str, *, ttl: float) -> ClaimOutcome:
        """See :meth:`ClaimStore.claim`."""
        value = self._entries.get(key)
        if value is None or value == owner:
            self._entries.set(key, owner, ttl)
            return ClaimOutcome.MINE
        return ClaimOutcome.DONE if value == _DONE else ClaimOutcome.TAKEN

    async def extend(self, key: str, owner: str, *, ttl: float) -> bool:
        """See :meth:`ClaimStore.extend`."""
        if self._entries.get(key) != owner:
            return False
        self._entries.set(key, owner, ttl)
        return True

    async def finish(self, key: str, *, ttl: float) -> None:
        """See :meth:`ClaimStore.finish`."""
        self._entries.set(key, _DONE, ttl)


class LocalState(SharedState):
    """State kept in this process (the default ``state``)."""

    shared = False

    def __init__(self) -> None:
        self._tokens = MemoryTokenStore()
        self._limiters: dict[str, RateLimiter] = {}
        self._idempotency = MemoryIdempotency()
        self._claims = MemoryClaims()

    @property
    def tokens(self) -> TokenStore:
        """See :attr:`SharedState.tokens`."""
        return self._tokens

    def limiter(self, key: str, limit: int, window: float) -> SharedLimiter:
        """See :meth:`SharedState.limiter`; one :class:`RateLimiter` per key."""
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = RateLimiter(limit, window)
        return limiter

    @property
    def idempotency(self) -> IdempotencyStore:
        """See :attr:`SharedState.idempotency`."""
        return self._idempotency

    @property
    def claims(self) -> ClaimStore:
        """See :attr:`SharedState.claims`."""
        return self._claims

    def __repr__(self) -> str:
        return "LocalState()"
