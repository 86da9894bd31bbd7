"""Walking an exception's chain, as a user's traceback or error reporter would."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["exception_chain"]


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception reachable by ``__cause__``/``__context__``, once each."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__]
