"""RingCentral push: the WebSocket gateway source for ``listen()`` and the webhook receiver.

**WebSocket** (:class:`RingCentralPushSource`, no public URL needed):
``POST /restapi/oauth/wstoken`` gives the gateway ``uri`` and a single-use
token; the client connects to ``<uri>?access_token=<token>`` and the
gateway's first frame is ``ConnectionDetails``. Every frame is a JSON array
``[meta, body?]`` whose ``meta.type`` is ``ConnectionDetails``,
``ClientRequest`` (a REST call tunnelled over the socket, and its answer,
matched by ``messageId``), ``ServerNotification`` (an event), ``Heartbeat``
or ``Error``. The subscription is created over the socket
(``ClientRequest`` ``POST /restapi/v1.0/subscription`` with
``deliveryMode.transportType = "WebSocket"``) and renewed there
(``POST .../subscription/{id}/renew``) before it expires; one that expired
anyway (404) ends the stream, so the listener reconnects and catches up.

Catch-up is message-sync: ``start`` takes a full sync (``FSync``) for its
token (and lists the message store from ``since`` when given); ``catch_up``
reads incremental syncs (``ISync``) from the last token. While the socket
is up nothing is polled.

Inbound SMS/MMS arrive whole in instant-message events
(``.../message-store/instant?type=SMS``). Pager messages have no instant
event: the message-store event for inbound pager messages names the new
ids, and each is read once by id.

**Webhooks** (:class:`RingCentralWebhookReceiver`): RingCentral calls the
address once with a ``Validation-Token`` header when the subscription is
created and expects it echoed in the answer; every call then carries the
``Verification-Token`` given at creation.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import attrs
import cattrs
from yarl import URL

from ...errors import (
    BadRequest,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    ProviderError,
    ProviderUnavailable,
)
from ...inbound.source import Delivery, InboundSource
from ...inbound.webhooks import WebhookReceiver, WebhookRequest, WebhookResponse
from ...models import Message
from ...transport.http import error_for_status
from .adapter import PROVIDER, to_message
from .api import INSTANT_SMS_FILTER
from .errors import error_info, parse_error_body
from .wire import MessageInfo, SubscriptionInfo, converter

if TYPE_CHECKING:
    from .adapter import RingCentralAdapter

__all__ = [
    "INBOUND_PAGER_FILTER",
    "INSTANT_SMS_FILTER",
    "RingCentralPushSource",
    "RingCentralWebhookReceiver",
    "message_from_event",
]

log = logging.getLogger("messaging_hub.inbound")

INBOUND_PAGER_FILTER = (
    "/restapi/v1.0/account/~/extension/~/message-store?type=Pager&direction=Inbound"
)
"""Message-store changes for inbound pager messages (new ids, not the messages)."""
SUBSCRIPTION_PATH = "/restapi/v1.0/subscription"
_KINDS = ("SMS", "Pager")
# ISync also returns old messages that merely changed (read, deleted):
# records created this long before the listener's start are not news.
_OLD_CHANGE_SLACK = timedelta(seconds=60)
_MAX_FRAME = 4 * 1024 * 1024


@attrs.frozen
class _Frame:
    """One gateway frame: its meta object and its body (any JSON, or None)."""

    type: str
    message_id: str | None
    status: int | None
    body: Any


def _frame(raw: str) -> _Frame | None:
    """A frame from the socket's text, or None when it is not one."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        return None
    meta = data[0]
    kind = meta.get("type")
    status = meta.get("status")
    message_id = meta.get("messageId")
    return _Frame(
        type=kind if isinstance(kind, str) else "",
        message_id=message_id if isinstance(message_id, str) else None,
        status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        body=data[1] if len(data) > 1 else None,
    )


def _request_frame(method: str, path: str, body: Any = None) -> tuple[str, str]:
    """A ``ClientRequest`` frame and its message id."""
    message_id = str(uuid.uuid4())
    meta = {"type": "ClientRequest", "messageId": message_id, "method": method, "path": path}
    frame: list[Any] = [meta] if body is None else [meta, body]
    return json.dumps(frame), message_id


