"""Sessions are derived from the owner's recent archive, grouped by counterpart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

import messaging_hub as mh
from messaging_hub.adapters.mongooseim.adapter import REMEMBERED_RECIPIENTS
from messaging_hub.testing.mongooseim import FakeMongooseIM

from ._helpers import APIS, T0

pytestmark = pytest.mark.anyio

USERS = {"alice@localhost": "secret", "bob@localhost": "secret", "kate@localhost": "pw"}


@pytest.fixture(params=APIS)
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeMongooseIM]:
    async with FakeMongooseIM(request.param, USERS, clock=lambda: T0) as server:
        yield server


async def test_sessions_most_recent_first_one_per_counterpart(fake: FakeMongooseIM) -> None:
    fake.deliver_inbound("bob@localhost/phone", "b1", to=fake.owner, timestamp=T0 - timedelta(9))
    fake.deliver_inbound("kate@localhost", "k1", to=fake.owner, timestamp=T0 - timedelta(5))
    fake.seed_conversation(
        fake.owner, "bob@localhost", 80, same_timestamp=10, end=T0 - timedelta(3)
    )
    fake.deliver_inbound("zed@remote.example", "z1", to=fake.owner, timestamp=T0 - timedelta(1))
    async with mh.connect(fake.config) as client:
        assert mh.Capability.DERIVED_SESSIONS in client.capabilities
        assert mh.Capability.SESSIONS in client.capabilities
        sessions = [s async for s in client.sessions()]
    assert [s.id for s in sessions] == ["zed@remote.example", "bob@localhost", "kate@localhost"]
    zed, bob, kate = sessions
    assert zed.last_text == "z1" and kate.last_text == "k1"
    assert bob.last_text == "message 80"
    # the run of ten shares T0 - 3 days to the millisecond (MongooseIM adds microseconds)
    assert bob.last_activity is not None
    assert timedelta(0) <= bob.last_activity - (T0 - timedelta(3)) < timedelta(milliseconds=1)
    assert all(s.kind is mh.MessageKind.CHAT for s in sessions)
    assert [p.value for p in kate.participants] == [fake.owner, "kate@localhost"]


async def test_sessions_limit_stops_reading(fake: FakeMongooseIM) -> None:
    fake.seed_conversation(fake.owner, "kate@localhost", 200, end=T0 - timedelta(1))
    fake.deliver_inbound("bob@localhost", "latest", to=fake.owner)
    async with mh.connect(fake.config) as client:
        (first,) = [s async for s in client.sessions(limit=1)]
    assert first.id == "bob@localhost"
    assert len(fake.requests) == 1


async def test_a_conversation_started_here_is_listed(fake: FakeMongooseIM) -> None:
    """Admin REST records name no recipient; the adapter remembers whom it wrote to."""
    fake.deliver_inbound("kate@localhost", "old", to=fake.owner, timestamp=T0 - timedelta(1))
    async with mh.connect(fake.config) as client:
        receipt = await client.send(mh.Outgoing(to=["Bob@localhost"], text="new"))
        sessions = [s async for s in client.sessions()]
    assert receipt.session_id == "bob@localhost"
    assert [s.id for s in sessions] == ["bob@localhost", "kate@localhost"]
    assert sessions[0].last_text == "new"


async def test_admin_rest_cannot_see_recipients_it_did_not_send_to() -> None:
    """The documented gap: an outgoing-only conversation made elsewhere is invisible."""
    async with FakeMongooseIM("admin-rest", USERS) as fake:
        fake.seed_conversation(fake.owner, "kate@localhost", 1)  # one message, from the owner
        async with mh.connect(fake.config) as client:
            assert [s.id async for s in client.sessions()] == []


async def test_admin_rest_remembers_only_the_latest_recipients() -> None:
    """A bot writing to many peers must not make sessions() one read per peer ever written to."""
    async with FakeMongooseIM("admin-rest", USERS, clock=lambda: T0) as fake:
        async with mh.connect(fake.config) as client:
            for i in range(60):
                await client.send(mh.Outgoing(to=[f"p{i}@remote.example"], text=f"to {i}"))
            await client.send(mh.Outgoing(to=["p3@remote.example"], text="again"))
            fake.requests.clear()
            sessions = [s.id async for s in client.sessions()]
        reads = len(fake.requests)
    others = range(59, 59 - REMEMBERED_RECIPIENTS + 1, -1)
    assert sessions == ["p3@remote.example"] + [f"p{i}@remote.example" for i in others]
    assert reads <= REMEMBERED_RECIPIENTS + 3
