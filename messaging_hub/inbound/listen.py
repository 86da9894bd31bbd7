"""``listen()``: inbound messages as they arrive, push where the provider offers it.

One loop for every provider (see :mod:`.source` for what adapters supply):

* push sources: subscribe, catch up from the last point seen (history or
  the provider's sync), then read the pushed stream; when it drops,
  reconnect with backoff and catch up again, so nothing is lost;
* polling sources: catch up every ``poll_interval`` seconds.

Each message is yielded once (a bounded memory of recent ids drops what a
catch-up and the stream both deliver) and in arrival order. Errors that a
retry cannot fix (refused credentials, missing permission, configuration)
end the listener; outages, rate limits and unreadable answers are retried
with exponential backoff for as long as the caller keeps listening.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Collection
from datetime import datetime
from typing import Any

import anyio

from ..adapter import Adapter
from ..errors import InvalidRequest, MalformedResponse, ProviderUnavailable, RateLimited
from ..models import Direction, Message, MessageKind
from .claims import claimed
from .seen import BoundedSeen
from .source import Delivery

__all__ = ["listen"]

log = logging.getLogger("messaging_hub.inbound")

# Failures worth waiting out; anything else ends the listener.
_TRANSIENT = (ProviderUnavailable, RateLimited, MalformedResponse)


async def listen(
    client: Adapter[Any],
    *,
    kinds: Collection[MessageKind] | None = None,
    since: datetime | None = None,
    inbound_only: bool = True,
    max_backoff: float = 30.0,
    memory: int = 10_000,
    claim_ttl: float = 30.0,
    handled_ttl: float = 6 * 3600.0,
    **source_options: Any,
) -> AsyncGenerator[Message, None]:
    """Yield messages as they arrive, each once, in arrival order.

    ``since`` (an aware datetime) first replays what arrived after it;
    without it, only messages arriving from now on are yielded. ``kinds``
    keeps only those message kinds; ``inbound_only`` (the default) skips the
    account's own messages. ``source_options`` go to the provider's source
    (e.g. ``poll_interval`` for providers without push). ``client.capabilities``
    says whether the provider pushes (``Capability.PUSH``) or is polled.

    With a shared ``state`` (``RedisState``), replicas listening to one
    account split the messages: each is yielded by one replica only (see
    :mod:`messaging_hub.inbound.claims` for ``claim_ttl``/``handled_ttl``).
    """
    check_claim_options(claim_ttl, handled_ttl)
    async with contextlib.aclosing(
        _listen(
            client,
            kinds=kinds,
            since=since,
            inbound_only=inbound_only,
            max_backoff=max_backoff,
            memory=memory,
            **source_options,
        )
    ) as messages:
        async for message in exactly_once(
            client, messages, claim_ttl=claim_ttl, handled_ttl=handled_ttl, memory=memory
        ):
            yield message


def check_claim_options(claim_ttl: float, handled_ttl: float) -> None:
    """InvalidRequest unless both times are positive and ``handled_ttl`` the longer."""
    if not claim_ttl > 0 or not handled_ttl >= claim_ttl:
        raise InvalidRequest("claim_ttl must be > 0 and handled_ttl >= claim_ttl")


async def exactly_once(
    client: Adapter[Any],
    messages: AsyncIterator[Message],
    *,
    claim_ttl: float,
    handled_ttl: float,
    memory: int,
) -> AsyncGenerator[Message, None]:
    """``messages`` as they are, or split between replicas when the client's
    state is shared."""
    if not client.state.shared:
        async for message in messages:
            yield message
        return
    async with contextlib.aclosing(
        claimed(client, messages, claim_ttl=claim_ttl, handled_ttl=handled_ttl, memory=memory)
    ) as mine:
        async for message in mine:
            yield message


async def _listen(
    client: Adapter[Any],
    *,
    kinds: Collection[MessageKind] | None = None,
    since: datetime | None = None,
    inbound_only: bool = True,
    max_backoff: float = 30.0,
    memory: int = 10_000,
    **source_options: Any,
) -> AsyncGenerator[Message, None]:
    """:func:`listen` within one process."""
    if since is not None and (not isinstance(since, datetime) or since.tzinfo is None):
        raise InvalidRequest("since must be an aware datetime", field="since")
    if max_backoff <= 0 or memory < 1:
        raise InvalidRequest("max_backoff must be > 0 and memory >= 1")
    wanted = frozenset(kinds) if kinds is not None else None
    source = client.inbound_source(**source_options)
    seen = BoundedSeen(memory)

    def fresh(delivery: Delivery) -> Message | None:
        message = delivery.message
        if message is None:
            return None
        if not seen.add((message.session_id, message.id)):
            return None
        if inbound_only and message.direction is Direction.OUTBOUND:
            return None
        if wanted is not None and message.kind not in wanted:
            return None
        return message

    failures = 0
    try:
        cursor = await _with_retries(lambda: source.start(since), client.provider, max_backoff)
        while True:
            try:
                if source.push:
                    stream = source.stream(cursor)
                    try:
                        # The first item says the subscription is live: catching up
                        # now misses nothing (pushed messages wait in the socket).
                        first = await anext(stream)
                        cursor = first.cursor if first.cursor is not None else cursor
                        async for delivery in source.catch_up(cursor):
                            cursor = delivery.cursor
                            if (message := fresh(delivery)) is not None:
                                yield message
                        async for delivery in stream:
                            failures = 0  # the connection works
                            if delivery.cursor is not None:
                                cursor = delivery.cursor
                            if (message := fresh(delivery)) is not None:
                                yield message
                    finally:
                        closing = getattr(stream, "aclose", None)
                        if closing is not None:
                            await closing()
                    # A server that keeps hanging up is backed off like any failure.
                    raise ProviderUnavailable(
                        "the push connection was closed", provider=client.provider
                    )
                else:
                    async for delivery in source.catch_up(cursor):
                        cursor = delivery.cursor
                        if (message := fresh(delivery)) is not None:
                            yield message
                    failures = 0
                    await anyio.sleep(source.poll_interval)
            except _TRANSIENT as exc:
                failures += 1
                delay = _delay(failures, max_backoff, getattr(exc, "retry_after", None))
                log.warning(
                    "%s: inbound connection failed (%s); retrying in %.1f s",
                    client.provider,
                    exc,
                    delay,
                    extra={"event": "listen_retry", "provider": client.provider, "delay": delay},
                )
                await anyio.sleep(delay)
    finally:
        with anyio.CancelScope(shield=True):
            await source.aclose()


def _delay(failures: int, ceiling: float, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(max(retry_after, 0.0), ceiling)
    # Full jitter: many bots reconnecting after one outage do not stampede.
    return random.uniform(0, min(ceiling, 0.5 * 2 ** (failures - 1)))  # noqa: S311


async def _with_retries(call: Any, provider: str, ceiling: float) -> Any:
    failures = 0
    while True:
        try:
            return await call()
        except _TRANSIENT as exc:
            failures += 1
            delay = _delay(failures, ceiling, getattr(exc, "retry_after", None))
            log.warning("%s: starting to listen failed (%s); retrying", provider, exc)
            await anyio.sleep(delay)
