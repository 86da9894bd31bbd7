"""A bounded memory of message keys: each message once, without growing forever."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["BoundedSeen"]


class BoundedSeen:
    """The ``capacity`` most recent keys; the oldest are forgotten first.

    A listener runs for days: remembering every message id would grow
    without bound, while duplicates (a redelivered webhook, a catch-up that
    overlaps the stream) only ever come back soon.
    """

    def __init__(self, capacity: int) -> None:
        self._keys: OrderedDict[Hashable, None] = OrderedDict()
        self.capacity = capacity

    def __contains__(self, key: Hashable) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: Hashable) -> bool:
        """Remember ``key``; returns False when it was already known."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self._keys[key] = None
        if len(self._keys) > self.capacity:
            self._keys.popitem(last=False)
        return True

    def discard(self, key: Hashable) -> None:
        """Forget ``key`` (a delivery that must be accepted again)."""
        self._keys.pop(key, None)
