"""MongooseIM push: listen() over Server-Sent Events (client REST ``/sse``,
GraphQL ``subscribeForMessages``), archive catch-up, and admin REST polling.

Everything runs over real loopback HTTP against the fake.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, cast

import aiohttp
import anyio
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream

import messaging_hub as mh
from messaging_hub.adapters.mongooseim import MongooseIMAdapter
from messaging_hub.adapters.mongooseim.push import SseEvent, SseParser
from messaging_hub.inbound import Delivery
from messaging_hub.testing.mongooseim import Api, FakeMongooseIM

pytestmark = pytest.mark.anyio

BOB = "bob@localhost"
# (api, graphql_admin): every API configuration that pushes.
PUSHING = [
    pytest.param("client-rest", False, id="client-rest"),
    pytest.param("graphql", False, id="graphql-user"),
    pytest.param("graphql", True, id="graphql-admin"),
]


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for state the fake exposes (callers bound it with fail_after)."""
    while True:
        if condition():
            return
        await anyio.sleep(0.01)


@asynccontextmanager
async def _listening(
    client: mh.Adapter[Any], **options: Any
) -> AsyncIterator[MemoryObjectReceiveStream[mh.Message]]:
    """listen() running in a task; the test reads what it yields."""
    send, receive = anyio.create_memory_object_stream[mh.Message](100)
    async with anyio.create_task_group() as tg:

        async def bot() -> None:
            async with send:
                async for message in mh.listen(client, max_backoff=0.05, **options):
                    await send.send(message)

        tg.start_soon(bot)
        try:
            async with receive:
                yield receive
        finally:
            tg.cancel_scope.cancel()


async def _live(fake: FakeMongooseIM, messages: MemoryObjectReceiveStream[mh.Message]) -> None:
    """Wait for the stream, then for a probe message: once it is yielded the
    initial catch-up is over (it yields only after reading everything)."""
    await _until(lambda: fake.sse_streams(fake.owner) == 1)
    fake.deliver_inbound(BOB, "probe")
    assert (await messages.receive()).text == "probe"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _fake(api: Api, admin: bool) -> FakeMongooseIM:
    return FakeMongooseIM(api, graphql_admin=admin)


@pytest.mark.parametrize(("api", "admin"), PUSHING)
async def test_a_delivered_message_is_pushed_without_reading_the_archive(
    api: Api, admin: bool
) -> None:
    async with _fake(api, admin) as fake, mh.connect(fake.config) as client:
        assert mh.Capability.PUSH in client.capabilities
        with anyio.fail_after(10):
            async with _listening(client) as messages:
                await _live(fake, messages)
                reads = fake.archive_reads
                got = []
                for text in ("one", "two", "three"):
                    row = fake.deliver_inbound(f"{BOB}/phone", text)
                    with anyio.fail_after(1):
                        got.append(await messages.receive())
                    if api == "client-rest":
                        assert got[-1].id == row.stanza_id
                assert fake.archive_reads == reads  # pushed, not polled
                assert fake.sse_connections == 1
    assert [m.text for m in got] == ["one", "two", "three"]
    for message in got:
        assert message.session_id == BOB
        assert message.direction is mh.Direction.INBOUND
        assert message.sender == mh.Address(f"{BOB}/phone", mh.AddressKind.JID)
        assert message.kind is mh.MessageKind.CHAT
        assert message.provider == "mongooseim"


@pytest.mark.parametrize(("api", "admin"), PUSHING)
async def test_a_dropped_stream_loses_nothing_and_repeats_nothing(api: Api, admin: bool) -> None:
    async with _fake(api, admin) as fake, mh.connect(fake.config) as client:
        with anyio.fail_after(10):
            async with _listening(client) as messages:
                await _live(fake, messages)
                fake.deliver_inbound(BOB, "pushed before the drop")
                assert (await messages.receive()).text == "pushed before the drop"
                # The first reconnect is refused too: the listener backs off and retries.
                fake.fail(path=r"/sse$", status=503)
                assert fake.drop_sse() == 1
                # Delivered while no stream is open: only the archive has them.
                fake.deliver_inbound(BOB, "while down 1")
                fake.deliver_inbound("kate@localhost", "while down 2")
                got = [await messages.receive(), await messages.receive()]
                await _until(lambda: fake.sse_streams(fake.owner) == 1)
                reads = fake.archive_reads
                fake.deliver_inbound(BOB, "pushed after the reconnect")
                got.append(await messages.receive())
                fake.deliver_inbound(BOB, "and the next")
                got.append(await messages.receive())
                assert fake.archive_reads == reads
    assert [m.text for m in got] == [
        "while down 1",
        "while down 2",
        "pushed after the reconnect",
        "and the next",  # not a repeat of anything the catch-up re-read
    ]
    assert got[1].session_id == "kate@localhost"
    assert fake.sse_connections == 2  # the first and the reconnect
    assert len(fake.requests_to("GET", r"/sse$")) == 3  # and the refused one between
    assert not fake.pending_faults


