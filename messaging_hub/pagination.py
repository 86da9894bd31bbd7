"""Async iterators over paged endpoints, and the two guards every walk shares.

Adapters describe how to fetch one page; these helpers walk the pages,
cap the total at ``limit``, and never yield the same item twice even when
new items shift an offset-based page while we read.

Every walk ends. :class:`PageProgress` is the progress check: a walk whose
pages keep bringing nothing new (a server that ignores ``start``/``page``,
a total page count of a billion with empty pages, a next-page cursor that
goes back) ends with :class:`~messaging_hub.errors.PagingStalled` instead
of looping. It tolerates ``patience`` such pages in a row, because a burst
of new messages can legitimately shift a whole page of already-read items
into the next offset.

De-duplication keeps memory flat. :class:`RecentKeys` is the bounded
window: it remembers the keys of the items let through on the last
``pages`` pages (two by default), never every key ever seen, so a walk of
a million messages holds O(page) keys. Two pages are enough for offset and
page-number paging: messages that arrive while we read push at most the
tail of the previous page(s) into the next one. A page that brought
nothing new is not remembered, so it does not push older keys out.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterable,
    Sequence,
)
from itertools import repeat
from typing import Generic, TypeVar

from .errors import PagingStalled

__all__ = [
    "PageProgress",
    "RecentKeys",
    "check_page_echo",
    "offset_pages",
    "stalled",
    "take",
    "unique",
    "walk_pages",
]

T = TypeVar("T")

PAGES_REMEMBERED = 2
"""Pages whose keys the de-dup window holds by default."""

PATIENCE = 1
"""Pages in a row that may bring nothing new before a walk is declared stalled."""


class RecentKeys(Generic[T]):
    """The bounded de-dup window: keys let through on the last ``pages`` pages.

    The window holds at most ``pages`` times the longest page seen (and at
    least ``at_least`` keys); the oldest keys are forgotten first.

    ``counted=True`` treats keys as a multiset, for records that can look
    identical while being distinct messages (MongooseIM REST): a page skips
    as many copies of a key as the window holds, and lets the rest through.
    """

    def __init__(self, pages: int = PAGES_REMEMBERED, *, at_least: int = 0, counted: bool = False):
        self._pages = max(1, pages)
        self._capacity = max(0, at_least)
        self._counted = counted
        self._order: deque[Hashable] = deque()
        self._counts: Counter[Hashable] = Counter()

    def __len__(self) -> int:
        """How many keys (copies counted) the window holds now."""
        return len(self._order)

    def __contains__(self, key: object) -> bool:
        return key in self._counts

    @property
    def capacity(self) -> int:
        """The most keys the window holds (grows with the longest page)."""
        return self._capacity

    def admit(self, page: Iterable[T], key: Callable[[T], Hashable]) -> list[T]:
        """The items of ``page`` not let through lately, in page order; remembered now."""
        items = list(page)
        self._capacity = max(self._capacity, self._pages * len(items))
        if not self._counted:
            return self._admit_once(items, key)
        counts = self._counts
        keys = list(map(key, items))
        if len(set(keys)) == len(keys) and counts.keys().isdisjoint(keys):
            # The usual page, all new: remembered without a loop per item.
            self._order.extend(keys)
            dict.update(counts, dict.fromkeys(keys, 1))
            self._forget_oldest()
            return items
        fresh: list[T] = []
        taken: list[Hashable] = []
        on_page: dict[Hashable, int] = {}  # copies of each key met on this page
        held = counts.get
        for item, k in zip(items, keys, strict=True):
            # The copies already let through come first (the walk re-reads them).
            met = on_page.get(k, 0)
            if met < held(k, 0):
                on_page[k] = met + 1
                continue
            fresh.append(item)
            taken.append(k)
        self._order.extend(taken)
        for k in taken:
            counts[k] = held(k, 0) + 1
        self._forget_oldest()
        return fresh

    def _admit_once(self, items: list[T], key: Callable[[T], Hashable]) -> list[T]:
        """:meth:`admit` for keys that are never repeated (each counted once)."""
        counts = self._counts
        order = self._order
        keys = list(map(key, items))
        on_page: set[Hashable] = set(keys)
        if len(on_page) == len(keys) and on_page.isdisjoint(counts):
            # The usual page, all new: remembered without a loop per item.
            order.extend(keys)
            dict.update(counts, dict.fromkeys(keys, 1))
            self._forget_oldest()
            return items
        fresh: list[T] = []
        taken: list[Hashable] = []
        on_page = set()
        for item in items:
            k = key(item)
            if k in counts or k in on_page:
                continue  # seen lately, or a repeat within this page
            on_page.add(k)
            fresh.append(item)
            taken.append(k)
        order.extend(taken)
        for k in taken:
            counts[k] = 1  # new to the window: its count was 0
        self._forget_oldest()
        return fresh

    def _forget_oldest(self) -> None:
        """Drop the oldest keys beyond capacity."""
        order = self._order
        excess = len(order) - self._capacity
        if excess <= 0:
            return
        popleft = order.popleft
        old = [popleft() for _ in range(excess)]
        counts = self._counts
        if not self._counted:  # each key is in the window once
            deque(map(counts.pop, old, repeat(None)), maxlen=0)
            return
        for k in old:
            left = counts[k] - 1
            if left > 0:
                counts[k] = left
            else:
                del counts[k]


def stalled(provider: str | None, what: str, reason: str) -> PagingStalled:
    """The error that ends a walk of ``what`` that cannot make progress, saying why."""
    return PagingStalled(f"{what}: paging stalled: {reason}", provider=provider)


def check_page_echo(asked: int, answered: int | None, *, provider: str | None, what: str) -> None:
    """Raise :class:`PagingStalled` when an answer names another page than was asked for.

    A server that ignores the page parameter answers page 1 again; its
    items are repeats and the pages it skipped would be lost without a word.
    """
    if answered is not None and answered != asked:
        raise stalled(provider, what, f"asked for page {asked}, the answer is page {answered}")


class PageProgress:
    """The progress check: ends a walk whose pages stop bringing anything new.

    Call :meth:`check` once per page that the provider says is followed by
    more; it raises :class:`PagingStalled` on the ``patience + 1``-th page in
    a row that brought nothing new. :meth:`advance` raises when the next
    cursor does not lie after the current one (a link back to a page read).
    """

    def __init__(self, *, provider: str | None, what: str, patience: int = PATIENCE) -> None:
        self.provider = provider
        self.what = what
        self.patience = max(0, patience)
        self._idle = 0

    def stalled(self, reason: str) -> PagingStalled:
        """The error that ends this walk, saying why."""
        return stalled(self.provider, self.what, reason)

    def check(self, new: int) -> None:
        """Count one page, followed by more, that brought ``new`` unseen items."""
        if new > 0:
            self._idle = 0
            return
        self._idle += 1
        if self._idle > self.patience:
            raise self.stalled(
                f"{self._idle} pages in a row brought nothing new while the provider "
                "said more pages follow"
            )

    def advance(self, current: int, following: int) -> None:
        """Check that the next page's cursor lies after ``current``."""
        if following <= current:
            raise self.stalled(
                f"the page after {current} is announced as {following}, a page already read"
            )


