"""De-duplication keeps memory flat: a walk ten times longer peaks no higher.

Each walk runs under ``tracemalloc``, its items dropped as they come, and
the peak of a long walk is compared with the peak of one ten times shorter.
A de-dup that remembered every id ever seen would grow tenfold; the bounded
window (the keys of the last two pages) does not grow at all.
"""

from __future__ import annotations

import json
import sys
import tracemalloc
from collections.abc import AsyncIterator, Callable, Hashable
from pathlib import Path

import anyio
import attrs
import pytest

import messaging_hub as mh
from messaging_hub.adapters.mongooseim.paging import walk_back
from messaging_hub.pagination import offset_pages, unique, walk_pages

pytestmark = pytest.mark.anyio

PAGE = 100
SHIFT = 7
"""Items of the previous page repeated at the start of every page (new items
arriving while we read shift an offset page): the de-dup has work to do."""

ROOT = Path(__file__).resolve().parents[2]
"""The project root: where ``python -m tests.hardening._paging_server`` runs."""

RATIO = 1.5
"""How much higher a ten times longer walk may peak (allocator noise)."""


def _item(n: int) -> str:
    return f"message-{n:09d}"


async def _pages(total: int) -> AsyncIterator[str]:
    """``total`` distinct items in pages, through walk_pages."""

    async def fetch(page: int) -> tuple[list[str], int | None]:
        start = page * PAGE
        first = max(0, start - SHIFT)
        items = [_item(n) for n in range(first, min(start + PAGE, total))]
        return items, (page + 1 if start + PAGE < total else None)

    async for item in walk_pages(fetch, first=0, key=str, provider="test", what="synthetic"):
        yield item


async def _offsets(total: int) -> AsyncIterator[str]:
    """``total`` distinct items through offset_pages (each page re-reads a few)."""

    async def fetch(offset: int, size: int) -> list[str]:
        first = max(0, offset - SHIFT)
        return [_item(n) for n in range(first, min(first + size, total))]

    async for item in offset_pages(fetch, page_size=PAGE, key=str, provider="test"):
        yield item


async def _unique(total: int) -> AsyncIterator[str]:
    """``total`` distinct items, each sent twice in a row, through unique()."""

    async def doubled() -> AsyncIterator[str]:
        for n in range(total):
            yield _item(n)
            yield _item(n)

    async for item in unique(doubled(), key=str):
        yield item


@attrs.frozen
class _Row:
    key: Hashable
    stamp: int


async def _archive(total: int) -> AsyncIterator[_Row]:
    """``total`` archive rows, three per stamp, walked back by ``before`` (MongooseIM)."""

    async def fetch(before: int | None) -> tuple[list[_Row], bool | None]:
        newest = total - 1 if before is None else min(before * 3 + 2, total - 1)
        first = max(0, newest - 49)
        rows = [_Row(f"row-{n}", n // 3) for n in range(first, newest + 1)]
        return rows, len(rows) == 50

    async for row in walk_back(fetch, slack=0):
        yield row


async def _peak(walk: Callable[[int], AsyncIterator[object]], total: int) -> tuple[int, int]:
    """How many items the walk yielded and the peak of memory it allocated meanwhile."""
    count = 0
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        with anyio.fail_after(300):
            async for _ in walk(total):
                count += 1
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return count, peak


@pytest.mark.parametrize(
    "walk",
    [_pages, _offsets, _unique, _archive],
    ids=["walk_pages", "offsets", "unique", "archive"],
)
async def test_a_ten_times_longer_walk_peaks_no_higher(
    walk: Callable[[int], AsyncIterator[object]],
) -> None:
    short, long = 20_000, 200_000
    count_short, peak_short = await _peak(walk, short)
    count_long, peak_long = await _peak(walk, long)
    assert (count_short, count_long) == (short, long)  # every item, once
    assert peak_long < RATIO * peak_short, (peak_short, peak_long)


async def _http_peak(provider: str, count: int) -> tuple[int, int]:
    """Walk the history of ``count`` messages from a fake in another process (see
    ``_paging_server``): this process's peak is then the client's alone."""
    command = [sys.executable, "-m", "tests.hardening._paging_server", provider, str(count)]
    async with await anyio.open_process(command, cwd=ROOT) as process:
        assert process.stdin is not None and process.stdout is not None
        try:
            with anyio.fail_after(120):
                line = b""
                async for chunk in process.stdout:
                    line += chunk
                    if b"\n" in line:
                        break
            announced = json.loads(line)
            async with mh.connect(announced["config"]) as client:

                async def history(_: int) -> AsyncIterator[mh.Message]:
                    async for message in client.history(announced["session"]):
                        yield message

                return await _peak(history, count)
        finally:
            await process.stdin.aclose()
            with anyio.fail_after(30):
                await process.wait()


@pytest.mark.parametrize(
    ("provider", "count"), [("netsapiens", 5_000), ("mongooseim-graphql", 3_000)]
)
async def test_history_over_http_peaks_no_higher_when_ten_times_longer(
    provider: str, count: int
) -> None:
    """A history walk over loopback HTTP against a fake: offset paging
    (NetSapiens) and paging by ``before`` (MongooseIM GraphQL)."""
    seen_short, peak_short = await _http_peak(provider, count // 10)
    seen_long, peak_long = await _http_peak(provider, count)
    assert (seen_short, seen_long) == (count // 10, count)
    assert peak_long < RATIO * peak_short, (peak_short, peak_long)
