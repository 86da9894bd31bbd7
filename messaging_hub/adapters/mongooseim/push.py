"""MongooseIM push: Server-Sent Events for ``listen()``, caught up from the MAM archive.

**Client REST** (6.5.0 client swagger, ``GET /sse``, Basic auth as the
user): the server opens an XMPP session for the user and sends every chat
message routed to it as an SSE event ``message`` whose data is the same
JSON as an archive record (``from``, ``to``, ``id``, ``body``,
``thread``/``parent``/``properties`` when set) except ``timestamp``: Unix
**microseconds** of the push (``os:system_time(microsecond)`` in
``mongoose_client_api_sse``), where the archive says milliseconds.
``room.message`` events (MUC light rooms) are not one-to-one chat: skipped.

**GraphQL** (``GET <endpoint>/sse?query=...&variables=...``): the
``subscription { stanza { subscribeForMessages { ... } } }`` of the user
schema (the admin schema's takes ``caller``). Each event's data is a
GraphQL response whose ``StanzaMap`` has ``sender``, ``timestamp`` (the
push time), the ``stanza`` XML, and as ``stanza_id`` the stanza's own
``id`` attribute: the archive's ``stanza_id`` is the MAM id instead. So
that a message read from both is recognised, messages from a GraphQL
listener carry the stanza's ``id`` attribute as their id (the archive id
when the stanza has none); ``history()`` keeps the archive id. Every
``<message/>`` routed to the user is pushed; only chat/normal messages with
a body (what MAM archives) are yielded, not chat states or headlines.

Both streams are live once the answer's headers arrive (the server opens
the session before answering). Catch-up reads the whole archive
(``before``-paged, newest first) back to the cursor: the time of the last
message seen, less ``overlap`` seconds for pushed messages (their push time
is a little after their archive time, and concurrent senders' messages can
be archived in one order and pushed in the other). Messages without a
stanza ``id`` cannot be matched across the two exactly; one arriving while
a catch-up overlaps the stream may then be yielded twice.

**Admin REST** has no push: ``listen()`` polls it (the default
:class:`~messaging_hub.inbound.polling.HistoryPollingSource`).
"""

from __future__ import annotations

import codecs
import contextlib
import json
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import attrs
import cattrs

from ...errors import MalformedResponse, ProviderError, ProviderUnavailable
from ...inbound.source import Delivery, InboundSource
from ...models import Message
from ...transport.body import loads_or_none
from ...transport.http import error_for_status
from .backends import ClientRestBackend, GraphQLBackend, Row
from .errors import raise_graphql_errors, typed
from .wire import EPOCH, ClientMessage, StanzaMap, converter, stanza_body, stanza_element

if TYPE_CHECKING:
    from .adapter import MongooseIMAdapter

__all__ = [
    "SUBSCRIBE_FOR_MESSAGES",
    "ClientRestPushSource",
    "GraphQLPushSource",
    "MongooseIMPushSource",
    "SseEvent",
    "SseParser",
    "push_source",
]

PROVIDER = "mongooseim"
log = logging.getLogger("messaging_hub.inbound")

_STANZA_MAP = "sender timestamp stanza_id stanza"
SUBSCRIBE_FOR_MESSAGES = (
    f"subscription SubscribeForMessages {{ stanza {{ subscribeForMessages {{ {_STANZA_MAP} }} }} }}"
)
ADMIN_SUBSCRIBE_FOR_MESSAGES = (
    "subscription AdminSubscribeForMessages($caller: JID!) "
    f"{{ stanza {{ subscribeForMessages(caller: $caller) {{ {_STANZA_MAP} }} }} }}"
)
_LINE_END = re.compile(r"\r\n|\r|\n")
# Past this a timestamp cannot be milliseconds (year 5138): it is microseconds.
_MICROS_FROM = 100_000_000_000_000


# -- Server-Sent Events ---------------------------------------------------------


@attrs.frozen
class SseEvent:
    """One dispatched event: its type (``message`` by default), data and last id."""

    event: str
    data: str
    id: str | None = None


