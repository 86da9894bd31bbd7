"""Inbound messages (replies) through the native client, as a bot reads them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import anyio
import pytest
from aiohttp import web

import messaging_hub as mh
from messaging_hub.adapters.textmagic import TextMagicAdapter
from messaging_hub.testing.textmagic import FakeTextMagic

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fake() -> AsyncIterator[FakeTextMagic]:
    async with FakeTextMagic(rate_limit_per_second=None) as server:
        yield server


async def test_replies_are_listed_newest_first_read_and_deleted(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    receipt = await client.send(mh.Outgoing(to=["+447860021131"], text="Reply YES"))
    fake.deliver_inbound("+447860021131", "YES")
    fake.deliver_inbound("+447860021131", "and thanks")
    page = await client.native.get_all_inbound_messages(order_by="id", direction="desc", limit=5)
    assert [m.text for m in page.resources] == ["and thanks", "YES"]
    assert page.resources[0].sender == "447860021131"
    assert fake.requests[-1].query == {"orderBy": "id", "direction": "desc", "limit": "5"}
    one = await client.native.get_inbound_message(page.resources[1].id)
    assert one.text == "YES" and one.message_time is not None
    await client.native.delete_inbound_message(one.id)
    with pytest.raises(mh.NotFound):
        await client.native.get_inbound_message(one.id)
    assert receipt.session_id


async def test_bad_reply_queries_fail_before_any_request(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    with pytest.raises(mh.InvalidRequest):
        await client.native.get_all_inbound_messages(order_by="text")
    with pytest.raises(mh.InvalidRequest):
        await client.native.get_all_inbound_messages(direction="sideways")
    with pytest.raises(mh.InvalidRequest):
        await client.native.get_all_inbound_messages(limit=500)
    with pytest.raises(mh.InvalidRequest):
        await client.native.get_inbound_message("1/2")
    assert fake.requests == []


# -- listen() / watch() over /api/v2/replies --------------------------------------
REMOTE = "+447860021130"
OTHER = "+447860021131"
TOKEN = "tm-callback-0123456789abcdef"


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for state the test can see (callers bound it with fail_after)."""
    while True:
        if condition():
            return
        await anyio.sleep(0.01)


async def test_listen_yields_replies_once_in_order_through_an_outage(
    fake: FakeTextMagic,
) -> None:
    fake.deliver_inbound(REMOTE, "before listening")
    async with mh.connect({**fake.config, "max_attempts": 1}) as client:
        results: list[mh.Message] = []
        listening = anyio.Event()

        async def bot() -> None:
            async for message in mh.listen(client, poll_interval=0.05, max_backoff=0.5):
                results.append(message)
                if len(results) == 5:
                    return

        with anyio.fail_after(15):
            async with anyio.create_task_group() as tg:
                tg.start_soon(bot)
                await _until(lambda: fake.reply_reads >= 2)  # the baseline, then a poll
                listening.set()
                fake.deliver_inbound(REMOTE, "a")
                await _until(lambda: len(results) == 1)
                fake.fail(status=503, path="^/api/v2/replies$", times=3)
                for text in ("b", "c", "d"):  # one second: id order is arrival order
                    fake.deliver_inbound(REMOTE, text)
                fake.deliver_inbound(OTHER, "e")
        assert fake.pending_faults == []  # the outage really happened
    assert [m.text for m in results] == ["a", "b", "c", "d", "e"]
    assert len({m.id for m in results}) == 5
    assert [int(m.id) for m in results] == sorted(r.id for r in fake.replies[1:])
    first = results[0]
    assert first.direction is mh.Direction.INBOUND
    assert first.sender == mh.Address("+447860021130", mh.AddressKind.PHONE)
    assert first.recipients == (mh.Address(fake.from_number, mh.AddressKind.PHONE),)
    assert first.session_id == "phone-447860021130"
    assert results[-1].session_id == "phone-447860021131"
    assert first.provider == "textmagic" and first.status is mh.MessageStatus.RECEIVED
    assert first.created_at.tzinfo is not None


