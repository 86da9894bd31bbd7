"""History pages backwards with the inclusive ``before``: each message once, newest first."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

import messaging_hub as mh
from messaging_hub.testing.mongooseim import Api, FakeMongooseIM

from ._helpers import APIS, T0, before_sent, reads

pytestmark = pytest.mark.anyio

PEER = "bob@localhost"


@pytest.fixture(params=APIS)
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeMongooseIM]:
    async with FakeMongooseIM(request.param, clock=lambda: T0) as server:
        yield server


def _bodies(n: int) -> list[str]:
    return [f"message {i}" for i in range(n, 0, -1)]


@pytest.mark.parametrize("run", [1, 13, 49])
async def test_runs_sharing_a_timestamp_come_once(fake: FakeMongooseIM, run: int) -> None:
    fake.seed_conversation(fake.owner, PEER, 160, same_timestamp=run)
    async with mh.connect(fake.config) as client:
        texts = [m.text async for m in client.history(PEER)]
    assert texts == _bodies(160)


async def test_paging_sends_the_oldest_stamp_back(fake: FakeMongooseIM) -> None:
    rows = fake.seed_conversation(fake.owner, PEER, 60, same_timestamp=5)
    async with mh.connect(fake.config) as client:
        assert len([m async for m in client.history(PEER)]) == 60
    first, second = reads(fake.requests)[:2]
    assert before_sent(first) is None
    oldest_of_first_page = rows[10].timestamp  # the last 50 of 60 start at index 10
    expected = {
        # REST stamps are rounded, so one unit is added to be sure nothing slips between
        "admin-rest": str(int(oldest_of_first_page.timestamp()) + 1),
        "client-rest": str(int(oldest_of_first_page.timestamp() * 1000) + 1),
        "graphql": oldest_of_first_page.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }[fake.api]
    assert before_sent(second) == expected


async def test_rounded_seconds_do_not_hide_messages() -> None:
    """Admin REST rounds: a message at 12:00:00.4 shows as 12:00:00 but lies after it,
    so asking ``before=12:00:00`` next would miss older messages of that second."""
    async with FakeMongooseIM("admin-rest") as fake:
        stamps = [T0 + timedelta(milliseconds=100 + i) for i in range(5)]  # older, unseen
        stamps += [T0 + timedelta(milliseconds=400 + i) for i in range(10)]
        stamps += [T0 + timedelta(seconds=5, milliseconds=i) for i in range(40)]
        for i, when in enumerate(stamps):
            fake.deliver_inbound(PEER, f"m{i}", to=fake.owner, timestamp=when)
        async with mh.connect(fake.config) as client:
            texts = [m.text async for m in client.history(PEER)]
    assert texts == [f"m{i}" for i in range(54, -1, -1)]


@pytest.mark.parametrize("api", ["admin-rest", "client-rest"])
async def test_more_than_a_page_in_one_rest_unit_ends_with_a_warning(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """70 messages in one millisecond: REST cannot page through them (the documented
    case). The walk terminates, newest first, without duplicates, and warns."""
    async with FakeMongooseIM(api, clock=lambda: T0) as fake:
        fake.seed_conversation(fake.owner, PEER, 20, end=T0 - timedelta(hours=1))
        fake.seed_conversation(fake.owner, PEER, 70, same_timestamp=True, end=T0)
        with caplog.at_level(logging.WARNING, logger="messaging_hub.adapters.mongooseim"):
            async with mh.connect(fake.config) as client:
                messages = [m async for m in client.history(PEER)]
        requests = len(reads(fake.requests))
    ids = [m.id for m in messages]
    assert len(ids) == len(set(ids))
    stamps = [m.created_at for m in messages]
    assert stamps == sorted(stamps, reverse=True)
    texts = [m.text for m in messages]
    # the newest 50 of the crowded millisecond, then everything older than it
    assert texts[:50] == _bodies(70)[:50]
    assert texts[-20:] == _bodies(20)
    assert "timestamp" in caplog.text
    assert requests <= 4


async def test_graphql_pages_exactly_through_a_crowded_millisecond(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """MongooseIM gives every archived message its own microsecond, and GraphQL shows
    and takes microseconds: nothing is skipped and nothing is warned about."""
    async with FakeMongooseIM("graphql", clock=lambda: T0) as fake:
        fake.seed_conversation(fake.owner, PEER, 20, end=T0 - timedelta(hours=1))
        fake.seed_conversation(fake.owner, PEER, 170, same_timestamp=True, end=T0)
        with caplog.at_level(logging.WARNING, logger="messaging_hub.adapters.mongooseim"):
            async with mh.connect(fake.config) as client:
                texts = [m.text async for m in client.history(PEER)]
    assert texts == _bodies(170) + _bodies(20)
    assert caplog.text == ""


async def test_limit_reads_one_small_page(fake: FakeMongooseIM) -> None:
    fake.seed_conversation(fake.owner, PEER, 30)
    async with mh.connect(fake.config) as client:
        texts = [m.text async for m in client.history(PEER, limit=3)]
    assert texts == _bodies(30)[:3]
    (read,) = reads(fake.requests)
    limit = read.query.get("limit") if read.method == "GET" else read.json()["variables"]["limit"]
    assert str(limit) == "3"


async def test_a_lower_server_cap_is_followed_with_page_size() -> None:
    async with FakeMongooseIM("client-rest", max_result_limit=20) as fake:
        fake.seed_conversation(fake.owner, PEER, 45, same_timestamp=3)
        async with mh.connect({**fake.config, "page_size": 20}) as client:
            texts = [m.text async for m in client.history(PEER)]
    assert texts == _bodies(45)


async def test_graphql_learns_the_cap_from_the_answer() -> None:
    async with FakeMongooseIM("graphql", max_result_limit=20) as fake:
        fake.seed_conversation(fake.owner, PEER, 45, same_timestamp=3)
        async with mh.connect(fake.config) as client:
            texts = [m.text async for m in client.history(PEER)]
    assert texts == _bodies(45)


async def test_history_fields(fake: FakeMongooseIM) -> None:
    fake.seed_conversation(fake.owner, PEER, 2)
    async with mh.connect(fake.config) as client:
        newer, older = [m async for m in client.history("Bob@LOCALHOST")]
    assert (newer.text, older.text) == ("message 2", "message 1")
    assert newer.direction is mh.Direction.INBOUND and older.direction is mh.Direction.OUTBOUND
    assert newer.session_id == older.session_id == PEER
    assert newer.sender is not None and newer.sender.value.startswith(PEER)
    assert older.recipients and older.recipients[0].value.startswith(PEER)
    assert newer.kind is mh.MessageKind.CHAT
    assert newer.raw is not None


@pytest.mark.parametrize("api", ["admin-rest", "client-rest"])
async def test_identical_messages_split_by_a_page_boundary_both_come(api: Api) -> None:
    """Two "ok" from a client that sets no stanza id, in one second: REST shows them
    identically, yet they are two messages and the user must see both."""
    async with FakeMongooseIM(api, clock=lambda: T0) as fake:
        for i in range(60):
            twin = i in (9, 10)
            fake.deliver_inbound(
                PEER,
                "ok" if twin else f"m{i}",
                to=fake.owner,
                timestamp=T0 - timedelta(seconds=10 * (60 - (10 if twin else i))),
                stanza_id="" if twin else None,
            )
        async with mh.connect(fake.config) as client:
            texts = [m.text async for m in client.history(PEER)]
    expected = ["ok" if i in (9, 10) else f"m{i}" for i in range(59, -1, -1)]
    assert texts == expected


@pytest.mark.parametrize("api", ["admin-rest", "client-rest"])
async def test_a_server_capping_pages_below_page_size_loses_nothing(api: Api) -> None:
    """REST does not say that mod_mam's max_result_limit (here 20) cut a page of 50
    short: a short page is the end only once a further read brings nothing new."""
    async with FakeMongooseIM(api, max_result_limit=20, clock=lambda: T0) as fake:
        fake.seed_conversation(fake.owner, PEER, 45, same_timestamp=3)
        async with mh.connect(fake.config) as client:
            texts = [m.text async for m in client.history(PEER)]
    assert texts == _bodies(45)


@pytest.mark.parametrize("count", [1, 7, 49])
async def test_a_history_shorter_than_a_page_costs_at_most_two_reads(
    fake: FakeMongooseIM, count: int
) -> None:
    fake.seed_conversation(fake.owner, PEER, count, same_timestamp=True)
    async with mh.connect(fake.config) as client:
        texts = [m.text async for m in client.history(PEER)]
    assert texts == _bodies(count)
    assert len(reads(fake.requests)) == (1 if fake.api == "graphql" else 2)
