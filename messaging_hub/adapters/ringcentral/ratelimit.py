"""RingCentral's usage-plan rate limits, paced on the client side.

Every operation belongs to a throttling group (the spec's
``x-throttling-group``): Light, Medium, Heavy or Auth. The default plan
allows 50, 40, 10 and 5 requests per 60 s. The client paces each group so a
burst does not trip the server's limit, and adapts to what the server
announces on every answer: ``X-Rate-Limit-Limit``/``-Window`` resize the
group's limiter, and ``X-Rate-Limit-Remaining: 0`` holds the group until
a slot frees. The headers do not say when the server's window started, so
the hook remembers when its own answers came back: when the last ``limit``
answers all lie within the window, the server counted each of them no
later than it answered, so a slot frees at the latest one window after the
oldest of them came back. Otherwise (other clients share the quota) a whole
window from now is the safe wait.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping

from ...transport import GroupedRateLimiter, Response

__all__ = ["DEFAULT_LIMITS", "GROUPS", "RateLimitHeaders", "normalise_group"]

GROUPS = ("Light", "Medium", "Heavy", "Auth")
DEFAULT_LIMITS: Mapping[str, tuple[int, float]] = {
    "Light": (50, 60.0),
    "Medium": (40, 60.0),
    "Heavy": (10, 60.0),
    "Auth": (5, 60.0),
}
"""The default usage plan (docs/basics/rate-limits.md), per user per app."""


def normalise_group(name: str) -> str | None:
    """The canonical group name (``heavy`` -> ``Heavy``), or ``None`` if unknown."""
    wanted = name.strip().lower()
    return next((g for g in GROUPS if g.lower() == wanted), None)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and number >= 0 else None


class RateLimitHeaders:
    """The transport's ``on_response`` hook: adapts a :class:`GroupedRateLimiter`
    to the ``X-Rate-Limit-*`` headers of every answer."""

    def __init__(
        self, limiter: GroupedRateLimiter, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limiter = limiter
        self.last: dict[str, tuple[int, int, float]] = {}
        """Per group, the last announced (limit, remaining, window)."""
        self._clock = clock
        self._answers: dict[str, deque[float]] = {}

    def _hold_seconds(self, group: str, limit: int, window: float, now: float) -> float:
        """How long to hold ``group`` after an answer with nothing remaining."""
        answers = self._answers.get(group, deque())
        if len(answers) >= limit:
            # The oldest request the server still counts is among our last
            # ``limit`` answers; it leaves the window by answers[-limit] + window.
            return min(window, answers[-limit] + window - now)
        return window

    def __call__(self, response: Response, rate_group: str | None) -> None:
        headers = response.headers
        announced = headers.get("X-Rate-Limit-Group")
        group = normalise_group(announced) if announced else rate_group
        if group is None:
            return
        limiter = self.limiter.get(group)
        if limiter is None:
            return
        limit = _number(headers.get("X-Rate-Limit-Limit"))
        window = _number(headers.get("X-Rate-Limit-Window"))
        remaining = _number(headers.get("X-Rate-Limit-Remaining"))
        if limit is not None and window is not None and limit >= 1 and window > 0:
            limiter.resize(int(limit), window)
        now = self._clock()
        answers = self._answers.setdefault(group, deque())
        answers.append(now)
        while answers and (now - answers[0] >= limiter.window or len(answers) > limiter.limit):
            answers.popleft()
        if remaining is not None:
            self.last[group] = (limiter.limit, int(remaining), limiter.window)
            # A 429 with Retry-After says exactly how long to wait; the
            # transport holds the group for that long instead.
            refused = response.status == 429 and "Retry-After" in headers
            if remaining < 1 and not refused:
                limiter.pause_for(self._hold_seconds(group, limiter.limit, limiter.window, now))