class SseParser:
    """The WHATWG event-stream format, fed bytes as they arrive.

    Lines end with CRLF, LF or CR (a CR at the end of one chunk and an LF
    at the start of the next are one line end); ``:`` lines are comments
    (keep-alives); ``retry`` is ignored (the listener has its own backoff).
    An event or line longer than ``max_event_chars`` raises
    :class:`MalformedResponse` instead of growing without bound.
    """

    def __init__(self, max_event_chars: int = 1024 * 1024) -> None:
        self.max_event_chars = max_event_chars
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._skip_lf = False
        self._started = False
        self._type = ""
        self._data: list[str] = []
        self._size = 0
        self.last_id: str | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """The events completed by ``chunk``."""
        text = self._decoder.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._skip_lf and text:
            text = text.removeprefix("\n")
            self._skip_lf = False
        text = self._pending + text
        events: list[SseEvent] = []
        start = 0
        for end in _LINE_END.finditer(text):
            event = self._line(text[start : end.start()])
            if event is not None:
                events.append(event)
            start = end.end()
            if end.group() == "\r" and start == len(text):
                self._skip_lf = True  # its LF may be the next chunk's first byte
        self._pending = text[start:]
        if len(self._pending) + self._size > self.max_event_chars:
            raise MalformedResponse(
                f"an SSE event exceeded {self.max_event_chars} characters", provider=PROVIDER
            )
        return events

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            if not self._data:
                self._type = ""
                return None
            event = SseEvent(self._type or "message", "\n".join(self._data), self.last_id)
            self._type, self._data, self._size = "", [], 0
            return event
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            self._data.append(value)
            self._size += len(value) + 1
            if self._size > self.max_event_chars:
                raise MalformedResponse(
                    f"an SSE event exceeded {self.max_event_chars} characters", provider=PROVIDER
                )
        elif field == "event":
            self._type = value
        elif field == "id" and "\0" not in value:
            self.last_id = value
        return None


# -- the sources -------------------------------------------------------------------


