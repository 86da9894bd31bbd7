"""Async iterators over paged endpoints.

Adapters describe how to fetch one page; these helpers walk the pages,
cap the total at ``limit``, and never yield the same item twice even when
new items shift an offset-based page while we read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from typing import TypeVar

__all__ = ["offset_pages", "take", "unique"]

T = TypeVar("T")


async def take(source: AsyncIterator[T], limit: int | None) -> AsyncIterator[T]:
    """Yield at most ``limit`` items of ``source`` (all when ``None``), then close it."""
    count = 0
    try:
        if limit is not None and limit <= 0:
            return
        async for item in source:
            yield item
            count += 1
            if limit is not None and count >= limit:
                return
    finally:
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()


async def unique(source: AsyncIterator[T], key: Callable[[T], Hashable]) -> AsyncIterator[T]:
    """Drop items whose ``key`` was already seen."""
    seen: set[Hashable] = set()
    async for item in source:
        k = key(item)
        if k in seen:
            continue
        seen.add(k)
        yield item


async def offset_pages(
    fetch: Callable[[int, int], Awaitable[Sequence[T]]],
    *,
    page_size: int,
    limit: int | None = None,
) -> AsyncIterator[T]:
    """Walk ``fetch(offset, size)`` pages until a short page.

    ``limit`` only sizes the requests (the last page asks for no more than
    is still wanted); stopping at ``limit`` is the consumer's job (see
    :func:`take`), so items dropped downstream as duplicates are made up by
    reading on.
    """
    offset = 0
    remaining = limit
    while True:
        size = page_size if remaining is None or remaining <= 0 else min(page_size, remaining)
        page = await fetch(offset, size)
        for item in page:
            yield item
        if remaining is not None:
            remaining -= len(page)
        if len(page) < size:
            return
        offset += len(page)
