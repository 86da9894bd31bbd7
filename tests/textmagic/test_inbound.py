"""Inbound messages (replies) through the native client, as a bot reads them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import messaging_hub as mh
from messaging_hub.adapters.textmagic import TextMagicAdapter
from messaging_hub.testing.textmagic import FakeTextMagic

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fake() -> AsyncIterator[FakeTextMagic]:
    async with FakeTextMagic(rate_limit_per_second=None) as server:
        yield server


async def test_replies_are_listed_newest_first_read_and_deleted(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    receipt = await client.send(mh.Outgoing(to=["+447860021131"], text="Reply YES"))
    fake.deliver_inbound("+447860021131", "YES")
    fake.deliver_inbound("+447860021131", "and thanks")
    page = await client.native.get_all_inbound_messages(order_by="id", direction="desc", limit=5)
    assert [m.text for m in page.resources] == ["and thanks", "YES"]
    assert page.resources[0].sender == "447860021131"
    assert fake.requests[-1].query == {"orderBy": "id", "direction": "desc", "limit": "5"}
    one = await client.native.get_inbound_message(page.resources[1].id)
    assert one.text == "YES" and one.message_time is not None
    await client.native.delete_inbound_message(one.id)
    with pytest.raises(mh.NotFound):
        await client.native.get_inbound_message(one.id)
    assert receipt.session_id


async def test_bad_reply_queries_fail_before_any_request(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    with pytest.raises(mh.InvalidRequest):
        await client.native.get_all_inbound_messages(order_by="text")
    with pytest.raises(mh.InvalidRequest):
        await client.native.get_all_inbound_messages(direction="sideways")
    with pytest.raises(mh.InvalidRequest):
        await client.native.get_all_inbound_messages(limit=500)
    with pytest.raises(mh.InvalidRequest):
        await client.native.get_inbound_message("1/2")
    assert fake.requests == []
