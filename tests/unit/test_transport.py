"""The transport over real loopback HTTP: retries, auth renewal, errors, lifecycle."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web

import messaging_hub as mh
from messaging_hub.secret import Secret
from messaging_hub.testing import FakeServer
from messaging_hub.transport import (
    BearerToken,
    OAuth2,
    RateLimiter,
    RetryPolicy,
    Timeouts,
    Token,
    Transport,
    path,
)
from messaging_hub.transport.retry import parse_retry_after

pytestmark = pytest.mark.anyio


class EchoServer(FakeServer):
    """A tiny server: /echo answers what it got; /token issues tokens."""

    provider = "echo"

    def __init__(self) -> None:
        self.valid: set[str] = set()
        self.issued = 0
        super().__init__()

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/echo/{tail:.*}", self._echo)
        app.router.add_post("/token", self._token)
        app.router.add_route("*", "/headers", self._headers)

    @property
    def config(self) -> dict[str, Any]:
        return {}

    async def _echo(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if self.valid and auth.removeprefix("Bearer ") not in self.valid:
            return web.json_response({"code": 401, "message": "expired"}, status=401)
        return web.json_response({"path": request.raw_path, "method": request.method})

    async def _headers(self, request: web.Request) -> web.Response:
        body = await request.text()
        return web.json_response({"headers": dict(request.headers), "body": body})

    async def _token(self, request: web.Request) -> web.Response:
        self.issued += 1
        await anyio.sleep(0.05)  # slow enough for waiters to pile up
        token = f"tok-{self.issued}"
        self.valid = {token}
        return web.json_response({"access_token": token})


class EchoGrant:
    """A TokenGrant against EchoServer's /token."""

    def __init__(self) -> None:
        self.revoked: list[str] = []

    async def obtain(self, transport: Transport) -> Token:
        response = await transport.request("POST", "/token", authenticate=False)
        return Token(access_token=Secret(response.json()["access_token"]))

    async def refresh(self, transport: Transport, token: Token) -> Token:
        return await self.obtain(transport)

    async def revoke(self, transport: Transport, token: Token) -> None:
        self.revoked.append(token.access_token.reveal())


@pytest.fixture
async def server() -> AsyncIterator[EchoServer]:
    async with EchoServer() as running:
        yield running


def _transport(server: EchoServer, **kwargs: Any) -> Transport:
    kwargs.setdefault("retry", RetryPolicy(max_attempts=3, base_delay=0.01))
    return Transport(provider="echo", base_url=server.origin, **kwargs)


async def test_idempotent_reads_retry_server_errors(server: EchoServer) -> None:
    server.fail(status=503, times=2, body="<html>down</html>", content_type="text/html")
    transport = _transport(server)
    try:
        response = await transport.request("GET", "/echo/x")
        assert response.json()["method"] == "GET"
        assert len(server.requests) == 3
    finally:
        await transport.aclose()


async def test_posts_are_not_retried_after_a_server_error(server: EchoServer) -> None:
    server.fail(status=500, times=5, body='{"code": 500, "message": "boom"}')
    transport = _transport(server)
    try:
        with pytest.raises(mh.ProviderUnavailable) as info:
            await transport.request("POST", "/echo/send", json_body={"a": 1})
        assert info.value.status == 500
        assert info.value.code == "500"
        assert info.value.message == "boom"
        assert len(server.requests) == 1
    finally:
        await transport.aclose()


async def test_retry_after_is_honoured_and_capped(server: EchoServer) -> None:
    server.fail(status=429, headers={"Retry-After": "0.2"}, body="{}")
    transport = _transport(server)
    try:
        started = time.monotonic()
        await transport.request("POST", "/echo/send")  # a 429 was not processed: safe to resend
        assert time.monotonic() - started >= 0.2
        assert len(server.requests) == 2
        server.fail(status=429, headers={"Retry-After": "3600"}, body='{"message": "slow down"}')
        with pytest.raises(mh.RateLimited) as info:
            await transport.request("GET", "/echo/x")
        assert info.value.retry_after == 3600
        assert len(server.requests) == 3  # over the ceiling: raised at once, not slept
    finally:
        await transport.aclose()