@pytest.mark.parametrize(("api", "admin"), PUSHING)
async def test_messages_from_before_listening_are_replayed_only_with_since(
    api: Api, admin: bool
) -> None:
    async with _fake(api, admin) as fake, mh.connect(fake.config) as client:
        old = fake.deliver_inbound(BOB, "before listening")
        with anyio.fail_after(10):
            async with _listening(client) as messages:
                await _live(fake, messages)  # the probe comes first: the old one is skipped
            since = old.timestamp - timedelta(seconds=1)
            async with _listening(client, since=since) as messages:
                replayed = [await messages.receive(), await messages.receive()]
    assert [m.text for m in replayed] == ["before listening", "probe"]


async def test_headlines_and_bodyless_stanzas_are_not_yielded() -> None:
    async with FakeMongooseIM("graphql") as fake, mh.connect(fake.config) as client:
        bob_graphql = f"{fake.origin}/user/api/graphql"
        headline = (
            'mutation H($to: JID!) { stanza { sendMessageHeadLine(to: $to, body: "news") { id } } }'
        )
        with anyio.fail_after(10):
            async with _listening(client) as messages, aiohttp.ClientSession() as http:
                await _live(fake, messages)
                answer = await http.post(
                    bob_graphql,
                    json={"query": headline, "variables": {"to": fake.owner}},
                    headers={"Authorization": _basic(BOB, fake.users[BOB])},
                )
                assert answer.status == 200
                assert "errors" not in await answer.json()
                fake.deliver_inbound(BOB, "real chat")
                message = await messages.receive()
    # The headline was pushed first (the fake routes it) and skipped.
    assert message.text == "real chat"


async def test_graphql_listen_and_history_name_a_message_by_its_own_id() -> None:
    async with FakeMongooseIM("graphql") as fake, mh.connect(fake.config) as client:
        with anyio.fail_after(10):
            async with _listening(client) as messages:
                await _live(fake, messages)
                row = fake.deliver_inbound(BOB, "which id?", stanza_id="xmpp-id-1")
                pushed = await messages.receive()
            (archived,) = [m async for m in client.history(BOB, limit=1)]
    # The pushed event carries the stanza's id, not the archive id history shows.
    assert pushed.id == "xmpp-id-1"
    assert archived.id == row.external_id


@pytest.mark.parametrize("api", ["admin-rest", "client-rest", "graphql"])
async def test_push_is_declared_where_the_api_pushes(api: Api) -> None:
    async with FakeMongooseIM(api) as fake, mh.connect(fake.config) as client:
        assert isinstance(client, MongooseIMAdapter)
        assert (mh.Capability.PUSH in client.capabilities) is (api != "admin-rest")
        assert mh.Capability.HISTORY in client.capabilities
    assert mh.Capability.PUSH not in MongooseIMAdapter.capabilities


async def test_admin_rest_listen_polls_the_archive() -> None:
    async with FakeMongooseIM("admin-rest") as fake, mh.connect(fake.config) as client:
        fake.deliver_inbound(BOB, "old news")
        with anyio.fail_after(10):
            async with _listening(client, poll_interval=0.05) as messages:
                await _until(lambda: fake.archive_reads > 0)
                fake.deliver_inbound(BOB, "polled for you")
                message = await messages.receive()
                reads = fake.archive_reads
                await _until(lambda: fake.archive_reads > reads)  # it keeps polling
    assert message.text == "polled for you"
    assert fake.sse_connections == 0


async def test_refused_credentials_are_not_retried() -> None:
    async with FakeMongooseIM("client-rest") as fake:
        config = {**fake.config, "password": "wrong"}
        async with mh.connect(config) as client:
            source = client.inbound_source()
            with pytest.raises(mh.AuthenticationError):
                await anext(source.stream(None))
            await source.aclose()
            with anyio.fail_after(10), pytest.raises(mh.AuthenticationError):
                async for _ in mh.listen(client, max_backoff=0.05):
                    pass  # pragma: no cover - nothing is yielded
    assert len(fake.requests_to("GET", r"/sse$")) == 1
    assert fake.sse_connections == 0


