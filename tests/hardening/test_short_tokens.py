"""Short-lived OAuth tokens: renewed once per lifetime, and a request that
holds a valid token never waits for a login (RingCentral's Auth pacing).

The library's clock and the fakes' clocks are one hand-moved clock, so a
45 s or 5 s lifetime passes without sleeping and the fake refuses exactly
the tokens the library believes expired.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import attrs
import pytest
from aiohttp import web

import messaging_hub as mh
from messaging_hub.adapters.netsapiens.api import NetSapiensAPI
from messaging_hub.adapters.netsapiens.auth import PasswordGrant
from messaging_hub.adapters.ringcentral.api import RingCentralAPI
from messaging_hub.adapters.ringcentral.auth import JwtGrant
from messaging_hub.adapters.ringcentral.errors import parse_error
from messaging_hub.adapters.ringcentral.ratelimit import DEFAULT_LIMITS
from messaging_hub.secret import Secret
from messaging_hub.testing.netsapiens import FakeNetSapiens
from messaging_hub.testing.ringcentral import FakeRingCentral
from messaging_hub.transport import GroupedRateLimiter, OAuth2, Transport

pytestmark = pytest.mark.anyio

REMOTE = "+14155550123"
# Only a guard against a hang (a request stuck behind login pacing would
# otherwise wait out a whole window); nothing here measures durations.
HANG_GUARD = 20.0
TOKEN_PATH = r"/oauth/token$"


class ManualClock:
    """A monotonic clock moved by hand, and the wall time the fakes read off it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._epoch = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> float:
        return self.now

    def wall(self) -> datetime:
        """The same moment as an aware datetime (the fakes' clock)."""
        return self._epoch + timedelta(seconds=self.now)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        self.now += seconds


@attrs.frozen
class Harness:
    """One provider's client on a manual clock, and what its fake saw."""

    call: Callable[[], Coroutine[Any, Any, Any]]
    token_requests: Callable[[], int]
    api_requests: Callable[[], int]


@asynccontextmanager
async def _netsapiens(ttl: int, clock: ManualClock) -> AsyncIterator[Harness]:
    async with FakeNetSapiens(token_ttl=ttl, clock=clock.wall) as fake:
        login, password = fake.users[fake.me]
        grant = PasswordGrant(fake.client_id, Secret(fake.client_secret), login, Secret(password))
        transport = Transport(
            provider="netsapiens", base_url=fake.base_url, auth=OAuth2(grant, clock=clock)
        )
        api = NetSapiensAPI(transport, domain=fake.domain, user=fake.me)
        try:
            yield Harness(
                call=api.get_message_sessions_for_user,
                token_requests=lambda: len(fake.requests_to("POST", r"/tokens$")),
                api_requests=lambda: len(fake.requests_to("GET", r"/messagesessions$")),
            )
        finally:
            await transport.aclose()


def _ringcentral_client(
    fake: FakeRingCentral, clock: ManualClock, **limits: tuple[int, float]
) -> tuple[Transport, RingCentralAPI]:
    """A RingCentral client whose token and pacing run on ``clock``."""
    grant = JwtGrant(fake.client_id, Secret(fake.client_secret), assertion=Secret(fake.jwt))
    limiter = GroupedRateLimiter({**DEFAULT_LIMITS, **limits}, clock=clock)
    transport = Transport(
        provider="ringcentral",
        base_url=fake.origin,
        auth=OAuth2(grant, clock=clock),
        rate_limiter=limiter,
        error_parser=parse_error,
    )
    return transport, RingCentralAPI(transport, media_base_url=fake.origin, client=grant)


@asynccontextmanager
async def _ringcentral(ttl: int, clock: ManualClock) -> AsyncIterator[Harness]:
    many = (100_000, 60.0)
    async with FakeRingCentral(
        access_token_ttl=ttl, clock=clock.wall, rate_limits={"Light": many}
    ) as fake:
        transport, api = _ringcentral_client(fake, clock, Light=many)
        try:
            yield Harness(
                call=api.list_messages,
                token_requests=lambda: len(fake.requests_to("POST", TOKEN_PATH)),
                api_requests=lambda: len(fake.requests_to("GET", r"/message-store$")),
            )
        finally:
            await transport.aclose()