async def walk_pages(
    fetch: Callable[[int], Awaitable[tuple[Sequence[T], int | None]]],
    *,
    first: int,
    key: Callable[[T], Hashable],
    provider: str | None,
    what: str,
    pages: int = PAGES_REMEMBERED,
    patience: int = PATIENCE,
) -> AsyncGenerator[T, None]:
    """Walk pages from the cursor ``first`` and yield each item once.

    ``fetch(cursor)`` returns one page and the cursor of the page after it
    (an offset or a page number), or ``None`` when the provider says that
    page was the last. Repeats within the de-dup window are dropped; a walk
    that stops making progress raises :class:`PagingStalled` after yielding
    what it got.
    """
    recent: RecentKeys[T] = RecentKeys(pages)
    progress = PageProgress(provider=provider, what=what, patience=patience)
    cursor = first
    while True:
        items, following = await fetch(cursor)
        fresh = recent.admit(items, key)
        for item in fresh:
            yield item
        if following is None:
            return
        progress.advance(cursor, following)
        progress.check(len(fresh))
        cursor = following


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


async def unique(
    source: AsyncIterator[T], key: Callable[[T], Hashable], *, window: int = 1000
) -> AsyncIterator[T]:
    """Drop items whose ``key`` is among the last ``window`` keys let through.

    Memory stays bounded by ``window``; paged walks get the same guarantee
    per page (and a progress check) from :func:`walk_pages`.
    """
    recent: RecentKeys[T] = RecentKeys(1, at_least=window)
    async for item in source:
        if recent.admit((item,), key):
            yield item


def offset_pages(
    fetch: Callable[[int, int], Awaitable[Sequence[T]]],
    *,
    page_size: int,
    key: Callable[[T], Hashable],
    limit: int | None = None,
    provider: str | None = None,
    what: str = "listing",
) -> AsyncGenerator[T, None]:
    """Walk ``fetch(offset, size)`` pages until a short page, each item once.

    ``limit`` only sizes the requests (the last page asks for no more than
    is still wanted); stopping at ``limit`` is the consumer's job (see
    :func:`take`), so repeats dropped here (new items shifted an offset
    while we read) are made up by reading on. A server that ignores the
    offset ends the walk with :class:`PagingStalled`. (The walk itself is
    handed out: no generator in between per item.)
    """
    remaining = limit

    async def page(offset: int) -> tuple[Sequence[T], int | None]:
        nonlocal remaining
        size = page_size if remaining is None or remaining <= 0 else min(page_size, remaining)
        items = await fetch(offset, size)
        if remaining is not None:
            remaining -= len(items)
        # A bare array says nothing else: a page shorter than asked is the last.
        return items, (offset + len(items) if items and len(items) >= size else None)

    return walk_pages(page, first=0, key=key, provider=provider, what=what)
