"""Usage-plan pacing, X-Rate-Limit-* adaptation and 429 CMN-301 handling."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

import messaging_hub as mh
from messaging_hub.adapters.ringcentral import RingCentralAdapter
from messaging_hub.adapters.ringcentral.ratelimit import DEFAULT_LIMITS, RateLimitHeaders
from messaging_hub.testing.ringcentral import FakeRingCentral
from messaging_hub.transport import GroupedRateLimiter, Response

pytestmark = pytest.mark.anyio

SMS = r"/extension/[^/]+/sms$"
RATE_429_BODY = (
    '{"errorCode":"CMN-301","message":"Request rate exceeded",'
    '"errors":[{"errorCode":"CMN-301","message":"Request rate exceeded"}]}'
)


async def _burst(client: mh.Adapter[Any], count: int, start: int = 0) -> list[mh.Receipt]:
    receipts: list[mh.Receipt] = []

    async def one(n: int) -> None:
        receipts.append(await client.send(mh.Outgoing(to=[f"+1415555{n:04d}"], text=f"#{n}")))

    async with anyio.create_task_group() as tg:
        for n in range(start, start + count):
            tg.start_soon(one, n)
    return receipts


async def test_a_burst_is_paced_so_no_request_is_refused() -> None:
    async with FakeRingCentral(rate_limits={"Medium": (5, 1)}) as fake:
        options = {**fake.config, "rate_limits": {"medium": [5, 1]}}
        started = time.monotonic()
        async with mh.connect(options) as client:
            receipts = await _burst(client, 12)
        assert len(receipts) == 12
        # Each send reached the server exactly once: not one 429 came back.
        assert len(fake.requests_to("POST", SMS)) == 12
        assert len(fake.sent) == 12
        assert time.monotonic() - started >= 2.0  # three windows of 5


async def test_unpaced_burst_honours_retry_after_then_adapts_to_the_headers() -> None:
    fake = FakeRingCentral(rate_limits={"Medium": (3, 1)})
    # The client believes the default plan (40 per minute) until told otherwise.
    async with fake, mh.connect(fake.config) as client:
        assert isinstance(client, RingCentralAdapter)
        first = await _burst(client, 5)
        assert len(first) == 5
        refused = len(fake.requests_to("POST", SMS)) - 5
        assert refused >= 2  # 429s came back and were retried after Retry-After
        limiter = client.native.transport.rate_limiter
        assert isinstance(limiter, GroupedRateLimiter)
        assert (limiter["Medium"].limit, limiter["Medium"].window) == (3, 1.0)
        before = len(fake.requests_to("POST", SMS))
        second = await _burst(client, 6, start=100)
        assert len(second) == 6
        assert len(fake.requests_to("POST", SMS)) - before == 6  # now paced: no 429


async def test_without_pacing_429s_are_retried_after_retry_after() -> None:
    async with FakeRingCentral(rate_limits={"Medium": (3, 1)}) as fake:
        async with mh.connect(fake.config, rate_limiting=False, max_attempts=4) as client:
            receipts = await _burst(client, 5)
        assert len(receipts) == 5 == len(fake.sent)
        assert len(fake.requests_to("POST", SMS)) > 5


async def test_retry_after_beyond_the_ceiling_raises_rate_limited() -> None:
    async with FakeRingCentral() as fake:
        fake.fail(status=429, headers={"Retry-After": "120"}, body=RATE_429_BODY, path=SMS)
        async with mh.connect(fake.config, retry_after_ceiling=30) as client:
            started = time.monotonic()
            with pytest.raises(mh.RateLimited) as info:
                await client.send(mh.Outgoing(to=["+14155550123"], text="x"))
        assert time.monotonic() - started < 5
        assert info.value.retry_after == 120
        assert info.value.code == "CMN-301"
        assert len(fake.requests_to("POST", SMS)) == 1


def _response(status: int, headers: dict[str, str]) -> Response:
    return Response(status, CIMultiDictProxy(CIMultiDict(headers)), b"")


def test_headers_resize_a_group_and_pause_it_when_nothing_remains() -> None:
    limiter = GroupedRateLimiter(DEFAULT_LIMITS)
    hook = RateLimitHeaders(limiter)
    headers = {
        "X-Rate-Limit-Group": "heavy",
        "X-Rate-Limit-Limit": "10",
        "X-Rate-Limit-Remaining": "3",
        "X-Rate-Limit-Window": "30",
    }
    hook(_response(200, headers), "Heavy")
    assert (limiter["Heavy"].limit, limiter["Heavy"].window) == (10, 30.0)
    assert limiter["Heavy"].delay() == 0
    hook(_response(200, {**headers, "X-Rate-Limit-Remaining": "0"}), "Heavy")
    assert 29 < limiter["Heavy"].delay() <= 30
    assert hook.last["Heavy"] == (10, 0, 30.0)
    # Other groups are untouched; unknown groups and junk values are ignored.
    assert limiter["Light"].limit == 50
    hook(_response(200, {"X-Rate-Limit-Group": "Cosmic", "X-Rate-Limit-Limit": "1"}), None)
    hook(_response(200, {**headers, "X-Rate-Limit-Limit": "lots"}), "Heavy")
    assert limiter["Heavy"].limit == 10


def test_a_429_with_retry_after_does_not_pause_for_a_whole_window() -> None:
    limiter = GroupedRateLimiter(DEFAULT_LIMITS)
    hook = RateLimitHeaders(limiter)
    hook(
        _response(
            429,
            {
                "X-Rate-Limit-Group": "medium",
                "X-Rate-Limit-Limit": "40",
                "X-Rate-Limit-Remaining": "0",
                "X-Rate-Limit-Window": "60",
                "Retry-After": "2",
            },
        ),
        "Medium",
    )
    assert limiter["Medium"].delay() == 0  # the transport holds it for Retry-After


def _answers(hook: RateLimitHeaders, clock: list[float], times: list[float]) -> None:
    """Answers in the Medium group (40 per 60 s) at ``times``; the last has none left."""
    for n, moment in enumerate(times):
        clock[0] = moment
        remaining = len(times) - 1 - n
        headers = {
            "X-Rate-Limit-Group": "medium",
            "X-Rate-Limit-Limit": "40",
            "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Window": "60",
        }
        hook(_response(200, headers), "Medium")


def test_remaining_zero_after_a_trickle_waits_for_the_oldest_answer_only() -> None:
    # 40 answers one second apart: the first leaves the window 60 s after it
    # came back, 21 s after the last. Waiting a whole window from the last
    # answer would idle for 60 s where the server allows a request after 21.
    limiter = GroupedRateLimiter(DEFAULT_LIMITS)
    clock = [0.0]
    hook = RateLimitHeaders(limiter, clock=lambda: clock[0])
    _answers(hook, clock, [1000.0 + n for n in range(40)])
    assert 20 < limiter["Medium"].delay() <= 21


def test_remaining_zero_after_a_burst_waits_a_whole_window() -> None:
    limiter = GroupedRateLimiter(DEFAULT_LIMITS)
    clock = [0.0]
    hook = RateLimitHeaders(limiter, clock=lambda: clock[0])
    _answers(hook, clock, [1000.0] * 40)
    assert 59 < limiter["Medium"].delay() <= 60


def test_remaining_zero_with_requests_this_client_did_not_see_waits_a_whole_window() -> None:
    # Only 5 of the 40 requests came from this client: when the others were
    # made is unknown, so the whole window is the safe wait.
    limiter = GroupedRateLimiter(DEFAULT_LIMITS)
    clock = [0.0]
    hook = RateLimitHeaders(limiter, clock=lambda: clock[0])
    _answers(hook, clock, [1000.0 + n for n in range(5)])
    assert 59 < limiter["Medium"].delay() <= 60