HARNESSES = {"netsapiens": _netsapiens, "ringcentral": _ringcentral}


@pytest.mark.parametrize("ttl", [45, 5])
@pytest.mark.parametrize("provider", sorted(HARNESSES))
async def test_a_short_token_is_renewed_once_per_lifetime(provider: str, ttl: int) -> None:
    clock = ManualClock()
    lifetimes, steps, concurrent = 3, 17, 4
    async with HARNESSES[provider](ttl, clock) as client:
        for lifetime in range(lifetimes):
            # Requests from the token's first moment to 80 % of its lifetime.
            for _ in range(steps):
                async with anyio.create_task_group() as tg:
                    for _ in range(concurrent):
                        tg.start_soon(client.call)
                clock.advance(ttl * 0.05)
            assert client.token_requests() == lifetime + 1
            # 95 %: inside the last tenth, so the next request renews first.
            clock.advance(ttl * 0.1)
        # No request met an expired token (each went out exactly once).
        assert client.api_requests() == lifetimes * steps * concurrent
        assert client.token_requests() == lifetimes


async def test_concurrent_sends_with_a_valid_short_token_never_wait_for_a_login(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="messaging_hub")
    async with FakeRingCentral(access_token_ttl=45) as fake:
        # Two logins an hour (the first and the revoke at close): a send that
        # asked for another would wait the hour out.
        options = {**fake.config, "rate_limits": {"Auth": [2, 3600]}}
        async with mh.connect(options) as client:
            with anyio.fail_after(HANG_GUARD):
                await client.send(mh.Outgoing(to=[REMOTE], text="login"))
                async with anyio.create_task_group() as tg:
                    for i in range(30):
                        tg.start_soon(client.send, mh.Outgoing(to=[REMOTE], text=f"n{i}"))
        assert len(fake.sent) == 31
        assert len(fake.requests_to("POST", TOKEN_PATH)) == 1
    # Other groups may log a short wait under load; the Auth group must not.
    paced = [r for r in caplog.records if getattr(r, "event", None) == "rate_limit_wait"]
    assert [r for r in paced if getattr(r, "rate_group", None) == "Auth"] == []


async def test_a_due_renewal_held_back_by_auth_pacing_keeps_the_valid_token() -> None:
    clock = ManualClock()
    async with FakeRingCentral(access_token_ttl=45, clock=clock.wall) as fake:
        # One login per 44 s: the renewal falls due at 40.5 s, the slot frees at 44 s.
        transport, api = _ringcentral_client(fake, clock, Auth=(1, 44.0))
        try:
            with anyio.fail_after(HANG_GUARD):
                await api.list_messages()
                clock.advance(42.75)
                async with anyio.create_task_group() as tg:
                    for _ in range(20):
                        tg.start_soon(api.list_messages)
                assert len(fake.requests_to("POST", TOKEN_PATH)) == 1
                used = {
                    r.headers["Authorization"] for r in fake.requests_to("GET", "/message-store$")
                }
                assert len(used) == 1  # all 21 reads on the first token
                clock.advance(1.5)  # 44.25 s: the slot is free, the token still valid
                await api.list_messages()
                clock.advance(44.0)  # a slot for the revoke at close
        finally:
            await transport.aclose()
        assert fake.token_requests["refresh_token"] == 1
        reads = fake.requests_to("GET", "/message-store$")
        assert len(reads) == 22
        assert reads[-1].headers["Authorization"] not in used


