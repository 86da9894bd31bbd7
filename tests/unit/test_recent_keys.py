"""The de-dup window lets through what the plain rule says, fast paths and all."""

from __future__ import annotations

from collections import Counter, deque

from hypothesis import given, settings
from hypothesis import strategies as st

from messaging_hub.pagination import RecentKeys


class Reference:
    """The rule, one key at a time: the keys let through on the last pages
    are held (at most ``pages`` times the longest page, oldest forgotten
    first); a key held ``n`` times skips its first ``n`` copies on a page
    when counted, every copy otherwise (and repeats within the page)."""

    def __init__(self, pages: int, counted: bool) -> None:
        self.pages, self.counted, self.capacity = pages, counted, 0
        self.order: deque[int] = deque()
        self.held: Counter[int] = Counter()

    def admit(self, page: list[int]) -> list[int]:
        self.capacity = max(self.capacity, self.pages * len(page))
        fresh: list[int] = []
        met: Counter[int] = Counter()
        for k in page:
            if self.counted:
                if met[k] < self.held[k]:
                    met[k] += 1
                    continue
            elif self.held[k] or k in fresh:
                continue
            fresh.append(k)
        for k in fresh:
            self.order.append(k)
            self.held[k] += 1
        while len(self.order) > self.capacity:
            self.held[self.order.popleft()] -= 1
        return fresh


PAGES = st.lists(st.lists(st.integers(0, 30), max_size=12), max_size=12)


@settings(max_examples=300, deadline=None)
@given(pages=PAGES, remembered=st.integers(1, 3), counted=st.booleans())
def test_admit_follows_the_rule(pages: list[list[int]], remembered: int, counted: bool) -> None:
    window: RecentKeys[int] = RecentKeys(remembered, counted=counted)
    reference = Reference(remembered, counted)
    for page in pages:
        assert window.admit(page, lambda k: k) == reference.admit(page)
        assert len(window) == len(reference.order)
        assert all((k in window) is (reference.held[k] > 0) for k in range(31))
