"""Each API's time unit becomes an aware UTC datetime; ``before`` goes out in that unit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

import messaging_hub as mh
from messaging_hub.testing.mongooseim import Api, FakeMongooseIM

from ._helpers import APIS, T0, before_sent, native_read, reads

pytestmark = pytest.mark.anyio

STAMP = T0 + timedelta(microseconds=600_250)  # 12:00:00.600250


@pytest.fixture(params=APIS)
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeMongooseIM]:
    async with FakeMongooseIM(request.param) as server:
        yield server


async def test_created_at_in_each_api_unit(fake: FakeMongooseIM) -> None:
    fake.deliver_inbound("bob@localhost", "hi", to="alice@localhost", timestamp=STAMP)
    async with mh.connect(fake.config) as client:
        (message,) = [m async for m in client.history("bob@localhost")]
    expected = {
        "admin-rest": T0 + timedelta(seconds=1),  # whole seconds, rounded
        "client-rest": T0 + timedelta(milliseconds=600),  # milliseconds, rounded down
        "graphql": STAMP,  # microseconds
    }[fake.api]
    assert message.created_at == expected
    assert message.created_at.tzinfo is UTC


async def test_before_is_sent_in_each_api_unit(fake: FakeMongooseIM) -> None:
    when = datetime(2024, 5, 1, 12, 0, 0, 987654, tzinfo=UTC)
    async with mh.connect(fake.config) as client:
        await native_read(client.native, fake.owner, "bob@localhost", before=when)
    (read,) = reads(fake.requests)
    expected = {
        "admin-rest": "1714564800",
        "client-rest": "1714564800987",
        "graphql": "2024-05-01T12:00:00.987654Z",
    }[fake.api]
    assert before_sent(read) == expected


async def test_before_selects_in_each_api_unit(fake: FakeMongooseIM) -> None:
    """A message stamped exactly at ``before`` is returned (the server is inclusive)."""
    fake.deliver_inbound("bob@localhost", "at", to="alice@localhost", timestamp=T0)
    fake.deliver_inbound(
        "bob@localhost", "after", to="alice@localhost", timestamp=T0 + timedelta(seconds=5)
    )
    async with mh.connect(fake.config) as client:
        assert await native_read(client.native, fake.owner, before=T0) == ["at"]
        assert await native_read(client.native, fake.owner) == ["at", "after"]


@pytest.mark.parametrize("api", ["admin-rest", "client-rest", "graphql"])
async def test_naive_before_is_refused_before_io(api: Api) -> None:
    naive = datetime(2024, 5, 1, 12, 0, 0)
    async with FakeMongooseIM(api) as fake, mh.connect(fake.config) as client:
        with pytest.raises(mh.InvalidRequest) as info:
            await native_read(client.native, fake.owner, "bob@localhost", before=naive)
        assert info.value.field == "before"
        assert fake.requests == []