async def test_requests_do_not_wait_for_a_due_renewal_in_flight() -> None:
    clock = ManualClock()
    hold = [False]
    holding, release = anyio.Event(), anyio.Event()

    @web.middleware
    async def slow_tokens(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # The renewal stays in flight until the test lets it finish.
        if hold[0] and request.path == "/restapi/oauth/token":
            holding.set()
            await release.wait()
        return await handler(request)

    fake = FakeRingCentral(access_token_ttl=45, clock=clock.wall)
    fake.app.middlewares.append(slow_tokens)
    async with fake:
        transport, api = _ringcentral_client(fake, clock)
        try:
            await api.list_messages()
            first = fake.requests_to("GET", "/message-store$")[0].headers["Authorization"]
            hold[0] = True
            clock.advance(42.75)  # renewal due, token valid
            async with anyio.create_task_group() as tg:
                tg.start_soon(api.list_messages)  # starts the renewal
                with anyio.fail_after(HANG_GUARD):
                    await holding.wait()
                    for _ in range(10):
                        await api.list_messages()
                # Eleven reads answered while the renewal was still held.
                assert fake.token_requests["refresh_token"] == 0
                release.set()
            reads = fake.requests_to("GET", "/message-store$")
            assert [r.headers["Authorization"] for r in reads[1:11]] == [first] * 10
            assert fake.token_requests["refresh_token"] == 1
            await api.list_messages()
            assert fake.requests_to("GET", "/message-store$")[-1].headers["Authorization"] != first
        finally:
            await transport.aclose()


async def test_a_failed_due_renewal_keeps_the_valid_token_then_retries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="messaging_hub")
    clock = ManualClock()
    async with FakeRingCentral(access_token_ttl=45, clock=clock.wall) as fake:
        transport, api = _ringcentral_client(fake, clock)
        try:
            await api.list_messages()
            clock.advance(42.75)
            fake.fail(status=503, path=TOKEN_PATH, body='{"errorCode": "CMN-211"}')
            await api.list_messages()  # the renewal failed; the read did not
            await api.list_messages()  # no new attempt right away
            assert len(fake.requests_to("POST", TOKEN_PATH)) == 2
            warned = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warned) == 1 and "token" in warned[0].getMessage()
            clock.advance(2.0)  # 44.75 s: still valid; time to try again
            await api.list_messages()
            assert fake.token_requests["refresh_token"] == 1
            reads = fake.requests_to("GET", "/message-store$")
            assert len(reads) == 4
            assert reads[-1].headers["Authorization"] != reads[0].headers["Authorization"]
            # Once a token has expired, a failed renewal is the caller's error.
            clock.advance(50.0)
            fake.fail(status=503, path=TOKEN_PATH, body='{"errorCode": "CMN-211"}')
            with pytest.raises(mh.ProviderUnavailable):
                await api.list_messages()
            assert len(fake.requests_to("GET", "/message-store$")) == 4
        finally:
            await transport.aclose()
        issued = [t for s in fake.tokens.sessions for t in (s.access_token, s.refresh_token)]
        for secret in (fake.client_secret, fake.jwt, *issued):
            assert secret not in caplog.text


async def test_replaced_tokens_stay_known_for_scrubbing_within_a_bound() -> None:
    clock = ManualClock()
    async with FakeNetSapiens(token_ttl=5, clock=clock.wall) as fake:
        login, password = fake.users[fake.me]
        grant = PasswordGrant(fake.client_id, Secret(fake.client_secret), login, Secret(password))
        auth = OAuth2(grant, clock=clock)
        transport = Transport(provider="netsapiens", base_url=fake.base_url, auth=auth)
        api = NetSapiensAPI(transport, domain=fake.domain, user=fake.me)
        issued: list[str] = []
        try:
            for _ in range(12):
                await api.get_message_sessions_for_user()
                token = auth.token
                assert token is not None and token.refresh_token is not None
                issued += [token.access_token.reveal(), token.refresh_token.reveal()]
                clock.advance(6.0)  # past the lifetime: the next call renews
        finally:
            await transport.aclose()
    assert len(set(issued)) == 24
    known = [s.reveal() for s in auth.obtained]
    # A provider may quote a token it already replaced: the last ones are kept,
    # but a client living for days does not hoard every token it ever had.
    assert known == issued[-len(known) :]
    assert 4 <= len(known) < len(issued)
