"""Polling for new messages, for bots on providers without push delivery.

:func:`watch` works on any client with ``sessions`` and ``history``: it
remembers what it has seen, fetches history only for conversations whose
last activity changed, and yields each new message once, oldest first.
Messages that existed when watching started are not yielded. An adapter
that polls its own inbound listing (TextMagic's replies: its history holds
outbound messages only) is watched through that listing instead.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from typing import Any

import anyio

from ..adapter import Adapter, Capability
from ..errors import InvalidRequest, UnsupportedOperation
from ..models import Direction, Message
from .listen import _listen, check_claim_options, exactly_once
from .source import Delivery, InboundSource

__all__ = ["HistoryPollingSource", "watch"]


class _Seen:
    """A bounded set of message keys (oldest forgotten first)."""

    def __init__(self, capacity: int) -> None:
        self._keys: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._capacity = capacity

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._keys

    def add(self, key: tuple[str, str]) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self._capacity:
            self._keys.popitem(last=False)


async def watch(
    client: Adapter[Any],
    *,
    session: str | None = None,
    interval: float = 5.0,
    inbound_only: bool = True,
    lookback: int = 50,
    memory: int = 10_000,
    claim_ttl: float = 30.0,
    handled_ttl: float = 6 * 3600.0,
) -> AsyncGenerator[Message, None]:
    """Yield messages that arrive from now on, oldest first, each once.

    ``session`` limits the watch to one conversation; otherwise the
    ``lookback`` most recent conversations are checked every ``interval``
    seconds. ``inbound_only`` skips the account's own messages. An adapter
    with its own polled inbound listing is polled there every ``interval``
    seconds (outages retried as by ``listen()``); ``session`` then keeps the
    messages whose ``session_id`` it is. With a shared ``state``, replicas
    split the messages as with ``listen()`` (``claim_ttl``, ``handled_ttl``).
    """
    check_claim_options(claim_ttl, handled_ttl)
    async with contextlib.aclosing(
        _watch(
            client,
            session=session,
            interval=interval,
            inbound_only=inbound_only,
            lookback=lookback,
            memory=memory,
        )
    ) as messages:
        async for message in exactly_once(
            client, messages, claim_ttl=claim_ttl, handled_ttl=handled_ttl, memory=memory
        ):
            yield message


async def _watch(
    client: Adapter[Any],
    *,
    session: str | None,
    interval: float,
    inbound_only: bool,
    lookback: int,
    memory: int,
) -> AsyncGenerator[Message, None]:
    """:func:`watch` within one process."""
    if interval <= 0 or lookback < 1 or memory < lookback:
        raise InvalidRequest("interval must be > 0, lookback >= 1 and memory >= lookback")
    if _polls_own_source(client):
        # Its history would never show an inbound message: read its listing.
        async for message in _listen(
            client, inbound_only=inbound_only, memory=memory, poll_interval=interval
        ):
            if session is None or message.session_id == session:
                yield message
        return
    if Capability.HISTORY not in client.capabilities or (
        session is None and Capability.SESSIONS not in client.capabilities
    ):
        raise UnsupportedOperation("watching for messages", provider=client.provider)
    seen = _Seen(memory)
    activity: dict[str, datetime | None] = {}
    # Providers stamp activity to the second: a conversation stamped at the
    # newest time already seen may have had more messages since.
    high_water: datetime | None = None
    first = True
    while True:
        if session is not None:
            changed = [session]
        else:
            changed = []
            newest = high_water
            async for item in client.sessions(limit=lookback):
                stamp = item.last_activity
                if (
                    item.id not in activity
                    or stamp is None
                    or stamp != activity[item.id]
                    or (high_water is not None and stamp >= high_water)
                ):
                    changed.append(item.id)
                activity[item.id] = stamp
                if stamp is not None and (newest is None or stamp > newest):
                    newest = stamp
            high_water = newest
        fresh: list[Message] = []
        for session_id in changed:
            batch: list[Message] = []
            async for message in client.history(session_id, limit=lookback):
                key = (message.session_id or session_id, message.id)
                if key in seen:
                    break  # newest first: everything older was seen already
                seen.add(key)
                batch.append(message)
            fresh.extend(reversed(batch))  # oldest first, as they arrived
        if not first:
            # Stable: messages stamped in the same second keep arrival order.
            fresh.sort(key=lambda m: m.created_at)
            for message in fresh:
                if not inbound_only or message.direction is not Direction.OUTBOUND:
                    yield message
        first = False
        await anyio.sleep(interval)


class HistoryPollingSource(InboundSource):
    """The fallback for providers without push: re-read recent conversations.

    Every ``poll_interval`` seconds it lists the ``lookback`` most recent
    conversations and reads the history of those active since the cursor
    (the newest message time seen). Providers stamp times to the second, so
    a message at exactly the cursor is read again and dropped by the
    listener's memory of recent ids.
    """

    push = False

    def __init__(
        self, client: Adapter[Any], *, poll_interval: float = 5.0, lookback: int = 50
    ) -> None:
        if poll_interval <= 0 or lookback < 1:
            raise InvalidRequest("poll_interval must be > 0 and lookback >= 1")
        if not {Capability.SESSIONS, Capability.HISTORY} <= _flags(client.capabilities):
            raise UnsupportedOperation("listening for messages", provider=client.provider)
        self.client = client
        self.poll_interval = poll_interval
        self.lookback = lookback
        self._skip: set[tuple[str, str]] = set()

    async def start(self, since: datetime | None) -> datetime:
        if since is not None:
            return since
        # "From now" in the provider's own clock: what exists now is skipped.
        existing = await self._scan(None)
        self._skip = {(m.session_id, m.id) for m in existing}
        if existing:
            return existing[-1].created_at
        # Nothing exists yet, so everything that appears is new. Not "now" in
        # our clock: the provider's second-resolution stamps (or a clock
        # behind ours) would date the first messages before it.
        return datetime.min.replace(tzinfo=UTC)

    async def catch_up(self, cursor: datetime) -> AsyncIterator[Delivery]:
        for message in await self._scan(cursor):
            if (message.session_id, message.id) in self._skip:
                continue
            cursor = max(cursor, message.created_at)
            yield Delivery(message, cursor)

    async def _scan(self, cursor: datetime | None) -> list[Message]:
        found: list[Message] = []
        async for session in self.client.sessions(limit=self.lookback):
            stamp = session.last_activity
            if cursor is not None and stamp is not None and stamp < cursor:
                continue
            batch: list[Message] = []
            async for message in self.client.history(session.id, limit=self.lookback):
                if cursor is not None and message.created_at < cursor:
                    break  # newest first: the rest is older still
                batch.append(message)
            found.extend(reversed(batch))  # oldest first, as they arrived
        # Stable: messages stamped in the same second keep arrival order.
        found.sort(key=lambda m: m.created_at)
        return found


def _polls_own_source(client: Adapter[Any]) -> bool:
    """Whether inbound messages live outside ``client``'s history (TextMagic's
    replies), so only its own inbound listing shows them."""
    return client.inbound_outside_history


def _flags(capabilities: Capability) -> set[Capability]:
    return {flag for flag in Capability if flag in capabilities}