def _frame_error(frame: _Frame, what: str) -> ProviderError:
    """The typed error for a failed ``ClientRequest`` answer or an ``Error`` frame."""
    status = frame.status if frame.status is not None else 503
    body = parse_error_body(frame.body)
    if body is None:
        return ProviderUnavailable(
            f"{what} failed on the WebSocket gateway", provider=PROVIDER, status=status
        )
    error = error_for_status(status, error_info(status, body), provider=PROVIDER)
    error.message = f"{what}: {error.message}"
    return error


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def message_from_event(notification: Any) -> Message | None:
    """The message an instant-message event carries (webhook body or
    ``ServerNotification`` body), or None for any other event.

    Raises ValueError when it claims to be one and is malformed.
    """
    if not isinstance(notification, dict):
        raise ValueError("a notification is a JSON object")
    event = notification.get("event")
    if not isinstance(event, str):
        raise ValueError("a notification names its event")
    if "/message-store/instant" not in event:
        return None
    body = notification.get("body")
    if not isinstance(body, dict):
        raise ValueError("an instant-message event has a body object")
    try:
        info = converter.structure(body, MessageInfo)
    except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
        raise ValueError("the instant-message body is not a message") from exc
    if info.direction is None:
        # The event's documented default: instant events are inbound messages.
        info = attrs.evolve(info, direction="Inbound")
    try:
        return to_message(info)
    except InvalidRequest as exc:  # a party that is no address
        raise ValueError("the instant-message body is not a message") from exc


def _pager_ids(notification: Any) -> list[int]:
    """New pager message ids named by a message-store event."""
    if not isinstance(notification, dict):
        return []
    event = notification.get("event")
    body = notification.get("body")
    if not isinstance(event, str) or "/message-store" not in event or not isinstance(body, dict):
        return []
    ids: list[int] = []
    for change in body.get("changes") or ():
        if isinstance(change, dict) and change.get("type") == "Pager":
            for value in change.get("newMessageIds") or ():
                if isinstance(value, int) and not isinstance(value, bool):
                    ids.append(value)
                elif isinstance(value, str) and value.isdigit():
                    ids.append(int(value))
    return ids


