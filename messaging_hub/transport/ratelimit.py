"""Client-side pacing, so bursts do not trip a provider's limits.

:class:`RateLimiter` spaces requests so that no more than ``limit`` start in
any ``window`` seconds (a sliding log). :meth:`RateLimiter.pause_until`
lets a provider's headers (remaining = 0, ``Retry-After``) hold everyone
back. :class:`GroupedRateLimiter` keeps one limiter per named group, as
RingCentral's usage plan has Light/Medium/Heavy/Auth groups.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from ..state.base import SharedLimiter

__all__ = ["GroupedRateLimiter", "RateLimiter"]


class RateLimiter:
    """At most ``limit`` requests in any ``window`` seconds.

    A request acquired with ``report=True`` counts as in flight until
    :meth:`answered`, and from then on as made at its answer: the provider
    counted it on arrival, somewhere between the two, so a burst whose
    requests took different times to arrive never overspends the provider's
    window. (A ticket never answered lapses after ``in_flight_allowance``.)
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        in_flight_allowance: float = 30.0,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._starts: deque[float] = deque()
        self._flying: dict[int, float] = {}
        self._tickets = itertools.count()
        self._allowance = in_flight_allowance
        self._paused_until = 0.0
        self._lock: anyio.Lock | None = None

    def _wait_time(self) -> float:
        now = self._clock()
        while self._starts and now - self._starts[0] >= self.window:
            self._starts.popleft()
        flying = self._flying
        if flying and min(flying.values()) <= now:
            for ticket in [t for t, lapse in flying.items() if lapse <= now]:
                del flying[ticket]
        wait = self._paused_until - now
        if len(self._starts) + len(flying) >= self.limit:
            # Only answered requests leave the window; with every slot in
            # flight, none leaves before a window from now.
            wait = max(wait, self._starts[0] + self.window - now if self._starts else self.window)
        return max(0.0, wait)

    def delay(self) -> float:
        """How long an acquisition starting now would wait (0 when a slot is free)."""
        return self._wait_time()

    def _count(self, report: bool) -> int | None:
        if not report:
            self._starts.append(self._clock())
            return None
        ticket = next(self._tickets)
        self._flying[ticket] = self._clock() + self._allowance
        return ticket

    async def acquire(self, *, report: bool = False) -> int | None:
        """Wait until a request may start, then count it; with ``report``, a
        ticket to hand to :meth:`answered` when its answer is in."""
        lock = self._lock
        if (lock is None or not lock.locked()) and self._wait_time() <= 0:
            # A free slot and nobody waiting for one: counted without the lock.
            return self._count(report)
        if self._lock is None:
            self._lock = anyio.Lock()
        # One waiter at a time keeps the order fair (first come, first served).
        async with self._lock:
            # The wait is computed exactly; there is no event to wait for.
            while (wait := self._wait_time()) > 0:  # noqa: ASYNC110
                await anyio.sleep(wait)
            return self._count(report)

    def answered(self, ticket: object) -> None:
        """The request holding ``ticket`` has its answer (or failed)."""
        if isinstance(ticket, int) and self._flying.pop(ticket, None) is not None:
            self._starts.append(self._clock())

    def pause_until(self, deadline: float) -> None:
        """Hold every acquisition until ``deadline`` (on this limiter's clock)."""
        self._paused_until = max(self._paused_until, deadline)

    def pause_for(self, seconds: float) -> None:
        """Hold every acquisition for ``seconds`` from now."""
        self.pause_until(self._clock() + max(0.0, seconds))

    def resize(self, limit: int, window: float) -> None:
        """Adopt a limit the provider announced (e.g. ``X-Rate-Limit-Limit``)."""
        if limit >= 1 and window > 0:
            self.limit = limit
            self.window = window


class GroupedRateLimiter:
    """One limiter per named group; unknown groups are not paced.

    ``factory(group, limit, window)`` makes each group's limiter (a shared
    one, say); by default a :class:`RateLimiter` on ``clock``.
    """

    def __init__(
        self,
        groups: Mapping[str, tuple[int, float]],
        *,
        clock: Callable[[], float] = time.monotonic,
        factory: Callable[[str, int, float], SharedLimiter] | None = None,
    ) -> None:
        self._limiters: dict[str, SharedLimiter] = {
            name: (
                factory(name, limit, window)
                if factory is not None
                else RateLimiter(limit, window, clock=clock)
            )
            for name, (limit, window) in groups.items()
        }

    def __getitem__(self, group: str) -> SharedLimiter:
        return self._limiters[group]

    def get(self, group: str | None) -> SharedLimiter | None:
        """The limiter of ``group``, or ``None``."""
        return None if group is None else self._limiters.get(group)

    def delay(self, group: str | None) -> float:
        """How long an acquisition in ``group`` would wait now."""
        limiter = self.get(group)
        return 0.0 if limiter is None else limiter.delay()

    async def acquire(self, group: str | None) -> None:
        """Wait for a slot in ``group`` (no wait for an unknown group)."""
        limiter = self.get(group)
        if limiter is not None:
            await limiter.acquire()
