"""TextMagic paging: limit stays within 1..100 on the wire, totals are honoured."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import messaging_hub as mh
from messaging_hub.adapters.textmagic import TextMagicAdapter
from messaging_hub.testing.textmagic import FakeTextMagic

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fake() -> AsyncIterator[FakeTextMagic]:
    """A running fake without its 429 limit (paging tests issue bursts)."""
    async with FakeTextMagic(rate_limit_per_second=None) as server:
        yield server


def _limits(fake: FakeTextMagic) -> list[int]:
    return [int(r.query["limit"]) for r in fake.requests if "limit" in r.query]


async def test_sessions_limit_500_yields_500_with_pages_of_at_most_100(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    fake.seed_sessions(530)
    sessions = [s async for s in client.sessions(limit=500)]
    assert len(sessions) == 500
    assert len({s.id for s in sessions}) == 500
    limits = _limits(fake)
    assert limits and all(1 <= n <= 100 for n in limits)
    assert len(fake.requests_to("GET", r"^/api/v2/sessions$")) == 5


async def test_sessions_newest_first_and_all_when_no_limit(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    seeded = fake.seed_sessions(205)
    sessions = [s async for s in client.sessions()]
    assert [s.id for s in sessions] == [str(s.id) for s in reversed(seeded)]
    assert all(1 <= n <= 100 for n in _limits(fake))


async def test_history_limit_500_yields_500_each_once(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    session = fake.seed_session(640)
    messages = [m async for m in client.history(str(session.id), limit=500)]
    assert len(messages) == 500
    assert len({m.id for m in messages}) == 500
    assert all(1 <= n <= 100 for n in _limits(fake))
    # Newest first, as TextMagic returns a session's messages.
    assert [int(m.id) for m in messages] == sorted((int(m.id) for m in messages), reverse=True)


async def test_small_limit_is_one_small_page(fake: FakeTextMagic, client: TextMagicAdapter) -> None:
    session = fake.seed_session(30)
    messages = [m async for m in client.history(str(session.id), limit=7)]
    assert len(messages) == 7
    reads = fake.requests_to("GET", r"/sessions/\d+/messages$")
    assert [r.query["limit"] for r in reads] == ["7"]


async def test_native_envelope_paging(fake: FakeTextMagic, client: TextMagicAdapter) -> None:
    fake.seed_sessions(25)
    first = await client.native.get_all_message_sessions(page=1, limit=10)
    third = await client.native.get_all_message_sessions(page=3, limit=10)
    assert (first.page, first.page_count, first.limit) == (1, 3, 10)
    assert len(first.resources) == 10
    assert (third.page, len(third.resources)) == (3, 5)
    assert not {s.id for s in first.resources} & {s.id for s in third.resources}


@pytest.mark.parametrize("bad", [0, 101, 500, -1, True])
async def test_native_rejects_limits_the_server_would_replace(
    fake: FakeTextMagic, client: TextMagicAdapter, bad: int
) -> None:
    with pytest.raises(mh.InvalidRequest) as info:
        await client.native.get_all_message_sessions(limit=bad)
    assert info.value.field == "limit"
    with pytest.raises(mh.InvalidRequest):
        await client.native.get_messages_by_session_id(1, limit=bad)
    with pytest.raises(mh.InvalidRequest):
        await client.native.get_all_message_sessions(page=0)
    assert fake.requests == []


async def test_history_statuses_filter(fake: FakeTextMagic, client: TextMagicAdapter) -> None:
    session = fake.seed_session(5)
    fake.set_status(session.message_ids[0], "f")
    failed = [m async for m in client.history(str(session.id), statuses=["f"])]
    assert [m.id for m in failed] == [str(session.message_ids[0])]
    assert failed[0].status is mh.MessageStatus.FAILED
    assert fake.requests_to("GET", r"/messages$")[-1].query["statuses"] == "f"
    before = len(fake.requests)
    with pytest.raises(mh.InvalidRequest):
        client.history(str(session.id), statuses=["z"])
    assert len(fake.requests) == before