class MongooseIMPushSource(InboundSource):
    """Shared by both push APIs: archive catch-up and the SSE connection.

    ``overlap`` (seconds) is how far before a pushed message's time a
    catch-up reads again; ``idle_timeout`` how long a silent connection is
    trusted (the server closes idle SSE connections after 1 h by default;
    None waits forever); ``connect_timeout`` bounds opening the stream;
    ``max_event_bytes`` caps one event.
    """

    push = True
    path = "/sse"

    def __init__(
        self,
        client: MongooseIMAdapter,
        *,
        overlap: float = 30.0,
        idle_timeout: float | None = 3900.0,
        connect_timeout: float = 30.0,
        max_event_bytes: int = 1024 * 1024,
    ) -> None:
        if overlap < 0 or connect_timeout <= 0 or max_event_bytes < 1:
            raise ValueError("overlap must be >= 0, connect_timeout > 0 and max_event_bytes >= 1")
        if idle_timeout is not None and idle_timeout <= 0:
            raise ValueError("idle_timeout must be > 0 or None")
        self.client = client
        self.transport = client.native.transport
        self.overlap = timedelta(seconds=overlap)
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self.max_event_bytes = max_event_bytes
        self._origin = EPOCH
        self._skip: set[tuple[str, str]] = set()
        self._response: aiohttp.ClientResponse | None = None
        self.connections = 0
        """How many times the stream was opened (for monitoring)."""

    # -- starting point and catch-up (the archive) ---------------------------------
    async def start(self, since: datetime | None) -> datetime:
        """``since``, or the newest archived message's time (that message skipped)."""
        if since is not None:
            self._origin = since
            return since
        newest: datetime | None = None
        async with contextlib.aclosing(self._archive()) as rows:
            async for row in rows:
                created = row.message.created_at
                if newest is not None and created < newest:
                    break
                newest = created
                # Already there before listening: never news, though stamped at the cursor.
                self._skip.add(_key(self._archived(row)))
        self._origin = newest if newest is not None else EPOCH
        return self._origin

    async def catch_up(self, cursor: datetime) -> AsyncIterator[Delivery]:
        """Archived messages stamped at or after ``cursor``, oldest first."""
        floor = max(cursor, self._origin)
        found: list[Message] = []
        async with contextlib.aclosing(self._archive()) as rows:
            async for row in rows:
                if row.message.created_at < floor:
                    break  # newest first: the rest is older still
                found.append(self._archived(row))
        for message in reversed(found):
            if _key(message) in self._skip:
                continue
            floor = max(floor, message.created_at)
            yield Delivery(message, floor)

    async def _archive(self) -> AsyncGenerator[Row, None]:
        # The adapter's own before-paged walk over every conversation.
        rows = self.client._walk(None, self.client.options.page_size)
        try:
            async for row in rows:
                yield row
        finally:
            closing = getattr(rows, "aclose", None)
            if closing is not None:
                await closing()  # stopped early: end the walk now, not at GC

    def _archived(self, row: Row) -> Message:
        """An archive row as the listener sees it."""
        return row.message

    # -- the stream ----------------------------------------------------------------
    async def stream(self, cursor: datetime) -> AsyncIterator[Delivery]:
        """Open the SSE stream, then yield pushed messages until it ends."""
        response = await self._open()
        try:
            yield Delivery(None, cursor)  # the session is open: catching up misses nothing
            parser = SseParser(self.max_event_bytes)
            while True:
                try:
                    chunk = await response.content.readany()
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    raise ProviderUnavailable(
                        f"the SSE stream was interrupted ({type(exc).__name__})",
                        provider=PROVIDER,
                    ) from None
                if not chunk:
                    return  # the server closed it (idle timeout, restart)
                for event in parser.feed(chunk):
                    message = self._pushed(event)
                    if message is not None:
                        yield Delivery(message, message.created_at - self.overlap)
        finally:
            self._response = None
            response.close()

    def _params(self) -> dict[str, str]:
        return {}

    async def _open(self) -> aiohttp.ClientResponse:
        # The client's own session and options (TLS, proxy), with stream
        # timeouts: no total, and a read timeout that notices a silent connection.
        response = await self.transport.open_stream(
            self.path,
            params=self._params() or None,
            headers={"Accept": "text/event-stream", "Cache-Control": "no-cache"},
            idle_timeout=self.idle_timeout,
            connect_timeout=self.connect_timeout,
        )
        self.connections += 1
        try:
            if response.status != 200 or response.content_type != "text/event-stream":
                raise await self._refusal(response)
            encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                raise MalformedResponse(
                    f"the SSE stream came {encoding}-encoded", provider=PROVIDER
                )
        except BaseException:
            response.close()
            raise
        self._response = response
        return response

    async def _refusal(self, response: aiohttp.ClientResponse) -> ProviderError:
        """The typed error for an answer that is not an event stream."""
        try:
            body = await response.content.read(64 * 1024)
        except (aiohttp.ClientError, TimeoutError, OSError):
            body = b""
        status = response.status
        transport = self.transport
        if status >= 300:
            info = transport.error_parser(status, body, response.headers)
            error = typed(error_for_status(status, info, provider=PROVIDER))
        else:
            error = self._ok_refusal(status, loads_or_none(body)) or MalformedResponse(
                f"the SSE endpoint answered {response.content_type}, not an event stream",
                provider=PROVIDER,
                status=status,
            )
        scrubbed = transport.scrub_error(error)
        assert isinstance(scrubbed, ProviderError)
        return scrubbed

    def _ok_refusal(self, status: int, data: Any) -> ProviderError | None:
        """A refusal carried by a 2xx JSON answer (GraphQL), else None."""
        return None

    def _pushed(self, event: SseEvent) -> Message | None:
        """The chat message an event carries, None for other events."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Close the stream (the server closes its session with it)."""
        response, self._response = self._response, None
        if response is not None:
            response.close()


