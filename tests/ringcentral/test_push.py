"""RingCentral push: listen() over the WebSocket gateway, subscriptions, webhooks.

Everything runs over real loopback connections against the fake: the
gateway on its own port, webhooks into an aiohttp app or an ASGI callable.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web
from anyio.streams.memory import MemoryObjectReceiveStream

import messaging_hub as mh
from messaging_hub.adapters.ringcentral import RingCentralAdapter
from messaging_hub.adapters.ringcentral.api import INSTANT_SMS_FILTER
from messaging_hub.adapters.ringcentral.wire import DeliveryModeRequest
from messaging_hub.testing.ringcentral import FakeRingCentral

pytestmark = pytest.mark.anyio

REMOTE = "+14155550123"
TOKEN = "s3cret-verification"


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


async def _live(fake: FakeRingCentral, reads: int = 2) -> None:
    """Wait until the listener subscribed and finished its first catch-up
    (a full sync for the token, then one incremental sync)."""
    await _until(lambda: bool(fake.subscriptions) and fake.store_reads >= reads)


# -- listen() over the WebSocket gateway ---------------------------------------------


async def test_a_delivered_sms_reaches_listen_without_polling(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    assert {mh.Capability.PUSH, mh.Capability.WEBHOOKS} <= {
        c for c in mh.Capability if c in client.capabilities
    }
    with anyio.fail_after(5):
        async with _listening(client) as messages:
            await _live(fake)
            reads = fake.store_reads
            (subscription,) = fake.subscriptions.values()
            assert subscription.transport == "WebSocket"
            assert INSTANT_SMS_FILTER in subscription.event_filters
            stored = fake.deliver_inbound(REMOTE, "pushed to you")
            with anyio.fail_after(1):
                message = await messages.receive()
            assert fake.store_reads == reads  # pushed, not polled
    assert message.text == "pushed to you"
    assert message.id == str(stored.id)
    assert message.session_id == str(stored.conversation_id)
    assert message.direction is mh.Direction.INBOUND
    assert message.kind is mh.MessageKind.SMS
    assert message.sender == mh.Address(REMOTE, mh.AddressKind.PHONE)
    assert fake.subscription_calls["create"] == 1


async def test_pager_messages_are_pushed_too(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    with anyio.fail_after(5):
        async with _listening(client) as messages:
            await _live(fake)
            stored = fake.deliver_pager("102", "page one")
            message = await messages.receive()
    assert (message.text, message.kind, message.id) == (
        "page one",
        mh.MessageKind.PAGER,
        str(stored.id),
    )
    # The pager event names the new id; it is read once, by id.
    assert len(fake.requests_to("GET", rf"/message-store/{stored.id}$")) == 1


async def test_a_dropped_socket_loses_nothing_and_repeats_nothing(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    texts: list[str] = []
    with anyio.fail_after(10):
        async with _listening(client) as messages:
            await _live(fake)
            fake.deliver_inbound(REMOTE, "a")
            texts.append((await messages.receive()).text)
            await fake.drop_websockets()
            assert not fake.subscriptions  # the session's subscription ended with it
            fake.deliver_inbound(REMOTE, "b")  # nobody to push to: caught up later
            fake.deliver_inbound("+14155550999", "c")
            texts.append((await messages.receive()).text)
            texts.append((await messages.receive()).text)
            await _until(lambda: bool(fake.subscriptions))
            fake.deliver_inbound(REMOTE, "d")
            texts.append((await messages.receive()).text)
            # Anything repeated would come before this one.
            fake.deliver_inbound(REMOTE, "e")
            texts.append((await messages.receive()).text)
    assert texts == ["a", "b", "c", "d", "e"]
    assert fake.subscription_calls["create"] == 2  # it reconnected and subscribed again


async def test_a_refused_sync_token_restarts_from_the_newest_message(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    with anyio.fail_after(10):
        async with _listening(client) as messages:
            await _live(fake)
            fake.deliver_inbound(REMOTE, "first")
            assert (await messages.receive()).text == "first"
            await fake.drop_websockets()
            # The next incremental sync is refused, as for a token too old.
            refused = fake.fail(status=400, path="/message-sync", body=json.dumps(
                {"errorCode": "CMN-101", "message": "Parameter [syncToken] value is invalid",
                 "parameterName": "syncToken"}))  # fmt: skip
            fake.deliver_inbound(REMOTE, "while down")
            assert (await messages.receive()).text == "while down"
            fake.deliver_inbound(REMOTE, "after")
            assert (await messages.receive()).text == "after"  # "first" not again
    assert refused not in fake.pending_faults
    fsyncs = [
        r for r in fake.requests_to("GET", "/message-sync") if r.query.get("syncType") == "FSync"
    ]
    assert len(fsyncs) == 2 and "dateFrom" in fsyncs[1].query


async def test_the_subscription_is_renewed_before_it_expires() -> None:
    async with (
        FakeRingCentral(rate_limiting=False, subscription_ttl=1) as fake,
        mh.connect(fake.config) as client,
    ):
        with anyio.fail_after(10):
            async with _listening(client) as messages:
                await _live(fake)
                reads = fake.store_reads
                await _until(lambda: fake.subscription_calls["renew"] >= 3)  # > 1.5 s
                fake.deliver_inbound(REMOTE, "still subscribed")
                with anyio.fail_after(1):
                    message = await messages.receive()
                assert fake.store_reads == reads
        assert message.text == "still subscribed"
        assert fake.subscription_calls["create"] == 1  # never lapsed


async def test_a_lapsed_subscription_is_replaced_and_the_gap_caught_up() -> None:
    async with (
        FakeRingCentral(rate_limiting=False, subscription_ttl=2) as fake,
        mh.connect(fake.config) as client,
    ):
        with anyio.fail_after(10):
            async with _listening(client) as messages:
                await _live(fake)
                fake.expire_subscriptions()  # as if a renewal had been missed
                fake.deliver_inbound(REMOTE, "sent while lapsed")
                message = await messages.receive()
        assert message.text == "sent while lapsed"
        # The renewal found it gone (404): a new socket, a new subscription.
        assert fake.subscription_calls["create"] == 2


async def test_listen_since_replays_earlier_messages_then_pushes(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    earlier = fake.deliver_inbound(REMOTE, "before listening")
    since = earlier.creation_time - timedelta(seconds=1)
    with anyio.fail_after(5):
        async with _listening(client, since=since) as messages:
            first = await messages.receive()
            fake.deliver_inbound(REMOTE, "after")
            second = await messages.receive()
    assert [first.text, second.text] == ["before listening", "after"]


async def test_refused_websocket_permission_ends_the_listener(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    fake.fail(status=403, path="/oauth/wstoken", body=json.dumps(
        {"errorCode": "CMN-401", "message": "In order to call this API endpoint, application "
         "needs to have [WebSocketsSubscription] permission"}), times=1)  # fmt: skip
    with anyio.fail_after(5), pytest.raises(mh.PermissionDenied):
        async for _ in mh.listen(client):
            pass


async def test_unknown_options_are_refused_before_any_io(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    with pytest.raises(mh.InvalidRequest):
        async for _ in mh.listen(client, poll_interval=1):
            pass
    with pytest.raises(mh.InvalidRequest):
        mh.webhooks.aiohttp_app(client, on_message=print, verification_tokn="x")
    assert fake.requests == []


# -- the native subscription endpoints -------------------------------------------------


async def test_subscription_endpoints_round_trip(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    received: list[mh.Message] = []
    async with _webhook_site(client, received) as url:
        api = client.native
        created = await api.create_webhook_subscription(url, verification_token=TOKEN)
        assert created.status == "Active"
        assert created.event_filters == [INSTANT_SMS_FILTER]
        assert created.delivery_mode is not None
        assert created.delivery_mode.transport_type == "WebHook"
        assert created.expires_in is not None and created.expires_in > 0
        assert [s.id for s in (await api.list_subscriptions()).records] == [created.id]
        assert (await api.get_subscription(created.id)).id == created.id
        renewed = await api.renew_subscription(created.id)
        assert renewed.id == created.id
        pager = "/restapi/v1.0/account/~/extension/~/message-store?type=Pager"
        updated = await api.update_subscription(created.id, event_filters=[pager])
        assert updated.event_filters == [pager]
        await api.delete_subscription(created.id)
        with pytest.raises(mh.NotFound):
            await api.get_subscription(created.id)
        with pytest.raises(mh.NotFound):
            await api.renew_subscription(created.id)
        token = await api.get_ws_token()
        assert token.uri.startswith("ws://127.0.0.1:")
        assert token.ws_access_token not in repr(token)
    assert fake.subscription_calls["renew"] == 1


async def test_subscription_arguments_are_checked_before_sending(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    api = client.native
    with pytest.raises(mh.InvalidRequest):
        await api.create_webhook_subscription("ftp://example.invalid/hook")
    with pytest.raises(mh.InvalidRequest):
        await api.create_webhook_subscription("https://example.invalid/h", event_filters=[])
    with pytest.raises(mh.InvalidRequest):
        await api.create_subscription(
            event_filters=["message-store"], delivery_mode=DeliveryModeRequest("WebSocket")
        )
    with pytest.raises(mh.InvalidRequest):
        await api.create_webhook_subscription(
            "https://example.invalid/h", verification_token="two words"
        )
    with pytest.raises(mh.InvalidRequest):
        await api.get_subscription("")
    assert fake.requests_to("POST", "/subscription") == []


# -- webhooks --------------------------------------------------------------------------


@asynccontextmanager
async def _webhook_site(
    client: mh.Adapter[Any], received: list[mh.Message], token: str = TOKEN
) -> AsyncIterator[str]:
    """A web app on loopback with the webhook sub-app mounted at /hooks/."""
    arrived = anyio.Event()

    async def on_message(message: mh.Message) -> None:
        received.append(message)
        arrived.set()

    app = web.Application()
    app.add_subapp("/hooks/", mh.webhooks.aiohttp_app(
        client, on_message=on_message, verification_token=token))  # fmt: skip
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/hooks/ringcentral"
    finally:
        await runner.cleanup()


def _notification(body: dict[str, Any] | None = None) -> dict[str, Any]:
    """An instant-message event shaped like the documented sample."""
    return {
        "uuid": "ed1cf00c-0420-4bf5-a0ae-e659bb9f77e0",
        "event": "/restapi/v1.0/account/~/extension/823476228762/message-store/instant?type=SMS",
        "subscriptionId": "dc853541-66ac-45d8-a289-1a239fd72888",
        "ownerId": "823476228762",
        "timestamp": "2013-06-14T12:00:00.000Z",
        "body": body
        if body is not None
        else {
            "id": "606090030016",
            "to": [{"phoneNumber": "+16508974563", "location": "Moss Beach, CA"}],
            "from": {"phoneNumber": "+14157809227", "name": "John Smith"},
            "type": "SMS",
            "creationTime": "2016-02-22T17:01:00.000Z",
            "lastModifiedTime": "2016-02-22T17:01:00.000Z",
            "readStatus": "Unread",
            "priority": "Normal",
            "attachments": [{"id": "606090030016", "type": "Text", "contentType": "text/plain"}],
            "direction": "Inbound",
            "availability": "Alive",
            "subject": "Hi there",
            "messageStatus": "Received",
            "conversationId": "7876416245344257449",
        },
    }


async def test_webhook_handshake_then_events_reach_the_aiohttp_app(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    received: list[mh.Message] = []
    async with _webhook_site(client, received) as url:
        await client.native.create_webhook_subscription(url, verification_token=TOKEN)
        stored = fake.deliver_inbound(REMOTE, "via webhook")
        with anyio.fail_after(5):
            await _until(lambda: len(received) == 1)
    (message,) = received
    assert (message.text, message.id, message.session_id) == (
        "via webhook",
        str(stored.id),
        str(stored.conversation_id),
    )
    assert message.direction is mh.Direction.INBOUND
    assert [status for _, status in fake.webhook_calls] == [200, 200]  # handshake, event


async def test_a_webhook_created_with_another_token_fails_its_handshake(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    async with _webhook_site(client, []) as url:
        with pytest.raises(mh.BadRequest) as caught:
            await client.native.create_webhook_subscription(url, verification_token="forged")
    assert caught.value.code == "SUB-525"
    assert [status for _, status in fake.webhook_calls] == [403]
    assert not fake.subscriptions


async def test_forged_and_garbage_webhook_calls_get_4xx(client: RingCentralAdapter) -> None:
    received: list[mh.Message] = []
    good = json.dumps(_notification()).encode()
    calls: list[tuple[dict[str, str], bytes, int]] = [
        ({"Verification-Token": "forged"}, good, 403),
        ({}, good, 403),  # no token at all
        ({"Verification-Token": "forged", "Validation-Token": "x"}, b"", 403),
    ]
    garbage = [
        b"not json",
        b"[]",
        b'{"event": 5}',
        json.dumps(_notification({"id": "not-a-number"})).encode(),
        json.dumps({**_notification(), "body": "text"}).encode(),
        b"[" * 100_000,
        b"\xff\xfe",
    ]
    calls += [({"Verification-Token": TOKEN}, body, 400) for body in garbage]
    async with _webhook_site(client, received) as url, aiohttp.ClientSession() as http:
        for headers, body, expected in calls:
            async with http.post(url, headers=headers, data=body) as answer:
                assert answer.status == expected, (headers, body[:40])
        async with http.post(url, headers={"Verification-Token": TOKEN}, data=good) as answer:
            assert answer.status == 200
    assert [m.text for m in received] == ["Hi there"]  # only the genuine call


async def _asgi_call(
    app: Any, headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[int, dict[bytes, bytes], bytes]:
    """One HTTP request through an ASGI callable, the way a server drives it."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/hooks/ringcentral",
        "root_path": "/hooks",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("192.0.2.10", 443),
    }
    sent: list[dict[str, Any]] = []
    events = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return events.pop(0) if events else {"type": "http.disconnect"}

    async def send(event: dict[str, Any]) -> None:
        sent.append(event)

    await app(scope, receive, send)
    start, end = sent
    return start["status"], dict(start["headers"]), end["body"]


async def test_the_asgi_app_answers_the_handshake_and_checks_the_token(
    client: RingCentralAdapter,
) -> None:
    received: list[mh.Message] = []
    app = mh.webhooks.asgi_app(client, on_message=received.append, verification_token=TOKEN)
    good = json.dumps(_notification()).encode()
    status, headers, _ = await _asgi_call(
        app, [(b"validation-token", b"abc-123"), (b"verification-token", TOKEN.encode())], b""
    )
    assert (status, headers.get(b"Validation-Token")) == (200, b"abc-123")
    status, _, _ = await _asgi_call(app, [(b"verification-token", TOKEN.encode())], good)
    assert status == 200
    status, _, _ = await _asgi_call(app, [(b"verification-token", b"nope")], good)
    assert status == 403
    status, _, _ = await _asgi_call(app, [(b"validation-token", b"a\r\nSet-Cookie: x")], b"")
    assert status == 400
    status, _, _ = await _asgi_call(app, [(b"verification-token", TOKEN.encode())], b"{")
    assert status == 400
    (message,) = received
    assert message.text == "Hi there"
    assert message.created_at == datetime(2016, 2, 22, 17, 1, tzinfo=UTC)
    assert message.session_id == "7876416245344257449"
