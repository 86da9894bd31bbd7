"""GraphQL: documents stay constant, input travels in variables, user and admin roles."""

from __future__ import annotations

import json

import pytest

import messaging_hub as mh
from messaging_hub.adapters.mongooseim.graphql import (
    ADMIN_GET_LAST_MESSAGES,
    ADMIN_SEND_MESSAGE,
    GET_LAST_MESSAGES,
    SEND_MESSAGE,
)
from messaging_hub.testing.mongooseim import FakeMongooseIM

pytestmark = pytest.mark.anyio

NASTY = 'hi") { id } } mutation X { stanza { sendMessage(to: "kate@localhost", body: "$'


@pytest.mark.parametrize("admin", [False, True])
async def test_user_input_only_in_variables(admin: bool) -> None:
    async with FakeMongooseIM("graphql", graphql_admin=admin) as fake:
        async with mh.connect(fake.config) as client:
            await client.send(mh.Outgoing(to=["bob@localhost"], text=NASTY))
            texts = [m.text async for m in client.history("bob@localhost")]
        assert texts == [NASTY]
        send, read = (json.loads(r.body) for r in fake.requests)
        assert send["query"] == (ADMIN_SEND_MESSAGE if admin else SEND_MESSAGE)
        assert read["query"] == (ADMIN_GET_LAST_MESSAGES if admin else GET_LAST_MESSAGES)
        assert send["variables"]["body"] == NASTY
        if admin:
            assert send["variables"]["from"] == fake.owner
            assert read["variables"]["caller"] == fake.owner
        else:
            assert "from" not in send["variables"] and "caller" not in read["variables"]
        assert fake.archive("kate@localhost") == []


async def test_admin_acts_for_the_owner() -> None:
    async with FakeMongooseIM("graphql", graphql_admin=True) as fake:
        fake.deliver_inbound("kate@remote.example", "for bob", to="bob@localhost")
        config = {**fake.config, "owner": "bob@localhost"}
        async with mh.connect(config) as client:
            receipt = await client.send(mh.Outgoing(to=["kate@remote.example"], text="reply"))
            messages = [m async for m in client.history(receipt.session_id)]
            sessions = [s.id async for s in client.sessions()]
        assert [(m.text, m.direction) for m in messages] == [
            ("reply", mh.Direction.OUTBOUND),
            ("for bob", mh.Direction.INBOUND),
        ]
        assert sessions == ["kate@remote.example"]
        assert messages[0].id != receipt.message_ids[0]  # archive id vs stanza id
        assert messages[0].raw.message_id == receipt.message_ids[0]


async def test_reads_are_retried_and_sends_are_not() -> None:
    async with FakeMongooseIM("graphql") as fake, mh.connect(fake.config) as client:
        fake.fail(status=503, body="busy", content_type="text/plain")
        assert [m async for m in client.history("bob@localhost")] == []
        assert len(fake.requests) == 2
        fake.fail(status=503, body="busy", content_type="text/plain")
        with pytest.raises(mh.ProviderUnavailable):
            await client.send(mh.Outgoing(to=["bob@localhost"], text="once"))
        assert len(fake.requests) == 3


async def test_a_nulled_stanza_does_not_end_history_early() -> None:
    """A field error nulls one list item (HTTP 200 with ``errors``): the page was still
    full, so the walk reads on instead of taking the short list for the archive's end."""
    async with FakeMongooseIM("graphql") as fake:
        fake.seed_conversation(fake.owner, "bob@localhost", 60)
        rows = fake.archive(fake.owner)[-50:]
        stanzas: list[dict[str, str] | None] = [
            {
                "sender": row.sender,
                "timestamp": row.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "stanza_id": row.external_id,
                "stanza": row.stanza_xml(),
            }
            for row in rows
        ]
        stanzas[25] = None
        error = {"message": "bad stanza", "path": ["stanza", "getLastMessages", "stanzas", 25]}
        page = {"data": {"stanza": {"getLastMessages": {"stanzas": stanzas, "limit": 50}}}}
        fake.fail(status=200, body=json.dumps({**page, "errors": [error]}))
        async with mh.connect(fake.config) as client:
            texts = [m.text async for m in client.history("bob@localhost")]
    assert len(texts) == 59
    assert texts[-1] == "message 1"
