"""Paging helpers: limits, duplicates made up, early close."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from messaging_hub.pagination import offset_pages, take

pytestmark = pytest.mark.anyio


async def test_duplicates_dropped_downstream_are_made_up() -> None:
    # Item 4 appears twice (a new item shifted the offset between pages).
    data = list(range(10))
    pages = {0: data[0:5], 5: [4, 5, 6, 7, 8], 10: [9]}
    asked: list[tuple[int, int]] = []

    async def fetch(offset: int, size: int) -> list[int]:
        asked.append((offset, size))
        return pages.get(offset, [])[:size]

    got = [i async for i in take(offset_pages(fetch, page_size=5, limit=10, key=int), 10)]
    assert got == data
    assert asked[0] == (0, 5)


async def test_take_closes_its_source_early() -> None:
    closed = False

    async def numbers() -> AsyncIterator[int]:
        nonlocal closed
        try:
            for i in range(100):
                yield i
        finally:
            closed = True

    assert [i async for i in take(numbers(), 3)] == [0, 1, 2]
    assert closed