class RingCentralPushSource(InboundSource):
    """Inbound SMS/MMS (and pager) messages over RingCentral's WebSocket gateway.

    ``pager`` adds inbound company pager messages; ``renew_margin`` is how
    many seconds before expiry the subscription is renewed; ``heartbeat``
    the seconds between WebSocket pings (a dead connection is noticed
    within about that long); ``connect_timeout`` bounds the wait for the
    gateway's ``ConnectionDetails`` and the subscription's answer.
    """

    push = True

    def __init__(
        self,
        client: RingCentralAdapter,
        *,
        pager: bool = True,
        renew_margin: float = 60.0,
        heartbeat: float = 30.0,
        connect_timeout: float = 30.0,
    ) -> None:
        if renew_margin <= 0 or heartbeat <= 0 or connect_timeout <= 0:
            raise ValueError("renew_margin, heartbeat and connect_timeout must be > 0")
        self.client = client
        self.native = client.native
        self.event_filters = event_filters_for(pager)
        self.renew_margin = renew_margin
        self.heartbeat = heartbeat
        self.connect_timeout = connect_timeout
        self._origin = datetime.now(UTC)
        self._newest: datetime | None = None  # the newest message handed out
        self._backlog: list[MessageInfo] = []
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._expires_at: datetime | None = None
        self.subscription: SubscriptionInfo | None = None
        """The live subscription (None between connections)."""
        self.renewals = 0
        """How many times the subscription was renewed (for monitoring)."""

    # -- starting point and catch-up (message-sync) ------------------------
    async def start(self, since: datetime | None) -> str:
        """The sync token of "now"; with ``since``, also what arrived after it."""
        now = datetime.now(UTC)
        full = await self.native.sync_messages(
            # Only its token matters: one record, and no date in our clock.
            sync_type="FSync",
            message_type=list(_KINDS),
            record_count=1,
        )
        token = full.sync_info.sync_token
        if not token:
            raise MalformedResponse("the full sync gave no syncToken", provider=PROVIDER)
        self._origin = _time(full.sync_info.sync_time) or now
        if since is not None:
            self._origin = since
            # Listed after the sync token was taken: what arrives in between
            # shows up in both, and the listener keeps one.
            found = [
                item
                async for item in self.native.iter_messages(
                    date_from=since, message_type=list(_KINDS)
                )
            ]
            self._backlog = sorted(found, key=_arrival)
        return token

    async def catch_up(self, cursor: str) -> AsyncIterator[Delivery]:
        """The backlog from ``since``, then incremental syncs until nothing is new."""
        while self._backlog:
            yield Delivery(self._handed(to_message(self._backlog.pop(0))), cursor)
        token = cursor
        while True:
            try:
                changes = await self.native.sync_messages(sync_type="ISync", sync_token=token)
            except BadRequest:
                # A token too old (or from another session) is refused: a full
                # sync from shortly before the last message seen starts over.
                changes = await self.native.sync_messages(
                    sync_type="FSync",
                    message_type=list(_KINDS),
                    date_from=max(self._origin, self._newest or self._origin) - _OLD_CHANGE_SLACK,
                )
            following = changes.sync_info.sync_token or token
            fresh = sorted((r for r in changes.records if self._is_news(r)), key=_arrival)
            for index, record in enumerate(fresh):
                # Until the batch is through, resuming re-reads it (the
                # listener drops repeats); only its last message moves on.
                last = index == len(fresh) - 1
                yield Delivery(self._handed(to_message(record)), following if last else token)
            if not fresh and following != token:
                yield Delivery(None, following)
            if not changes.records or following == token:
                return
            token = following

    def _handed(self, message: Message) -> Message:
        """Remember how far the listener got (where a refused sync token restarts)."""
        if self._newest is None or message.created_at > self._newest:
            self._newest = message.created_at
        return message

    def _is_news(self, record: MessageInfo) -> bool:
        if record.type not in _KINDS or record.availability not in (None, "Alive"):
            return False
        created = _time(record.creation_time)
        return created is None or created >= self._origin - _OLD_CHANGE_SLACK

    # -- the stream -----------------------------------------------------------
    async def stream(self, cursor: str) -> AsyncIterator[Delivery]:
        """Connect, subscribe, then yield pushed messages until the socket drops."""
        socket = await self._connect()
        try:
            pending: dict[str, str] = {}
            buffered: list[_Frame] = []
            self.subscription = await self._subscribe(socket, buffered)
            yield Delivery(None, cursor)  # live: the listener may catch up now
            for early in buffered:
                async for delivery in self._notification(early):
                    yield delivery
            while True:
                frame = await self._receive(socket, self._until_renewal())
                if frame is None:  # time to renew
                    await self._renew(socket, pending)
                    continue
                if frame.type == "ServerNotification":
                    async for delivery in self._notification(frame):
                        yield delivery
                elif frame.type == "ClientRequest" and frame.message_id in pending:
                    self._answered(pending.pop(frame.message_id), frame)
                elif frame.type == "Error":
                    raise _frame_error(frame, "the WebSocket gateway")
                # Heartbeat answers and anything unknown need nothing.
        finally:
            self.subscription = None
            self._socket = None
            with contextlib.suppress(Exception):
                await socket.close()

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        token = await self.native.get_ws_token()
        url = self._gateway_url(token.uri).update_query(access_token=token.ws_access_token)
        try:
            socket = await self.native.transport.ws_connect(
                url,
                heartbeat=self.heartbeat,
                max_msg_size=_MAX_FRAME,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            # Never the URL: it carries the (single-use) token.
            raise ProviderUnavailable(
                f"the WebSocket gateway could not be reached ({type(exc).__name__})",
                provider=PROVIDER,
            ) from None
        self._socket = socket
        try:
            details = await self._receive(socket, self.connect_timeout)
            if details is None:
                raise ProviderUnavailable(
                    "the WebSocket gateway sent no ConnectionDetails", provider=PROVIDER
                )
            if details.type == "Error":
                raise _frame_error(details, "connecting to the WebSocket gateway")
            if details.type != "ConnectionDetails":
                raise MalformedResponse(
                    f"the gateway's first frame was {details.type or 'unknown'!r}, "
                    "not ConnectionDetails",
                    provider=PROVIDER,
                )
        except BaseException:
            self._socket = None
            with contextlib.suppress(Exception):
                await socket.close()
            raise
        return socket

    def _gateway_url(self, uri: str) -> URL:
        """The gateway URL, held to wss (ws only when the API itself is plain http)."""
        try:
            url = URL(uri)
        except (TypeError, ValueError):
            url = URL()
        plain_ok = self.native.transport.base_url.scheme == "http"
        if (
            not url.raw_host
            or url.user is not None
            or url.scheme not in (("wss", "ws") if plain_ok else ("wss",))
        ):
            raise MalformedResponse(
                "the wstoken answer named no usable wss:// gateway", provider=PROVIDER
            )
        return url

    async def _receive(
        self, socket: aiohttp.ClientWebSocketResponse, wait: float | None
    ) -> _Frame | None:
        """The next frame; None when ``wait`` seconds pass first."""
        while True:
            try:
                message = await socket.receive(timeout=wait)
            except TimeoutError:
                return None
            if message.type is aiohttp.WSMsgType.TEXT:
                frame = _frame(message.data)
                if frame is None:
                    log.warning("%s: an unreadable WebSocket frame was skipped", PROVIDER)
                    continue
                return frame
            if message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.PING,
                                aiohttp.WSMsgType.PONG):  # fmt: skip
                continue
            raise ProviderUnavailable("the WebSocket connection was closed", provider=PROVIDER)

    async def _subscribe(
        self, socket: aiohttp.ClientWebSocketResponse, buffered: list[_Frame]
    ) -> SubscriptionInfo:
        """Create the subscription over the socket; notifications that overtake
        the answer are kept in ``buffered``."""
        text, message_id = _request_frame(
            "POST",
            SUBSCRIPTION_PATH,
            {"eventFilters": self.event_filters, "deliveryMode": {"transportType": "WebSocket"}},
        )
        await self._send(socket, text)
        while True:
            frame = await self._receive(socket, self.connect_timeout)
            if frame is None:
                raise ProviderUnavailable(
                    "the subscription was not answered in time", provider=PROVIDER
                )
            if frame.type == "ClientRequest" and frame.message_id == message_id:
                break
            if frame.type == "ServerNotification":
                buffered.append(frame)
            elif frame.type == "Error":
                raise _frame_error(frame, "subscribing")
        if frame.status is None or not 200 <= frame.status < 300:
            raise _frame_error(frame, "subscribing")
        return self._subscription_info(frame)

    def _subscription_info(self, frame: _Frame) -> SubscriptionInfo:
        try:
            info = converter.structure(frame.body, SubscriptionInfo)
        except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
            raise MalformedResponse(
                "the subscription answer is not a subscription", provider=PROVIDER
            ) from exc
        self._expires_at = _expiry(info, datetime.now(UTC))
        return info

    def _until_renewal(self) -> float:
        expires_at = self._expires_at
        if expires_at is None:
            return self.renew_margin
        left = (expires_at - datetime.now(UTC)).total_seconds()
        if left <= 0:
            return 0.0
        # A lifetime shorter than twice the margin is renewed at half-time.
        return left - self.renew_margin if left > 2 * self.renew_margin else left / 2

    async def _renew(
        self, socket: aiohttp.ClientWebSocketResponse, pending: dict[str, str]
    ) -> None:
        subscription = self.subscription
        assert subscription is not None
        if "renew" in pending.values():
            # The last renewal is unanswered: the subscription lapses soon.
            raise ProviderUnavailable(
                "the subscription renewal was not answered", provider=PROVIDER
            )
        text, message_id = _request_frame("POST", f"{SUBSCRIPTION_PATH}/{subscription.id}/renew")
        pending[message_id] = "renew"
        # Until the answer comes, ask again only when the answer is overdue.
        self._expires_at = datetime.now(UTC) + timedelta(seconds=2 * self.connect_timeout)
        await self._send(socket, text)

    def _answered(self, purpose: str, frame: _Frame) -> None:
        if purpose != "renew":
            return
        if frame.status is not None and 200 <= frame.status < 300:
            self.subscription = self._subscription_info(frame)
            self.renewals += 1
            return
        error = _frame_error(frame, "renewing the subscription")
        if isinstance(error, NotFound):
            # It expired (or was removed): events since are lost to the
            # socket, so reconnect, subscribe afresh and catch up.
            raise ProviderUnavailable(
                "the subscription expired before it was renewed", provider=PROVIDER
            ) from error
        raise error

    async def _send(self, socket: aiohttp.ClientWebSocketResponse, text: str) -> None:
        try:
            await socket.send_str(text)
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
            raise ProviderUnavailable(
                "the WebSocket connection was closed", provider=PROVIDER
            ) from exc

    async def _notification(self, frame: _Frame) -> AsyncIterator[Delivery]:
        body = frame.body
        subscription = self.subscription
        if (
            not isinstance(body, dict)
            or subscription is None
            or body.get("subscriptionId") not in (None, subscription.id)
        ):
            return
        try:
            message = message_from_event(body)
        except ValueError as exc:
            log.warning("%s: an unreadable notification was skipped (%s)", PROVIDER, exc)
            return
        if message is not None:
            yield Delivery(self._handed(message), None)
            return
        for message_id in _pager_ids(body):
            try:
                item = await self.native.load_message(message_id)
            except NotFound:
                continue  # deleted before we asked
            yield Delivery(self._handed(to_message(item)), None)

    async def aclose(self) -> None:
        """Close the socket (its WebSocket subscription ends with it)."""
        socket, self._socket = self._socket, None
        if socket is not None:
            with contextlib.suppress(Exception):
                await socket.close()