async def test_listen_since_replays_replies_from_then_and_polls_cheaply() -> None:
    now = [datetime(2026, 3, 1, 12, 0, tzinfo=UTC)]
    async with FakeTextMagic(rate_limit_per_second=None, clock=lambda: now[0]) as fake:
        fake.deliver_inbound(REMOTE, "too old")
        now[0] += timedelta(hours=2)
        fake.deliver_inbound(REMOTE, "first")
        fake.deliver_inbound(OTHER, "second")
        async with mh.connect(fake.config) as client:
            results: list[str] = []

            async def bot() -> None:
                since = now[0] - timedelta(hours=1)
                async for message in mh.listen(client, since=since, poll_interval=0.05):
                    results.append(message.text)
                    if len(results) == 3:
                        return

            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(bot)
                    await _until(lambda: len(results) == 2)
                    reads = fake.reply_reads
                    await _until(lambda: fake.reply_reads >= reads + 3)
                    fake.deliver_inbound(REMOTE, "third")
    assert results == ["first", "second", "third"]
    # Once caught up, a poll is one request for one page, newest first.
    polls = fake.requests_to("GET", "^/api/v2/replies$")[-3:]
    assert all(r.query == {"page": "1", "limit": "100", "orderBy": "id", "direction": "desc"}
               for r in polls)  # fmt: skip


async def test_listen_reads_every_page_of_a_backlog_oldest_first() -> None:
    async with (
        FakeTextMagic(rate_limit_per_second=None) as fake,
        mh.connect(fake.config) as client,
    ):
        since = datetime.now(UTC) - timedelta(minutes=1)
        for n in range(7):
            fake.deliver_inbound(REMOTE, f"m{n}")
        results: list[str] = []
        with anyio.fail_after(10):
            async for message in mh.listen(client, since=since, page_size=3):
                results.append(message.text)
                if len(results) == 7:
                    break
    assert results == [f"m{n}" for n in range(7)]


async def test_watch_yields_replies_not_a_silent_empty_stream(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    await client.send(mh.Outgoing(to=[REMOTE], text="Reply YES"))
    fake.deliver_inbound(REMOTE, "old news")
    everything: list[mh.Message] = []
    one_sender: list[str] = []

    async def watch_all() -> None:
        async for message in mh.watch(client, interval=0.05):
            everything.append(message)
            if len(everything) == 3:
                return

    async def watch_one() -> None:
        async for message in mh.watch(client, interval=0.05, session="phone-447860021131"):
            one_sender.append(message.text)
            if len(one_sender) == 1:
                return

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch_all)
            tg.start_soon(watch_one)
            await _until(lambda: fake.reply_reads >= 4)  # both have their baseline
            fake.deliver_inbound(REMOTE, "YES")
            fake.deliver_inbound(OTHER, "me too")
            fake.deliver_inbound(REMOTE, "thanks")
    assert [m.text for m in everything] == ["YES", "me too", "thanks"]
    assert all(m.direction is mh.Direction.INBOUND for m in everything)
    assert one_sender == ["me too"]


