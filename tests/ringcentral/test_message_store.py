"""The message store through the native client and the unified ops: paging,
the 207 batch, updates, deletes, exact big ids, the 24-hour default window."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

import messaging_hub as mh
from messaging_hub.adapters.ringcentral import RingCentralAdapter
from messaging_hub.adapters.ringcentral.wire import MessageInfo, converter
from messaging_hub.testing.ringcentral import FakeRingCentral

pytestmark = pytest.mark.anyio

REMOTE = "+14155550123"
LIST = r"/extension/[^/]+/message-store$"


@pytest.fixture
async def fake() -> AsyncIterator[FakeRingCentral]:
    async with FakeRingCentral(rate_limiting=False) as server:
        yield server


@pytest.fixture
async def client(fake: FakeRingCentral) -> AsyncIterator[RingCentralAdapter]:
    async with mh.connect(fake.config, rate_limiting=False) as connected:
        assert isinstance(connected, RingCentralAdapter)
        yield connected


async def test_history_follows_every_page_newest_first(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    conversation = fake.seed_conversation(250)
    messages = [m async for m in client.history(conversation)]
    assert [m.text for m in messages] == [f"message {n}" for n in reversed(range(250))]
    reads = fake.requests_to("GET", LIST)
    assert [r.query["page"] for r in reads] == ["1", "2", "3"]
    assert all(r.query["conversationId"] == conversation for r in reads)


async def test_history_is_not_limited_to_the_last_24_hours(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    first = fake.deliver_inbound(REMOTE, "forty days ago", created=old)
    fake.deliver_inbound(REMOTE, "today")
    conversation = str(first.conversation_id)
    texts = [m.text async for m in client.history(conversation)]
    assert texts == ["today", "forty days ago"]
    assert fake.requests_to("GET", LIST)[-1].query["dateFrom"] == "1970-01-01T00:00:00.000Z"
    # An explicit window narrows it again.
    since = datetime.now(UTC) - timedelta(days=1)
    assert [m.text async for m in client.history(conversation, since=since)] == ["today"]


async def test_sessions_are_the_latest_message_of_each_conversation(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    now = datetime.now(UTC)
    fake.deliver_inbound("+14155550001", "a-old", created=now - timedelta(days=3))
    fake.deliver_inbound("+14155550002", "b-latest", created=now - timedelta(days=2))
    fake.deliver_inbound("+14155550001", "a-latest", created=now - timedelta(days=1))
    fake.deliver_fax("+14155550003", b"%PDF-1.4 fax")  # no conversation
    sessions = [s async for s in client.sessions()]
    assert [s.last_text for s in sessions] == ["a-latest", "b-latest"]
    assert sessions[0].participants == (mh.Address.phone("+14155550001"),)
    assert sessions[0].last_activity is not None
    query = fake.requests_to("GET", LIST)[-1].query
    assert query["distinctConversations"] == "true"


async def test_sessions_page_and_respect_limit(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    for n in range(120):
        fake.deliver_inbound(f"+1415555{n:04d}", f"hello {n}")
    every = [s async for s in client.sessions()]
    assert len(every) == 120 == len({s.id for s in every})
    assert [s.id async for s in client.sessions(limit=5)] == [s.id for s in every[:5]]


async def test_conversation_ids_above_2_to_the_53_survive_exactly(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    receipt = await client.send(mh.Outgoing(to=[REMOTE], text="exact"))
    stored = fake.sent[-1]
    assert stored.conversation_id is not None and stored.conversation_id > 2**53
    assert receipt.session_id == str(stored.conversation_id)
    assert receipt.message_ids == (str(stored.id),)
    (message,) = [m async for m in client.history(receipt.session_id)]
    assert message.session_id == receipt.session_id
    assert message.raw.conversation_id == stored.conversation_id
    # A float would have rounded it: 8234962969801171948 -> ...172000.
    assert float(stored.conversation_id) != stored.conversation_id


def test_wire_ids_from_numbers_and_strings_are_exact() -> None:
    big = 8234962969801171948
    for raw in (big, str(big)):
        item = converter.structure({"id": raw, "conversationId": raw}, MessageInfo)
        assert item.id == big and item.conversation_id == big
        assert item.conversation_key == str(big)
    with pytest.raises(Exception):  # noqa: B017,PT011 - a bool is no id
        converter.structure({"id": True}, MessageInfo)


async def test_batch_load_returns_a_result_per_id(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    one, two = fake.seed_messages(2)
    results = await client.native.load_message([one.id, str(two.id), 111])
    request = fake.requests_to("GET", r"/message-store/[^/]+$")[-1]
    assert request.path.endswith(f"/message-store/{one.id},{two.id},111")
    assert [r.resource_id for r in results] == [str(one.id), str(two.id), "111"]
    assert [r.ok for r in results] == [True, True, False]
    assert results[0].message is not None and results[0].message.subject == one.text
    missing = results[2]
    assert missing.status == 404
    assert missing.error is not None and missing.error.code == "CMN-102"
    single = await client.native.load_message(one.id)
    assert single.id == one.id and single.vm_side_recipients


async def test_one_odd_entry_of_a_207_does_not_sink_the_others(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    one, two = fake.seed_messages(2)
    body = [
        {"resourceId": str(one.id), "status": 200, "body": {"id": one.id, "subject": "a"}},
        # An error entry in a shape the client does not know: kept as a failure.
        {"resourceId": "111", "status": 404, "body": {"errors": None, "errorCode": {"x": 1}}},
        {"resourceId": "112", "status": "500"},
        {"resourceId": str(two.id), "status": 200, "body": {"id": two.id, "subject": "b"}},
    ]
    fake.fail(
        status=207, body=json.dumps(body),
        content_type="application/vnd.ringcentral.multipart+json", path=r"/message-store/",
    )  # fmt: skip
    results = await client.native.load_message([one.id, 111, 112, two.id])
    assert [r.resource_id for r in results] == [str(one.id), "111", "112", str(two.id)]
    assert [r.ok for r in results] == [True, False, False, True]
    assert [r.status for r in results] == [200, 404, 500, 200]
    assert results[3].message is not None and results[3].message.subject == "b"


async def test_a_207_that_is_not_a_list_of_entries_is_malformed(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    for body in ('{"response": []}', '[{"resourceId": "1"}]', '["x"]', "[1"):
        fake.fail(
            status=207, body=body,
            content_type="application/vnd.ringcentral.multipart+json", path=r"/message-store/",
        )  # fmt: skip
        with pytest.raises(mh.MalformedResponse):
            await client.native.load_message([1, 2])


async def test_update_patch_and_delete_messages(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    one, two = fake.seed_messages(2, direction="Inbound")
    updated = await client.native.update_message(one.id, read_status="Read")
    assert updated.read_status == "Read" == fake.message(one.id).read_status
    bulk = await client.native.patch_message([one.id, two.id], read_status="Unread")
    assert [r.status for r in bulk] == [200, 200]
    assert fake.message(two.id).read_status == "Unread"
    sent = fake.requests_to("PATCH", r"/message-store/")[-1]
    assert sent.headers["Content-Type"].startswith("application/vnd.ringcentral.multipart+json")
    await client.native.delete_message(one.id)
    assert fake.message(one.id).availability == "Deleted"
    restored = await client.native.patch_message(one.id, availability="Alive")
    assert restored.availability == "Alive"
    await client.native.delete_message(one.id, purge=True)
    assert fake.message(one.id).availability == "Purged"


async def test_delete_a_conversation_or_a_single_message(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    conversation = fake.seed_conversation(3)
    (newest,) = [m async for m in client.history(conversation, limit=1)]
    await client.delete(newest)
    assert fake.message(newest.id).availability == "Deleted"
    assert len([m async for m in client.history(conversation)]) == 2
    await client.delete(conversation)
    assert [m async for m in client.history(conversation)] == []
    request = fake.requests_to("DELETE", LIST)[-1]
    assert request.query["conversationId"] == conversation


async def test_not_found_keeps_the_ringcentral_code(client: RingCentralAdapter) -> None:
    with pytest.raises(mh.NotFound) as info:
        await client.native.load_message(42)
    assert info.value.code == "CMN-102"
    assert info.value.status == 404


async def test_bad_ids_and_filters_fail_before_any_request(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    before = len(fake.requests)
    native = client.native
    for call in (
        lambda: native.load_message("1,2"),
        lambda: native.load_message("abc"),
        lambda: native.load_message([]),
        lambda: native.load_message(list(range(51))),
        lambda: native.list_messages(message_type="Telegram"),
        lambda: native.list_messages(direction=["Inbound", "Sideways"]),
        lambda: native.list_messages(date_from=datetime(2020, 1, 1)),  # naive
        lambda: native.list_messages(per_page=0),
        lambda: native.delete_messages_by_filter(conversation_id="12/34"),
        lambda: native.sync_messages(sync_type="ISync"),
        lambda: native.update_message(1, read_status="Maybe"),
        lambda: native.delete_message(1, type="Email"),
    ):
        with pytest.raises(mh.InvalidRequest):
            await call()
    with pytest.raises(mh.InvalidRequest):
        client.history("123", direction="Sideways")
    with pytest.raises(mh.InvalidRequest):
        client.history("123", since=datetime(2020, 1, 1))
    with pytest.raises(mh.InvalidRequest):
        client.sessions(message_type="Email")
    assert len(fake.requests) == before


async def test_cover_pages_and_paging_info(client: RingCentralAdapter) -> None:
    listing = await client.native.get_fax_cover_pages(per_page=5)
    assert len(listing.records) == 5
    assert listing.paging.total_elements is not None and listing.paging.total_elements > 5
    assert listing.navigation.next_page is not None


async def test_history_filters_and_deleting_a_session_object(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    conversation = fake.seed_conversation(6)  # directions alternate
    inbound = [m async for m in client.history(conversation, direction="Inbound")]
    assert len(inbound) == 3
    assert all(m.direction is mh.Direction.INBOUND for m in inbound)
    assert all(m.sender == mh.Address.phone(REMOTE) for m in inbound)
    assert fake.requests_to("GET", LIST)[-1].query["direction"] == "Inbound"
    future = datetime.now(UTC) + timedelta(days=1)
    assert [s async for s in client.sessions(since=future)] == []
    (session,) = [s async for s in client.sessions()]
    await client.delete(session)
    assert [s async for s in client.sessions()] == []


async def test_authorize_url_needs_no_request(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    url = client.native.authorize_url(redirect_uri="https://app.example/cb", state="s1")
    assert url.startswith(f"{fake.origin}/restapi/oauth/authorize?client_id={fake.client_id}")
    assert "redirect_uri=https%3A%2F%2Fapp.example%2Fcb" in url and "state=s1" in url
    assert "response_type=code" in url
    assert fake.requests == []
