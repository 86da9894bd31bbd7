"""A raw TCP server on loopback for answers no well-behaved HTTP server gives.

Each connection runs ``handler(reader, writer)`` with the request head
already read; the server records the heads and notices when the client
hangs up first (the "connection dropped" that a capped read promises).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """Serve ``handler`` on 127.0.0.1; use as ``async with RawServer(h) as s``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.heads: list[bytes] = []
        self.client_hung_up = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The server's origin, ``http://127.0.0.1:<port>``."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.heads.append(head)
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.client_hung_up.set()
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
        await self._server.wait_closed()


def head(status: str = "200 OK", **headers: str | int) -> bytes:
    """An HTTP/1.1 response head; header names are given with ``_`` for ``-``."""
    lines = [f"HTTP/1.1 {status}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def write_forever(writer: asyncio.StreamWriter, chunk: bytes, *, chunked: bool) -> None:
    """Write ``chunk`` again and again until the client hangs up."""
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
    while True:
        writer.write(frame)
        await writer.drain()
