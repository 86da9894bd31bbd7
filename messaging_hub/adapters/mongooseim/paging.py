"""Walking a MongooseIM archive backwards, each message once.

Every API answers "the last ``limit`` messages stamped at or before
``before``" (inclusive), oldest first, with ``limit`` capped by the
server (``max_result_limit``, 50 by default). The walk asks again with
``before`` set to the oldest stamp of the page plus ``slack`` (one unit on
REST, whose stamps are rounded: the real time of a message shown as ``t``
may lie after ``t``), so the boundary messages come back and are dropped by
their key. Unseen messages are always older than every message already
yielded, so the output stays newest first.

Keys are counted, not just remembered: on REST a key is what the record
shows (stanza id, stamp, sender, body), and two distinct messages can show
the same (a client that sets no stanza id saying "ok" twice in one
second). A page re-reads every already-yielded copy of a key before any
unseen one (they are newer), so the walk skips as many copies as it has
yielded lately and yields the rest. Only the keys yielded on the last two
pages are kept (the shared bounded window of
:class:`messaging_hub.pagination.RecentKeys`): a re-read reaches back
one page, to the boundary, never further, so memory stays O(page).

A row stamped after the ``before`` that was asked for cannot be new (the
walk has read everything newer): it is dropped. A page that brings nothing
new because of such rows means the server does not honour ``before``; the
walk ends with ``PagingStalled`` instead of asking again forever.

A page shorter than asked for ends the walk on GraphQL, which answers the
``limit`` it applied. REST does not, and mod_mam may be configured with a
``max_result_limit`` below the page size: there a short page ends the walk
only when it brings nothing new or is shorter than a page the server has
already answered (one extra read when the whole history fits in a page).

When a whole page is already-seen messages, asking with the same
``before`` would return the same page forever: the walk then steps
``before`` back by one unit and logs a warning; a second such page in a
row ends the walk with ``PagingStalled`` (the shared progress check).
Messages older than that page but stamped within the skipped unit are not
reachable through
``before`` at all; this happens only when more than a page of messages
share one timestamp unit (a second on admin REST, a millisecond on client
REST, a microsecond on GraphQL). No documented parameter avoids it: every
API pages by ``before`` alone, none by archive id. On GraphQL it cannot
happen in practice: a MAM id is ``(microseconds << 8) + node`` and
``mongoose_mam_id:next_unique`` gives each message archived on a node its
own microsecond, so a microsecond is shared by at most one message per
cluster node (the ``stanza_id`` is that MAM id, so it is the exact key).
The one remaining ambiguity: after such a step back, identical-looking REST
records may be taken for ones already yielded.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from typing import Protocol, TypeVar

from ...pagination import PageProgress, RecentKeys

__all__ = ["ArchiveRow", "walk_back"]

log = logging.getLogger("messaging_hub.adapters.mongooseim")

PROVIDER = "mongooseim"


class ArchiveRow(Protocol):
    """What the walk needs from a row: a dedupe key and a stamp in API units."""

    @property
    def key(self) -> Hashable: ...

    @property
    def stamp(self) -> int: ...


RowT = TypeVar("RowT", bound=ArchiveRow)


def _key(row: ArchiveRow) -> Hashable:
    return row.key


async def walk_back(
    fetch: Callable[[int | None], Awaitable[tuple[Sequence[RowT], bool | None]]],
    *,
    slack: int,
    what: str = "archive",
) -> AsyncIterator[RowT]:
    """Yield every row of the archive newest first, each once (see the module docstring).

    ``fetch(before)`` returns the rows stamped at or before ``before``
    (oldest first) and whether more may follow: True (a full page), False
    (that was all) or None (a short page the server's cap may have cut).
    """
    recent: RecentKeys[RowT] = RecentKeys(counted=True)
    progress = PageProgress(provider=PROVIDER, what=what)
    before: int | None = None
    longest = 0  # the longest page the server has answered: its cap is at least that
    while True:
        page, more = await fetch(before)
        limit = before
        rows = list(page) if limit is None else [row for row in page if row.stamp <= limit]
        newer = len(page) - len(rows)
        # Newest first: the copies already yielded come first.
        fresh = recent.admit(reversed(rows), _key)
        for row in fresh:
            yield row
        if newer:
            if not fresh:
                raise progress.stalled(
                    f"the server answered {newer} message(s) stamped after before={limit} "
                    "and nothing older: it does not honour before"
                )
            log.warning(
                "MongooseIM: %d message(s) stamped after before=%s were answered and dropped",
                newer,
                limit,
            )
        if not page or more is False:
            return
        if more is None and (not fresh or len(page) < longest):
            return  # short, and nothing new or shorter than the server can answer: the end
        progress.check(len(fresh))
        longest = max(longest, len(page))
        following = min(row.stamp for row in rows) + slack
        if before is not None and (not fresh or following >= before):
            # Asking with the same ``before`` would return this page again.
            log.warning(
                "MongooseIM: a whole page of messages shares the timestamp unit %d; "
                "older ones stamped the same may be skipped (before is inclusive)",
                before,
            )
            following = before - 1
        before = following
