"""Push notifications of the fake RingCentral server: subscriptions, the
WebSocket gateway and webhook calls.

* ``/restapi/v1.0/subscription`` (create, list, get, update, renew, delete)
  and ``POST /restapi/oauth/wstoken`` on the API port;
* a WebSocket gateway on its own loopback port (``wstoken`` names it):
  ``ConnectionDetails`` first, then ``ClientRequest`` frames (subscription
  calls tunnelled over the socket), ``Heartbeat`` and ``ServerNotification``
  frames, each a JSON array ``[meta, body?]``;
* every stored message is pushed to the live subscriptions whose event
  filters match: inbound SMS as instant-message events (the whole message),
  other changes as message-store events naming new ids;
* WebHook subscriptions get the ``Validation-Token`` handshake on creation
  and a ``Verification-Token`` header on every call.

Knobs: ``subscription_ttl`` (seconds a subscription lives without renewal),
:meth:`PushApi.expire_subscriptions`, :meth:`PushApi.drop_websockets`;
``store_reads`` counts message-store and message-sync reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import attrs
from aiohttp import web

from messaging_hub.testing.ringcentral_state import RingCentralState
from messaging_hub.testing.ringcentral_store import ApiError, StoredMessage, format_time

__all__ = ["FakeSubscription", "PushApi"]

SUBSCRIPTION = "/restapi/v1.0/subscription"
WS_TOKEN_TTL = 60
DEFAULT_TTL = {"WebSocket": 900.0, "WebHook": 604800.0}
_INSTANT_FIELDS = (
    "id", "to", "from", "type", "creationTime", "lastModifiedTime", "readStatus", "priority",
    "attachments", "direction", "availability", "subject", "messageStatus", "conversationId",
    "conversation",
)  # fmt: skip


@attrs.define(eq=False)
class _Socket:
    """One gateway connection and its ordered outbox."""

    ws: web.WebSocketResponse
    outbox: asyncio.Queue[str | None] = attrs.field(factory=asyncio.Queue)

    def send(self, frame: Sequence[Any]) -> None:
        """Queue a frame (sent in order by the connection's writer)."""
        self.outbox.put_nowait(json.dumps(list(frame)))


@attrs.define(eq=False)
class FakeSubscription:
    """One subscription as the fake holds it."""

    id: str
    event_filters: list[str]
    transport: str
    created: datetime
    expires_at: datetime
    address: str | None = None
    verification_token: str | None = None
    socket: _Socket | None = None
    outbox: asyncio.Queue[dict[str, Any]] | None = None
    notifications: int = 0


class PushApi(RingCentralState):
    """Subscription endpoints, the WebSocket gateway and webhook delivery."""

    def __init__(self, *, subscription_ttl: float | None = None, **options: Any) -> None:
        if subscription_ttl is not None and subscription_ttl < 1:
            raise ValueError("subscription_ttl must be at least 1 second")
        self.subscription_ttl = subscription_ttl
        self.subscriptions: dict[str, FakeSubscription] = {}
        self.subscription_calls: Counter[str] = Counter()
        """Subscription operations served: create, renew, update, delete, get, list."""
        self.webhook_calls: list[tuple[str, int]] = []
        """(address, answer status) of every webhook call, handshakes included."""
        self._ws_tokens: dict[str, datetime] = {}
        self._sockets: set[_Socket] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._gateway: web.AppRunner | None = None
        self._gateway_port = 0
        self._http: aiohttp.ClientSession | None = None
        super().__init__(**options)

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        """Start the API and the WebSocket gateway (its own loopback port)."""
        await super().start()
        app = web.Application()
        app.router.add_get("/ws", self._gateway_handler)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, self._host, 0, ssl_context=self.ssl_context)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self._gateway_port = server.sockets[0].getsockname()[1]
        self._gateway = runner
        self._http = aiohttp.ClientSession()

    async def stop(self) -> None:
        """Stop the gateway, webhook deliveries and the API."""
        await self.drop_websockets()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._gateway is not None:
            await self._gateway.cleanup()
            self._gateway = None
        await super().stop()

    @property
    def gateway_uri(self) -> str:
        """The WebSocket gateway's URI (what ``wstoken`` answers)."""
        scheme = "wss" if self.ssl_context is not None else "ws"
        return f"{scheme}://{self._host}:{self._gateway_port}/ws"

    # -- test helpers --------------------------------------------------------
    @property
    def store_reads(self) -> int:
        """Message-store and message-sync reads served so far (proof of no polling)."""
        return sum(
            1
            for r in self.requests
            if r.method == "GET" and ("/message-store" in r.path or "/message-sync" in r.path)
        )

    @property
    def websocket_count(self) -> int:
        """Open gateway connections."""
        return len(self._sockets)

    def expire_subscriptions(self) -> None:
        """Let every subscription lapse now, as if its renewal never came."""
        self.subscriptions.clear()

    async def drop_websockets(self) -> None:
        """Close every gateway connection (their subscriptions end with them)."""
        for socket in list(self._sockets):
            socket.outbox.put_nowait(None)
            with contextlib.suppress(Exception):
                await socket.ws.close(code=aiohttp.WSCloseCode.GOING_AWAY)
            self._forget(socket)

    # -- pushing ----------------------------------------------------------------
    def add_message(self, **fields: Any) -> StoredMessage:
        """Store a message (see :meth:`RingCentralState.add_message`) and push it."""
        message = super().add_message(**fields)
        self._notify(message)
        return message

    def _notify(self, message: StoredMessage) -> None:
        for subscription in list(self.subscriptions.values()):
            if not self._alive(subscription):
                continue
            for event_filter in subscription.event_filters:
                event = self._event(event_filter, message, subscription)
                if event is not None:
                    self._deliver(subscription, event)

    def _event(
        self, event_filter: str, message: StoredMessage, subscription: FakeSubscription
    ) -> dict[str, Any] | None:
        parts = urlsplit(event_filter)
        query = dict(parse_qsl(parts.query))
        segments = parts.path.rstrip("/").split("/")
        # /restapi/v1.0/account/{a}/extension/{e}/message-store[/instant]
        if len(segments) < 7 or segments[1:3] != ["restapi", "v1.0"]:
            return None
        if segments[3] != "account" or segments[4] not in ("~", self.account_id):
            return None
        if segments[5] != "extension" or segments[6] not in ("~", self.extension_id):
            return None
        tail = segments[7:]
        if tail == ["message-store", "instant"]:
            if message.type != query.get("type", "SMS") or message.direction != "Inbound":
                return None
            rendered = self._render(message)
            body = {k: rendered[k] for k in _INSTANT_FIELDS if k in rendered}
            body["id"] = str(message.id)  # strings in the documented event
            if message.conversation_id is not None:
                body["conversationId"] = str(message.conversation_id)
            body["ownerId"] = self.extension_id
        elif tail == ["message-store"]:
            if query.get("type", message.type) != message.type:
                return None
            if query.get("direction", message.direction) != message.direction:
                return None
            body = {
                "accountId": self.account_id,
                "extensionId": self.extension_id,
                "lastUpdated": format_time(message.last_modified_time),
                "changes": [
                    {"type": message.type, "newCount": 1, "updatedCount": 0,
                     "newMessageIds": [message.id]}
                ],
            }  # fmt: skip
        else:
            return None
        return {
            "uuid": str(uuid.uuid4()),
            "event": event_filter.replace("/account/~", f"/account/{self.account_id}").replace(
                "/extension/~", f"/extension/{self.extension_id}"
            ),
            "timestamp": format_time(self._now()),
            "subscriptionId": subscription.id,
            "ownerId": self.extension_id,
            "body": body,
        }

    def _deliver(self, subscription: FakeSubscription, event: dict[str, Any]) -> None:
        subscription.notifications += 1
        if subscription.socket is not None:
            meta = {
                "type": "ServerNotification",
                "messageId": event["uuid"],
                "status": 200,
                "headers": {"RCRequestId": str(uuid.uuid4())},
            }
            subscription.socket.send([meta, event])
        elif subscription.outbox is not None:
            subscription.outbox.put_nowait(event)

    # -- subscriptions (shared by HTTP and the gateway) --------------------------
    def _alive(self, subscription: FakeSubscription) -> bool:
        if self._now() >= subscription.expires_at:
            self.subscriptions.pop(subscription.id, None)
            return False
        return subscription.id in self.subscriptions

    def _sub_get(self, subscription_id: str) -> FakeSubscription:
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None or not self._alive(subscription):
            raise ApiError.not_found("subscriptionId")
        return subscription

    def _ttl(self, transport: str, requested: Any) -> float:
        if self.subscription_ttl is not None:
            return self.subscription_ttl
        if isinstance(requested, int) and not isinstance(requested, bool) and requested > 0:
            return float(requested)
        return DEFAULT_TTL.get(transport, 900.0)

    def _render_subscription(self, subscription: FakeSubscription) -> dict[str, Any]:
        left = (subscription.expires_at - self._now()).total_seconds()
        mode: dict[str, Any] = {"transportType": subscription.transport, "encryption": False}
        if subscription.address is not None:
            mode["address"] = subscription.address
        return {
            "uri": f"{self.origin}{SUBSCRIPTION}/{subscription.id}",
            "id": subscription.id,
            "eventFilters": list(subscription.event_filters),
            "expirationTime": format_time(subscription.expires_at),
            "expiresIn": max(0, round(left)),
            "status": "Active",
            "creationTime": format_time(subscription.created),
            "deliveryMode": mode,
        }

    @staticmethod
    def _filters(body: Mapping[str, Any]) -> list[str]:
        filters = body.get("eventFilters")
        if not filters:
            raise ApiError.missing("eventFilters")
        if not isinstance(filters, list) or not all(
            isinstance(f, str) and f.startswith("/restapi/") for f in filters
        ):
            raise ApiError.invalid("eventFilters")
        return list(filters)

    async def _sub_create(self, body: Any, socket: _Socket | None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "CMN-103", "JSON can't be parsed.")
        filters = self._filters(body)
        mode = body.get("deliveryMode")
        if not isinstance(mode, dict):
            raise ApiError.missing("deliveryMode")
        transport = mode.get("transportType")
        if transport == "WebSocket":
            if socket is None:
                # WebSocket subscriptions are made over the gateway connection.
                raise ApiError.invalid("deliveryMode.transportType")
            address = token = None
        elif transport == "WebHook":
            address, token = mode.get("address"), mode.get("verificationToken")
            if not isinstance(address, str) or urlsplit(address).scheme not in ("http", "https"):
                raise ApiError.invalid("deliveryMode.address")
            if token is not None and not isinstance(token, str):
                raise ApiError.invalid("deliveryMode.verificationToken")
            await self._handshake(address, token)
        else:
            raise ApiError.invalid("deliveryMode.transportType")
        now = self._now()
        subscription = FakeSubscription(
            id=str(uuid.uuid4()),
            event_filters=filters,
            transport=transport,
            created=now,
            expires_at=now + timedelta(seconds=self._ttl(transport, body.get("expiresIn"))),
            address=address,
            verification_token=token,
            socket=socket,
        )
        if socket is not None:
            # One subscription per gateway session: a new one replaces the old.
            for other in list(self.subscriptions.values()):
                if other.socket is socket:
                    del self.subscriptions[other.id]
        else:
            subscription.outbox = asyncio.Queue()
            self._spawn(self._webhook_sender(subscription))
        self.subscriptions[subscription.id] = subscription
        self.subscription_calls["create"] += 1
        return self._render_subscription(subscription)

    def _sub_renew(self, subscription_id: str) -> dict[str, Any]:
        subscription = self._sub_get(subscription_id)
        self.subscription_calls["renew"] += 1
        subscription.expires_at = self._now() + timedelta(
            seconds=self._ttl(subscription.transport, None)
        )
        return self._render_subscription(subscription)

    def _sub_update(self, subscription_id: str, body: Any) -> dict[str, Any]:
        subscription = self._sub_get(subscription_id)
        if not isinstance(body, dict):
            raise ApiError(400, "CMN-103", "JSON can't be parsed.")
        subscription.event_filters = self._filters(body)
        self.subscription_calls["update"] += 1
        subscription.expires_at = self._now() + timedelta(
            seconds=self._ttl(subscription.transport, body.get("expiresIn"))
        )
        return self._render_subscription(subscription)

    def _sub_delete(self, subscription_id: str) -> None:
        self._sub_get(subscription_id)
        self.subscription_calls["delete"] += 1
        self.subscriptions.pop(subscription_id, None)

    # -- HTTP handlers (wrapped by FakeRingCentral._op) ---------------------------
    async def _http_create(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(await self._sub_create(await self._json(request), None))

    async def _http_list(self, request: web.Request) -> web.StreamResponse:
        self.subscription_calls["list"] += 1
        records = [
            self._render_subscription(s)
            for s in list(self.subscriptions.values())
            if self._alive(s)
        ]
        return web.json_response({"uri": f"{self.origin}{SUBSCRIPTION}", "records": records})

    async def _http_get(self, request: web.Request) -> web.StreamResponse:
        self.subscription_calls["get"] += 1
        subscription = self._sub_get(request.match_info["subscriptionId"])
        return web.json_response(self._render_subscription(subscription))

    async def _http_update(self, request: web.Request) -> web.StreamResponse:
        body = await self._json(request)
        return web.json_response(self._sub_update(request.match_info["subscriptionId"], body))

    async def _http_renew(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self._sub_renew(request.match_info["subscriptionId"]))

    async def _http_delete(self, request: web.Request) -> web.StreamResponse:
        self._sub_delete(request.match_info["subscriptionId"])
        return web.Response(status=204)

    async def _http_ws_token(self, request: web.Request) -> web.StreamResponse:
        token = secrets.token_urlsafe(24)
        self._ws_tokens[token] = self._now() + timedelta(seconds=WS_TOKEN_TTL)
        return web.json_response(
            {"uri": self.gateway_uri, "ws_access_token": token, "expires_in": WS_TOKEN_TTL}
        )

    # -- the WebSocket gateway ------------------------------------------------------
    async def _gateway_handler(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("access_token", "")
        expires = self._ws_tokens.pop(token, None)  # single use
        if expires is None or self._now() >= expires:
            return web.json_response(
                {"errorCode": "WSG-401", "message": "Invalid or expired access token"},
                status=401,
            )
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        socket = _Socket(ws)
        self._sockets.add(socket)
        writer = self._spawn(self._writer(socket))
        socket.send(
            [
                {
                    "type": "ConnectionDetails",
                    "messageId": str(uuid.uuid4()),
                    "status": 200,
                    "wsc": {"token": secrets.token_urlsafe(16), "sequence": 1},
                    "headers": {"RCRequestId": str(uuid.uuid4())},
                },
                {
                    "creationTime": format_time(self._now()),
                    "maxConnectionsPerSession": 50,
                    "recoveryBufferSize": 100,
                    "recoveryTimeout": 180,
                    "idleTimeout": 1800,
                    "absoluteTimeout": 86400,
                    "maxActiveRequests": 10,
                },
            ]
        )
        try:
            async for frame in ws:
                if frame.type is aiohttp.WSMsgType.TEXT:
                    await self._gateway_frame(socket, frame.data)
        finally:
            self._forget(socket)
            socket.outbox.put_nowait(None)
            with contextlib.suppress(BaseException):
                await writer
        return ws

    async def _writer(self, socket: _Socket) -> None:
        while (text := await socket.outbox.get()) is not None:
            try:
                await socket.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    def _forget(self, socket: _Socket) -> None:
        self._sockets.discard(socket)
        for subscription in list(self.subscriptions.values()):
            if subscription.socket is socket:
                # A WebSocket subscription lives only as long as its session.
                del self.subscriptions[subscription.id]

    async def _gateway_frame(self, socket: _Socket, text: str) -> None:
        try:
            data = json.loads(text)
            meta = data[0]
            kind = meta["type"]
            message_id = meta.get("messageId")
        except (ValueError, LookupError, TypeError):
            socket.send(
                [
                    {"type": "Error", "status": 400, "messageId": None},
                    {"errorCode": "WSG-400", "message": "Invalid message format"},
                ]
            )
            return
        if kind == "Heartbeat":
            socket.send([{"type": "Heartbeat", "messageId": message_id, "status": 200}])
            return
        if kind != "ClientRequest":
            return
        body = data[1] if len(data) > 1 else None
        status, answer = await self._gateway_request(
            socket, str(meta.get("method", "")).upper(), str(meta.get("path", "")), body
        )
        reply_meta = {
            "type": "ClientRequest",
            "messageId": message_id,
            "status": status,
            "headers": {"RCRequestId": str(uuid.uuid4()), "Content-Type": "application/json"},
        }
        socket.send([reply_meta] if answer is None else [reply_meta, answer])

    async def _gateway_request(
        self, socket: _Socket, method: str, path: str, body: Any
    ) -> tuple[int, Any]:
        parts = path.split("?", 1)[0].rstrip("/").split("/")
        root = SUBSCRIPTION.split("/")
        try:
            if parts[: len(root)] != root:
                raise ApiError.not_found("path")
            rest = parts[len(root) :]
            if method == "POST" and not rest:
                return 200, await self._sub_create(body, socket)
            if method == "POST" and len(rest) == 2 and rest[1] == "renew":
                return 200, self._sub_renew(rest[0])
            if method == "PUT" and len(rest) == 1:
                return 200, self._sub_update(rest[0], body)
            if method == "GET" and len(rest) == 1:
                self.subscription_calls["get"] += 1
                return 200, self._render_subscription(self._sub_get(rest[0]))
            if method == "DELETE" and len(rest) == 1:
                self._sub_delete(rest[0])
                return 204, None
            raise ApiError.not_found("path")
        except ApiError as error:
            return error.status, error.body()

    # -- webhooks -------------------------------------------------------------------
    async def _handshake(self, address: str, verification_token: str | None) -> None:
        challenge = secrets.token_urlsafe(24)
        headers = {"Validation-Token": challenge, "User-Agent": "RingCentral-Webhook/8.3"}
        if verification_token is not None:
            headers["Verification-Token"] = verification_token
        status, answered = await self._call(address, headers, b"")
        if status != 200 or answered != challenge:
            raise ApiError(400, "SUB-525", "WebHook server response is invalid")

    async def _call(
        self, address: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, str | None]:
        assert self._http is not None, "the fake is not running"
        try:
            async with self._http.post(
                address, headers=headers, data=body, timeout=aiohttp.ClientTimeout(total=3)
            ) as response:
                await response.read()
                status, echoed = response.status, response.headers.get("Validation-Token")
        except (aiohttp.ClientError, OSError, TimeoutError):
            status, echoed = 0, None
        self.webhook_calls.append((address, status))
        return status, echoed

    async def _webhook_sender(self, subscription: FakeSubscription) -> None:
        assert subscription.outbox is not None and subscription.address is not None
        while True:
            event = await subscription.outbox.get()
            headers = {"Content-Type": "application/json; charset=UTF-8"}
            if subscription.verification_token is not None:
                headers["Verification-Token"] = subscription.verification_token
            await self._call(subscription.address, headers, json.dumps(event).encode())

    def _spawn(self, coroutine: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