async def test_an_unknown_caller_is_refused_with_the_resolver_error() -> None:
    async with FakeMongooseIM("graphql", graphql_admin=True) as fake:
        config = {**fake.config, "owner": "nobody@localhost"}
        async with mh.connect(config) as client:
            source = client.inbound_source()
            with pytest.raises(mh.NotFound) as caught:
                await anext(source.stream(None))
            await source.aclose()
    assert caught.value.code == "unknown_user"


async def test_a_malformed_pushed_event_makes_the_listener_catch_up() -> None:
    async with FakeMongooseIM("client-rest") as fake, mh.connect(fake.config) as client:
        source = client.inbound_source()
        stream = cast(AsyncGenerator[Delivery, None], source.stream(None))
        try:
            with anyio.fail_after(10):
                await anext(stream)
                row = fake.deliver_inbound(BOB, "fine")
                delivery = await anext(stream)
                assert delivery.message is not None and delivery.message.id == row.stanza_id
                assert delivery.cursor < row.timestamp  # resumes a little earlier
        finally:
            await stream.aclose()
            await source.aclose()
        bad = SseEvent("message", '{"from": "x@y", "timestamp": "soon"}')
        with pytest.raises(mh.MalformedResponse):
            source._pushed(bad)  # type: ignore[attr-defined]


# -- the event-stream parser ------------------------------------------------------------


def test_the_parser_reads_events_split_anywhere() -> None:
    raw = (
        '\ufeff: keep-alive\r\nid: 1\r\nevent: message\r\ndata: {"a":\r\ndata: 1}\r\n\r\n'
        "data: plain\r\rid: 2\ndata: x\n\nevent: dangling\n\n"
    ).encode()
    for size in (1, 2, 3, 7, len(raw)):
        parser = SseParser()
        events: list[SseEvent] = []
        for start in range(0, len(raw), size):
            events.extend(parser.feed(raw[start : start + size]))
        assert events == [
            SseEvent("message", '{"a":\n1}', "1"),
            SseEvent("message", "plain", "1"),
            SseEvent("message", "x", "2"),
        ], size


def test_the_parser_refuses_an_endless_event() -> None:
    parser = SseParser(max_event_chars=100)
    parser.feed(b"data: " + b"x" * 50 + b"\n")
    with pytest.raises(mh.MalformedResponse):
        parser.feed(b"data: " + b"y" * 60 + b"\n")
    with pytest.raises(mh.MalformedResponse):
        SseParser(max_event_chars=100).feed(b"data: " + b"z" * 200)  # no line end yet


# -- the fake's streams, as MongooseIM 6.5.0 sends them --------------------------------


async def _first_event(response: aiohttp.ClientResponse) -> SseEvent:
    parser = SseParser()
    while True:
        events = parser.feed(await response.content.readany())
        if events:
            return events[0]


async def test_the_fake_client_stream_speaks_the_swagger_format() -> None:
    async with FakeMongooseIM("client-rest") as fake, aiohttp.ClientSession() as http:
        url = f"{fake.origin}/client/api/sse"
        alice = _basic(fake.owner, fake.users[fake.owner])
        async with http.get(url) as refused:
            assert refused.status == 401
            assert refused.headers["WWW-Authenticate"] == 'Basic realm="mongooseim"'
        with anyio.fail_after(10):
            async with http.get(url, headers={"Authorization": alice}) as response:
                assert response.status == 200
                assert response.content_type == "text/event-stream"
                row = fake.deliver_inbound(f"{BOB}/phone", "over SSE")
                event = await _first_event(response)
    assert (event.event, event.id) == ("message", "1")
    data = json.loads(event.data)
    assert {k: data[k] for k in ("from", "to", "id", "body")} == {
        "from": f"{BOB}/phone",
        "to": fake.owner,
        "id": row.stanza_id,
        "body": "over SSE",
    }
    assert data["timestamp"] >= row.timestamp_us  # microseconds of the push, not ms


async def test_the_fake_graphql_stream_takes_subscriptions_by_get_only() -> None:
    async with FakeMongooseIM("graphql") as fake, aiohttp.ClientSession() as http:
        url = f"{fake.origin}/api/graphql/sse"
        alice = {"Authorization": _basic(fake.owner, fake.users[fake.owner])}
        query = "query Q { stanza { getLastMessages { limit } } }"
        async with http.post(url, headers=alice, json={"query": query}) as posted:
            assert posted.status == 405
        async with http.get(url, headers=alice, params={"query": query}) as wrong:
            assert wrong.status == 400
            (error,) = (await wrong.json())["errors"]
        assert error["extensions"]["code"] == "unsupported_operation"
        assert "sse execution method does not support query" in error["message"]
