"""TextMagic sends: wire body, text limits, follow-ups, bulk (202) outcomes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import messaging_hub as mh
from messaging_hub.adapters.textmagic import BulkAccepted, TextMagicAdapter
from messaging_hub.testing.textmagic import FakeTextMagic

pytestmark = pytest.mark.anyio

PEER = "+447860021130"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTextMagic]:
    """A running fake TextMagic."""
    async with FakeTextMagic(rate_limit_per_second=None) as server:
        yield server


def _sends(fake: FakeTextMagic) -> list[dict[str, object]]:
    return [r.json() for r in fake.requests_to("POST", r"^/api/v2/messages$")]


async def test_one_recipient_gives_session_and_message_id(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    receipt = await client.send(mh.Outgoing(to=[PEER], text="hi"))
    body = _sends(fake)[0]
    assert body["phones"] == "447860021130"
    assert body["from"] == "447624800500"  # from_number, as digits
    assert body["text"] == "hi"
    message = fake.messages[-1]
    assert receipt.session_id == str(message.session_id)
    assert receipt.message_ids == (str(message.id),)
    assert receipt.status is mh.MessageStatus.ACCEPTED


async def test_several_recipients_make_one_session_without_message_id(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    receipt = await client.send(mh.Outgoing(to=[PEER, "+447860021131"], text="all"))
    assert _sends(fake)[0]["phones"] == "447860021130,447860021131"
    assert receipt.message_ids == ()
    assert receipt.session_id == str(fake.sessions[-1].id)
    texts = {m.recipients[0].value async for m in client.history(receipt.session_id)}
    assert texts == {PEER, "+447860021131"}


async def test_outgoing_sender_wins_over_from_number(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    async with FakeTextMagic(sender_ids=["+447700900123"]) as other:
        async with mh.connect(other.config) as c:
            await c.send(mh.Outgoing(to=[PEER], text="x", sender="+447700900123"))
        assert _sends(other)[0]["from"] == "447700900123"


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("a" * 918, True),
        ("a" * 919, False),
        ("€" * 459, True),  # extension characters take two
        ("€" * 460, False),
        ("ж" * 402, True),  # Unicode: 6 parts of 67
        ("ж" * 403, False),
        ("😀" * 201, True),  # two UTF-16 units each
        ("😀" * 202, False),
    ],
)
async def test_text_limits_follow_the_encoding_chapter(
    fake: FakeTextMagic, client: TextMagicAdapter, text: str, ok: bool
) -> None:
    if ok:
        await client.send(mh.Outgoing(to=[PEER], text=text))
        assert len(_sends(fake)) == 1
        return
    with pytest.raises(mh.InvalidRequest) as info:
        await client.send(mh.Outgoing(to=[PEER], text=text))
    assert info.value.field == "text"
    assert fake.requests == []


async def test_attachments_and_other_kinds_are_unsupported_before_io(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    assert mh.Capability.ATTACHMENTS not in client.capabilities
    picture = mh.Attachment("image/png", b"\x89PNG", filename="a.png")
    with pytest.raises(mh.UnsupportedOperation):
        await client.send(mh.Outgoing(to=[PEER], attachments=[picture]))
    with pytest.raises(mh.UnsupportedOperation):
        await client.send(mh.Outgoing(to=[PEER], text="x", kind=mh.MessageKind.FAX))
    with pytest.raises(mh.InvalidRequest):
        await client.send(mh.Outgoing(to=["1004"], text="x"))
    assert fake.requests == []


async def test_follow_up_keeps_the_conversation_id_and_history_merges(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    first = await client.send(mh.Outgoing(to=[PEER], text="first"))
    other = await client.send(mh.Outgoing(to=["+447860021199"], text="unrelated"))
    second = await client.send(mh.Outgoing(to=[PEER], text="second", session_id=first.session_id))
    assert second.session_id == first.session_id
    assert _sends(fake)[-1]["referenceId"] == int(first.session_id)
    assert len(fake.sessions) == 3  # TextMagic made a new session for the follow-up
    texts = [m.text async for m in client.history(first.session_id)]
    assert texts == ["second", "first"]
    alone = [m.text async for m in client.history(first.session_id, follow_ups=False)]
    assert alone == ["first"]
    await client.delete(first.session_id)
    assert {s.id async for s in client.sessions()} == {other.session_id}


async def test_bulk_202_is_a_queued_receipt_with_a_usable_session_id() -> None:
    phones = [f"+4479000{i:05d}" for i in range(1001)]
    quiet = FakeTextMagic(bulk_processing_seconds=None, rate_limit_per_second=None)
    async with quiet as fake, mh.connect(fake.config) as client:
        receipt = await client.send(mh.Outgoing(to=phones, text="to everyone"))
        assert receipt.status is mh.MessageStatus.QUEUED
        bulk = fake.bulks[-1]
        assert receipt.session_id == f"bulk-{bulk.id}"
        assert [m async for m in client.history(receipt.session_id)] == []
        with pytest.raises(mh.Conflict):
            await client.delete(receipt.session_id)
        fake.process_bulks()
        first = [m async for m in client.history(receipt.session_id, limit=3)]
        assert len(first) == 3
        assert all(m.session_id == receipt.session_id for m in first)
        await client.delete(receipt.session_id)
        assert fake.sessions == []


async def test_bulk_processed_at_once_gives_the_session_id() -> None:
    phones = [f"+4479000{i:05d}" for i in range(1001)]
    # The bulk is processed on the next request, before the receipt is made.
    async with FakeTextMagic(rate_limit_per_second=None) as fake, mh.connect(fake.config) as client:
        receipt = await client.send(mh.Outgoing(to=phones, text="to everyone"))
        assert receipt.status is mh.MessageStatus.QUEUED
        assert receipt.session_id == str(fake.sessions[-1].id)


async def test_bulk_link_response_is_understood() -> None:
    phones = [f"+4479000{i:05d}" for i in range(1001)]
    async with (
        FakeTextMagic(
            bulk_response="link", bulk_processing_seconds=None, rate_limit_per_second=None
        ) as fake,
        mh.connect(fake.config) as client,
    ):
        receipt = await client.send(mh.Outgoing(to=phones, text="linked"))
        assert receipt.session_id == f"bulk-{fake.bulks[-1].id}"
        assert receipt.status is mh.MessageStatus.QUEUED


async def test_native_send_returns_bulk_accepted_on_202() -> None:
    phones = [f"4479000{i:05d}" for i in range(1001)]
    quiet = FakeTextMagic(bulk_processing_seconds=None, rate_limit_per_second=None)
    async with quiet as fake, mh.connect(fake.config) as client:
        assert isinstance(client, TextMagicAdapter)
        answer = await client.native.send_message(text="bulk", phones=phones)
        assert isinstance(answer, BulkAccepted)
        bulks = await client.native.get_all_bulk_sessions(limit=10)
        assert [b.items_total for b in bulks.resources] == [1001]


async def test_follow_up_to_an_unknown_session_fails_before_sending(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    with pytest.raises(mh.NotFound):
        await client.send(mh.Outgoing(to=[PEER], text="lost", session_id="424242"))
    assert _sends(fake) == []
    assert fake.sessions == []


async def test_history_with_a_limit_reads_no_further_than_it_needs(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    first = await client.send(mh.Outgoing(to=[PEER], text="first"))
    fake.seed_sessions(450)  # other traffic of the account since the first send
    await client.send(mh.Outgoing(to=[PEER], text="latest", session_id=first.session_id))
    before = len(fake.requests)
    texts = [m.text async for m in client.history(first.session_id, limit=1)]
    assert texts == ["latest"]
    # One page of the session list finds the follow-up, one page of its messages.
    assert len(fake.requests) - before == 2
    everything = [m.text async for m in client.history(first.session_id)]
    assert everything == ["latest", "first"]


async def test_a_failed_bulk_lookup_after_a_202_is_never_taken_for_an_unsent_message() -> None:
    phones = [f"+4479000{i:05d}" for i in range(1001)]
    primary = FakeTextMagic(bulk_processing_seconds=None, rate_limit_per_second=None)
    backup = FakeTextMagic(rate_limit_per_second=None)
    async with primary, backup:
        # The send is queued (202); the lookup of its bulk then keeps getting 429.
        primary.fail(status=429, body='{"code": 429, "message": "Request limit reached."}',
                      method="GET", path=r"^/api/v2/bulks$", times=5)  # fmt: skip
        config = {
            "default": "primary",
            "failover": ["backup"],
            "accounts": {
                "primary": primary.config | {"max_attempts": 2, "throttle_pause": 0.01},
                "backup": backup.config,
            },
        }
        async with mh.Hub.from_config(config) as hub:
            with pytest.raises(mh.MalformedResponse) as info:
                await hub.send(mh.Outgoing(to=phones, text="to everyone"))
        assert info.value.status == 202
        assert "do not resend" in info.value.message
        assert len(primary.bulks) == 1
        assert backup.requests == []  # the hub did not send it a second time


async def test_a_failed_progress_lookup_still_gives_the_bulk_receipt() -> None:
    phones = [f"+4479000{i:05d}" for i in range(1001)]
    linked = FakeTextMagic(bulk_response="link", rate_limit_per_second=None)
    async with linked as fake, mh.connect(fake.config, max_attempts=2) as client:
        fake.fail(status=503, method="GET", path=r"^/api/v2/bulks/\d+$", times=5)
        receipt = await client.send(mh.Outgoing(to=phones, text="linked"))
        assert receipt.status is mh.MessageStatus.QUEUED
        assert receipt.session_id == f"bulk-{fake.bulks[-1].id}"
        assert len(_sends(fake)) == 1
