"""What an adapter offers :func:`~messaging_hub.inbound.listen`: an inbound source.

The reliability loop (reconnect with backoff, catch-up after a gap, each
message once, in arrival order) lives in :mod:`.listen`, once for every
provider. An adapter only says how to *read* its provider:

* :meth:`InboundSource.start` fixes the point the listener starts from
  (``since``, or "now") as an opaque cursor;
* :meth:`InboundSource.catch_up` yields what arrived after a cursor, by
  history, message-sync or an inbound-messages listing;
* :meth:`InboundSource.stream` (push sources only) subscribes and yields
  messages as the provider pushes them, raising
  :class:`~messaging_hub.errors.ProviderUnavailable` when the connection
  drops (the loop then reconnects and catches up).

Each item is a :class:`Delivery`: the message and the cursor just after it,
so the loop can resume from the last message it handed to the user.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import attrs

from ..models import Message

__all__ = ["Delivery", "InboundSource"]


@attrs.frozen
class Delivery:
    """A message read from a source, and the cursor to resume after it.

    ``message`` is ``None`` for a cursor-only update (a sync token moved on
    without a message for this listener, a keep-alive).
    """

    message: Message | None
    cursor: Any


class InboundSource(ABC):
    """How one provider delivers inbound messages; see the module docstring."""

    push: bool = False
    """Whether :meth:`stream` delivers without polling."""
    poll_interval: float = 5.0
    """Seconds between :meth:`catch_up` calls for a source that does not push."""

    @abstractmethod
    async def start(self, since: datetime | None) -> Any:
        """The cursor of the starting point: ``since`` (an aware datetime) or now."""

    @abstractmethod
    def catch_up(self, cursor: Any) -> AsyncIterator[Delivery]:
        """Messages that arrived after ``cursor``, oldest first, ending when up to date."""

    def stream(self, cursor: Any) -> AsyncIterator[Delivery]:
        """Subscribe and yield pushed messages until the connection drops.

        Only push sources implement it. Its first item must be a
        cursor-only :class:`Delivery`, yielded as soon as the subscription
        is live: the loop then catches up (history, sync) while pushed
        messages wait in the connection's buffer, so nothing arriving in
        between is lost; the loop drops what both deliver.
        """
        raise NotImplementedError

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release what the source holds (a subscription, a socket)."""
