"""Watching for new inbound messages, as a bot does."""

from __future__ import annotations

import anyio
import pytest

import messaging_hub as mh
from messaging_hub.polling import watch
from messaging_hub.testing.netsapiens import FakeNetSapiens

pytestmark = pytest.mark.anyio


async def test_watch_yields_new_inbound_messages_once() -> None:
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        old = fake.deliver_inbound("1123", "before the bot started")
        received: list[mh.Message] = []

        async def bot() -> None:
            async for message in watch(client, interval=0.02):
                received.append(message)
                if len(received) == 3:
                    return

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(bot)
                await anyio.sleep(0.1)
                await client.send(mh.Outgoing(to=["1004"], text="the bot's own message"))
                fake.deliver_inbound("1123", "first", session_id=old)
                await anyio.sleep(0.1)
                fake.deliver_inbound("+17145550353", "second")
                fake.deliver_inbound("1004", "third")
        texts = [m.text for m in received]
        # "second" and "third" share a one-second timestamp: their order is open.
        assert texts[0] == "first"
        assert sorted(texts[1:]) == ["second", "third"]
        assert all(m.direction is mh.Direction.INBOUND for m in received)


async def test_watch_refuses_bad_arguments() -> None:
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        with pytest.raises(mh.InvalidRequest):
            await watch(client, interval=0).__anext__()
        assert fake.requests == []


async def test_watch_keeps_arrival_order_within_one_second() -> None:
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        session_id = fake.deliver_inbound("1123", "opening")
        received: list[str] = []

        async def bot() -> None:
            async for message in watch(client, interval=0.02):
                received.append(message.text)
                if len(received) == 4:
                    return

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(bot)
                await anyio.sleep(0.1)
                for text in ("one", "two", "three", "four"):  # all in the same second
                    fake.deliver_inbound("1123", text, session_id=session_id)
        assert received == ["one", "two", "three", "four"]
