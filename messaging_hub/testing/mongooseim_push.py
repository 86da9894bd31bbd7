"""Server-Sent Events for :class:`~messaging_hub.testing.mongooseim.FakeMongooseIM`.

As MongooseIM 6.5.0's ``lasse`` handlers do: the user's session is opened
before the answer's headers go out, then every message routed to the user
becomes one event (``id: N`` counting from 1 per connection). What an event
says is the API's business (client REST ``mongoose_client_api_sse``, GraphQL
``mongoose_graphql_sse_handler``); this module keeps the open streams and
can drop them all, the way a restart or a proxy's idle cut does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import attrs
from aiohttp import web

from messaging_hub.testing.mongooseim_archive import ArchivedMessage, MessageArchive

__all__ = ["Render", "SseStreams"]

Render = Callable[[ArchivedMessage], tuple[str | None, str] | None]
"""An event's type (None: the default, ``message``) and data, or None to send nothing."""
_DROP = object()
# How often a waiting stream checks that its client is still there.
_LIVENESS = 0.2


@attrs.define(eq=False)
class _Stream:
    owner: str
    queue: asyncio.Queue[object] = attrs.field(factory=asyncio.Queue)


class SseStreams:
    """The open SSE streams by user; messages routed to a user go to each of them."""

    def __init__(self, archive: MessageArchive) -> None:
        self._open: list[_Stream] = []
        self.opened = 0
        """How many streams were ever opened."""
        archive.routed.append(self._hear)

    def count(self, owner: str | None = None) -> int:
        """Streams open now (for ``owner``'s bare JID, lower-cased, when given)."""
        return sum(1 for s in self._open if owner is None or s.owner == owner.lower())

    def drop(self) -> int:
        """Cut every open stream without a clean end; how many there were."""
        for stream in self._open:
            stream.queue.put_nowait(_DROP)
        return len(self._open)

    def _hear(self, owner: str, row: ArchivedMessage) -> None:
        for stream in self._open:
            if stream.owner == owner:
                stream.queue.put_nowait(row)

    async def serve(self, request: web.Request, owner: str, render: Render) -> web.StreamResponse:
        """Answer ``request`` with an event stream of what is routed to ``owner``."""
        stream = _Stream(owner.lower())
        # Registered first: what is routed once the headers are out is never missed.
        self._open.append(stream)
        self.opened += 1
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        try:
            await response.prepare(request)
            counter = 1
            while True:
                try:
                    item = await asyncio.wait_for(stream.queue.get(), _LIVENESS)
                except TimeoutError:
                    transport = request.transport
                    if transport is None or transport.is_closing():
                        break  # the client went away
                    continue
                if item is _DROP:
                    transport = request.transport
                    if transport is not None:
                        transport.abort()
                    break
                assert isinstance(item, ArchivedMessage)
                rendered = render(item)
                if rendered is None:
                    continue
                event, data = rendered
                lines = [f"id: {counter}"]
                if event is not None:
                    lines.append(f"event: {event}")
                lines.extend(f"data: {part}" for part in data.split("\n"))
                counter += 1
                await response.write(("\n".join(lines) + "\n\n").encode())
        except (ConnectionError, RuntimeError):
            pass  # the client went away mid-write
        finally:
            with contextlib.suppress(ValueError):
                self._open.remove(stream)
        return response
