"""TextMagic payloads as shared models: statuses, times, sessions; native extras."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import messaging_hub as mh
from messaging_hub.adapters.textmagic import TextMagicAdapter
from messaging_hub.adapters.textmagic.wire import MessageOut, MessagePage, converter
from messaging_hub.testing.textmagic import FakeTextMagic

pytestmark = pytest.mark.anyio

SPEC_EXAMPLES = Path("/work/shared/specs/textmagic/examples")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTextMagic]:
    """A running fake TextMagic whose messages keep the status they are given."""
    async with FakeTextMagic(rate_limit_per_second=None, deliver_after=None) as server:
        yield server


S = mh.MessageStatus


@pytest.mark.parametrize(
    ("letter", "status"),
    [
        ("q", S.QUEUED), ("s", S.QUEUED), ("r", S.SENT), ("a", S.SENT), ("b", S.SENT),
        ("d", S.DELIVERED), ("e", S.FAILED), ("f", S.FAILED), ("j", S.FAILED),
        ("u", S.UNKNOWN), ("i", S.UNKNOWN), ("p", S.UNKNOWN), ("h", S.UNKNOWN),
    ],
)  # fmt: skip
async def test_status_letters(
    fake: FakeTextMagic, client: TextMagicAdapter, letter: str, status: mh.MessageStatus
) -> None:
    session = fake.seed_session(1)
    fake.set_status(session.message_ids[0], letter)
    [message] = [m async for m in client.history(str(session.id))]
    assert message.status is status


async def test_message_fields(fake: FakeTextMagic, client: TextMagicAdapter) -> None:
    receipt = await client.send(mh.Outgoing(to=["+447860021130"], text="hello"))
    [message] = [m async for m in client.history(receipt.session_id)]
    assert message.id == receipt.message_ids[0]
    assert message.session_id == receipt.session_id
    assert message.direction is mh.Direction.OUTBOUND
    assert message.sender == mh.Address.phone("+447624800500")
    assert message.recipients == (mh.Address.phone("+447860021130"),)
    assert message.text == "hello"
    assert message.created_at.tzinfo is not None
    assert message.created_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert abs((datetime.now(UTC) - message.created_at).total_seconds()) < 60


async def test_session_fields(fake: FakeTextMagic, client: TextMagicAdapter) -> None:
    seeded = fake.seed_session(2, text="hello all")
    fake.session(seeded.id).title = "Spring sale"
    [session] = [s async for s in client.sessions()]
    assert session.id == str(seeded.id)
    assert session.name == "Spring sale"
    assert session.last_text == "hello all"
    assert session.kind is mh.MessageKind.SMS
    assert session.last_activity == seeded.start_time.replace(microsecond=0)
    assert session.last_activity is not None and session.last_activity.tzinfo is not None


def test_both_documented_time_spellings_become_utc() -> None:
    adapter = mh.connect("textmagic", username="u", api_key="k")
    assert isinstance(adapter, TextMagicAdapter)
    for stamp, expected in [
        ("2015-06-19T09:48:24+0000", datetime(2015, 6, 19, 9, 48, 24, tzinfo=UTC)),
        ("2000-01-23T04:56:07.000+00:00", datetime(2000, 1, 23, 4, 56, 7, tzinfo=UTC)),
        ("2015-06-19T11:48:24+0200", datetime(2015, 6, 19, 9, 48, 24, tzinfo=UTC)),
    ]:
        message = adapter.to_message(MessageOut(id=1, message_time=stamp, status="d"), "9")
        assert message.created_at == expected
        assert message.created_at.utcoffset() is not None


def test_the_specs_example_page_reads_every_field() -> None:
    data = json.loads((SPEC_EXAMPLES / "get-session-messages.200.json").read_text())
    page = converter.structure(data, MessagePage)
    first = page.resources[0]
    assert (page.page, page.page_count, page.limit) == (1, 10, 10)
    assert first.from_number == "447624800500"
    assert first.charset_label == "ISO-8859-1"
    assert first.sender_source is not None and first.sender_source.carrier_status
    assert first.session is not None and first.session.numbers_count == 5


async def test_native_session_stat_get_and_ping(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    session = fake.seed_session(3, delivered=False)
    fake.set_status(session.message_ids[0], "d")
    fake.set_status(session.message_ids[1], "f")
    stat = await client.native.get_message_session_stat(session.id)
    assert (stat.all, stat.delivered, stat.failed) == (3, 1, 1)
    got = await client.native.get_message_session(str(session.id))
    assert got.id == session.id and got.numbers_count == 3
    pong = await client.native.ping()
    assert pong.user_id == fake.user_id


async def test_native_bulk_delete(fake: FakeTextMagic, client: TextMagicAdapter) -> None:
    a, b, c = fake.seed_sessions(3)
    await client.native.delete_message_sessions_bulk(ids=[a.id, b.id])
    body = fake.requests_to("POST", r"/sessions/delete$")[-1].json()
    assert body == {"ids": f"{a.id},{b.id}", "all": 0}
    assert [s.id for s in fake.sessions] == [c.id]
    await client.native.delete_message_sessions_bulk(all=True)
    assert fake.sessions == []


@pytest.mark.parametrize("bad", ["a/b", "..", "has space", "12x", "", "-1", "1.5", "bulk-x"])
async def test_non_numeric_ids_never_reach_the_wire(
    fake: FakeTextMagic, client: TextMagicAdapter, bad: str
) -> None:
    with pytest.raises(mh.InvalidRequest):
        await client.native.get_message_session(bad)
    with pytest.raises(mh.InvalidRequest):
        await client.native.delete_message_sessions_bulk(ids=[bad])
    with pytest.raises(mh.InvalidRequest):
        client.history(bad) if bad else client.history("x y")
    assert fake.requests == []
