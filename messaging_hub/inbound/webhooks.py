"""Receiving provider webhooks in a web app: an aiohttp sub-app or an ASGI callable.

::

    app.add_subapp("/hooks/", mh.webhooks.aiohttp_app(client, on_message=handle))
    # or, in FastAPI/Starlette:
    app.mount("/hooks", mh.webhooks.asgi_app(client, on_message=handle))

The provider's adapter supplies a :class:`WebhookReceiver` that verifies
each call (tokens, signatures, handshakes: whatever the provider lets it
check) and turns it into typed messages; this module does the web part
once for every provider: bounded body reads, duplicate deliveries dropped,
the callback called for each new message, and no exception ever raised
into the web framework (a failure is logged and answered with a status the
provider understands: 4xx for a call that is refused, 5xx when your
callback failed, so the provider delivers again).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from ..adapter import Adapter
from ..models import Message
from .seen import BoundedSeen

if TYPE_CHECKING:
    # aiohttp.web is imported when an app is made: it is most of what
    # ``import messaging_hub`` would otherwise spend on webhooks.
    from aiohttp import web

__all__ = [
    "MessageHandler",
    "WebhookReceiver",
    "WebhookRequest",
    "WebhookResponse",
    "aiohttp_app",
    "asgi_app",
]

log = logging.getLogger("messaging_hub.webhooks")

MessageHandler = Callable[[Message], Awaitable[None] | None]
DEFAULT_MAX_BODY = 1024 * 1024


@attrs.frozen
class WebhookRequest:
    """One call a provider made to the webhook, framework-neutral."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: CIMultiDictProxy[str] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)
    remote: str | None = None


@attrs.frozen
class WebhookResponse:
    """What to answer the provider, and the messages the call carried."""

    status: int = 200
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""
    messages: tuple[Message, ...] = ()

    @classmethod
    def refuse(cls, status: int, reason: str) -> WebhookResponse:
        """A 4xx answer with a short plain-text reason (never a secret)."""
        return cls(status=status, headers={"Content-Type": "text/plain"}, body=reason.encode())


class WebhookReceiver(ABC):
    """A provider's webhook: verify a call, answer it, extract its messages."""

    @abstractmethod
    async def handle(self, request: WebhookRequest) -> WebhookResponse:
        """Verify and parse ``request``; refuse what cannot be verified with 4xx.

        Must not raise for anything a caller can send: the web layer answers
        500 to an exception, which tells the provider to try again.
        """


class _Dispatcher:
    """The framework-neutral core shared by both web adapters."""

    def __init__(
        self,
        client: Adapter[Any],
        on_message: MessageHandler,
        *,
        max_body: int,
        memory: int,
        receiver_options: Mapping[str, Any],
    ) -> None:
        self.receiver = client.webhook_receiver(**receiver_options)
        self.provider = client.provider
        self.on_message = on_message
        self.max_body = max_body
        self.seen = BoundedSeen(memory)

    async def dispatch(self, request: WebhookRequest) -> WebhookResponse:
        try:
            answer = await self.receiver.handle(request)
        except Exception:
            log.exception("%s webhook: the call could not be handled", self.provider)
            return WebhookResponse.refuse(500, "internal error")
        for message in answer.messages:
            if not self.seen.add((message.session_id, message.id)):
                continue  # providers redeliver; the handler sees each message once
            try:
                result = self.on_message(message)
                if result is not None:
                    await result
            except Exception:
                log.exception("%s webhook: on_message failed", self.provider)
                # Forget it, so the provider's redelivery reaches the handler again.
                self.seen.discard((message.session_id, message.id))
                return WebhookResponse.refuse(500, "handler failed")
        return answer


def aiohttp_app(
    client: Adapter[Any],
    *,
    on_message: MessageHandler,
    max_body: int = DEFAULT_MAX_BODY,
    memory: int = 10_000,
    **receiver_options: Any,
) -> web.Application:
    """An aiohttp application to mount with ``app.add_subapp(prefix, ...)``.

    Every path under the prefix reaches the provider's receiver (providers
    differ in what they call). ``receiver_options`` go to the provider's
    receiver (e.g. a verification token).
    """
    from aiohttp import web

    dispatcher = _Dispatcher(
        client, on_message, max_body=max_body, memory=memory, receiver_options=receiver_options
    )

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > max_body:
            return _to_aiohttp(WebhookResponse.refuse(413, "body too large"))
        try:
            body = await request.content.read(max_body + 1)
        except Exception:  # a client that hung up: nothing to answer
            return _to_aiohttp(WebhookResponse.refuse(400, "unreadable body"))
        if len(body) > max_body:
            return _to_aiohttp(WebhookResponse.refuse(413, "body too large"))
        call = WebhookRequest(
            method=request.method,
            path=request.match_info.get("tail", ""),
            query=dict(request.query),
            headers=request.headers,
            body=body,
            remote=request.remote,
        )
        return _to_aiohttp(await dispatcher.dispatch(call))

    app = web.Application(client_max_size=max_body)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def _to_aiohttp(answer: WebhookResponse) -> web.Response:
    from aiohttp import web

    return web.Response(status=answer.status, headers=answer.headers, body=answer.body)


AsgiReceive = Callable[[], Awaitable[dict[str, Any]]]
AsgiSend = Callable[[dict[str, Any]], Awaitable[None]]


def asgi_app(
    client: Adapter[Any],
    *,
    on_message: MessageHandler,
    max_body: int = DEFAULT_MAX_BODY,
    memory: int = 10_000,
    **receiver_options: Any,
) -> Callable[[dict[str, Any], AsgiReceive, AsgiSend], Awaitable[None]]:
    """A plain ASGI application (mount it in FastAPI/Starlette or any ASGI server).

    Uses no web framework: only the ASGI ``http`` scope is served; other
    scope types (``lifespan``, ``websocket``) are answered as the spec asks.
    """
    dispatcher = _Dispatcher(
        client, on_message, max_body=max_body, memory=memory, receiver_options=receiver_options
    )

    async def app(scope: dict[str, Any], receive: AsgiReceive, send: AsgiSend) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif event["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        headers: CIMultiDict[str] = CIMultiDict(
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", ())
        )
        chunks: list[bytes] = []
        size = 0
        too_large = False
        while True:
            event = await receive()
            if event["type"] == "http.disconnect":
                return
            chunk = event.get("body", b"")
            size += len(chunk)
            if size > max_body:
                too_large = True
            elif chunk:
                chunks.append(chunk)
            if not event.get("more_body", False):
                break
        if too_large:
            answer = WebhookResponse.refuse(413, "body too large")
        else:
            root = scope.get("root_path", "")
            path = scope.get("path", "")
            call = WebhookRequest(
                method=scope.get("method", "GET"),
                path=path[len(root) :].lstrip("/")
                if root and path.startswith(root)
                else path.lstrip("/"),
                query=_query(scope.get("query_string", b"")),
                headers=CIMultiDictProxy(headers),
                body=b"".join(chunks),
                remote=(scope.get("client") or (None,))[0],
            )
            answer = await dispatcher.dispatch(call)
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [
                    (k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})

    return app


def _query(raw: bytes) -> dict[str, str]:
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))
