"""Machinery shared by every fake provider server: loopback start-up, a
request log and fault injection.

A fake is an ``aiohttp.web`` application served on ``127.0.0.1`` on a free
port. Tests use the log to prove what reached the wire (or that nothing
did) and the fault queue to make the next matching request fail the way a
real provider fails.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self

import attrs
from aiohttp import web

__all__ = ["FakeServer", "Fault", "RecordedRequest"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.frozen
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


@attrs.define
class Fault:
    """A failure to serve instead of the real answer, ``times`` times.

    ``status``/``body``/``headers`` give the response; ``reset`` drops the
    connection without answering; ``delay`` stalls first (for timeouts);
    ``truncate`` announces a longer body than it sends. ``method`` and
    ``path`` (a regular expression searched in the path) select requests.
    ``after`` lets the real handler run first (the request took effect),
    then fails the answer: the "did my send go through?" case.
    ``transform`` lets the real handler answer, then rewrites its JSON body
    with ``transform(decoded)`` (same status): a provider answering with
    subtly wrong data.
    """

    status: int = 500
    body: bytes | str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    content_type: str = "application/json"
    times: int = 1
    method: str | None = None
    path: str | None = None
    reset: bool = False
    delay: float = 0.0
    truncate: bool = False
    after: bool = False
    transform: Callable[[Any], Any] | None = None

    def matches(self, request: web.Request) -> bool:
        """Whether this fault applies to ``request``."""
        if self.method is not None and request.method != self.method.upper():
            return False
        return self.path is None or re.search(self.path, request.path) is not None


class FakeServer:
    """Base class of the fake provider servers.

    Subclasses add routes in :meth:`setup_routes` and describe how to reach
    them in :attr:`config`. ``async with`` starts and stops the server.
    """

    provider: str = ""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, client_max_size: int = 64 * 1024**2
    ) -> None:
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._scheme = "http"
        self.ssl_context: ssl.SSLContext | None = None
        """Set before :meth:`start` to serve HTTPS with this server-side context."""
        self._faults: list[Fault] = []
        self.requests: list[RecordedRequest] = []
        # Providers accept large media (RingCentral: 55 MB faxes); aiohttp's
        # default 1 MiB body cap would reject them.
        self.app = web.Application(
            middlewares=[self._record, self._inject], client_max_size=client_max_size
        )
        self.setup_routes(self.app)

    # -- to be provided by subclasses -------------------------------------
    def setup_routes(self, app: web.Application) -> None:
        """Register the provider's routes on ``app``."""
        raise NotImplementedError

    @property
    def config(self) -> dict[str, Any]:
        """Options that ``messaging_hub.connect`` accepts as they are."""
        raise NotImplementedError

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        """Start serving on loopback."""
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=0.1
        )
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port, ssl_context=self.ssl_context)
        await site.start()
        self._scheme = "https" if self.ssl_context is not None else "http"
        server = site._server
        assert server is not None and isinstance(server, asyncio.Server)
        self._port = server.sockets[0].getsockname()[1]
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving and drop every connection."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def origin(self) -> str:
        """``http(s)://127.0.0.1:<port>`` of the running server."""
        if self._runner is None:
            raise RuntimeError("the fake server is not running")
        return f"{self._scheme}://{self._host}:{self._port}"

    # -- test helpers ------------------------------------------------------
    def fail(self, fault: Fault | None = None, /, **kwargs: Any) -> Fault:
        """Queue a fault (or build one from keyword arguments)."""
        if fault is None:
            fault = Fault(**kwargs)
        self._faults.append(fault)
        return fault

    @property
    def pending_faults(self) -> list[Fault]:
        """Faults queued and not yet served."""
        return list(self._faults)

    def clear_faults(self) -> None:
        """Forget every queued fault."""
        self._faults.clear()

    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        """The recorded requests whose method and path match."""
        return [
            r for r in self.requests if r.method == method.upper() and re.search(path_regex, r.path)
        ]

    # -- middlewares -------------------------------------------------------
    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.raw_path.split("?", 1)[0],
                query=dict(request.query),
                headers=dict(request.headers),
                body=body,
            )
        )
        return await handler(request)

    def _take_fault(self, request: web.Request) -> Fault | None:
        for fault in self._faults:
            if fault.matches(request):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    @web.middleware
    async def _inject(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = self._take_fault(request)
        if fault is None:
            return await handler(request)
        if fault.transform is not None:
            real = await handler(request)
            if not isinstance(real, web.Response) or real.body is None:
                return real
            data = json.loads(bytes(real.body)) if real.body else None  # type: ignore[arg-type]
            return web.json_response(fault.transform(data), status=real.status)
        if fault.after:
            await handler(request)
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.reset:
            transport = request.transport
            if transport is not None:
                transport.abort()
            raise web.HTTPInternalServerError()  # never reaches the client
        body = fault.body if fault.body is not None else b""
        raw = body.encode() if isinstance(body, str) else body
        if fault.truncate:
            response = web.StreamResponse(status=fault.status, headers=fault.headers)
            response.content_type = fault.content_type
            response.content_length = len(raw) + 100
            await response.prepare(request)
            await response.write(raw)
            transport = request.transport
            if transport is not None:
                transport.abort()
            return response
        return web.Response(
            status=fault.status,
            body=raw,
            headers={"Content-Type": fault.content_type, **fault.headers},
        )


def json_error(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON response with ``status`` (a helper for fake handlers)."""
    return web.json_response(payload, status=status, headers=headers)