def _arrival(item: MessageInfo) -> tuple[datetime, int]:
    return _time(item.creation_time) or datetime.fromtimestamp(0, UTC), item.id


def _expiry(info: SubscriptionInfo, now: datetime) -> datetime | None:
    if info.expires_in is not None:
        # At least a second: a zero lifetime must not make renewals spin.
        return now + timedelta(seconds=max(1, info.expires_in))
    return _time(info.expiration_time)


class RingCentralWebhookReceiver(WebhookReceiver):
    """RingCentral's webhook calls: the ``Validation-Token`` handshake, the
    ``Verification-Token`` check and instant-message events as messages.

    Without ``verification_token`` every call is accepted (the webhook's
    secrecy is then its URL alone).
    """

    def __init__(self, *, verification_token: str | None = None) -> None:
        if verification_token is not None and (
            not isinstance(verification_token, str) or not verification_token
        ):
            raise ValueError("verification_token must be a non-empty str")
        self.verification_token = verification_token

    async def handle(self, request: WebhookRequest) -> WebhookResponse:
        """Answer the handshake, refuse forgeries (403), parse the rest."""
        given = request.headers.get("Verification-Token")
        if (
            self.verification_token is not None
            and given is not None
            and not secrets.compare_digest(given.encode(), self.verification_token.encode())
        ):
            return WebhookResponse.refuse(403, "verification token does not match")
        validation = request.headers.get("Validation-Token")
        if validation is not None:
            # The creation handshake: echo the token (printable ASCII only: it
            # becomes a header of the answer). It carries no event.
            if (
                not validation
                or len(validation) > 1024
                or not validation.isascii()
                or any(not (" " <= ch <= "~") for ch in validation)
            ):
                return WebhookResponse.refuse(400, "invalid Validation-Token")
            return WebhookResponse(status=200, headers={"Validation-Token": validation})
        if self.verification_token is not None and given is None:
            return WebhookResponse.refuse(403, "verification token missing")
        if request.method != "POST":
            return WebhookResponse.refuse(405, "POST only")
        try:
            notification = json.loads(request.body)
            message = message_from_event(notification)
        except (ValueError, RecursionError):
            return WebhookResponse.refuse(400, "not a RingCentral notification")
        return WebhookResponse(status=200, messages=() if message is None else (message,))


def event_filters_for(pager: bool) -> list[str]:
    """The event filters the push source subscribes to."""
    return [INSTANT_SMS_FILTER, *([INBOUND_PAGER_FILTER] if pager else [])]