async def test_refused_connections_are_retried_then_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = Transport(
        provider="echo",
        base_url=f"http://127.0.0.1:{port}",
        retry=RetryPolicy(max_attempts=2, base_delay=0.01),
    )
    try:
        with pytest.raises(mh.ProviderUnavailable) as info:
            await transport.request("POST", "/send")
        assert info.value.may_have_been_processed is False
        assert transport.requests_sent == 2  # never reached the server: safe to retry a POST
    finally:
        await transport.aclose()


async def test_timeouts_become_provider_unavailable(server: EchoServer) -> None:
    server.fail(delay=1.0, status=200, body="{}")
    transport = _transport(server, timeouts=Timeouts(total=0.2, connect=0.2, read=0.2))
    try:
        with pytest.raises(mh.ProviderUnavailable) as info:
            await transport.request("POST", "/echo/slow")
        assert info.value.may_have_been_processed is True
        assert len(server.requests) == 1
    finally:
        await transport.aclose()


async def test_error_statuses_map_to_typed_errors(server: EchoServer) -> None:
    transport = _transport(server, retry=RetryPolicy.never())
    cases: list[tuple[int, type[mh.ProviderError]]] = [
        (400, mh.BadRequest),
        (401, mh.AuthenticationError),
        (403, mh.PermissionDenied),
        (404, mh.NotFound),
        (409, mh.Conflict),
        (422, mh.BadRequest),
        (429, mh.RateLimited),
        (500, mh.ProviderUnavailable),
        (418, mh.ProviderError),
    ]
    try:
        for status, expected in cases:
            server.fail(status=status, body='{"code": "X-1", "message": "nope"}')
            with pytest.raises(expected) as info:
                await transport.request("GET", "/echo/x")
            assert (info.value.status, info.value.code, info.value.provider) == (
                status,
                "X-1",
                "echo",
            )
        server.fail(status=200, body="<html>captive portal</html>", content_type="text/html")
        response = await transport.request("GET", "/echo/x")
        with pytest.raises(mh.MalformedResponse):
            response.json()
    finally:
        await transport.aclose()


async def test_path_parameters_are_percent_encoded(server: EchoServer) -> None:
    transport = _transport(server)
    try:
        url = path("/echo/{a}/{b}", a="x/../y", b="a b?c#d")
        response = await transport.request("GET", url, params={"q": "1&2", "flag": True})
        assert response.json()["path"] == "/echo/x%2F..%2Fy/a%20b%3Fc%23d?q=1%262&flag=true"
        with pytest.raises(mh.InvalidRequest):
            path("/echo/{a}", a="..")
    finally:
        await transport.aclose()


async def test_credentials_only_go_to_allowed_hosts(server: EchoServer) -> None:
    transport = _transport(server, allowed_origins=("https://media.example.com",))
    try:
        await transport.request("GET", f"{server.origin}/echo/absolute")
        with pytest.raises(mh.InvalidRequest):
            await transport.request("GET", "https://evil.example.net/steal")
        assert str(transport.url("https://media.example.com/x").origin()) == (
            "https://media.example.com"
        )
        assert len(server.requests) == 1
    finally:
        await transport.aclose()


async def test_oauth_renews_once_for_many_waiting_tasks(server: EchoServer) -> None:
    grant = EchoGrant()
    auth = OAuth2(grant)
    transport = _transport(server, auth=auth)
    try:
        await transport.request("GET", "/echo/first")
        assert server.issued == 1
        server.valid = {"nothing-valid"}  # the token is refused: every request gets a 401
        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(transport.request, "GET", f"/echo/{i}")
        assert server.issued == 2  # one renewal for fifty 401s
        assert auth.renewals == 2
    finally:
        await transport.aclose()
    assert grant.revoked == ["tok-2"]


async def test_requests_after_a_refusal_wait_for_the_renewal(server: EchoServer) -> None:
    auth = OAuth2(EchoGrant())
    transport = _transport(server, auth=auth)
    try:
        await transport.request("GET", "/echo/first")
        server.valid = {"nothing-valid"}  # tok-1 is refused from now on
        async with anyio.create_task_group() as tg:
            tg.start_soon(transport.request, "GET", "/echo/refused")
            await anyio.sleep(0.02)  # the renewal (50 ms at /token) is under way
            for i in range(5):
                tg.start_soon(transport.request, "GET", f"/echo/later-{i}")
        with_old = [
            r
            for r in server.requests_to("GET", "/echo/")
            if r.headers.get("Authorization") == "Bearer tok-1"
        ]
        # Only the first request met the refusal; the later ones waited for tok-2.
        assert [r.path for r in with_old] == ["/echo/first", "/echo/refused"]
        assert server.issued == 2
    finally:
        await transport.aclose()