class ClientRestPushSource(MongooseIMPushSource):
    """Client REST: ``GET /sse`` as the user (see the module docstring)."""

    def __init__(self, client: MongooseIMAdapter, **options: Any) -> None:
        super().__init__(client, **options)
        backend = client._backend
        assert isinstance(backend, ClientRestBackend)
        self.backend = backend

    def _pushed(self, event: SseEvent) -> Message | None:
        if event.event != "message":
            return None  # room.message: MUC light, not one-to-one chat
        data = _json_object(event.data)
        if data is None or not isinstance(data.get("timestamp"), int):
            raise MalformedResponse("an SSE message event is not a message", provider=PROVIDER)
        stamp: int = data["timestamp"]
        micros = stamp if stamp >= _MICROS_FROM else stamp * 1000
        # The archive's own record type and conversion, so both read alike.
        record = {**data, "timestamp": micros // 1000}
        try:
            item = converter.structure(record, ClientMessage)
        except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
            raise MalformedResponse(
                "an SSE message event is not a message", provider=PROVIDER
            ) from exc
        if item.body is None:
            return None  # a chat state or receipt: MAM archives none of them
        message = self.backend._row(item).message
        return attrs.evolve(message, created_at=EPOCH + timedelta(microseconds=micros))


class GraphQLPushSource(MongooseIMPushSource):
    """GraphQL: the ``subscribeForMessages`` subscription over ``<endpoint>/sse``."""

    def __init__(self, client: MongooseIMAdapter, **options: Any) -> None:
        super().__init__(client, **options)
        backend = client._backend
        assert isinstance(backend, GraphQLBackend)
        self.backend = backend

    def _params(self) -> dict[str, str]:
        if self.backend.admin:
            return {
                "query": ADMIN_SUBSCRIBE_FOR_MESSAGES,
                "variables": json.dumps({"caller": self.client.owner.bare}),
                "operationName": "AdminSubscribeForMessages",
            }
        return {"query": SUBSCRIBE_FOR_MESSAGES, "operationName": "SubscribeForMessages"}

    def _ok_refusal(self, status: int, data: Any) -> ProviderError | None:
        # A subscription the resolver refused (unknown caller) is answered as JSON.
        try:
            raise_graphql_errors(data, status)
        except ProviderError as exc:
            return exc
        return None

    def _archived(self, row: Row) -> Message:
        item = row.message.raw
        assert isinstance(item, StanzaMap)
        return _by_stanza_id(row.message, item)

    def _pushed(self, event: SseEvent) -> Message | None:
        data = _json_object(event.data)
        if data is None:
            raise MalformedResponse("an SSE event is not a GraphQL response", provider=PROVIDER)
        raise_graphql_errors(data, 200)
        found = data.get("data")
        for key in ("stanza", "subscribeForMessages"):
            found = found.get(key) if isinstance(found, dict) else None
        if found is None:
            return None
        try:
            item = converter.structure(found, StanzaMap)
        except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
            raise MalformedResponse(
                "a pushed StanzaMap is not a message", provider=PROVIDER
            ) from exc
        if item.timestamp is None or not _archivable(item):
            return None
        return _by_stanza_id(self.backend._row(item).message, item)


def _by_stanza_id(message: Message, item: StanzaMap) -> Message:
    """``message`` known by its stanza's ``id`` attribute (pushed and archived alike)."""
    xml_id = item.message_id
    return attrs.evolve(message, id=xml_id) if xml_id else message


def _archivable(item: StanzaMap) -> bool:
    """A one-to-one message MAM would archive: chat or normal, with a body."""
    element = stanza_element(item.stanza)
    if element is None or element.tag != "message":
        return False
    return element.get("type", "normal") in ("chat", "normal") and stanza_body(element) is not None


def _json_object(text: str) -> dict[str, Any] | None:
    data = loads_or_none(text)
    return data if isinstance(data, dict) else None


def _key(message: Message) -> tuple[str, str]:
    return (message.session_id, message.id)


def push_source(client: MongooseIMAdapter, **options: Any) -> MongooseIMPushSource:
    """The push source of ``client``'s API (client REST or GraphQL)."""
    if isinstance(client._backend, ClientRestBackend):
        return ClientRestPushSource(client, **options)
    return GraphQLPushSource(client, **options)
