"""listen(): inbound messages once, in order, through outages (polling fallback)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

import messaging_hub as mh
from messaging_hub.testing.netsapiens import FakeNetSapiens

pytestmark = pytest.mark.anyio


async def _collect(client: mh.Adapter[object], count: int, **options: object) -> list[mh.Message]:
    received: list[mh.Message] = []
    async for message in mh.listen(client, poll_interval=0.02, **options):  # type: ignore[arg-type]
        received.append(message)
        if len(received) == count:
            break
    return received


async def test_listen_yields_new_inbound_messages_once_in_order() -> None:
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        session_id = fake.deliver_inbound("1123", "before listening")
        assert mh.Capability.PUSH not in client.capabilities  # NetSapiens is polled
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                results: list[mh.Message] = []

                async def bot() -> None:
                    results.extend(await _collect(client, 4))

                tg.start_soon(bot)
                await anyio.sleep(0.1)
                await client.send(mh.Outgoing(to=["1123"], text="mine", session_id=session_id))
                for text in ("one", "two", "three"):
                    fake.deliver_inbound("1123", text, session_id=session_id)
                fake.deliver_inbound("+17145550353", "elsewhere")
        # Within a conversation, arrival order; across two, same-second stamps are a tie.
        in_session = [m.text for m in results if m.session_id == session_id]
        assert in_session == ["one", "two", "three"]
        assert sorted(m.text for m in results) == ["elsewhere", "one", "three", "two"]
        assert all(m.direction is mh.Direction.INBOUND for m in results)


async def test_listen_since_replays_what_arrived_after_it() -> None:
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        start = datetime.now(UTC) - timedelta(seconds=2)
        fake.deliver_inbound("1123", "waiting for you")
        with anyio.fail_after(5):
            (message,) = await _collect(client, 1, since=start)
        assert message.text == "waiting for you"


async def test_listen_rides_out_an_outage_without_loss_or_duplicates() -> None:
    async with FakeNetSapiens() as fake, mh.connect({**fake.config, "max_attempts": 1}) as client:
        session_id = fake.deliver_inbound("1123", "opening")
        results: list[str] = []

        async def bot() -> None:
            async for message in mh.listen(client, poll_interval=0.02, max_backoff=0.05):
                results.append(message.text)
                if len(results) == 3:
                    return

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(bot)
                await anyio.sleep(0.1)
                fake.deliver_inbound("1123", "a", session_id=session_id)
                await anyio.sleep(0.1)
                fake.fail(status=503, path="/messagesessions", times=6)
                fake.deliver_inbound("1123", "b", session_id=session_id)
                fake.deliver_inbound("1123", "c", session_id=session_id)
        assert results == ["a", "b", "c"]
        assert fake.pending_faults == []  # the outage really happened


async def test_listen_ends_on_refused_credentials() -> None:
    async with FakeNetSapiens() as fake:
        config = {**fake.config, "access_token": "not-the-token"}
        async with mh.connect(config) as client:
            with anyio.fail_after(5), pytest.raises(mh.AuthenticationError):
                await _collect(client, 1)


async def test_listen_refuses_a_naive_since() -> None:
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        with pytest.raises(mh.InvalidRequest):
            await mh.listen(client, since=datetime(2026, 1, 1)).__anext__()
        assert fake.requests == []


async def test_listen_on_an_empty_account_hears_the_first_message() -> None:
    """No message yet: the starting point must not be our clock (the provider
    stamps to the second, so its first message may look older than "now")."""
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                results: list[mh.Message] = []

                async def bot() -> None:
                    results.extend(await _collect(client, 1))

                tg.start_soon(bot)
                await anyio.sleep(0.1)
                fake.deliver_inbound("1123", "first ever")
        assert [m.text for m in results] == ["first ever"]
