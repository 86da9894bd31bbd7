"""Each inbound message to one bot replica, when replicas share a state.

Every replica listens to the whole account (each has its own subscription
or polls); before yielding a message, a replica claims it in the shared
state. The claim expires after ``claim_ttl`` seconds unless the replica is
still handling the message (a keep-alive extends it), so a replica that
dies mid-handling gives the message up to the others, which re-check the
messages they saw claimed once their claim could have lapsed. A message
counts as handled when the loop asks for the next one (or leaves the
loop); that is remembered for ``handled_ttl`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import anyio

from ..adapter import Adapter
from ..errors import StateUnavailable
from ..models import Message
from ..state.base import ClaimOutcome, ClaimStore

__all__ = ["claimed"]

log = logging.getLogger("messaging_hub.inbound")

_END = object()
_MAX_STATE_BACKOFF = 10.0


async def claimed(
    client: Adapter[Any],
    messages: AsyncIterator[Message],
    *,
    claim_ttl: float,
    handled_ttl: float,
    memory: int,
) -> AsyncGenerator[Message, None]:
    """``messages`` less those another replica claimed; see the module docstring."""
    store = client.state.claims
    owner = uuid.uuid4().hex
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=1)

    async def pump() -> None:
        # Read on in a task of its own, so that the messages other replicas
        # claimed are re-checked on time even while the stream is silent.
        try:
            async for message in messages:
                await queue.put(message)
        except Exception as exc:  # handed to the consumer, raised there
            await queue.put(exc)
        else:
            await queue.put(_END)

    reader = asyncio.create_task(pump())
    # Messages other replicas hold: key -> (message, when to ask again).
    others: OrderedDict[str, tuple[Message, float]] = OrderedDict()
    try:
        while True:
            timeout = None
            if others:
                timeout = max(0.0, min(t for _, t in others.values()) - time.monotonic())
            try:
                item = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                item = None
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            now = time.monotonic()
            batch = [(key, m) for key, (m, at) in others.items() if at <= now]
            for key, _ in batch:
                del others[key]
            if isinstance(item, Message):
                batch.append((_key(client, item), item))
            for key, message in batch:
                outcome = await _claim(store, key, owner, claim_ttl, client.provider)
                if outcome is ClaimOutcome.TAKEN:
                    others[key] = (message, time.monotonic() + claim_ttl / 2)
                    while len(others) > memory:
                        others.popitem(last=False)
                elif outcome is ClaimOutcome.MINE:
                    keeper = asyncio.create_task(_keep_alive(store, key, owner, claim_ttl))
                    try:
                        yield message
                    finally:
                        keeper.cancel()
                        with anyio.CancelScope(shield=True):
                            with contextlib.suppress(asyncio.CancelledError):
                                await keeper
                            await _finish(store, key, handled_ttl, client.provider)
    finally:
        reader.cancel()
        with anyio.CancelScope(shield=True), contextlib.suppress(asyncio.CancelledError):
            await reader


def _key(client: Adapter[Any], message: Message) -> str:
    return f"{client.account_key}:{message.session_id}:{message.id}"


async def _claim(
    store: ClaimStore, key: str, owner: str, ttl: float, provider: str
) -> ClaimOutcome:
    """Claim ``key``; while the state is down, wait (never yield unclaimed)."""
    delay = 0.25
    while True:
        try:
            return await store.claim(key, owner, ttl=ttl)
        except StateUnavailable as exc:
            log.warning(
                "%s: claiming an inbound message failed (%s); retrying in %.1f s",
                provider,
                exc.message,
                delay,
                extra={"event": "claim_retry", "provider": provider, "delay": delay},
            )
            await anyio.sleep(delay)
            delay = min(delay * 2, _MAX_STATE_BACKOFF)


async def _keep_alive(store: ClaimStore, key: str, owner: str, ttl: float) -> None:
    while True:
        await anyio.sleep(ttl / 3)
        with contextlib.suppress(StateUnavailable):
            if not await store.extend(key, owner, ttl=ttl):
                log.warning("the claim on an inbound message lapsed while it was handled")
                return


async def _finish(store: ClaimStore, key: str, ttl: float, provider: str) -> None:
    try:
        await store.finish(key, ttl=ttl)
    except StateUnavailable as exc:
        # The claim lapses by itself: another replica may handle it again.
        log.warning(
            "%s: recording a handled inbound message failed (%s)",
            provider,
            exc.message,
            extra={"event": "claim_unrecorded", "provider": provider},
        )
