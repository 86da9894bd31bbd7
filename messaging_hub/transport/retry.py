"""When to retry a failed request, and how long to wait first.

Split as slack_sdk does: the policy (:class:`RetryPolicy`) decides from the
failure, the interval calculator gives exponential backoff with full jitter,
and a server's ``Retry-After`` overrides it up to a ceiling.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import attrs

__all__ = ["RetryPolicy", "parse_retry_after"]


@attrs.frozen
class RetryPolicy:
    """How many times to try a request and how to space the tries.

    ``max_attempts`` counts the first try. ``retry_after_ceiling`` caps how
    long a server's ``Retry-After`` may make us sleep: a longer demand is
    raised as :class:`~messaging_hub.errors.RateLimited` at once rather than
    stalling the caller.
    """

    max_attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    base_delay: float = attrs.field(default=0.25, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=8.0, validator=attrs.validators.ge(0))
    retry_after_ceiling: float = attrs.field(default=60.0, validator=attrs.validators.ge(0))
    retry_statuses: frozenset[int] = frozenset({500, 502, 503, 504})

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full-jitter delay before retry number ``attempt`` (1-based)."""
        cap = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return (rng or random).uniform(0, cap)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """The wait before the next try; ``Retry-After`` wins when given."""
        if retry_after is not None:
            return max(0.0, retry_after)
        return self.backoff(attempt)

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that tries once."""
        return cls(max_attempts=1)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)