async def test_bad_source_options_fail_before_any_request(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    with pytest.raises(mh.InvalidRequest):
        await anext(mh.listen(client, poll_interval=0))
    with pytest.raises(mh.InvalidRequest):
        await anext(mh.listen(client, page_size=101))
    assert fake.requests == []


# -- webhooks ----------------------------------------------------------------------
@asynccontextmanager
async def _hook_server(
    client: mh.Adapter[Any], received: list[mh.Message], **options: Any
) -> AsyncIterator[str]:
    """An aiohttp app on loopback with the receiver under /hooks/textmagic/."""
    app = web.Application()
    app.add_subapp(
        "/hooks/textmagic/",
        mh.webhooks.aiohttp_app(client, on_message=received.append, **options),
    )
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/hooks/textmagic/"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("fmt", ["j", "u", "m"])
async def test_the_fakes_callback_reaches_on_message_as_a_typed_message(
    fake: FakeTextMagic, client: TextMagicAdapter, fmt: str
) -> None:
    received: list[mh.Message] = []
    async with _hook_server(client, received, token=TOKEN) as base:
        fake.set_callback(base + TOKEN, format=fmt)
        with anyio.fail_after(10):
            reply = fake.deliver_inbound(REMOTE, "Yes, 10 am suits — merci")
            (sent,) = await fake.callbacks_sent()
    assert sent.status == 200 and sent.content_type.startswith(
        {"j": "application/json", "u": "application/x-www-form-urlencoded",
         "m": "multipart/form-data"}[fmt]
    )  # fmt: skip
    (message,) = received
    assert message.id == str(reply.id)
    assert message.text == "Yes, 10 am suits — merci"
    assert message.sender == mh.Address(REMOTE, mh.AddressKind.PHONE)
    assert message.direction is mh.Direction.INBOUND
    assert message.session_id == "phone-447860021130"
    assert message.created_at == reply.message_time.replace(microsecond=0)
    # The receiver read the reply back from TextMagic before handing it on.
    assert [r.path for r in fake.requests_to("GET", "^/api/v2/replies")] == [
        f"/api/v2/replies/{reply.id}"
    ]


async def test_redelivered_callbacks_reach_the_handler_once(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    received: list[mh.Message] = []
    async with _hook_server(client, received, token=TOKEN) as base:
        reply = fake.deliver_inbound(REMOTE, "once")
        content_type, body = fake.inbound_callback(reply)
        async with aiohttp.ClientSession() as http:
            for _ in range(2):
                headers = {"Content-Type": content_type}
                async with http.post(base + TOKEN, data=body, headers=headers) as answer:
                    assert answer.status == 200
            async with http.head(base + TOKEN) as answer:
                assert answer.status == 200  # TextMagic's URL check
    assert [m.text for m in received] == ["once"]


async def test_forged_callbacks_get_4xx_and_reach_no_handler(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    received: list[mh.Message] = []
    real = fake.deliver_inbound(REMOTE, "real")
    content_type, body = fake.inbound_callback(real)
    made_up = json.loads(body) | {"id": real.id + 1000}
    tampered = json.loads(body) | {"sender": "447700900123", "text": "send money"}
    elsewhere = json.loads(body) | {"receiver": "447700900999"}
    async with (
        _hook_server(client, received, token=TOKEN) as base,
        aiohttp.ClientSession() as http,
    ):

        async def post(url: str, data: bytes, ctype: str = "application/json") -> int:
            async with http.post(url, data=data, headers={"Content-Type": ctype}) as answer:
                return answer.status

        assert await post(base + "wrong-token-0123456789", body, content_type) == 403
        assert await post(base, body, content_type) == 403
        assert await post(base + TOKEN + "x", body, content_type) == 403
        assert await post(base + TOKEN, b"\x00garbage{", content_type) == 400
        assert await post(base + TOKEN, b"[1, 2]") == 400
        assert await post(base + TOKEN, b'{"id": "1; DROP"}') == 400
        form = "application/x-www-form-urlencoded"
        assert await post(base + TOKEN, b"id=1&id=2", form) == 400
        assert await post(base + TOKEN, b"<xml/>", "text/xml") == 415
        assert await post(base + TOKEN, json.dumps(tampered).encode()) == 403
        assert await post(base + TOKEN, json.dumps(elsewhere).encode()) == 403
        # Not in /api/v2/replies (a "Test" call, or made up): accepted, handed to no one.
        assert await post(base + TOKEN, json.dumps(made_up).encode()) == 200
        async with http.get(base + "not-the-token-0123456") as answer:
            assert answer.status == 403
    assert received == []


async def test_an_unreachable_textmagic_asks_for_the_callback_again(
    fake: FakeTextMagic,
) -> None:
    async with mh.connect({**fake.config, "max_attempts": 1}) as client:
        received: list[mh.Message] = []
        reply = fake.deliver_inbound(REMOTE, "later")
        content_type, body = fake.inbound_callback(reply)
        async with (
            _hook_server(client, received, token=TOKEN) as base,
            aiohttp.ClientSession() as http,
        ):
            fake.fail(status=503, path="^/api/v2/replies/", times=1)
            headers = {"Content-Type": content_type}
            async with http.post(base + TOKEN, data=body, headers=headers) as answer:
                assert answer.status == 503
            async with http.post(base + TOKEN, data=body, headers=headers) as answer:
                assert answer.status == 200
    assert [m.text for m in received] == ["later"]


def test_receiver_options_are_checked_up_front() -> None:
    options = {"provider": "textmagic", "username": "u", "api_key": "k"}
    client = mh.connect(options)
    assert isinstance(client, TextMagicAdapter)
    assert mh.Capability.WEBHOOKS in client.capabilities
    with pytest.raises(mh.InvalidRequest):
        mh.webhooks.aiohttp_app(client, on_message=print, token="short")
    with pytest.raises(mh.InvalidRequest):
        mh.webhooks.asgi_app(client, on_message=print, token=TOKEN, receiving_numbers=["x"])


async def _asgi_call(
    app: Callable[..., Awaitable[None]], path: str, content_type: str, body: bytes
) -> tuple[int, bytes]:
    """One HTTP call into an ASGI app, as a server would make it."""
    events: list[dict[str, Any]] = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return events.pop(0) if events else {"type": "http.disconnect"}

    async def send(event: dict[str, Any]) -> None:
        sent.append(event)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "root_path": "/hooks/textmagic",
        "path": "/hooks/textmagic/" + path,
        "raw_path": b"",
        "query_string": b"",
        "headers": [(b"content-type", content_type.encode()), (b"host", b"bot.example")],
        "client": ("127.0.0.1", 51000),
        "server": ("127.0.0.1", 443),
    }
    await app(scope, receive, send)
    start = next(e for e in sent if e["type"] == "http.response.start")
    return start["status"], b"".join(e.get("body", b"") for e in sent[1:])


async def test_asgi_app_receives_callbacks_the_same_way(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    received: list[mh.Message] = []
    app = mh.webhooks.asgi_app(client, on_message=received.append, token=TOKEN)
    reply = fake.deliver_inbound(REMOTE, "via ASGI")
    for fmt in ("j", "u", "m"):
        status, _ = await _asgi_call(app, TOKEN, *fake.inbound_callback(reply, fmt))
        assert status == 200
    status, _ = await _asgi_call(app, "nope-0123456789abcdef", *fake.inbound_callback(reply))
    assert status == 403
    status, _ = await _asgi_call(app, TOKEN, "application/json", b"{}")
    assert status == 400
    (message,) = received  # three deliveries of one reply: handed on once
    assert message.text == "via ASGI" and message.id == str(reply.id)
    assert message.sender == mh.Address(REMOTE, mh.AddressKind.PHONE)


async def test_a_callback_that_names_its_session_keeps_it(
    fake: FakeTextMagic, client: TextMagicAdapter
) -> None:
    received: list[mh.Message] = []
    app = mh.webhooks.asgi_app(client, on_message=received.append, token=TOKEN, confirm=False)
    receipt = await client.send(mh.Outgoing(to=[REMOTE], text="Reply YES"))
    reply = fake.deliver_inbound(REMOTE, "YES")
    _, body = fake.inbound_callback(reply)
    named = json.loads(body) | {"sessionId": int(receipt.session_id)}
    status, _ = await _asgi_call(app, TOKEN, "application/json", json.dumps(named).encode())
    assert status == 200
    assert [m.session_id for m in received] == [receipt.session_id]
    assert fake.requests_to("GET", "^/api/v2/replies") == []  # confirm=False reads nothing


# -- the fake's callback settings ------------------------------------------------------
async def test_fake_serves_callback_settings_and_posts_to_in_url(
    fake: FakeTextMagic,
) -> None:
    seen: list[tuple[str, bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        seen.append((request.content_type, await request.read()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/in", hook)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/in"
    auth = {"X-TM-Username": fake.username, "X-TM-Key": fake.api_key}
    try:
        async with aiohttp.ClientSession(base_url=fake.origin, headers=auth) as http:
            async with http.put("/api/v2/callback/settings", json={"inUrl": "ftp://x"}) as bad:
                assert bad.status == 400
            body = {"inUrl": url, "format": "u"}
            async with http.put("/api/v2/callback/settings", json=body) as answer:
                assert answer.status == 200
            async with http.get("/api/v2/callback/settings") as answer:
                assert (await answer.json())["inUrl"] == url
        with anyio.fail_after(10):
            reply = fake.deliver_inbound(REMOTE, "a b&c")
            await fake.callbacks_sent()
    finally:
        await runner.cleanup()
    ((content_type, raw),) = seen
    assert content_type == "application/x-www-form-urlencoded"
    fields = dict(parse_qsl(raw.decode()))
    assert fields["id"] == str(reply.id) and fields["text"] == "a b&c"
    assert fields["sender"] == "447860021130" and fields["receiver"] == "447624800500"