async def test_closed_transport_refuses_requests(server: EchoServer) -> None:
    transport = _transport(server)
    await transport.request("GET", "/echo/x")
    await transport.aclose()
    with pytest.raises(mh.ClientClosed):
        await transport.request("GET", "/echo/x")


async def test_streaming_reads_in_chunks(server: EchoServer) -> None:
    transport = _transport(server)
    try:
        async with transport.stream("GET", "/echo/stream", chunk_size=8) as (head, chunks):
            assert head.status == 200
            parts = [chunk async for chunk in chunks]
        assert len(parts) > 1
        assert b"".join(parts).startswith(b'{"path"')
    finally:
        await transport.aclose()


async def test_rate_limiter_spaces_bursts() -> None:
    limiter = RateLimiter(5, 0.2)
    started = time.monotonic()
    for _ in range(11):
        await limiter.acquire()
    assert time.monotonic() - started >= 0.4  # two full windows had to pass


def test_retry_after_parsing() -> None:
    assert parse_retry_after("5") == 5
    assert parse_retry_after("-3") == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    policy = RetryPolicy(base_delay=1, max_delay=4)
    assert all(0 <= policy.backoff(n) <= 4 for n in range(1, 10))
    assert policy.delay(1, 2.5) == 2.5


async def test_downloads_retry_a_429_before_the_body_starts(server: EchoServer) -> None:
    server.fail(status=429, headers={"Retry-After": "0"}, body="{}")
    server.fail(status=503, body="<html>busy</html>", content_type="text/html")
    transport = _transport(server)
    try:
        async with transport.stream("GET", "/echo/file") as (head, chunks):
            body = b"".join([chunk async for chunk in chunks])
        assert head.status == 200
        assert b"/echo/file" in body
        assert len(server.requests) == 3
        server.fail(status=404, body='{"message": "gone"}', times=3)
        with pytest.raises(mh.NotFound):
            async with transport.stream("GET", "/echo/file"):
                pass
        assert len(server.requests) == 4  # a 404 is final
    finally:
        await transport.aclose()


async def test_retries_are_logged_without_credentials(
    server: EchoServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="messaging_hub.transport")
    server.fail(status=503, body="{}")
    transport = _transport(server, auth=BearerToken("tok-very-secret"))
    try:
        await transport.request("GET", "/echo/x", params={"q": "1"})
    finally:
        await transport.aclose()
    [record] = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert "HTTP 503" in record.getMessage() and "/echo/x" in record.getMessage()
    assert "tok-very-secret" not in caplog.text


async def test_closing_during_a_request_ends_it_without_a_new_session(server: EchoServer) -> None:
    server.fail(delay=0.5, status=200, body="{}")
    transport = _transport(server)
    outcome: list[BaseException] = []

    async def read() -> None:
        try:
            await transport.request("GET", "/echo/slow")
        except mh.MessagingError as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(read)
        await anyio.sleep(0.1)
        await transport.aclose()
    # The retry of the cut-off GET must not open (and leak) a fresh session.
    assert [type(e) for e in outcome] == [mh.ClientClosed]
    assert transport._session is None
    assert len(server.requests) == 1


class FailingGrant:
    """A token endpoint that refuses every login, slowly."""

    def __init__(self) -> None:
        self.calls = 0

    async def obtain(self, transport: Transport) -> Token:
        self.calls += 1
        await anyio.sleep(0.05)
        raise mh.AuthenticationError("invalid_grant", provider="echo", status=400)

    async def refresh(self, transport: Transport, token: Token) -> Token:
        return await self.obtain(transport)

    async def revoke(self, transport: Transport, token: Token) -> None:
        pass


async def test_a_failed_renewal_fails_every_waiter_once_then_is_tried_again(
    server: EchoServer,
) -> None:
    grant = FailingGrant()
    transport = _transport(server, auth=OAuth2(grant))
    failures: list[BaseException] = []

    async def call() -> None:
        try:
            await transport.request("GET", "/echo/x")
        except mh.MessagingError as exc:
            failures.append(exc)

    try:
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                for _ in range(20):
                    tg.start_soon(call)
        assert len(failures) == 20
        assert all(isinstance(e, mh.AuthenticationError) for e in failures)
        assert grant.calls == 1  # the waiters share the one failed attempt
        with pytest.raises(mh.AuthenticationError):
            await transport.request("GET", "/echo/x")
        assert grant.calls == 2  # a later call tries again
        assert server.requests == []
    finally:
        await transport.aclose()


