"""Continuing a conversation with only its session id: ``Outgoing(session_id=..., text=...)``."""

from __future__ import annotations

import anyio
import pytest

import messaging_hub as mh
from messaging_hub.testing.netsapiens import FakeNetSapiens
from messaging_hub.testing.textmagic import FakeTextMagic

pytestmark = pytest.mark.anyio


def test_an_outgoing_needs_recipients_or_a_session() -> None:
    with pytest.raises(mh.InvalidRequest, match="session_id"):
        mh.Outgoing(text="to nobody")
    assert mh.Outgoing(session_id="abc", text="x").to == ()


async def test_netsapiens_writes_to_the_sessions_remote_party() -> None:
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        first = await client.send(mh.Outgoing(to=["1004"], text="first"))
        second = await client.send(mh.Outgoing(session_id=first.session_id, text="second"))
        assert second.session_id == first.session_id
        sends = fake.requests_to("POST", r"/messages$")
        assert [r.json()["destination"] for r in sends][-1] in ("1004", "1004@acme")
        texts = [m.text async for m in client.history(first.session_id)]
        assert texts == ["second", "first"]


async def test_netsapiens_sms_session_continues_to_the_number() -> None:
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        first = await client.send(mh.Outgoing(to=["+17145550353"], text="sms one"))
        await client.send(mh.Outgoing(session_id=first.session_id, text="sms two"))
        last = fake.requests_to("POST", r"/messages$")[-1].json()
        assert last["type"] == "sms"
        assert last["destination"] == "17145550353"


async def test_netsapiens_unknown_session_is_not_found_and_nothing_is_sent() -> None:
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        with pytest.raises(mh.NotFound):
            await client.send(mh.Outgoing(session_id="no_such_session", text="x"))
        assert fake.requests_to("POST", r"/messages$") == []


async def test_textmagic_follow_up_goes_to_the_sessions_numbers() -> None:
    async with FakeTextMagic() as fake, mh.connect(fake.config) as client:
        first = await client.send(
            mh.Outgoing(to=["+447860021130", "+447860021131"], text="hello both")
        )
        second = await client.send(mh.Outgoing(session_id=first.session_id, text="again"))
        assert second.session_id == first.session_id
        sent = fake.requests_to("POST", r"^/api/v2/messages$")[-1].json()
        assert sorted(sent["phones"].split(",")) == ["447860021130", "447860021131"]


async def test_textmagic_answers_a_reply_by_its_conversation_id() -> None:
    async with FakeTextMagic() as fake, mh.connect(fake.config) as client:
        received: list[mh.Message] = []

        async def bot() -> None:
            async for message in mh.listen(client, poll_interval=0.02):
                received.append(message)
                return

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(bot)
                await anyio.sleep(0.1)
                fake.deliver_inbound("+447860021133", "are you open?")
        (reply,) = received
        assert reply.session_id.startswith("phone-")
        receipt = await client.send(mh.Outgoing(session_id=reply.session_id, text="yes"))
        # Replying names the sender explicitly too, as bots often do.
        assert reply.sender is not None
        await client.send(mh.Outgoing(to=[reply.sender], session_id=reply.session_id, text="!"))
        sends = fake.requests_to("POST", r"^/api/v2/messages$")
        assert [r.json()["phones"] for r in sends] == ["447860021133", "447860021133"]
        assert receipt.session_id.isdigit()  # the real TextMagic session of the answer


async def test_mongooseim_continues_from_the_conversation() -> None:
    from messaging_hub.testing.mongooseim import FakeMongooseIM

    async with FakeMongooseIM() as fake, mh.connect(fake.config) as client:
        first = await client.send(mh.Outgoing(to=["bob@localhost"], text="hi bob"))
        second = await client.send(mh.Outgoing(session_id=first.session_id, text="again"))
        assert second.session_id == first.session_id
        texts = [m.text async for m in client.history(first.session_id)]
        assert texts[:2] == ["again", "hi bob"]


async def test_a_conversation_without_messages_cannot_be_continued_blind() -> None:
    from messaging_hub.testing.mongooseim import FakeMongooseIM

    async with FakeMongooseIM() as fake, mh.connect(fake.config) as client:
        with pytest.raises(mh.NotFound, match="pass to="):
            await client.send(mh.Outgoing(session_id="nobody@localhost", text="x"))