async def test_a_client_used_from_another_event_loop_says_so(server: EchoServer) -> None:
    transport = _transport(server)
    try:
        await transport.request("GET", "/echo/x")
        caught: list[BaseException] = []

        def in_other_loop() -> None:
            async def use() -> None:
                try:
                    await transport.request("GET", "/echo/x")
                except Exception as exc:
                    caught.append(exc)

            asyncio.run(use())

        await anyio.to_thread.run_sync(in_other_loop)
        assert len(caught) == 1 and isinstance(caught[0], mh.InvalidRequest), caught
        assert "event loop" in str(caught[0])
        assert len(server.requests) == 1
        await transport.request("GET", "/echo/x")  # still fine in its own loop
    finally:
        await transport.aclose()


async def test_a_reported_request_counts_from_its_answer() -> None:
    now = [0.0]
    limiter = RateLimiter(2, 1.0, clock=lambda: now[0])
    first = await limiter.acquire(report=True)
    second = await limiter.acquire(report=True)
    assert limiter.delay() == 1.0  # both in flight: nothing leaves before a window
    now[0] = 0.4
    limiter.answered(first)  # the provider counted it by now
    now[0] = 1.1  # a window after the start, but not after the answer
    assert limiter.delay() == pytest.approx(0.3)
    now[0] = 1.4
    assert limiter.delay() == 0.0
    limiter.answered(second)
    limiter.answered(second)  # twice is harmless
    assert await limiter.acquire() is None  # unreported acquisitions count from the start


async def test_an_unanswered_ticket_lapses() -> None:
    now = [0.0]
    limiter = RateLimiter(1, 1.0, clock=lambda: now[0], in_flight_allowance=5.0)
    await limiter.acquire(report=True)
    now[0] = 4.9
    assert limiter.delay() > 0
    now[0] = 5.0
    assert limiter.delay() == 0.0


@pytest.mark.parametrize("own_session", [True, False])
async def test_every_request_carries_its_headers(server: EchoServer, own_session: bool) -> None:
    # Defaults, credentials and the JSON body's type, on the library's own
    # session and on a caller's.
    session = None if own_session else aiohttp.ClientSession()
    transport = _transport(
        server,
        auth=BearerToken("tok-1"),
        default_headers={"Accept": "application/json"},
        session=session,
    )
    try:
        sent = (
            await transport.request("POST", "/headers", json_body={"text": "héllo 👋", "n": 1})
        ).json()
        assert sent["headers"]["Authorization"] == "Bearer tok-1"
        assert sent["headers"]["Accept"] == "application/json"
        assert sent["headers"]["Accept-Encoding"] == "gzip, deflate"
        assert sent["headers"]["Content-Type"] == "application/json"
        assert json.loads(sent["body"]) == {"text": "héllo 👋", "n": 1}
        if own_session:
            assert sent["headers"]["User-Agent"] == "messaging-hub/0.1"
        # Defaults changed after the session was made, and per-call headers.
        transport.default_headers["Accept"] = "text/plain"
        transport.default_headers["X-Extra"] = "1"
        got = (await transport.request("GET", "/headers", headers={"X-Call": "2"})).json()
        assert got["headers"]["Accept"] == "text/plain"
        assert got["headers"]["X-Extra"] == "1"
        assert got["headers"]["X-Call"] == "2"
        assert "Content-Type" not in got["headers"]
        again = (await transport.request("GET", "/headers")).json()
        assert again["headers"]["Accept"] == "text/plain"
        assert "X-Call" not in again["headers"]
    finally:
        await transport.aclose()
        if session is not None:
            await session.close()


async def test_an_error_typer_retypes_mapped_errors(server: EchoServer) -> None:
    # A provider whose error codes say more than the status (MongooseIM's).
    def typer(exc: mh.ProviderError) -> mh.ProviderError:
        return mh.NotFound(exc.message, provider=exc.provider, status=exc.status)

    server.valid = {"only-this"}  # every /echo request is refused with 401
    transport = _transport(server, auth=BearerToken("other"), error_typer=typer)
    try:
        with pytest.raises(mh.NotFound) as info:
            await transport.request("GET", "/echo/x")
    finally:
        await transport.aclose()
    assert info.value.status == 401
